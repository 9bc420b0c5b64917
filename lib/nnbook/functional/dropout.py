"""Inverted dropout: in training each unit is zeroed with probability ``p`` and the
kept ones are scaled by ``1 / (1 - p)``, so the expected activation is unchanged and
evaluation is the identity."""
import numpy as np

from .._checks import check_array, check_cache, check_dout


def _check_p_rng(who, p, rng):
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p < 1:
        raise ValueError(f"{who}: p is the drop probability and must be in [0, 1), got {p!r}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"{who}: rng must be a numpy.random.Generator, got {type(rng).__name__}")


def _masked_dropout(x, p, training, rng, mask_shape):
    """``x`` times a scaled keep-mask of ``mask_shape`` (broadcast over x); the cache of both backwards."""
    if not training or p == 0:
        return x.copy(), (None, x.shape)
    rng = np.random.default_rng() if rng is None else rng
    mask = (rng.random(mask_shape) >= p).astype(x.dtype) / x.dtype.type(1 - p)
    return x * mask, (mask, x.shape)


def _masked_dropout_backward(dout, cache, who):
    check_cache(cache, who, 2)
    mask, shape = cache
    check_dout(dout, shape, who)
    return dout.copy() if mask is None else dout * mask


def dropout_forward(x, p, training=True, rng=None):
    """Drop units at random.

    Args:
        x: input of any shape.
        p: probability of *dropping* a unit, in [0, 1).
        training: if False, return x unchanged.
        rng: ``numpy.random.Generator`` for a reproducible mask (default: a fresh one).
    Returns:
        out: shape of x; cache: the scaled mask (None in eval mode).
    """
    who = "dropout_forward"
    check_array(x, who, "x")
    _check_p_rng(who, p, rng)
    return _masked_dropout(x, p, training, rng, x.shape)


def dropout_backward(dout, cache):
    """``dx = dout * mask`` (``dout`` itself in eval mode). Shape of x."""
    return _masked_dropout_backward(dout, cache, "dropout_backward")


def dropout2d_forward(x, p, training=True, rng=None):
    """Channel (spatial) dropout, as PyTorch's ``Dropout2d``: drop whole feature maps.

    One keep/drop draw per image and channel, shared by all H x W positions of that
    channel; kept channels are scaled by ``1 / (1 - p)``.

    Args:
        x: input of shape (N, C, H, W).
        p: probability of *dropping* a channel, in [0, 1).
        training: if False, return x unchanged.
        rng: ``numpy.random.Generator`` for a reproducible mask (default: a fresh one).
    Returns:
        out: shape of x; cache: the scaled mask of shape (N, C, 1, 1) (None in eval mode).
    Shape:
        (N, C, H, W) -> (N, C, H, W).
    """
    who = "dropout2d_forward"
    check_array(x, who, "x", ndim=4)
    _check_p_rng(who, p, rng)
    return _masked_dropout(x, p, training, rng, x.shape[:2] + (1, 1))


def dropout2d_backward(dout, cache):
    """``dx = dout * mask``, the (N, C, 1, 1) mask broadcast over H x W (``dout`` in eval mode)."""
    return _masked_dropout_backward(dout, cache, "dropout2d_backward")
