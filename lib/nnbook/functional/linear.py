"""Fully connected (affine) layer: ``out = x.reshape(N, -1) @ W + b``."""
import numpy as np

from .._checks import check_array, check_cache, check_dout


def linear_forward(x, W, b):
    """Affine map of a batch.

    Args:
        x: input, shape (N, d_1, ..., d_k); each row is flattened to D = d_1 * ... * d_k.
        W: weights, shape (D, M).
        b: bias, shape (M,).
    Returns:
        out: shape (N, M).
        cache: ``(x, W)`` for :func:`linear_backward`.
    """
    who = "linear_forward"
    check_array(x, who, "x", ndim=range(2, 8))
    check_array(W, who, "W", ndim=2)
    check_array(b, who, "b", ndim=1)
    D = int(np.prod(x.shape[1:]))
    if W.shape[0] != D:
        raise ValueError(f"{who}: x has {D} features per example (shape {x.shape}), "
                         f"but W expects {W.shape[0]} (W shape {W.shape})")
    if b.shape != (W.shape[1],):
        raise ValueError(f"{who}: expected b of shape ({W.shape[1]},), got {b.shape}")
    out = x.reshape(x.shape[0], D) @ W + b
    return out, (x, W)


def linear_backward(dout, cache):
    """Gradients of :func:`linear_forward`.

    Args:
        dout: upstream gradient, shape (N, M).
        cache: from :func:`linear_forward`.
    Returns:
        dx: shape of x; dW: shape (D, M); db: shape (M,).
    """
    who = "linear_backward"
    check_cache(cache, who, 2)
    x, W = cache
    check_dout(dout, (x.shape[0], W.shape[1]), who)
    x2 = x.reshape(x.shape[0], -1)
    dx = (dout @ W.T).reshape(x.shape)
    dW = x2.T @ dout
    db = dout.sum(axis=0)
    return dx, dW, db
