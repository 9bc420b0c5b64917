"""Exercise set ex1_fully_connected (``exercises/ex1_fully_connected.ipynb``): linear, ReLU, softmax loss.

Cases, references, hint rules and what answers may not use. See :mod:`nnbook.grading.judge.exercise`.
"""
import numpy as np

from ... import functional as F
from ..judge.cases import away_from_zero, materialize, randn
from ..judge.exercise import (CacheContract, Exercise, ExerciseSet, COMMON_RULES, Hint, backward_reference,
                               forward_reference, numbered, register, register_set, with_big_case, with_gradcheck)

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
        return FLATTEN
    if problem.output == "db" and problem.kind == "shape":
        return DB_NOT_SUMMED
    if problem.output == "dW" and problem.kind == "shape":
        return DW_SHAPE
    return None


def _linear_backward_alternatives(case, exp):
    N = case.args[0].shape[0]
    return [("dW", exp["dW"].T, DW_TRANSPOSED), ("db", exp["db"] / N, DB_MEAN)]


register(Exercise(
    "linear_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _linear_specs(hidden)),
    forward_reference(F.linear_forward),
    rules=COMMON_RULES + (_linear_rules,),
    alternatives=lambda case, exp: [("out", exp["out"] - case.args[2], BIAS_MISSING)],
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
    "relu_negative_kept", "negative inputs must become 0", "out[k] = max(x[k], 0), element by element",
    "out = np.maximum(x, 0)", label="kept negative values")


def _relu_backward_rules(case, problem):
    if problem.output == "dx" and problem.kind == "values":
        return RELU_GATE
    return None


def _relu_forward_rules(case, problem):
    if problem.kind == "values" and isinstance(problem.got, np.ndarray) and (problem.got < 0).any():
        return RELU_NEGATIVE
    return None


register(Exercise(
    "relu_forward", "forward", ("out",),
    lambda base, hidden: numbered(base, _relu_specs(hidden)),
    forward_reference(F.relu_forward),
    rules=COMMON_RULES + (_relu_forward_rules,),
    cache=RELU_CACHE,
))

register(Exercise(
    "relu_backward", "backward", ("dx",),
    lambda base, hidden: with_gradcheck(numbered(base, _relu_backward_specs(hidden)), base,
                                        lambda rng: ((away_from_zero(rng, (3, 4), margin=0.1),), {})),
    backward_reference(F.relu_forward, F.relu_backward, ("dx",)),
    forward="relu_forward", grad_args=(0,), ref_forward=F.relu_forward,
    rules=COMMON_RULES + (_relu_backward_rules,),
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
    "softmax_overflow", "np.exp overflows for large logits (exp(1000) is inf): shift each row first; "
    "the softmax does not change when a constant is subtracted from a row (chapter 2, section 2.1.1)",
    "softmax(z) = softmax(z - max(z)) row by row; after the shift the largest exponent is exp(0) = 1",
    "shifted = logits - logits.max(axis=1, keepdims=True)", label="no max-subtraction (overflow)")
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
    return None


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
    alternatives=lambda case, exp: [
        ("dlogits", exp["dlogits"] * case.args[0].shape[0], SOFTMAX_GRAD_SUM),
        ("loss", exp["loss"] * case.args[0].shape[0], SOFTMAX_LOSS_SUM),
        ("dlogits", -exp["dlogits"], SOFTMAX_SIGN)],
    gradcheck=_softmax_gradcheck,
))


register_set(ExerciseSet(
    "ex1_fully_connected", ("linear_forward", "linear_backward", "relu_forward", "relu_backward", "softmax_cross_entropy",),
    allowed=("nnbook.data.make_spirals",),          # the notebook's training demo
))
