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
WINDOW_START = Hint(
    "pool_window_start", "every window starts at (i, j): with a stride s the window of output (i, j) starts "
    "at row i*s, column j*s (s = kernel_size when stride is None)",
    "window (i, j) covers rows i*s : i*s + k and columns j*s : j*s + k",
    "x[:, :, i*s:i*s + k, j*s:j*s + k]", label="windows not moved by the stride")
REDUCE_AXES = Hint(
    "pool_reduce_axes", "pooling is per example and per channel: each window's max (or mean) is taken over its "
    "k x k positions only, not over the batch and the channels (max() or mean() without axis= takes everything)",
    "out[n, c, i, j] = max (or mean) over u, v of x[n, c, i*s + u, j*s + v]",
    "window.max(axis=(2, 3))   # the window's two spatial axes", label="reduced over the batch and channels too")
AVG_DIVISOR = Hint(
    "avgpool_divisor", "a mean divides the window's sum by the number of values in it, k*k for a k x k window",
    "out[n, c, i, j] = (1 / k^2) * sum over u, v of x[n, c, i*s + u, j*s + v]",
    "window.sum(axis=(2, 3)) / (k * k)   # or window.mean(axis=(2, 3))", label="wrong divisor for the mean")
FORGOT_DOUT = Hint(
    "maxpool_backward_forgot_dout", "the window's maximum receives the window's upstream gradient dout[n, c, i, j] "
    "(the chain rule), not 1: the local slope 1 multiplies dout",
    "dx[n, c, position of the max] += dout[n, c, i, j]", label="sent 1 instead of dout")
LAST_TIE = Hint(
    "maxpool_backward_last_tie", "when several entries of a window tie for the maximum, the first one (in "
    "row-major order) gets the gradient, as np.argmax picks it; yours goes to the last (a comparison with >= "
    "keeps replacing the best)", "the position of np.argmax of the flattened window gets dout[n, c, i, j]",
    "u, v = np.unravel_index(np.argmax(window), window.shape)   # the first maximum",
    label="sent the gradient to the last tied maximum")
POOL_BROADCAST = Hint(
    "pool_backward_broadcast", "dout[:, :, i, j] has shape (N, C); to spread it over the window's k x k "
    "positions it needs two more axes at the end, or NumPy lines (N, C) up with the window's last two axes "
    "(an error, or wrong values when the sizes happen to fit)",
    "the window's slice of dx has shape (N, C, k, k); dout[:, :, i, j] must become (N, C, 1, 1)",
    "dout[:, :, i, j][:, :, None, None]", label="did not add the window axes to dout")
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


def _step1_windows(case):
    """The windows of a loop that ignores the stride: (i, j) starts at (i, j), for the right Ho x Wo."""
    x, k, windows = _pool_windows(case)
    return x, k, [(i, j, (slice(None), slice(None), slice(i, i + k), slice(j, j + k))) for i, j, _ in windows]


def _max_backward_variant(case, exp, rule, step1=False, scale=None):
    """dx of a max-pool backward that handles ties (``"all"``: every tied maximum gets dout;
    ``"split"``: they share it; ``"last"``: the last one gets it; ``"first"``: right) or overlaps
    (``"overwrite"``: ``=`` instead of ``+=``) its own way; ``step1``: windows not moved by the stride;
    ``scale``: what the maximum gets instead of dout (1: forgot dout)."""
    x, k, windows = _step1_windows(case) if step1 else _pool_windows(case)
    out, _ = F.maxpool2d_forward(x, k, case.kwargs["stride"])
    dout = dout_for(case, out) if scale is None else np.full(out.shape, scale, dtype=x.dtype)
    dx = np.zeros_like(x)
    for i, j, win in windows:
        w = x[win]
        is_max = (w == w.max(axis=(2, 3), keepdims=True)).astype(x.dtype)
        g = dout[:, :, i, j, None, None]
        if rule == "all":
            dx[win] += is_max * g
        elif rule == "split":
            dx[win] += is_max * g / is_max.sum(axis=(2, 3), keepdims=True)
        elif rule in ("first", "last"):
            flat = w.reshape(w.shape[0], w.shape[1], -1)
            pick = flat.argmax(axis=2) if rule == "first" else flat.shape[2] - 1 - flat[:, :, ::-1].argmax(axis=2)
            one = np.zeros_like(flat)
            np.put_along_axis(one, pick[:, :, None], 1, axis=2)
            dx[win] += one.reshape(w.shape) * g
        else:
            flat = w.reshape(w.shape[0], w.shape[1], -1)
            first = np.zeros_like(flat)
            np.put_along_axis(first, flat.argmax(axis=2)[:, :, None], 1, axis=2)
            dx[win] = first.reshape(w.shape) * g
    return dx


def _max_backward_alternatives(case, exp):
    alts = [("dx", _max_backward_variant(case, exp, "first", scale=1), FORGOT_DOUT)]
    if "ties" in case.tags:
        alts += [("dx", _max_backward_variant(case, exp, "all"), ALL_TIES),
                 ("dx", _max_backward_variant(case, exp, "split"), SPLIT_TIES),
                 ("dx", _max_backward_variant(case, exp, "last"), LAST_TIE)]
    if "overlap" in case.tags:
        alts.append(("dx", _max_backward_variant(case, exp, "overwrite"), OVERWRITES))
    if _stride(case) != 1:
        alts.append(("dx", _max_backward_variant(case, exp, "first", step1=True), WINDOW_START))
    return alts


def _stride(case):
    return case.kwargs["stride"] or case.args[1]


def _pool_forward_alternatives(reduce, ref_forward):
    def alternatives(case, exp):
        x, k = case.args
        out = exp["out"]
        Ho, Wo = out.shape[2:]
        whole = getattr(out, reduce)(axis=(0, 1), keepdims=True) if reduce == "max" else None
        if reduce == "mean":          # the mean over the batch and channels of each window
            whole = out.mean(axis=(0, 1), keepdims=True)
        alts = [("out", np.broadcast_to(whole, out.shape), REDUCE_AXES)]
        if _stride(case) != 1:
            alts.append(("out", ref_forward(x, k, 1)[0][:, :, :Ho, :Wo], WINDOW_START))
        if reduce == "mean":
            alts += [("out", out * (k * k), AVG_DIVISOR), ("out", out * k, AVG_DIVISOR)]
        return alts
    return alternatives


def _avg_backward_variant(case, overwrite=False, step1=False, unspread=False):
    """dx of an average-pool backward loop: ``overwrite`` (``=`` instead of ``+=``), ``step1`` (windows not
    moved by the stride), ``unspread`` (dout[:, :, i, j] of shape (N, C) lined up with the window's last two
    axes; None when NumPy refuses)."""
    x, k, windows = _step1_windows(case) if step1 else _pool_windows(case)
    dout = dout_for(case, F.avgpool2d_forward(x, k, case.kwargs["stride"])[0])
    dx = np.zeros_like(x)
    for i, j, win in windows:
        g = dout[:, :, i, j] if unspread else dout[:, :, i, j, None, None]
        try:
            if overwrite:
                dx[win] = g / (k * k)
            else:
                dx[win] += g / (k * k)
        except ValueError:
            return None
    return dx


def _avg_overwritten(case):
    return _avg_backward_variant(case, overwrite=True)


OVERWRITES_GUESS = replace(OVERWRITES, fallback=True)   # fails only on the overlapping cases: a guess


def _pool_backward_rules(case, problem):
    if problem.kind == "exception" and problem.facts is not None and "broadcast" in problem.facts.message:
        N, C = case.args[0].shape[:2]
        if (N, C) in list(problem.facts.shapes().values()) + problem.facts.message_shapes():
            return POOL_BROADCAST
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
    alternatives=_pool_forward_alternatives("max", F.maxpool2d_forward),
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
    only_with={"stride": ONLY_STRIDE, "overlap": OVERWRITES_GUESS},
    cache=POOL_CACHE,
))

register(Exercise(
    "avgpool2d_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _pool_specs(hidden)),
    forward_reference(F.avgpool2d_forward),
    rules=COMMON_RULES + (_pool_forward_rules,),
    alternatives=_pool_forward_alternatives("mean", F.avgpool2d_forward),
    detectors=_pool_detectors(),
    only_with={"stride": ONLY_STRIDE},
    cache=POOL_CACHE,
))


def _avg_backward_alternatives(case, exp):
    k = case.args[1]
    alts = [("dx", exp["dx"] * k * k, AVG_SCALE), ("dx", exp["dx"] * k, AVG_SCALE),
            ("dx", _avg_backward_variant(case, unspread=True), POOL_BROADCAST)]
    if "overlap" in case.tags:
        alts.append(("dx", _avg_overwritten(case), OVERWRITES))
    if _stride(case) != 1:
        alts.append(("dx", _avg_backward_variant(case, step1=True), WINDOW_START))
    return [a for a in alts if a[1] is not None]


register(Exercise(
    "avgpool2d_backward", "backward", ("dx",),
    _pool_backward_cases(ties=False),
    backward_reference(F.avgpool2d_forward, F.avgpool2d_backward, ("dx",)),
    forward="avgpool2d_forward", grad_args=(0,), ref_forward=F.avgpool2d_forward,
    rules=COMMON_RULES + (_pool_backward_rules,),
    alternatives=_avg_backward_alternatives,
    only_with={"stride": ONLY_STRIDE, "overlap": OVERWRITES_GUESS},
    cache=POOL_CACHE,
))


register_set(ExerciseSet(
    "ex4_pooling", ("maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",),
    allowed=(),
))
