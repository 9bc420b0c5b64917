"""Exercise set ex1_fully_connected (``exercises/ex1_fully_connected.ipynb``): linear, ReLU, softmax loss.

Cases, references, hint rules and what answers may not use. See :mod:`nnbook.grading.judge.exercise`.
"""
import numpy as np

from ... import functional as F
from ..judge.cases import away_from_zero, materialize, randn
from ..judge.exercise import (CacheContract, Exercise, ExerciseSet, COMMON_RULES, Hint, backward_reference,
                               dout_for, forward_reference, numbered, reference_out, register, register_set,
                               with_big_case, with_gradcheck)

# what the forwards' caches hold (stated in the exercise): the backwards are judged on these
LINEAR_CACHE = CacheContract(("x", "W", "b"), lambda x, W, b: (x, W, b))
RELU_CACHE = CacheContract(("x",), lambda x: x)

FLATTEN = Hint(
    "linear_not_flattened", "x may have more than 2 axes: each example is flattened to one row of D numbers",
    "x_flat has shape (N, D) with D the product of x's other axes; dx must come back in x's own shape",
    "x_flat = x.reshape(x.shape[0], -1)   # and at the end: dx.reshape(x.shape)",
    label="did not flatten image-shaped x")
DB_NOT_SUMMED = Hint(
    "linear_db_not_summed", "the bias is added to every example of the batch, so its gradient collects "
    "dout from every example",
    "db[m] = sum over n of dout[n, m]: shape (M,)", "db = dout.sum(axis=0)", label="db not summed over the batch")
DB_MEAN = Hint(
    "linear_db_mean", "db is a sum over the batch, not a mean: every example adds its own gradient",
    "db[m] = sum over n of dout[n, m] (no division by N: the loss already averaged)",
    "db = dout.sum(axis=0)", label="db as a mean instead of a sum")
DW_TRANSPOSED = Hint(
    "linear_dW_transposed", "dW is transposed: a gradient has the shape of its parameter, and W is (D, M)",
    "dW[d, m] = sum over n of x_flat[n, d] * dout[n, m], i.e. x_flat transposed times dout: (D, N) @ (N, M)",
    "dW = x_flat.T @ dout", label="transposed dW")
DW_SHAPE = Hint(
    "linear_dW_shape", "dW has W's shape (D, M): a gradient has the shape of its parameter",
    "dW[d, m] = sum over n of x_flat[n, d] * dout[n, m]", "dW = x_flat.T @ dout", label="dW of the wrong shape",
    fallback=True)
BIAS_MISSING = Hint(
    "linear_bias_missing", "the bias b is missing: every output row gets b added",
    "out[n, m] = sum over d of x_flat[n, d] * W[d, m] + b[m]", "out = x_flat @ W + b", label="forgot the bias")
BIAS_REPEATED = Hint(
    "linear_bias_repeated", "the bias was added more than once: it belongs to the output once, not to every "
    "term of the sum over d (is `+ b` inside the loop?)",
    "out[n, m] = (sum over d of x_flat[n, d] * W[d, m]) + b[m]: b[m] outside the sum",
    "for d in range(D):\n    out += x_flat[:, d:d + 1] * W[d]\nout += b   # after the loop",
    label="added the bias inside the loop")
DB_AXIS = Hint(
    "linear_db_axis", "db was summed over the wrong axis: axis 0 runs over the examples of the batch, and "
    "db has one entry per output unit, like b",
    "db[m] = sum over n of dout[n, m]: shape (M,)", "db = dout.sum(axis=0)", label="db summed over the wrong axis")
DX_TRANSPOSE = Hint(
    "linear_dx_transpose", "the gradient flows back through W transposed: dout has one column per output "
    "unit (M), W has one row per input number (D)",
    "dx_flat[n, d] = sum over m of dout[n, m] * W[d, m], i.e. dout (N, M) times W transposed (M, D)",
    "dx = (dout @ W.T).reshape(x.shape)", label="dx with W instead of its transpose")


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
    x, W = case.args[0], case.args[1]
    N, M = x.shape[0], W.shape[1]
    if problem.kind == "exception" and problem.facts is not None:
        shapes = set(problem.facts.shapes().values())
        if (N, M) in shapes and W.shape in shapes and "matmul" in problem.facts.message:
            return DX_TRANSPOSE                  # dout @ W: (N, M) and (D, M)
        if "multidim" in case.tags and any(len(s) > 2 for s in shapes):
            return FLATTEN                       # x used as it came in
        return None
    if problem.output in ("out", "dx", "dW") and "multidim" in case.tags and problem.kind == "shape":
        return FLATTEN
    if problem.output == "db" and problem.kind == "shape" and getattr(problem.got, "shape", None) == (N, M):
        return DB_NOT_SUMMED
    if problem.output == "dW" and problem.kind == "shape":
        return DW_SHAPE
    return None


def _linear_forward_alternatives(case, exp):
    x, W, b = case.args
    D = W.shape[0]
    return [("out", exp["out"] - b, BIAS_MISSING), ("out", exp["out"] + (D - 1) * b, BIAS_REPEATED)]


def _linear_backward_alternatives(case, exp):
    x, W, b = case.args
    N = x.shape[0]
    dout = dout_for(case, reference_out(F.linear_forward, case))
    alts = [("dW", exp["dW"].T, DW_TRANSPOSED), ("db", exp["db"] / N, DB_MEAN), ("db", dout.sum(axis=1), DB_AXIS)]
    if W.shape[0] == W.shape[1]:
        alts.append(("dx", (dout @ W).reshape(x.shape), DX_TRANSPOSE))
    return alts


register(Exercise(
    "linear_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _linear_specs(hidden)),
    forward_reference(F.linear_forward),
    rules=COMMON_RULES + (_linear_rules,),
    alternatives=_linear_forward_alternatives,
    cache=LINEAR_CACHE,
))


def _linear_backward_cases(base, hidden):
    cases = with_gradcheck(numbered(base, _linear_specs(hidden)), base,
                           lambda rng: ((randn(rng, 3, 4), randn(rng, 4, 2), randn(rng, 2)), {}))
    if hidden:   # finite differences: 2 * 197,120 forward passes of a 128x512 @ 512x256 product
        cases = with_big_case(cases, base, lambda rng: ((randn(rng, 128, 512), randn(rng, 512, 256),
                                                         randn(rng, 256)), {}), "big: N=128, D=512, M=256")
    return cases


register(Exercise(
    "linear_backward", "backward", ("dx", "dW", "db"),
    _linear_backward_cases,
    backward_reference(F.linear_forward, F.linear_backward, ("dx", "dW", "db")),
    forward="linear_forward", grad_args=(0, 1, 2), ref_forward=F.linear_forward,
    rules=COMMON_RULES + (_linear_rules,),
    alternatives=_linear_backward_alternatives,
    cache=LINEAR_CACHE,
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


def _at_the_kink(shape):
    """Exact zeros and tiny values of both signs among ordinary ones: the gradient there is decided by
    the sign of x alone (0 at x = 0, as in PyTorch). A difference quotient of the forward gets them
    wrong, whatever its step."""
    def build(rng):
        tiny = np.array([0.0, 0.0, 5e-324, 1e-300, 1e-30, 1e-12, 1e-8, 1e-4])
        x = rng.standard_normal(shape)
        pick = rng.random(shape) < 0.5
        x[pick] = (rng.choice(tiny, shape) * rng.choice([-1.0, 1.0], shape))[pick]
        return (x,), {}
    return build


def _relu_backward_specs(hidden):
    kink = ("zeros and tiny values (the kink at 0)", _at_the_kink((6, 10) if hidden else (5, 8)), {"kink"})
    return _relu_specs(hidden) + [kink]


RELU_GATE = Hint(
    "relu_backward_gate", "ReLU lets the gradient through only where its input was positive",
    "dx[k] = dout[k] where x[k] > 0, and 0 where x[k] <= 0 (the input x, kept in the cache)",
    "dx = dout * (x > 0)", label="wrong ReLU gate", fallback=True)
RELU_KINK = Hint(
    "relu_backward_kink", "fails only at the kink: ReLU's gradient is 1 where x > 0 and 0 where x <= 0, "
    "also exactly at 0 and for tiny values like 1e-300; it is decided by the sign of x alone (a "
    "difference quotient of the forward gets these wrong)",
    "dx[k] = dout[k] if x[k] > 0 else 0, with x[k] = 0 counted as not positive", label="wrong at the kink")
RELU_NEGATIVE = Hint(
    "relu_negative_kept", "negative inputs must become 0, and positive ones stay as they are",
    "out[k] = max(x[k], 0), element by element", "out = np.maximum(x, 0)", label="kept negative values")
RELU_MAX = Hint(
    "relu_max_not_maximum", "np.max(x, 0) is a reduction: the largest value along axis 0, one number per "
    "column. ReLU compares every entry with 0, which is what np.maximum does (element by element)",
    "out[k] = max(x[k], 0) for every entry k: out has x's shape", "out = np.maximum(x, 0)",
    label="np.max instead of np.maximum")
RELU_GATE_ON_DOUT = Hint(
    "relu_gate_on_dout", "the gate is decided by the sign of the forward's input x, not by the sign of dout: "
    "where x was positive the gradient passes unchanged, whatever its sign",
    "dx[k] = dout[k] where x[k] > 0, and 0 where x[k] <= 0", "dx = dout * (x > 0)", label="gated on dout's sign")
RELU_FORGOT_DOUT = Hint(
    "relu_forgot_dout", "the chain rule multiplies the local slope (1 or 0) by the upstream gradient dout; "
    "the slope alone is not the gradient of the loss",
    "dx[k] = dout[k] * (1 if x[k] > 0 else 0)", "dx = dout * (x > 0)", label="forgot to multiply by dout")
RELU_TIMES_X = Hint(
    "relu_backward_times_x", "the local derivative of ReLU is its slope, 1 where x > 0 and 0 elsewhere, "
    "not its output max(x, 0)", "dx[k] = dout[k] * (1 if x[k] > 0 else 0)", "dx = dout * (x > 0)",
    label="multiplied by the output instead of the slope")


def _relu_backward_rules(case, problem):
    if problem.output == "dx" and problem.kind == "values":
        return RELU_GATE
    return None


def _relu_forward_rules(case, problem):
    if problem.kind == "values" and isinstance(problem.got, np.ndarray) and (problem.got < 0).any():
        return RELU_NEGATIVE
    return None


def _relu_forward_alternatives(case, exp):
    x = case.args[0]
    return [("out", x.max(axis=0), RELU_MAX), ("out", np.abs(x), RELU_NEGATIVE)]


def _relu_backward_alternatives(case, exp):
    x = case.args[0]
    dout = dout_for(case, x)
    return [("dx", dout * (dout > 0), RELU_GATE_ON_DOUT), ("dx", (x > 0).astype(x.dtype), RELU_FORGOT_DOUT),
            ("dx", dout * np.maximum(x, 0), RELU_TIMES_X)]


register(Exercise(
    "relu_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _relu_specs(hidden)),
    forward_reference(F.relu_forward),
    rules=COMMON_RULES + (_relu_forward_rules,),
    alternatives=_relu_forward_alternatives,
    cache=RELU_CACHE,
))

register(Exercise(
    "relu_backward", "backward", ("dx",),
    lambda base, hidden: with_gradcheck(numbered(base, _relu_backward_specs(hidden)), base,
                                        lambda rng: ((away_from_zero(rng, (3, 4), margin=0.1),), {})),
    backward_reference(F.relu_forward, F.relu_backward, ("dx",)),
    forward="relu_forward", grad_args=(0,), ref_forward=F.relu_forward,
    rules=COMMON_RULES + (_relu_backward_rules,),
    alternatives=_relu_backward_alternatives,
    only_with={"kink": RELU_KINK},
    cache=RELU_CACHE,
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


SOFTMAX_OVERFLOW = Hint(
    "softmax_overflow", "np.exp overflows for large logits (exp(1000) is inf), and a row shifted by another "
    "row's maximum can underflow to all zeros: shift each row by its own maximum; the softmax does not "
    "change when a constant is subtracted from a row (chapter 2, section 2.1.1)",
    "softmax(z) = softmax(z - max(z)) row by row; after the shift the largest exponent is exp(0) = 1",
    "shifted = logits - logits.max(axis=1, keepdims=True)", label="no max-subtraction per row (overflow)")
SOFTMAX_LOG_UNDERFLOW = Hint(
    "softmax_log_underflow", "the log of a probability that underflowed: for large logits the right class's "
    "probability can be smaller than the smallest float, so log(p) is -inf (or log(eps) if eps was added); "
    "compute the log-probabilities directly from the shifted logits",
    "log softmax(z)[k] = (z[k] - max z) - log(sum over j of exp(z[j] - max z)), which never takes the log of 0",
    "logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))", label="log of an underflowed probability")
SOFTMAX_LABELS = Hint(
    "softmax_label_indexing", "one entry per example: example n's own class y[n]. Indexing with [:, y] picks "
    "whole columns (every example's entries for every label in y)",
    "loss = -(1/N) * sum over n of log p[n, y[n]]; dlogits[n, y[n]] gets the -1, the others do not",
    "p[np.arange(N), y]   # pairs (n, y[n]), not p[:, y]", label="indexed whole columns with the labels")
SOFTMAX_GRAD_SUM = Hint(
    "softmax_grad_not_divided", "the loss is the mean over the batch, so its gradient is divided by N too",
    "dlogits = (softmax(logits) - onehot(y)) / N", "dlogits /= N", label="gradient of the sum, not the mean")
SOFTMAX_LOSS_SUM = Hint(
    "softmax_loss_sum", "the loss is the mean over the batch, not the sum",
    "loss = -(1/N) * sum over n of log softmax(logits)[n, y[n]]", "loss = float(-logp[np.arange(N), y].mean())",
    label="summed loss instead of mean")
SOFTMAX_SIGN = Hint(
    "softmax_grad_sign", "the gradient has the wrong sign: raising the right class's logit lowers the loss",
    "dlogits = (softmax(logits) - onehot(y)) / N", "dlogits[np.arange(N), y] -= 1   # p - onehot(y)",
    label="gradient sign flipped")


def _softmax_rules(case, problem):
    # overflow shows as inf/NaN (or an exception) on the large-logit cases only
    if "large" in case.tags and problem.kind in ("nan", "exception"):
        return SOFTMAX_OVERFLOW
    if "large" in case.tags and problem.output == "loss" and problem.kind == "values":
        return SOFTMAX_LOG_UNDERFLOW
    return None


def _by_columns(logits, y):
    """The loss and gradient of a learner who indexes with ``[:, y]`` (whole columns)."""
    N = logits.shape[0]
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    d = np.exp(logp)
    d[:, y] -= 1
    return float(-logp[:, y].mean()), (d / N).astype(logits.dtype)


def _softmax_alternatives(case, exp):
    logits, y = case.args
    N = logits.shape[0]
    loss_cols, d_cols = _by_columns(logits, y)
    return [("dlogits", exp["dlogits"] * N, SOFTMAX_GRAD_SUM), ("loss", exp["loss"] * N, SOFTMAX_LOSS_SUM),
            ("dlogits", -exp["dlogits"], SOFTMAX_SIGN), ("loss", loss_cols, SOFTMAX_LABELS),
            ("dlogits", d_cols, SOFTMAX_LABELS)]


def _softmax_reference(case, learner_out=None):
    loss, dlogits = F.softmax_cross_entropy(*materialize(case.args))
    return {"loss": loss, "dlogits": dlogits}


def _softmax_gradcheck(fn, case):
    from ...gradcheck import numerical_gradient, rel_error
    logits, y = materialize(case.args)
    _, dlogits = fn(logits, y)
    num = numerical_gradient(lambda: float(fn(logits, y)[0]), logits)
    d = np.asarray(dlogits)
    if d.shape != num.shape or not np.issubdtype(d.dtype, np.floating):
        return [("dlogits", float("inf"))]
    return [("dlogits", rel_error(d, num))]


def _softmax_cases(base, hidden):
    cases = with_gradcheck(numbered(base, _softmax_specs(hidden)), base,
                           lambda rng: ((randn(rng, 4, 3), rng.integers(0, 3, 4)), {}))
    if hidden:   # dlogits by finite differences: 400,000 evaluations of the loss, each over 200,000 logits
        cases = with_big_case(cases, base, lambda rng: ((randn(rng, 4, 50_000), rng.integers(0, 50_000, 4)), {}),
                              "big: N=4, K=50000")
    return cases


register(Exercise(
    "softmax_cross_entropy", "function", ("loss", "dlogits"),
    _softmax_cases,
    _softmax_reference,
    rules=COMMON_RULES + (_softmax_rules,),
    alternatives=_softmax_alternatives,
    gradcheck=_softmax_gradcheck,
))


register_set(ExerciseSet(
    "ex1_fully_connected", ("linear_forward", "linear_backward", "relu_forward", "relu_backward", "softmax_cross_entropy",),
    allowed=("nnbook.data.make_spirals",),          # the notebook's training demo
))
