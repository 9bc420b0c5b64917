"""Exercise set ex7_residual (``exercises/ex7_residual.ipynb``): shortcuts and the residual block.

Cases, references, hint rules and what answers may not use. See :mod:`nnbook.grading.judge.exercise`.
"""
import numpy as np

from ... import functional as F
from ...layers import ResidualBlock
from ...layers import needs_projection as ref_needs_projection
from ..judge.cases import Case, randn
from ..judge.exercise import (CacheContract, Exercise, ExerciseSet, COMMON_RULES, Hint, backward_reference,
                               dout_for, forward_reference, numbered, register, register_set, with_big_case,
                               with_gradcheck)

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
REST_OF_X = Hint(
    "shortcut_rest_of_x", "outside the combined grid (other positions, other channels) the output keeps x's "
    "value: start from a copy of x and combine on the grid only", "out = x everywhere, except "
    "out = alpha * x + beta * y on the combined positions", "out = x.copy()", label="lost x outside the grid")
B_ALPHA_EVERYWHERE = Hint(
    "shortcut_backward_alpha_everywhere", "only the combined positions were scaled by alpha; everywhere else "
    "out = x, so the gradient passes there unchanged", "dx = alpha * dout on the combined positions, dx = dout "
    "elsewhere", "dx = dout.copy(); dx[grid] *= alpha", label="scaled all of dx by alpha")
B_REST = Hint(
    "shortcut_backward_rest", "the shortcut's gradient was dropped: outside the combined grid out = x, so dx "
    "gets dout there unchanged (that direct path is what makes residual networks trainable)",
    "dx = dout outside the combined positions, alpha * dout on them", "dx = dout.copy(); dx[grid] *= alpha",
    label="dropped the gradient outside the grid")
B_DY_SHAPE = Hint(
    "shortcut_dy_shape", "dy has y's shape (a gradient has the shape of what it is the gradient of), and y's "
    "grid positions receive beta times dout at the matching positions of x",
    "dy[n, c, i_y, j_y] = beta * dout[n, c, i_x, j_x] for each combined pair, 0 elsewhere",
    "dy = np.zeros(y.shape, dtype=dout.dtype)", label="dy in x's shape")
PROJ_WEIGHTS = Hint(
    "projection_weights", "W has shape (F, C, 1, 1): filter f (the output channel) first, input channel c "
    "second; yours reads it the other way round",
    "out[n, f, i, j] = sum over c of W[f, c, 0, 0] * h[n, c, i*s, j*s]", "np.einsum('fc,nchw->nfhw', W[:, :, 0, 0], h_s)",
    label="read W as (C, F)")
PROJ_AXIS = Hint(
    "projection_weights_axis", "filter f's weights W[f, :, 0, 0] have shape (C,), one per input channel; "
    "NumPy lines that up with h's last axis (the columns), not with the channels (axis 1)",
    "out[n, f, i, j] = sum over c of W[f, c, 0, 0] * h[n, c, i*s, j*s]",
    "(W[f, :, 0, 0][:, None, None] * h_s).sum(axis=1)   # (C, 1, 1) lines up with axis 1 of (N, C, H, W)",
    label="weights lined up with the wrong axis")
NEEDS_NONE = Hint(
    "needs_projection_returns_none", "every path through the function must return True or False: a function "
    "that ends without return gives None", "True when stride != 1 or the channel counts differ, else False",
    "return stride != 1 or in_channels != out_channels", label="returned None")
NEEDS_BOOL = Hint(
    "needs_projection_returns_bool", "return True or False (a comparison gives one), not a number that is "
    "nonzero when a projection is needed", "True when stride != 1 or the channel counts differ, else False",
    "return stride != 1 or in_channels != out_channels", label="returned a number, not a bool")
BLOCK_PROJ_STRIDE = Hint(
    "block_projection_stride", "the shortcut keeps the input's size while the branch is smaller: with a stride, "
    "the projection must subsample with the same stride as conv1, or the two cannot be added",
    "shortcut = 1x1 conv of h with the block's stride: its size is ceil(H / stride), like the branch's",
    "shortcut = projection_shortcut(h, params['projection.W'], stride)", label="projection without the stride")
BLOCK_CONV2_STRIDE = Hint(
    "block_conv2_stride", "the branch is smaller than the block's output: only conv1 (and the projection) has "
    "the block's stride; conv2 keeps the size (stride 1, padding 1)",
    "out size = ceil(H / stride) after conv1, and the same after conv2",
    "F.conv2d_forward(a, params['conv2.W'], None, 1, 1)", label="gave conv2 the stride too")
BLOCK_PADDING = Hint(
    "block_conv_padding", "the branch lost its border: a 3x3 convolution keeps the size only with padding 1 "
    "(without it each one takes 2 rows and 2 columns away)", "size after a 3x3 conv = (H + 2*padding - 3) "
    "// stride + 1, = H for stride 1 and padding 1", "F.conv2d_forward(h, params['conv1.W'], None, stride, 1)",
    label="3x3 convolutions without padding")
BLOCK_RELU = Hint(
    "block_missing_relu", "a pre-activation block applies BN then ReLU before each convolution: relu(bn2(.)) "
    "before conv2 too", "F(x) = conv2(relu(bn2(conv1(relu(bn1(x))))))",
    "a = np.maximum(bn(a, 'bn2'), 0)", label="left out a ReLU")
BLOCK_BN_EVAL = Hint(
    "block_bn_eval", "the block runs in evaluation mode: batch norm normalizes with the running statistics in "
    "params and changes nothing (F.batchnorm_forward's default is training=True, which uses the batch's "
    "statistics and updates the running ones in place)",
    "bn(v) = gamma (v - running_mean) / sqrt(running_var + eps) + beta, per channel",
    "F.batchnorm_forward(v, ..., training=False)", label="batch norm in training mode")
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


def _grid(x, y):
    """1 where ``out`` combines x and y, 0 where it is x alone (the shape of x)."""
    return F.shortcut_forward(np.zeros(x.shape), np.ones(y.shape), 1.0, 1.0)[0]


def _shortcut_alternatives(case, exp):
    x, y = case.args
    a, b = case.kwargs["alpha"], case.kwargs["beta"]
    alts = [("out", exp["out"] * _grid(x, y), REST_OF_X)]
    if a != b:
        alts.append(("out", F.shortcut_forward(x, y, b, a)[0], SWAPPED_WEIGHTS))
    return alts


def _shortcut_backward_alternatives(case, exp):
    x, y = case.args
    a = case.kwargs["alpha"]
    dout = dout_for(case, x)
    grid = _grid(x, y)
    alts = [("dx", exp["dx"] * grid, B_REST)]
    if a != 1:
        alts.append(("dx", a * dout, B_ALPHA_EVERYWHERE))
    return alts


def _shortcut_backward_rules(case, problem):
    x, y = case.args
    if problem.output == "dy" and problem.kind == "shape" and getattr(problem.got, "shape", None) == x.shape:
        return B_DY_SHAPE
    return None


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
    rules=COMMON_RULES + (_shortcut_backward_rules,),
    alternatives=_shortcut_backward_alternatives,
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
    h, W, stride = case.args
    F_, C = W.shape[:2]
    if problem.kind == "exception" and problem.facts is not None:
        shapes = problem.facts.message_shapes()
        if F_ != C and (F_, C) in shapes:          # W[:, :, 0, 0] (F, C) used as (C, F)
            return PROJ_WEIGHTS
        if (C,) in shapes and any(len(s) == 4 and s[1] == C for s in shapes):
            return PROJ_AXIS                       # a filter's (C,) weights against (N, C, H, W)
    if problem.kind == "shape" and "stride" in case.tags:
        return PROJ_STRIDE
    return None


def _projection_alternatives(case, exp):
    h, W, stride = case.args
    alts = []
    if stride > 1:       # the right size, but every s-th row starting at s - 1
        shifted = h[:, :, stride - 1::stride, stride - 1::stride]
        alts.append(("out", np.einsum("fc,nchw->nfhw", W[:, :, 0, 0], shifted), PROJ_STRIDE))
    h_s = h[:, :, ::stride, ::stride]
    if W.shape[0] == W.shape[1]:
        alts.append(("out", np.einsum("cf,nchw->nfhw", W[:, :, 0, 0], h_s), PROJ_WEIGHTS))
    if W.shape[1] == h_s.shape[3]:             # (C,) against the last axis: silently wrong when C == Wo
        alts.append(("out", np.stack([(W[f, :, 0, 0] * h_s).sum(axis=1) for f in range(W.shape[0])], axis=1),
                     PROJ_AXIS))
    return alts


register(Exercise(
    "projection_shortcut", "function", ("out",),
    lambda base, hidden: numbered(base, _projection_specs(hidden)),
    _projection_reference,
    rules=COMMON_RULES + (_projection_rules,),
    alternatives=_projection_alternatives,
))


def _needs_rule(case, problem):
    if problem.kind == "type":
        return NEEDS_NONE if problem.got is None else NEEDS_BOOL
    return NEEDS


def _needs_projection_cases(base, hidden):
    combos = [(8, 16, 1), (3, 3, 3)] if hidden else [(16, 16, 1), (16, 32, 1), (16, 16, 2), (16, 32, 2), (32, 16, 1)]
    return [Case(f"in={a}, out={b}, stride={s}", (a, b, s), {}, frozenset(), seed=base + i)
            for i, (a, b, s) in enumerate(combos)]


register(Exercise(
    "needs_projection", "function", ("result",),
    _needs_projection_cases,
    lambda case, learner_out=None: {"result": bool(ref_needs_projection(*case.args))},
    rules=(_needs_rule,),
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


def _block_variant(x, params, stride, relu2=True, bn_training=False, project_raw=False, padding=1):
    """A pre-activation block in float64 with one mistake (written out here with nnbook.functional); None when
    that mistake raises here."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    x = x.astype(np.float64)

    def bn(v, name):
        return F.batchnorm_forward(v, p[f"{name}.gamma"], p[f"{name}.beta"], p[f"{name}.running_mean"].copy(),
                                   p[f"{name}.running_var"].copy(), training=bn_training)[0]
    h = np.maximum(bn(x, "bn1"), 0)
    try:
        a = bn(F.conv2d_forward(h, p["conv1.W"], None, stride, padding)[0], "bn2")
        branch = F.conv2d_forward(np.maximum(a, 0) if relu2 else a, p["conv2.W"], None, 1, padding)[0]
        if "projection.W" in p:
            shortcut = F.conv2d_forward(x if project_raw else h, p["projection.W"], None, stride, 0)[0]
        else:
            shortcut = x
        return branch + shortcut
    except ValueError:
        return None


def _block_alternatives(case, exp):
    x, params, stride = case.args
    dtype = exp["out"].dtype
    alts = [("out", _block_variant(x, params, stride, relu2=False), BLOCK_RELU),
            ("out", _block_variant(x, params, stride, bn_training=True), BLOCK_BN_EVAL),
            ("out", _block_variant(x, params, stride, padding=0), BLOCK_PADDING)]
    if "projection.W" in params:
        alts.append(("out", _block_variant(x, params, stride, project_raw=True), PROJ_RAW))
    return [(name, alt.astype(dtype), hint) for name, alt, hint in alts if alt is not None and alt.shape == exp["out"].shape]


def _block_rules(case, problem):
    """The branch and the shortcut cannot be added: which of the two has the wrong size says why."""
    x, params, stride = case.args
    facts = problem.facts
    if problem.kind == "exception" and facts is not None and "larger than the padded input" in facts.message \
            and "2*0" in facts.message:
        return BLOCK_PADDING                     # nnbook's conv: a 3x3 kernel on a map that lost its border
    if problem.kind != "exception" or facts is None or "broadcast" not in facts.message:
        return None
    N, in_c, H, W = x.shape
    out_c = params["conv1.W"].shape[0]
    size = ((H - 1) // stride + 1, (W - 1) // stride + 1)
    shapes = [s for s in facts.message_shapes() if len(s) == 4]
    others = [s for s in shapes if s != (N, out_c) + size]
    if len(others) != 1 or len(shapes) != 2:
        return None
    other = others[0]
    if other[2:] == (H, W) and stride > 1:
        if other[1] == out_c != in_c:
            return BLOCK_PROJ_STRIDE         # a projection (out_c channels) without the stride
        if other[1] == in_c != out_c:
            return BLOCK_PROJ                # x itself where a projection is needed
        return BLOCK_SHORTCUT_SIZE           # the same either way: decided across cases
    if other[1] == in_c != out_c and other[2:] == size:
        return BLOCK_PROJ
    conv2_strided = tuple((n - 1) // stride + 1 for n in size)
    no_padding = ((H - 3) // stride + 1 - 2, (W - 3) // stride + 1 - 2)
    if stride > 1 and other[2:] == conv2_strided:
        return BLOCK_CONV2_STRIDE
    if other[2:] == no_padding or other[2:] == ((H - 3) // stride - 1, (W - 3) // stride - 1):
        return BLOCK_PADDING
    return None


BLOCK_SHORTCUT_SIZE = Hint(
    "block_shortcut_size", "the shortcut keeps the input's size while the branch is smaller: with a stride, "
    "the shortcut is the projection with the block's stride", "shortcut = 1x1 conv of h with stride s: size "
    "ceil(H / s), like the branch's", "shortcut = projection_shortcut(h, params['projection.W'], stride)",
    label="shortcut of the input's size", fallback=True)


def _resolve_shortcut_size(results):
    """A case where a projection without its stride and x itself look alike (as many channels in as out) is
    the mistake the other cases show, if they show one."""
    ids = {h.id for r in results for h in r.hints}
    for hint in (BLOCK_PROJ_STRIDE, BLOCK_PROJ):
        if hint.id in ids:
            names = []
            for r in results:
                if any(h.id == BLOCK_SHORTCUT_SIZE.id for h in r.hints):
                    r.hints = [h for h in r.hints if h.id != BLOCK_SHORTCUT_SIZE.id]
                    names.append(r.case.name)
            return [(hint, names)] if names else []
    return []


register(Exercise(
    "residual_block_forward", "function", ("out",),
    lambda base, hidden: numbered(base, _block_specs(hidden)),
    _block_reference,
    rules=COMMON_RULES + (_block_rules,),
    alternatives=_block_alternatives,
    detectors=(_resolve_shortcut_size,),
    only_with={"projection": BLOCK_PROJ},
))


register_set(ExerciseSet(
    "ex7_residual",
    ("shortcut_forward", "shortcut_backward", "projection_shortcut", "needs_projection", "residual_block_forward"),
    # the block may use batch norm and the 3x3 convolutions (the notebook says so); rel_error: the demo
    allowed=("nnbook.functional.batchnorm_forward", "nnbook.functional.conv2d_forward",
             "nnbook.gradcheck.rel_error"),
))
