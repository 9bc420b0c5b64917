"""Element-wise activations. Every function keeps the input's shape and dtype.

The gradient of ReLU at exactly 0 is taken as 0 (PyTorch's choice).
"""
import numpy as np

from .._checks import check_array, check_dout


def relu_forward(x):
    """``max(x, 0)``. Shape: any. Returns ``out, cache``."""
    check_array(x, "relu_forward", "x")
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """``dx = dout * (x > 0)`` (0 at x == 0)."""
    x = cache
    check_dout(dout, x.shape, "relu_backward")
    return dout * (x > 0)


def leaky_relu_forward(x, negative_slope=0.01):
    """``x if x > 0 else negative_slope * x``. Returns ``out, cache``."""
    check_array(x, "leaky_relu_forward", "x")
    out = np.where(x > 0, x, x * x.dtype.type(negative_slope))
    return out, (x, negative_slope)


def leaky_relu_backward(dout, cache):
    """``dx = dout`` where x > 0, ``negative_slope * dout`` elsewhere."""
    x, slope = cache
    check_dout(dout, x.shape, "leaky_relu_backward")
    return np.where(x > 0, dout, dout * dout.dtype.type(slope))


def sigmoid_forward(x):
    """``1 / (1 + exp(-x))``, computed without overflow. Returns ``out, cache``."""
    check_array(x, "sigmoid_forward", "x")
    z = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)
    return out, out


def sigmoid_backward(dout, cache):
    """``dx = dout * s * (1 - s)`` with ``s`` the forward output."""
    s = cache
    check_dout(dout, s.shape, "sigmoid_backward")
    return dout * s * (1 - s)


def tanh_forward(x):
    """``tanh(x)``. Returns ``out, cache``."""
    check_array(x, "tanh_forward", "x")
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """``dx = dout * (1 - tanh(x)**2)``."""
    t = cache
    check_dout(dout, t.shape, "tanh_backward")
    return dout * (1 - t * t)
