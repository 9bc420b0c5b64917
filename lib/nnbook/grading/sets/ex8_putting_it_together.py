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

How each function is judged, so that one mistake costs points once:

- ``residual_block_forward``: its output, the running statistics it updates, and its cache,
  which has a fixed format (:data:`CACHE_PARTS`): the tuple of the caches that
  ``nnbook.functional``'s functions returned, in forward order.
- ``residual_block_backward``: on the cache of the *reference* forward in that format, so a
  wrong forward never costs the backward its points.
- ``train_step``: against nnbook's step; when the learner's block failed its own check, a step
  that is right *around the learner's block* (the block as it was at its check) passes too.
- ``train``: the grader draws its own split of the digits from the grading seed and renames
  the ten classes for every call (:func:`grading_split`), so only weights learned from the
  ``(X, y)`` given reach the bar; while grading, the kernel's ``nnbook.data.load_digits``
  serves only the grader's training part (:mod:`nnbook.grading.run.served_data`). The part
  ``train`` trains on comes in class order, so a loop that does not shuffle fails; the
  validation accuracy ``train`` reports is checked against the grader's own measurement.

Every judge here only calls the learner's functions with arrays, numbers and dicts of arrays,
and only looks at plain data it gets back (arrays, numbers, dicts and tuples of them), so the
learner's functions may run in another process.
"""
import functools
import re
import time
from dataclasses import dataclass

import numpy as np

from ... import functional as F
from ...data import load_digits, train_test_split
from ...gradcheck import numerical_gradient, rel_error
from ...models import small_resnet
from ..judge.cases import Case, materialize, randn
from ..judge.compare import Problem, compare_output, same_values
from ..judge.exercise import _GRADING_SEED, Exercise, ExerciseSet, Hint, dout_for, register, register_set
from ..judge.feedback import Verdict
from ..judge.session import current as current_session
from ..run import served_data
from .ex7_residual import block_params, reference_block

WIDTHS = (8, 16)            # channels of block1 and block2
NUM_CLASSES = 10
ACCURACY_BAR = 0.93         # held-out accuracy the trained network must reach (honest loops: 94-99 %)
BUDGET = {"epochs": 6, "batch_size": 16, "lr": 0.1}   # what the grader asks the learner's train for
LAST_EPOCH_LR_FACTOR = 0.1  # the step schedule train() follows: the last epoch at lr / 10
VALIDATION_FRACTION = 0.1   # the share of its (X, y) that train() holds out for validation
VALIDATION_TOL = 1e-6       # how close the reported validation accuracy must be to the grader's
HELD_OUT = 359              # digits the grader keeps for measuring (a fifth of the 1,797)
GRADCHECK_TOL = 1e-5        # as for every other gradient check of the learner's code
SHOWN_ARRAYS = 3            # a training step's feedback details this many wrong arrays, then names the rest
CACHE_PARTS = ("bn1", "relu1", "conv1", "bn2", "relu2", "conv2", "projection")

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


# --- the digits ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _digits():
    return load_digits(dtype=np.float64)


def digits():
    """The digits as ``nnbook.data.load_digits`` splits them: ``X_train, y_train, X_test, y_test``,
    X float64 (copies). The training step's cases are drawn from them."""
    return tuple(a.copy() for a in _digits())


@functools.lru_cache(maxsize=1)
def _all_digits():
    Xa, ya, Xb, yb = _digits()
    return np.concatenate([Xa, Xb]), np.concatenate([ya, yb])


@dataclass(frozen=True)
class Split:
    """The digits of one grading run (or of the notebook's check), as :func:`grading_split` draws them.

    Attributes:
        X_train, y_train: the grader's training part (1,438 digits), true labels.
        X_held, y_held: the held-out part (359 digits) that trained networks are measured on.
        names: ``{"visible": perm, "hidden": perm, "kernel": perm}``: how the ten classes are
            renamed for the visible train case, the hidden one and the kernel's ``load_digits``
            (class ``c`` is called ``perm[c]``).
    """
    X_train: np.ndarray
    y_train: np.ndarray
    X_held: np.ndarray
    y_held: np.ndarray
    names: dict


def _renamings(rng, count, avoid):
    """``count`` permutations of the ten classes that name every class differently from each other and
    from every permutation in ``avoid`` (so weights fit to one naming score near 0 under another)."""
    found = []
    while len(found) < count:
        p = rng.permutation(NUM_CLASSES)
        if all(np.all(p != q) for q in list(avoid) + found):
            found.append(p)
    return found


@functools.lru_cache(maxsize=16)
def grading_split(seed=None):
    """The capstone's data for the grading run with ``seed`` (``nnbook grade --seed``), or, with
    ``seed=None``, for ``check()`` in the notebook (always the same).

    A random fifth of the 1,797 digits is held out; the classes are renamed by permutations that
    move every class (no digit keeps its label) and that differ from the notebook's at every class.
    Returns a :class:`Split`.
    """
    X, y = _all_digits()
    if seed is None:
        rng, avoid = np.random.default_rng([8, 0]), [np.arange(NUM_CLASSES)]
    else:
        notebook = grading_split(None).names
        rng = np.random.default_rng([8, 1, int(seed) % 2 ** 63])
        avoid = [np.arange(NUM_CLASSES), notebook["visible"], notebook["hidden"], notebook["kernel"]]
    order = rng.permutation(len(X))
    held, train = order[:HELD_OUT], order[HELD_OUT:]
    visible, hidden, kernel = _renamings(rng, 3, avoid)
    return Split(X[train], y[train], X[held], y[held], {"visible": visible, "hidden": hidden, "kernel": kernel})


def _run_seed():
    """The grading run's seed, or None outside grading (the notebook's check)."""
    return _GRADING_SEED.get()


def train_data(split, naming, seed):
    """What the grader gives ``train``: ``(X, y, validation positions)``.

    X, y are the split's training part with the classes renamed by ``split.names[naming]``, ordered
    so that ``train_test_split(X, y, VALIDATION_FRACTION, seed)`` holds out a random tenth and
    leaves the rest **in class order**: a loop that does not shuffle trains on one class at a time.
    """
    y_named = split.names[naming][split.y_train]
    n = len(y_named)
    order = np.random.default_rng(seed).permutation(n)       # what train_test_split will draw
    n_val = int(round(n * VALIDATION_FRACTION))
    val_pos, fit_pos = order[:n_val], order[n_val:]
    rest = n_val + np.argsort(y_named[n_val:], kind="stable")   # the split's part is already in random order
    X, y = np.empty_like(split.X_train), np.empty_like(y_named)
    X[val_pos], y[val_pos] = split.X_train[:n_val], y_named[:n_val]
    X[fit_pos], y[fit_pos] = split.X_train[rest], y_named[rest]
    return X, y, val_pos


def kernel_digits(seed):
    """What ``load_digits`` gives the kernel while this set is graded with ``seed``: the grader's
    training part only, with the kernel's own renaming of the classes (pixels 0-16, labels)."""
    split = grading_split(seed)
    pixels = np.rint(split.X_train[:, 0] * 16).astype(np.uint8)
    return pixels, split.names["kernel"][split.y_train]


served_data.register("ex8_putting_it_together", kernel_digits)


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


def logits_of(params, X, batch_size=512, training=False, block_forward=None):
    """Logits of the network with ``params`` for ``X`` (eval mode unless ``training``; in training
    mode the whole of X is one batch, and ``params`` is not changed). With ``block_forward``, the
    network's two residual blocks are computed by that function (a learner's block) instead of
    nnbook's."""
    if block_forward is not None:
        if training:
            return _logits_with_block(params, X, block_forward, True)
        return np.concatenate([_logits_with_block(params, X[i:i + batch_size], block_forward, False)
                               for i in range(0, len(X), batch_size)])
    model = reference_model(params, training=training)
    if training:
        return model(np.asarray(X, dtype=np.float64))
    return np.concatenate([model(X[i:i + batch_size].astype(np.float64)) for i in range(0, len(X), batch_size)])


def _logits_with_block(params, X, block_forward, training):
    p = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    out = F.conv2d_forward(np.asarray(X, dtype=np.float64), p["stem.W"], None, 1, 1)[0]
    for name, stride in (("block1", 1), ("block2", 2)):
        result = block_forward(out, {k[len(name) + 1:]: v for k, v in p.items() if k.startswith(name + ".")},
                               stride, training=training)
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], np.ndarray)):
            raise TypeError("the block did not return (out, cache)")
        out = result[0]
    a = F.batchnorm_forward(out, p["bn.gamma"], p["bn.beta"], p["bn.running_mean"], p["bn.running_var"],
                            training=training)[0]
    a = F.relu_forward(a)[0]
    a = F.avgpool2d_forward(a, a.shape[2:])[0]
    return F.linear_forward(a, p["fc.W"], p["fc.b"])[0]


def predict(params, X, batch_size=512, training=False, block_forward=None):
    """Class predictions of the network with ``params`` for ``X`` (see :func:`logits_of`)."""
    return logits_of(params, X, batch_size, training, block_forward).argmax(axis=1)


def measure(params, X, y, training=False, block_forward=None):
    """``(accuracy, mean cross-entropy)`` of the network with ``params`` on ``(X, y)`` (eval mode unless
    ``training``), as ``train`` reports them for its validation part."""
    logits = logits_of(params, X, training=training, block_forward=block_forward)
    return float(np.mean(logits.argmax(axis=1) == y)), float(F.softmax_cross_entropy(logits, y)[0])


def reference_accuracy(params, X, y, batch_size=512):
    """Accuracy of the network with ``params`` on ``(X, y)``, evaluated in eval mode by nnbook."""
    return float((predict(params, X, batch_size) == y).mean())


def reference_train_step(params, X, y, lr, training=True):
    """One plain SGD step of the reference network: ``(new params, loss before the step)``.

    The learnable arrays become ``w - lr * dL/dw``; the running statistics are those the
    training-mode forward pass left behind. ``params`` itself is not changed. (``training=False``
    gives the step of a forward pass in evaluation mode, a mistake the hints recognize.)
    """
    model = reference_model(params, training=training)
    logits = model(np.asarray(X, dtype=np.float64))
    loss, dlogits = F.softmax_cross_entropy(logits, y)
    model.backward(dlogits)
    new = _model_params(model)
    for name, module, key in model.named_parameters():
        new[_rename(name)] = module.params[key] - lr * module.grads[key]
    return new, loss


def reference_train(X, y, epochs, batch_size, lr, seed=0, log=print, shuffle=True):
    """The reference answer to ``train``: init, hold out a validation part, plain SGD on shuffled
    batches, the last epoch at ``lr / 10``; measures (and prints) the validation loss and accuracy
    after every epoch. Returns ``(params, history)``, ``history["val_loss"]`` and
    ``history["val_accuracy"]`` one float per epoch. (``shuffle=False`` visits the examples in
    the order they come, a mistake the hints recognize.)"""
    rng = np.random.default_rng(seed)
    params = init_params(rng)
    X_fit, y_fit, X_val, y_val = train_test_split(X, y, VALIDATION_FRACTION, seed)
    history = {"val_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        rate = lr * (LAST_EPOCH_LR_FACTOR if epoch == epochs - 1 else 1.0)
        order = rng.permutation(len(X_fit)) if shuffle else np.arange(len(X_fit))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            params, _ = reference_train_step(params, X_fit[idx], y_fit[idx], rate)
        accuracy, loss = measure(params, X_val, y_val)
        history["val_loss"].append(loss)
        history["val_accuracy"].append(accuracy)
        if log:
            log(f"epoch {epoch + 1}: validation loss {loss:.3f}, accuracy {accuracy:.3f}")
    return params, history


# --- the reference block: nnbook.functional, with the cache the exercise fixes ------------------
def reference_block_forward(x, params, stride=1, training=True):
    """The reference answer to ``residual_block_forward``: ``(out, cache)``, the cache being the tuple
    of the caches of the seven steps (:data:`CACHE_PARTS`; ``None`` for the projection of an
    identity block). Training mode updates the running statistics in ``params`` in place."""
    def bn(v, name):
        return F.batchnorm_forward(v, params[name + ".gamma"], params[name + ".beta"],
                                   params[name + ".running_mean"], params[name + ".running_var"],
                                   training=training)
    a, bn1 = bn(x, "bn1")
    h, relu1 = F.relu_forward(a)
    a, conv1 = F.conv2d_forward(h, params["conv1.W"], None, stride, 1)
    a, bn2 = bn(a, "bn2")
    a, relu2 = F.relu_forward(a)
    branch, conv2 = F.conv2d_forward(a, params["conv2.W"], None, 1, 1)
    projection = None
    skip = x
    if "projection.W" in params:
        skip, projection = F.conv2d_forward(h, params["projection.W"], None, stride, 0)
    return branch + skip, (bn1, relu1, conv1, bn2, relu2, conv2, projection)


def reference_block_backward(dout, cache):
    """The reference answer to ``residual_block_backward``: ``(dx, dparams)`` from a cache in the
    format of :func:`reference_block_forward`."""
    bn1, relu1, conv1, bn2, relu2, conv2, projection = cache
    dparams = {}
    da, dparams["conv2.W"], _ = F.conv2d_backward(dout, conv2)
    da = F.relu_backward(da, relu2)
    da, dparams["bn2.gamma"], dparams["bn2.beta"] = F.batchnorm_backward(da, bn2)
    dh, dparams["conv1.W"], _ = F.conv2d_backward(da, conv1)
    if projection is not None:
        dh_skip, dparams["projection.W"], _ = F.conv2d_backward(dout, projection)
        dh = dh + dh_skip
    da = F.relu_backward(dh, relu1)
    dx, dparams["bn1.gamma"], dparams["bn1.beta"] = F.batchnorm_backward(da, bn1)
    if projection is None:
        dx = dx + dout
    return dx, dparams


def _copy(value):
    """A deep copy of plain data (tuples, dicts, arrays; other values as they are)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


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


_SHAPES = re.compile(r"shapes \(([\d, ]*)\) \(([\d, ]*)\)")


def _exception_text(problem):
    """The problem's text and, for a learner's exception, NumPy's own message (the problem's text
    rewords it in the learner's terms; see judge/errors.py)."""
    facts = getattr(problem, "facts", None)
    return problem.message if facts is None else f"{problem.message}\n{facts.message}"


def _broadcast_shapes(message):
    """The two operand shapes of NumPy's "operands could not be broadcast together" message, or None."""
    m = _SHAPES.search(message)
    if not m:
        return None
    try:
        return tuple(tuple(int(v) for v in g.split(",") if v.strip()) for g in m.groups())
    except ValueError:
        return None


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


def _reference_case(case, training=None):
    """The reference forward on a fresh copy of the case: ``(out, cache, params after the call)``."""
    x, params, stride = materialize(case.args)
    training = case.kwargs["training"] if training is None else training
    out, cache = reference_block_forward(x, params, stride, training)
    return out, cache, params


def _cache_problem(case, got_cache):
    """None when the learner's cache is in the fixed format (:data:`CACHE_PARTS`): the reference
    backward, run on it, gives the reference gradients. Else a Problem saying what is off."""
    fmt = "(" + ", ".join(CACHE_PARTS) + ")"
    if not isinstance(got_cache, tuple) or len(got_cache) != len(CACHE_PARTS):
        got = f"a tuple of {len(got_cache)}" if isinstance(got_cache, tuple) else \
            (repr(got_cache) if type(got_cache).__name__ == "RemoteObject" else f"a {type(got_cache).__name__}")
        return Problem("cache", "cache", f"cache: expected the tuple {fmt} of the caches that F's functions "
                       f"returned, got {got}")
    out, ref_cache, _ = _reference_case(case)
    dout = dout_for(case, out)
    ref_dx, ref_dp = reference_block_backward(dout, ref_cache)
    for i, part in enumerate(CACHE_PARTS):
        if (got_cache[i] is None) != (ref_cache[i] is None):
            want = "None (the block has no projection)" if ref_cache[i] is None else f"the cache of the {part} step"
            return Problem("cache", "cache", f"cache[{i}] ({part}): expected {want}, got "
                           f"{'None' if got_cache[i] is None else type(got_cache[i]).__name__}")
    try:
        dx, dp = reference_block_backward(dout.copy(), _copy(got_cache))
    except Exception as exc:
        first = str(exc).strip().splitlines()
        return Problem("cache", "cache", f"cache: F's backward functions cannot use it in the order {fmt} "
                       f"({type(exc).__name__}: {first[0][:120] if first else ''})")
    wrong = [k for k in ref_dp if not same_values(ref_dp[k], dp.get(k))]
    if not same_values(ref_dx, dx):
        wrong.insert(0, "dx")
    if wrong:
        return Problem("cache", "cache", f"cache: the gradients computed from it are off ({', '.join(wrong[:3])}): "
                       f"its parts are not the caches of the steps {fmt}, in this order")
    return None


def _judge_block_forward(fn, forward, case):
    x, params, stride = materialize(case.args)
    training = case.kwargs["training"]
    result = fn(x, params, stride, training=training)
    problem = _forward_pair(result, "residual_block_forward")
    if problem:
        return [problem]
    out, cache = result
    if isinstance(out, np.ndarray):
        current_session().keep("resnet_block_forward", "first", (materialize(case.args), dict(case.kwargs), out.copy()))
    ref_out, _, ref_params = _reference_case(case)
    p = compare_output("out", ref_out, out)
    if p:                             # a wrong output explains the rest: one mistake, said once
        return [p]
    problems = []
    for k in ref_params:
        if k.endswith(_BN_STATS) and (q := compare_output(f"params[{k!r}] after the call", ref_params[k], params[k])):
            problems.append(q)
    if problems:
        return problems
    c = _cache_problem(case, cache)
    return [c] if c else []


HINT_BLOCK_MODE = Hint(
    "block_train_eval_mode",
    "batch norm has two modes: in training it normalizes with the batch's own mean and variance (and "
    "updates the running estimates), in evaluation with the running estimates (and leaves them alone); "
    "your block used the other mode (../book/06_batch_norm.ipynb, section \"Training mode and evaluation mode\")",
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
HINT_STRIDE_PLACEMENT = Hint(
    "block_stride_on_conv1",
    "the block's stride belongs to its first convolution (and the projection): conv1 makes the smaller "
    "map, conv2 keeps its size (../book/07_residual.ipynb, section \"Projection shortcuts\")",
    "conv1: 3x3, stride s, padding 1; conv2: 3x3, stride 1, padding 1",
    "F.conv2d_forward(h, params['conv1.W'], None, stride, 1)")
HINT_PREACT_ORDER = Hint(
    "block_preactivation_order",
    "a pre-activation block normalizes first and then applies ReLU: batch norm, ReLU, convolution, "
    "twice (../book/07_residual.ipynb, section \"Pre-activation\")",
    "h = relu(bn1(x)); branch = conv2(relu(bn2(conv1(h))))",
    "a, bn1 = F.batchnorm_forward(x, ...); h, relu1 = F.relu_forward(a)")
HINT_PROJECTION_STRIDE = Hint(
    "block_projection_stride",
    "the shortcut must have the branch's shape: when the block has stride 2, conv1 halves the map, so the "
    "1x1 projection takes the same stride (../book/07_residual.ipynb, section \"Projection shortcuts\")",
    "shortcut = conv1x1(h) with stride s: output size ceil(H / s)",
    "skip = F.conv2d_forward(h, params['projection.W'], None, stride, 0)[0]")
HINT_PROJECTION_MISSING = Hint(
    "block_projection_missing",
    "when the block changes the number of channels (or the size), x itself does not fit the branch's "
    "output: the shortcut is then the 1x1 projection of h (../book/07_residual.ipynb, section "
    "\"Projection shortcuts\")",
    "shortcut = x if the shapes match, else conv1x1(h) with params['projection.W'] and stride s",
    "if 'projection.W' in params: skip = F.conv2d_forward(h, params['projection.W'], None, stride, 0)[0]")
HINT_CONV_PADDING = Hint(
    "block_conv_padding",
    "the block's 3x3 convolutions keep the map's size, which needs a padding of 1 on every side; without "
    "it each convolution makes the map 2 pixels smaller (../book/03_convolution.ipynb)",
    "H_out = (H + 2 * 1 - 3) / s + 1",
    "F.conv2d_forward(a, params['conv2.W'], None, 1, 1)")
HINT_BLOCK_RUNNING_STATS = Hint(
    "block_running_stats",
    "in training mode the block must update the running statistics in params: F.batchnorm_forward(..., "
    "training=True) updates the arrays you pass in place, so pass the arrays of params themselves, not "
    "copies (../book/06_batch_norm.ipynb, section \"Training mode and evaluation mode\")",
    "running = (1 - momentum) * running + momentum * batch statistic, momentum = 0.1",
    "F.batchnorm_forward(x, params['bn1.gamma'], params['bn1.beta'], params['bn1.running_mean'], "
    "params['bn1.running_var'], training=training)")
HINT_CACHE_CONTRACT = Hint(
    "block_cache_format",
    "the cache has a fixed format, so that the backward can be judged on its own: the tuple of the caches "
    "F's functions returned for the seven steps, in forward order, None for the projection of an identity "
    "block",
    "cache = (bn1, relu1, conv1, bn2, relu2, conv2, projection)",
    "return out, (bn1, relu1, conv1, bn2, relu2, conv2, projection)")


def _block_variants(case):
    """Outputs of the usual wrong blocks for this case: ``(hint, out)``."""
    return _memo("forward variants", case, _make_block_variants)


def _make_block_variants(case):
    x, params, stride = materialize(case.args)
    training = case.kwargs["training"]

    def bn(v, name, p):
        return F.batchnorm_forward(v, p[name + ".gamma"], p[name + ".beta"], p[name + ".running_mean"].copy(),
                                   p[name + ".running_var"].copy(), training=training)[0]

    def conv(v, key, s, pad):
        return F.conv2d_forward(v, params[key], None, s, pad)[0]

    relu = functools.partial(np.maximum, 0)
    h = relu(bn(x, "bn1", params))
    branch = conv(relu(bn(conv(h, "conv1.W", stride, 1), "bn2", params)), "conv2.W", 1, 1)
    variants = [(HINT_BLOCK_MODE, _reference_case(case, not training)[0]), (HINT_NO_SHORTCUT, branch)]
    late = conv(relu(bn(conv(h, "conv1.W", 1, 1), "bn2", params)), "conv2.W", stride, 1)
    h_swapped = bn(relu(x), "bn1", params)
    swapped_branch = conv(bn(relu(conv(h_swapped, "conv1.W", stride, 1)), "bn2", params), "conv2.W", 1, 1)
    if "projection.W" in params:
        variants.append((HINT_PROJECTION_INPUT, branch + conv(x, "projection.W", stride, 0)))
        variants.append((HINT_STRIDE_PLACEMENT, late + conv(h, "projection.W", stride, 0)))
        variants.append((HINT_PREACT_ORDER, swapped_branch + conv(h_swapped, "projection.W", stride, 0)))
        variants.append((HINT_PREACT_ORDER, conv(relu(bn(conv(h_swapped, "conv1.W", stride, 1), "bn2", params)),
                                                 "conv2.W", 1, 1) + conv(h_swapped, "projection.W", stride, 0)))
    else:
        variants.append((HINT_STRIDE_PLACEMENT, late + x))
        variants.append((HINT_PREACT_ORDER, swapped_branch + x))
        variants.append((HINT_PREACT_ORDER, conv(relu(bn(conv(h_swapped, "conv1.W", stride, 1), "bn2", params)),
                                                 "conv2.W", 1, 1) + x))
    return variants


def _block_shape_hint(case, message):
    """A hint for NumPy's broadcasting error when the branch and the shortcut do not fit."""
    shapes = _broadcast_shapes(message)
    if shapes is None or any(len(s) != 4 for s in shapes):
        return None
    x, params, stride = case.args
    expected = _reference_case(case)[0].shape
    wrong = [s for s in shapes if s != expected]
    if len(wrong) != 1:
        return None
    wrong = wrong[0]
    if wrong[1] != expected[1] and wrong[1] == x.shape[1]:
        return HINT_PROJECTION_MISSING
    if wrong[1] == expected[1] and wrong[2:] == x.shape[2:] and stride != 1:
        return HINT_PROJECTION_STRIDE
    if wrong[1] == expected[1] and all(e - w in (2, 4) for e, w in zip(expected[2:], wrong[2:])):
        return HINT_CONV_PADDING
    return None


def _block_forward_rule(case, problem):
    if problem.kind == "exception":
        return _block_shape_hint(case, _exception_text(problem))
    if problem.kind == "cache":
        return HINT_CACHE_CONTRACT
    if problem.kind == "values" and problem.output.startswith("params["):
        return HINT_BLOCK_RUNNING_STATS if case.kwargs["training"] else HINT_BLOCK_MODE
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


# --- exercise 2: the block's backward pass, on the reference forward's cache -----------------------
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


def _backward_inputs(case):
    """``(dout, cache)`` a backward case gives the learner: the reference forward's cache (training mode)."""
    out, cache, _ = _reference_case(case, True)
    dout = np.random.default_rng(case.seed).standard_normal(out.shape) if case.gradcheck else dout_for(case, out)
    return dout, cache


def _judge_block_backward(fn, forward, case):
    dout, cache = _backward_inputs(case)
    result = fn(dout.copy(), _copy(cache))
    if not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[1], dict):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        if isinstance(result, tuple) and len(result) == 2:
            got = f"(dx, a {type(result[1]).__name__})"
        return [Problem("structure", "dx", f"residual_block_backward returned {got}; expected (dx, dparams) "
                        "with dparams a dict keyed like params")]
    dx, dparams = result
    if isinstance(dx, np.ndarray):
        current_session().keep("resnet_block_backward", "first", (dout.copy(), _copy(cache), dx.copy()))
    try:                  # what the hints say: set for every case, so nothing of another learner stays
        _DIAGNOSED[(case.name, case.seed)] = _diagnose_backward(case, dx, dparams)
    except Exception:
        _DIAGNOSED[(case.name, case.seed)] = None
    if case.gradcheck:
        return _block_gradcheck(case, dout, dx, dparams)
    ref_dx, ref_dparams = reference_block_backward(dout, cache)
    problems = _params_problems(dparams, ref_dparams, "dparams")
    extra = sorted(set(dparams) - set(ref_dparams))
    if extra:
        problems.append(Problem("structure", "dparams", f"dparams has {', '.join(map(repr, extra[:3]))}, which "
                                "is not a learnable array of the block (no running statistics, no biases)"))
    if problems:
        return problems
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
    "the shortcut's gradient goes back through the projection to h, and the two gradients join at h, "
    "before the backward pass of that relu and bn1 (../book/07_residual.ipynb, section \"Projection shortcuts\")",
    "dL/dh = (through conv1) + (through the projection)",
    "dh = dh_branch + dh_projection")
HINT_RELU_BACKWARD = Hint(
    "block_relu_backward",
    "each ReLU of the forward pass needs its backward pass too: the gradient flows only where the "
    "ReLU's input was positive (../book/01_fully_connected.ipynb)",
    "dL/da = dL/dh * (a > 0)",
    "da = F.relu_backward(dh, relu1)")
HINT_DPARAMS_KEYS = Hint(
    "block_dparams_keys",
    "dparams holds the gradient of every learnable array of the block, under the key of that array in "
    "params: each gradient a backward function returns belongs to the parameter in the same position "
    "(F.batchnorm_backward returns dx, dgamma, dbeta)",
    "dparams = {'bn1.gamma': dL/dgamma1, 'bn1.beta': dL/dbeta1, 'conv1.W': dL/dW1, ...}",
    "da, dparams['bn2.gamma'], dparams['bn2.beta'] = F.batchnorm_backward(da, bn2)")
HINT_BLOCK_GRADIENT = Hint(
    "block_backward_order",
    "go through the forward pass in reverse order: each step's backward takes the gradient of that "
    "step's output and the cache that same step returned (../book/07_residual.ipynb)",
    "dout -> conv2 -> relu -> bn2 -> conv1 -> (+ shortcut) -> relu -> bn1 -> dx",
    "da, dW2, _ = F.conv2d_backward(dout, conv2)", fallback=True)


_MEMO = {}


def _memo(kind, case, make):
    """``make(case)``, computed once per case (a case is known by its name and seed)."""
    key = (kind, case.name, case.seed)
    if key not in _MEMO:
        if len(_MEMO) > 64:
            _MEMO.clear()
        _MEMO[key] = make(case)
    return _MEMO[key]


def _backward_variants(case):
    """``[(hint, dx, grads)]``: the gradients of the usual wrong backward passes for this case."""
    return _memo("backward variants", case, _make_backward_variants)


def _make_backward_variants(case):
    dout, cache = _backward_inputs(case)
    bn1, relu1, conv1, bn2, relu2, conv2, projection = cache
    da4, dW2, _ = F.conv2d_backward(dout, conv2)
    da3 = F.relu_backward(da4, relu2)

    def down(da_relu2, relu1_on=True, join_at_h=True):
        d2, g2, b2 = F.batchnorm_backward(da_relu2, bn2)
        dh, dW1, _ = F.conv2d_backward(d2, conv1)
        grads = {"conv2.W": dW2, "bn2.gamma": g2, "bn2.beta": b2, "conv1.W": dW1}
        skip = F.conv2d_backward(dout, projection)[0] if projection is not None else None
        if skip is not None and join_at_h:
            dh = dh + skip
        da = F.relu_backward(dh, relu1) if relu1_on else dh
        dx, grads["bn1.gamma"], grads["bn1.beta"] = F.batchnorm_backward(da, bn1)
        return dx, grads, skip

    variants = []
    dx, grads, skip = down(da3, join_at_h=False)        # the shortcut's gradient left out
    variants.append((HINT_SHORTCUT_GRADIENT, dx, grads))
    if projection is not None:                            # joined after relu1 and bn1, at x
        variants.append((HINT_PROJECTION_GRADIENT, dx + skip, grads))
    dx, grads, _ = down(da4)                              # relu2's backward skipped
    variants.append((HINT_RELU_BACKWARD, dx + (dout if projection is None else 0), grads))
    dx, grads, _ = down(da3, relu1_on=False)              # relu1's backward skipped
    variants.append((HINT_RELU_BACKWARD, dx + (dout if projection is None else 0), grads))
    return variants


_DIAGNOSED = {}     # (case name, case seed) -> the hint that explains the learner's whole result, or None


def _diagnose_backward(case, dx, dparams):
    """The hint of the usual wrong backward pass whose every gradient the learner's result equals; or
    the key hint when a gradient sits under another array's key; else None."""
    def same(a, b):
        return isinstance(b, np.ndarray) and same_values(a, b)
    for hint, v_dx, v_grads in _backward_variants(case):
        if same(v_dx, dx) and all(same(g, dparams.get(k)) for k, g in v_grads.items()):
            return hint
    dout, cache = _backward_inputs(case)
    _, ref = reference_block_backward(dout, cache)
    for k, g in ref.items():
        if not same(g, dparams.get(k)) and any(o != k and same(g2, dparams.get(k)) for o, g2 in ref.items()):
            return HINT_DPARAMS_KEYS
    return None


def _block_backward_rule(case, problem):
    if problem.kind == "exception":
        if "projection" in case.tags and _broadcast_shapes(_exception_text(problem)):
            return HINT_PROJECTION_GRADIENT
        return None
    if problem.kind == "structure" and problem.output == "dparams":
        return HINT_DPARAMS_KEYS
    if problem.kind == "structure" and "has no" in problem.message:
        return HINT_DPARAMS_KEYS
    if problem.kind not in ("values", "gradcheck"):
        return None
    return _DIAGNOSED.get((case.name, case.seed)) or HINT_BLOCK_GRADIENT


register(Exercise(
    # a "function" exercise: the backward is judged on the reference forward's cache, in the format
    # the exercise fixes, so it needs no forward of the learner's (one mistake costs points once)
    "resnet_block_backward", "function", ("dx", "dparams"),
    _block_backward_cases,
    None,
    rules=(_block_backward_rule,),
    judge=_judge_block_backward,
))


# --- the learner's block as it was at its checks (judging the training step with it) ---------------
def _block_part(params, name):
    """One block's arrays out of the network's params, without the prefix (the same array objects)."""
    return {k[len(name) + 1:]: v for k, v in params.items() if k.startswith(name + ".")}


def step_with_block(params, X, y, lr, block_forward, block_backward):
    """nnbook's SGD step with ``block_forward`` and ``block_backward`` in place of nnbook's residual
    block: what a right ``train_step`` gives with a learner's block. Returns ``(new params, loss)``;
    ``params`` is not changed. Raises when the block returns something unusable."""
    p = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    out, stem = F.conv2d_forward(np.asarray(X, dtype=np.float64), p["stem.W"], None, 1, 1)
    caches = {}
    for name, stride in (("block1", 1), ("block2", 2)):
        result = block_forward(out, _block_part(p, name), stride, training=True)
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], np.ndarray)):
            raise TypeError("the block did not return (out, cache)")
        out, caches[name] = result
    a, bn = F.batchnorm_forward(out, p["bn.gamma"], p["bn.beta"], p["bn.running_mean"], p["bn.running_var"],
                                training=True)
    a, relu = F.relu_forward(a)
    a, pool = F.avgpool2d_forward(a, a.shape[2:])
    logits, fc = F.linear_forward(a, p["fc.W"], p["fc.b"])
    loss, d = F.softmax_cross_entropy(logits, y)
    grads = {}
    d, grads["fc.W"], grads["fc.b"] = F.linear_backward(d, fc)
    d = F.avgpool2d_backward(d.reshape(d.shape[0], -1, 1, 1), pool)
    d = F.relu_backward(d, relu)
    d, grads["bn.gamma"], grads["bn.beta"] = F.batchnorm_backward(d, bn)
    for name in ("block2", "block1"):
        result = block_backward(d, caches[name])
        if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
            raise TypeError("the block's backward did not return (dx, dparams)")
        d, dparams = result
        grads.update({f"{name}.{k}": v for k, v in dparams.items()})
    _, grads["stem.W"], _ = F.conv2d_backward(d, stem)
    new = dict(p)
    for k in p:
        if is_learnable(k):
            new[k] = p[k] - lr * grads[k]
    return new, loss


def _behaves_as_checked(entry, call):
    """True when the function of ``entry`` still gives what it gave on the first case of its check."""
    kept = entry.kept.get("first")
    if kept is None:
        return False
    try:
        return bool(call(entry.fn, kept))
    except Exception:
        return False


def _again_forward(fn, kept):
    args, kwargs, out = kept
    result = fn(*materialize(args), **kwargs)
    return isinstance(result, tuple) and len(result) == 2 and same_values(out, result[0])


def _again_backward(fn, kept):
    dout, cache, dx = kept
    result = fn(dout.copy(), _copy(cache))
    return isinstance(result, tuple) and len(result) == 2 and same_values(dx, result[0])


def learner_block_forward():
    """The learner's block forward as it was at its check, when that check failed and the function still
    behaves as it did there; else None."""
    fwd = current_session().get("resnet_block_forward")
    if fwd is None or fwd.passed or not _behaves_as_checked(fwd, _again_forward):
        return None
    return fwd.fn


def learner_block():
    """``(forward, backward)``: the learner's residual block as it was at its own checks, when one of
    those checks failed and the functions still behave as they did there; else None."""
    s = current_session()
    fwd, bwd = s.get("resnet_block_forward"), s.get("resnet_block_backward")
    if fwd is None or bwd is None or (fwd.passed and bwd.passed):
        return None
    if not (_behaves_as_checked(fwd, _again_forward) and _behaves_as_checked(bwd, _again_backward)):
        return None
    return fwd.fn, bwd.fn


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
    # digits of the grader's training part, under the kernel's naming: nothing of the held-out part,
    # and no true label, reaches the kernel through these cases
    split = grading_split(_run_seed())
    X, y = split.X_train, split.names["kernel"][split.y_train]
    specs = [("8 digits, lr 0.05", 8, 0.05), ("2 digits, lr 1.0", 2, 1.0)] if hidden else \
        [("16 digits, lr 0.1", 16, 0.1), ("32 digits, lr 0.5", 32, 0.5), ("5 digits, lr 0.01", 5, 0.01)]
    cases = []
    for i, (name, n, lr) in enumerate(specs):
        rng = np.random.default_rng(base + i)
        idx = rng.choice(len(X), n, replace=False)
        cases.append(Case(name, (_perturbed_params(rng), X[idx], y[idx], lr), {}, frozenset(), seed=base + i))
    return cases


def _step_problems(params0, new, loss, ref_new, ref_loss):
    """What differs between a step's result ``(new, loss)`` and the expected ``(ref_new, ref_loss)``."""
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


def _after_update(params0, X, y, lr, loss, problems):
    """``problems``, without the running statistics' when the loss is the one *after* the update: the
    extra forward pass that computed it also moved the statistics again (one mistake, said once)."""
    if not any(p.output == "loss" and p.kind == "values" for p in problems):
        return problems
    new, _ = reference_train_step(params0, X, y, lr)
    model = reference_model(new, training=True)
    after, _ = F.softmax_cross_entropy(model(np.asarray(X, dtype=np.float64)), y)
    if abs(float(loss) - after) > 1e-9 * max(1.0, abs(after)):
        return problems
    return [p for p in problems if not p.output.endswith(_BN_STATS)]


def _judge_train_step(fn, forward, case):
    params0, X, y, lr = case.args
    result = fn(*materialize(case.args))
    if not isinstance(result, tuple) or len(result) != 2:
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        return [Problem("structure", "params", f"train_step returned {got}; expected (params, loss)")]
    new, loss = result
    problems = _after_update(params0, X, y, lr, loss, _step_problems(params0, new, loss,
                                                                     *reference_train_step(params0, X, y, lr)))
    if not problems:
        return []
    block = learner_block()            # the learner's block failed its check: judge the step around it
    if block is None:
        return problems
    try:
        around = _step_problems(params0, new, loss, *step_with_block(params0, X, y, lr, *block))
    except Exception:
        return problems
    note = "judged around your residual block as it was at its checks, which it failed (that counts there)"
    if not around:
        return Verdict([], [note + ": the step is right"])
    return Verdict(around if len(around) <= len(problems) else problems, [note])


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
HINT_SGD_NOT_MEAN = Hint(
    "sgd_gradient_not_mean",
    "the step is N times too long, N the batch size: the loss is the mean over the batch, so its "
    "gradient with respect to the logits carries a factor 1/N (../book/02_training.ipynb, section "
    "\"Softmax and cross-entropy\")",
    "L = (1/N) sum_n l_n, so dL/dz_n = (softmax(z_n) - onehot(y_n)) / N",
    "dlogits = (probs - onehot) / len(y_batch)")
HINT_SGD_GRADIENT = Hint(
    "sgd_wrong_gradient",
    "the step is not -lr times the gradient of this batch's loss: check that the network's backward "
    "goes through every layer in reverse (head, block2, block1, stem) with each layer's own cache, "
    "and that residual_block_backward passes its checks",
    "change = -lr * dL/dw, with L the mean cross-entropy of the batch",
    "for key, value in dparams2.items(): grads['block2.' + key] = value", fallback=True)
HINT_STEP_LOSS = Hint(
    "train_step_loss",
    "the loss is the mean softmax cross-entropy of this batch, computed by the training-mode forward "
    "pass before the update (../book/02_training.ipynb, section \"Softmax and cross-entropy\")",
    "L = -(1/N) sum_n log softmax(z_n)[y_n]",
    "loss, dlogits = F.softmax_cross_entropy(logits, y_batch)")
HINT_STEP_EVAL_MODE = Hint(
    "train_step_eval_mode",
    "a training step runs the network in training mode: batch norm normalizes with the batch's "
    "statistics and updates the running ones; in evaluation mode neither happens "
    "(../book/06_batch_norm.ipynb, section \"Training mode and evaluation mode\")",
    "training: x_hat = (x - batch mean) / sqrt(batch var + eps)",
    "logits, cache = resnet_forward(X_batch, params, training=True)")
HINT_RUNNING_STATS = Hint(
    "bn_running_stats_not_updated",
    "the running statistics must be what the training-mode forward pass left in them: "
    "F.batchnorm_forward(..., training=True) updates the arrays you pass in place, so pass the arrays "
    "of params themselves and return them (../book/06_batch_norm.ipynb, section \"Training mode and "
    "evaluation mode\")",
    "running = (1 - momentum) * running + momentum * batch statistic, momentum = 0.1",
    "F.batchnorm_forward(x, p['bn1.gamma'], p['bn1.beta'], p['bn1.running_mean'], p['bn1.running_var'], "
    "training=True)")
HINT_STATS_NO_GRADIENT = Hint(
    "sgd_running_stats_have_no_gradient",
    "the batch-norm running statistics are not learned: they have no gradient, and SGD updates only the "
    "arrays that have one (../book/06_batch_norm.ipynb, section \"Training mode and evaluation mode\")",
    "w_new = w - lr * dL/dw for the weights, gammas, betas and biases; running statistics as the forward left them",
    "for k in grads: new_params[k] = params[k] - lr * grads[k]")
HINT_NETWORK_BACKWARD_ORDER = Hint(
    "network_backward_order",
    "the backward pass visits the layers in the reverse order of the forward pass, each with its own "
    "cache: the head, then block2, then block1, then the stem (../book/07_residual.ipynb)",
    "dL/d(input of a layer) = backward(dL/d(its output), its cache)",
    "for name in ('block2', 'block1'): d, dparams = residual_block_backward(d, cache[name])")


def _train_step_rule(case, problem):
    params0, X, y, lr = case.args
    n = len(y)
    if problem.kind == "exception":
        if "KeyError" in _exception_text(problem) and re.search(r"running_(mean|var)", _exception_text(problem)):
            return HINT_STATS_NO_GRADIENT
        if re.search(r"(conv2d|batchnorm|relu)_backward: expected dout of shape", _exception_text(problem)):
            return HINT_NETWORK_BACKWARD_ORDER
        return None
    if problem.kind != "values":
        return None
    expected, got = problem.expected, problem.got
    if problem.output == "loss":
        if abs(float(got) - reference_train_step(params0, X, y, lr, training=False)[1]) <= 1e-9 * max(1, abs(got)):
            return HINT_STEP_EVAL_MODE
        if n > 1 and abs(float(got) - n * expected) <= 1e-6 * abs(n * expected):
            return HINT_SGD_NOT_MEAN
        return HINT_STEP_LOSS
    if problem.output.endswith(_BN_STATS):
        return HINT_RUNNING_STATS
    if not problem.output.startswith("change of"):
        return None
    if not np.any(got):
        return HINT_SGD_NOT_APPLIED
    if same_values(-expected, got):
        return HINT_SGD_SIGN
    if n > 1 and same_values(n * expected, got):
        return HINT_SGD_NOT_MEAN
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
NOTEBOOK_TRAIN_SEEDS = (3, 4)    # the seed train is given by the notebook's visible and hidden case


def train_seeds(run_seed=None):
    """``(visible, hidden)``: the seeds ``train`` is given, fixed in the notebook, drawn from the run's
    seed when grading (so no weights can be prepared for the init they start from)."""
    if run_seed is None:
        return NOTEBOOK_TRAIN_SEEDS
    first, step = np.random.default_rng([8, 2, int(run_seed) % 2 ** 63]).integers(1, 1_000_000, 2)
    return int(first), int(first + step)


def _train_cases(base, hidden):
    budget = ", ".join(f"{k}={v}" for k, v in BUDGET.items())
    naming, seed = ("hidden", train_seeds(_run_seed())[1]) if hidden else ("visible", train_seeds(_run_seed())[0])
    return [Case(f"train(X, y, {budget}, seed={seed}): held-out accuracy >= {ACCURACY_BAR:.0%}",
                 (), {**BUDGET, "seed": seed}, frozenset({naming}), seed=base)]


HISTORY_KEYS = ("val_loss", "val_accuracy")


def _history_problem(history, epochs):
    """A Problem when ``history`` is not ``{"val_loss": [...], "val_accuracy": [...]}`` with one number
    per epoch (accuracies as fractions)."""
    if not isinstance(history, dict) or not all(k in history for k in HISTORY_KEYS):
        missing = [k for k in HISTORY_KEYS if k not in history] if isinstance(history, dict) else []
        got = f"a dict without {' and '.join(map(repr, missing))}" if isinstance(history, dict) \
            else f"a {type(history).__name__}"
        return Problem("history", "history", f"the history train returned is {got}; expected a dict whose "
                       "'val_loss' and 'val_accuracy' hold the validation loss and accuracy after each epoch")
    for key in HISTORY_KEYS:
        values = history[key]
        if not isinstance(values, (list, tuple)) or len(values) != epochs:
            got = f"{len(values)} values" if isinstance(values, (list, tuple)) else f"a {type(values).__name__}"
            return Problem("history", "history", f"history[{key!r}] is {got}; expected a list of {epochs}, "
                           "one per epoch")
        try:
            values = [float(v) for v in values]
        except (TypeError, ValueError):
            return Problem("history", "history", f"history[{key!r}] must hold numbers")
        if key == "val_accuracy" and any(1 < v <= 100 for v in values):
            return Problem("val_percent", "history", f"history['val_accuracy'] holds {values[-1]:g}: expected a "
                           "fraction between 0 and 1, not a percentage")
        if key == "val_accuracy" and not all(0 <= v <= 1 for v in values):
            return Problem("history", "history", "history['val_accuracy'] must hold fractions between 0 and 1")
        if not all(np.isfinite(values)):
            return Problem("history", "history", f"history[{key!r}] holds NaN or inf")
    return None


def _close(reported, measured):
    return abs(reported[0] - measured[0]) <= VALIDATION_TOL and \
        abs(reported[1] - measured[1]) <= VALIDATION_TOL * max(1.0, abs(measured[1]))


def _validation_problem(params, X, y, val_pos, reported, measured, block_forward=None):
    """A Problem when the reported validation ``(accuracy, loss)`` is not what the grader measures, saying
    what it matches instead (the training data, training mode)."""
    if _close(reported, measured):
        return None
    fit = np.ones(len(X), bool)
    fit[val_pos] = False
    seen = {"val_training_data": [measure(params, X[fit], y[fit], block_forward=block_forward),
                                  measure(params, X, y, block_forward=block_forward)],
            "val_mode": [measure(params, X[val_pos], y[val_pos], training=True, block_forward=block_forward)]}
    kind = next((k for k, options in seen.items()
                 if any(abs(reported[1] - v[1]) <= VALIDATION_TOL * max(1.0, abs(v[1])) for v in options)),
                "validation")
    return Problem(kind, "history", f"after the last epoch history reports validation accuracy {reported[0]:.4f} "
                   f"and loss {reported[1]:.4f}, but your params give {measured[0]:.4f} and {measured[1]:.4f} on "
                   "the validation part (the tenth of (X, y) that train_test_split(X, y, test_fraction=0.1, "
                   "seed=seed) holds out, in evaluation mode)", measured, reported)


def _naming_problem(split, naming, pred, acc):
    """A Problem when the weights classify the held-out digits by other names than those of the y given."""
    seed = _run_seed()
    options = [("the true digit labels", np.arange(NUM_CLASSES),
                "trained on digits other than the (X, y) given (the setup cell's X_train, y_train?) or before"
                if seed is None else "trained before grading, or on digits other than the (X, y) given")]
    if seed is not None:
        notebook = grading_split(None).names
        options += [("the names of the digits your notebook loaded with load_digits", split.names["kernel"],
                     "trained on the notebook's digits instead of the (X, y) given"),
                    ("the names check() uses in the notebook", notebook["visible"], "trained before grading"),
                    ("the names check() uses in the notebook", notebook["hidden"], "trained before grading")]
    other = "hidden" if naming == "visible" else "visible"
    options.append(("the names of the other train call", split.names[other], "kept from another call"))
    scored = [(float(np.mean(pred == names[split.y_held])), what, why) for what, names, why in options]
    best, what, why = max(scored, key=lambda t: t[0])
    if best < 0.5:
        return None
    return Problem("names", "params", f"your weights classify the held-out digits by {what} ({best:.0%} right), "
                   f"not by the names in the y given to train ({acc:.0%} right): {why}")


_EARLIER = (("resnet_train_step", "train_step"), ("resnet_block_forward", "residual_block_forward"),
            ("resnet_block_backward", "residual_block_backward"))


def _earlier_failures():
    """``[(function name, what its check said)]`` for the functions train builds on that failed their checks."""
    found = []
    for exercise_id, name in _EARLIER:
        entry = current_session().get(exercise_id)
        report = entry.failed_report if entry is not None else None
        if report is None:
            continue
        if report.not_written:
            found.append((name, "it is not written yet"))
        elif report.hints:
            found.append((name, report.hints[0].concept))
        else:
            first = next((p.message for r in report.results for p in r.problems), "")
            found.append((name, first))
    return found


def _judge_train(fn, forward, case):
    split = grading_split(_run_seed())
    naming = "hidden" if "hidden" in case.tags else "visible"
    epochs, batch_size, lr, seed = (case.kwargs[k] for k in ("epochs", "batch_size", "lr", "seed"))
    X, y, val_pos = train_data(split, naming, seed)
    start = time.perf_counter()
    result = fn(X.copy(), y.copy(), **case.kwargs)
    seconds = time.perf_counter() - start
    if not isinstance(result, tuple) or len(result) != 2:
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else f"a {type(result).__name__}"
        return [Problem("returns", "params", f"train returned {got}; expected (params, history)")]
    params, history = result
    expected = init_params(np.random.default_rng(seed))
    problems = _params_problems(params, expected, "the returned params")
    if problems:
        return problems
    bad = [k for k in expected if not np.isfinite(params[k]).all()]
    if bad:
        return [Problem("nan", bad[0], f"params[{bad[0]!r}] holds NaN or inf: training diverged")]
    names = split.names[naming]
    block = learner_block_forward()      # the learner's block failed its check: measure the network with it
    try:
        pred = predict(params, split.X_held, block_forward=block)
        measured = measure(params, X[val_pos], y[val_pos], block_forward=block)
    except Exception:
        block = None
        pred = predict(params, split.X_held)
        measured = measure(params, X[val_pos], y[val_pos])
    acc = float(np.mean(pred == names[split.y_held]))
    reporting = _history_problem(history, epochs)
    reported = None if reporting else tuple(float(history[k][-1]) for k in ("val_accuracy", "val_loss"))
    if reporting is None:
        reporting = _validation_problem(params, X, y, val_pos, reported, measured, block)
    steps = -(-(len(X) - len(val_pos)) // batch_size)
    held = f", held-out accuracy {acc:.1%} on its {HELD_OUT} held-out digits (bar {ACCURACY_BAR:.0%})" \
        if acc >= ACCURACY_BAR else ""              # a failing case says it in its problem
    notes = [f"measured by the grader: trained on its {len(X):,} training digits{held}; validation accuracy "
             f"{measured[0]:.3f} and loss {measured[1]:.3f}"
             + (f" (reported {reported[0]:.3f} and {reported[1]:.3f})" if reported else "")
             + f"; budget {epochs} epochs of {steps} steps of {batch_size} digits at lr {lr:g} "
             f"({lr * LAST_EPOCH_LR_FACTOR:g} in the last)"]
    if block is not None:
        notes.append("measured with your residual_block_forward as it was at its check, which it failed (that "
                     "mistake counts there, not here)")
    if _run_seed() is not None:       # a graded run says how long train took (a notebook's output stays fixed)
        notes.append(f"train took {seconds:.1f} s")
    earlier = _earlier_failures()
    trace = start_trace(params, expected)
    start = None if trace >= START_TRACE else Problem(
        "start", "params", f"your weights did not start at init_params(np.random.default_rng({seed})), the init "
        f"of the seed train was given: their cosine similarity with it is {trace:.2f}, where training from there "
        f"keeps {START_TRACE:g} or more (the reference loop about 0.9)", START_TRACE, trace)
    if acc >= ACCURACY_BAR:
        if start:                  # e.g. weights trained before, their outputs renamed after the y given
            return Verdict([start], notes)
        for name, what in earlier:
            notes.append(f"your train reaches {acc:.1%}, but {name} failed its own check: {what}")
        return Verdict([reporting] if reporting else [], notes)
    causes = []        # what explains the low accuracy comes first, so its hint is the first one
    learnable = [k for k in expected if is_learnable(k)]
    naming_problem = _naming_problem(split, naming, pred, acc)
    if naming_problem:             # what train reported about those weights follows from it: not said again
        causes.append(naming_problem)
        reporting = None
    elif start:
        causes.append(start)
        reporting = None
    elif all(np.array_equal(params[k], expected[k]) for k in learnable):
        causes.append(Problem("untrained", "params", "every weight still equals its initial value "
                              f"(init_params(np.random.default_rng({seed})))"))
    elif earlier:
        name, what = earlier[0]
        causes.append(Problem("earlier", "params", f"train trains with your {name}, which failed its own check: "
                              f"{what}"))
    elif all(np.array_equal(params[k], expected[k]) for k in expected if not is_learnable(k)):
        causes.append(Problem("running_stats", "params", "every batch-norm running mean is still 0 "
                              "and every running variance 1"))
    elif _unshuffled(params, X, y, case.kwargs, split.X_held):
        last = int(np.max(y))      # the class the training part ends with (it comes in class order)
        share = float(np.mean(pred == last))
        causes.append(Problem("order", "params", "your params are those of the same training without "
                              "shuffling: the part train trains on comes in class order, so every epoch ended "
                              f"on class {last}, and {share:.0%} of the held-out digits are classified as {last}"))
    accuracy = Problem("accuracy", "accuracy", f"the grader evaluated your params (eval mode) on its {HELD_OUT} "
                       f"held-out digits: accuracy {acc:.1%}, below the bar of {ACCURACY_BAR:.0%}",
                       ACCURACY_BAR, acc)
    return Verdict(causes + ([reporting] if reporting else []) + [accuracy], notes)


START_TRACE = 0.2   # the least cosine similarity of trained weights with their init (see start_trace)


def start_trace(params, init):
    """Cosine similarity of the network's weights (every ``*.W``, flattened together) with ``init``.

    Six epochs of plain SGD from an init keep a clear trace of it: about 0.90 for the reference loop
    (3 draws x 2 calls: 0.896-0.907), 0.66 with lr 1.0 and 0.45 with lr 3.0 (one run each); weights that
    started elsewhere give about 0 (against 6 other inits: |cos| <= 0.035). :data:`START_TRACE` lies
    between.
    """
    keys = sorted(k for k in init if k.endswith(".W"))
    a = np.concatenate([np.asarray(params[k], dtype=np.float64).ravel() for k in keys])
    b = np.concatenate([init[k].ravel() for k in keys])
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else 0.0


def _unshuffled(params, X, y, kwargs, X_held):
    """True when ``params`` are what the reference loop gives without shuffling (the same init, steps
    and schedule, the examples in the order they come).

    Training on one class at a time amplifies rounding: a loop-style learner's parameters and the
    reference's drift apart (in one run up to 18 % in a few batch-norm shifts) while the network stays
    the same one. So "the same" is: weights with cosine similarity >= 0.995 and at least 90 % of the
    held-out predictions equal. Measured (2 draws): the unshuffled loop 0.99994-1.0 and 99-100 %;
    the right loop 0.87-0.88 and 11-13 %; one epoch at lr / 10 0.96 and 0-84 %.
    """
    reference, _ = reference_train(X, y, kwargs["epochs"], kwargs["batch_size"], kwargs["lr"], kwargs["seed"],
                                   log=None, shuffle=False)
    if start_trace(params, reference) < 0.995:
        return False
    return float(np.mean(predict(params, X_held) == predict(reference, X_held))) >= 0.9


HINT_TRAIN_RETURNS = Hint(
    "train_returns_params_and_history",
    "train returns two things: the trained parameters and the history of what it measured, a dict "
    "whose 'val_loss' and 'val_accuracy' list the validation loss and accuracy after each epoch (as "
    "nnbook.fit's history does)",
    "train(X, y, ...) -> (params, history), history = {val_loss: [L_1, ..., L_E], val_accuracy: [A_1, ..., A_E]}",
    "return params, history")
HINT_NOT_GIVEN_DATA = Hint(
    "train_not_on_given_data",
    "train must learn from the (X, y) it is given: the grader draws its own training digits and renames "
    "the ten classes for every call (a 3 may be called 7), so weights learned from anything else — the "
    "digits the notebook loaded, weights saved before — classify by the wrong names",
    "params = what training on (X, y) gives; accuracy is measured with the names y uses",
    "X_fit, y_fit, X_val, y_val = train_test_split(X, y, test_fraction=0.1, seed=seed)")
HINT_NOT_FROM_INIT = Hint(
    "train_not_from_init",
    "train starts from init_params(rng) with rng = np.random.default_rng(seed), the seed it is given, and "
    "learns from there: weights that did not start there were not trained by this call (weights saved "
    "before, or an init with another seed)",
    "params_0 = init_params(default_rng(seed)); params_t = params_(t-1) - lr * dL/dparams",
    "rng = np.random.default_rng(seed); params = init_params(rng)")
HINT_UNTRAINED = Hint(
    "train_returns_initial_params",
    "the weights you returned were never trained: each step returns new params, and the next step "
    "and the final return must use those (../book/02_training.ipynb, section \"Mini-batch SGD\")",
    "for each epoch, for each batch: params <- train_step(params, batch)",
    "params, loss = train_step(params, X_batch, y_batch, lr)")
HINT_EARLIER = Hint(
    "train_step_failed_its_check",
    "train trains with your train_step (and through it your residual block), and one of them failed its "
    "own check: a wrong step trains a wrong network, so fix that first",
    "params <- params - lr * dL/dparams must hold for every step",
    "check(\"resnet_train_step\", train_step)")
HINT_TRAIN_STATS = Hint(
    "train_running_stats",
    "evaluation mode normalizes with the running statistics, and yours were never updated: the "
    "training-mode forward pass must update the arrays that end up in the returned params "
    "(../book/06_batch_norm.ipynb, section \"Training mode and evaluation mode\")",
    "running = (1 - momentum) * running + momentum * batch statistic",
    "F.batchnorm_forward(x, ..., params['bn.running_mean'], params['bn.running_var'], training=True)")
HINT_NOT_SHUFFLED = Hint(
    "train_not_shuffled",
    "the training examples must be visited in a new random order every epoch: in the order they come "
    "(here sorted by class) each mini-batch holds one class, and every epoch ends on the same class, "
    "which the network then predicts for almost everything (../book/02_training.ipynb, section \"Mini-batch SGD\")",
    "epoch t: order = a random permutation of 0..N-1; batch k = order[k*B:(k+1)*B]",
    "order = rng.permutation(len(X_fit)); batch = order[start:start + batch_size]")
HINT_VAL_TRAINING = Hint(
    "train_validation_on_training_data",
    "the validation loss and accuracy are measured on the held-out validation part, which training never "
    "touches; measured on the training data they say how well the network remembers, not how well it "
    "generalizes (../book/02_training.ipynb)",
    "val_accuracy = mean over the validation part of [argmax f(x_val) == y_val]",
    "logits, _ = resnet_forward(X_val, params, training=False)")
HINT_VAL_MODE = Hint(
    "train_validation_mode",
    "the validation loss and accuracy are measured in evaluation mode: in training mode batch norm normalizes "
    "with the validation batch's own statistics and even updates the running ones with validation data "
    "(../book/06_batch_norm.ipynb, section \"Training mode and evaluation mode\")",
    "eval: x_hat = (x - running_mean) / sqrt(running_var + eps)",
    "logits, _ = resnet_forward(X_val, params, training=False)")
HINT_VAL_PERCENT = Hint(
    "train_validation_fraction",
    "an accuracy is a fraction of the examples, between 0 and 1, as nnbook.fit reports it",
    "accuracy = (number right) / (number of examples)",
    "np.mean(predictions == y_val)")
HINT_VAL_REPORT = Hint(
    "train_validation_report",
    "the reported validation loss and accuracy must be what the returned params give on the validation "
    "part train_test_split(X, y, test_fraction=0.1, seed=seed) holds out, measured after the last epoch in "
    "evaluation mode",
    "val_loss[-1] = mean cross-entropy over X_val, val_accuracy[-1] = mean of [argmax f(x) == y], final params",
    "val_loss, _ = F.softmax_cross_entropy(logits, y_val)")
HINT_HISTORY = Hint(
    "train_history",
    "the history holds one validation loss and one validation accuracy per epoch, measured at the end of "
    "that epoch, in the lists under 'val_loss' and 'val_accuracy'",
    "history = {val_loss: [L_1, ..., L_E], val_accuracy: [A_1, ..., A_E]}, E = epochs, measured after each epoch",
    "history['val_accuracy'].append(accuracy)   # inside the epoch loop")
HINT_STEP_RETURNS = Hint(
    "train_step_returns_pair",
    "train_step returns a pair, the new params and the loss: unpack it, and pass only the params to the "
    "next step",
    "(params, loss) = train_step(params, X_batch, y_batch, lr)",
    "params, loss = train_step(params, X_fit[batch], y_fit[batch], rate)")
HINT_LOW_ACCURACY = Hint(
    "train_low_accuracy",
    "training ran but the network is not good enough: check that train_step passes its checks, that "
    "every epoch visits every training example once, in a new shuffled order, in mini-batches of "
    "batch_size, and that only the last epoch uses lr / 10 (../book/02_training.ipynb, sections "
    "\"Mini-batch SGD\" and \"Learning-rate schedules\")",
    "steps per epoch = ceil(N / batch_size); rate = lr, and lr / 10 in the last epoch",
    "order = rng.permutation(len(X_fit)); batch = order[start:start + batch_size]", fallback=True)
HINT_DIVERGED = Hint(
    "train_diverged",
    "the loss blew up: with the given learning rate a correct step does not diverge, so look for a "
    "step with the wrong sign or a gradient that is too large (check train_step first)",
    "w_new = w - lr * dL/dw",
    "")

_TRAIN_HINTS = {"returns": HINT_TRAIN_RETURNS, "names": HINT_NOT_GIVEN_DATA, "start": HINT_NOT_FROM_INIT,
                "untrained": HINT_UNTRAINED,
                "earlier": HINT_EARLIER, "running_stats": HINT_TRAIN_STATS, "order": HINT_NOT_SHUFFLED,
                "val_training_data": HINT_VAL_TRAINING, "val_mode": HINT_VAL_MODE, "val_percent": HINT_VAL_PERCENT,
                "validation": HINT_VAL_REPORT, "history": HINT_HISTORY, "nan": HINT_DIVERGED,
                "accuracy": HINT_LOW_ACCURACY}


def _train_rule(case, problem):
    if problem.kind == "exception":
        if re.search(r"tuple indices must be integers|'tuple' object (is not|has no)", _exception_text(problem)):
            return HINT_STEP_RETURNS
        return None
    return _TRAIN_HINTS.get(problem.kind)


register(Exercise(
    "resnet_train", "function", ("params", "history"),
    _train_cases,
    None,
    rules=(_train_rule,),
    judge=_judge_train,
))


register_set(ExerciseSet(
    "ex8_putting_it_together",
    ("resnet_block_forward", "resnet_block_backward", "resnet_train_step", "resnet_train"),
    # the building blocks the notebook names ("What answers may use"), nnbook.data, and the setup cell's
    # init_params; no package beyond the kernel's own: the digits ship inside nnbook, and while this set
    # is graded the kernel's copy holds only the grader's training part (run/served_data.py)
    allowed=("nnbook.functional.conv2d_forward", "nnbook.functional.conv2d_backward",
             "nnbook.functional.batchnorm_forward", "nnbook.functional.batchnorm_backward",
             "nnbook.functional.relu_forward", "nnbook.functional.relu_backward",
             "nnbook.functional.avgpool2d_forward", "nnbook.functional.avgpool2d_backward",
             "nnbook.functional.linear_forward", "nnbook.functional.linear_backward",
             "nnbook.functional.softmax_cross_entropy", "nnbook.data",
             "nnbook.grading.sets.ex8_putting_it_together.init_params"),
))
