"""Exercise set ex8_putting_it_together (``exercises/ex8_putting_it_together.ipynb``): the capstone.

The learner builds a pre-activation residual block (forward and backward, training and
evaluation mode) from :mod:`nnbook.functional`, assembles the small ResNet below, writes one
SGD training step and the training loop, and the grader measures the trained network.

The network (its parameters are a flat dict; :func:`init_params` makes one):

    stem    conv 3x3, 1 -> 8, padding 1, no bias          "stem.W"
    block1  residual block 8 -> 8, stride 1 (identity)    "block1.bn1.gamma", ..., "block1.conv2.W"
    block2  residual block 8 -> 16, stride 2 (projection) "block2.bn1.gamma", ..., "block2.projection.W"
    head    batch norm 16 -> ReLU -> global average pool  "bn.gamma", "bn.beta", "bn.running_mean", "bn.running_var"
            -> linear 16 -> 10                            "fc.W" (16, 10), "fc.b" (10,)

The blocks' keys are ex7's (:data:`~nnbook.grading.sets.ex7_residual.BLOCK_KEYS`) behind a prefix.

Every judge here only calls the learner's functions with arrays, numbers and dicts of arrays,
passes a cache back unopened, and only looks at plain data it gets back (arrays, numbers,
dicts and tuples of them), so the learner's functions may run in another process.
"""
import functools

import numpy as np

from ... import functional as F
from ...data import load_digits, train_test_split
from ...gradcheck import numerical_gradient, rel_error
from ...models import small_resnet
from ..judge.cases import Case, materialize, randn
from ..judge.compare import Problem, compare_output, same_values
from ..judge.exercise import Exercise, ExerciseSet, Hint, dout_for, register, register_set
from .ex7_residual import block_params, reference_block

WIDTHS = (8, 16)            # channels of block1 and block2
NUM_CLASSES = 10
ACCURACY_BAR = 0.95         # held-out test accuracy the trained network must reach
BUDGET = {"epochs": 6, "batch_size": 16, "lr": 0.1}   # what the grader asks the learner's train for
LAST_EPOCH_LR_FACTOR = 0.1  # the step schedule train() follows: the last epoch at lr / 10
VALIDATION_FRACTION = 0.1   # the share of the training digits train() holds out for its own printout
GRADCHECK_TOL = 1e-5        # as for every other gradient check of the learner's code
SHOWN_ARRAYS = 3            # a training step's feedback details this many wrong arrays, then names the rest

# names in nnbook.models.small_resnet(widths=WIDTHS) (a Sequential) -> names in the params dict
_MODEL_PREFIX = {"0": "stem", "1": "block1", "2": "block2", "3": "bn", "6": "fc"}
_BN_STATS = ("running_mean", "running_var")


# --- the network's parameters ------------------------------------------------------------------
def _he(rng, shape, fan_in):
    return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)


def _bn_init(prefix, channels):
    return {f"{prefix}.gamma": np.ones(channels), f"{prefix}.beta": np.zeros(channels),
            f"{prefix}.running_mean": np.zeros(channels), f"{prefix}.running_var": np.ones(channels)}


def _block_init(rng, prefix, in_c, out_c, stride):
    p = {**_bn_init(f"{prefix}.bn1", in_c),
         f"{prefix}.conv1.W": _he(rng, (out_c, in_c, 3, 3), 9 * in_c),
         **_bn_init(f"{prefix}.bn2", out_c),
         f"{prefix}.conv2.W": _he(rng, (out_c, out_c, 3, 3), 9 * out_c)}
    if stride != 1 or in_c != out_c:
        p[f"{prefix}.projection.W"] = _he(rng, (out_c, in_c, 1, 1), in_c)
    return p


def init_params(rng=None):
    """Initial parameters of the capstone ResNet, float64, in a flat dict.

    Convolution and linear weights are He-normal (``std = sqrt(2 / fan_in)``), biases and
    batch-norm shifts 0, batch-norm scales 1, running means 0 and running variances 1.

    Args:
        rng: a ``numpy.random.Generator`` (default ``np.random.default_rng(0)``).
    Returns:
        dict ``name -> array``: "stem.W" (8, 1, 3, 3); "block1.*" and "block2.*" keyed like a
        residual block ("bn1.gamma", ..., "conv1.W", ..., "projection.W" for block2); "bn.*" (16,);
        "fc.W" (16, 10); "fc.b" (10,).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"init_params: expected a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    c1, c2 = WIDTHS
    return {"stem.W": _he(rng, (c1, 1, 3, 3), 9),
            **_block_init(rng, "block1", c1, c1, 1),
            **_block_init(rng, "block2", c1, c2, 2),
            **_bn_init("bn", c2),
            "fc.W": _he(rng, (c2, NUM_CLASSES), c2), "fc.b": np.zeros(NUM_CLASSES)}


def is_learnable(name):
    """True for weights, biases, gammas and betas; False for the batch-norm running statistics."""
    return not name.endswith(_BN_STATS)


@functools.lru_cache(maxsize=1)
def _digits():
    return load_digits(dtype=np.float64)


def digits():
    """The digits as the notebook uses them: ``X_train, y_train, X_test, y_test``, X float64 (copies)."""
    return tuple(a.copy() for a in _digits())


# --- the reference network (nnbook.layers, float64) ----------------------------------------------
def _rename(model_name):
    head, rest = model_name.split(".", 1)
    return f"{_MODEL_PREFIX[head]}.{rest}"


def _batchnorms(model):
    """``(params prefix, BatchNorm2d)`` for every batch norm of the model, e.g. ``("block1.bn1.", bn)``."""
    return [(_rename(name)[:-len("gamma")], module) for name, module, key in model.named_parameters()
            if key == "gamma"]


def reference_model(params, training=False):
    """``nnbook.models.small_resnet(widths=(8, 16))`` in float64 with ``params`` loaded (copies)."""
    model = small_resnet(1, NUM_CLASSES, WIDTHS, 1, rng=np.random.default_rng(0), dtype=np.float64)
    for name, module, key in model.named_parameters():
        module.params[key] = np.array(params[_rename(name)], dtype=np.float64)
    for prefix, bn in _batchnorms(model):
        for stat in _BN_STATS:
            setattr(bn, stat, np.array(params[prefix + stat], dtype=np.float64))
    return model.train(training)


def _model_params(model):
    out = {_rename(name): module.params[key].copy() for name, module, key in model.named_parameters()}
    for prefix, bn in _batchnorms(model):
        for stat in _BN_STATS:
            out[prefix + stat] = getattr(bn, stat).copy()
    return out


def reference_accuracy(params, X, y, batch_size=512):
    """Accuracy of the network with ``params`` on ``(X, y)``, evaluated in eval mode by nnbook."""
    model = reference_model(params, training=False)
    pred = np.concatenate([model(X[i:i + batch_size].astype(np.float64)).argmax(axis=1)
                           for i in range(0, len(X), batch_size)])
    return float((pred == y).mean())


def reference_train_step(params, X, y, lr):
    """One plain SGD step of the reference network: ``(new params, loss before the step)``.

    The learnable arrays become ``w - lr * dL/dw``; the running statistics are those the
    training-mode forward pass left behind. ``params`` itself is not changed.
    """
    model = reference_model(params, training=True)
    logits = model(np.asarray(X, dtype=np.float64))
    loss, dlogits = F.softmax_cross_entropy(logits, y)
    model.backward(dlogits)
    new = _model_params(model)
    for name, module, key in model.named_parameters():
        new[_rename(name)] = module.params[key] - lr * module.grads[key]
    return new, loss


def reference_train(X, y, epochs, batch_size, lr, seed=0, log=print):
    """The reference answer to ``train``: init, hold out a validation part, plain SGD on shuffled
    batches, the last epoch at ``lr / 10``; prints the validation accuracy after every epoch."""
    rng = np.random.default_rng(seed)
    params = init_params(rng)
    X_fit, y_fit, X_val, y_val = train_test_split(X, y, VALIDATION_FRACTION, seed)
    for epoch in range(epochs):
        rate = lr * (LAST_EPOCH_LR_FACTOR if epoch == epochs - 1 else 1.0)
        order = rng.permutation(len(X_fit))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            params, _ = reference_train_step(params, X_fit[idx], y_fit[idx], rate)
        if log:
            log(f"epoch {epoch + 1}: validation accuracy {reference_accuracy(params, X_val, y_val):.3f}")
    return params


def reference_block_forward(x, params, stride=1, training=True):
    """The reference answer to ``residual_block_forward``: ``(out, cache)``; training mode updates
    the running statistics in ``params`` in place, as ``F.batchnorm_forward`` does."""
    in_c, out_c = x.shape[1], params["conv1.W"].shape[0]
    block = reference_block(in_c, out_c, stride, params).train(training)
    out = block(x.astype(np.float64)).astype(x.dtype)
    for bn in ("bn1", "bn2"):
        for stat in _BN_STATS:
            params[f"{bn}.{stat}"][...] = getattr(getattr(block, bn), stat)
    return out, block


def reference_block_backward(dout, cache):
    """The reference answer to ``residual_block_backward``: ``(dx, dparams)``."""
    block = cache
    dx = block.backward(dout.astype(np.float64)).astype(dout.dtype)
    return dx, {name: module.grads[key].astype(dout.dtype) for name, module, key in block.named_parameters()}


# --- checking what came back ------------------------------------------------------------------------
def _forward_pair(result, who):
    if not isinstance(result, tuple) or len(result) != 2:
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        return Problem("structure", "out", f"{who} returned {got}; expected (out, cache)")
    return None


def _params_problems(got, expected, what):
    """Problems when ``got`` is not a dict with exactly the arrays of ``expected`` (same shapes)."""
    if not isinstance(got, dict):
        return [Problem("structure", "params", f"{what} is a {type(got).__name__}; expected a dict "
                        "name -> array like init_params()")]
    problems = []
    missing = [k for k in expected if k not in got]
    if missing:
        problems.append(Problem("structure", "params", f"{what} has no {', '.join(map(repr, missing[:4]))}"
                                + (f" (and {len(missing) - 4} more)" if len(missing) > 4 else "")))
    for k in expected:
        if k in got:
            v = got[k]
            if not isinstance(v, np.ndarray) or v.shape != expected[k].shape:
                shape = getattr(v, "shape", type(v).__name__)
                problems.append(Problem("shape", k, f"{what}[{k!r}]: expected an array of shape "
                                        f"{expected[k].shape}, got {shape}"))
            elif not np.issubdtype(v.dtype, np.floating):
                problems.append(Problem("dtype", k, f"{what}[{k!r}]: expected floats, got dtype {v.dtype}"))
    return problems


def _numbered(base, specs, gradcheck_from=None):
    cases = []
    for i, (name, build, tags) in enumerate(specs):
        args, kwargs = build(np.random.default_rng(base + i))
        gc = gradcheck_from is not None and i >= gradcheck_from
        cases.append(Case(name, tuple(args), kwargs, frozenset(tags) | ({"gradcheck"} if gc else set()),
                          seed=base + i, gradcheck=gc))
    return cases


# --- exercise 1: the block's forward pass ----------------------------------------------------------
def _block_specs(hidden):
    def build(N, in_c, out_c, H, W, stride, training):
        def b(rng):
            x = randn(rng, N, in_c, H, W)
            return (x, block_params(rng, in_c, out_c, stride), stride), {"training": training}
        return b
    if hidden:
        return [("3 -> 5 channels, stride 2, 5x6, training", build(2, 3, 5, 5, 6, 2, True), {"projection"}),
                ("5 -> 5 channels, stride 1, eval", build(3, 5, 5, 4, 4, 1, False), {"eval"})]
    return [("4 -> 4 channels, stride 1 (identity), training", build(4, 4, 4, 6, 6, 1, True), ()),
            ("4 -> 4 channels, stride 1 (identity), eval", build(2, 4, 4, 6, 6, 1, False), {"eval"}),
            ("4 -> 8 channels, stride 1 (projection), training", build(4, 4, 8, 6, 6, 1, True), {"projection"}),
            ("4 -> 8 channels, stride 2 (projection), training", build(4, 4, 8, 6, 6, 2, True), {"projection"}),
            ("3 -> 6 channels, stride 2, odd size 7x7, eval", build(2, 3, 6, 7, 7, 2, False),
             {"projection", "eval"}),
            ("batch 2, 2 -> 2 channels, training", build(2, 2, 2, 4, 4, 1, True), ())]


def _block_out(case, training):
    x, params, stride = materialize(case.args)
    return reference_block_forward(x, params, stride, training)[0]


def _judge_block_forward(fn, forward, case):
    x, params, stride = materialize(case.args)
    training = case.kwargs["training"]
    result = fn(x, params, stride, training=training)
    problem = _forward_pair(result, "resnet_block_forward")
    if problem:
        return [problem]
    p = compare_output("out", _block_out(case, training), result[0])
    return [p] if p else []


HINT_BLOCK_MODE = Hint(
    "block_train_eval_mode",
    "batch norm has two modes: in training it normalizes with the batch's own mean and variance, "
    "in evaluation with the running estimates; your output matches the other mode "
    "(../book/06_batch_norm.ipynb, section \"Training mode and evaluation mode\")",
    "training: (x - batch mean) / sqrt(batch var + eps); eval: (x - running_mean) / sqrt(running_var + eps)",
    "F.batchnorm_forward(x, gamma, beta, running_mean, running_var, training=training)")
HINT_PROJECTION_INPUT = Hint(
    "block_projection_of_x",
    "in a pre-activation block the projection shortcut sees the pre-activated input, the same "
    "relu(bn1(x)) the residual branch starts from, not the raw x (../book/07_residual.ipynb, sections "
    "\"Projection shortcuts\" and \"Pre-activation\")",
    "shortcut = W_proj * h (1x1, stride s), h = relu(bn1(x))",
    "skip = F.conv2d_forward(h, params['projection.W'], None, stride, 0)[0]")
HINT_NO_SHORTCUT = Hint(
    "block_no_shortcut",
    "a residual block adds its shortcut to the branch's output: out = F(x) + shortcut "
    "(../book/07_residual.ipynb, section \"Residual learning\")",
    "out = conv2(relu(bn2(conv1(h)))) + shortcut",
    "out = branch + skip")


def _block_variants(case):
    """Outputs of the usual wrong blocks for this case: ``(hint, out)``."""
    x, params, stride = materialize(case.args)
    training = case.kwargs["training"]
    block = reference_block(x.shape[1], params["conv1.W"].shape[0], stride, params).train(training)
    h = np.maximum(block.bn1(x), 0)
    branch = block.conv2(np.maximum(block.bn2(block.conv1(h)), 0))
    variants = [(HINT_BLOCK_MODE, _block_out(case, not training)), (HINT_NO_SHORTCUT, branch)]
    if "projection.W" in params:
        variants.append((HINT_PROJECTION_INPUT,
                         branch + F.conv2d_forward(x, params["projection.W"], None, stride, 0)[0]))
    return variants


def _block_forward_rule(case, problem):
    if problem.kind != "values" or problem.output != "out":
        return None
    for hint, out in _block_variants(case):
        if same_values(out, problem.got):
            return hint
    return None


register(Exercise(
    "resnet_block_forward", "function", ("out",),
    lambda base, hidden: _numbered(base, _block_specs(hidden)),
    None,
    rules=(_block_forward_rule,),
    judge=_judge_block_forward,
))


# --- exercise 2: the block's backward pass ---------------------------------------------------------
def _block_backward_cases(base, hidden):
    specs = _block_specs(hidden)
    train_specs = [s for s in specs if "eval" not in s[2]]
    grad_specs = [] if hidden else [
        ("numerical gradient, identity shortcut (float64)",
         lambda rng: ((randn(rng, 2, 3, 5, 5), block_params(rng, 3, 3, 1), 1), {"training": True}), ()),
        ("numerical gradient, projection, stride 2 (float64)",
         lambda rng: ((randn(rng, 2, 2, 6, 6), block_params(rng, 2, 4, 2), 2), {"training": True}),
         {"projection"})]
    return _numbered(base, train_specs + grad_specs, gradcheck_from=len(train_specs))



def _learner_backward(fn, forward, x, params, stride, dout):
    """The learner's forward (training mode), then backward: ``(out, dx, dparams)`` or a list of Problems."""
    fres = forward(x, params, stride, training=True)
    problem = _forward_pair(fres, "your resnet_block_forward")
    if problem:
        return [Problem("structure", "forward", problem.message + " (backward needs its cache)")]
    result = fn(dout.copy(), fres[1])
    if not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[1], dict):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        if isinstance(result, tuple) and len(result) == 2:
            got = f"(dx, a {type(result[1]).__name__})"
        return [Problem("structure", "dx", f"resnet_block_backward returned {got}; expected (dx, dparams) "
                        "with dparams a dict keyed like params")]
    return fres[0], result[0], result[1]


def _judge_block_backward(fn, forward, case):
    x, params, stride = materialize(case.args)
    ref_out, block = reference_block_forward(*materialize(case.args), training=True)
    dout = (np.random.default_rng(case.seed).standard_normal(ref_out.shape) if case.gradcheck
            else dout_for(case, ref_out))
    learner = _learner_backward(fn, forward, x, params, stride, dout)
    if isinstance(learner, list):
        return learner
    out, dx, dparams = learner
    problems = []
    if compare_output("out", ref_out, out):
        problems.append(Problem("forward", "forward", "your resnet_block_forward gives a wrong output in this "
                                "case (training mode): fix it first, backward works on its cache"))
    if case.gradcheck:
        return problems + _block_gradcheck(case, dout, dx, dparams)
    ref_dx, ref_dparams = reference_block_backward(dout, block)
    shape_problems = _params_problems(dparams, ref_dparams, "dparams")
    if shape_problems:
        return problems + shape_problems
    problems += [p for p in [compare_output("dx", ref_dx, dx)] if p]
    problems += [p for k in ref_dparams if (p := compare_output(f"dparams[{k!r}]", ref_dparams[k], dparams[k]))]
    return problems


def _block_gradcheck(case, dout, dx, dparams):
    """The learner's gradients against centered differences of the reference block (training mode)."""
    x, params, stride = materialize(case.args)
    block = reference_block(x.shape[1], params["conv1.W"].shape[0], stride, params).train()
    live = {name: module.params[key] for name, module, key in block.named_parameters()}   # nudged in place
    problems = _params_problems(dparams, live, "dparams")
    if problems:
        return problems
    checks = [("dx", x, dx)] + [(f"dparams[{k!r}]", live[k], dparams[k]) for k in live]
    for name, arr, g in checks:
        if not isinstance(g, np.ndarray) or g.shape != arr.shape:
            problems.append(Problem("shape", name, f"{name}: expected shape {arr.shape}, "
                                    f"got {getattr(g, 'shape', type(g).__name__)}"))
            continue
        num = numerical_gradient(lambda: block(x), arr, dout)
        err = rel_error(g, num)
        if not err <= GRADCHECK_TOL:
            problems.append(Problem("gradcheck", name, f"{name}: disagrees with the numerical gradient "
                                    f"(relative error {err:.2g})", num, g))
    return problems


HINT_SHORTCUT_GRADIENT = Hint(
    "block_shortcut_gradient",
    "x reaches the output along two paths, the residual branch and the shortcut, so its gradient "
    "is the sum of the gradients along both (../book/07_residual.ipynb, section \"Residual learning\")",
    "dL/dx = (dL/dx through the branch) + (dL/dx through the shortcut)",
    "dx = dx_branch + dout   # identity shortcut")
HINT_PROJECTION_GRADIENT = Hint(
    "block_projection_gradient",
    "with a projection the shortcut starts at h = relu(bn1(x)), the same h the branch starts from, so "
    "the two gradients join at h, before the backward pass of that relu and bn1 (../book/07_residual.ipynb, "
    "section \"Projection shortcuts\")",
    "dL/dh = (through conv1) + (through the projection)",
    "dh = dh_branch + dh_projection")
HINT_BLOCK_GRADIENT = Hint(
    "block_backward_order",
    "go through the forward pass in reverse order: each step's backward takes the gradient of that "
    "step's output and the cache that same step returned (../book/07_residual.ipynb)",
    "dout -> conv2 -> relu -> bn2 -> conv1 -> (+ shortcut) -> relu -> bn1 -> dx",
    "da, dW2, _ = F.conv2d_backward(dout, cache_conv2)")


def _block_backward_rule(case, problem):
    if problem.kind not in ("values", "gradcheck"):
        return None
    if "projection" in case.tags and (problem.output == "dx" or "bn1." in problem.output):
        return HINT_PROJECTION_GRADIENT
    if problem.output == "dx":
        return HINT_SHORTCUT_GRADIENT
    return HINT_BLOCK_GRADIENT


register(Exercise(
    "resnet_block_backward", "backward", ("dx", "dparams"),
    _block_backward_cases,
    None,
    forward="resnet_block_forward",
    rules=(_block_backward_rule,),
    judge=_judge_block_backward,
))


# --- exercise 3: one training step --------------------------------------------------------------
def _perturbed_params(rng):
    """init_params with batch-norm scales, shifts and statistics moved off 1 and 0 (so that mistakes show)."""
    p = init_params(rng)
    for k in p:
        if k.endswith(".gamma"):
            p[k] = 1 + 0.2 * rng.standard_normal(p[k].shape)
        elif k.endswith((".beta", ".running_mean", "fc.b")):
            p[k] = 0.2 * rng.standard_normal(p[k].shape)
        elif k.endswith(".running_var"):
            p[k] = rng.uniform(0.5, 1.5, p[k].shape)
    return p


def _train_step_cases(base, hidden):
    X, y, _, _ = digits()
    specs = [("8 digits, lr 0.05", 8, 0.05), ("2 digits, lr 1.0", 2, 1.0)] if hidden else \
        [("16 digits, lr 0.1", 16, 0.1), ("32 digits, lr 0.5", 32, 0.5), ("5 digits, lr 0.01", 5, 0.01)]
    cases = []
    for i, (name, n, lr) in enumerate(specs):
        rng = np.random.default_rng(base + i)
        idx = rng.choice(len(X), n, replace=False)
        cases.append(Case(name, (_perturbed_params(rng), X[idx], y[idx], lr), {}, frozenset(), seed=base + i))
    return cases


def _judge_train_step(fn, forward, case):
    params0, X, y, lr = case.args
    result = fn(*materialize(case.args))
    if not isinstance(result, tuple) or len(result) != 2:
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        return [Problem("structure", "params", f"train_step returned {got}; expected (params, loss)")]
    new, loss = result
    ref_new, ref_loss = reference_train_step(params0, X, y, lr)
    problems = _params_problems(new, ref_new, "the returned params")
    if problems:
        return problems
    if (p := compare_output("loss", ref_loss, loss)):
        problems.append(p)
    wrong = []
    for k in ref_new:
        if is_learnable(k):
            p = compare_output(f"change of {k!r}", ref_new[k] - params0[k], new[k] - params0[k])
        else:
            p = compare_output(k, ref_new[k], new[k])
        if p:
            wrong.append(p)
    if len(wrong) > SHOWN_ARRAYS:      # the first few say what is wrong; the rest only by name
        rest = [p.output.replace("change of ", "").strip("'") for p in wrong[SHOWN_ARRAYS:]]
        wrong = wrong[:SHOWN_ARRAYS] + [Problem("more", "params", f"... and {len(rest)} more arrays are off: "
                                                + ", ".join(rest))]
    return problems + wrong


HINT_SGD_SIGN = Hint(
    "sgd_sign",
    "the weights moved uphill: the gradient points where the loss grows, so a descent step goes the "
    "opposite way (../book/02_training.ipynb, section \"Mini-batch SGD\")",
    "w_new = w - lr * dL/dw",
    "params[k] = params[k] - lr * grads[k]")
HINT_SGD_NOT_APPLIED = Hint(
    "sgd_not_applied",
    "this array did not change: every weight, bias, gamma and beta takes a step, and the returned "
    "params must hold the updated arrays (../book/02_training.ipynb, section \"Mini-batch SGD\")",
    "w_new = w - lr * dL/dw for every learnable array",
    "for k in grads: new_params[k] = params[k] - lr * grads[k]")
HINT_SGD_LR = Hint(
    "sgd_learning_rate",
    "the step has the right direction but the wrong length: it is the gradient scaled by the learning "
    "rate (../book/02_training.ipynb, section \"Mini-batch SGD\")",
    "w_new = w - lr * dL/dw",
    "params[k] - lr * grads[k]")
HINT_SGD_GRADIENT = Hint(
    "sgd_wrong_gradient",
    "the step is not -lr times the gradient of this batch's loss: check that the network's backward "
    "goes through every layer in reverse (head, block2, block1, stem) with each layer's own cache, "
    "and that resnet_block_backward passes its checks",
    "change = -lr * dL/dw, with L the mean cross-entropy of the batch",
    "for key, value in dparams2.items(): grads['block2.' + key] = value")
HINT_STEP_LOSS = Hint(
    "train_step_loss",
    "the loss is the mean softmax cross-entropy of this batch, computed by the training-mode forward "
    "pass before the update (../book/02_training.ipynb, section \"Softmax and cross-entropy\")",
    "L = -(1/N) sum_n log softmax(z_n)[y_n]",
    "loss, dlogits = F.softmax_cross_entropy(logits, y_batch)")
HINT_RUNNING_STATS = Hint(
    "bn_running_stats_not_updated",
    "the running statistics must be what the training-mode forward pass left in them: "
    "F.batchnorm_forward(..., training=True) updates the arrays you pass in place, so pass the arrays "
    "of params themselves and return them (../book/06_batch_norm.ipynb, section \"Training mode and "
    "evaluation mode\")",
    "running = (1 - momentum) * running + momentum * batch statistic, momentum = 0.1",
    "F.batchnorm_forward(x, p['bn1.gamma'], p['bn1.beta'], p['bn1.running_mean'], p['bn1.running_var'], "
    "training=True)")


def _train_step_rule(case, problem):
    if problem.output == "loss" and problem.kind == "values":
        return HINT_STEP_LOSS
    if problem.output.endswith(_BN_STATS) and problem.kind == "values":
        return HINT_RUNNING_STATS
    if problem.kind != "values" or not problem.output.startswith("change of"):
        return None
    expected, got, lr = problem.expected, problem.got, case.args[3]
    if not np.any(got):
        return HINT_SGD_NOT_APPLIED
    if same_values(-expected, got):
        return HINT_SGD_SIGN
    if lr != 1 and (same_values(expected / lr, got) or same_values(-expected / lr, got)):
        return HINT_SGD_LR
    return HINT_SGD_GRADIENT


register(Exercise(
    "resnet_train_step", "function", ("params", "loss"),
    _train_step_cases,
    None,
    rules=(_train_step_rule,),
    judge=_judge_train_step,
))


# --- exercise 4: training, measured by the grader ------------------------------------------------
def _train_cases(base, hidden):
    budget = ", ".join(f"{k}={v}" for k, v in BUDGET.items())
    seeds = (1,) if hidden else (0,)
    return [Case(f"train(X_train, y_train, {budget}, seed={s}): test accuracy >= {ACCURACY_BAR:.0%}",
                 (), {**BUDGET, "seed": s}, frozenset(), seed=base + i) for i, s in enumerate(seeds)]


def _judge_train(fn, forward, case):
    X, y, X_test, y_test = digits()
    params = fn(X, y, **case.kwargs)
    expected = init_params(np.random.default_rng(case.kwargs["seed"]))
    problems = _params_problems(params, expected, "the returned params")
    if problems:
        return problems
    bad = [k for k in expected if not np.isfinite(params[k]).all()]
    if bad:
        return [Problem("nan", bad[0], f"params[{bad[0]!r}] holds NaN or inf: training diverged")]
    acc = reference_accuracy(params, X_test, y_test)
    if acc >= ACCURACY_BAR:
        return []
    accuracy = Problem("accuracy", "accuracy", f"the grader evaluated your params (eval mode) on the "
                       f"{len(y_test)} held-out test digits: accuracy {acc:.1%}, below the bar of "
                       f"{ACCURACY_BAR:.0%}", ACCURACY_BAR, acc)
    problems = []      # what explains the low accuracy comes first, so its hint is the first one
    learnable = [k for k in expected if is_learnable(k)]
    if all(np.array_equal(params[k], expected[k]) for k in learnable):
        problems.append(Problem("untrained", "params", "every weight still equals its initial value "
                                f"(init_params(np.random.default_rng({case.kwargs['seed']})))"))
    elif all(np.array_equal(params[k], expected[k]) for k in expected if not is_learnable(k)):
        problems.append(Problem("running_stats", "params", "every batch-norm running mean is still 0 "
                                "and every running variance 1"))
    return problems + [accuracy]


HINT_UNTRAINED = Hint(
    "train_returns_initial_params",
    "the weights you returned were never trained: each step returns new params, and the next step "
    "and the final return must use those (../book/02_training.ipynb, section \"Mini-batch SGD\")",
    "for each epoch, for each batch: params <- train_step(params, batch)",
    "params, loss = train_step(params, X_batch, y_batch, lr)")
HINT_TRAIN_STATS = Hint(
    "train_running_stats",
    "evaluation mode normalizes with the running statistics, and yours were never updated: the "
    "training-mode forward pass must update the arrays that end up in the returned params "
    "(../book/06_batch_norm.ipynb, section \"Training mode and evaluation mode\")",
    "running = (1 - momentum) * running + momentum * batch statistic",
    "F.batchnorm_forward(x, ..., params['bn.running_mean'], params['bn.running_var'], training=True)")
HINT_LOW_ACCURACY = Hint(
    "train_low_accuracy",
    "training ran but the network is not good enough: check that train_step passes its checks, that "
    "every epoch visits every training example once, in a new shuffled order, in mini-batches of "
    "batch_size, and that only the last epoch uses lr / 10 (../book/02_training.ipynb, sections "
    "\"Mini-batch SGD\" and \"Learning-rate schedules\")",
    "steps per epoch = ceil(N / batch_size); rate = lr, and lr / 10 in the last epoch",
    "order = rng.permutation(len(X_fit)); batch = order[start:start + batch_size]")


HINT_DIVERGED = Hint(
    "train_diverged",
    "the loss blew up: with the given learning rate a correct step does not diverge, so look for a "
    "step with the wrong sign or a gradient that is too large (check train_step first)",
    "w_new = w - lr * dL/dw",
    "")


def _train_rule(case, problem):
    return {"untrained": HINT_UNTRAINED, "running_stats": HINT_TRAIN_STATS, "nan": HINT_DIVERGED,
            "accuracy": HINT_LOW_ACCURACY}.get(
        problem.kind)


register(Exercise(
    "resnet_train", "function", ("params",),
    _train_cases,
    None,
    rules=(_train_rule,),
    judge=_judge_train,
))


register_set(ExerciseSet(
    "ex8_putting_it_together",
    ("resnet_block_forward", "resnet_block_backward", "resnet_train_step", "resnet_train"),
    # the building blocks the notebook names ("What answers may use"), nnbook.data, and the setup cell's
    # init_params; scikit-learn: nnbook.data.load_digits reads the digits shipped with it
    allowed=("nnbook.functional.conv2d_forward", "nnbook.functional.conv2d_backward",
             "nnbook.functional.batchnorm_forward", "nnbook.functional.batchnorm_backward",
             "nnbook.functional.relu_forward", "nnbook.functional.relu_backward",
             "nnbook.functional.avgpool2d_forward", "nnbook.functional.avgpool2d_backward",
             "nnbook.functional.linear_forward", "nnbook.functional.linear_backward",
             "nnbook.functional.softmax_cross_entropy", "nnbook.data",
             "nnbook.grading.sets.ex8_putting_it_together.init_params"),
    packages=("scikit-learn",),
))
