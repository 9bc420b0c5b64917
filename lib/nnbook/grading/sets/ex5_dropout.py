"""Exercise set ex5_dropout (``exercises/ex5_dropout.ipynb``): dropout.

Cases, references, hint rules and what answers may not use. See :mod:`nnbook.grading.exercise`.
"""
import numpy as np

from ... import functional as F
from ..cases import Rng, away_from_zero, materialize
from ..exercise import (Exercise, ExerciseSet, COMMON_RULES, dout_for, forward_reference, numbered,
                        register, register_set, with_gradcheck)


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
        return [("out", x / (1 - p), "in eval mode (training=False) dropout does nothing: return x (a copy)")]
    if p == 0:
        return []
    r = np.random.default_rng(case.kwargs["rng"].seed).random(x.shape)
    dt = x.dtype
    return [("out", x * (r >= p).astype(dt), "dropout not rescaled: inverted dropout multiplies the kept units "
             "by 1 / (1 - p), so the expected value stays x"),
            ("out", x * (r < p).astype(dt) / dt.type(p), "p is the probability of *dropping* a unit: keep the "
             "units where rng.random(x.shape) >= p"),
            ("out", x * (r < 1 - p).astype(dt) / dt.type(1 - p), "draw the mask as rng.random(x.shape) >= p "
             "(the same rng then gives the same mask as the reference)")]


def _dropout_rules(case, problem):
    if problem.kind != "values" or "eval" in case.tags or not isinstance(problem.got, np.ndarray):
        return None
    x, p = case.args
    got = problem.got
    kept = got != 0
    if kept.any():
        ratio = np.median(got[kept] / x[kept])
        if abs(ratio - 1) < 1e-6 and p > 0:
            return ("dropout not rescaled: inverted dropout multiplies the kept units by 1 / (1 - p), "
                    "so the expected value stays x")
    return ("use the rng you are given: mask = rng.random(x.shape) >= p, drawn once, so that the same "
            "seed gives the same mask")


def _dropout_backward_reference(case, learner_out=None):
    x = case.args[0]
    out = F.dropout_forward(*materialize(case.args), **materialize(case.kwargs))[0]
    dout = dout_for(case, out)
    if learner_out is None or not isinstance(learner_out, np.ndarray) or learner_out.shape != x.shape:
        scale = out / x       # fall back to the reference mask
    else:
        scale = (learner_out / x).astype(x.dtype)
    return {"dx": (dout * scale).astype(x.dtype)}


register(Exercise(
    "dropout_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _dropout_specs(hidden)),
    forward_reference(F.dropout_forward),
    rules=COMMON_RULES + (_dropout_rules,),
    alternatives=_dropout_alternatives,
))

register(Exercise(
    "dropout_backward", "backward", ("dx",),
    lambda base, hidden: with_gradcheck(
        numbered(base, _dropout_specs(hidden)), base,
        lambda rng: ((away_from_zero(rng, (4, 5)), 0.4), {"training": True, "rng": Rng(1)})),
    _dropout_backward_reference,
    forward="dropout_forward", grad_args=(0,), ref_forward=F.dropout_forward, gradcheck_forward="learner",
    rules=COMMON_RULES + ((lambda case, problem: "dx = dout * mask, with the same scaled mask as in forward "
                           "(keep it in the cache); in eval mode dx = dout" if problem.kind == "values" else None),),
))


register_set(ExerciseSet(
    "ex5_dropout", ("dropout_forward", "dropout_backward",),
    not_available=("nnbook.functional.dropout_forward", "nnbook.functional.dropout_backward",
                   "nnbook.layers.Dropout"),
))
