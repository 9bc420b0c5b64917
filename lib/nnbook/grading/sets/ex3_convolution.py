"""Exercise set ex3_convolution (``exercises/ex3_convolution.ipynb``): convolution.

Cases, references, hint rules and what answers may not use. See :mod:`nnbook.grading.judge.exercise`.
"""
import numpy as np

from ... import functional as F
from ..judge.cases import materialize, randn
from ..judge.exercise import (CacheContract, Exercise, ExerciseSet, COMMON_RULES, Hint, backward_reference,
                               dout_for, forward_reference, numbered, register, register_set, with_big_case,
                               with_gradcheck)
from ..judge.mistakes import stride_ignored

# what the forward's cache holds (stated in the exercise): the backward is judged on this
CONV_CACHE = CacheContract(("x", "W", "b", "stride", "padding"),
                           lambda x, W, b, stride=1, padding=0: (x, W, b, stride, padding))

SIZE = "Ho = (H + 2*padding - kh) // stride + 1 and Wo = (W + 2*padding - kw) // stride + 1"
STRIDE_IGNORED = Hint(
    "stride_ignored", "stride ignored? the window moves `stride` pixels at a time, so a stride > 1 gives "
    "a smaller output", f"window (i, j) starts at row i*stride, column j*stride of the padded input; {SIZE}",
    "xpad[:, :, i*stride:i*stride + kh, j*stride:j*stride + kw]", label="ignored the stride")
OFF_BY_ONE = Hint(
    "output_size_off_by_one", "output size off by one: count the positions the window can take",
    SIZE, "Ho = (H + 2 * padding - kh) // stride + 1", label="output size off by one", fallback=True)
PADDING_IGNORED = Hint(
    "padding_ignored", "padding ignored? the input gets `padding` zeros on each side before the window slides",
    f"xpad has shape (N, C, H + 2*padding, W + 2*padding); {SIZE}",
    "xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))", label="ignored the padding")
BIAS_MISSING = Hint(
    "conv_bias_missing", "the bias is missing: filter f adds b[f] to every one of its output pixels",
    "out[n, f, i, j] = b[f] + sum over c, u, v of W[f, c, u, v] * xpad[n, c, i*stride + u, j*stride + v]",
    "out[:, :, i, j] = np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b", label="forgot the bias")
KERNEL_FLIPPED = Hint(
    "conv_kernel_flipped", "you flipped the kernel: nnbook, like PyTorch, computes a cross-correlation "
    "and uses W as it is", "out[n, f, i, j] = b[f] + sum of W[f, c, u, v] * xpad[n, c, i*stride + u, j*stride + v]"
    " (u, v count forward, not backward)", label="flipped the kernel")
WINDOW_START = Hint(
    "conv_window_start", "every window starts at (i, j), but with a stride the window of output (i, j) starts "
    "`stride` pixels further for each step: at row i*stride, column j*stride",
    "out[n, f, i, j] = b[f] + sum over c, u, v of W[f, c, u, v] * xpad[n, c, i*stride + u, j*stride + v]",
    "xpad[:, :, i*stride:i*stride + kh, j*stride:j*stride + kw]", label="windows not moved by the stride")
SUMMED_OVER_BATCH = Hint(
    "conv_summed_over_batch", "every example of the batch has its own output: the sum runs over the channels "
    "and the kernel's positions only, not over the examples (np.sum without axis= adds up everything)",
    "out[n, f, i, j] = b[f] + sum over c, u, v (not over n) of W[f, c, u, v] * xpad[n, c, i*stride + u, j*stride + v]",
    "np.sum(window * W[f], axis=(1, 2, 3))   # one number per example", label="summed over the batch")
ONLY_STRIDE = Hint(
    "fails_only_with_stride", "fails only with stride > 1: check where each window starts",
    "window (i, j) starts at input row i*stride, column j*stride", label="fails only with stride")
ONLY_PADDING = Hint(
    "fails_only_with_padding", "fails only with padding: the window slides over the zero-padded input",
    "pad x with `padding` zeros on both sides of both spatial axes first", label="fails only with padding")


def _conv_specs(hidden):
    def build(xs, ws, stride=1, padding=0, dtype=np.float64):
        def b(rng):
            return (randn(rng, *xs, dtype=dtype), randn(rng, *ws, dtype=dtype),
                    randn(rng, ws[0], dtype=dtype)), {"stride": stride, "padding": padding}
        return b
    if hidden:
        return [("stride 3, padding 2", build((2, 2, 8, 7), (3, 2, 3, 3), 3, 2), {"stride", "padding", "nonsquare"}),
                ("5x5 kernel, padding 2", build((1, 1, 6, 6), (2, 1, 5, 5), 1, 2), {"padding", "batch1"}),
                ("stride 2, 2x2 kernel", build((3, 2, 6, 6), (2, 2, 2, 2), 2, 0), {"stride"})] + \
            [(name, build(xs, ws, st, pad), tags) for name, xs, ws, st, pad, tags in _random_conv_configs(6)]
    return [("3x3, stride 1, padding 0", build((2, 3, 6, 6), (4, 3, 3, 3)), ()),
            ("padding 1", build((2, 3, 5, 5), (2, 3, 3, 3), 1, 1), {"padding"}),
            ("stride 2", build((2, 2, 7, 7), (3, 2, 3, 3), 2, 0), {"stride"}),
            ("stride 2, padding 1", build((2, 3, 6, 6), (2, 3, 3, 3), 2, 1), {"stride", "padding"}),
            ("non-square input and kernel", build((2, 2, 5, 8), (3, 2, 2, 3), 1, 0), {"nonsquare"}),
            ("batch 1", build((1, 2, 5, 5), (3, 2, 3, 3), 1, 1), {"batch1", "padding"}),
            ("float32", build((2, 3, 6, 6), (2, 3, 3, 3), 1, 1, np.float32), {"float32", "padding"})]


def _random_conv_configs(n, seed=77):
    """n random convolution geometries: ``(name, x shape, W shape, stride, padding, tags)``."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < n:
        N, C, F_ = (int(v) for v in rng.integers(1, 4, 3))
        kh, kw = (int(v) for v in rng.integers(1, 4, 2))
        stride, padding = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        H, W = (int(v) for v in rng.integers(3, 9, 2))
        if H + 2 * padding < kh or W + 2 * padding < kw:
            continue
        tags = {t for t, on in (("stride", stride > 1), ("padding", padding > 0), ("batch1", N == 1),
                                ("nonsquare", H != W or kh != kw)) if on}
        configs.append((f"random {len(configs) + 1}: x {(N, C, H, W)}, W {(F_, C, kh, kw)}, "
                        f"stride {stride}, padding {padding}", (N, C, H, W), (F_, C, kh, kw), stride, padding, tags))
    return configs


def _conv_size(case):
    x, W = case.args[0], case.args[1]
    s, p = case.kwargs["stride"], case.kwargs["padding"]
    return [(n + 2 * p - k) // s + 1 for n, k in zip(x.shape[2:], W.shape[2:])], s, p


def _window_ran_off(case, problem):
    """An exception on a line with a window smaller than the kernel: it ran off the unpadded input."""
    x, W = case.args[0], case.args[1]
    kh, kw = W.shape[2:]
    return problem.kind == "exception" and problem.facts is not None and any(
        len(shape) == 4 and shape[:2] == x.shape[:2] and (shape[2] < kh or shape[3] < kw)
        for shape in problem.facts.shapes().values())


def _conv_forward_rules(case, problem):
    if case.kwargs["padding"] > 0 and _window_ran_off(case, problem):
        return PADDING_IGNORED
    if problem.output != "out" or problem.kind != "shape" or getattr(problem.got, "ndim", 0) != 4:
        return None
    (Ho, Wo), s, p = _conv_size(case)
    if any(abs(g - e) == 1 for g, e in zip(problem.got.shape[2:], (Ho, Wo))):
        return OFF_BY_ONE
    return None


def _conv_stride_geometry(case):
    x, W = case.args[0], case.args[1]
    s, p = case.kwargs["stride"], case.kwargs["padding"]
    N, F_ = x.shape[0], W.shape[0]
    return s > 1, [(N, F_) + tuple(n + 2 * p - k + 1 for n, k in zip(x.shape[2:], W.shape[2:]))]


def _conv_padding_geometry(case):
    x, W = case.args[0], case.args[1]
    s, p = case.kwargs["stride"], case.kwargs["padding"]
    N, F_ = x.shape[0], W.shape[0]
    return p > 0, [(N, F_) + tuple((n - k) // s + 1 for n, k in zip(x.shape[2:], W.shape[2:]))]


def _conv_forward_alternatives(case, exp):
    x, W, b = case.args
    s, p = case.kwargs["stride"], case.kwargs["padding"]
    Ho, Wo = exp["out"].shape[2:]
    alts = [("out", exp["out"] - b[:, None, None], BIAS_MISSING),
            ("out", F.conv2d_forward(x, W[:, :, ::-1, ::-1].copy(), b, s, p)[0], KERNEL_FLIPPED),
            ("out", np.broadcast_to((exp["out"] - b[:, None, None]).sum(axis=0) + b[:, None, None],
                                    exp["out"].shape), SUMMED_OVER_BATCH)]
    if s > 1:
        alts.append(("out", F.conv2d_forward(x, W, b, 1, p)[0][:, :, :Ho, :Wo], WINDOW_START))
    return alts


register(Exercise(
    "conv2d_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _conv_specs(hidden)),
    forward_reference(F.conv2d_forward),
    rules=COMMON_RULES + (_conv_forward_rules,),
    alternatives=_conv_forward_alternatives,
    detectors=(lambda results: stride_ignored(results, STRIDE_IGNORED, _conv_stride_geometry),
               lambda results: stride_ignored(results, PADDING_IGNORED, _conv_padding_geometry)),
    only_with={"stride": ONLY_STRIDE, "padding": ONLY_PADDING},
    cache=CONV_CACHE,
))


OVERWRITES = Hint(
    "conv_backward_overwrites", "overlapping windows must add up their contributions: where windows overlap, "
    "an input pixel gets gradient from each window that covered it, and `=` keeps only the last one",
    "dxpad[n, c, i*stride + u, j*stride + v] += W[f, c, u, v] * dout[n, f, i, j], summed over every f, i, j "
    "whose window covers the pixel",
    "dxpad[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], W, axes=([1], [0]))   # +=, not =",
    label="overwrote instead of accumulating")
DB_NOT_SUMMED = Hint(
    "conv_db_not_summed", "b[f] is added at every position of every example, so its gradient collects "
    "dout from all of them: db has shape (F,)",
    "db[f] = sum over n, i, j of dout[n, f, i, j]", "db = dout.sum(axis=(0, 2, 3))",
    label="db not summed over batch and positions")
DB_MEAN = Hint(
    "conv_db_mean", "db is a sum, not a mean: every position of every example adds its own gradient",
    "db[f] = sum over n, i, j of dout[n, f, i, j] (no division)", "db = dout.sum(axis=(0, 2, 3))",
    label="db as a mean instead of a sum")
NOT_CROPPED = Hint(
    "conv_backward_padding_not_cropped", "padding forgotten in backward: dx must have x's shape, "
    "not the padded input's", "work on dxpad (the padded shape), then drop `padding` rows and columns on each side",
    "dx = dxpad[:, :, padding:padding + H, padding:padding + W]", label="did not crop the padding off dx")
DW_SHAPE = Hint("conv_dW_shape", "dW has W's shape (F, C, kh, kw): a gradient has the shape of its parameter",
                "dW[f, c, u, v] = sum over n, i, j of dout[n, f, i, j] * xpad[n, c, i*stride + u, j*stride + v]",
                label="dW of the wrong shape", fallback=True)
FLIPPED_BACK = Hint(
    "conv_backward_flipped_kernel", "the kernel is flipped on the way back: this loop sends each output's "
    "gradient back to the very window that produced it, weighted by W as it is; the flipped kernel belongs to "
    "another way of writing the same thing (dx as a full convolution of dout), not to this one",
    "dxpad[n, c, i*stride + u, j*stride + v] += W[f, c, u, v] * dout[n, f, i, j] (the same u, v on both sides)",
    "dxpad[:, :, rows, cols] += g * W[f]   # W as it is", label="flipped the kernel in backward")
DW_NOT_ACCUMULATED = Hint(
    "conv_dW_not_accumulated", "every output position uses the whole kernel, so dW collects a contribution from "
    "every window: `=` keeps only the last one",
    "dW[f, c, u, v] = sum over n, i, j of dout[n, f, i, j] * xpad[n, c, i*stride + u, j*stride + v]",
    "dW[f] += ...   # +=, not =", label="dW not accumulated over the windows")
BACK_WINDOW_START = Hint(
    "conv_backward_stride", "the windows do not move by the stride: output (i, j) was computed from the window "
    "starting at row i*stride, column j*stride, and its gradient goes back to that window",
    "rows i*stride : i*stride + kh and columns j*stride : j*stride + kw of dxpad (and of xpad, for dW)",
    "rows = slice(i * stride, i * stride + kh)", label="windows not moved by the stride (backward)")
BACK_ONLY_STRIDE = Hint(
    "fails_only_with_stride", "fails only with stride > 1: output pixel (i, j) saw the input window starting "
    "at (i*stride, j*stride); its gradient goes back there", "rows i*stride : i*stride + kh, columns "
    "j*stride : j*stride + kw of dxpad", label="fails only with stride")
BACK_ONLY_PADDING = Hint(
    "fails_only_with_padding", "padding forgotten in backward? fails only with padding: work on the padded "
    "input and crop the padding off at the end", "dxpad has the padded shape; dx = the middle H x W of it",
    label="fails only with padding")


def _conv_backward_rules(case, problem):
    x, W = case.args[0], case.args[1]
    p = case.kwargs["padding"]
    if problem.output == "db" and problem.kind == "shape":
        return DB_NOT_SUMMED
    if problem.output == "dx" and problem.kind == "shape" and getattr(problem.got, "ndim", 0) == 4:
        N, C, H, Wd = x.shape
        if problem.got.shape == (N, C, H + 2 * p, Wd + 2 * p):
            return NOT_CROPPED
    if problem.output == "dW" and problem.kind == "shape":
        return DW_SHAPE
    return None


def _overwritten_dx(case, per_filter):
    """dx of a loop that assigns (``=``) each window's gradient instead of adding it; ``per_filter``:
    one assignment per filter as well (the last filter wins)."""
    x, W, b = materialize(case.args)
    s, p = case.kwargs["stride"], case.kwargs["padding"]
    dout = dout_for(case, F.conv2d_forward(x, W, b, s, p)[0])
    kh, kw = W.shape[2:]
    xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxpad = np.zeros_like(xpad)
    for f in range(W.shape[0]) if per_filter else [None]:
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                win = (slice(None), slice(None), slice(i * s, i * s + kh), slice(j * s, j * s + kw))
                if per_filter:
                    dxpad[win] = dout[:, f, i, j, None, None, None] * W[f]
                else:
                    dxpad[win] = np.tensordot(dout[:, :, i, j], W, axes=([1], [0]))
    return dxpad[:, :, p:p + x.shape[2], p:p + x.shape[3]]


def _loop_backward(case, step=None, flip=False, dW_last=False):
    """dx and dW of the loop over output positions, with one of its classic slips: ``step`` (windows moved
    by this instead of the stride), ``flip`` (the kernel flipped on the way back), ``dW_last`` (dW assigned,
    not accumulated: the last window wins)."""
    x, W, b = materialize(case.args)
    s, p = case.kwargs["stride"], case.kwargs["padding"]
    dout = dout_for(case, F.conv2d_forward(x, W, b, s, p)[0])
    step = s if step is None else step
    kh, kw = W.shape[2:]
    Wb = W[:, :, ::-1, ::-1] if flip else W
    xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxpad, dW = np.zeros_like(xpad), np.zeros_like(W)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = (slice(None), slice(None), slice(i * step, i * step + kh), slice(j * step, j * step + kw))
            part = np.tensordot(dout[:, :, i, j], xpad[win], axes=([0], [0]))
            dW = part if dW_last else dW + part
            dxpad[win] += np.tensordot(dout[:, :, i, j], Wb, axes=([1], [0]))
    return dxpad[:, :, p:p + x.shape[2], p:p + x.shape[3]], dW


def _conv_backward_alternatives(case, exp):
    N = case.args[0].shape[0]
    x, W = case.args[0], case.args[1]
    s, p = case.kwargs["stride"], case.kwargs["padding"]
    Ho, Wo = [(n + 2 * p - k) // s + 1 for n, k in zip(x.shape[2:], W.shape[2:])]
    alts = [("dx", _overwritten_dx(case, False), OVERWRITES), ("dx", _overwritten_dx(case, True), OVERWRITES),
            ("db", exp["db"] / N, DB_MEAN), ("db", exp["db"] / (N * Ho * Wo), DB_MEAN),
            ("dx", _loop_backward(case, flip=True)[0], FLIPPED_BACK),
            ("dW", _loop_backward(case, dW_last=True)[1], DW_NOT_ACCUMULATED)]
    if s > 1:
        dx, dW = _loop_backward(case, step=1)
        alts += [("dx", dx, BACK_WINDOW_START), ("dW", dW, BACK_WINDOW_START)]
    return alts


def _conv_backward_cases(base, hidden):
    cases = with_gradcheck(
        numbered(base, _conv_specs(hidden)), base,
        lambda rng: ((randn(rng, 1, 2, 5, 5), randn(rng, 3, 2, 3, 3), randn(rng, 3)), {"stride": 2, "padding": 1}))
    if hidden:   # finite differences: 2 * 16,968 forward passes over 1,024 window positions each
        cases = with_big_case(cases, base, lambda rng: ((randn(rng, 2, 8, 32, 32), randn(rng, 8, 8, 3, 3),
                                                         randn(rng, 8)), {"stride": 1, "padding": 1}),
                              "big: x (2, 8, 32, 32), W (8, 8, 3, 3), padding 1")
    return cases


register(Exercise(
    "conv2d_backward", "backward", ("dx", "dW", "db"),
    _conv_backward_cases,
    backward_reference(F.conv2d_forward, F.conv2d_backward, ("dx", "dW", "db")),
    forward="conv2d_forward", grad_args=(0, 1, 2), ref_forward=F.conv2d_forward,
    rules=COMMON_RULES + (_conv_backward_rules,),
    alternatives=_conv_backward_alternatives,
    only_with={"stride": BACK_ONLY_STRIDE, "padding": BACK_ONLY_PADDING},
    cache=CONV_CACHE,
))


register_set(ExerciseSet(
    "ex3_convolution", ("conv2d_forward", "conv2d_backward",),
    allowed=("nnbook.data.load_photo", "nnbook.plotting.show_images"),     # the edge-detection demo
))
