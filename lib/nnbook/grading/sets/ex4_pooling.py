"""Exercise set ex4_pooling (``exercises/ex4_pooling.ipynb``): max and average pooling.

Cases, references, hint rules and what answers may not use. See :mod:`nnbook.grading.exercise`.
"""
import numpy as np

from ... import functional as F
from ..cases import randn
from ..exercise import (Exercise, ExerciseSet, COMMON_RULES, backward_reference, forward_reference,
                        numbered, register, register_set, with_gradcheck)


def _pool_specs(hidden):
    def build(xs, k, stride=None, dtype=np.float64):
        return lambda rng: ((randn(rng, *xs, dtype=dtype), k), {"stride": stride})
    if hidden:
        rng = np.random.default_rng(78)
        sweep = []
        for i in range(5):
            k, s = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            xs = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(k, 9)), int(rng.integers(k, 9)))
            tags = {t for t, on in (("stride", s != k), ("overlap", s < k), ("batch1", xs[0] == 1),
                                    ("nonsquare", xs[2] != xs[3])) if on}
            sweep.append((f"random {i + 1}: x {xs}, kernel {k}, stride {s}", build(xs, k, s), tags))
        return [("kernel 3, stride 1 (overlapping)", build((2, 2, 5, 6), 3, 1), {"overlap", "stride", "nonsquare"}),
                ("kernel 4, stride 2 (overlapping)", build((1, 3, 9, 9), 4, 2), {"overlap", "stride", "batch1"})] + sweep
    return [("kernel 2 (stride = kernel)", build((2, 3, 4, 4), 2), ()),
            ("kernel 3, size 7 (leftover rows)", build((2, 2, 7, 7), 3), ()),
            ("kernel 2, stride 1 (overlapping)", build((2, 2, 5, 5), 2, 1), {"overlap", "stride"}),
            ("kernel 3, stride 2 (overlapping)", build((2, 2, 7, 7), 3, 2), {"overlap", "stride"}),
            ("non-square input 6x9", build((2, 2, 6, 9), 3), {"nonsquare"}),
            ("batch 1", build((1, 3, 4, 6), 2), {"batch1"}),
            ("float32", build((2, 3, 4, 4), 2, None, np.float32), {"float32"})]


def _pool_forward_rules(case, problem):
    if problem.output != "out" or problem.kind != "shape" or getattr(problem.got, "ndim", 0) != 4:
        return None
    x, k = case.args
    s = case.kwargs["stride"] or k
    Ho, Wo = [(n - k) // s + 1 for n in x.shape[2:]]
    got = problem.got.shape[2:]
    if s > 1 and list(got) == [n - k + 1 for n in x.shape[2:]]:
        return f"stride ignored? the windows move by stride = {s} (stride=None means stride = kernel_size)"
    if case.kwargs["stride"] is None and list(got) == [n - k + 1 for n in x.shape[2:]]:
        return "stride=None means stride = kernel_size (non-overlapping windows)"
    if any(abs(g - e) == 1 for g, e in zip(got, (Ho, Wo))):
        return f"output size off by one: Ho = (H - k) // stride + 1 = {Ho}, Wo = (W - k) // stride + 1 = {Wo}"
    return None


def _pool_backward_rules(case, problem):
    if problem.output == "dx" and problem.kind == "values" and "overlap" in case.tags:
        return ("with overlapping windows one input can belong to several windows: add the gradients "
                "(dx[...] += ...) instead of assigning them")
    return None


register(Exercise(
    "maxpool2d_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _pool_specs(hidden)),
    forward_reference(F.maxpool2d_forward),
    rules=COMMON_RULES + (_pool_forward_rules,),
    only_with={"stride": "fails only when stride != kernel_size: window (i, j) starts at (i*stride, j*stride)"},
))

register(Exercise(
    "maxpool2d_backward", "backward", ("dx",),
    lambda base, hidden: with_gradcheck(numbered(base, _pool_specs(hidden)), base,
                                        lambda rng: ((randn(rng, 1, 2, 5, 5), 3), {"stride": 2})),
    backward_reference(F.maxpool2d_forward, F.maxpool2d_backward, ("dx",)),
    forward="maxpool2d_forward", grad_args=(0,), ref_forward=F.maxpool2d_forward,
    rules=COMMON_RULES + (_pool_backward_rules,),
    only_with={"stride": "fails only when stride != kernel_size: window (i, j) starts at (i*stride, j*stride)"},
))

register(Exercise(
    "avgpool2d_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _pool_specs(hidden)),
    forward_reference(F.avgpool2d_forward),
    rules=COMMON_RULES + (_pool_forward_rules,),
    only_with={"stride": "fails only when stride != kernel_size: window (i, j) starts at (i*stride, j*stride)"},
))


def _avg_backward_alternatives(case, exp):
    k = case.args[1]
    return [("dx", exp["dx"] * k * k, f"each of the k*k = {k * k} inputs of a window gets dout / (k*k)")]


register(Exercise(
    "avgpool2d_backward", "backward", ("dx",),
    lambda base, hidden: with_gradcheck(numbered(base, _pool_specs(hidden)), base,
                                        lambda rng: ((randn(rng, 1, 2, 5, 5), 3), {"stride": 2})),
    backward_reference(F.avgpool2d_forward, F.avgpool2d_backward, ("dx",)),
    forward="avgpool2d_forward", grad_args=(0,), ref_forward=F.avgpool2d_forward,
    rules=COMMON_RULES + (_pool_backward_rules,),
    alternatives=_avg_backward_alternatives,
    only_with={"stride": "fails only when stride != kernel_size: window (i, j) starts at (i*stride, j*stride)"},
))


register_set(ExerciseSet(
    "ex4_pooling", ("maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",),
    not_available=("nnbook.functional.maxpool2d_forward", "nnbook.functional.maxpool2d_backward",
                   "nnbook.functional.avgpool2d_forward", "nnbook.functional.avgpool2d_backward",
                   "nnbook.naive.maxpool2d_forward", "nnbook.naive.maxpool2d_backward",
                   "nnbook.naive.avgpool2d_forward", "nnbook.naive.avgpool2d_backward",
                   "nnbook.layers.MaxPool2d", "nnbook.layers.AvgPool2d"),
))
