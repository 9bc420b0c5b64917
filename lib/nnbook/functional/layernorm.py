"""Normalization per example: layer norm and group norm, with PyTorch semantics.

Unlike batch norm, the statistics come from one example at a time, so training and
evaluation compute the same thing, a batch of 1 works, and there are no running estimates.

- Layer norm (``torch.nn.functional.layer_norm``): each example is normalized over its last
  axes, ``normalized_shape``; the learned ``gamma``, ``beta`` have that shape (one scale and
  shift per normalized value).
- Group norm (``torch.nn.functional.group_norm``): the C channels of each example are split
  into ``num_groups`` groups of consecutive channels, and each group is normalized over its
  channels and positions; ``gamma``, ``beta`` have shape (C,). With one group it normalizes
  over all of (C, H, W) like layer norm (but with per-channel gamma, beta); with C groups it
  is **instance norm** (each channel of each example on its own).

Both use the biased variance (divide by the number of values normalized together) and share
one backward: for each normalized row, ``dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
/ sqrt(var + eps)``, the batch-norm formula with the roles of the axes exchanged.
"""
import numpy as np

from .._checks import as_shape, check_array, check_cache, check_dout, check_eps


def _check_affine(v, shape, who, name):
    if v is None:
        return
    check_array(v, who, name)
    if v.shape != tuple(shape):
        raise ValueError(f"{who}: expected {name} of shape {tuple(shape)}, got {v.shape}")


def _normalize_rows(x2, eps):
    """Each row of ``x2`` (R, K) to mean 0 and variance var / (var + eps).

    Returns ``xhat`` (R, K) and ``inv_std = 1 / sqrt(var + eps)`` (R, 1), in the dtype of x2.
    """
    mean = x2.mean(axis=1, keepdims=True)
    var = x2.var(axis=1, keepdims=True)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x2.dtype, copy=False)
    return (x2 - mean) * inv_std, inv_std


def _normalize_rows_backward(dxhat2, xhat2, inv_std):
    """Gradient through :func:`_normalize_rows`: shapes (R, K), (R, K), (R, 1) -> (R, K)."""
    return inv_std * (dxhat2 - dxhat2.mean(axis=1, keepdims=True)
                      - xhat2 * (dxhat2 * xhat2).mean(axis=1, keepdims=True))


def layernorm_forward(x, normalized_shape, gamma=None, beta=None, eps=1e-5):
    """Normalize every example over its last ``len(normalized_shape)`` axes, then scale and shift.

    Args:
        x: shape (*, *normalized_shape), e.g. (N, D) with normalized_shape D, or (N, C, H, W)
            with normalized_shape (C, H, W).
        normalized_shape: int or tuple, the trailing shape of x to normalize over.
        gamma, beta: None (no scale / no shift) or shape normalized_shape.
        eps: added to the variance.
    Returns:
        out: shape of x; cache for :func:`layernorm_backward`.
    """
    who = "layernorm_forward"
    check_array(x, who, "x")
    shape = as_shape(normalized_shape, who, "normalized_shape")
    k = len(shape)
    if x.ndim < k or x.shape[x.ndim - k:] != shape:
        want = "(*, " + ", ".join(map(str, shape)) + ")"
        raise ValueError(f"{who}: expected x of shape {want} (its last {k} axes are normalized), got {x.shape}")
    _check_affine(gamma, shape, who, "gamma")
    _check_affine(beta, shape, who, "beta")
    check_eps(eps, who)
    xhat2, inv_std = _normalize_rows(x.reshape(-1, int(np.prod(shape))), eps)
    out = xhat2.reshape(x.shape)
    if gamma is not None:
        out = out * gamma.astype(x.dtype, copy=False)
    if beta is not None:
        out = out + beta.astype(x.dtype, copy=False)
    return out, (xhat2, inv_std, gamma, beta is not None, x.shape, shape)


def layernorm_backward(dout, cache):
    """Gradients of :func:`layernorm_forward`.

    Returns:
        dx: shape of x; dgamma, dbeta: shape normalized_shape (None where the forward had None).
    """
    who = "layernorm_backward"
    check_cache(cache, who, 6)
    xhat2, inv_std, gamma, has_beta, x_shape, shape = cache
    check_dout(dout, x_shape, who)
    dout2 = dout.reshape(xhat2.shape)
    dbeta = dout2.sum(axis=0).reshape(shape) if has_beta else None
    dgamma = None if gamma is None else (dout2 * xhat2).sum(axis=0).reshape(shape)
    dxhat2 = dout2 if gamma is None else dout2 * gamma.astype(dout.dtype, copy=False).reshape(-1)
    return _normalize_rows_backward(dxhat2, xhat2, inv_std).reshape(x_shape), dgamma, dbeta


def _per_channel(v, ndim):
    """A (C,) vector shaped to broadcast against an (N, C, *) array of ``ndim`` axes."""
    return v.reshape((-1,) + (1,) * (ndim - 2))


def groupnorm_forward(x, num_groups, gamma=None, beta=None, eps=1e-5):
    """Normalize every group of consecutive channels of every example, then scale and shift per channel.

    Args:
        x: shape (N, C, *), e.g. (N, C, H, W) or (N, C).
        num_groups: G, a divisor of C; group g holds channels g*C/G ... (g+1)*C/G - 1.
            G = 1 normalizes over all of (C, *); G = C is instance norm.
        gamma, beta: None or shape (C,).
        eps: added to the variance.
    Returns:
        out: shape of x; cache for :func:`groupnorm_backward`.
    """
    who = "groupnorm_forward"
    check_array(x, who, "x")
    if x.ndim < 2:
        raise ValueError(f"{who}: expected x of shape (N, C, *), got {x.ndim}-D array of shape {x.shape}")
    C = x.shape[1]
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) or num_groups < 1:
        raise ValueError(f"{who}: num_groups must be a positive int, got {num_groups!r}")
    if C % num_groups:
        raise ValueError(f"{who}: num_groups {num_groups} must divide the {C} channels of x (shape {x.shape})")
    _check_affine(gamma, (C,), who, "gamma")
    _check_affine(beta, (C,), who, "beta")
    check_eps(eps, who)
    xhat2, inv_std = _normalize_rows(x.reshape(x.shape[0] * int(num_groups), -1), eps)
    out = xhat2.reshape(x.shape)
    if gamma is not None:
        out = out * _per_channel(gamma.astype(x.dtype, copy=False), x.ndim)
    if beta is not None:
        out = out + _per_channel(beta.astype(x.dtype, copy=False), x.ndim)
    return out, (xhat2, inv_std, gamma, beta is not None, x.shape)


def groupnorm_backward(dout, cache):
    """Gradients of :func:`groupnorm_forward`.

    Returns:
        dx: shape of x; dgamma, dbeta: shape (C,) (None where the forward had None).
    """
    who = "groupnorm_backward"
    check_cache(cache, who, 5)
    xhat2, inv_std, gamma, has_beta, x_shape = cache
    check_dout(dout, x_shape, who)
    axes = (0,) + tuple(range(2, len(x_shape)))
    dbeta = dout.sum(axis=axes) if has_beta else None
    dgamma = None if gamma is None else (dout * xhat2.reshape(x_shape)).sum(axis=axes)
    dxhat = dout if gamma is None else dout * _per_channel(gamma.astype(dout.dtype, copy=False), len(x_shape))
    return _normalize_rows_backward(dxhat.reshape(xhat2.shape), xhat2, inv_std).reshape(x_shape), dgamma, dbeta
