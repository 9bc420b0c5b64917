"""Exercise set ex4_pooling (``exercises/ex4_pooling.ipynb``): max and average pooling.

Cases, references, hint rules and what answers may not use. See :mod:`nnbook.grading.judge.exercise`.
"""
from dataclasses import replace

import numpy as np

from ... import functional as F
from ..judge.cases import materialize, randn
from ..judge.exercise import (CacheContract, Exercise, ExerciseSet, COMMON_RULES, Hint, backward_reference,
                               dout_for, forward_reference, numbered, register, register_set, with_big_case,
                               with_gradcheck)
from ..judge.mistakes import stride_ignored

# what the forwards' caches hold (stated in the exercise): the backwards are judged on these;
# stride is the one the windows moved by (kernel_size when it was given as None)
POOL_CACHE = CacheContract(("x", "kernel_size", "stride"),
                           lambda x, kernel_size, stride=None: (x, kernel_size,
                                                                kernel_size if stride is None else stride))

SIZE = "Ho = (H - k) // stride + 1 and Wo = (W - k) // stride + 1, with stride = k when stride is None"
STRIDE_IGNORED = Hint(
    "stride_ignored", "stride ignored? the windows move by `stride`, which may differ from the kernel size "
    "(stride=None means stride = kernel_size)",
    f"window (i, j) covers rows i*stride : i*stride + k and columns j*stride : j*stride + k; {SIZE}",
    "x[:, :, i*s:i*s + k, j*s:j*s + k]   # s, not k, between windows", label="ignored the stride")
STRIDE_NONE = Hint(
    "stride_none_default", "stride=None means stride = kernel_size: windows side by side, not overlapping",
    SIZE, "s = k if stride is None else stride", label="stride=None not taken as kernel_size")
OFF_BY_ONE = Hint(
    "output_size_off_by_one", "output size off by one: count the positions a window can take (leftover "
    "rows and columns at the end are ignored)", SIZE, "Ho = (H - k) // s + 1",
    label="output size off by one", fallback=True)
OVERWRITES = Hint(
    "pool_backward_overwrites", "overlapping windows must add up their contributions: with stride < "
    "kernel_size an input can belong to several windows, and `=` keeps only the last window's gradient",
    "dx[n, c, r, q] = sum over all windows (i, j) that contain (r, q) of what window (i, j) sends there",
    "dx[:, :, i*s:i*s + k, j*s:j*s + k] += ...   # +=, not =", label="overwrote instead of accumulating")
ALL_TIES = Hint(
    "maxpool_backward_all_ties", "when several entries of a window tie for the maximum, only the first one "
    "(in row-major order) receives the window's gradient, as in forward's argmax; you sent it to every tied "
    "maximum", "for each window: the position of np.argmax of the flattened window gets dout[n, c, i, j]; "
    "every other position of that window gets 0",
    "first = window.reshape(N, C, k * k).argmax(axis=2)   # the first maximum only",
    label="sent gradient to every tied maximum")
SPLIT_TIES = Hint(
    "maxpool_backward_split_ties", "when several entries of a window tie for the maximum, the first one "
    "(in row-major order) gets the whole gradient; you shared it among the ties",
    "the position of np.argmax of the flattened window gets all of dout[n, c, i, j]",
    "first = window.reshape(N, C, k * k).argmax(axis=2)", label="split the gradient among tied maxima")
AVG_SCALE = Hint(
    "avgpool_backward_not_scaled", "each of the k*k inputs of a window counted 1/(k*k) in the mean, so each "
    "gets that share of the window's gradient", "dx gets dout[n, c, i, j] / (k*k) on every position of window (i, j)",
    "dx[:, :, rows, cols] += dout[:, :, i, j, None, None] / (k * k)", label="forgot the 1/(k*k)")
ONLY_STRIDE = Hint(
    "fails_only_with_stride", "fails only when stride != kernel_size: check where each window starts",
    "window (i, j) starts at (i*stride, j*stride)", label="fails only with stride")


def _ties(rng, xs, dtype):
    """Small integers: many windows have several equal maxima."""
    return rng.integers(0, 3, xs).astype(dtype)


def _pool_specs(hidden, ties=False):
    def build(xs, k, stride=None, dtype=np.float64, tied=False):
        def b(rng):
            x = _ties(rng, xs, dtype) if tied else randn(rng, *xs, dtype=dtype)
            return (x, k), {"stride": stride}
        return b
    if hidden:
        rng = np.random.default_rng(78)
        sweep = []
        for i in range(5):
            k, s = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            xs = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(k, 9)), int(rng.integers(k, 9)))
            tags = {t for t, on in (("stride", s != k), ("overlap", s < k), ("batch1", xs[0] == 1),
                                    ("nonsquare", xs[2] != xs[3])) if on}
            sweep.append((f"random {i + 1}: x {xs}, kernel {k}, stride {s}", build(xs, k, s), tags))
        tied = [("ties, kernel 3, stride 2", build((2, 2, 7, 6), 3, 2, tied=True), {"ties", "overlap", "stride"})]
        return [("kernel 3, stride 1 (overlapping)", build((2, 2, 5, 6), 3, 1), {"overlap", "stride", "nonsquare"}),
                ("kernel 4, stride 2 (overlapping)", build((1, 3, 9, 9), 4, 2), {"overlap", "stride", "batch1"})] + \
            sweep + (tied if ties else [])
    tied = [("ties (equal values), kernel 2", build((2, 2, 4, 6), 2, tied=True), {"ties", "nonsquare"}),
            ("ties, kernel 3, stride 2 (overlapping)", build((2, 2, 7, 7), 3, 2, tied=True),
             {"ties", "overlap", "stride"})]
    return [("kernel 2 (stride = kernel)", build((2, 3, 4, 4), 2), ()),
            ("kernel 3, size 7 (leftover rows)", build((2, 2, 7, 7), 3), ()),
            ("kernel 2, stride 1 (overlapping)", build((2, 2, 5, 5), 2, 1), {"overlap", "stride"}),
            ("kernel 3, stride 2 (overlapping)", build((2, 2, 7, 7), 3, 2), {"overlap", "stride"}),
            ("non-square input 6x9", build((2, 2, 6, 9), 3), {"nonsquare"}),
            ("batch 1", build((1, 3, 4, 6), 2), {"batch1"}),
            ("float32", build((2, 3, 4, 4), 2, None, np.float32), {"float32"})] + (tied if ties else [])


def _pool_forward_rules(case, problem):
    if problem.output != "out" or problem.kind != "shape" or getattr(problem.got, "ndim", 0) != 4:
        return None
    x, k = case.args
    s = case.kwargs["stride"] or k
    Ho, Wo = [(n - k) // s + 1 for n in x.shape[2:]]
    got = problem.got.shape[2:]
    if case.kwargs["stride"] is None and list(got) == [n - k + 1 for n in x.shape[2:]]:
        return STRIDE_NONE
    if s > 1 and list(got) == [n - k + 1 for n in x.shape[2:]]:
        return STRIDE_IGNORED
    if any(abs(g - e) == 1 for g, e in zip(got, (Ho, Wo))):
        return OFF_BY_ONE
    return None


def _pool_stride_geometry(case):
    """Cases whose stride differs from the kernel size, and the output shapes of stepping by the kernel
    size (or by 1) instead."""
    x, k = case.args
    s = case.kwargs["stride"] or k
    shapes = [x.shape[:2] + tuple((n - k) // step + 1 for n in x.shape[2:]) for step in (k, 1) if step != s]
    return s != k, shapes


def _pool_windows(case):
    x, k = materialize(case.args)
    s = case.kwargs["stride"] or k
    Ho, Wo = [(n - k) // s + 1 for n in x.shape[2:]]
    return x, k, [(i, j, (slice(None), slice(None), slice(i * s, i * s + k), slice(j * s, j * s + k)))
                  for i in range(Ho) for j in range(Wo)]


def _max_backward_variant(case, exp, rule):
    """dx of a max-pool backward that handles ties (``"all"``: every tied maximum gets dout;
    ``"split"``: they share it) or overlaps (``"overwrite"``: ``=`` instead of ``+=``) its own way."""
    x, k, windows = _pool_windows(case)
    out, _ = F.maxpool2d_forward(x, k, case.kwargs["stride"])
    dout = dout_for(case, out)
    dx = np.zeros_like(x)
    for i, j, win in windows:
        w = x[win]
        is_max = (w == w.max(axis=(2, 3), keepdims=True)).astype(x.dtype)
        g = dout[:, :, i, j, None, None]
        if rule == "all":
            dx[win] += is_max * g
        elif rule == "split":
            dx[win] += is_max * g / is_max.sum(axis=(2, 3), keepdims=True)
        else:
            flat = w.reshape(w.shape[0], w.shape[1], -1)
            first = np.zeros_like(flat)
            np.put_along_axis(first, flat.argmax(axis=2)[:, :, None], 1, axis=2)
            dx[win] = first.reshape(w.shape) * g
    return dx


def _max_backward_alternatives(case, exp):
    alts = []
    if "ties" in case.tags:
        alts += [("dx", _max_backward_variant(case, exp, "all"), ALL_TIES),
                 ("dx", _max_backward_variant(case, exp, "split"), SPLIT_TIES)]
    if "overlap" in case.tags:
        alts.append(("dx", _max_backward_variant(case, exp, "overwrite"), OVERWRITES))
    return alts


def _avg_overwritten(case):
    x, k, windows = _pool_windows(case)
    dout = dout_for(case, F.avgpool2d_forward(x, k, case.kwargs["stride"])[0])
    dx = np.zeros_like(x)
    for i, j, win in windows:
        dx[win] = dout[:, :, i, j, None, None] / (k * k)
    return dx


OVERWRITES_GUESS = replace(OVERWRITES, fallback=True)   # wrong values on an overlapping case: a guess


def _pool_backward_rules(case, problem):
    if problem.output == "dx" and problem.kind == "values" and "overlap" in case.tags:
        return OVERWRITES_GUESS
    return None


def _pool_detectors():
    return (lambda results: stride_ignored(results, STRIDE_IGNORED, _pool_stride_geometry),)


def _pool_backward_cases(ties):
    def make(base, hidden):
        cases = with_gradcheck(numbered(base, _pool_specs(hidden, ties=ties)), base,
                               lambda rng: ((randn(rng, 1, 2, 5, 5), 3), {"stride": 2}))
        if hidden:   # finite differences: 2 * 73,728 forward passes over 529 windows each
            cases = with_big_case(cases, base, lambda rng: ((randn(rng, 2, 16, 48, 48), 3), {"stride": 2}),
                                  "big: x (2, 16, 48, 48), kernel 3, stride 2")
        return cases
    return make


register(Exercise(
    "maxpool2d_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _pool_specs(hidden)),
    forward_reference(F.maxpool2d_forward),
    rules=COMMON_RULES + (_pool_forward_rules,),
    detectors=_pool_detectors(),
    only_with={"stride": ONLY_STRIDE},
    cache=POOL_CACHE,
))

register(Exercise(
    "maxpool2d_backward", "backward", ("dx",),
    _pool_backward_cases(ties=True),
    backward_reference(F.maxpool2d_forward, F.maxpool2d_backward, ("dx",)),
    forward="maxpool2d_forward", grad_args=(0,), ref_forward=F.maxpool2d_forward,
    rules=COMMON_RULES + (_pool_backward_rules,),
    alternatives=_max_backward_alternatives,
    only_with={"stride": ONLY_STRIDE},
    cache=POOL_CACHE,
))

register(Exercise(
    "avgpool2d_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _pool_specs(hidden)),
    forward_reference(F.avgpool2d_forward),
    rules=COMMON_RULES + (_pool_forward_rules,),
    detectors=_pool_detectors(),
    only_with={"stride": ONLY_STRIDE},
    cache=POOL_CACHE,
))


def _avg_backward_alternatives(case, exp):
    k = case.args[1]
    alts = [("dx", exp["dx"] * k * k, AVG_SCALE)]
    if "overlap" in case.tags:
        alts.append(("dx", _avg_overwritten(case), OVERWRITES))
    return alts


register(Exercise(
    "avgpool2d_backward", "backward", ("dx",),
    _pool_backward_cases(ties=False),
    backward_reference(F.avgpool2d_forward, F.avgpool2d_backward, ("dx",)),
    forward="avgpool2d_forward", grad_args=(0,), ref_forward=F.avgpool2d_forward,
    rules=COMMON_RULES + (_pool_backward_rules,),
    alternatives=_avg_backward_alternatives,
    only_with={"stride": ONLY_STRIDE},
    cache=POOL_CACHE,
))


register_set(ExerciseSet(
    "ex4_pooling", ("maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",),
    allowed=(),
))
