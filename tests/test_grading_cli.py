"""``nnbook grade`` end to end: solutions score full marks, untouched exercises 0, buggy and
tampered submissions (tests/fixtures/submissions, made by make_submissions.py) get the
expected score and hint, and nothing is written into the submitted files.

The ``cheat_*`` submissions are graded here in the default mode; tests/test_grading_integrity.py
grades them again under --sandbox (where reading the solutions or nnbook's source also fails)."""
import csv
import hashlib
import html
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "fixtures" / "submissions"
CLI = [sys.executable, "-m", "nnbook.cli"]

EX1 = ("linear_forward", "linear_backward", "relu_forward", "relu_backward", "softmax_cross_entropy")
# student: (total, max, {exercise: points}, hints expected in the feedback report)
EXPECTED = {
    "conv_off_by_one": (4, 7, {"conv2d_forward": 0, "conv2d_backward": 4}, ["output size off by one"]),
    "conv_backward_padding": (3, 7, {"conv2d_forward": 3, "conv2d_backward": 0},
                              ["padding forgotten in backward", "dx: wrong shape"]),
    "conv_stride_ignored": (4, 7, {"conv2d_forward": 0, "conv2d_backward": 4},
                            ["stride ignored?"]),
    "conv_bias_not_summed": (3, 7, {"conv2d_forward": 3, "conv2d_backward": 0},
                             ["db[f] = sum over n, i, j of dout[n, f, i, j]"]),
    "dropout_not_rescaled": (2, 5, {"dropout_forward": 0, "dropout_backward": 2}, ["dropout not rescaled"]),
    "relu_inplace_linear_dtype": (7, 10, {"linear_forward": 0, "relu_forward": 0, "relu_backward": 2},
                                  ["input x was modified in place", "wrong dtype: expected float32, got float64"]),
    "deleted_test_cell": (8, 10, {"linear_forward": 0, "linear_backward": 3}, ["the bias b is missing"]),
    "edited_test_cell": (9, 10, {"relu_forward": 0}, ["negative inputs must become 0"]),
    "endless_loop": (8, 10, {"relu_backward": 0, "softmax_cross_entropy": 2}, ["timeout"]),
    "kernel_dies": (8, 10, {"relu_backward": 0, "softmax_cross_entropy": 2}, ["the kernel died"]),
    "huge_output": (10, 10, {}, []),
    "fake_score": (0, 10, {e: 0 for e in EX1}, ["not written"]),
}
CONV = ("conv2d_forward", "conv2d_backward")
POOL = ("maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward")
NOT_AVAILABLE = "nnbook's own {} is not available to answers — write your own"
# cheats, graded in the default mode: every in-kernel trick scores 0 on what it cheated; reading
# the solutions or nnbook's source from disk is only stopped by --sandbox (test_grading_integrity.py)
CHEATS = {
    "cheat_input_transformer": (0, 7, dict.fromkeys(CONV, 0), ["your kernel sent no answer"]),
    "cheat_import_own": (7, 10, {"relu_forward": 0, "relu_backward": 0, "linear_forward": 2, "linear_backward": 3},
                         [NOT_AVAILABLE.format("relu_forward")]),
    "cheat_sys_modules": (0, 7, dict.fromkeys(CONV, 0), [NOT_AVAILABLE.format("conv2d_forward")]),
    "cheat_importlib_reload": (0, 7, dict.fromkeys(CONV, 0), [NOT_AVAILABLE.format("conv2d_forward")]),
    "cheat_layer_wrapper": (0, 7, dict.fromkeys(CONV, 0), [NOT_AVAILABLE.format("Conv2d")]),
    "cheat_naive_module": (0, 10, dict.fromkeys(POOL, 0), [NOT_AVAILABLE.format("maxpool2d_forward")]),
    "cheat_patch_check_numpy": (9, 10, {"relu_forward": 0, "relu_backward": 2}, ["negative inputs must become 0"]),
    "cheat_swallow_exceptions": (0, 7, dict.fromkeys(CONV, 0), ["not written"]),
    "cheat_fake_output": (0, 5, {"dropout_forward": 0, "dropout_backward": 0}, ["not plain data"]),
    "cheat_kernel_exit": (0, 5, {"dropout_forward": 0, "dropout_backward": 0}, ["not written"]),
    "cheat_writes_files": (10, 10, {}, []),       # honest answers; it tries to sabotage later kernels
}
DISK_CHEATS = {"cheat_read_solutions": (7, 7, {}, []), "cheat_read_library": (7, 7, {}, [])}
# each function judged as it was judged, a backward is a backward, one mistake costs once (issue 14,
# sections 2, 4, 8; make_submissions.judging()). On the layout commit (28f21f4) the three cheats got full
# marks (dropout_backward 2/2, conv2d_backward 4/4, linear_backward 3/3 and relu_backward 2/2) and the
# two right backwards behind a wrong forward 0 (conv2d_backward 0/4, batchnorm_backward 0/3).
JUDGING = {
    "cheat_swapped_forward": (3, 5, {"dropout_forward": 3, "dropout_backward": 0},
                              ["dx is dout times the same mask"]),
    "cheat_fd_conv_backward": (3, 7, {"conv2d_forward": 3, "conv2d_backward": 0}, ["this big case ran out of time"]),
    "cheat_fd_relu_linear": (5, 10, {"linear_forward": 2, "linear_backward": 0, "relu_forward": 1, "relu_backward": 0,
                                     "softmax_cross_entropy": 2},
                             ["called linear_forward", "finite differences of the forward are not a backward",
                              "fails only at the kink"]),
    "fair_conv_wrong_forward": (4, 7, {"conv2d_forward": 0, "conv2d_backward": 4}, ["you flipped the kernel"]),
    "fair_bn_wrong_forward": (3, 6, {"batchnorm_forward": 0, "batchnorm_backward": 3}, ["the biased one"]),
}
CHEATS.update({k: v for k, v in JUDGING.items() if k.startswith("cheat_")})
# issue 14 §3: what the set does not allow of nnbook (by any name), and the grader's own helpers
CHEATS.update({
    "cheat_leaky_relu": (7, 10, {"relu_forward": 0, "relu_backward": 0, "linear_backward": 3},
                         [NOT_AVAILABLE.format("leaky_relu_forward")]),
    "cheat_conv_as_avgpool": (5, 10, {"avgpool2d_forward": 0, "avgpool2d_backward": 0, "maxpool2d_backward": 3},
                              [NOT_AVAILABLE.format("conv2d_forward")]),
    "cheat_grader_helpers": (2, 7, {"sgd_momentum": 2, "rmsprop": 0, "adam": 0},
                             ["nnbook.grading's _rms does not run in the graded kernel"]),
})


# answers computed by another installed library: the default mode does not stop them; --sandbox hides
# it (SANDBOX_LIBRARY_CHEATS, test_grading_integrity.py; PyTorch: test_grading_sandbox.py)
LIBRARY_CHEATS = {
    "cheat_scipy": (10, 10, {}, []),         # nnbook needs scikit-learn, which needs SciPy
    "cheat_sklearn": (10, 10, {}, []),
}
SANDBOX_LIBRARY_CHEATS = {
    "cheat_scipy": (8, 10, {"softmax_cross_entropy": 0, "linear_backward": 3}),
    "cheat_sklearn": (7, 10, {"relu_forward": 0, "relu_backward": 0, "linear_backward": 3}),
}
EXPECTED.update(CHEATS)
EXPECTED.update(DISK_CHEATS)
EXPECTED.update(LIBRARY_CHEATS)
EXPECTED.update(JUDGING)
ERRORS = {"invalid_json": "not a valid notebook (JSON)",
          "not_an_exercise": "not one of the exercise sets",
          "wrong_set": "wrong exercise set: expected ex3_convolution, but the notebook is ex1_fully_connected"}


def _snapshot(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("grading")
    before = _snapshot(SUBMISSIONS)
    home = out / "home"                 # cheat_writes_files tries to write into ~/.ipython
    home.mkdir()
    proc = subprocess.run(CLI + ["grade", str(SUBMISSIONS), "--timeout", "5", "--csv", str(out / "grades.csv"),
                                 "--feedback", str(out / "feedback"), "--format", "html", "--jobs", "2"],
                          capture_output=True, text=True, cwd=out, timeout=900, env=dict(os.environ, HOME=str(home)))
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))}
    reports = {p.name: html.unescape(p.read_text(encoding="utf-8")) for p in (out / "feedback").iterdir()}
    return proc, rows, reports, before, out


def test_cli_succeeds_and_prints_a_summary(graded):
    proc = graded[0]
    assert proc.returncode == 0, proc.stderr
    assert f"graded {len(EXPECTED) + len(ERRORS)} notebook(s)" in proc.stdout
    assert "3 with errors" in proc.stdout


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_expected_partial_scores_and_hints(graded, student):
    _, rows, reports, _, _ = graded
    total, top, points, hints = EXPECTED[student]
    row = rows[student]
    assert (float(row["total"]), float(row["max"])) == (total, top), row
    for exercise, pts in points.items():
        assert float(row[exercise]) == pts, (exercise, row)
    assert row["error"] == ""
    report = next(text for name, text in reports.items() if name.startswith(student + "_"))
    flat = " ".join(report.split())              # long lines of the feedback are wrapped
    for hint in hints:
        assert hint in flat, hint
    for hint in SILENT.get(student, ()):
        assert hint not in flat, hint


# generic hints that stay silent where a specific one explains the failing cases (issue 15, section 3)
SILENT = {"conv_stride_ignored": ["fails only with stride"]}


@pytest.mark.parametrize("student", sorted(ERRORS))
def test_bad_submissions_get_an_error_and_zero(graded, student):
    proc, rows, _, _, _ = graded
    assert ERRORS[student] in rows[student]["error"]
    assert float(rows[student]["total"]) == 0
    assert ERRORS[student] in proc.stdout


def test_submitted_files_are_never_written(graded):
    before = graded[3]
    assert _snapshot(SUBMISSIONS) == before


def test_learner_cannot_set_its_own_score(graded):
    proc, rows, _, _, out = graded
    # the fake cell printed a score, wrote grades.csv / score.json, re-defined check (also in
    # nnbook.grading), swapped nnbook's reference relu_forward for its own, claimed a 100-point
    # "bonus" test cell and 1000 points for linear_forward: none of it counts
    assert "bonus" not in rows["fake_score"]
    assert float(rows["fake_score"]["max"]) == 10
    assert not (SUBMISSIONS / "grades.csv").exists() and not (SUBMISSIONS / "score.json").exists()
    assert not (out / "score.json").exists()
    assert "mentions 'check ='" in proc.stdout           # flagged for a human to look at
    assert "assigns to 'nnbook.functional.relu_forward'" in proc.stdout
    assert "nnbook.grading.check" in rows["fake_score"]["notes"]


def test_class_report_next_to_the_gradebook(graded):
    _, rows, reports, _, out = graded
    md = (out / "class_report.md").read_text(encoding="utf-8")
    page = (out / "class_report.html").read_text(encoding="utf-8")
    n3 = sum(r["set"] == "ex3_convolution" for r in rows.values())
    assert f"## ex3_convolution ({n3} learners)" in md
    full = sum(r["set"] == "ex3_convolution" and float(r["conv2d_forward"]) == 3 for r in rows.values())
    assert f"| `conv2d_forward` | {full} of {n3} |" in md
    # a hint is counted once per learner: as many as the feedback reports that give it
    given = sum("output size off by one" in text for name, text in reports.items() if "_ex3_convolution" in name)
    line = next(ln for ln in md.splitlines() if "output size off by one" in ln)
    assert given >= 1 and line.startswith(f"- {given} of {n3}: "), (given, line)
    assert "data:image/png;base64," in page and "score distribution" in page


def test_gradebook_records_seed_and_mode(graded):
    rows = graded[1]
    seeds = {r["seed"] for r in rows.values()}
    assert len(seeds) == 1 and seeds.pop().isdigit()
    assert {r["mode"] for r in rows.values()} == {"default"}


def test_timeout_costs_only_that_exercise(graded):
    proc = graded[0]
    line = next(ln for ln in proc.stdout.splitlines() if "relu_backward" in ln and "timeout" in ln)
    assert "took longer than 5 s" in line


def test_huge_output_is_capped(graded):
    reports = graded[2]
    report = next(text for name, text in reports.items() if name.startswith("huge_output_"))
    assert len(report) < 100_000


def test_html_report_shows_the_difference_picture(graded):
    reports = graded[2]
    report = next(text for name, text in reports.items() if name.startswith("conv_backward_padding_"))
    assert report.startswith("<!DOCTYPE html>") and "data:image/png;base64," in report


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    proc = subprocess.run(CLI + ["grade", str(ROOT / "solutions"), str(ROOT / "exercises"),
                                 "--csv", str(out / "grades.csv"), "--feedback", str(out / "fb")],
                          capture_output=True, text=True, cwd=out, timeout=300)
    rows = list(csv.DictReader(open(out / "grades.csv", encoding="utf-8")))
    return proc, rows, out


def test_solutions_score_full_marks(reference_runs):
    proc, rows, _ = reference_runs
    assert proc.returncode == 0, proc.stderr
    sols = [r for r in rows if r["student"] == "solutions"]
    assert len(sols) == len(list((ROOT / "solutions").glob("*.ipynb"))) == 8
    for r in sols:
        assert r["error"] == "" and float(r["total"]) == float(r["max"]) > 0, r


def test_untouched_exercises_score_zero(reference_runs):
    proc, rows, out = reference_runs
    exs = [r for r in rows if r["student"] == "exercises"]
    assert len(exs) == len(list((ROOT / "exercises").glob("*.ipynb"))) == 8
    for r in exs:
        assert r["error"] == "" and float(r["total"]) == 0 and float(r["max"]) > 0, r
    report = (out / "fb" / "exercises_ex3_convolution.md").read_text()
    assert "conv2d_forward is not written yet" in report and "| `conv2d_forward` | 0 / 3 |" in report


def test_fixtures_are_current(tmp_path):
    """The submissions are made from exercises/ and solutions/: regenerate them after changing those."""
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "fixtures" / "make_submissions.py"), str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert _snapshot(tmp_path) == _snapshot(SUBMISSIONS), "run tests/fixtures/make_submissions.py"


def test_help_is_useful():
    for args, words in ((["--help"], ["release", "grade"]),
                        (["grade", "--help"], ["--csv", "--timeout", "--feedback", "hidden tests", "--sandbox",
                                               "--seed", "--jobs", "--solutions"]),
                        (["release", "--help"], ["--check", "NotImplementedError"])):
        proc = subprocess.run(CLI + args, capture_output=True, text=True)
        assert proc.returncode == 0
        for w in words:
            assert w in proc.stdout, (args, w)


def test_clear_one_line_errors(tmp_path):
    proc = subprocess.run(CLI + ["grade", str(tmp_path / "missing.ipynb")], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert "missing.ipynb: no such file or folder" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run(CLI + ["grade", str(SUBMISSIONS / "invalid_json.ipynb"), "--set", "ex9"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "unknown exercise set 'ex9'" in proc.stderr


def test_notes_flag_answers_that_delegate_to_nnbook():
    import copy

    from nnbook.grading.grade import _flags, load_sets
    sets = load_sets(ROOT / "solutions")
    for s in sets.values():
        assert _flags(s.nb, s.nb) == [], s.name          # the reference answers raise no flag
    nb = copy.deepcopy(sets["ex1_fully_connected"].nb)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "relu_forward_solution")
    cell.source = "from nnbook.functional import relu_forward"
    assert any("nnbook's own relu_forward" in f for f in _flags(nb, sets["ex1_fully_connected"].nb))
