"""Batch normalization with PyTorch semantics, for (N, D) and (N, C, H, W) inputs.

Training: normalize with the batch mean and *biased* variance over every axis but
the feature/channel axis; update the running estimates in place with the *unbiased*
variance: ``running = (1 - momentum) * running + momentum * batch_stat``.
Evaluation: normalize with the running estimates.
"""
import numpy as np

from .._checks import check_array, check_cache, check_dout, check_shape


def _axes(x):
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _per_feature(v, x):
    """Reshape a (C,) vector so it broadcasts against x."""
    return v if x.ndim == 2 else v[:, None, None]


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True,
                      momentum=0.1, eps=1e-5):
    """Normalize each feature (channel), then scale by gamma and shift by beta.

    Args:
        x: shape (N, D) or (N, C, H, W).
        gamma, beta: shape (D,) or (C,).
        running_mean, running_var: shape (D,) or (C,); updated in place when training.
    Returns:
        out: shape of x; cache for :func:`batchnorm_backward`.
    """
    who = "batchnorm_forward"
    check_array(x, who, "x", ndim=(2, 4))
    C = x.shape[1]
    for name, v in (("gamma", gamma), ("beta", beta),
                    ("running_mean", running_mean), ("running_var", running_var)):
        check_array(v, who, name, ndim=1)
        check_shape(v, (C,), who, name)
    axes = _axes(x)
    if training:
        m = x.size // C
        if m < 2:
            raise ValueError(f"{who}: training needs more than 1 value per channel, "
                             f"got input of shape {x.shape}")
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var * (m / (m - 1))
    else:
        mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    xhat = (x - _per_feature(mean, x)) * _per_feature(inv_std, x)
    out = xhat * _per_feature(gamma.astype(x.dtype, copy=False), x) \
        + _per_feature(beta.astype(x.dtype, copy=False), x)
    return out, (xhat, inv_std, gamma, training)


def batchnorm_backward(dout, cache):
    """Gradients of :func:`batchnorm_forward`.

    Returns:
        dx: shape of x; dgamma, dbeta: shape (C,).
    """
    who = "batchnorm_backward"
    check_cache(cache, who, 4)
    xhat, inv_std, gamma, training = cache
    check_dout(dout, xhat.shape, who)
    axes = _axes(xhat)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    scale = _per_feature((gamma * inv_std).astype(dout.dtype), xhat)
    if not training:
        return dout * scale, dgamma, dbeta
    m = xhat.size // xhat.shape[1]
    dx = scale * (dout - _per_feature(dbeta / m, xhat) - xhat * _per_feature(dgamma / m, xhat))
    return dx, dgamma, dbeta
