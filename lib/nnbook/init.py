r"""Weight initialization: random weights with a chosen standard deviation.

Introduced in chapter 2 ("Training a network"), which derives the scales from how the variance
of the activations propagates through the layers. ``Linear`` and ``Conv2d`` use these functions
for their default weights.

*fan_in* is the number of inputs that feed one output unit, *fan_out* the number of outputs
one input feeds:

- a ``Linear`` weight of shape (D, M) (``in_features``, ``out_features``): fan_in = D, fan_out = M;
- a ``Conv2d`` weight of shape (F, C, kh, kw): fan_in = C * kh * kw, fan_out = F * kh * kw.

The ``*_normal`` functions draw ``rng.standard_normal(shape) * std``, the ``*_uniform`` ones
``rng.uniform(-bound, bound, shape)`` (so the same ``rng`` state gives the same weights); all
return an array of ``dtype``. A uniform distribution on :math:`[-r, r]` has variance
:math:`r^2 / 3`, so ``bound = sqrt(3) * std`` gives the same variance as a normal ``std``.

PyTorch's own default for ``nn.Linear`` and ``nn.Conv2d`` weights is
``kaiming_uniform_(w, a=sqrt(5))``, which is :func:`he_uniform` with ``a=sqrt(5)``: uniform on
:math:`\pm 1/\sqrt{\text{fan\_in}}`, variance :math:`1 / (3\, \text{fan\_in})`, a sixth of He's.
nnbook's layers use :func:`he_normal` instead.
"""
import numpy as np


def fans(shape):
    """``(fan_in, fan_out)`` of a weight of shape (D, M) (Linear) or (F, C, kh, kw) (Conv2d)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        F, C, kh, kw = shape
        return C * kh * kw, F * kh * kw
    raise ValueError(f"fans: expected a weight shape (D, M) or (F, C, kh, kw), got {shape}")


def _generator(rng, who):
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{who}: rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    return rng


def normal(shape, std, rng=None, dtype=np.float64):
    """Weights drawn from a normal distribution with mean 0 and standard deviation ``std``.

    Args:
        shape: the weight's shape, e.g. (D, M) or (F, C, kh, kw).
        std: standard deviation, >= 0 (e.g. 0.01 for the "small random numbers" recipe).
        rng: ``numpy.random.Generator`` (seeded for reproducible weights) or None.
        dtype: float dtype of the result.
    Returns:
        array of shape ``shape``.
    """
    if not np.isfinite(std) or std < 0:
        raise ValueError(f"normal: std must be a finite number >= 0, got {std!r}")
    return (_generator(rng, "normal").standard_normal(shape) * std).astype(dtype)


def he_std(fan_in):
    """``sqrt(2 / fan_in)``: keeps the mean square of the activations constant through ReLU layers."""
    if fan_in <= 0:
        raise ValueError(f"he_std: fan_in must be positive, got {fan_in!r}")
    return float(np.sqrt(2.0 / fan_in))


def xavier_std(fan_in, fan_out):
    """``sqrt(2 / (fan_in + fan_out))`` (Glorot & Bengio): a compromise between the forward
    (``1 / fan_in``) and the backward (``1 / fan_out``) variance for linear or tanh layers."""
    if fan_in <= 0 or fan_out <= 0:
        raise ValueError(f"xavier_std: fan_in and fan_out must be positive, got {fan_in!r}, {fan_out!r}")
    return float(np.sqrt(2.0 / (fan_in + fan_out)))


def he_normal(shape, rng=None, dtype=np.float64, fan_in=None):
    """He (Kaiming) normal weights: std ``sqrt(2 / fan_in)``, for layers followed by ReLU.

    Args:
        shape: (D, M) for a Linear weight or (F, C, kh, kw) for a Conv2d weight.
        fan_in: overrides the fan-in read from the shape (see :func:`fans`).
    Returns:
        array of shape ``shape`` and dtype ``dtype``.
    """
    fan_in = fans(shape)[0] if fan_in is None else fan_in
    return normal(shape, he_std(fan_in), rng, dtype)


def xavier_normal(shape, rng=None, dtype=np.float64, fan_in=None, fan_out=None):
    """Xavier (Glorot) normal weights: std ``sqrt(2 / (fan_in + fan_out))``.

    Args:
        shape: (D, M) for a Linear weight or (F, C, kh, kw) for a Conv2d weight.
        fan_in, fan_out: override the fans read from the shape (see :func:`fans`).
    Returns:
        array of shape ``shape`` and dtype ``dtype``.
    """
    f_in, f_out = fans(shape)
    return normal(shape, xavier_std(f_in if fan_in is None else fan_in,
                                    f_out if fan_out is None else fan_out), rng, dtype)


def uniform(shape, bound, rng=None, dtype=np.float64):
    """Weights drawn uniformly from ``[-bound, bound]`` (variance ``bound**2 / 3``).

    Args:
        shape: the weight's shape, e.g. (D, M) or (F, C, kh, kw).
        bound: half-width of the interval, >= 0.
        rng: ``numpy.random.Generator`` (seeded for reproducible weights) or None.
        dtype: float dtype of the result.
    Returns:
        array of shape ``shape``.
    """
    if not np.isfinite(bound) or bound < 0:
        raise ValueError(f"uniform: bound must be a finite number >= 0, got {bound!r}")
    return _generator(rng, "uniform").uniform(-bound, bound, shape).astype(dtype)


def he_uniform(shape, rng=None, dtype=np.float64, fan_in=None, a=0.0):
    """He (Kaiming) uniform weights, PyTorch's ``kaiming_uniform_(w, a)`` with ``mode="fan_in"``:
    bound ``sqrt(3) * sqrt(2 / (1 + a**2)) / sqrt(fan_in)``.

    ``a`` is the negative slope of a leaky ReLU that follows the layer (0 for ReLU: the variance
    is then He's ``2 / fan_in``). ``a=sqrt(5)`` gives PyTorch's default init of ``nn.Linear`` and
    ``nn.Conv2d``: bound ``1 / sqrt(fan_in)``, variance ``1 / (3 fan_in)``.

    Args:
        shape: (D, M) for a Linear weight or (F, C, kh, kw) for a Conv2d weight.
        fan_in: overrides the fan-in read from the shape (see :func:`fans`).
        a: negative slope of the leaky ReLU (>= 0).
    Returns:
        array of shape ``shape`` and dtype ``dtype``.
    """
    fan_in = fans(shape)[0] if fan_in is None else fan_in
    if not np.isfinite(a) or a < 0:
        raise ValueError(f"he_uniform: a must be a finite number >= 0, got {a!r}")
    # sqrt(3) * gain / sqrt(fan_in) with PyTorch's gain sqrt(2 / (1 + a^2))
    return uniform(shape, np.sqrt(3.0 / (1.0 + a * a)) * he_std(fan_in), rng, dtype)


def xavier_uniform(shape, rng=None, dtype=np.float64, fan_in=None, fan_out=None):
    """Xavier (Glorot) uniform weights, PyTorch's ``xavier_uniform_``: bound
    ``sqrt(6 / (fan_in + fan_out))``, the variance of :func:`xavier_normal`.

    Args:
        shape: (D, M) for a Linear weight or (F, C, kh, kw) for a Conv2d weight.
        fan_in, fan_out: override the fans read from the shape (see :func:`fans`).
    Returns:
        array of shape ``shape`` and dtype ``dtype``.
    """
    f_in, f_out = fans(shape)
    std = xavier_std(f_in if fan_in is None else fan_in, f_out if fan_out is None else fan_out)
    return uniform(shape, np.sqrt(3.0) * std, rng, dtype)


INITS = {"he": he_normal, "glorot": xavier_normal, "xavier": xavier_normal}


def init_weight(shape, init="he", rng=None, dtype=np.float32, who="init_weight"):
    """The default weights of ``Linear`` and ``Conv2d``: ``init`` is ``"he"`` or ``"glorot"``
    (also ``"xavier"``). Shape (D, M) or (F, C, kh, kw); returns an array of ``dtype``.
    ``who`` names the caller in the error message."""
    if init not in INITS:
        raise ValueError(f"{who}: init must be 'he' or 'glorot' (or 'xavier'), got {init!r}")
    return INITS[init](shape, rng=rng, dtype=dtype)
