"""Input checks shared by every op and layer.

Each check raises ``ValueError``/``TypeError`` whose message starts with the
name of the op or layer (``who``), says what was expected and what came.
"""
import numpy as np


def as_pair(value, who, what):
    """``3 -> (3, 3)``, ``(2, 3) -> (2, 3)``; positive ints only (``padding`` may be 0)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif (isinstance(value, (tuple, list)) and len(value) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{who}: {what} must be an int or a pair of ints (h, w), got {value!r}")
    low = 0 if what == "padding" else 1
    if min(pair) < low:
        raise ValueError(f"{who}: {what} must be >= {low}, got {value!r}")
    return pair


def check_positive_int(value, who, what):
    """A size argument such as ``in_features``: an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{who}: {what} must be a positive int, got {value!r}")
    return int(value)


def as_shape(value, who, what):
    """``8 -> (8,)``, ``(3, 4, 4) -> (3, 4, 4)``: a shape of positive ints (such as ``normalized_shape``)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        shape = (int(value),)
    elif isinstance(value, (tuple, list)) and value and all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in value):
        shape = tuple(int(s) for s in value)
    else:
        raise TypeError(f"{who}: {what} must be an int or a non-empty tuple of ints, got {value!r}")
    if min(shape) < 1:
        raise ValueError(f"{who}: {what} must hold positive sizes, got {value!r}")
    return shape


def check_eps(eps, who):
    """``eps`` (added to a variance): a positive number."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not eps > 0:
        raise ValueError(f"{who}: eps must be a positive number, got {eps!r}")
    return eps


def check_array(x, who, name="input", ndim=None, float_only=True, finite=True):
    """Return ``x`` as an ndarray after checking its type, rank, dtype and values."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{who}: expected {name} to be a numpy array, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{who}: expected {name} to be {want}, got {x.ndim}-D array of shape {x.shape}")
    if float_only and not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{who}: expected {name} with a float dtype (float32 or float64), got {x.dtype}")
    if finite and float_only and not np.isfinite(x).all():
        bad = "NaN" if np.isnan(x).any() else "inf"
        raise ValueError(f"{who}: {name} contains {bad} values")
    return x


def check_shape(x, expected, who, name="input"):
    """``expected`` holds an int (that size) or a letter (any size) per axis, e.g. ``("N", 3, "H", "W")``."""
    if x.ndim != len(expected) or any(isinstance(e, int) and e != s for e, s in zip(expected, x.shape)):
        want = "(" + ", ".join(str(e) for e in expected) + ")"
        raise ValueError(f"{who}: expected {name} of shape {want}, got {x.shape}")


def check_same_shape(a, b, who, name_a, name_b):
    if a.shape != b.shape:
        raise ValueError(f"{who}: {name_b} must have the shape of {name_a} {a.shape}, got {b.shape}")


def check_dout(dout, out_shape, who):
    check_array(dout, who, "dout")
    if dout.shape != tuple(out_shape):
        raise ValueError(f"{who}: expected dout of shape {tuple(out_shape)} (the forward output), got {dout.shape}")
    return dout


def check_cache(cache, who, size):
    if not isinstance(cache, tuple) or len(cache) != size:
        raise TypeError(f"{who}: cache must be the tuple returned by the matching forward, got {type(cache).__name__}")


def conv_output_size(size, kernel, stride, padding, who):
    """``floor((size + 2*padding - kernel) / stride) + 1``, checked to be >= 1."""
    if kernel > size + 2 * padding:
        raise ValueError(
            f"{who}: kernel size {kernel} is larger than the padded input ({size} + 2*{padding} = {size + 2 * padding})")
    return (size + 2 * padding - kernel) // stride + 1
