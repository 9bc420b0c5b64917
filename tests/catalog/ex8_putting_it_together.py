"""Mistake catalog of the capstone (exercises/ex8_putting_it_together.ipynb).

The feedback's test suite: realistic wrong answers to the four graded functions, each one slip away
from a correct answer, written the way a learner writes them (nnbook.functional calls, plain loops,
names spelled out), and the correct answers they come from. tests/test_catalog_capstone.py checks
that ``check()`` fails every entry and that its **first** hint names the entry's cause (by the hint's
id), and that the correct answers pass every case.

The answers are the source a learner would have in the notebook's answer cells (:data:`ANSWERS`, the
whole notebook's, since ``train`` calls ``train_step`` and ``train_step`` the block). An entry is a
list of edits of that source, ``(old, new)``: ``old`` occurs exactly once in the function the entry
breaks (or, with ``every=True``, wherever it occurs in it).

Kept here, not inside ``lib/``: the graded kernel imports ``nnbook``, and the catalog is test data.
"""
from dataclasses import dataclass

SETUP = """\
import numpy as np
from nnbook import functional as F
from nnbook.data import train_test_split
from nnbook.grading.sets.ex8_putting_it_together import init_params
"""

BLOCK_FORWARD = '''\
def residual_block_forward(x, params, stride=1, training=True):
    a1, bn1 = F.batchnorm_forward(x, params["bn1.gamma"], params["bn1.beta"], params["bn1.running_mean"],
                                  params["bn1.running_var"], training=training)
    h, relu1 = F.relu_forward(a1)
    a2, conv1 = F.conv2d_forward(h, params["conv1.W"], None, stride, 1)
    a3, bn2 = F.batchnorm_forward(a2, params["bn2.gamma"], params["bn2.beta"], params["bn2.running_mean"],
                                  params["bn2.running_var"], training=training)
    a4, relu2 = F.relu_forward(a3)
    branch, conv2 = F.conv2d_forward(a4, params["conv2.W"], None, 1, 1)
    if "projection.W" in params:
        skip, projection = F.conv2d_forward(h, params["projection.W"], None, stride, 0)
    else:
        skip, projection = x, None
    out = branch + skip
    return out, (bn1, relu1, conv1, bn2, relu2, conv2, projection)
'''

BLOCK_BACKWARD = '''\
def residual_block_backward(dout, cache):
    bn1, relu1, conv1, bn2, relu2, conv2, projection = cache
    dparams = {}
    da4, dparams["conv2.W"], _ = F.conv2d_backward(dout, conv2)
    da3 = F.relu_backward(da4, relu2)
    da2, dparams["bn2.gamma"], dparams["bn2.beta"] = F.batchnorm_backward(da3, bn2)
    dh, dparams["conv1.W"], _ = F.conv2d_backward(da2, conv1)
    if projection is not None:
        dh_skip, dparams["projection.W"], _ = F.conv2d_backward(dout, projection)
        dh = dh + dh_skip
    da1 = F.relu_backward(dh, relu1)
    dx, dparams["bn1.gamma"], dparams["bn1.beta"] = F.batchnorm_backward(da1, bn1)
    if projection is None:
        dx = dx + dout
    return dx, dparams
'''

NETWORK = '''\
def resnet_forward(X, params, training=True):
    caches = {}
    out, caches["stem"] = F.conv2d_forward(X, params["stem.W"], None, 1, 1)
    for name, stride in [("block1", 1), ("block2", 2)]:
        block = {}
        for key in params:
            if key.startswith(name + "."):
                block[key[len(name) + 1:]] = params[key]
        out, caches[name] = residual_block_forward(out, block, stride, training)
    out, caches["bn"] = F.batchnorm_forward(out, params["bn.gamma"], params["bn.beta"], params["bn.running_mean"],
                                            params["bn.running_var"], training=training)
    out, caches["relu"] = F.relu_forward(out)
    out, caches["pool"] = F.avgpool2d_forward(out, out.shape[2:])
    logits, caches["fc"] = F.linear_forward(out, params["fc.W"], params["fc.b"])
    return logits, caches


def resnet_backward(dlogits, caches):
    grads = {}
    d, grads["fc.W"], grads["fc.b"] = F.linear_backward(dlogits, caches["fc"])
    d = F.avgpool2d_backward(d.reshape(d.shape[0], d.shape[1], 1, 1), caches["pool"])
    d = F.relu_backward(d, caches["relu"])
    d, grads["bn.gamma"], grads["bn.beta"] = F.batchnorm_backward(d, caches["bn"])
    for name in ["block2", "block1"]:
        d, block_grads = residual_block_backward(d, caches[name])
        for key in block_grads:
            grads[name + "." + key] = block_grads[key]
    _, grads["stem.W"], _ = F.conv2d_backward(d, caches["stem"])
    return grads
'''

TRAIN_STEP = '''\
def train_step(params, X_batch, y_batch, lr):
    logits, caches = resnet_forward(X_batch, params, training=True)
    loss, dlogits = F.softmax_cross_entropy(logits, y_batch)
    grads = resnet_backward(dlogits, caches)
    new_params = {}
    for key in params:
        if key in grads:
            new_params[key] = params[key] - lr * grads[key]
        else:
            new_params[key] = params[key]
    return new_params, loss
'''

TRAIN = '''\
def train(X, y, epochs, batch_size, lr, seed=0):
    rng = np.random.default_rng(seed)
    params = init_params(rng)
    X_fit, y_fit, X_val, y_val = train_test_split(X, y, test_fraction=0.1, seed=seed)
    history = {"val_loss": [], "val_accuracy": []}
    for epoch in range(epochs):
        if epoch == epochs - 1:
            rate = lr / 10
        else:
            rate = lr
        order = rng.permutation(len(X_fit))
        for start in range(0, len(X_fit), batch_size):
            batch = order[start:start + batch_size]
            params, loss = train_step(params, X_fit[batch], y_fit[batch], rate)
        logits, _ = resnet_forward(X_val, params, training=False)
        val_loss, _ = F.softmax_cross_entropy(logits, y_val)
        accuracy = np.mean(logits.argmax(axis=1) == y_val)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(accuracy)
        print(f"epoch {epoch + 1}: validation loss {val_loss:.3f}, accuracy {accuracy:.3f}")
    return params, history
'''

# exercise id -> (the learner's function it checks, the correct source of that function and its helpers)
ANSWERS = {"resnet_block_forward": ("residual_block_forward", BLOCK_FORWARD),
           "resnet_block_backward": ("residual_block_backward", BLOCK_BACKWARD),
           "resnet_train_step": ("train_step", NETWORK + "\n\n" + TRAIN_STEP),   # the network is part of the step
           "resnet_train": ("train", TRAIN)}


@dataclass(frozen=True)
class Entry:
    """One wrong answer: ``exercise`` (whose function it breaks), ``cause`` (the id of the hint that
    must come first), ``slip`` (in words) and ``edits``, ``(old, new)`` pairs applied to that function."""
    exercise: str
    cause: str
    slip: str
    edits: tuple
    every: bool = False

    @property
    def id(self):
        return f"{self.exercise}-{self.cause}-{abs(hash(self.slip)) % 10_000:04d}"


ENTRIES = [
    # --- residual_block_forward -------------------------------------------------------------------
    Entry("resnet_block_forward", "block_train_eval_mode", "never passes the mode: batch norm always trains",
          ((", training=training)", ")"),), every=True),
    Entry("resnet_block_forward", "block_projection_of_x", "projects the raw x instead of h",
          (('F.conv2d_forward(h, params["projection.W"]', 'F.conv2d_forward(x, params["projection.W"]'),)),
    Entry("resnet_block_forward", "block_no_shortcut", "returns the branch without the shortcut",
          (("out = branch + skip", "out = branch"),)),
    Entry("resnet_block_forward", "block_projection_stride", "applies the projection with stride 1",
          (('params["projection.W"], None, stride, 0)', 'params["projection.W"], None, 1, 0)'),)),
    Entry("resnet_block_forward", "block_stride_on_conv1", "puts the block's stride on conv2",
          (('params["conv1.W"], None, stride, 1)', 'params["conv1.W"], None, 1, 1)'),
           ('params["conv2.W"], None, 1, 1)', 'params["conv2.W"], None, stride, 1)'))),
    Entry("resnet_block_forward", "block_running_stats", "passes copies of the running statistics",
          (('params["bn1.running_mean"],', 'params["bn1.running_mean"].copy(),'),
           ('params["bn1.running_var"], training', 'params["bn1.running_var"].copy(), training'),
           ('params["bn2.running_mean"],', 'params["bn2.running_mean"].copy(),'),
           ('params["bn2.running_var"], training', 'params["bn2.running_var"].copy(), training'))),
    Entry("resnet_block_forward", "block_preactivation_order", "applies ReLU before batch norm",
          (("a1, bn1 = F.batchnorm_forward(x,",
            "r1, relu1 = F.relu_forward(x)\n    h, bn1 = F.batchnorm_forward(r1,"),
           ("    h, relu1 = F.relu_forward(a1)\n", ""),
           ("a3, bn2 = F.batchnorm_forward(a2,",
            "r2, relu2 = F.relu_forward(a2)\n    a4, bn2 = F.batchnorm_forward(r2,"),
           ("    a4, relu2 = F.relu_forward(a3)\n", ""))),
    Entry("resnet_block_forward", "block_conv_padding", "forgets conv2's padding",
          (('params["conv2.W"], None, 1, 1)', 'params["conv2.W"], None, 1, 0)'),)),
    Entry("resnet_block_forward", "block_projection_missing", "uses the projection only when the stride is 2",
          (('if "projection.W" in params:', "if stride != 1:"),)),
    Entry("resnet_block_forward", "block_cache_format", "returns the caches in another order",
          (("return out, (bn1, relu1, conv1, bn2, relu2, conv2, projection)",
            "return out, (conv1, bn1, relu1, conv2, bn2, relu2, projection)"),)),
    # --- residual_block_backward ------------------------------------------------------------------
    Entry("resnet_block_backward", "block_shortcut_gradient", "forgets the identity shortcut's gradient",
          (("    if projection is None:\n        dx = dx + dout\n", ""),)),
    Entry("resnet_block_backward", "block_projection_gradient", "adds the projection's gradient to dx, after bn1",
          (("        dh = dh + dh_skip\n", ""),
           ("    if projection is None:\n        dx = dx + dout\n",
            "    if projection is None:\n        dx = dx + dout\n    else:\n        dx = dx + dh_skip\n"))),
    Entry("resnet_block_backward", "block_projection_gradient", "adds dout to dx in every block, projection or not",
          (("    if projection is None:\n        dx = dx + dout\n", "    dx = dx + dout\n"),)),
    Entry("resnet_block_backward", "block_relu_backward", "skips relu2's backward",
          (("da3 = F.relu_backward(da4, relu2)", "da3 = da4"),)),
    Entry("resnet_block_backward", "block_dparams_keys", "stores bn2's gradients under each other's keys",
          (('da2, dparams["bn2.gamma"], dparams["bn2.beta"]', 'da2, dparams["bn2.beta"], dparams["bn2.gamma"]'),)),
    Entry("resnet_block_backward", "block_dparams_keys", "never stores the projection's gradient",
          (('dh_skip, dparams["projection.W"], _', "dh_skip, dW_skip, _"),)),
    Entry("resnet_block_backward", "block_backward_order", "runs relu1's backward with relu2's cache",
          (("F.relu_backward(dh, relu1)", "F.relu_backward(dh, relu2)"),)),
    # --- train_step ---------------------------------------------------------------------------------
    Entry("resnet_train_step", "sgd_sign", "adds the gradient",
          (("params[key] - lr * grads[key]", "params[key] + lr * grads[key]"),)),
    Entry("resnet_train_step", "sgd_learning_rate", "forgets the learning rate",
          (("params[key] - lr * grads[key]", "params[key] - grads[key]"),)),
    Entry("resnet_train_step", "sgd_not_applied", "returns the old params",
          (("return new_params, loss", "return params, loss"),)),
    Entry("resnet_train_step", "sgd_gradient_not_mean", "writes its own cross-entropy gradient without 1/N",
          (("    loss, dlogits = F.softmax_cross_entropy(logits, y_batch)\n",
            "    shifted = logits - logits.max(axis=1, keepdims=True)\n"
            "    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)\n"
            "    loss = -np.mean(np.log(probs[np.arange(len(y_batch)), y_batch]))\n"
            "    dlogits = probs.copy()\n"
            "    dlogits[np.arange(len(y_batch)), y_batch] -= 1\n"),)),
    Entry("resnet_train_step", "train_step_loss", "returns the loss after the update",
          (("    return new_params, loss\n",
            "    logits, _ = resnet_forward(X_batch, new_params, training=True)\n"
            "    loss, _ = F.softmax_cross_entropy(logits, y_batch)\n"
            "    return new_params, loss\n"),)),
    Entry("resnet_train_step", "train_step_eval_mode", "runs the forward pass in evaluation mode",
          (("resnet_forward(X_batch, params, training=True)", "resnet_forward(X_batch, params, training=False)"),)),
    Entry("resnet_train_step", "sgd_running_stats_have_no_gradient", "updates every array of params with a gradient",
          (("        if key in grads:\n            new_params[key] = params[key] - lr * grads[key]\n"
            "        else:\n            new_params[key] = params[key]\n",
            "        new_params[key] = params[key] - lr * grads[key]\n"),)),
    Entry("resnet_train_step", "network_backward_order", "goes back through block1 before block2",
          (('for name in ["block2", "block1"]:', 'for name in ["block1", "block2"]:'),)),
    Entry("resnet_train_step", "bn_running_stats_not_updated", "passes copies of the head's running statistics",
          (('params["bn.running_mean"],\n', 'params["bn.running_mean"].copy(),\n'),
           ('params["bn.running_var"], training', 'params["bn.running_var"].copy(), training'))),
    Entry("resnet_train_step", "sgd_not_applied", "stores the blocks' gradients without the block's prefix",
          (('grads[name + "." + key] = block_grads[key]', "grads[key] = block_grads[key]"),)),
    # --- train --------------------------------------------------------------------------------------
    Entry("resnet_train", "train_not_shuffled", "never shuffles",
          (("order = rng.permutation(len(X_fit))", "order = np.arange(len(X_fit))"),)),
    Entry("resnet_train", "train_not_shuffled", "draws an order but slices X_fit itself",
          (("train_step(params, X_fit[batch], y_fit[batch], rate)",
            "train_step(params, X_fit[start:start + batch_size], y_fit[start:start + batch_size], rate)"),)),
    Entry("resnet_train", "train_validation_on_training_data", "measures the validation numbers on X_fit",
          (("resnet_forward(X_val, params, training=False)", "resnet_forward(X_fit, params, training=False)"),
           ("F.softmax_cross_entropy(logits, y_val)", "F.softmax_cross_entropy(logits, y_fit)"),
           ("logits.argmax(axis=1) == y_val", "logits.argmax(axis=1) == y_fit"))),
    Entry("resnet_train", "train_validation_mode", "measures the validation numbers in training mode",
          (("resnet_forward(X_val, params, training=False)", "resnet_forward(X_val, params, training=True)"),)),
    Entry("resnet_train", "train_returns_initial_params", "ignores what train_step returns",
          (("params, loss = train_step(params,", "train_step(params,"),)),
    Entry("resnet_train", "train_step_returns_pair", "keeps train_step's (params, loss) pair as the params",
          (("params, loss = train_step(params,", "params = train_step(params,"),)),
    Entry("resnet_train", "train_history", "appends the validation numbers once, after the loop",
          (('        history["val_loss"].append(val_loss)\n        history["val_accuracy"].append(accuracy)\n', ""),
           ("    return params, history\n", '    history["val_loss"].append(val_loss)\n'
            '    history["val_accuracy"].append(accuracy)\n    return params, history\n'))),
    Entry("resnet_train", "train_validation_fraction", "reports the accuracy in percent",
          (("accuracy = np.mean(logits.argmax(axis=1) == y_val)",
            "accuracy = 100 * np.mean(logits.argmax(axis=1) == y_val)"),)),
    Entry("resnet_train", "train_returns_params_and_history", "returns only the params",
          (("    return params, history\n", "    return params\n"),)),
]


def answer(exercise_id, entry=None):
    """The source of one graded function: correct, or with ``entry``'s slip when it breaks that function."""
    source = ANSWERS[exercise_id][1]
    if entry is None or entry.exercise != exercise_id:
        return source
    for old, new in entry.edits:
        count = source.count(old)
        if count == 0 or (count > 1 and not entry.every):
            raise ValueError(f"catalog entry {entry.slip!r}: {old!r} occurs {count} times in {exercise_id}")
        source = source.replace(old, new)
    return source


def notebook_source(entry=None):
    """Every answer cell of the notebook, as the learner would have them (with ``entry``'s slip)."""
    parts = [SETUP, answer("resnet_block_forward", entry), answer("resnet_block_backward", entry),
             answer("resnet_train_step", entry), answer("resnet_train", entry)]
    return "\n\n".join(parts)


def namespace(entry=None):
    """The learner's notebook namespace after running its answer cells (with ``entry``'s slip)."""
    ns = {"__name__": "learner"}
    exec(compile(notebook_source(entry), "<learner's notebook>", "exec"), ns)
    return ns
