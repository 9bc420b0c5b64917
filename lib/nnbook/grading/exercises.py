"""The graded exercises: for each exercise id, its cases (seeded), reference and hint rules.

This is the one place that defines what is graded. Both ``check()`` in the notebooks and
``nnbook grade`` (through the restored test cells) run these cases.

Kinds:
    ``"forward"``: ``fn(*args, **kwargs) -> (out, cache)``; ``out`` is compared.
    ``"backward"``: the learner's own forward makes the cache, then ``fn(dout, cache)``
        must return the gradients named in ``outputs``.
    ``"function"``: ``fn(*args, **kwargs)`` returns the values named in ``outputs``.
"""
from dataclasses import dataclass, field

import numpy as np

from .. import functional as F
from ..layers import ResidualBlock
from ..layers import needs_projection as ref_needs_projection
from .cases import Case, Rng, away_from_zero, materialize, randn

VISIBLE, HIDDEN = 1000, 5000   # seed bases of the visible and the hidden cases


@dataclass
class Exercise:
    """What is graded for one function (see the module docstring for ``kind``).

    reference(case) -> dict of expected outputs (backward: also given the learner's forward out).
    alternatives(case, expected) -> list of ``(output, array, hint)``: common wrong answers;
        when the learner's output equals one of them, the hint names the mistake.
    rules: functions ``(case, problem) -> hint or None``.
    only_with: ``{tag: hint}``; the hint is shown when every failing case has the tag
        and some case without it passes.
    """
    id: str
    kind: str
    outputs: tuple
    make_cases: object
    reference: object
    forward: str = None            # backward: id of the matching forward exercise
    grad_args: tuple = ()          # backward: which forward args the gradients belong to
    ref_forward: object = None     # backward: reference forward (for dout's shape)
    alternatives: object = None
    rules: tuple = ()
    only_with: dict = field(default_factory=dict)
    gradcheck: object = None       # optional custom gradient check: (fn, case) -> list of (name, err)
    # whose forward the numerical gradient differentiates: the reference's (so a wrong forward
    # costs only the forward exercise) or the learner's (dropout: the learner's own mask)
    gradcheck_forward: str = "reference"

    def cases(self, hidden=False):
        return self.make_cases(HIDDEN if hidden else VISIBLE, hidden)


EXERCISES = {}


def register(ex):
    EXERCISES[ex.id] = ex
    return ex


def dout_for(case, out):
    """Seeded upstream gradient of the shape and dtype of ``out``."""
    return np.random.default_rng(case.seed).standard_normal(out.shape).astype(out.dtype)


def numbered(base, specs):
    """Turn ``(name, builder, tags)`` specs into Cases with seeds ``base, base+1, ...``."""
    cases = []
    for i, (name, build, tags) in enumerate(specs):
        rng = np.random.default_rng(base + i)
        args, kwargs = build(rng)
        cases.append(Case(name, tuple(args), kwargs, frozenset(tags), seed=base + i))
    return cases


def with_gradcheck(cases, base, build, name="numerical gradient (float64)"):
    rng = np.random.default_rng(base + 99)
    args, kwargs = build(rng)
    return cases + [Case(name, tuple(args), kwargs, frozenset({"gradcheck"}), seed=base + 99, gradcheck=True)]


def backward_reference(ref_forward, ref_backward, names):
    def reference(case, learner_out=None):
        args, kwargs = materialize(case.args), materialize(case.kwargs)
        out, cache = ref_forward(*args, **kwargs)
        grads = ref_backward(dout_for(case, out), cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        return dict(zip(names, grads))
    return reference


def forward_reference(ref_forward):
    def reference(case, learner_out=None):
        args, kwargs = materialize(case.args), materialize(case.kwargs)
        return {"out": ref_forward(*args, **kwargs)[0]}
    return reference


def reference_out(ref_forward, case):
    args, kwargs = materialize(case.args), materialize(case.kwargs)
    return ref_forward(*args, **kwargs)[0]


HINT_DTYPE = ("keep the input's dtype: create new arrays with dtype=x.dtype (np.zeros(shape, dtype=x.dtype), "
              "np.zeros_like(x)); np.zeros(shape) alone gives float64")


def dtype_rule(case, problem):
    return HINT_DTYPE if problem.kind == "dtype" else None


def inplace_rule(case, problem):
    if problem.kind == "inplace":
        return ("never change the inputs: compute into a new array (e.g. np.maximum(x, 0), x * mask, "
                "or x.copy() first) instead of assigning into x")
    return None


COMMON_RULES = (dtype_rule, inplace_rule)

# ---------------------------------------------------------------------------------------------
# ex1: fully connected
# ---------------------------------------------------------------------------------------------


def _linear_specs(hidden):
    def lin(N, D, M, dtype=np.float64, extra=()):
        def build(rng):
            x = randn(rng, N, *(extra or (D,)), dtype=dtype)
            Din = int(np.prod(extra)) if extra else D
            return (x, randn(rng, Din, M, dtype=dtype), randn(rng, M, dtype=dtype)), {}
        return build
    if hidden:
        sizes = np.random.default_rng(79).integers(1, 13, (5, 3))
        return [("random N=7, D=3, M=9", lin(7, 3, 9), ()), ("random N=2, D=12, M=1", lin(2, 12, 1), ()),
                ("image-shaped x (3, 2, 2, 2)", lin(3, 0, 4, extra=(2, 2, 2)), {"multidim"})] + \
            [(f"random N={N}, D={D}, M={M}", lin(int(N), int(D), int(M)), {"batch1"} if N == 1 else ())
             for N, D, M in sizes]
    return [("random N=4, D=5, M=3", lin(4, 5, 3), ()),
            ("random N=10, D=2, M=6", lin(10, 2, 6), ()),
            ("batch 1", lin(1, 4, 3), {"batch1"}),
            ("image-shaped x (2, 3, 4)", lin(2, 0, 5, extra=(3, 4)), {"multidim"}),
            ("float32", lin(4, 5, 3, np.float32), {"float32"})]


def _linear_rules(case, problem):
    if problem.output in ("out", "dx") and "multidim" in case.tags and problem.kind in ("exception", "shape"):
        return ("x may have more than 2 axes: flatten each example with x.reshape(x.shape[0], -1), "
                "and give dx back x's original shape with .reshape(x.shape)")
    if problem.output == "db":
        return "db: the bias is added to every example, so sum dout over the batch: db = dout.sum(axis=0)"
    if problem.output == "dW" and problem.kind == "shape":
        return "dW has W's shape (D, M): dW = x_flat.T @ dout"
    return None


register(Exercise(
    "linear_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _linear_specs(hidden)),
    forward_reference(F.linear_forward),
    rules=COMMON_RULES + (_linear_rules,),
    alternatives=lambda case, exp: [("out", exp["out"] - case.args[2], "the bias b is missing: out = x @ W + b")],
))

register(Exercise(
    "linear_backward", "backward", ("dx", "dW", "db"),
    lambda base, hidden: with_gradcheck(numbered(base, _linear_specs(hidden)), base,
                                        lambda rng: ((randn(rng, 3, 4), randn(rng, 4, 2), randn(rng, 2)), {})),
    backward_reference(F.linear_forward, F.linear_backward, ("dx", "dW", "db")),
    forward="linear_forward", grad_args=(0, 1, 2), ref_forward=F.linear_forward,
    rules=COMMON_RULES + (_linear_rules,),
))


def _relu_specs(hidden):
    def build(shape, dtype=np.float64):
        return lambda rng: ((away_from_zero(rng, shape, dtype),), {})
    if hidden:
        return [("random (6, 7)", build((6, 7)), ()), ("random (1, 2, 3, 3)", build((1, 2, 3, 3)), {"batch1"})]
    return [("random (4, 5)", build((4, 5)), ()),
            ("image-shaped (2, 3, 4, 4)", build((2, 3, 4, 4)), ()),
            ("batch 1", build((1, 6)), {"batch1"}),
            ("float32", build((4, 5), np.float32), {"float32"})]


def _relu_backward_rules(case, problem):
    if problem.output == "dx" and problem.kind == "values":
        return "the gradient passes where x > 0 and is 0 elsewhere: dx = dout * (x > 0)"
    return None


def _relu_forward_rules(case, problem):
    if problem.kind == "values" and isinstance(problem.got, np.ndarray) and (problem.got < 0).any():
        return "negative inputs must become 0: out = np.maximum(x, 0)"
    return None


register(Exercise(
    "relu_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _relu_specs(hidden)),
    forward_reference(F.relu_forward),
    rules=COMMON_RULES + (_relu_forward_rules,),
))

register(Exercise(
    "relu_backward", "backward", ("dx",),
    lambda base, hidden: with_gradcheck(numbered(base, _relu_specs(hidden)), base,
                                        lambda rng: ((away_from_zero(rng, (3, 4), margin=0.1),), {})),
    backward_reference(F.relu_forward, F.relu_backward, ("dx",)),
    forward="relu_forward", grad_args=(0,), ref_forward=F.relu_forward,
    rules=COMMON_RULES + (_relu_backward_rules,),
))


def _softmax_specs(hidden):
    def build(N, K, dtype=np.float64, scale=1.0):
        return lambda rng: ((randn(rng, N, K, dtype=dtype, scale=scale), rng.integers(0, K, N)), {})
    if hidden:
        sizes = np.random.default_rng(80).integers(1, 12, (4, 2)) + [0, 1]
        return [("random N=9, K=2", build(9, 2), ()), ("large logits (scale 500)", build(3, 6, scale=500.0),
                                                         {"large"})] + \
            [(f"random N={N}, K={K}", build(int(N), int(K)), ()) for N, K in sizes]
    return [("random N=5, K=4", build(5, 4), ()),
            ("random N=8, K=10", build(8, 10), ()),
            ("batch 1", build(1, 3), {"batch1"}),
            ("large logits (scale 1000)", build(4, 5, scale=1000.0), {"large"}),
            ("float32", build(5, 4, np.float32), {"float32"})]


def _softmax_rules(case, problem):
    if "large" in case.tags and problem.kind in ("nan", "values", "exception"):
        return ("exp overflows for large logits: subtract each row's maximum first "
                "(logits - logits.max(axis=1, keepdims=True)); the softmax does not change")
    return None


def _softmax_reference(case, learner_out=None):
    loss, dlogits = F.softmax_cross_entropy(*materialize(case.args))
    return {"loss": loss, "dlogits": dlogits}


def _softmax_gradcheck(fn, case):
    from ..gradcheck import numerical_gradient, rel_error
    logits, y = materialize(case.args)
    _, dlogits = fn(logits, y)
    num = numerical_gradient(lambda: float(fn(logits, y)[0]), logits)
    d = np.asarray(dlogits)
    if d.shape != num.shape or not np.issubdtype(d.dtype, np.floating):
        return [("dlogits", float("inf"))]
    return [("dlogits", rel_error(d, num))]


register(Exercise(
    "softmax_cross_entropy", "function", ("loss", "dlogits"),
    lambda base, hidden: with_gradcheck(numbered(base, _softmax_specs(hidden)), base,
                                        lambda rng: ((randn(rng, 4, 3), rng.integers(0, 3, 4)), {})),
    _softmax_reference,
    rules=COMMON_RULES + (_softmax_rules,),
    alternatives=lambda case, exp: [
        ("dlogits", exp["dlogits"] * case.args[0].shape[0],
         "the loss is the mean over the batch, so divide the gradient by N"),
        ("loss", exp["loss"] * case.args[0].shape[0], "the loss is the mean over the batch, not the sum"),
        ("dlogits", -exp["dlogits"], "sign: dlogits = (softmax(logits) - onehot(y)) / N")],
    gradcheck=_softmax_gradcheck,
))

# ---------------------------------------------------------------------------------------------
# ex2: convolution
# ---------------------------------------------------------------------------------------------


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

# ---------------------------------------------------------------------------------------------
# ex3: pooling
# ---------------------------------------------------------------------------------------------


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

# ---------------------------------------------------------------------------------------------
# ex4: dropout
# ---------------------------------------------------------------------------------------------


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

# ---------------------------------------------------------------------------------------------
# ex5: residual connections
# ---------------------------------------------------------------------------------------------


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
        return [("out", b * x + a * y, "alpha weighs x and beta weighs y: out = alpha * x + beta * y")]
    return []


register(Exercise(
    "shortcut_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _shortcut_specs(hidden)),
    forward_reference(F.shortcut_forward),
    rules=COMMON_RULES,
    alternatives=_shortcut_alternatives,
    only_with={"resize": "fails only when the sizes differ: combine on the strided grid (stride = ratio of the "
                         "sizes) and keep x's value everywhere else",
               "channels": "fails only when the channel counts differ: combine the first min(C_x, C_y) channels "
                           "and keep x's other channels unchanged",
               "weights": "fails only with alpha or beta != 1: out = alpha * x + beta * y on the combined positions"},
))

register(Exercise(
    "shortcut_backward", "backward", ("dx", "dy"),
    lambda base, hidden: with_gradcheck(
        numbered(base, _shortcut_specs(hidden)), base,
        lambda rng: ((randn(rng, 1, 3, 6, 6), randn(rng, 1, 2, 3, 3)), {"alpha": 0.5, "beta": 1.5})),
    backward_reference(F.shortcut_forward, F.shortcut_backward, ("dx", "dy")),
    forward="shortcut_forward", grad_args=(0, 1), ref_forward=F.shortcut_forward,
    rules=COMMON_RULES,
    only_with={"resize": "fails only when the sizes differ: dy is zero except on the grid positions y "
                         "contributed to, and dx is scaled by alpha only there",
               "channels": "fails only when the channel counts differ: only the first min(C_x, C_y) channels "
                           "were combined",
               "weights": "fails only with alpha or beta != 1: dx = alpha * dout, dy = beta * dout (on the "
                          "combined positions)"},
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
        h, W, s = case.args
        return (f"a 1x1 convolution with stride {s} keeps every {s}-th row and column, starting at 0: "
                f"h[:, :, ::{s}, ::{s}] (so a 7-pixel side gives 4)")
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
    rules=((lambda case, problem: "a projection is needed exactly when the shortcut x would not match the "
            "block's output: a different number of channels, or stride != 1 (a smaller output)"),),
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
    return [("out", wrong, "the projection is applied to the pre-activated input h = relu(bn1(x)), not to x")]


register(Exercise(
    "residual_block_forward", "function", ("out",),
    lambda base, hidden: numbered(base, _block_specs(hidden)),
    _block_reference,
    rules=COMMON_RULES,
    alternatives=_block_alternatives,
    only_with={"projection": "fails only when a projection is needed: the shortcut is then "
                             "projection_shortcut(h, params['projection.W'], stride) with h = relu(bn1(x))"},
))
