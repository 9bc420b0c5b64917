"""Exercise set ex7_residual (``exercises/ex7_residual.ipynb``): shortcuts and the residual block.

Cases, references, hint rules and what answers may not use. See :mod:`nnbook.grading.judge.exercise`.
"""
import numpy as np

from ... import functional as F
from ...layers import ResidualBlock
from ...layers import needs_projection as ref_needs_projection
from ..judge.cases import Case, randn
from ..judge.exercise import (CacheContract, Exercise, ExerciseSet, COMMON_RULES, Hint, backward_reference,
                               forward_reference, numbered, register, register_set, with_big_case, with_gradcheck)

# what the forward's cache holds (stated in the exercise): the backward is judged on this
SHORTCUT_CACHE = CacheContract(("x", "y", "alpha", "beta"),
                               lambda x, y, alpha=1.0, beta=1.0: (x, y, alpha, beta))

SWAPPED_WEIGHTS = Hint(
    "shortcut_weights_swapped", "alpha weighs x and beta weighs y, not the other way round",
    "out = alpha * x + beta * y on the combined positions", label="swapped alpha and beta")
F_RESIZE = Hint(
    "shortcut_resize", "fails only when the sizes differ: the two tensors are combined on a strided grid, "
    "and x keeps its value everywhere else", "stride = ratio of the two sizes along each axis (the larger "
    "over the smaller); min(n_x, n_y) positions are combined", label="sizes that differ")
F_CHANNELS = Hint(
    "shortcut_channels", "fails only when the channel counts differ: only the first min(C_x, C_y) channels "
    "are combined, the others of x stay as they are", label="channel counts that differ")
F_WEIGHTS = Hint(
    "shortcut_alpha_beta", "fails only with alpha or beta != 1: each input is weighted",
    "out = alpha * x + beta * y on the combined positions", label="alpha/beta weighting")
B_RESIZE = Hint(
    "shortcut_backward_resize", "fails only when the sizes differ: gradient flows back only through the "
    "grid positions that were combined", "dy is zero except on its grid positions; dx is scaled by alpha "
    "only on x's grid positions", label="sizes that differ (backward)")
B_CHANNELS = Hint(
    "shortcut_backward_channels", "fails only when the channel counts differ: only the first "
    "min(C_x, C_y) channels were combined, so only they get alpha / beta", label="channel counts (backward)")
B_WEIGHTS = Hint(
    "shortcut_backward_alpha_beta", "fails only with alpha or beta != 1: each input's gradient is dout times "
    "its weight", "dx = alpha * dout and dy = beta * dout on the combined positions",
    label="alpha/beta in backward")
PROJ_STRIDE = Hint(
    "projection_stride", "a 1x1 convolution with stride s keeps every s-th row and column, starting at 0 "
    "(a 7-pixel side with stride 2 gives 4)", "out[n, f, i, j] = sum over c of W[f, c, 0, 0] * h[n, c, i*s, j*s]",
    "h[:, :, ::stride, ::stride]", label="projection output size")
NEEDS = Hint(
    "needs_projection_rule", "a projection is needed exactly when the shortcut x would not match the block's "
    "output", "a different number of channels, or stride != 1 (a smaller output)", label="wrong projection rule")
PROJ_RAW = Hint(
    "projection_on_raw_input", "the projection shortcut was applied to the raw input x; in a pre-activation "
    "block it takes the pre-activated input", "shortcut = projection_shortcut(h, W_proj, stride) with "
    "h = relu(bn1(x)), the same h that enters conv1", label="projected the raw instead of the pre-activated input")
BLOCK_PROJ = Hint(
    "block_projection_case", "fails only when a projection is needed: check the shortcut branch",
    "shortcut = projection_shortcut(h, params['projection.W'], stride) with h = relu(bn1(x))",
    label="projection branch")


def _shortcut_specs(hidden):
    def build(xs, ys, alpha=1.0, beta=1.0, dtype=np.float64):
        return lambda rng: ((randn(rng, *xs, dtype=dtype), randn(rng, *ys, dtype=dtype)),
                            {"alpha": alpha, "beta": beta})
    if hidden:
        return [("y smaller, 3x (9x9 vs 3x3)", build((2, 2, 9, 9), (2, 2, 3, 3), 0.3, 1.7), {"resize"}),
                ("y larger and fewer channels", build((1, 4, 2, 2), (1, 2, 6, 6), 1.0, 0.5), {"resize", "channels"})]
    return [("same shape", build((2, 3, 4, 4), (2, 3, 4, 4)), ()),
            ("same shape, alpha=0.5, beta=2", build((2, 3, 4, 4), (2, 3, 4, 4), 0.5, 2.0), {"weights"}),
            ("y smaller (8x8 vs 4x4)", build((2, 3, 8, 8), (2, 3, 4, 4), 1.0, 1.0), {"resize"}),
            ("y larger (4x4 vs 8x8), alpha=2", build((2, 3, 4, 4), (2, 3, 8, 8), 2.0, 0.5),
             {"resize", "weights"}),
            ("x has more channels", build((2, 5, 4, 4), (2, 3, 4, 4)), {"channels"}),
            ("y has more channels", build((2, 2, 4, 4), (2, 4, 4, 4), 1.0, 0.5), {"channels", "weights"}),
            ("batch 1", build((1, 3, 4, 4), (1, 3, 4, 4), 0.7, 0.3), {"batch1", "weights"}),
            ("float32", build((2, 3, 4, 4), (2, 3, 4, 4), dtype=np.float32), {"float32"})]


def _shortcut_alternatives(case, exp):
    x, y = case.args
    a, b = case.kwargs["alpha"], case.kwargs["beta"]
    if x.shape == y.shape and a != b:
        return [("out", b * x + a * y, SWAPPED_WEIGHTS)]
    return []


register(Exercise(
    "shortcut_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _shortcut_specs(hidden)),
    forward_reference(F.shortcut_forward),
    rules=COMMON_RULES,
    alternatives=_shortcut_alternatives,
    only_with={"resize": F_RESIZE, "channels": F_CHANNELS, "weights": F_WEIGHTS},
    cache=SHORTCUT_CACHE,
))


def _shortcut_backward_cases(base, hidden):
    cases = with_gradcheck(
        numbered(base, _shortcut_specs(hidden)), base,
        lambda rng: ((randn(rng, 1, 3, 6, 6), randn(rng, 1, 2, 3, 3)), {"alpha": 0.5, "beta": 1.5}))
    if hidden:   # finite differences: 2 * 311,296 forward passes over 262,144 values each
        cases = with_big_case(cases, base, lambda rng: ((randn(rng, 8, 32, 32, 32), randn(rng, 8, 24, 16, 16)),
                                                        {"alpha": 0.5, "beta": 2.0}),
                              "big: x (8, 32, 32, 32), y (8, 24, 16, 16), alpha=0.5, beta=2")
    return cases


register(Exercise(
    "shortcut_backward", "backward", ("dx", "dy"),
    _shortcut_backward_cases,
    backward_reference(F.shortcut_forward, F.shortcut_backward, ("dx", "dy")),
    forward="shortcut_forward", grad_args=(0, 1), ref_forward=F.shortcut_forward,
    rules=COMMON_RULES,
    only_with={"resize": B_RESIZE, "channels": B_CHANNELS, "weights": B_WEIGHTS},
    cache=SHORTCUT_CACHE,
))


def _projection_specs(hidden):
    def build(xs, F_, stride, dtype=np.float64):
        return lambda rng: ((randn(rng, *xs, dtype=dtype), randn(rng, F_, xs[1], 1, 1, dtype=dtype), stride), {})
    if hidden:
        return [("stride 3, 3 -> 2 channels", build((2, 3, 7, 8), 2, 3), {"stride", "nonsquare"})]
    return [("stride 1, 3 -> 5 channels", build((2, 3, 4, 4), 5, 1), ()),
            ("stride 2, 4 -> 8 channels", build((2, 4, 8, 8), 8, 2), {"stride"}),
            ("stride 2, odd size 7x7", build((2, 2, 7, 7), 4, 2), {"stride", "odd"}),
            ("non-square 6x5, stride 2", build((2, 3, 6, 5), 2, 2), {"stride", "nonsquare"}),
            ("batch 1", build((1, 3, 4, 4), 6, 2), {"stride", "batch1"}),
            ("float32", build((2, 3, 4, 4), 5, 2, np.float32), {"stride", "float32"})]


def _projection_reference(case, learner_out=None):
    h, W, stride = case.args
    return {"out": F.conv2d_forward(h, W, None, stride, 0)[0]}


def _projection_rules(case, problem):
    if problem.kind == "shape" and "stride" in case.tags:
        return PROJ_STRIDE
    return None


register(Exercise(
    "projection_shortcut", "function", ("out",),
    lambda base, hidden: numbered(base, _projection_specs(hidden)),
    _projection_reference,
    rules=COMMON_RULES + (_projection_rules,),
))


def _needs_projection_cases(base, hidden):
    combos = [(8, 16, 1), (3, 3, 3)] if hidden else [(16, 16, 1), (16, 32, 1), (16, 16, 2), (16, 32, 2), (32, 16, 1)]
    return [Case(f"in={a}, out={b}, stride={s}", (a, b, s), {}, frozenset(), seed=base + i)
            for i, (a, b, s) in enumerate(combos)]


register(Exercise(
    "needs_projection", "function", ("result",),
    _needs_projection_cases,
    lambda case, learner_out=None: {"result": bool(ref_needs_projection(*case.args))},
    rules=((lambda case, problem: NEEDS),),
))

BLOCK_KEYS = ("bn1.gamma", "bn1.beta", "bn1.running_mean", "bn1.running_var", "conv1.W",
              "bn2.gamma", "bn2.beta", "bn2.running_mean", "bn2.running_var", "conv2.W", "projection.W")


def block_params(rng, in_c, out_c, stride, dtype=np.float64):
    """Random parameters for a pre-activation residual block, keyed like ``named_parameters``."""
    def bn(prefix, c):
        return {f"{prefix}.gamma": 1 + 0.2 * rng.standard_normal(c), f"{prefix}.beta": 0.2 * rng.standard_normal(c),
                f"{prefix}.running_mean": 0.2 * rng.standard_normal(c),
                f"{prefix}.running_var": rng.uniform(0.5, 1.5, c)}
    p = {**bn("bn1", in_c), "conv1.W": rng.standard_normal((out_c, in_c, 3, 3)) * np.sqrt(2 / (9 * in_c)),
         **bn("bn2", out_c), "conv2.W": rng.standard_normal((out_c, out_c, 3, 3)) * np.sqrt(2 / (9 * out_c))}
    if ref_needs_projection(in_c, out_c, stride):
        p["projection.W"] = rng.standard_normal((out_c, in_c, 1, 1)) * np.sqrt(2 / in_c)
    return {k: v.astype(dtype) for k, v in p.items()}


def reference_block(in_c, out_c, stride, params):
    """``nnbook.ResidualBlock`` in eval mode with ``params`` loaded (float64)."""
    block = ResidualBlock(in_c, out_c, stride, rng=np.random.default_rng(0)).to(np.float64).eval()
    for name, module, key in block.named_parameters():
        module.params[key] = params[name].astype(np.float64)
    for bn in ("bn1", "bn2"):
        for buf in ("running_mean", "running_var"):
            setattr(getattr(block, bn), buf, params[f"{bn}.{buf}"].astype(np.float64))
    return block


def _block_specs(hidden):
    def build(N, in_c, out_c, H, W, stride, dtype=np.float64):
        def b(rng):
            x = randn(rng, N, in_c, H, W, dtype=dtype)
            return (x, block_params(rng, in_c, out_c, stride, dtype), stride), {}
        return b
    if hidden:
        return [("3 -> 5 channels, stride 2, 5x6", build(2, 3, 5, 5, 6, 2), {"projection", "nonsquare"})]
    return [("4 -> 4 channels, stride 1 (identity shortcut)", build(2, 4, 4, 6, 6, 1), ()),
            ("4 -> 8 channels, stride 1 (projection)", build(2, 4, 8, 6, 6, 1), {"projection"}),
            ("4 -> 4 channels, stride 2 (projection)", build(2, 4, 4, 6, 6, 2), {"projection"}),
            ("3 -> 6 channels, stride 2, odd size 7x7", build(2, 3, 6, 7, 7, 2), {"projection"}),
            ("batch 1", build(1, 2, 2, 4, 4, 1), {"batch1"})]


def _block_reference(case, learner_out=None):
    x, params, stride = case.args
    in_c, out_c = x.shape[1], params["conv1.W"].shape[0]
    out = reference_block(in_c, out_c, stride, params)(x.astype(np.float64))
    return {"out": out.astype(x.dtype)}


def _block_alternatives(case, exp):
    x, params, stride = case.args
    if "projection.W" not in params:
        return []
    block = reference_block(x.shape[1], params["conv1.W"].shape[0], stride, params)
    h = np.maximum(block.bn1(x), 0)
    branch = block.conv2(np.maximum(block.bn2(block.conv1(h)), 0))
    wrong = branch + F.conv2d_forward(x, params["projection.W"], None, stride, 0)[0]
    return [("out", wrong, PROJ_RAW)]


register(Exercise(
    "residual_block_forward", "function", ("out",),
    lambda base, hidden: numbered(base, _block_specs(hidden)),
    _block_reference,
    rules=COMMON_RULES,
    alternatives=_block_alternatives,
    only_with={"projection": BLOCK_PROJ},
))


register_set(ExerciseSet(
    "ex7_residual",
    ("shortcut_forward", "shortcut_backward", "projection_shortcut", "needs_projection", "residual_block_forward"),
    # the block may use batch norm and the 3x3 convolutions (the notebook says so); rel_error: the demo
    allowed=("nnbook.functional.batchnorm_forward", "nnbook.functional.conv2d_forward",
             "nnbook.gradcheck.rel_error"),
))
