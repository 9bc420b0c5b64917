"""Building blocks of the graded cases: ``Case``, seeded inputs, and how to call a learner's function.

A case holds the positional/keyword arguments of one call. Arguments that must be
fresh on every call (a ``numpy.random.Generator`` for dropout) are stored as
:class:`Rng` placeholders and materialized by :func:`materialize`.
"""
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Rng:
    """Placeholder for ``np.random.default_rng(seed)``, created anew for every call."""
    seed: int

    def __repr__(self):
        return f"default_rng({self.seed})"


@dataclass
class Case:
    """One graded call.

    Attributes:
        name: label shown in the feedback table (e.g. ``"stride 2, padding 1"``).
        args, kwargs: arguments of the call (for a backward exercise: of the *forward* call).
        tags: words the hint rules look at (``"stride"``, ``"padding"``, ``"float32"``, ...).
        seed: seeds the upstream gradient ``dout`` of backward cases.
        gradcheck: compare the learner's backward with a numerical gradient of the
            learner's forward instead of with the reference.
    """
    name: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    tags: frozenset = frozenset()
    seed: int = 0
    gradcheck: bool = False


def materialize(value):
    """Deep copy of an argument, with :class:`Rng` placeholders turned into generators."""
    if isinstance(value, Rng):
        return np.random.default_rng(value.seed)
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(materialize(v) for v in value)
    return value


def call_args(case):
    """Fresh copies of ``(args, kwargs)`` for one call."""
    return materialize(case.args), materialize(case.kwargs)


def arrays_in(value, prefix):
    """Yield ``(name, array)`` for every array inside an argument (dicts are searched)."""
    if isinstance(value, np.ndarray):
        yield prefix, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from arrays_in(v, f"{prefix}[{k!r}]")


def away_from_zero(rng, shape, dtype=np.float64, margin=0.05):
    """Standard normal values with ``|v| >= margin`` (keeps ReLU kinks out of gradient checks)."""
    v = rng.standard_normal(shape)
    v = np.where(np.abs(v) < margin, np.sign(v + 1e-12) * margin, v)
    return v.astype(dtype)


def randn(rng, *shape, dtype=np.float64, scale=1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def describe_shape(shape):
    return str(tuple(int(s) for s in shape))
