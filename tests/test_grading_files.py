"""Submission files and the run (issue 14, sections 5 and 6).

- Only regular files are graded: symbolic links (to a solution, to a folder, to /dev/zero), FIFOs
  and oversized files get a row with 0 and the reason, unread, in both modes.
- Malformed notebooks get 0 and a reason that says what is wrong; they never stop the run.
- Identity comes from the submission's place; a second notebook of a (learner, set) is flagged.
- Learner-controlled names cannot start a formula in the gradebook, nor inject HTML or Markdown.
- A notebook has a time budget; a worker that dies or overruns costs only its notebook; the
  gradebook is written as each notebook finishes and ``--resume`` continues a killed run.

The regular-file fixtures are graded with the class in tests/test_grading_cli.py (default mode)
and tests/test_grading_integrity.py (--sandbox); here are the files git cannot hold or the class
run must not contain (tests/fixtures/make_submissions.py: special_files, run_harm).

Before (the layout commit 28f21f4, default mode, each fixture next to an honest ex5 notebook,
--jobs 1, --timeout 20, each in a course folder of its own):
- eve.ipynb -> ../solutions/ex7_residual.ipynb: eve 10/10;
- fifo.ipynb: the grader blocked in open() and was killed after 90 s; no gradebook;
- zero.ipynb -> /dev/zero: read until MemoryError (under a 3 GB address-space limit set for the
  measurement; nothing in the grader bounded the read);
- a 25 MB file: read whole (no size limit);
- malformed_source ("source": 5): TypeError in the grader, exit 1, no gradebook for anyone;
- nbformat_invalid: graded 5/5 (never validated);
- mallory/alice.ipynb: a row for "alice" (5/5);
- carol's second notebook: a second row "ex3_convolution_copy" (3/7);
- =SUM(1+1)+HYPERLINK(0).ipynb: written raw into the CSV's student column;
- kill_parent: the grader itself was killed (exit -9), no gradebook;
- slow_cells (15 x 1.5 s, --timeout 2): no notebook budget, all run (47 s), 5/5;
- --resume did not exist.
After (this branch, same runs): each gets a row with 0 and the reason, the honest notebook 5/5,
exit 0, mallory's row, carol's second notebook flagged, the name written as '=SUM..., the
worker killed instead of the grader, slow_cells cut by --notebook-timeout 12 (3/5).
"""
import csv
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from nnbook.grading import intake
from nnbook.grading.run.sandbox import sandbox_problem

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "fixtures" / "submissions"
CLI = [sys.executable, "-m", "nnbook.cli"]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
import make_submissions  # noqa: E402

if sandbox_problem() is not None and os.environ.get("NNBOOK_REQUIRE_SANDBOX") == "1":
    raise RuntimeError(f"NNBOOK_REQUIRE_SANDBOX=1 (set by CI) but the sandbox cannot run: {sandbox_problem()}")
MODES = [pytest.param([], id="default"),
         pytest.param(["--sandbox"], id="sandbox",
                      marks=pytest.mark.skipif(sandbox_problem() is not None, reason=f"{sandbox_problem()}"))]


def _grade(args, cwd, timeout=600):
    home = Path(cwd) / "home"
    home.mkdir(exist_ok=True)
    return subprocess.run(CLI + ["grade", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=dict(os.environ, HOME=str(home)))


def _rows(path):
    return list(csv.DictReader(open(path, encoding="utf-8")))


def _course(tmp_path):
    """A course folder as a teacher has it: solutions/ and submissions/ side by side."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "solutions", course / "solutions")
    (course / "submissions").mkdir(parents=True)
    return course


# ---------------------------------------------------------------------------------------------
# files that are not regular files, or too large
@pytest.mark.parametrize("mode", MODES)
def test_links_fifos_devices_and_oversized_files_are_refused_unread(tmp_path, mode):
    course = _course(tmp_path)
    made = make_submissions.special_files(course / "submissions", course / "solutions")
    shutil.copy(ROOT / "solutions" / "ex5_dropout.ipynb", course / "submissions" / "honest.ipynb")
    # a FIFO opened for reading would block forever, /dev/zero would fill the memory: the run ends
    proc = _grade(["submissions", *mode, "--solutions", "solutions", "--seed", "2", "--csv", "out/g.csv",
                   "--feedback", "out/fb"], course, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in _rows(course / "out" / "g.csv")}
    assert set(rows) == set(made) | {"honest"}, rows
    reasons = {"eve": "refused: a symbolic link (to ../solutions/ex7_residual.ipynb)",
               "frank": "refused: a symbolic link (to a folder, ../solutions)",
               "gina": "refused: a symbolic link (to ../../solutions/ex1_fully_connected.ipynb)",
               "fifo": "refused: a FIFO (named pipe), not a regular file",
               "zero": "refused: a symbolic link (to /dev/zero)",
               "huge": "refused: 25.0 MB, larger than the limit of 20 MB (--max-size)"}
    for who, why in reasons.items():
        assert rows[who]["error"].startswith(why), rows[who]
        assert float(rows[who]["total"]) == 0
    assert float(rows["honest"]["total"]) == 5 and rows["honest"]["error"] == ""
    report = (course / "out" / "class_report.md").read_text(encoding="utf-8")
    assert "## Not graded (6)" in report and "FIFO" in report


def test_the_linked_solution_would_score_if_followed(tmp_path):
    """What the guard stops: the same file read by following the link gets full marks."""
    from nnbook.grading.grade import grade_notebook, load_sets
    course = _course(tmp_path)
    make_submissions.special_files(course / "submissions", course / "solutions")
    link = course / "submissions" / "eve.ipynb"
    sets = load_sets(course / "solutions")
    followed = grade_notebook(link, sets, timeout=20, seed=1, data=link.read_bytes())
    assert followed.total == followed.max_points == 10
    refused = grade_notebook(link, sets, timeout=20, seed=1)
    assert refused.total == 0 and refused.error.startswith("refused: a symbolic link")


def test_a_file_swapped_after_listing_is_refused(tmp_path):
    """Reading goes folder by folder without following links and checks the open file."""
    root = tmp_path / "subs"
    (root / "ann").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "ex5_dropout.ipynb", root / "ann" / "ex5_dropout.ipynb")
    shutil.copy(ROOT / "solutions" / "ex5_dropout.ipynb", root / "bob.ipynb")
    found, missing = intake.find([root])
    assert not missing and [f.refused for f in found] == ["", ""]
    data = intake.read_bytes(found[0])
    assert json.loads(data)["cells"]
    (root / "bob.ipynb").unlink()
    os.symlink(ROOT / "solutions" / "ex7_residual.ipynb", root / "bob.ipynb")
    shutil.move(root / "ann", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", root / "ann")
    for f in found:
        with pytest.raises(intake.Refused, match="symbolic link"):
            intake.read_bytes(f)
    entries = intake.examine(intake.find([root])[0], {})
    assert all(e.refused.startswith("refused: a symbolic link") for e in entries)
    deep = root.joinpath(*["d"] * (intake.MAX_DEPTH + 3))
    deep.mkdir(parents=True)
    found, _ = intake.find([root])                       # a folder nested deeper than anyone needs
    assert found[-1].refused.startswith(f"refused: more than {intake.MAX_DEPTH} folders deep")


def test_a_file_changed_during_the_run_is_refused(tmp_path):
    from nnbook.grading.grade import detect_set, load_sets
    sets = load_sets(ROOT / "solutions")
    shutil.copy(ROOT / "solutions" / "ex5_dropout.ipynb", tmp_path / "ann.ipynb")
    entry, = intake.examine(intake.find([tmp_path])[0], sets, detect=detect_set)
    assert entry.set_name == "ex5_dropout" and intake.load(entry)
    shutil.copy(ROOT / "solutions" / "ex7_residual.ipynb", tmp_path / "ann.ipynb")
    with pytest.raises(intake.Refused, match="changed while the class was being graded"):
        intake.load(entry)


# ---------------------------------------------------------------------------------------------
# malformed notebooks
def _notebook_json(**changes):
    data = json.loads(nbformat.writes(nbformat.read(ROOT / "solutions" / "ex5_dropout.ipynb", as_version=4)))
    data.update(changes)
    return data


@pytest.mark.parametrize("make, reason", [
    (lambda d: d["cells"][1].__setitem__("source", 5), "cell 1: 'source' is a number, not text"),
    (lambda d: d["cells"].insert(0, "text"), "cell 0 is text, not a cell object"),
    (lambda d: d["cells"][1].pop("outputs"), "cell 1: a code cell without a list of 'outputs'"),
    (lambda d: d["cells"][1].__setitem__("cell_type", "python"), "cell 1 has cell_type 'python'"),
    (lambda d: d["cells"][1].__setitem__("metadata", []), "cell 1: 'metadata' is a list, not an object"),
    (lambda d: d.__setitem__("cells", {}), "'cells' is an object, not a list of cells"),
    (lambda d: d.pop("nbformat"), "'nbformat' is None; expected 4"),
    (lambda d: d["cells"][1].__setitem__("execution_count", "one"), "not a valid notebook (nbformat): 'one'"),
])
def test_malformed_notebooks_get_the_reason(make, reason):
    data = _notebook_json()
    make(data)
    with pytest.raises(intake.Refused) as info:
        intake.parse(json.dumps(data).encode())
    assert reason in str(info.value), str(info.value)


@pytest.mark.parametrize("raw, reason", [
    (b"\xff\xfe not text", "not a notebook: the file is not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"cells": [', "not a valid notebook (JSON)"),
    (b"7", "the file holds a number, not a notebook object"),
])
def test_files_that_are_not_notebooks(raw, reason):
    with pytest.raises(intake.Refused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        intake.parse(raw)


def test_a_malformed_cell_stopped_the_grader_before():
    """What validation stops: the grader's own code met ``"source": 5`` as a TypeError (on
    main it ended the run); now the notebook gets 0 and the reason."""
    from nnbook.grading.grade import _flags, grade_notebook, load_sets
    sets = load_sets(ROOT / "solutions")
    path = SUBMISSIONS / "malformed_source.ipynb"
    unvalidated = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    with pytest.raises(TypeError):
        _flags(unvalidated, sets["ex1_fully_connected"].nb)
    sub = grade_notebook(path, sets, timeout=20)
    assert sub.total == 0 and "cell 9: 'source' is a number" in sub.error


# ---------------------------------------------------------------------------------------------
# identity
def test_identity_comes_from_the_place(tmp_path):
    from nnbook.grading.grade import detect_set, load_sets
    sets = load_sets(ROOT / "solutions")
    subs = tmp_path / "submissions"
    for where, what in (("mallory/alice.ipynb", "ex5_dropout"), ("alice/ex5_dropout.ipynb", "ex5_dropout"),
                        ("bob/week3/conv.ipynb", "ex3_convolution"), ("bob/ex3_convolution.ipynb", "ex3_convolution"),
                        ("dan.ipynb", "ex1_fully_connected"), ("ex1_fully_connected.ipynb", "ex1_fully_connected")):
        (subs / where).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "solutions" / f"{what}.ipynb", subs / where)
    entries = intake.examine(intake.find([subs])[0], sets, detect=detect_set)
    got = {"/".join(e.found.rel): (e.student, e.set_name, e.refused.split(":")[0]) for e in entries}
    assert got == {"alice/ex5_dropout.ipynb": ("alice", "ex5_dropout", ""),
                   "bob/ex3_convolution.ipynb": ("bob", "ex3_convolution", ""),
                   "bob/week3/conv.ipynb": ("bob", "ex3_convolution", "a second notebook for bob and ex3_convolution"),
                   "dan.ipynb": ("dan", "ex1_fully_connected", ""),
                   "ex1_fully_connected.ipynb": ("submissions", "ex1_fully_connected", ""),
                   "mallory/alice.ipynb": ("mallory", "ex5_dropout", "")}, got
    bob = next(e for e in entries if e.found.rel == ("bob", "ex3_convolution.ipynb"))
    assert bob.notes == ["bob also handed in bob/week3/conv.ipynb for ex3_convolution (not graded)"]
    # files named one by one (a shell's submissions/*/*.ipynb): the same learners
    named = sorted(str(p) for p in subs.glob("*/*.ipynb"))
    entries = intake.examine(intake.find(named)[0], sets, detect=detect_set)
    assert [e.student for e in entries] == ["alice", "bob", "mallory"]


# ---------------------------------------------------------------------------------------------
# names in the outputs
NASTY = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "  =1", "\uff1d1",
         "<img src=x onerror=alert(1)>", "[prize](http://evil.example)", "a|b`c`*d*"]


def _subs():
    from nnbook.grading.grade import Submission, TestResult
    return [Submission(Path(f"subs/{i}.ipynb"), name, "ex5_dropout", seed=1, error="" if i % 2 else f"broken {name}",
                       tests=[] if i % 2 == 0 else [TestResult("dropout_forward", 3, 3, "passed")], max_points=5)
            for i, name in enumerate(NASTY)]


def test_gradebook_cells_never_start_a_formula(tmp_path):
    from nnbook.grading.grade import load_sets
    from nnbook.grading.report.gradebook import write_csv
    write_csv(_subs(), tmp_path / "g.csv", load_sets(ROOT / "solutions"))
    rows = list(csv.reader(open(tmp_path / "g.csv", encoding="utf-8", newline="")))
    students = [r[0] for r in rows[1:]]
    assert students == ["'" + n if n.lstrip(" ")[:1] in "=+-@\t\r\uff1d" else n for n in NASTY]
    assert all(c.lstrip(" ")[:1] not in ("=", "+", "-", "@", "\t", "\r", "\uff1d") for r in rows for c in r)
    assert rows[2][rows[0].index("total")] == "3"                # numbers stay numbers


def test_names_are_escaped_in_feedback_and_class_report(tmp_path):
    import re

    from nnbook.grading.grade import load_sets
    from nnbook.grading.report.classreport import write_class_report
    from nnbook.grading.report.learner import html_report, markdown
    subs = _subs()
    md, page = write_class_report(subs, load_sets(ROOT / "solutions"), tmp_path)
    md, page = md.read_text(encoding="utf-8"), page.read_text(encoding="utf-8")
    assert "## Not graded (6)" in md and "&lt;img src=x onerror=alert(1)&gt;" in md and "&lt;img src=x" in page
    for text in (md, page, *(markdown(s) for s in subs), *(html_report(s) for s in subs)):
        assert "<img src=x" not in text, text
    for text in (md, *(markdown(s) for s in subs)):
        assert not re.search(r"(?<!\\)\]\(http", text), text      # no Markdown link survives
    assert "\\[prize\\](http://evil.example)" in markdown(subs[9])
    assert "a\\|b\\`c\\`\\*d\\*" in markdown(subs[10]) and "a\\|b\\`c\\`\\*d\\*" in md


def test_feedback_code_blocks_cannot_be_closed_from_inside():
    from nnbook.grading.grade import Submission, TestResult
    from nnbook.grading.report.learner import markdown
    t = TestResult("dropout_forward", 0, 3, "failed", feedback="ValueError: ```\n<script>alert(1)</script>\n```")
    text = markdown(Submission(Path("x.ipynb"), "x", "ex5_dropout", tests=[t], max_points=5))
    fence = text.split("## dropout\\_forward\n\n", 1)[1].splitlines()[0]
    assert fence == "````" and text.count(fence) == 2


def test_feedback_code_blocks_carry_no_terminal_control_sequences():
    """An exception message can carry escape sequences (clear the screen, move the cursor, a terminal
    link): in a feedback report they are shown as ``?``, colors are dropped, lines are kept."""
    from nnbook.grading.grade import Submission, TestResult
    from nnbook.grading.report.learner import html_report, markdown
    evil = "\x1b[31mred\x1b[0m ValueError: \x1b[2J\x1b[H\x1b]8;;http://evil.example\x07click\x1b]8;;\x07\nsecond line"
    t = TestResult("dropout_forward", 0, 3, "failed", feedback=evil)
    sub = Submission(Path("x.ipynb"), "x", "ex5_dropout", tests=[t], max_points=5)
    for text in (markdown(sub), html_report(sub)):
        assert "\x1b" not in text and "\x07" not in text, repr(text)
        assert "red ValueError" in text and "second line" in text


# ---------------------------------------------------------------------------------------------
# the notebook's budget
def test_the_budget_cuts_a_run_of_slow_cells():
    """run_notebook with a budget: the cell that runs out is cut, the rest are not run; without
    a budget the same notebook runs every cell."""
    from nnbook.grading.run.kernel import BUDGET_ENAME, run_notebook

    def slow():
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time; time.sleep(1.5)")
                                               for _ in range(6)])
    runs = run_notebook(slow(), timeout=5, budget=5)
    statuses = [(r.status, r.ename) for r in runs.values()]
    ok = statuses.index(next(s for s in statuses if s[0] != "ok"))
    assert 0 < ok < 6, statuses
    assert statuses[ok][1] == BUDGET_ENAME and all(s == ("not run", BUDGET_ENAME) for s in statuses[ok + 1:])
    assert "the notebook's time budget of 5 s ran out" in runs[ok].evalue
    assert [r.status for r in run_notebook(slow(), timeout=5).values()] == ["ok"] * 6


def test_a_message_over_the_size_limit_is_dropped_unread(monkeypatch):
    """A kernel's message over MAX_MESSAGE_BYTES never reaches the grader's decoder (an attack sent
    30 million empty dicts in one display message and the grader grew to 2.4 GB): that kernel's
    output is lost from then on (its own notebook pays), the cells still end and the run goes on.
    Under the limit the same output arrives."""
    from nnbook.grading.run import kernel
    from nnbook.grading.run.kernel import run_notebook

    def nb():
        return nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("from IPython.display import display\n"
                                      "display({'application/json': [{}] * 500_000}, raw=True)"),
            nbformat.v4.new_code_cell("print('after')")])
    monkeypatch.setattr(kernel, "MAX_MESSAGE_BYTES", 1_000_000)        # the message is about 2 MB
    runs = run_notebook(nb(), timeout=20, output_cap=10_000_000)
    assert [r.status for r in runs.values()] == ["ok", "ok"], runs       # the run goes on
    assert runs[0].outputs == [] and runs[1].outputs == []               # that kernel's output is lost
    monkeypatch.setattr(kernel, "MAX_MESSAGE_BYTES", 10_000_000)
    runs = run_notebook(nb(), timeout=20, output_cap=10_000_000)
    assert len(runs[0].outputs) == 1 and "after" in runs[1].outputs[0]["text"]


@pytest.mark.parametrize("mode", MODES)
def test_slow_cells_run_out_of_the_notebooks_budget(tmp_path, mode):
    """15 cells of 1.5 s, each under --timeout 2, after the forward's test: a budget of 12 s stops
    them; the test before them keeps its points, the one after gets 0 and the gradebook says
    why. (On main the notebook ran for 27 s and got 5/5.)"""
    make_submissions.run_harm(tmp_path)
    proc = _grade([tmp_path / "slow_cells.ipynb", *mode, "--timeout", "2", "--notebook-timeout", "12", "--seed", "1",
                   "--csv", tmp_path / "g.csv", "--feedback", ""], tmp_path)
    assert proc.returncode == 0, proc.stderr
    row, = _rows(tmp_path / "g.csv")
    assert (row["dropout_forward"], row["dropout_backward"], row["total"]) == ("3", "0", "3"), row
    assert row["error"] == "the notebook's time budget of 12 s ran out (--notebook-timeout): 1 test cell not graded"
    assert "not run — the notebook's time budget of 12 s ran out" in proc.stdout


def test_the_default_budget_is_sized_from_the_set(monkeypatch, tmp_path):
    """--timeout x (checks + 2), at least 2 minutes; without --notebook-timeout it is what applies
    (here made small, so that the slow cells run into it)."""
    from nnbook.grading import grade
    sets = grade.load_sets(ROOT / "solutions")
    assert grade.notebook_budget(sets["ex1_fully_connected"], 60) == 60 * (10 + 2)
    assert grade.notebook_budget(sets["ex5_dropout"], 60) == 60 * (4 + 2)
    assert grade.notebook_budget(sets["ex5_dropout"], 2) == grade.MIN_BUDGET == 120
    make_submissions.run_harm(tmp_path)
    monkeypatch.setattr(grade, "notebook_budget", lambda exercise_set, timeout: 6.0)
    sub = grade.grade_notebook(tmp_path / "slow_cells.ipynb", sets, timeout=2)
    assert sub.error.startswith("the notebook's time budget of 6 s ran out"), sub
    assert sub.tests[1].status == "not run"


def test_notebook_timeout_option(tmp_path):
    from nnbook.grading.grade import grade_notebook, load_sets
    sets = load_sets(ROOT / "solutions")
    make_submissions.run_harm(tmp_path)
    sub = grade_notebook(tmp_path / "slow_cells.ipynb", sets, timeout=2, notebook_timeout=4)
    assert sub.error.startswith("the notebook's time budget of 4 s ran out"), sub
    forward, backward = sub.tests                      # where 4 s end depends on the machine's speed
    assert forward.status in ("passed", "timeout", "not run") and backward.status == "not run", sub
    assert backward.reason == "the notebook's time budget of 4 s ran out (--notebook-timeout)"


# ---------------------------------------------------------------------------------------------
# workers that die or hang
def _work(payload, report):
    if payload == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if payload == "stop":                    # as a kernel could do to its parent in the default mode
        os.kill(os.getpid(), signal.SIGSTOP)
    if payload == "hang":
        time.sleep(600)
    if payload == "raise":
        raise ValueError("the grader's own bug")
    return payload * 2


def _init():
    pass


def test_a_dying_stopped_or_hanging_worker_costs_only_its_task():
    """With one worker (--jobs 1): each bad task loses only itself and its worker is replaced.
    (Several workers at once: the class runs of test_grading_cli.py, where kill_parent kills one.)"""
    from nnbook.grading.run.workers import Task, WorkerPool
    pool = WorkerPool(1, _init, (), _work, silence=3, heartbeat=0.5)
    payloads = ["a", "die", "b", "stop", "hang", "raise", "c"]
    tasks = [Task(i, p, deadline=6 if p == "hang" else 120) for i, p in enumerate(payloads)]
    try:
        outcomes = {o.task.key: o for o in pool.run(tasks)}
    finally:
        pool.close()
    assert [outcomes[k].value for k in (0, 2, 6)] == ["aa", "bb", "cc"]
    assert "worker process was killed by SIGKILL" in outcomes[1].reason
    assert "stopped answering for 3 s" in outcomes[3].reason          # found by its missing heartbeat
    assert "stopped by the grader after 6 s" in outcomes[4].reason    # it beats, but overran its deadline
    assert "ValueError: the grader's own bug" in outcomes[5].reason
    assert not any(outcomes[k].ok for k in (1, 3, 4, 5))
    assert pool.started == 4                                     # the dead, stopped and hung ones were replaced


# ---------------------------------------------------------------------------------------------
# written as each notebook finishes; --resume
def _journal(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def test_resume_after_the_grader_was_killed(tmp_path):
    """kill_grader's kernel kills the grader's main process (default mode cannot stop that). The
    gradebook holds what was done; --resume grades the notebook that was in progress alone,
    first; when it kills the run again, the next --resume gives it 0 with the reason and
    grades the rest. Notebooks done are never graded again."""
    subs = tmp_path / "subs"
    subs.mkdir()
    make_submissions.run_harm(tmp_path / "harm")
    shutil.copy(tmp_path / "harm" / "kill_grader.ipynb", subs / "kill_grader.ipynb")
    shutil.copy(ROOT / "solutions" / "ex5_dropout.ipynb", subs / "a_honest.ipynb")
    shutil.copy(ROOT / "solutions" / "ex3_convolution.ipynb", subs / "z_honest.ipynb")
    args = [subs, "--jobs", "1", "--seed", "4", "--timeout", "20", "--csv", tmp_path / "g.csv"]
    first = _grade(args, tmp_path)
    assert first.returncode == -signal.SIGKILL, first.stderr
    assert [r["student"] for r in _rows(tmp_path / "g.csv")] == ["a_honest"]
    again = _grade(args + ["--resume"], tmp_path)
    assert again.returncode == -signal.SIGKILL
    assert "a_honest" not in again.stdout                         # done: not graded again
    last = _grade(args + ["--resume"], tmp_path)
    assert last.returncode == 0, last.stderr
    rows = {r["student"]: r for r in _rows(tmp_path / "g.csv")}
    assert list(rows) == ["a_honest", "kill_grader", "z_honest"]
    assert (rows["a_honest"]["total"], rows["z_honest"]["total"], rows["kill_grader"]["total"]) == ("5", "7", "0")
    assert rows["kill_grader"]["error"].startswith("not graded: the grading run was killed twice")
    assert "(1 graded before, taken from the run resumed)" in last.stdout
    starts = [r["file"].rsplit("/", 1)[1] for r in _journal(tmp_path / "g.progress.jsonl") if r["kind"] == "start"]
    assert starts == ["a_honest.ipynb", "kill_grader.ipynb", "kill_grader.ipynb", "z_honest.ipynb"]


@pytest.mark.skipif(sandbox_problem() is not None, reason=f"{sandbox_problem()}")
def test_the_sandbox_keeps_the_grader_out_of_reach(tmp_path):
    make_submissions.run_harm(tmp_path)
    proc = _grade([tmp_path / "kill_grader.ipynb", "--sandbox", "--seed", "4", "--timeout", "20",
                   "--csv", tmp_path / "g.csv", "--feedback", ""], tmp_path)
    assert proc.returncode == 0, proc.stderr
    row, = _rows(tmp_path / "g.csv")
    assert row["student"] == "kill_grader" and row["set"] == "ex1_fully_connected"
    assert float(row["linear_forward"]) == 2, row        # graded before the cell, and the run went on


def test_a_stopped_run_resumes_where_it_stopped(tmp_path):
    """SIGTERM while grading: the run says how to continue; --resume grades only what is left,
    with the recorded seed; other options than the recorded ones are refused."""
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("ex5_dropout", "ex3_convolution", "ex1_fully_connected"):
        shutil.copy(ROOT / "solutions" / f"{name}.ipynb", subs / f"{name[:3]}.ipynb")
    args = [subs, "--jobs", "1", "--seed", "9", "--csv", tmp_path / "g.csv", "--feedback", tmp_path / "fb"]
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.Popen(CLI + ["grade", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path, env=dict(os.environ, HOME=str(home)))
    journal = tmp_path / "g.progress.jsonl"
    deadline = time.monotonic() + 900         # a busy machine once took over 300 s for the first notebook
    while time.monotonic() < deadline and not (journal.exists() and '"kind": "done"' in journal.read_text()):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert time.monotonic() < deadline, "no notebook was graded within 900 s: nothing to resume"
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "continue with the same command and --resume" in err
    graded = [r["student"] for r in _rows(tmp_path / "g.csv")]
    assert 1 <= len(graded) < 3 and _journal(journal)[-1] == {"kind": "stop", "why": "interrupted"}
    wrong = _grade(args + ["--resume", "--seed", "10"], tmp_path)
    assert wrong.returncode == 2 and "--seed 9 then, 10 now" in wrong.stderr
    assert _grade([subs, "--resume"], tmp_path).returncode == 2             # --resume needs --csv
    rest = _grade(args + ["--resume"], tmp_path)
    assert rest.returncode == 0, rest.stderr
    rows = _rows(tmp_path / "g.csv")
    assert [r["student"] for r in rows] == ["ex1", "ex3", "ex5"] and {r["seed"] for r in rows} == {"9"}
    assert all(r["total"] == r["max"] for r in rows)
    assert f"({len(graded)} graded before" in rest.stdout
    assert not any(f"{who} (" in rest.stdout for who in graded)             # not graded again


def test_journal_ignores_a_torn_line_and_counts_killed_sessions(tmp_path):
    from nnbook.grading.grade import Submission
    from nnbook.grading.report.gradebook import Journal
    j = Journal(tmp_path / "g.progress.jsonl")
    j.begin({"seed": 1})
    j.started("/a", ["/a"])
    j.started("/b", ["/a", "/b"])
    j.begin({"seed": 1}, resumed=True)                   # the first session was killed with /a and /b running
    j.started("/a", ["/a"])
    j.done("/a", "sha-a", Submission(Path("/a"), "a", "ex5_dropout", max_points=5))
    j.started("/b", ["/b"])
    with open(j.path, "a") as f:
        f.write('{"kind": "done", "file": "/b", "sha')   # killed while writing
    options, done, strikes = j.read()
    assert options == {"seed": 1} and list(done) == ["/a"] and done["/a"][1].student == "a"
    assert strikes == {"/a": [False], "/b": [False, True]}      # /b alone when the second session died
