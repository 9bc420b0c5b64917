"""The capstone set ex8_putting_it_together: a learner's plain loop code passes every graded case
(including the accuracy the grader measures), the usual mistakes fail with their hints, the grader's
own data make ``train`` learn from what it is given, and one mistake costs points once.

``Loop`` below is written the way a learner would write it: nnbook.functional calls, a Python
loop over the mini-batches and over the parameter dict, nothing vectorized by hand. The full
catalog of realistic mistakes is tests/catalog/ex8_putting_it_together.py (tests/test_catalog_capstone.py).
"""
import re
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nnbook import functional as F
from nnbook.data import train_test_split
from nnbook.grading import EXERCISES, evaluate
from nnbook.grading.judge.exercise import SETS, grading_seed
from nnbook.grading.judge.session import session
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
        history = {"val_loss": [], "val_accuracy": []}
        for epoch in range(epochs):
            rate = lr if epoch < epochs - 1 else lr / 10
            order = rng.permutation(len(X_fit))
            for start in range(0, len(X_fit), batch_size):
                idx = order[start:start + batch_size]
                params, _ = self.train_step(params, X_fit[idx], y_fit[idx], rate)
            logits, _ = self.forward(X_val, params, training=False)
            history["val_loss"].append(F.softmax_cross_entropy(logits, y_val)[0])
            history["val_accuracy"].append(np.mean(logits.argmax(axis=1) == y_val))
            print(f"epoch {epoch + 1}: validation accuracy {history['val_accuracy'][-1]:.3f}")
        return params, history

    def functions(self):
        return {"resnet_block_forward": self.block_forward,
                "resnet_block_backward": self.block_backward,
                "resnet_train_step": self.train_step,
                "resnet_train": self.train}


def run(learner, exercise_id, hidden=False):
    """Check one function of ``learner`` in a session of its own (no earlier check of another test)."""
    with session():
        return evaluate(exercise_id, learner.functions()[exercise_id], None, hidden)


def run_all(learner, ids=IDS, hidden=False):
    """Check several functions in order, in one session, as a notebook's check cells run."""
    with session():
        return {i: evaluate(i, learner.functions()[i], None, hidden) for i in ids}


def hint_ids(report):
    return [h.id for r in report.results for h in r.hints] + [h.id for h in report.hints]


# --- the loop solution passes everything, the accuracy bar included ---------------------------------
@pytest.mark.parametrize("hidden", [False, True])
def test_loop_solution_passes_every_case(hidden, capsys):
    learner = Loop()
    seconds = {}
    with session():
        for exercise_id in IDS:
            start, cpu = time.perf_counter(), time.process_time()
            report = evaluate(exercise_id, learner.functions()[exercise_id], None, hidden)
            seconds[exercise_id] = (time.perf_counter() - start, time.process_time() - cpu)
            assert report.passed, report.text()
            assert report.results
    out = capsys.readouterr().out
    assert out.count("validation accuracy") == capstone.BUDGET["epochs"]   # train printed once per epoch
    # a passing train shows what the grader measured and the budget
    text = flat(report.text())
    assert "measured by the grader: trained on its 1,438 training digits, held-out accuracy" in text
    assert "budget 6 epochs of 81 steps of 16 digits at lr 0.1 (0.01 in the last)" in text
    with capsys.disabled():    # the time is reported (pytest -s shows it), never asserted
        print(f"\n[capstone loop solution, {'hidden' if hidden else 'visible'} cases] "
              + ", ".join(f"{k} {wall:.1f} s (cpu {cpu:.1f} s)" for k, (wall, cpu) in seconds.items()))


# --- the grader's own digits ------------------------------------------------------------------------
def test_grading_split_holds_out_a_fifth_and_renames_every_class():
    notebook = capstone.grading_split(None)
    assert notebook is capstone.grading_split(None)                     # the notebook's check: always the same
    X_all = np.concatenate([notebook.X_train, notebook.X_held])
    assert len(notebook.X_train) == 1438 and len(notebook.X_held) == capstone.HELD_OUT == 359
    runs = [capstone.grading_split(seed) for seed in (0, 1, 7)]
    for split in [notebook] + runs:
        assert sorted(map(bytes, np.concatenate([split.X_train, split.X_held]))) == sorted(map(bytes, X_all))
        perms = [np.arange(10)] + list(split.names.values())
        for i, p in enumerate(perms):                  # every naming moves every class, and differs
            assert sorted(p) == list(range(10))         # from every other at every class
            assert all(np.all(p != q) for q in perms[:i])
    for split in runs:                                 # a graded run's names differ from the notebook's
        assert all(np.all(p != q) for p in split.names.values() for q in notebook.names.values())
    assert not np.array_equal(runs[0].y_held, runs[1].y_held)     # each run draws its own held-out part


def test_train_gets_the_training_part_renamed_and_in_class_order_after_the_split():
    split = capstone.grading_split(3)
    for naming, seed in (("visible", 0), ("hidden", 1)):
        X, y, val_pos = capstone.train_data(split, naming, seed)
        X_fit, y_fit, X_val, y_val = train_test_split(X, y, test_fraction=0.1, seed=seed)
        assert len(X) == 1438 and np.array_equal(X_val, X[val_pos]) and len(X_val) == 144
        assert np.all(np.diff(y_fit) >= 0) and set(y_fit) == set(range(10))     # sorted by class
        assert not np.all(np.diff(y) >= 0)                                        # ... only after the split
        renamed = split.names[naming][split.y_train]                # the same digits, renamed for this call
        assert sorted(zip(map(bytes, X), y)) == sorted(zip(map(bytes, split.X_train), renamed))


def test_the_kernel_gets_only_the_training_part(tmp_path):
    """While ex8 is graded, the kernel's copy of nnbook holds the grader's training part (under the
    kernel's own naming) in place of the packaged digits: load_digits, digits_raw, importlib.resources
    and the path next to nnbook/data.py all give it, scikit-learn is not needed, and no file of the
    copy holds a held-out digit."""
    import subprocess
    import sys
    from nnbook.grading.run.guard import build_overlay
    from nnbook.grading.run.served_data import digits_file, serve
    name = "ex8_putting_it_together"
    build_overlay(tmp_path, name, SETS[name].allowed)
    shipped = np.load(digits_file(tmp_path))["images"]
    assert len(shipped) == 1797                                               # before: the full file
    assert serve(tmp_path, name, 5) == 1438
    probe = ("import sys; sys.modules['sklearn'] = None\n"          # importing scikit-learn now fails
             "import importlib.resources, os, numpy as np, nnbook.data\n"
             "from nnbook.data import load_digits, digits_raw\n"
             "a, b, c, d = load_digits(dtype=np.float64)\n"
             "raw = digits_raw()[0]\n"
             "res = np.load(importlib.resources.files('nnbook').joinpath('_data/digits.npz').open('rb'))['images']\n"
             "near = np.load(os.path.join(os.path.dirname(nnbook.data.__file__), '_data', 'digits.npz'))['images']\n"
             "np.savez(sys.argv[1], X=np.concatenate([a, c]), y=np.concatenate([b, d]), n=[len(a), len(c)],\n"
             "         raw=raw, res=res, near=near)")
    out = tmp_path / "served.npz"
    env = dict(__import__("os").environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", probe, str(out)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    served = np.load(out)
    split = capstone.grading_split(5)
    assert list(served["n"]) == [1150, 288]
    assert sorted(zip(map(bytes, served["X"]), served["y"])) == \
        sorted(zip(map(bytes, split.X_train), split.names["kernel"][split.y_train]))
    pixels = np.rint(split.X_train[:, 0] * 16).astype(np.uint8)
    for route in ("raw", "res", "near"):
        assert np.array_equal(served[route], pixels), route
    held = set(map(bytes, split.X_held)) - set(map(bytes, split.X_train))   # a few digits occur twice
    assert held and not held & set(map(bytes, served["X"]))
    # no file of the kernel's nnbook holds a held-out digit: its only data file is the served one
    data_files = [p for p in (tmp_path / "nnbook").rglob("*") if p.is_file() and p.suffix not in (".py", ".typed")]
    assert data_files == [digits_file(tmp_path)], data_files
    held_pixels = set(map(bytes, np.rint(split.X_held[:, 0] * 16).astype(np.uint8))) - set(map(bytes, pixels))
    assert not held_pixels & set(map(bytes, np.load(data_files[0])["images"]))
    assert serve(tmp_path, "ex3_convolution", 5) == 0                       # other sets: the real ones


def test_train_step_cases_carry_no_held_out_digit_and_no_true_label():
    """The training step's cases reach the kernel too: their digits come from the grader's training
    part, named as the kernel's own digits are."""
    for seed in (None, 11):
        split = capstone.grading_split(seed)
        with grading_seed(seed):
            ex = EXERCISES["resnet_train_step"]
            cases = ex.cases(False) + ex.cases(True)
        training = {(bytes(x), int(label)) for x, label in zip(split.X_train, split.names["kernel"][split.y_train])}
        held_only = set(map(bytes, split.X_held)) - {x for x, _ in training}
        for case in cases:
            _, X, y, _ = case.args
            assert all((bytes(x), int(label)) in training for x, label in zip(X, y))
            assert not held_only & set(map(bytes, X))


class KeepsItsWeights(Loop):
    """Returns the weights of its first call on every later call (constant weights)."""

    def train(self, X, y, epochs, batch_size, lr, seed=0):
        if not hasattr(self, "kept"):
            self.kept = super().train(X, y, epochs, batch_size, lr, seed)
        return self.kept


class Pretrained(Loop):
    """Returns fixed weights whatever it is given, with the history they would have."""

    def __init__(self, params):
        self.params = params

    def train(self, X, y, epochs, batch_size, lr, seed=0):
        X_fit, y_fit, X_val, y_val = train_test_split(X, y, test_fraction=0.1, seed=seed)
        logits, _ = self.forward(X_val, self.params, training=False)
        acc, loss = np.mean(logits.argmax(axis=1) == y_val), F.softmax_cross_entropy(logits, y_val)[0]
        return {k: v.copy() for k, v in self.params.items()}, {"val_loss": [loss] * epochs,
                                                               "val_accuracy": [acc] * epochs}


@pytest.fixture(scope="module")
def true_label_weights():
    """Weights trained on all 1,797 digits with their true labels (as a learner could before grading)."""
    X_train, y_train, X_test, y_test = capstone.digits()
    X, y = np.concatenate([X_train, X_test]), np.concatenate([y_train, y_test])
    return capstone.reference_train(X, y, 6, 16, 0.1, seed=0, log=None)[0]


@pytest.mark.parametrize("graded", [False, True], ids=["notebook", "graded run"])
def test_weights_trained_on_the_true_labels_score_near_zero_and_are_named(true_label_weights, graded):
    with grading_seed(11 if graded else None):
        report = run(Pretrained(true_label_weights), "resnet_train")
    assert not report.passed and hint_ids(report)[0] == "train_not_on_given_data", report.text()
    text = flat(report.text())
    assert re.search(r"classify the held-out digits by the true digit labels \((9\d|100)% right\)", text), text
    accuracy = [p for r in report.results for p in r.problems if p.kind == "accuracy"][0]
    assert accuracy.got < 0.05                      # the names never agree: near zero, not near chance


def test_without_their_guards_weights_trained_before_would_pass(true_label_weights, monkeypatch):
    """Two guards stop them: the renaming (switched off: every class keeps its name) and the trace of
    the init (switched off: any weights pass it). With both off, the same weights pass."""
    monkeypatch.setattr(capstone, "_renamings", lambda rng, count, avoid: [np.arange(10)] * count)
    capstone.grading_split.cache_clear()
    try:
        with grading_seed(11):
            report = run(Pretrained(true_label_weights), "resnet_train")
            assert not report.passed and report.hints[0].id == "train_not_from_init", report.text()
            monkeypatch.setattr(capstone, "START_TRACE", -1.0)
            report = run(Pretrained(true_label_weights), "resnet_train")
            assert report.passed, report.text()
    finally:
        capstone.grading_split.cache_clear()


class PretrainedRenamed(Pretrained):
    """Weights trained before, their outputs renamed after the y given: the network's own predictions
    of X tell which of the given names each digit class carries."""

    def train(self, X, y, epochs, batch_size, lr, seed=0):
        params = {k: v.copy() for k, v in self.params.items()}
        digit = self.forward(X, params, training=False)[0].argmax(axis=1)
        name = [np.bincount(y[digit == d], minlength=10).argmax() for d in range(10)]
        W, b = params["fc.W"].copy(), params["fc.b"].copy()
        for d in range(10):
            params["fc.W"][:, name[d]], params["fc.b"][name[d]] = W[:, d], b[d]
        return Pretrained(params).train(X, y, epochs, batch_size, lr, seed)


def test_weights_trained_before_and_renamed_after_y_did_not_start_at_the_init(true_label_weights, monkeypatch):
    with grading_seed(11):
        report = run(PretrainedRenamed(true_label_weights), "resnet_train")
        assert not report.passed and [h.id for h in report.hints] == ["train_not_from_init"], report.text()
        text = flat(report.text())
        assert "your weights did not start at init_params(np.random.default_rng(" in text
        assert re.search(r"held-out accuracy 9\d\.\d% on its 359 held-out digits", text)   # the bar alone: passed
        monkeypatch.setattr(capstone, "START_TRACE", -1.0)          # without the check, they would pass
        assert run(PretrainedRenamed(true_label_weights), "resnet_train").passed


def test_trained_weights_keep_a_trace_of_their_init():
    """Measured on the reference loop: the trace of the init is far above START_TRACE, and weights that
    started elsewhere are far below it."""
    split = capstone.grading_split(2)
    X, y, _ = capstone.train_data(split, "visible", 5)
    params, _ = capstone.reference_train(X, y, 6, 16, 0.1, 5, log=None)
    init = init_params(np.random.default_rng(5))
    assert capstone.start_trace(params, init) > 0.8
    assert capstone.start_trace(init, init) == pytest.approx(1.0)
    for other in (0, 6, 7):
        assert abs(capstone.start_trace(params, init_params(np.random.default_rng(other)))) < 0.05
    assert capstone.train_seeds(None) == capstone.NOTEBOOK_TRAIN_SEEDS
    assert capstone.train_seeds(11) == capstone.train_seeds(11) and capstone.train_seeds(11) != capstone.train_seeds(12)
    assert len(set(capstone.train_seeds(11))) == 2


def test_weights_kept_from_the_notebook_or_another_call_are_named(capsys):
    learner = KeepsItsWeights()
    report = run(learner, "resnet_train")                    # the notebook: it learns from what it is given
    assert report.passed, report.text()
    report = run(learner, "resnet_train", hidden=True)       # another call, other names: the same weights
    assert not report.passed and hint_ids(report)[0] == "train_not_on_given_data"
    assert "by the names of the other train call" in flat(report.text())
    with grading_seed(11):                                   # graded: weights made for the notebook's check
        report = run(learner, "resnet_train")
    assert not report.passed and hint_ids(report)[0] == "train_not_on_given_data"
    assert "by the names check() uses in the notebook" in flat(report.text())


# --- one mistake costs points once; a function is judged as it was at its own check ----------------
class WrongForward(Loop):
    """A forward without its identity shortcut; the backward is right (for the right forward)."""

    def block_forward(self, x, params, stride=1, training=True):
        out, cache = super().block_forward(x, params, stride, training)
        return (out - x if cache[-1] is None else out), cache


def test_a_right_block_backward_keeps_its_points_when_the_forward_is_wrong():
    reports = run_all(WrongForward(), IDS[:2])
    assert not reports["resnet_block_forward"].passed
    assert reports["resnet_block_backward"].passed, reports["resnet_block_backward"].text()


def test_train_with_a_wrong_block_is_measured_with_that_block(capsys):
    """A right loop around a block whose forward failed its check learns weights for the learner's own
    network: the grader measures them with that block, so the block's mistake costs train nothing."""
    alone = run(WrongForward(), "resnet_train")              # measured with nnbook's block instead
    assert not alone.passed
    reports = run_all(WrongForward(), ("resnet_block_forward", "resnet_train"))
    assert not reports["resnet_block_forward"].passed
    train = reports["resnet_train"]
    assert train.passed, train.text()
    text = flat(train.text())
    assert "measured with your residual_block_forward as it was at its check, which it failed" in text
    assert "but residual_block_forward failed its own check: a residual block adds its shortcut" in text


class WrongBackward(Loop):
    """The identity block's backward drops the shortcut's gradient; train_step around it is right."""

    def block_backward(self, dout, cache):
        dx, grads = super().block_backward(dout, cache)
        return (dx - dout if cache[-1] is None else dx), grads


def test_a_right_train_step_keeps_its_points_when_the_block_is_wrong():
    alone = run(WrongBackward(), "resnet_train_step")        # without the block's check: nnbook's step
    assert not alone.passed
    reports = run_all(WrongBackward(), IDS[:3])
    assert not reports["resnet_block_backward"].passed
    step = reports["resnet_train_step"]
    assert step.passed, step.text()
    assert "judged around your residual block as it was at its checks" in flat(step.text())
    reports = run_all(type("Both", (WrongBackward, WrongSign), {})(), IDS[:3])   # its own mistake still counts
    assert not reports["resnet_train_step"].passed
    assert hint_ids(reports["resnet_train_step"])[0] == "sgd_sign"


def test_a_block_redefined_after_its_check_does_not_judge_the_step(monkeypatch):
    """Functions called by name at call time, as in a graded kernel: the block that failed its check
    is swapped afterwards for one that hides the step's own mistake (no gradient reaches the stem,
    which this step gets wrong). The step is not judged around the swapped block."""
    kernel = {}
    wrong = WrongBackward()
    kernel.update(block_forward=wrong.block_forward, block_backward=wrong.block_backward)

    def by_name(name):
        return lambda *args, **kwargs: kernel[name](*args, **kwargs)

    class Learner(Loop):
        def block_forward(self, *args, **kwargs):
            return kernel["block_forward"](*args, **kwargs)

        def block_backward(self, *args, **kwargs):
            return kernel["block_backward"](*args, **kwargs)

        def backward(self, dlogits, c):
            grads = super().backward(dlogits, c)
            grads["stem.W"] = -grads["stem.W"]                # the step's own mistake
            return grads

    def zero_gradient(dout, cache):
        dx, grads = wrong.block_backward(dout, cache)
        return np.zeros_like(dx), grads

    def judge_step():
        return evaluate("resnet_train_step", Learner().train_step)

    with session():
        assert evaluate("resnet_block_forward", by_name("block_forward")).passed
        assert not evaluate("resnet_block_backward", by_name("block_backward")).passed
        assert not judge_step().passed                      # around the block it failed with: still wrong
        kernel["block_backward"] = zero_gradient            # redefined after its check
        assert not judge_step().passed
        monkeypatch.setattr(capstone, "_behaves_as_checked", lambda entry, call: True)
        assert judge_step().passed                          # without the guard, the swap would pay off


class StepThatReachesTheBar(Loop):
    """A wrong train_step (it reports the loss after its update) that still trains well."""

    def train_step(self, params, X_batch, y_batch, lr):
        new, _ = super().train_step(params, X_batch, y_batch, lr)
        logits, _ = self.forward(X_batch, {k: v.copy() for k, v in new.items()}, training=True)
        return new, F.softmax_cross_entropy(logits, y_batch)[0]


def test_train_names_a_wrong_step_that_still_reaches_the_bar(capsys):
    reports = run_all(StepThatReachesTheBar(), ("resnet_train_step", "resnet_train"))
    assert not reports["resnet_train_step"].passed
    train = reports["resnet_train"]
    assert train.passed, train.text()                        # train's own points: one mistake costs once
    text = flat(train.text())
    assert "but train_step failed its own check: the loss is the mean softmax cross-entropy" in text


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
    assert not report.passed and hint_ids(report)[0] == "block_relu_backward", report.text()


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


def _history(epochs, acc=0.5):
    return {"val_loss": [1.0] * epochs, "val_accuracy": [acc] * epochs}


class Untrained(Loop):
    def train(self, X, y, epochs, batch_size, lr, seed=0):
        return init_params(np.random.default_rng(seed)), _history(epochs)


class OneEpoch(Loop):
    def train(self, X, y, epochs, batch_size, lr, seed=0):
        params, history = super().train(X, y, 1, batch_size, lr, seed)
        return params, {k: v * epochs for k, v in history.items()}


class OneEpochStatsLost(OneEpoch):
    def train(self, X, y, epochs, batch_size, lr, seed=0):
        params, history = super().train(X, y, epochs, batch_size, lr, seed)
        start = init_params(np.random.default_rng(seed))
        return {k: (start[k] if k.endswith(("running_mean", "running_var")) else v) for k, v in params.items()}, \
            history


class Diverges(Loop):
    def train(self, X, y, epochs, batch_size, lr, seed=0):
        params = init_params(np.random.default_rng(seed))
        params["fc.W"] = params["fc.W"] * np.inf
        return params, _history(epochs)


class ReturnsLoss(Loop):
    def train(self, X, y, epochs, batch_size, lr, seed=0):
        return 0.1


@pytest.mark.parametrize("learner, kind, hint_id", [
    (Untrained(), "untrained", "train_returns_initial_params"),
    (OneEpoch(), "accuracy", "train_low_accuracy"),
    (OneEpochStatsLost(), "running_stats", "train_running_stats"),
    (Diverges(), "nan", "train_diverged"),
    (ReturnsLoss(), "returns", "train_returns_params_and_history")])
def test_bad_training_fails_with_hints(learner, kind, hint_id, capsys):
    report = run(learner, "resnet_train")
    assert not report.passed
    problems = [p for r in report.results for p in r.problems]
    assert kind in {p.kind for p in problems}, report.text()
    assert hint_ids(report)[0] == hint_id, report.text()   # the specific hint comes first
    if kind in ("untrained", "accuracy", "running_stats"):
        assert problems[-1].kind == "accuracy" and problems[-1].got < capstone.ACCURACY_BAR
    if kind != "accuracy":              # the generic low-accuracy hint stays silent next to a specific one
        assert "train_low_accuracy" not in hint_ids(report)


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


def _unwrap_arg(value, handles, pairs):
    if isinstance(value, Handle):
        return handles[id(value)][1]
    assert isinstance(value, (np.ndarray, bool, int, float, str, np.integer, np.floating, dict, tuple)) \
        or value is None, type(value)
    if isinstance(value, dict):
        return {k: _unwrap_arg(v, handles, pairs) for k, v in value.items()}
    if isinstance(value, tuple):        # plain data that came back (a cache made of arrays) goes back
        return tuple(_unwrap_arg(v, handles, pairs) for v in value)
    if isinstance(value, np.ndarray):
        pairs.append((value, value.copy()))
        return pairs[-1][1]
    return value


def proxy(fn, handles):
    """Like running fn in another process (as nnbook.grading.run.channel does): copies in, plain data
    (or handles) out, and what fn wrote into an array argument copied back into it."""
    def call(*args, **kwargs):
        pairs = []
        args = tuple(_unwrap_arg(a, handles, pairs) for a in args)
        kwargs = {k: _unwrap_arg(v, handles, pairs) for k, v in kwargs.items()}
        try:
            return _plain(fn(*args, **kwargs), handles)
        finally:
            for mine, theirs in pairs:
                if mine.flags.writeable and mine.shape == theirs.shape:
                    mine[...] = theirs
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


def test_judges_work_through_a_plain_data_proxy():
    handles = {}
    learner = Loop()
    with session():
        for exercise_id in IDS[:3]:
            report = evaluate(exercise_id, proxy(learner.functions()[exercise_id], handles))
            assert report.passed, report.text()
    assert not handles                       # the tuple cache came back as plain data
    report = run(ObjectCache(), "resnet_block_forward")   # an object is not the cache the exercise fixes
    assert not report.passed and hint_ids(report)[0] == "block_cache_format", report.text()
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


def test_notebook_states_the_budget_the_bar_and_the_rules():
    nb = nbformat.read(ROOT / "solutions" / "ex8_putting_it_together.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    b = capstone.BUDGET
    seed = capstone.NOTEBOOK_TRAIN_SEEDS[0]
    assert f"train(X, y, epochs={b['epochs']}, batch_size={b['batch_size']}, lr={b['lr']},\nseed={seed})" in text
    assert f"**{capstone.ACCURACY_BAR:.0%}**" in text
    for rule in ("*renamed*", "sorted by class", "X_fit, y_fit, X_val, y_val", "b=None", "clear trace",
                 "(bn1, relu1, conv1, bn2, relu2, conv2, projection)", 'history["val_loss"]'):
        assert rule in text, rule
    for name in ("nnbook.layers.ResidualBlock", "nnbook.fit", "nnbook.optim.SGD", "nnbook.models.small_resnet"):
        assert name in text
    for chapter in ("../book/07_residual.ipynb", "../book/06_batch_norm.ipynb", "../book/02_training.ipynb"):
        assert chapter in text
    released = (ROOT / "exercises" / "ex8_putting_it_together.ipynb").read_text()
    for answer_line in ("dx = dx + dout", "params[key] - lr * grads[key]", "rng.permutation"):
        assert answer_line not in released


def test_reference_block_is_nnbooks_residual_block():
    """The grader's block (F, with the fixed cache) equals nnbook.layers.ResidualBlock, both modes."""
    from nnbook.grading.sets.ex7_residual import block_params, reference_block
    rng = np.random.default_rng(4)
    for in_c, out_c, stride in ((3, 3, 1), (3, 6, 2)):
        x, params = rng.standard_normal((2, in_c, 6, 6)), block_params(rng, in_c, out_c, stride)
        for training in (False, True):
            block = reference_block(in_c, out_c, stride, params).train(training)
            out, cache = capstone.reference_block_forward(x, {k: v.copy() for k, v in params.items()}, stride,
                                                          training)
            assert np.abs(out - block(x)).max() < 1e-12 and len(cache) == len(capstone.CACHE_PARTS)
        dout = rng.standard_normal(out.shape)
        dx, dparams = capstone.reference_block_backward(dout, cache)
        assert np.abs(dx - block.backward(dout)).max() < 1e-12
        assert all(np.abs(dparams[name] - module.grads[key]).max() < 1e-12
                   for name, module, key in block.named_parameters())


def test_step_with_nnbooks_block_is_nnbooks_step():
    rng = np.random.default_rng(5)
    params = capstone._perturbed_params(rng)
    X_train, y_train, _, _ = capstone.digits()
    new, loss = capstone.reference_train_step(params, X_train[:12], y_train[:12], 0.1)
    mine, my_loss = capstone.step_with_block(params, X_train[:12], y_train[:12], 0.1,
                                             capstone.reference_block_forward, capstone.reference_block_backward)
    assert abs(loss - my_loss) < 1e-12 and all(np.abs(new[k] - mine[k]).max() < 1e-10 for k in params)


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
