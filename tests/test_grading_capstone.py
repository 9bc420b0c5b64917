"""``nnbook grade`` on the capstone's attack submissions (tests/fixtures/capstone, written by
tests/fixtures/make_submissions.py ``capstone_attacks``), in the default mode and under ``--sandbox``.

Each attack tries to get the accuracy points of ``train`` without learning from the ``(X, y)`` it is
given: weights trained before submission (base64, every other answer a stub), the same weights with
their outputs renamed after the y given (the network's own predictions of X tell the naming), a train
that fits the held-out digits the setup cell loaded, weights fixed when the answer cell runs, and a
train that reads all digits from scikit-learn. On the layout commit (28f21f4) each of them got the 5
points of ``resnet_train`` in both modes; now each gets 0 there, with a message that says what was
detected, while an honest submission keeps full marks.

One more opens the digits file packaged with nnbook (``importlib.resources``, else the path next to
``nnbook/data.py``), names its classes after the y given and fits the digits X lacks, the grader's
held-out part: with the kernel's copy of the file left whole it got the 5 points (held-out accuracy
100.0 %, seed 11, default mode); the kernel's copy now holds only the grader's training part
(run/served_data.py), so nothing is left to fit and it gets 0.

Two more have one mistake each, which must cost points once: a block forward without its identity
shortcut (at 28f21f4: 0 / 0 / 0 / 0 points for forward / backward / train_step / train; now the right
backward, step and loop keep theirs: 0 / 4 / 4 / 5), and a block backward that drops the shortcut's
gradient (at 28f21f4: 3 / 0 / 0 / 5; now 3 / 0 / 4 / 5).
"""
import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nnbook.grading.run.sandbox import sandbox_problem

ROOT = Path(__file__).resolve().parents[1]
CAPSTONE = ROOT / "tests" / "fixtures" / "capstone"
CLI = [sys.executable, "-m", "nnbook.cli"]
PARTS = ("resnet_block_forward", "resnet_block_backward", "resnet_train_step", "resnet_train")
HONEST = dict(zip(PARTS, (3, 4, 4, 5)))
LOADED = "by the names of the digits your notebook loaded with load_digits"
# student: (total, points per exercise, what the train feedback says was detected, in the default mode)
EXPECTED = {
    "honest": (16, HONEST, "held-out accuracy"),
    "cap_pretrained_base64": (0, dict.fromkeys(PARTS, 0), "by the true digit labels"),
    "cap_pretrained_renamed": (11, {**HONEST, "resnet_train": 0}, "your weights did not start at init_params"),
    "cap_fits_heldout": (11, {**HONEST, "resnet_train": 0}, LOADED),
    "cap_constant_weights": (11, {**HONEST, "resnet_train": 0}, LOADED),
    "cap_sklearn_digits": (11, {**HONEST, "resnet_train": 0}, "by the true digit labels"),
    # the kernel's nnbook holds only the grader's training part: no digit is left that X lacks
    "cap_package_digits": (11, {**HONEST, "resnet_train": 0}, "ZeroDivisionError: float division by zero"),
    "fair_wrong_block_forward": (13, {**HONEST, "resnet_block_forward": 0},
                                 "measured with your residual_block_forward as it was at its check"),
    "fair_wrong_block_backward": (12, {**HONEST, "resnet_block_backward": 0},
                                  "judged around your residual block as it was at its checks"),
}
needs_sandbox = pytest.mark.skipif(sandbox_problem() is not None, reason=f"{sandbox_problem()}")


def _grade(out, *extra):
    home = out / "home"
    home.mkdir(exist_ok=True)
    proc = subprocess.run(CLI + ["grade", str(CAPSTONE), "--timeout", "60", "--seed", "11", "--jobs", "2",
                                 "--csv", str(out / "grades.csv"), "--feedback", str(out / "fb"), *extra],
                          capture_output=True, text=True, cwd=out, timeout=1800, env=dict(os.environ, HOME=str(home)))
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))}
    feedback = {p.name.split("_ex8_")[0]: " ".join(p.read_text(encoding="utf-8").split())
                for p in (out / "fb").iterdir()}
    return rows, feedback


@pytest.fixture(scope="module")
def default_mode(tmp_path_factory):
    return _grade(tmp_path_factory.mktemp("capstone-default"))


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory):
    return _grade(tmp_path_factory.mktemp("capstone-sandbox"), "--sandbox")


def _assert_scores(rows, student):
    total, points, _ = EXPECTED[student]
    row = rows[student]
    assert row["error"] == "" and float(row["max"]) == 16, row
    assert float(row["total"]) == total, row
    for exercise, pts in points.items():
        assert float(row[exercise]) == pts, (exercise, row)


def test_every_fixture_is_expected():
    assert {p.stem for p in CAPSTONE.glob("*.ipynb")} == set(EXPECTED)


def _without_weights(path):
    """The notebook's text with the pasted weights left out (training rounds differently on other CPUs)."""
    return re.sub(r"WEIGHTS = '[^']*'", "WEIGHTS = ...", path.read_text(encoding="utf-8"))


def test_fixtures_are_current(tmp_path):
    """Made from exercises/ and solutions/: run tests/fixtures/make_submissions.py after changing those."""
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "fixtures" / "make_submissions.py"), "--capstone",
                           str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in CAPSTONE.glob("*.ipynb"))
    for p in CAPSTONE.glob("*.ipynb"):
        assert _without_weights(p) == _without_weights(tmp_path / p.name), \
            f"{p.name}: run tests/fixtures/make_submissions.py --capstone"


def test_the_pasted_weights_were_trained_on_the_true_labels():
    """What makes the base64 attack an attack: its weights classify the digits (true labels) well."""
    import base64
    import io
    import numpy as np
    from nnbook.grading.sets import ex8_putting_it_together as capstone
    text = (CAPSTONE / "cap_pretrained_base64.ipynb").read_text(encoding="utf-8")
    blob = re.search(r"WEIGHTS = '([^']*)'", text.replace("\\n", "\n")).group(1)
    data = np.load(io.BytesIO(base64.b64decode(blob)))
    params = {k: data[k].astype(np.float64) for k in data.files}
    X_train, y_train, X_test, y_test = capstone.digits()
    assert capstone.reference_accuracy(params, X_test, y_test) > 0.95


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_default_mode(default_mode, student):
    rows, feedback = default_mode
    _assert_scores(rows, student)
    assert EXPECTED[student][2] in feedback[student], feedback[student][-3000:]
    if student == "cap_pretrained_renamed":
        assert "train starts from init_params(rng) with rng = np.random.default_rng(seed)" in feedback[student]
    elif student == "cap_package_digits":
        assert "held-out accuracy >= 93%" in feedback[student]
    elif student.startswith("cap_"):
        assert "train must learn from the (X, y) it is given" in feedback[student]
    else:      # a passing train shows what the grader measured, the budget and the time
        assert "budget 6 epochs of 81 steps of 16 digits at lr 0.1" in feedback[student]
        assert "train took" in feedback[student]


@needs_sandbox
@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_sandbox(sandboxed, student):
    rows, _ = sandboxed
    _assert_scores(rows, student)
    assert rows[student]["mode"] == "sandbox"
