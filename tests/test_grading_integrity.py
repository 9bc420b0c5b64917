"""Grades that can be trusted (issue 11).

- The ``cheat_*`` submissions (tests/fixtures/make_submissions.py) score 0 on what they cheated:
  in the default mode for the tricks inside the kernel (tests/test_grading_cli.py), under
  ``--sandbox`` for all of them, including reading the solutions or nnbook's source from disk.
- Honest work grades the same with and without ``--sandbox``; a run is repeatable (same seed,
  same gradebook; serial and ``--jobs 2`` alike) and only the seed changes with ``--seed``.
- Each guard is shown to be what stops its cheat: with it switched off, the cheat works.
- The channel to the kernel accepts plain data only; ``check()`` refuses nnbook's own code.
"""
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from nnbook.grading.run import channel as remote
from nnbook.grading.run.sandbox import sandbox_problem
from test_grading_cli import CHEATS, DISK_CHEATS, EXPECTED, SANDBOX_LIBRARY_CHEATS

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "fixtures" / "submissions"
CLI = [sys.executable, "-m", "nnbook.cli"]
if sandbox_problem() is not None and os.environ.get("NNBOOK_REQUIRE_SANDBOX") == "1":
    raise RuntimeError(f"NNBOOK_REQUIRE_SANDBOX=1 (set by CI) but the sandbox cannot run: {sandbox_problem()}")
needs_sandbox = pytest.mark.skipif(sandbox_problem() is not None, reason=f"{sandbox_problem()}")


def _rows(path):
    return {r["student"]: r for r in csv.DictReader(open(path, encoding="utf-8"))}


def _grade(args, cwd, timeout=900):
    home = Path(cwd) / "home"
    home.mkdir(exist_ok=True)
    return subprocess.run(CLI + ["grade", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=dict(os.environ, HOME=str(home)))


# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory):
    out = tmp_path_factory.mktemp("sandboxed")
    proc = _grade([SUBMISSIONS, "--sandbox", "--jobs", "2", "--timeout", "5", "--seed", "7",
                   "--csv", out / "grades.csv", "--feedback", out / "fb"], out)
    assert proc.returncode == 0, proc.stderr
    return proc, _rows(out / "grades.csv"), out


@needs_sandbox
@pytest.mark.parametrize("student", sorted(CHEATS) + sorted(DISK_CHEATS))
def test_cheats_score_zero_on_what_they_cheated_under_sandbox(sandboxed, student):
    rows = sandboxed[1]
    row = rows[student]
    if student in DISK_CHEATS:       # in the default mode they get full marks (test_grading_cli.py)
        assert float(row["total"]) == 0, row
        return
    total, top, points, _ = CHEATS[student]
    assert (float(row["total"]), float(row["max"])) == (total, top), row
    for exercise, pts in points.items():
        assert float(row[exercise]) == pts, (exercise, row)


@needs_sandbox
@pytest.mark.parametrize("student", sorted(SANDBOX_LIBRARY_CHEATS))
def test_other_libraries_are_hidden_under_sandbox(sandboxed, student):
    """SciPy and scikit-learn answers get full marks in the default mode (test_grading_cli.py); under
    --sandbox ex1's kernel cannot import them (PyTorch: test_grading_sandbox.py)."""
    rows = sandboxed[1]
    total, top, points = SANDBOX_LIBRARY_CHEATS[student]
    row = rows[student]
    assert (float(row["total"]), float(row["max"])) == (total, top), row
    for exercise, pts in points.items():
        assert float(row[exercise]) == pts, (exercise, row)


@needs_sandbox
def test_disk_cheats_find_nothing_under_sandbox(sandboxed):
    out = sandboxed[2]
    for student in DISK_CHEATS:
        text = (out / "fb" / f"{student}_ex3_convolution.md").read_text(encoding="utf-8")
        assert "name 'conv2d_forward' is not defined" in text, student


@needs_sandbox
def test_honest_work_grades_the_same_with_and_without_sandbox(sandboxed):
    rows = sandboxed[1]
    honest = [s for s in EXPECTED if not s.startswith("cheat_")]
    assert len(honest) >= 10
    for student in honest:
        total, top, points, _ = EXPECTED[student]       # the default mode's scores
        row = rows[student]
        assert (float(row["total"]), float(row["max"])) == (total, top), row
        for exercise, pts in points.items():
            assert float(row[exercise]) == pts, (exercise, row)
    assert {r["mode"] for r in rows.values()} == {"sandbox"}
    assert {r["seed"] for r in rows.values()} == {"7"}


@needs_sandbox
def test_sandbox_solutions_full_marks(tmp_path):
    proc = _grade([ROOT / "solutions", "--sandbox", "--seed", "3", "--csv", tmp_path / "g.csv", "--feedback", ""],
                  tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(tmp_path / "g.csv", encoding="utf-8")))
    assert len(rows) == len(list((ROOT / "solutions").glob("*.ipynb"))) == 8
    for r in rows:
        assert r["error"] == "" and float(r["total"]) == float(r["max"]) > 0, r


@needs_sandbox
def test_the_sandbox_hides_the_repository_and_the_network(tmp_path):
    """What a sandboxed kernel sees: no solutions, no nnbook source, no network, no writable system."""
    from nnbook.grading.run.kernel import run_notebook
    from nnbook.grading.run.guard import build_overlay, package_dir
    from nnbook.grading.run.sandbox import SandboxLaunch
    probe = ("import os, nnbook\n"
             f"print('solutions', os.path.exists({str(ROOT / 'solutions')!r}))\n"
             f"print('source', os.path.exists({str(package_dir() / 'functional' / 'conv.py')!r}) and "
             f"'NotAvailableError' not in open({str(package_dir() / 'functional' / 'conv.py')!r}).read())\n"
             # the kernel's own network namespace has only the loopback interface (nothing is sent)
             "ifaces = [l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]]\n"
             "print('network', ifaces != ['lo'])\n"
             "try:\n    open('/usr/nnbook-probe', 'w'); print('system-writable True')\n"
             "except OSError:\n    print('system-writable False')\n"
             "open('/tmp/mine', 'w').write('x'); print('tmp-writable True')\n"
             "print('limits', [l.split()[-3] for l in open('/proc/self/limits') if l.startswith('Max processes')])")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    build_overlay(overlay, "ex3_convolution", ())
    runs = run_notebook(nb, timeout=30, kernel=SandboxLaunch(overlay))
    assert runs[0].status == "ok", runs[0]
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    for line in ("solutions False", "source False", "network False", "system-writable False", "tmp-writable True"):
        assert line in text, (line, text)
    assert "limits ['256']" in text, text


@needs_sandbox
def test_folders_under_tmp_stay_visible_over_the_private_tmp(monkeypatch, tmp_path):
    """Python's folders may lie under /tmp (a venv in a checkout there, as a CI clone may be):
    they are bound after the private /tmp is mounted, so the kernel still finds them."""
    from nnbook.grading.run import sandbox
    from nnbook.grading.run.kernel import run_notebook
    from nnbook.grading.run.guard import build_overlay
    assert str(tmp_path).startswith("/tmp/")
    folder = tmp_path / "python-folder"
    folder.mkdir()
    (folder / "marker").write_text("here")
    original = sandbox.SandboxLaunch._visible
    monkeypatch.setattr(sandbox.SandboxLaunch, "_visible", lambda self: original(self) + [str(folder)])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import os; print('visible', os.path.exists({str(folder / 'marker')!r}))")])
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    build_overlay(overlay, "ex3_convolution", ())
    runs = run_notebook(nb, timeout=30, kernel=sandbox.SandboxLaunch(overlay))
    assert runs[0].status == "ok", runs[0]
    assert "visible True" in "".join(o.get("text", "") for o in nb.cells[0].outputs)


# ---------------------------------------------------------------------------------------------
def test_same_seed_same_gradebook_serial_or_parallel(tmp_path):
    folder = tmp_path / "subs"
    (folder / "solutions").mkdir(parents=True)
    for name in ("ex1_fully_connected", "ex3_convolution", "ex5_dropout"):
        shutil.copy(ROOT / "solutions" / f"{name}.ipynb", folder / "solutions")
    for name in ("conv_off_by_one", "dropout_not_rescaled", "cheat_import_own"):
        shutil.copy(SUBMISSIONS / f"{name}.ipynb", folder)
    runs = {}
    for key, args in (("serial", ["--jobs", "1", "--seed", "5"]), ("parallel", ["--jobs", "2", "--seed", "5"]),
                      ("other seed", ["--jobs", "2", "--seed", "6"])):
        proc = _grade([folder, *args, "--timeout", "20", "--csv", tmp_path / f"{key}.csv", "--feedback", ""],
                      tmp_path)
        assert proc.returncode == 0, proc.stderr
        runs[key] = (tmp_path / f"{key}.csv").read_text(encoding="utf-8")
    assert runs["serial"] == runs["parallel"]
    a, c = _rows(tmp_path / "serial.csv"), _rows(tmp_path / "other seed.csv")
    assert {r["seed"] for r in a.values()} == {"5"} and {r["seed"] for r in c.values()} == {"6"}
    strip = lambda rows: {k: {f: v for f, v in r.items() if f != "seed"} for k, r in rows.items()}  # noqa: E731
    assert strip(a) == strip(c)
    assert float(a["conv_off_by_one"]["total"]) == 4 and float(a["cheat_import_own"]["total"]) == 7


def test_hidden_cases_follow_the_grading_seed():
    from nnbook.grading.judge.exercise import grading_seed
    from nnbook.grading.judge.registry import EXERCISES
    ex = EXERCISES["conv2d_forward"]

    def first_x(cases):
        return cases[0].args[0]
    visible = [c.args[0] for c in ex.cases()]
    with grading_seed(123):
        assert all(np.array_equal(a, c.args[0]) for a, c in zip(visible, ex.cases()))     # visible: fixed
        seeded = first_x(ex.cases(hidden=True))
    assert np.array_equal(seeded, first_x(ex.cases(hidden=True, seed=123)))              # reproducible
    assert not np.array_equal(seeded, first_x(ex.cases(hidden=True, seed=124)))
    assert not np.array_equal(seeded, first_x(ex.cases(hidden=True)))      # the notebook's hidden cases


# ---------------------------------------------------------------------------------------------
# each guard is what stops its cheat
def _assembled(name):
    from nnbook.grading.grade import assemble, detect_set, load_sets
    sets = load_sets(ROOT / "solutions")
    nb = nbformat.read(SUBMISSIONS / f"{name}.ipynb", as_version=4)
    set_name = detect_set(nb, sets)
    return assemble(nb, sets[set_name].nb), sets[set_name]


@pytest.mark.parametrize("name, cheated", [("cheat_input_transformer", ("conv2d_forward", "conv2d_backward")),
                                           ("cheat_swallow_exceptions", ("conv2d_forward", "conv2d_backward")),
                                           ("cheat_patch_check_numpy", ("relu_forward",))])
def test_in_kernel_cheats_fool_a_kernel_that_judges_itself(tmp_path, name, cheated):
    """Run the restored test cells *in* the learner's kernel and judge them as nbgrader does (a test
    cell passes when it shows no error): the cheat makes them pass. The grader, which judges outside
    the kernel, gives them 0 (test_grading_cli.py)."""
    from nnbook.grading.run.kernel import run_notebook
    from nnbook.grading.notebooks.cells import grade_id, is_test
    nb, _ = _assembled(name)
    run_notebook(nb, timeout=20, env=dict(os.environ, HOME=str(tmp_path)))
    shown = {grade_id(c): [o.get("output_type") for o in c.outputs] for c in nb.cells if is_test(c)}
    for gid in cheated:
        assert "error" not in shown[gid], (gid, shown)


@pytest.mark.parametrize("name, cheated", [("cheat_import_own", ("relu_forward", "relu_backward")),
                                           ("cheat_sys_modules", ("conv2d_forward", "conv2d_backward")),
                                           ("cheat_layer_wrapper", ("conv2d_forward", "conv2d_backward"))])
def test_without_the_overlay_nnbooks_own_code_would_pass(monkeypatch, tmp_path, name, cheated):
    from nnbook.grading.run import guard
    from nnbook.grading.grade import grade_notebook, load_sets

    def plain_copy(dest, set_name, allowed):
        shutil.copytree(guard.package_dir(), Path(dest) / "nnbook", ignore=shutil.ignore_patterns("__pycache__"))
        return Path(dest), {}
    monkeypatch.setattr(guard, "build_overlay", plain_copy)
    monkeypatch.setenv("HOME", str(tmp_path))
    sub = grade_notebook(SUBMISSIONS / f"{name}.ipynb", load_sets(ROOT / "solutions"), timeout=20, seed=1)
    points = {t.grade_id: (t.points, t.max_points) for t in sub.tests}
    for gid in cheated:
        assert points[gid][0] == points[gid][1] > 0, (gid, points)


def test_private_folders_keep_files_from_later_kernels(monkeypatch, tmp_path):
    """cheat_writes_files writes IPython startup files; with a shared HOME/IPYTHONDIR (the guard off)
    the next learner's kernel runs them and loses every point; with private folders nothing happens."""
    from nnbook.grading.run import sandbox
    from nnbook.grading.grade import grade_notebook, load_sets
    sets = load_sets(ROOT / "solutions")
    shared = tmp_path / "shared-home"
    (shared / ".ipython").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(shared))

    def grade_pair():
        writer = grade_notebook(SUBMISSIONS / "cheat_writes_files.ipynb", sets, timeout=20, seed=1)
        victim = grade_notebook(ROOT / "solutions" / "ex1_fully_connected.ipynb", sets, timeout=20, seed=1)
        return writer.total, victim.total
    assert grade_pair() == (10, 10)
    original = sandbox.KernelLaunch.prepare

    def shared_folders(self, tmp, env):
        original(self, tmp, env)
        env["HOME"], env["IPYTHONDIR"], env["TMPDIR"] = str(shared), str(shared / ".ipython"), str(shared)
    monkeypatch.setattr(sandbox.KernelLaunch, "prepare", shared_folders)
    assert grade_pair() == (10, 0)


# ---------------------------------------------------------------------------------------------
def test_overlay_raises_by_every_route(tmp_path):
    from nnbook.grading.judge.exercise import SETS
    from nnbook.grading.run.guard import build_overlay
    build_overlay(tmp_path, "ex3_convolution", SETS["ex3_convolution"].allowed)
    code = """
import importlib, sys, numpy as np
import nnbook, nnbook.functional as F
from nnbook.grading import check
x, W, b = np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), np.zeros(1)
def attempt(f):
    try:
        f(); return 'ran'
    except Exception as e:
        return type(e).__name__ + ': ' + str(e)
print(attempt(lambda: F.conv2d_forward(x, W, b)))
print(attempt(lambda: importlib.reload(sys.modules['nnbook.functional.conv']).conv2d_forward(x, W, b)))
print(attempt(lambda: sys.modules['nnbook'].__dict__['functional'].conv._im2col_forward(x, W, b, (1, 1), (0, 0), (2, 2))))
print(attempt(lambda: nnbook.Conv2d(1, 1, 2)(x.astype(np.float32))))
print(attempt(lambda: importlib.import_module('nnbook.naive').conv2d_forward(x, W, b)))
print(attempt(lambda: F.relu_forward(x)))
print(attempt(lambda: nnbook.MaxPool2d(2)(x)))
print(attempt(lambda: importlib.import_module('nnbook.grading.sets.ex2_training')._adam(x, x, {})))
print(attempt(lambda: check('conv2d_forward', lambda *a: None)))
print(attempt(lambda: nnbook.data.load_photo(gray=True, size=8)))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    lines = proc.stdout.splitlines()
    assert len(lines) == 10, proc.stderr
    message = "NotAvailableError: grading ex3_convolution: nnbook's own {} is not available to answers — write your own"
    assert lines[0] == lines[1] == message.format("conv2d_forward")
    assert lines[2] == message.format("conv2d_forward")          # a private helper only it uses
    assert lines[3] == message.format("Conv2d")
    assert lines[4] == message.format("conv2d_forward")
    assert lines[5] == message.format("relu_forward")            # what the set does not allow, too
    assert lines[6] == message.format("MaxPool2d")
    grader = "NotAvailableError: grading ex3_convolution: nnbook.grading's {} does not run in the graded kernel"
    assert lines[7].startswith(grader.format("_adam"))           # the grader's own helpers
    assert lines[8].startswith(grader.format("check"))
    assert lines[9] == "ran"                                      # what the set allows still works


def test_sets_allow_their_building_blocks_and_nothing_that_computes_an_answer():
    from nnbook.grading.judge.exercise import SETS
    from nnbook.grading.run.guard import kept
    refused = {"ex1_fully_connected": ["nnbook.functional.relu_forward", "nnbook.functional.leaky_relu_forward",
                                       "nnbook.functional.linear_forward", "nnbook.layers.Linear",
                                       "nnbook.naive.linear_forward", "nnbook.functional.log_softmax"],
               "ex2_training": ["nnbook.optim.adam", "nnbook.optim.SGD", "nnbook.grading.sets.ex2_training._adam",
                                "nnbook.grading.sets.ex2_training._rms"],
               "ex4_pooling": ["nnbook.functional.avgpool2d_forward", "nnbook.functional.conv2d_forward",
                               "nnbook.naive.maxpool2d_forward", "nnbook.layers.AvgPool2d"],
               "ex7_residual": ["nnbook.functional.shortcut_forward", "nnbook.layers.ResidualBlock",
                                "nnbook.layers.needs_projection", "nnbook.functional.conv2d_backward"],
               "ex8_putting_it_together": ["nnbook.layers.ResidualBlock", "nnbook.fit", "nnbook.optim.sgd_momentum",
                                           "nnbook.models.small_resnet", "nnbook.gradcheck.numerical_gradient"]}
    allowed = {"ex7_residual": ["nnbook.functional.conv2d_forward", "nnbook.functional.batchnorm_forward"],
               "ex8_putting_it_together": ["nnbook.functional.conv2d_backward", "nnbook.data.train_test_split",
                                           "nnbook.grading.sets.ex8_putting_it_together.init_params"]}
    for name, names in refused.items():
        for dotted in names:
            assert not SETS[name].allows(dotted), (name, dotted)
    for name, names in allowed.items():
        for dotted in names:
            assert SETS[name].allows(dotted), (name, dotted)
    for bad in ("nnbook.functional.no_such_function", "numpy.maximum"):
        with pytest.raises(ValueError, match="ex1_fully_connected"):
            kept("ex1_fully_connected", (bad,))


def _solution_namespace(name):
    """The answers of solutions/<name>.ipynb, run in a namespace with the setup cell's imports."""
    from nnbook import functional as F
    nb = nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)
    ns = {"np": np, "F": F}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(cell.source, ns)
    return ns


def _avgpool_by_conv(x, kernel_size, stride=None):
    """Average pooling done by nnbook's convolution with a constant 1/(k*k) kernel (not written)."""
    from nnbook import functional as F
    N, C, H, W = x.shape
    k = kernel_size
    ones = np.full((1, 1, k, k), 1 / (k * k), dtype=x.dtype)
    out, _ = F.conv2d_forward(x.reshape(N * C, 1, H, W), ones, None, stride or k, 0)
    return out.reshape(N, C, *out.shape[2:]), (x, k, stride or k)       # the cache the exercise states


def test_check_refuses_what_the_set_does_not_allow(monkeypatch, capsys):
    import nnbook
    from nnbook import functional as F
    from nnbook.grading import ExerciseFailed, check, evaluate
    from nnbook.grading.judge.own_code import OwnCodeWatch
    from test_grading_cli import NOT_AVAILABLE

    def mine(x):
        return np.maximum(x, 0), x
    assert evaluate("relu_forward", mine).passed
    from nnbook.grading.judge.cases import Case
    from nnbook.grading.judge.exercise import forward_reference

    def through_the_grader(x):      # nnbook's reference, called by a helper of the grader
        return forward_reference(F.relu_forward)(Case("c", (x,), {}, frozenset(), seed=0))["out"], x
    relu_like = [(F.relu_forward, "nnbook.functional.relu_forward", "relu_forward"),
                 (through_the_grader, "nnbook.functional.relu_forward", "relu_forward"),
                 (lambda x: F.relu_forward(x), "nnbook.functional.relu_forward", "relu_forward"),
                 (lambda x: (F.leaky_relu_forward(x, 0.0)[0], x), "nnbook.functional.leaky_relu_forward",
                  "leaky_relu_forward"),
                 (lambda x: (nnbook.ReLU().forward(x), x), "nnbook.ReLU", "ReLU")]
    for fn, dotted, short in relu_like:
        text = " ".join(evaluate("relu_forward", fn).text().split())
        assert "0 of 4 cases passed" in text, text
        said = text.split("your function is, or calls, ", 1)[1].split(". grading", 1)[0] if "calls, " in text else ""
        assert dotted in said and NOT_AVAILABLE.format(short) in text, text
    report = evaluate("avgpool2d_forward", _avgpool_by_conv)
    assert not report.passed and NOT_AVAILABLE.format("conv2d_forward") in " ".join(report.text().split())
    with pytest.raises(ExerciseFailed):
        check("relu_backward", F.relu_backward, mine)
    assert "nnbook.functional.relu_backward" in capsys.readouterr().out
    # what a set allows is not refused: ex7's block may use F.conv2d_forward and F.batchnorm_forward
    ex7 = _solution_namespace("ex7_residual")
    assert evaluate("residual_block_forward", ex7["residual_block_forward"]).passed
    monkeypatch.setattr(OwnCodeWatch, "finish", lambda self, report: report)     # the guard off
    for fn, _, _ in relu_like:
        assert evaluate("relu_forward", fn).passed
    assert evaluate("avgpool2d_forward", _avgpool_by_conv).passed


# ---------------------------------------------------------------------------------------------
def test_channel_accepts_plain_data_only():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    back = remote.decode(remote.encode((x, 2, 0.5, None, True, "s", {"k": [x]})))
    assert np.array_equal(back[0], x) and back[0].dtype == np.float32 and back[1:6] == (2, 0.5, None, True, "s")
    assert np.array_equal(back[6]["k"][0], x)
    good = remote.encode(x)
    bad = [{"t": "a", "d": "|O8", "s": [1], "b": ""},                           # object dtype
           dict(good, s=[3, 3]),                                                # bytes do not match the shape
           dict(good, d="<c16"),                                                # complex: not allowed
           {"t": "a", "d": "<f8", "s": [10 ** 5, 10 ** 5], "b": ""},            # too large
           {"t": "pickle", "v": "gASV"}, {"t": "n", "v": [1, 2]}, {"t": "n", "v": 1.5},
           {"t": "dict", "k": [1], "v": [{"t": "n", "v": 1}]}, "not an object", dict(good, extra=1)]
    for value in bad:
        with pytest.raises(remote.BadReply, match="not plain data"):
            remote.decode(value)
    nested = {"t": "n", "v": 1}
    for _ in range(20):
        nested = {"t": "list", "v": [nested]}
    with pytest.raises(remote.BadReply):
        remote.decode(nested)


def test_rng_arguments_travel_as_their_state():
    g = np.random.default_rng(5)
    g.random(3)
    sent = remote.encode(g)
    rebuilt = np.random.Generator(getattr(np.random, sent["bg"])())
    rebuilt.bit_generator.state = sent["state"]
    assert np.array_equal(rebuilt.random(4), g.random(4))


def test_test_cells_are_parsed_not_executed():
    checks = remote.parse_checks('check("conv2d_backward", conv2d_backward, conv2d_forward)\n'
                                 '### BEGIN HIDDEN TESTS\ncheck("conv2d_backward", conv2d_backward, '
                                 'conv2d_forward, hidden=True)\n### END HIDDEN TESTS')
    assert checks == [remote.CheckCall("conv2d_backward", "conv2d_backward", "conv2d_forward", False),
                      remote.CheckCall("conv2d_backward", "conv2d_backward", "conv2d_forward", True)]
    for source in ("assert f() == 1", "check('x', f(1))", "check('x', f, hidden=flag)", "pass"):
        with pytest.raises(remote.TestCellFormatError):
            remote.parse_checks(source)


# ---------------------------------------------------------------------------------------------
def test_sandbox_without_bubblewrap_stops(monkeypatch, capsys, tmp_path):
    from nnbook import cli
    from nnbook.grading.run import sandbox
    monkeypatch.setattr(sandbox, "BWRAP", str(tmp_path / "no-bwrap"))
    assert cli.main(["grade", str(ROOT / "solutions"), "--sandbox", "--feedback", ""]) == 2
    err = capsys.readouterr()
    assert "--sandbox needs" in err.err and "nothing was graded" in err.err and "graded" not in err.out


def test_grade_from_an_installed_package(tmp_path):
    """nnbook copied away from the checkout (as a wheel installs it): --solutions is needed, and
    without it the error says where it looked."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "lib" / "nnbook", site / "nnbook", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONPATH=str(site), HOME=str(tmp_path))
    work = tmp_path / "course"
    work.mkdir()
    proc = subprocess.run(CLI + ["grade", str(ROOT / "solutions" / "ex5_dropout.ipynb"), "--feedback", ""],
                          capture_output=True, text=True, cwd=work, env=env)
    assert proc.returncode == 2
    assert "no solution notebooks found (looked in" in proc.stderr and str(work / "solutions") in proc.stderr
    assert "--solutions" in proc.stderr
    proc = subprocess.run(CLI + ["grade", str(ROOT / "solutions" / "ex5_dropout.ipynb"), "--feedback", "",
                                 "--solutions", str(ROOT / "solutions"), "--csv", "g.csv"],
                          capture_output=True, text=True, cwd=work, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    row = next(iter(_rows(work / "g.csv").values()))
    assert float(row["total"]) == float(row["max"]) == 5


def _editable_checkout():
    """The checkout an editable install of nnbook points to (where the disk cheats look), if any."""
    import json
    from importlib import metadata
    try:
        url = json.loads(metadata.distribution("nnbook").read_text("direct_url.json") or "{}").get("url", "")
    except Exception:
        return []
    return [url[len("file://"):]] if url.startswith("file://") else []


@needs_sandbox
def test_the_sandbox_view_is_what_stops_the_disk_cheats(monkeypatch, tmp_path):
    """With the folder of the repository (and of an editable install) visible in the sandbox, the
    cheat that reads the solutions gets full marks; the one that loads nnbook's source still gets 0
    while the grading copy is mounted over every nnbook package, and full marks without that."""
    from nnbook.grading.run import sandbox
    from nnbook.grading.grade import grade_notebook, load_sets
    original = sandbox.SandboxLaunch._visible
    wider = [str(ROOT)] + _editable_checkout()
    monkeypatch.setattr(sandbox.SandboxLaunch, "_visible", lambda self: original(self) + wider)
    # and every installed package, so the cheats can find the checkout from nnbook's install record
    monkeypatch.setattr(sandbox, "_site_dirs", lambda: [])
    monkeypatch.setenv("HOME", str(tmp_path))
    sets = load_sets(ROOT / "solutions")

    def total(name):
        sub = grade_notebook(SUBMISSIONS / f"{name}.ipynb", sets, timeout=20, seed=1, sandbox=True)
        assert sub.error == "", sub.error
        return sub.total
    assert total("cheat_read_solutions") == 7
    assert total("cheat_read_library") == 0
    monkeypatch.setattr(sandbox, "_nnbook_copies", lambda: [])
    assert total("cheat_read_library") == 7


def test_class_report_counts_learners_under_the_mistake_named_first():
    from nnbook.grading.report.classreport import markdown, summarize
    from nnbook.grading.judge.exercise import Hint
    from nnbook.grading.grade import Submission, TestResult, _report_hints

    class Report:
        hints = [Hint("conv_backward_overwrites", "overlapping windows add up their contributions")]
        results = []
    name = "overlapping windows add up their contributions [conv_backward_overwrites]"
    assert _report_hints(Report()) == [name]
    other = "a second hint [conv_backward_other]"
    subs = [Submission(Path(f"{who}.ipynb"), who, "ex3_convolution",
                       tests=[TestResult("conv2d_backward", pts, 4, "failed" if pts == 0 else "passed", hints=hints,
                                         mistake=hints[0] if hints and pts == 0 else "", reason=reason)])
            for who, pts, hints, reason in (("ann", 0, [name, other], ""), ("bob", 4, [], ""),
                                            ("cy", 0, [name], ""), ("dee", 0, [], "ValueError: shapes"))]
    md = markdown(summarize(subs, {}))
    assert f"- 2 of 4: {name} (ann, cy)" in md
    assert "conv_backward_other" not in md                    # a later hint counts nobody
    assert "- 1 of 4: failed, no named mistake (dee: ValueError: shapes)" in md
    assert "| `conv2d_backward` | 1 of 4 | 0: 3, 4: 1 |" in md
