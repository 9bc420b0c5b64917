"""Exercise set ex5_dropout (``exercises/ex5_dropout.ipynb``): dropout.

Cases, references, hint rules and what answers may not use. See :mod:`nnbook.grading.judge.exercise`.
"""
from dataclasses import replace

import numpy as np

from ... import functional as F
from ..judge.cases import Rng, away_from_zero
from ..judge.exercise import (CacheContract, Exercise, ExerciseSet, COMMON_RULES, Hint, backward_reference,
                               dout_for, forward_reference, numbered, register, register_set, with_gradcheck)


def _mask(x, p, training=True, rng=None):
    """The cache the exercise states: the scaled mask x is multiplied by in training, None in eval mode."""
    if not training:
        return None
    return (rng.random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1 - p)


# the backward is judged on the reference's mask: the forward's own mask (or a forward redefined
# later) has no say in it; with p = 0, None means the same as a mask of ones
DROPOUT_CACHE = CacheContract(("mask",), _mask,
                              also=lambda args, kwargs: [None] if kwargs.get("training", True) and args[1] == 0 else [])

NOT_INVERTED = Hint(
    "dropout_not_inverted", "dropout not rescaled: inverted dropout scales the kept units up in training, "
    "so that the expected value of every unit stays x and eval mode needs no change",
    "a kept unit becomes x / (1 - p), a dropped one 0: E[out] = (1 - p) * x / (1 - p) = x",
    "out = x * keep / (1 - p)", label="dropout not inverted (no 1/(1-p))")
EVAL_SCALED = Hint(
    "dropout_eval_not_identity", "in eval mode (training=False) inverted dropout does nothing: it returns x "
    "(a copy); the scaling happened in training already", "training=False: out = x",
    "if not training:\n    return x.copy(), None", label="changed x in eval mode")
P_IS_DROP = Hint(
    "dropout_p_is_keep", "p is the probability of *dropping* a unit, not of keeping it",
    "a unit is kept when its uniform number is >= p, so it is kept with probability 1 - p",
    "keep = rng.random(x.shape) >= p", label="took p as the keep probability")
MASK_DRAW = Hint(
    "dropout_mask_draw", "draw the mask from the rng you are given, in one call, so the same seed gives "
    "the same mask", "one uniform number per unit, from rng.random with x's shape; keep the units whose "
    "number is >= p", "keep = rng.random(x.shape) >= p", label="mask drawn differently", fallback=True)
MASK_DRAW_EXACT = replace(MASK_DRAW, fallback=False)    # the output equals a mask drawn another way
BACKWARD_EVAL = Hint(
    "dropout_backward_eval", "in eval mode the forward multiplied by nothing and its cache is None: the gradient "
    "passes unchanged (a copy of dout)", "cache None: dx = dout; otherwise dx = dout * mask",
    "if mask is None:\n    return dout.copy()", label="eval mode (cache None) not handled")
BACKWARD_FORGOT_DOUT = Hint(
    "dropout_backward_forgot_dout", "the chain rule multiplies the upstream gradient dout by the local slope, "
    "here the mask: the mask alone is not the gradient of the loss", "dx = dout * mask",
    label="returned the mask without dout")
BACKWARD_IGNORES_MASK = Hint(
    "dropout_backward_ignores_mask", "a dropped unit did not reach the output, so no gradient comes back to it, "
    "and a kept one was scaled by 1/(1 - p): dx is dout times the same mask", "dx = dout * mask (mask = keep / (1 - p))",
    label="ignored the mask")
BACKWARD_UNSCALED = Hint(
    "dropout_backward_unscaled", "the forward multiplied a kept unit by 1/(1 - p), so its gradient is scaled by "
    "the same factor: multiply by the cached mask itself, not by whether it is nonzero",
    "dx = dout * mask, with mask = keep / (1 - p) as cached", label="dropped the 1/(1-p) in backward")
BACKWARD_MASK = Hint(
    "dropout_backward_mask", "backward multiplies dout by exactly what forward multiplied x by: the scaled "
    "mask, which is the cache; in eval mode (the cache is None) the gradient passes unchanged",
    "dx = dout * mask, with mask = keep / (1 - p) from forward; cache None: dx = dout",
    "dx = dout * mask", label="wrong dropout backward", fallback=True)


def _dropout_specs(hidden):
    def build(shape, p, training=True, seed=7, dtype=np.float64):
        return lambda rng: ((away_from_zero(rng, shape, dtype), p), {"training": training, "rng": Rng(seed)})
    if hidden:
        return [("p=0.7, training", build((30, 20), 0.7, seed=3), ()),
                ("p=0.1, eval", build((3, 4, 5), 0.1, False), {"eval"})]
    return [("p=0.5, training", build((40, 50), 0.5), ()),
            ("p=0.2, training, image-shaped", build((4, 3, 8, 8), 0.2, seed=11), ()),
            ("p=0.8, training", build((20, 30), 0.8, seed=5), ()),
            ("p=0 (keep everything)", build((5, 6), 0.0), {"p0"}),
            ("eval mode (training=False)", build((5, 6), 0.5, False), {"eval"}),
            ("batch 1", build((1, 100), 0.3, seed=2), {"batch1"}),
            ("float32", build((10, 10), 0.5, seed=4, dtype=np.float32), {"float32"})]


def _dropout_alternatives(case, exp):
    x, p = case.args
    if not case.kwargs["training"]:
        return [("out", x / (1 - p), EVAL_SCALED), ("out", x * (1 - p), EVAL_SCALED)]
    if p == 0:
        return []
    r = np.random.default_rng(case.kwargs["rng"].seed).random(x.shape)
    shared = np.random.default_rng(case.kwargs["rng"].seed).random(x.shape[1:])   # one mask for the batch
    dt = x.dtype
    return [("out", x * (r >= p).astype(dt), NOT_INVERTED),
            ("out", x * (r < p).astype(dt) / dt.type(p), P_IS_DROP),
            ("out", x * (r < p).astype(dt), P_IS_DROP),
            ("out", x * (r < 1 - p).astype(dt) / dt.type(1 - p), MASK_DRAW_EXACT),
            ("out", x * (shared >= p).astype(dt) / dt.type(1 - p), MASK_DRAW_EXACT)]


def _backward_alternatives(case, exp):
    x, p = case.args
    mask = DROPOUT_CACHE.make(case)
    if mask is None:
        return []
    dout = dout_for(case, x)
    return [("dx", mask, BACKWARD_FORGOT_DOUT), ("dx", dout, BACKWARD_IGNORES_MASK),
            ("dx", dout * (mask > 0), BACKWARD_UNSCALED)]


def _backward_rules(case, problem):
    if problem.kind == "exception" and "eval" in case.tags:
        return BACKWARD_EVAL
    if problem.kind == "values":
        return BACKWARD_MASK
    return None


def _dropout_rules(case, problem):
    if problem.kind == "nan" and "p0" in case.tags:
        return P_IS_DROP                     # kept with probability p = 0, and divided by it
    if problem.kind != "values" or "eval" in case.tags or not isinstance(problem.got, np.ndarray):
        return None
    x, p = case.args
    got = problem.got
    kept = got != 0
    if kept.any():
        ratio = np.median(got[kept] / x[kept])
        if abs(ratio - 1) < 1e-6 and p > 0:
            return NOT_INVERTED
    return MASK_DRAW


register(Exercise(
    "dropout_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _dropout_specs(hidden)),
    forward_reference(F.dropout_forward),
    rules=COMMON_RULES + (_dropout_rules,),
    alternatives=_dropout_alternatives,
    cache=DROPOUT_CACHE,
))

# no big case: the cache holds only the mask, so there is no forward to differentiate numerically
register(Exercise(
    "dropout_backward", "backward", ("dx",),
    lambda base, hidden: with_gradcheck(
        numbered(base, _dropout_specs(hidden)), base,
        lambda rng: ((away_from_zero(rng, (4, 5)), 0.4), {"training": True, "rng": Rng(1)})),
    backward_reference(F.dropout_forward, F.dropout_backward, ("dx",)),
    forward="dropout_forward", grad_args=(0,), ref_forward=F.dropout_forward,
    rules=COMMON_RULES + (_backward_rules,),
    alternatives=_backward_alternatives,
    cache=DROPOUT_CACHE,
))


register_set(ExerciseSet(
    "ex5_dropout", ("dropout_forward", "dropout_backward",),
    allowed=(),
))
