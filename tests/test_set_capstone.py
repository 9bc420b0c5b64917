"""The capstone set ex8_putting_it_together: a learner's plain loop code passes every graded case
(including the accuracy the grader measures), and the usual mistakes fail with their hints.

``Loop`` below is written the way a learner would write it: nnbook.functional calls, a Python
loop over the mini-batches and over the parameter dict, nothing vectorized by hand.
"""
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nnbook import functional as F
from nnbook.data import train_test_split
from nnbook.grading import EXERCISES, evaluate
from nnbook.grading.judge.exercise import SETS
from nnbook.grading.sets import ex8_putting_it_together as capstone
from nnbook.grading.sets.ex8_putting_it_together import init_params

ROOT = Path(__file__).resolve().parents[1]
IDS = ("resnet_block_forward", "resnet_block_backward", "resnet_train_step", "resnet_train")


def flat(text):
    """The report's text with line wrapping undone (the table wraps long lines at spaces)."""
    return " ".join(text.split())


# --- a learner's answer, loop style ---------------------------------------------------------------
class Loop:
    """A straightforward learner solution; subclasses below break one thing each."""

    def bn(self, x, params, name, training):
        return F.batchnorm_forward(x, params[name + ".gamma"], params[name + ".beta"],
                                   params[name + ".running_mean"], params[name + ".running_var"],
                                   training=training)

    def block_forward(self, x, params, stride=1, training=True):
        a1, bn1 = self.bn(x, params, "bn1", training)
        h, relu1 = F.relu_forward(a1)
        a2, conv1 = F.conv2d_forward(h, params["conv1.W"], None, stride, 1)
        a3, bn2 = self.bn(a2, params, "bn2", training)
        a4, relu2 = F.relu_forward(a3)
        branch, conv2 = F.conv2d_forward(a4, params["conv2.W"], None, 1, 1)
        if "projection.W" in params:
            skip, proj = F.conv2d_forward(h, params["projection.W"], None, stride, 0)
        else:
            skip, proj = x, None
        return branch + skip, (bn1, relu1, conv1, bn2, relu2, conv2, proj)

    def block_backward(self, dout, cache):
        bn1, relu1, conv1, bn2, relu2, conv2, proj = cache
        grads = {}
        da4, grads["conv2.W"], _ = F.conv2d_backward(dout, conv2)
        da3 = F.relu_backward(da4, relu2)
        da2, grads["bn2.gamma"], grads["bn2.beta"] = F.batchnorm_backward(da3, bn2)
        dh, grads["conv1.W"], _ = F.conv2d_backward(da2, conv1)
        if proj is not None:
            dh_skip, grads["projection.W"], _ = F.conv2d_backward(dout, proj)
            dh = dh + dh_skip
        da1 = F.relu_backward(dh, relu1)
        dx, grads["bn1.gamma"], grads["bn1.beta"] = F.batchnorm_backward(da1, bn1)
        if proj is None:
            dx = dx + dout
        return dx, grads

    def part(self, params, prefix):
        out = {}
        for key in params:
            if key.startswith(prefix + "."):
                out[key[len(prefix) + 1:]] = params[key]
        return out

    def forward(self, X, params, training=True):
        c = {}
        out, c["stem"] = F.conv2d_forward(X, params["stem.W"], None, 1, 1)
        out, c["block1"] = self.block_forward(out, self.part(params, "block1"), 1, training)
        out, c["block2"] = self.block_forward(out, self.part(params, "block2"), 2, training)
        out, c["bn"] = self.bn(out, params, "bn", training)
        out, c["relu"] = F.relu_forward(out)
        out, c["pool"] = F.avgpool2d_forward(out, out.shape[2:])
        logits, c["fc"] = F.linear_forward(out, params["fc.W"], params["fc.b"])
        return logits, c

    def backward(self, dlogits, c):
        grads = {}
        d, grads["fc.W"], grads["fc.b"] = F.linear_backward(dlogits, c["fc"])
        d = F.avgpool2d_backward(d.reshape(d.shape[0], -1, 1, 1), c["pool"])
        d = F.relu_backward(d, c["relu"])
        d, grads["bn.gamma"], grads["bn.beta"] = F.batchnorm_backward(d, c["bn"])
        for name in ("block2", "block1"):
            d, block_grads = self.block_backward(d, c[name])
            for key in block_grads:
                grads[name + "." + key] = block_grads[key]
        _, grads["stem.W"], _ = F.conv2d_backward(d, c["stem"])
        return grads

    def update(self, params, grads, lr):
        new = dict(params)
        for key in grads:
            new[key] = params[key] - lr * grads[key]
        return new

    def train_step(self, params, X_batch, y_batch, lr):
        logits, c = self.forward(X_batch, params, training=True)
        loss, dlogits = F.softmax_cross_entropy(logits, y_batch)
        return self.update(params, self.backward(dlogits, c), lr), loss

    def train(self, X, y, epochs, batch_size, lr, seed=0):
        rng = np.random.default_rng(seed)
        params = init_params(rng)
        X_fit, y_fit, X_val, y_val = train_test_split(X, y, test_fraction=0.1, seed=seed)
        for epoch in range(epochs):
            rate = lr if epoch < epochs - 1 else lr / 10
            order = rng.permutation(len(X_fit))
            for start in range(0, len(X_fit), batch_size):
                idx = order[start:start + batch_size]
                params, _ = self.train_step(params, X_fit[idx], y_fit[idx], rate)
            logits, _ = self.forward(X_val, params, training=False)
            print(f"epoch {epoch + 1}: validation accuracy {np.mean(logits.argmax(axis=1) == y_val):.3f}")
        return params

    def functions(self):
        return {"resnet_block_forward": (self.block_forward, None),
                "resnet_block_backward": (self.block_backward, self.block_forward),
                "resnet_train_step": (self.train_step, None),
                "resnet_train": (self.train, None)}


def run(learner, exercise_id, hidden=False):
    fn, forward = learner.functions()[exercise_id]
    return evaluate(exercise_id, fn, forward, hidden)


def hint_ids(report):
    return [h.id for r in report.results for h in r.hints] + [h.id for h in report.hints]


# --- the loop solution passes everything, the accuracy bar included ---------------------------------
@pytest.mark.parametrize("hidden", [False, True])
def test_loop_solution_passes_every_case(hidden, capsys):
    learner = Loop()
    seconds = {}
    for exercise_id in IDS:
        start, cpu = time.perf_counter(), time.process_time()
        report = run(learner, exercise_id, hidden)
        seconds[exercise_id] = (time.perf_counter() - start, time.process_time() - cpu)
        assert report.passed, report.text()
        assert report.results
    out = capsys.readouterr().out
    assert out.count("validation accuracy") == capstone.BUDGET["epochs"]   # train printed once per epoch
    with capsys.disabled():    # the time is reported (pytest -s shows it), never asserted
        print(f"\n[capstone loop solution, {'hidden' if hidden else 'visible'} cases] "
              + ", ".join(f"{k} {wall:.1f} s (cpu {cpu:.1f} s)" for k, (wall, cpu) in seconds.items()))


def test_the_grader_measures_the_accuracy_itself():
    """The train case reads only the returned params: the same params pass or fail whatever the
    learner printed, and the accuracy is nnbook's, on the test digits train() never saw."""
    X, y, X_test, y_test = capstone.digits()
    seen = []

    def train(X_, y_, **kwargs):
        seen.append((len(X_), kwargs))
        print("epoch 1: validation accuracy 1.000")          # a claim the grader ignores
        return init_params(np.random.default_rng(kwargs["seed"]))

    report = evaluate("resnet_train", train)
    assert not report.passed
    assert seen == [(len(X), {**capstone.BUDGET, "seed": 0})]
    assert len(X) + len(X_test) == 1797
    acc = capstone.reference_accuracy(init_params(np.random.default_rng(0)), X_test, y_test)
    assert f"accuracy {acc:.1%}" in flat(report.text())


# --- the usual mistakes fail, with hints that name the idea first ----------------------------------
class NoShortcutGradient(Loop):
    def block_backward(self, dout, cache):
        dx, grads = super().block_backward(dout, cache)
        return (dx - dout if cache[-1] is None else dx), grads


class ProjectionGradientAfterBn1(Loop):
    """Adds the projection's gradient to dx (after relu1/bn1) instead of joining it at h."""

    def block_backward(self, dout, cache):
        bn1, relu1, conv1, bn2, relu2, conv2, proj = cache
        if proj is None:
            return super().block_backward(dout, cache)
        grads = {}
        da, grads["conv2.W"], _ = F.conv2d_backward(dout, conv2)
        da, grads["bn2.gamma"], grads["bn2.beta"] = F.batchnorm_backward(F.relu_backward(da, relu2), bn2)
        dh, grads["conv1.W"], _ = F.conv2d_backward(da, conv1)
        dx, grads["bn1.gamma"], grads["bn1.beta"] = F.batchnorm_backward(F.relu_backward(dh, relu1), bn1)
        dh_skip, grads["projection.W"], _ = F.conv2d_backward(dout, proj)
        return dx + dh_skip, grads


class SkipsRelu2Backward(Loop):
    def block_backward(self, dout, cache):
        bn1, relu1, conv1, bn2, relu2, conv2, proj = cache
        return super().block_backward(dout, (bn1, relu1, conv1, bn2, np.ones_like(relu2), conv2, proj))


def test_broken_block_backward_fails_with_hints():
    report = run(NoShortcutGradient(), "resnet_block_backward")
    assert not report.passed
    failed = [r for r in report.results if not r.passed]
    assert {r.case.name for r in failed} == {r.case.name for r in report.results if "projection" not in r.case.tags}
    assert any(r.case.gradcheck for r in failed)                   # the numerical check catches it too
    assert all({p.output for p in r.problems} == {"dx"} for r in failed)
    assert "block_shortcut_gradient" in hint_ids(report)
    concept = capstone.HINT_SHORTCUT_GRADIENT.concept
    assert concept.startswith("x reaches the output along two paths") and f"hint: {concept}" in flat(report.text())

    report = run(ProjectionGradientAfterBn1(), "resnet_block_backward")
    assert not report.passed and "block_projection_gradient" in hint_ids(report)
    assert all("projection" in r.case.tags for r in report.results if not r.passed)

    report = run(SkipsRelu2Backward(), "resnet_block_backward")
    assert not report.passed and "block_backward_order" in hint_ids(report)


class EvalAlways(Loop):
    def block_forward(self, x, params, stride=1, training=True):
        return super().block_forward(x, params, stride, training=False)


class ProjectsRawX(Loop):
    def block_forward(self, x, params, stride=1, training=True):
        out, cache = super().block_forward(x, params, stride, training)
        if "projection.W" in params:
            h = F.relu_forward(self.bn(x, {k: v.copy() for k, v in params.items()}, "bn1", training)[0])[0]
            out = out - F.conv2d_forward(h, params["projection.W"], None, stride, 0)[0] \
                + F.conv2d_forward(x, params["projection.W"], None, stride, 0)[0]
        return out, cache


class NoShortcut(Loop):
    def block_forward(self, x, params, stride=1, training=True):
        out, cache = super().block_forward(x, params, stride, training)
        if "projection.W" in params:
            return out, cache
        return out - x, cache


@pytest.mark.parametrize("learner, hint_id, failing_tag", [
    (EvalAlways(), "block_train_eval_mode", None),
    (ProjectsRawX(), "block_projection_of_x", "projection"),
    (NoShortcut(), "block_no_shortcut", None)])
def test_broken_block_forward_fails_with_hints(learner, hint_id, failing_tag):
    report = run(learner, "resnet_block_forward")
    assert not report.passed and hint_id in hint_ids(report), report.text()
    if failing_tag:
        assert all(failing_tag in r.case.tags for r in report.results if not r.passed)


class WrongSign(Loop):
    def update(self, params, grads, lr):
        return super().update(params, grads, -lr)


class IgnoresLr(Loop):
    def update(self, params, grads, lr):
        return super().update(params, grads, 1.0)


class ForgetsToUpdate(Loop):
    def update(self, params, grads, lr):
        return dict(params)


class SumNotMeanGradient(Loop):
    def update(self, params, grads, lr):
        return super().update(params, {k: 3 * g for k, g in grads.items()}, lr)


class LossAfterUpdate(Loop):
    def train_step(self, params, X_batch, y_batch, lr):
        new, _ = super().train_step(params, X_batch, y_batch, lr)
        logits, _ = self.forward(X_batch, {k: v.copy() for k, v in new.items()}, training=True)
        return new, F.softmax_cross_entropy(logits, y_batch)[0]


class CopiesRunningStats(Loop):
    def bn(self, x, params, name, training):
        return F.batchnorm_forward(x, params[name + ".gamma"], params[name + ".beta"],
                                   params[name + ".running_mean"].copy(), params[name + ".running_var"].copy(),
                                   training=training)


@pytest.mark.parametrize("learner, hint_id", [
    (WrongSign(), "sgd_sign"), (IgnoresLr(), "sgd_learning_rate"), (ForgetsToUpdate(), "sgd_not_applied"),
    (SumNotMeanGradient(), "sgd_wrong_gradient"), (LossAfterUpdate(), "train_step_loss"),
    (CopiesRunningStats(), "bn_running_stats_not_updated")])
def test_broken_train_step_fails_with_hints(learner, hint_id):
    report = run(learner, "resnet_train_step")
    assert not report.passed
    assert all(not r.passed for r in report.results)
    assert hint_id in hint_ids(report), report.text()
    if hint_id == "sgd_sign":
        assert set(hint_ids(report)) == {"sgd_sign"}
        assert capstone.HINT_SGD_SIGN.concept.startswith("the weights moved uphill")
        assert "w - lr * dL/dw" in capstone.HINT_SGD_SIGN.formula and capstone.HINT_SGD_SIGN.code


class Untrained(Loop):
    def train(self, X, y, epochs, batch_size, lr, seed=0):
        return init_params(np.random.default_rng(seed))


class OneEpoch(Loop):
    def train(self, X, y, epochs, batch_size, lr, seed=0):
        return super().train(X, y, 1, batch_size, lr, seed)


class OneEpochStatsLost(OneEpoch):
    def train(self, X, y, epochs, batch_size, lr, seed=0):
        params = super().train(X, y, epochs, batch_size, lr, seed)
        start = init_params(np.random.default_rng(seed))
        return {k: (start[k] if k.endswith(("running_mean", "running_var")) else v) for k, v in params.items()}


class Diverges(Loop):
    def train(self, X, y, epochs, batch_size, lr, seed=0):
        params = init_params(np.random.default_rng(seed))
        params["fc.W"] = params["fc.W"] * np.inf
        return params


class ReturnsLoss(Loop):
    def train(self, X, y, epochs, batch_size, lr, seed=0):
        return 0.1


@pytest.mark.parametrize("learner, kind, hint_id", [
    (Untrained(), "untrained", "train_returns_initial_params"),
    (OneEpoch(), "accuracy", "train_low_accuracy"),
    (OneEpochStatsLost(), "running_stats", "train_running_stats"),
    (Diverges(), "nan", "train_diverged"),
    (ReturnsLoss(), "structure", None)])
def test_bad_training_fails_with_hints(learner, kind, hint_id, capsys):
    report = run(learner, "resnet_train")
    assert not report.passed
    problems = [p for r in report.results for p in r.problems]
    assert kind in {p.kind for p in problems}, report.text()
    if hint_id:
        assert hint_ids(report)[0] == hint_id, report.text()   # the specific hint comes first
    if kind in ("untrained", "accuracy", "running_stats"):
        assert problems[-1].kind == "accuracy" and problems[-1].got < capstone.ACCURACY_BAR


# --- the judges talk to the learner's code only in plain data ---------------------------------------
class Handle:
    """What a cross-process proxy would hand back for an object it cannot send."""


def _plain(value, handles):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (bool, int, float, str, np.integer, np.floating)) or value is None:
        return value
    if isinstance(value, dict):
        return {k: _plain(v, handles) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(v, handles) for v in value)
    h = Handle()
    handles[id(h)] = (h, value)
    return h


def _unwrap_arg(value, handles):
    if isinstance(value, Handle):
        return handles[id(value)][1]
    assert isinstance(value, (np.ndarray, bool, int, float, str, np.integer, np.floating, dict, tuple)) \
        or value is None, type(value)
    if isinstance(value, dict):
        return {k: _unwrap_arg(v, handles) for k, v in value.items()}
    if isinstance(value, tuple):        # plain data that came back (a cache made of arrays) goes back
        return tuple(_unwrap_arg(v, handles) for v in value)
    return value.copy() if isinstance(value, np.ndarray) else value


def proxy(fn, handles):
    """Like running fn in another process: copies in, plain data (or handles) out."""
    def call(*args, **kwargs):
        args = tuple(_unwrap_arg(a, handles) for a in args)
        kwargs = {k: _unwrap_arg(v, handles) for k, v in kwargs.items()}
        return _plain(fn(*args, **kwargs), handles)
    return call


class ObjectCache(Loop):
    """Keeps the block's cache in an object, which a proxy can only pass as a handle."""

    class Cache:
        def __init__(self, parts):
            self.parts = parts

    def block_forward(self, x, params, stride=1, training=True):
        out, cache = super().block_forward(x, params, stride, training)
        return out, self.Cache(cache)

    def block_backward(self, dout, cache):
        return super().block_backward(dout, cache.parts)


@pytest.mark.parametrize("learner", [Loop(), ObjectCache()], ids=["tuple cache", "object cache"])
def test_judges_work_through_a_plain_data_proxy(learner):
    handles = {}
    for exercise_id in IDS[:3]:
        fn, forward = learner.functions()[exercise_id]
        report = evaluate(exercise_id, proxy(fn, handles), forward and proxy(forward, handles))
        assert report.passed, report.text()
    # a tuple cache came back as plain data, an object cache as a handle
    assert any(isinstance(v, ObjectCache.Cache) for _, v in handles.values()) == isinstance(learner, ObjectCache)
    report = evaluate("resnet_train", proxy(Untrained().train, handles))
    assert not report.passed and "train_returns_initial_params" in hint_ids(report)


# --- the set, the notebook and the reference -------------------------------------------------------
def test_set_registration_and_rules():
    s = SETS["ex8_putting_it_together"]
    assert s.exercises == IDS
    for name in ("nnbook.layers.ResidualBlock", "nnbook.fit", "nnbook.train.fit", "nnbook.optim.SGD",
                 "nnbook.optim.Adam", "nnbook.optim.RMSProp", "nnbook.models.small_resnet"):
        assert not s.allows(name), name
    for name in ("nnbook.functional.conv2d_forward", "nnbook.functional.batchnorm_backward",
                 "nnbook.data.train_test_split", "nnbook.grading.sets.ex8_putting_it_together.init_params"):
        assert s.allows(name), name
    for exercise_id in IDS:
        assert EXERCISES[exercise_id].judge is not None
        visible = {c.name for c in EXERCISES[exercise_id].cases(False)}
        assert visible
    assert sum(c.gradcheck for c in EXERCISES["resnet_block_backward"].cases()) == 2
    names = [c.name for c in EXERCISES["resnet_block_backward"].cases() if c.gradcheck]
    assert any("identity" in n for n in names) and any("projection" in n for n in names)


def test_notebook_states_the_budget_the_bar_and_the_rule():
    nb = nbformat.read(ROOT / "solutions" / "ex8_putting_it_together.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    b = capstone.BUDGET
    assert (f"train(X_train, y_train, epochs={b['epochs']}, batch_size={b['batch_size']}, lr={b['lr']}, "
            "seed=0)") in text
    assert f"{capstone.ACCURACY_BAR:.0%} test accuracy" in text
    for name in ("nnbook.layers.ResidualBlock", "nnbook.fit", "nnbook.optim.SGD", "nnbook.models.small_resnet"):
        assert name in text
    for chapter in ("../book/07_residual.ipynb", "../book/06_batch_norm.ipynb", "../book/02_training.ipynb"):
        assert chapter in text
    released = (ROOT / "exercises" / "ex8_putting_it_together.ipynb").read_text()
    for answer_line in ("dx = dx + dout", "params[key] - lr * grads[key]", "rng.permutation"):
        assert answer_line not in released


def test_reference_model_matches_the_loop_network():
    """The grader's network (nnbook layers) and a learner's composition of F agree, both modes."""
    rng = np.random.default_rng(3)
    params = capstone._perturbed_params(rng)
    X = rng.random((6, 1, 8, 8))
    for training in (False, True):
        mine = Loop().forward(X, {k: v.copy() for k, v in params.items()}, training)[0]
        theirs = capstone.reference_model(params, training)(X)
        assert np.abs(mine - theirs).max() < 1e-10
    X_train, y_train, _, _ = capstone.digits()
    new, loss = capstone.reference_train_step(params, X_train[:10], y_train[:10], 0.1)
    mine, my_loss = Loop().train_step({k: v.copy() for k, v in params.items()}, X_train[:10], y_train[:10], 0.1)
    assert abs(loss - my_loss) < 1e-12
    assert all(np.abs(new[k] - mine[k]).max() < 1e-10 for k in params)


def test_init_params_layout_and_bad_rng():
    params = init_params(np.random.default_rng(0))
    assert params["stem.W"].shape == (8, 1, 3, 3) and params["block2.projection.W"].shape == (16, 8, 1, 1)
    assert "block1.projection.W" not in params and params["fc.W"].shape == (16, 10)
    assert all(v.dtype == np.float64 for v in params.values())
    assert np.array_equal(init_params(np.random.default_rng(0))["fc.W"], params["fc.W"])   # seeded
    with pytest.raises(TypeError, match="init_params: expected a numpy.random.Generator"):
        init_params(0)
