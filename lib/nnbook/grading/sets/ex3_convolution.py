"""Exercise set ex3_convolution (``exercises/ex3_convolution.ipynb``): convolution.

Cases, references, hint rules and what answers may not use. See :mod:`nnbook.grading.exercise`.
"""
import numpy as np

from ... import functional as F
from ..cases import randn
from ..exercise import (Exercise, ExerciseSet, COMMON_RULES, backward_reference, forward_reference,
                        numbered, register, register_set, with_gradcheck)


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


def _conv_forward_rules(case, problem):
    if problem.output != "out" or problem.kind != "shape" or getattr(problem.got, "ndim", 0) != 4:
        return None
    (Ho, Wo), s, p = _conv_size(case)
    got = problem.got.shape[2:]
    x, W = case.args[0], case.args[1]
    no_stride = [n + 2 * p - k + 1 for n, k in zip(x.shape[2:], W.shape[2:])]
    if s > 1 and list(got) == no_stride:
        return (f"stride ignored? with stride {s} the window moves {s} pixels at a time: "
                f"Ho = (H + 2*padding - kh) // stride + 1 = {Ho}")
    if any(abs(g - e) == 1 for g, e in zip(got, (Ho, Wo))):
        return (f"output size off by one: Ho = (H + 2*padding - kh) // stride + 1 = {Ho}, "
                f"Wo = (W + 2*padding - kw) // stride + 1 = {Wo}")
    no_pad = [(n - k) // s + 1 for n, k in zip(x.shape[2:], W.shape[2:])]
    if p > 0 and list(got) == no_pad:
        return f"padding ignored? pad x with {p} zero{'s' if p > 1 else ''} on each side first (np.pad) and use the padded size"
    return None


def _conv_forward_alternatives(case, exp):
    x, W, b = case.args
    s, p = case.kwargs["stride"], case.kwargs["padding"]
    alts = [("out", exp["out"] - b[:, None, None], "the bias b[f] is missing: add it to every output pixel"),
            ("out", F.conv2d_forward(x, W[:, :, ::-1, ::-1].copy(), b, s, p)[0],
             "you flipped the kernel: nnbook (like PyTorch) computes cross-correlation, W is used as is")]
    return alts


register(Exercise(
    "conv2d_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _conv_specs(hidden)),
    forward_reference(F.conv2d_forward),
    rules=COMMON_RULES + (_conv_forward_rules,),
    alternatives=_conv_forward_alternatives,
    only_with={"stride": "fails only with stride > 1: window (i, j) starts at input row i*stride, column j*stride",
               "padding": "fails only with padding: pad x with zeros on both sides before sliding the window"},
))


def _conv_backward_rules(case, problem):
    x, W = case.args[0], case.args[1]
    p = case.kwargs["padding"]
    if problem.output == "db":
        return ("bias gradient: b[f] is added at every position of every example, so sum dout over the batch "
                "and the spatial axes: db = dout.sum(axis=(0, 2, 3))")
    if problem.output == "dx" and problem.kind == "shape" and getattr(problem.got, "ndim", 0) == 4:
        N, C, H, Wd = x.shape
        if problem.got.shape == (N, C, H + 2 * p, Wd + 2 * p):
            return (f"padding forgotten in backward: dx must have x's shape; accumulate into the padded "
                    f"dx_pad and crop it: dx = dx_pad[:, :, {p}:{p}+H, {p}:{p}+W]")
    if problem.output == "dW" and problem.kind == "shape":
        return "dW has W's shape (F, C, kh, kw)"
    return None


register(Exercise(
    "conv2d_backward", "backward", ("dx", "dW", "db"),
    lambda base, hidden: with_gradcheck(
        numbered(base, _conv_specs(hidden)), base,
        lambda rng: ((randn(rng, 1, 2, 5, 5), randn(rng, 3, 2, 3, 3), randn(rng, 3)), {"stride": 2, "padding": 1})),
    backward_reference(F.conv2d_forward, F.conv2d_backward, ("dx", "dW", "db")),
    forward="conv2d_forward", grad_args=(0, 1, 2), ref_forward=F.conv2d_forward,
    rules=COMMON_RULES + (_conv_backward_rules,),
    only_with={"stride": "fails only with stride > 1: output pixel (i, j) saw the input window starting at "
                         "(i*stride, j*stride); send its gradient back there",
               "padding": "padding forgotten in backward? fails only with padding: work on the padded input "
                          "(dx_pad of the padded shape) and crop the padding off at the end"},
))


register_set(ExerciseSet(
    "ex3_convolution", ("conv2d_forward", "conv2d_backward",),
    not_available=("nnbook.functional.conv2d_forward", "nnbook.functional.conv2d_backward",
                   "nnbook.naive.conv2d_forward", "nnbook.naive.conv2d_backward", "nnbook.layers.Conv2d"),
))
