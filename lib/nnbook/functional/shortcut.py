"""Weighted shortcut (residual addition) of two NCHW tensors: ``alpha * x + beta * y``.

When the spatial sizes differ, the darknet / NumPyNet rule applies: the output has
x's shape and only a strided grid of positions is combined. If y is smaller, y's
pixel (i, j) is added at x's position (i*s, j*s) with ``s = H_x // H_y``; if y is
larger, x's pixel (i, j) takes y's pixel (i*s, j*s) with ``s = H_y // H_x``
(likewise for width). Only the first ``min(C_x, C_y)`` channels are combined;
every position outside the grid keeps x's value unscaled.
"""
import numpy as np

from .._checks import check_array, check_cache, check_dout


def _grid(nx, ny):
    """Index slices (for x, for y) along one axis of sizes nx, ny."""
    n = min(nx, ny)
    if nx >= ny:
        s = nx // ny
        return slice(0, (n - 1) * s + 1, s), slice(0, n)
    s = ny // nx
    return slice(0, n), slice(0, (n - 1) * s + 1, s)


def _indices(x_shape, y_shape):
    c = min(x_shape[1], y_shape[1])
    hx, hy = _grid(x_shape[2], y_shape[2])
    wx, wy = _grid(x_shape[3], y_shape[3])
    return (slice(None), slice(0, c), hx, wx), (slice(None), slice(0, c), hy, wy)


def shortcut_forward(x, y, alpha=1.0, beta=1.0):
    """Combine a block's input x with another tensor y.

    Args:
        x: shape (N, C_x, H_x, W_x); the output has this shape.
        y: shape (N, C_y, H_y, W_y) (same N).
        alpha, beta: weights of x and y.
    Returns:
        out: shape of x; cache for :func:`shortcut_backward`.
    """
    who = "shortcut_forward"
    check_array(x, who, "x", ndim=4)
    check_array(y, who, "y", ndim=4)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{who}: x and y must have the same batch size, got x {x.shape} and y {y.shape}")
    if x.shape == y.shape:
        return alpha * x + beta * y, (x.shape, y.shape, alpha, beta)
    ix, iy = _indices(x.shape, y.shape)
    out = x.copy()
    out[ix] = alpha * x[ix] + beta * y[iy]
    return out, (x.shape, y.shape, alpha, beta)


def shortcut_backward(dout, cache):
    """Gradients of :func:`shortcut_forward`, routed through the same positions.

    Returns:
        dx: shape of x; dy: shape of y.
    """
    who = "shortcut_backward"
    check_cache(cache, who, 4)
    x_shape, y_shape, alpha, beta = cache
    check_dout(dout, x_shape, who)
    if x_shape == y_shape:
        return alpha * dout, beta * dout
    ix, iy = _indices(x_shape, y_shape)
    dx = dout.copy()
    dx[ix] *= alpha
    dy = np.zeros(y_shape, dtype=dout.dtype)
    dy[iy] = beta * dout[ix]
    return dx, dy
