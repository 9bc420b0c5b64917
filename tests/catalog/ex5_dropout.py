"""Mistake catalog of ex5_dropout: inverted dropout, forward and backward (see catalog/slips.py).

The answers keep the line the notebook gives (``rng = np.random.default_rng()`` when none is passed).
"""
import numpy as np

from catalog.slips import Catalog

CATALOG = cat = Catalog("ex5_dropout")


@cat.correct
def dropout_forward(x, p, training=True, rng=None):
    if rng is None:
        rng = np.random.default_rng()
    if not training:
        return x.copy(), None
    keep = rng.random(x.shape) >= p
    mask = keep.astype(x.dtype) / (1 - p)
    out = x * mask
    cache = mask
    return out, cache


cat.slip("dropout_forward", "not_inverted", "dropout_not_inverted",
         ("mask = keep.astype(x.dtype) / (1 - p)", "mask = keep.astype(x.dtype)"))
cat.slip("dropout_forward", "p_is_keep", "dropout_p_is_keep", ("keep = rng.random(x.shape) >= p", "keep = rng.random(x.shape) < p"),
         ("mask = keep.astype(x.dtype) / (1 - p)", "mask = keep.astype(x.dtype) / p"),
         note="takes p as the probability of keeping a unit")
cat.slip("dropout_forward", "eval_scaled", "dropout_eval_not_identity",
         ("return x.copy(), None", "return x * (1 - p), None"),
         note="scales by the keep probability in eval mode, as non-inverted dropout does")
cat.slip("dropout_forward", "binomial_mask", "dropout_mask_draw",
         ("keep = rng.random(x.shape) >= p", "keep = rng.binomial(1, 1 - p, size=x.shape) == 1"),
         note="a mask with the right distribution, drawn another way: not the same mask for the same seed")
cat.slip("dropout_forward", "global_random", "dropout_mask_draw",
         ("keep = rng.random(x.shape) >= p", "keep = np.random.rand(*x.shape) >= p"),
         note="ignores the rng it was given")
cat.slip("dropout_forward", "cache_keep", "cache_contract", ("cache = mask", "cache = keep"),
         note="keeps the boolean mask, not the scaled one x was multiplied by")
cat.slip("dropout_forward", "float64_mask", "dtype_changed",
         ("mask = keep.astype(x.dtype) / (1 - p)", "mask = keep / (1 - p)"),
         note="a boolean mask divided by a float is float64: out is float64 for a float32 x")
cat.slip("dropout_forward", "mask_per_feature", "dropout_mask_draw",
         ("keep = rng.random(x.shape) >= p", "keep = rng.random(x.shape[1:]) >= p"),
         note="one mask for the whole batch: every example drops the same units (and the cache, that mask, has "
              "another shape than x)", also=("cache_contract",))


@cat.correct
def dropout_backward(dout, cache):
    mask = cache
    if mask is None:
        return dout.copy()
    dx = dout * mask
    return dx


cat.slip("dropout_backward", "eval_none_not_handled", "dropout_backward_eval",
         ("    if mask is None:\n        return dout.copy()\n", ""),
         note="in eval mode the cache is None: dout * None raises")
cat.slip("dropout_backward", "forgot_dout", "dropout_backward_forgot_dout", ("dx = dout * mask", "dx = mask"))
cat.slip("dropout_backward", "ignores_mask", "dropout_backward_ignores_mask", ("dx = dout * mask", "dx = dout.copy()"),
         note="thinks dropout has no gradient to speak of")
cat.slip("dropout_backward", "unscaled_mask", "dropout_backward_unscaled", ("dx = dout * mask", "dx = dout * (mask > 0)"),
         note="lets the gradient through the kept units without the 1/(1-p) the forward applied")
cat.slip("dropout_backward", "dout_in_place", "input_modified", ("dx = dout * mask", "dout *= mask\n    dx = dout"))
cat.slip("dropout_backward", "unpacks_cache", "cache_unpacked",
         ("mask = cache", "x, mask = cache"),
         note="its forward kept (x, mask); the exercise's cache is the mask alone")
