"""Compare a learner's output with the expected one and say in words what is wrong."""
from dataclasses import dataclass

import numpy as np

from ...gradcheck import rel_error
from .cases import describe_shape


@dataclass
class Problem:
    """One thing wrong in one case.

    kind: ``"exception"``, ``"structure"``, ``"type"``, ``"shape"``, ``"dtype"``, ``"nan"``,
        ``"values"``, ``"inplace"``, ``"gradcheck"``, ``"cache"`` (a forward's cache is not in the
        stated format), ``"not one pass"`` (a backward that calls its forward many times), or
        ``"not judged"`` (the case could not be judged; see :func:`not_judged`).
    output: which output (``"out"``, ``"dW"``, ...) or input (for ``"inplace"``) it concerns.
    expected, got: the arrays, kept for pictures and hint rules (may be None).
    facts: for ``"exception"``, the :class:`~.errors.ErrorFacts` (the learner's line, the shapes of the
        arrays on it), which hint rules read.
    message: may have several lines (an exception: where, what, the arrays, the case).
    """
    kind: str
    output: str
    message: str
    expected: object = None
    got: object = None
    facts: object = None

    @property
    def image_like(self):
        return (isinstance(self.expected, np.ndarray) and isinstance(self.got, np.ndarray)
                and self.expected.ndim == 4 and self.got.ndim == 4)


def tolerance(dtype):
    """Largest accepted :func:`rel_error` for outputs of this dtype."""
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-6


def _fmt(v):
    return f"{v:.4g}"


def border_only(mask):
    """True when every True entry of a (..., H, W) mask lies in the first/last row or column."""
    if mask.ndim < 2 or not mask.any():
        return False
    inner = mask[..., 1:-1, 1:-1]
    return mask.shape[-1] > 2 and mask.shape[-2] > 2 and not inner.any()


def compare_output(name, expected, got):
    """Return a :class:`Problem` when ``got`` differs from ``expected``, else None.

    Arrays are checked for type, shape, dtype, NaN/inf, then values (relative error).
    Python scalars (a loss) and booleans are compared by value.
    """
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(got, (bool, np.bool_)):
            return Problem("type", name, f"{name}: expected True or False, got {type(got).__name__} {got!r}",
                           expected, got)
        if bool(got) != bool(expected):
            return Problem("values", name, f"{name}: expected {bool(expected)}, got {bool(got)}", expected, got)
        return None
    if np.isscalar(expected) and not isinstance(expected, np.ndarray):
        try:
            g = float(got)
        except (TypeError, ValueError):
            return Problem("type", name, f"{name}: expected a number, got {type(got).__name__}", expected, got)
        if np.ndim(got) != 0:
            return Problem("shape", name, f"{name}: expected a single number, got an array of shape "
                           f"{np.shape(got)}", expected, got)
        if not np.isfinite(g):
            return Problem("nan", name, f"{name}: got {g} (overflow?)", expected, got)
        err = abs(g - expected) / max(abs(expected), abs(g), 1e-12)
        if err > 1e-6:
            return Problem("values", name, f"{name}: expected {_fmt(expected)}, got {_fmt(g)}", expected, got)
        return None

    if not isinstance(got, np.ndarray):
        return Problem("type", name, f"{name}: expected a numpy array, got {type(got).__name__}", expected, got)
    if got.shape != expected.shape:
        return Problem("shape", name, f"{name}: wrong shape: expected {describe_shape(expected.shape)}, "
                       f"got {describe_shape(got.shape)}", expected, got)
    if got.dtype != expected.dtype:
        return Problem("dtype", name, f"{name}: wrong dtype: expected {expected.dtype}, got {got.dtype}",
                       expected, got)
    if np.issubdtype(got.dtype, np.floating) and not np.isfinite(got).all():
        bad = "NaN" if np.isnan(got).any() else "inf"
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        return Problem("nan", name, f"{name}: contains {bad} (first at index {where})", expected, got)
    err = rel_error(expected, got)
    if err > tolerance(expected.dtype):
        diff = np.abs(expected.astype(np.float64) - got.astype(np.float64))
        where = tuple(int(i) for i in np.unravel_index(np.argmax(diff), diff.shape))
        wrong = diff > tolerance(expected.dtype) * max(np.abs(expected).max(), 1e-12)
        frac = f"{int(wrong.sum())} of {wrong.size} entries wrong"
        extra = "; only on the border rows/columns" if expected.ndim == 4 and border_only(wrong) else ""
        msg = (f"{name}: values off ({frac}{extra}); max relative error {err:.2g} at index {where}: "
               f"expected {_fmt(float(expected[where]))}, got {_fmt(float(got[where]))}")
        return Problem("values", name, msg, expected, got)
    return None


def same_values(a, b):
    """True when two outputs agree (same shape and within tolerance)."""
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
        return False
    if a.size == 0:
        return True
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    return rel_error(a, b) <= tolerance(a.dtype) * 10


def not_judged(reason):
    """The one problem of a case that could not be judged (e.g. a backward's case where the learner's
    forward, which makes its cache, is wrong): shown as such, counted neither as passed nor as failed."""
    return Problem("not judged", "case", reason)


def _describe(v):
    if isinstance(v, np.ndarray):
        return f"an array of shape {describe_shape(v.shape)}"
    if isinstance(v, (tuple, list)):
        return f"a {type(v).__name__} of {len(v)}"
    if v is None or isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
        return repr(v.item() if isinstance(v, np.generic) else v)
    return repr(v) if type(v).__name__ == "RemoteObject" else type(v).__name__


def _entry_problem(expected, got):
    """Why ``got`` is not the cache entry ``expected`` (None when it is). Arrays: the same shape and
    values (the dtype may differ); numbers and flags: the same value."""
    if expected is None:
        return None if got is None else f"should be None, got {_describe(got)}"
    if isinstance(expected, np.ndarray):
        if not isinstance(got, np.ndarray) or got.dtype.kind not in "biuf":
            return f"should be an array of shape {describe_shape(expected.shape)}, got {_describe(got)}"
        if got.shape != expected.shape:
            return f"should have shape {describe_shape(expected.shape)}, got {describe_shape(got.shape)}"
        e, g = expected.astype(np.float64), got.astype(np.float64)
        if not np.isfinite(g).all() or (e.size and rel_error(e, g) > tolerance(expected.dtype)):
            return "has other values"
        return None
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(got, (bool, np.bool_)) or bool(got) != bool(expected):
            return f"should be {bool(expected)}, got {_describe(got)}"
        return None
    if isinstance(expected, (int, np.integer)):
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer)) or int(got) != int(expected):
            return f"should be {int(expected)}, got {_describe(got)}"
        return None
    if isinstance(expected, (float, np.floating)):
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.integer, np.floating)) \
                or not np.isclose(float(got), float(expected), rtol=1e-9, atol=0):
            return f"should be {float(expected)!r}, got {_describe(got)}"
        return None
    return None if got == expected else f"should be {expected!r}, got {_describe(got)}"


def compare_cache(contract, expected, got, also=()):
    """Problems (0 or 1) when a forward's cache ``got`` is not ``expected``, the reference's cache in
    the format ``contract`` (:class:`~nnbook.grading.judge.exercise.CacheContract`) states;
    ``also``: other caches that mean the same."""
    def why(candidate):
        if len(contract.fields) == 1:
            reason = _entry_problem(candidate, got)
            return [f"{contract.fields[0]} {reason}"] if reason else []
        if not isinstance(got, (tuple, list)) or len(got) != len(contract.fields):
            return [f"expected a tuple {contract.text}, got {_describe(got)}"]
        return [f"{name} {reason}" for name, e, g in zip(contract.fields, candidate, got)
                if (reason := _entry_problem(e, g))]
    reasons = why(expected)
    if not reasons or any(not why(alt) for alt in also):
        return []
    head = f"cache: not {contract.text} as the exercise states"
    return [Problem("cache", "cache", f"{head}: {'; '.join(reasons)}")]
