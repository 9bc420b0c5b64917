"""``nnbook progress``: each set of a workspace, function by function (nnbook.grading.progress)."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnbook.grading import progress as P

ROOT = Path(__file__).resolve().parents[1]
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _answered(name, answers):
    """The released notebook of set ``name`` with the reference answer in the cells ``answers``
    names ({answer grade_id: None for the reference, or source to use instead})."""
    nb = json.loads((ROOT / "exercises" / f"{name}.ipynb").read_text())
    sol = json.loads((ROOT / "solutions" / f"{name}.ipynb").read_text())
    reference = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"]) for c in sol["cells"]}
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in answers:
            text = answers[gid] or reference[gid]
            cell["source"] = "\n".join(line for line in text.splitlines() if line.strip() not in MARKERS)
    return nb


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    ws = tmp_path_factory.mktemp("workspace")
    for name in ("ex2_training", "ex4_pooling", "ex1_fully_connected"):
        shutil.copy(ROOT / "exercises" / f"{name}.ipynb", ws)
    wrong = "def maxpool2d_backward(dout, cache):\n    x = cache[0]\n    return 0 * x\n"
    nb = _answered("ex4_pooling", {"maxpool2d_forward_solution": None, "maxpool2d_backward_solution": wrong,
                                   "avgpool2d_forward_solution": None})
    (ws / "ex4_pooling.ipynb").write_text(json.dumps(nb))
    crash = "def relu_forward(x):\n    return x[:, :, 0], x\n"          # IndexError on the 2-D cases
    nb = _answered("ex1_fully_connected", {"linear_forward_solution": None, "relu_forward_solution": crash})
    (ws / "ex1_fully_connected.ipynb").write_text(json.dumps(nb))
    (ws / "ex1_fully_connected.2024-01-01_000000.ipynb").write_text("an old copy, not counted")
    return ws


def _by_name(results):
    return {sp.name: sp for sp in results}


def test_progress_per_function(ws):
    first = _by_name(P.progress(ws, jobs=2))
    assert sorted(first) == ["ex1_fully_connected", "ex2_training", "ex4_pooling"]
    ex2, ex4, ex1 = first["ex2_training"], first["ex4_pooling"], first["ex1_fully_connected"]
    # still exactly as released: not started, and no kernel was needed to say so
    assert ex2.how == "unchanged" and [s for _, s, _ in ex2.functions] == [P.NOT_STARTED] * 3
    assert ex4.how == "ran" and not ex4.error
    status = {gid: (s, detail) for gid, s, detail in ex4.functions}
    assert status["maxpool2d_forward"] == (P.PASSED, "")
    assert status["maxpool2d_backward"][0] == P.FAILED and "cases failed" in status["maxpool2d_backward"][1]
    assert status["avgpool2d_forward"] == (P.PASSED, "")
    assert status["avgpool2d_backward"] == (P.NOT_STARTED, "")      # still raises NotImplementedError
    assert [(g, s) for g, s, _ in ex1.functions] == [
        ("linear_forward", P.PASSED), ("linear_backward", P.NOT_STARTED), ("relu_forward", P.FAILED),
        ("relu_backward", P.NOT_STARTED), ("softmax_cross_entropy", P.NOT_STARTED)]
    crashed = dict((g, d) for g, _, d in ex1.functions)["relu_forward"]
    assert re.search(r"\d+ of \d+ cases failed \([1-9]\d* raised IndexError\)", crashed), crashed   # a crash, said so

    again = _by_name(P.progress(ws, jobs=2))                         # nothing changed: from the cache
    assert {sp.how for sp in again.values()} == {"unchanged", "cached"}
    assert again["ex4_pooling"].functions == ex4.functions

    nb = _answered("ex4_pooling", {"maxpool2d_forward_solution": None, "maxpool2d_backward_solution": None,
                                   "avgpool2d_forward_solution": None, "avgpool2d_backward_solution": None})
    (ws / "ex4_pooling.ipynb").write_text(json.dumps(nb))             # the learner fixes it
    fixed = _by_name(P.progress(ws, jobs=1))["ex4_pooling"]
    assert fixed.how == "ran" and [s for _, s, _ in fixed.functions] == [P.PASSED] * 4

    table = P.text(list(_by_name(P.progress(ws)).values()), missing=["ex3_convolution"])
    assert table.splitlines()[0].startswith("5 of 12 graded functions pass")
    assert "ex2_training" in table and "not started" in table and "ex3_convolution" in table


def test_invalid_notebook_is_an_error_line(tmp_path):
    (tmp_path / "ex2_training.ipynb").write_text("{not json")
    [sp] = P.progress(tmp_path)
    assert sp.error.startswith("not a valid notebook") and sp.functions == []
    assert "error: not a valid notebook" in P.text([sp])


def test_cli_without_workspace_says_how_to_make_it(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nnbook.cli", "progress", "--workspace", str(tmp_path / "none")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "python3 dev.py lab" in proc.stderr
