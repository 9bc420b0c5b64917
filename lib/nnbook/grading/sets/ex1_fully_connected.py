"""Exercise set ex1_fully_connected (``exercises/ex1_fully_connected.ipynb``): linear, ReLU, softmax loss.

Cases, references, hint rules and what answers may not use. See :mod:`nnbook.grading.exercise`.
"""
import numpy as np

from ... import functional as F
from ..cases import away_from_zero, materialize, randn
from ..exercise import (Exercise, ExerciseSet, COMMON_RULES, backward_reference, forward_reference,
                        numbered, register, register_set, with_gradcheck)


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
    from ...gradcheck import numerical_gradient, rel_error
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


register_set(ExerciseSet(
    "ex1_fully_connected", ("linear_forward", "linear_backward", "relu_forward", "relu_backward", "softmax_cross_entropy",),
    not_available=("nnbook.functional.linear_forward", "nnbook.functional.linear_backward",
                   "nnbook.functional.relu_forward", "nnbook.functional.relu_backward",
                   "nnbook.functional.softmax_cross_entropy", "nnbook.functional.log_softmax",
                   "nnbook.naive.linear_forward", "nnbook.naive.linear_backward",
                   "nnbook.layers.Linear", "nnbook.layers.ReLU"),
))
