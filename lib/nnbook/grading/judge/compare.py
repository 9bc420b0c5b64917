"""Compare a learner's output with the expected one and say in words what is wrong."""
from dataclasses import dataclass

import numpy as np

from ...gradcheck import rel_error
from .cases import describe_shape


@dataclass
class Problem:
    """One thing wrong in one case.

    kind: ``"exception"``, ``"structure"``, ``"type"``, ``"shape"``, ``"dtype"``, ``"nan"``,
        ``"values"``, ``"inplace"``, ``"gradcheck"``.
    output: which output (``"out"``, ``"dW"``, ...) or input (for ``"inplace"``) it concerns.
    expected, got: the arrays, kept for pictures and hint rules (may be None).
    """
    kind: str
    output: str
    message: str
    expected: object = None
    got: object = None

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
