"""Mistake catalog of ex6_batch_norm: batch norm forward (train and eval, running statistics) and backward
(see catalog/slips.py)."""
import numpy as np

from catalog.slips import Catalog

CATALOG = cat = Catalog("ex6_batch_norm")


@cat.correct
def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
    if x.ndim == 2:
        axes, shape = (0,), (1, -1)
    else:
        axes, shape = (0, 2, 3), (1, -1, 1, 1)
    if training:
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        m = x.size // x.shape[1]
        running_mean[:] = (1 - momentum) * running_mean + momentum * mean
        running_var[:] = (1 - momentum) * running_var + momentum * var * m / (m - 1)
    else:
        mean = running_mean.copy()
        var = running_var.copy()
    xhat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    out = gamma.reshape(shape) * xhat + beta.reshape(shape)
    cache = (x, gamma, mean, var, eps, training)
    return out, cache


cat.slip("batchnorm_forward", "unbiased_normalize", "bn_unbiased_normalize",
         ("var = x.var(axis=axes)", "var = x.var(axis=axes, ddof=1)"),
         ("momentum * var * m / (m - 1)", "momentum * var"),
         note="normalizes with the unbiased variance (and so updates running_var with it, rightly)")
cat.written("batchnorm_forward", "batch_stats_in_eval", "bn_eval_batch_stats", """
    def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
        if x.ndim == 2:
            axes, shape = (0,), (1, -1)
        else:
            axes, shape = (0, 2, 3), (1, -1, 1, 1)
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
        if training:
            m = x.size // x.shape[1]
            running_mean[:] = (1 - momentum) * running_mean + momentum * mean
            running_var[:] = (1 - momentum) * running_var + momentum * var * m / (m - 1)
        xhat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
        out = gamma.reshape(shape) * xhat + beta.reshape(shape)
        cache = (x, gamma, mean, var, eps, training)
        return out, cache
    """, note="normalizes with the batch's statistics in both modes")
cat.slip("batchnorm_forward", "running_rebound", "bn_running_not_updated",
         ("running_mean[:] = (1 - momentum)", "running_mean = (1 - momentum)"),
         ("running_var[:] = (1 - momentum)", "running_var = (1 - momentum)"),
         note="assigns new arrays to the local names; the caller's arrays never change")
cat.slip("batchnorm_forward", "momentum_swapped", "bn_momentum_swapped",
         ("running_mean[:] = (1 - momentum) * running_mean + momentum * mean",
          "running_mean[:] = momentum * running_mean + (1 - momentum) * mean"),
         ("running_var[:] = (1 - momentum) * running_var + momentum * var * m / (m - 1)",
          "running_var[:] = momentum * running_var + (1 - momentum) * var * m / (m - 1)"))
cat.slip("batchnorm_forward", "running_var_biased", "bn_running_var_biased",
         ("momentum * var * m / (m - 1)", "momentum * var"))
cat.slip("batchnorm_forward", "statistics_per_position", "bn_channel_axes",
         ("axes, shape = (0, 2, 3), (1, -1, 1, 1)", "axes, shape = (0,), (1, -1, 1, 1)"),
         note="for images, statistics over the batch only: one per (channel, position); they do not fit (C,)")
cat.written("batchnorm_forward", "eval_updates_running", "bn_eval_updates_running", """
    def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
        if x.ndim == 2:
            axes, shape = (0,), (1, -1)
        else:
            axes, shape = (0, 2, 3), (1, -1, 1, 1)
        batch_mean, batch_var = x.mean(axis=axes), x.var(axis=axes)
        m = x.size // x.shape[1]
        running_mean[:] = (1 - momentum) * running_mean + momentum * batch_mean
        running_var[:] = (1 - momentum) * running_var + momentum * batch_var * m / (m - 1)
        if training:
            mean, var = batch_mean, batch_var
        else:
            mean, var = running_mean.copy(), running_var.copy()
        xhat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
        out = gamma.reshape(shape) * xhat + beta.reshape(shape)
        cache = (x, gamma, mean, var, eps, training)
        return out, cache
    """, note="updates the running statistics in both modes, before using them in eval")
cat.slip("batchnorm_forward", "eps_outside_sqrt", "bn_eps_outside_sqrt",
         ("np.sqrt(var.reshape(shape) + eps)", "(np.sqrt(var.reshape(shape)) + eps)"))
cat.slip("batchnorm_forward", "cs231n_cache", "cache_contract",
         ("cache = (x, gamma, mean, var, eps, training)", "cache = (xhat, gamma, var, eps)"),
         note="the cache of the CS231n assignment (what its backward needs), not the one this exercise states")


@cat.correct
def batchnorm_backward(dout, cache):
    x, gamma, mean, var, eps, training = cache
    if x.ndim == 2:
        axes, shape = (0,), (1, -1)
    else:
        axes, shape = (0, 2, 3), (1, -1, 1, 1)
    m = x.size // x.shape[1]
    std = np.sqrt(var + eps).reshape(shape)
    xhat = (x - mean.reshape(shape)) / std
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    dxhat = dout * gamma.reshape(shape)
    if training:
        dx = (dxhat - dxhat.mean(axis=axes, keepdims=True)
              - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)) / std
    else:
        dx = dxhat / std
    return dx, dgamma, dbeta


cat.slip("batchnorm_backward", "training_formula_in_eval", "bn_backward_eval_formula",
         ("    if training:\n        dx = (dxhat", "    if True:\n        dx = (dxhat"),
         note="uses the training-mode gradient in evaluation mode too (issue 15)")
cat.slip("batchnorm_backward", "eval_formula_in_training", "bn_backward_constant_stats",
         ("    if training:\n        dx = (dxhat", "    if False:\n        dx = (dxhat"),
         note="treats the batch statistics as constants in training")
cat.slip("batchnorm_backward", "dgamma_dbeta_per_position", "bn_backward_axes",
         ("dbeta = dout.sum(axis=axes)", "dbeta = dout.sum(axis=0)"),
         ("dgamma = (dout * xhat).sum(axis=axes)", "dgamma = (dout * xhat).sum(axis=0)"))
cat.slip("batchnorm_backward", "dgamma_without_xhat", "bn_backward_dgamma",
         ("dgamma = (dout * xhat).sum(axis=axes)", "dgamma = dout.sum(axis=axes)"))
cat.slip("batchnorm_backward", "forgot_gamma", "bn_backward_forgot_gamma",
         ("dxhat = dout * gamma.reshape(shape)", "dxhat = dout"))
cat.written("batchnorm_backward", "m_is_batch_size", "bn_backward_count", """
    def batchnorm_backward(dout, cache):
        x, gamma, mean, var, eps, training = cache
        if x.ndim == 2:
            axes, shape = (0,), (1, -1)
        else:
            axes, shape = (0, 2, 3), (1, -1, 1, 1)
        m = x.shape[0]
        std = np.sqrt(var + eps).reshape(shape)
        xhat = (x - mean.reshape(shape)) / std
        dbeta = dout.sum(axis=axes)
        dgamma = (dout * xhat).sum(axis=axes)
        dxhat = dout * gamma.reshape(shape)
        if training:
            dx = (dxhat - dxhat.sum(axis=axes, keepdims=True) / m
                  - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True) / m) / std
        else:
            dx = dxhat / std
        return dx, dgamma, dbeta
    """, note="divides the sums by N, the batch size, where images have N*H*W values per channel")
cat.written("batchnorm_backward", "recomputes_statistics", "bn_backward_recomputed_stats", """
    def batchnorm_backward(dout, cache):
        x, gamma, mean, var, eps, training = cache
        if x.ndim == 2:
            axes, shape = (0,), (1, -1)
        else:
            axes, shape = (0, 2, 3), (1, -1, 1, 1)
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        std = np.sqrt(var + eps).reshape(shape)
        xhat = (x - mean.reshape(shape)) / std
        dbeta = dout.sum(axis=axes)
        dgamma = (dout * xhat).sum(axis=axes)
        dxhat = dout * gamma.reshape(shape)
        if training:
            dx = (dxhat - dxhat.mean(axis=axes, keepdims=True)
                  - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)) / std
        else:
            dx = dxhat / std
        return dx, dgamma, dbeta
    """, note="recomputes the batch's mean and variance from x instead of using the cache's, which in eval "
              "mode are the running statistics")
