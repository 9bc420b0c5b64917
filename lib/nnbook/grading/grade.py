"""``nnbook grade``: grade submitted notebooks against ``solutions/``.

For each submission:
1. read it (invalid JSON or the wrong exercise set: a clear error and 0 points);
2. restore every test cell and locked cell from the solution notebook by ``grade_id``
   (hidden tests come back; deleted or edited tests are undone; cells that merely claim to
   be graded are demoted to ordinary cells);
3. run its other cells (answers, setup) in a fresh kernel with a per-cell timeout and output cap
   (:mod:`.run.kernel`), started with an overlay copy of nnbook in which what the set does not
   allow answers to call raises (:mod:`.run.guard`), optionally under bubblewrap
   (:mod:`.run.sandbox`, ``--sandbox``);
4. **test cells are not run in the kernel**: their ``check(...)`` calls (read from the solution)
   are run here, in the grader's process, by :func:`nnbook.grading.judge.checker.evaluate` on proxies
   that call the learner's functions in the kernel and get plain data back (:mod:`.run.channel`).
   A test cell earns its points when every check in it passes; references, comparison, points
   and feedback are all computed here. Hidden cases are drawn from the run's seed.

The submitted file is only read.
"""
import base64
import copy
import csv
import io
import os
import random
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .run.kernel import BUDGET_ENAME, CellRun, run_notebook
from .notebooks.cells import grade_id, is_locked, is_test, meta

FEEDBACK_CHARS = 20_000


class SolutionsError(ValueError):
    """The solutions cannot be used for grading (the message says where and why)."""


@dataclass
class ExerciseSet:
    """One solution notebook: its test cells (by grade_id, in order), their points and checks."""
    name: str
    path: Path
    nb: object
    points: dict
    checks: dict = field(default_factory=dict)     # grade_id -> [remote.CheckCall]
    allowed: tuple = ()                            # what of nnbook answers may call (judge's ExerciseSet)

    @property
    def max_points(self):
        return sum(self.points.values())

    @property
    def ids(self):
        return {grade_id(c) for c in self.nb.cells if grade_id(c)}


def load_sets(solutions_dir):
    """``{name: ExerciseSet}`` for every notebook in ``solutions_dir``."""
    from .judge.exercise import SETS
    from .judge.registry import EXERCISES
    from .run.channel import TestCellFormatError, parse_checks
    sets = {}
    folder = Path(solutions_dir)
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        points, checks = {}, {}
        for i, c in enumerate(nb.cells):
            if not is_test(c):
                continue
            gid = grade_id(c)
            points[gid] = meta(c)["points"]
            try:
                checks[gid] = parse_checks(c.source, f"{path.name}, test cell {gid!r}")
            except TestCellFormatError as exc:
                raise SolutionsError(str(exc)) from None
            for chk in checks[gid]:
                if chk.exercise not in EXERCISES:
                    raise SolutionsError(f"{path.name}, test cell {gid!r}: unknown exercise {chk.exercise!r}")
        rules = SETS.get(path.stem)
        sets[path.stem] = ExerciseSet(path.stem, path, nb, points, checks, tuple(rules.allowed) if rules else ())
    if not sets:
        where = folder.resolve()
        state = "does not exist" if not folder.exists() else "has no *.ipynb files"
        raise FileNotFoundError(f"no solution notebooks in {where} (the folder {state}); "
                                "pass the solutions folder with --solutions DIR")
    return sets


@dataclass
class TestResult:
    """The outcome of one restored test cell."""
    grade_id: str
    points: float
    max_points: float
    status: str          # passed, failed, not written, timeout, not run
    reason: str = ""
    feedback: str = ""   # the checks' reports, as text (computed by the grader)
    images: list = field(default_factory=list)
    hints: list = field(default_factory=list)   # names of the hints given (Hint.id or the text)
    # the mistake the learner's first hint named (``label [id]``), "" when the failure has no named mistake;
    # the class report counts a failing learner under this one only
    mistake: str = ""
    notes: list = field(default_factory=list)   # what the judges measured (shown even when it passed)


@dataclass
class Submission:
    path: Path
    student: str
    set_name: str = ""
    tests: list = field(default_factory=list)
    error: str = ""
    max_points: float = 0
    flags: list = field(default_factory=list)
    seed: object = None
    sandboxed: bool = False

    @property
    def total(self):
        return sum(t.points for t in self.tests)


def detect_set(nb, sets):
    """The exercise set whose grade_ids the notebook shares most (ids common to all sets don't count)."""
    common = set.intersection(*(s.ids for s in sets.values())) if len(sets) > 1 else set()
    ids = {grade_id(c) for c in nb.cells if grade_id(c)} - common
    scores = {name: len(ids & (s.ids - common)) for name, s in sets.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] > 0 else None


SUSPICIOUS = ("nnbook.grading", "set_custom_exc", "sys.modules", "builtins", "__import__", "settrace",
              "sys.excepthook", "events.register", "check =", "def check", "setattr(", "importlib")
# assigning to an attribute of numpy or nnbook (monkeypatching what the checker relies on)
PATCHING = re.compile(r"\b(?:np|numpy|nnbook|F)(?:\.\w+)+\s*=(?!=)")


def _flags(nb, solution):
    """Learner cells that touch the grading machinery (listed for a human to look at; no effect on points)."""
    restored = {grade_id(c) for c in solution.cells if grade_id(c) and (is_test(c) or is_locked(c))}
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or grade_id(cell) in restored:
            continue
        for word in SUSPICIOUS:
            if word in cell.source:
                found.append(f"cell {i} mentions {word!r}")
        for match in PATCHING.finditer(cell.source):
            found.append(f"cell {i} assigns to {match.group(0).rstrip(' =')!r}")
        gid = grade_id(cell) or ""
        own = gid[:-len("_solution")] if gid.endswith("_solution") else None
        if own and re.search(rf"(\.\s*{own}\b|import[^\n]*\b{own}\b)", cell.source):
            found.append(f"cell {i} seems to use nnbook's own {own} in its answer")
    return found


def assemble(submission, solution):
    """The notebook to run: the learner's cells, with tests and locked cells restored from the solution."""
    restore = {grade_id(c): c for c in solution.cells if grade_id(c) and (is_test(c) or is_locked(c))}
    cells, placed = [], set()
    for cell in submission.cells:
        cell = copy.deepcopy(cell)
        gid = grade_id(cell)
        if gid in restore:
            if gid in placed:
                continue                   # a duplicated test cell runs once
            cell = copy.deepcopy(restore[gid])
            placed.add(gid)
        elif meta(cell).get("grade") or meta(cell).get("locked"):
            cell.metadata.pop("nbgrader")  # claims to be graded or locked, but is not one of ours
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    # put back deleted cells, after the cell that precedes them in the solution
    for j, sol_cell in enumerate(solution.cells):
        gid = grade_id(sol_cell)
        if gid not in restore or gid in placed:
            continue
        pos = 0
        for prev in reversed(solution.cells[:j]):
            pid = grade_id(prev)
            where = [k for k, c in enumerate(cells) if pid and grade_id(c) == pid]
            if where:
                pos = where[0] + 1
                break
        cells.insert(pos, copy.deepcopy(sol_cell))
        placed.add(gid)
    for cell in cells:
        cell.metadata.pop("tags", None)    # the learner's raises-exception tags change nothing here
    nb = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(solution.metadata))
    return nb


def _hint_name(h):
    """A hint as the class report names it: its label and its stable id (``Hint``), or its text."""
    hid = getattr(h, "id", None)
    if not hid:
        return str(h)
    name = getattr(h, "name", "") or ""
    return f"{name} [{hid}]" if name and name != hid else hid


def _report_hints(report):
    names = [_hint_name(h) for h in getattr(report, "hints", [])]
    for r in getattr(report, "results", []):
        names += [_hint_name(h) for h in getattr(r, "hints", [])]
    return list(dict.fromkeys(names))


def _picture(report):
    """PNG (base64) of expected | got | difference for the report's first image-like problem."""
    from .judge.checker import difference_figure
    for r in report.results:
        for p in r.problems:
            if getattr(p, "image_like", False):
                import matplotlib
                matplotlib.use("Agg", force=False)
                import matplotlib.pyplot as plt
                fig = difference_figure(p, f"{report.exercise}, case '{r.case.name}'")
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=72)
                plt.close(fig)
                return base64.b64encode(buf.getvalue()).decode()
    return None


class Judge:
    """Decides test cells in the grader's process (see the module docstring, step 4).

    Each function is judged as it was judged: when a check starts, the learner's function is pinned
    in the kernel (:meth:`~.run.channel.KernelChannel.pin`) and every call goes to that copy; a
    function needed to judge another one (a backward's forward) is the copy pinned by its own check,
    never the name's later value. If that kernel died since, the copy is gone, and so is the
    learner's chance to have it used: its calls fail with the reason.
    """

    def __init__(self, exercise_set, seed, timeout):
        from .judge.session import Session
        self.set, self.seed, self.timeout = exercise_set, seed, timeout
        self.checks = Session()        # this submission's checks, for the ones that build on them
        self.pinned_in = {}            # function name -> the channel (kernel) its check pinned it in

    def wants(self, cell):
        return is_test(cell)

    def __call__(self, cell, index, channel):
        from .judge.checker import CallCounter, evaluate
        from .judge.exercise import grading_seed
        from .judge.own_code import OwnCodeWatch
        # the learner's code runs in the kernel, where the overlay enforces the set's allowlist; watching
        # the proxies here would only slow every call down (and could count nothing)
        from .judge.session import session
        saved = OwnCodeWatch.enabled, CallCounter.enabled
        OwnCodeWatch.enabled = CallCounter.enabled = False
        try:
            with session(self.checks):
                return self._judge(cell, channel, evaluate, grading_seed)
        finally:
            OwnCodeWatch.enabled, CallCounter.enabled = saved

    def _function(self, channel, name):
        """The proxy of a function used to judge another: the copy its own check pinned."""
        if name in self.pinned_in and self.pinned_in[name] is not channel:
            def lost(*args, **kwargs):
                raise RuntimeError(f"{name} as its check judged it was lost when the kernel restarted")
            lost.__name__ = name
            return lost
        return channel.function(name)

    def _judge(self, cell, channel, evaluate, grading_seed):
        gid = grade_id(cell)
        channel.start_cell(self.timeout)
        reports, error = [], ""
        for chk in self.set.checks.get(gid, []):
            try:
                channel.pin(chk.fn)
                self.pinned_in[chk.fn] = channel
            except Exception:                     # a timeout or a dead kernel: the calls below say so
                pass
            # the kernel counts the calls of the forward (or of fn itself) during each call of fn
            fn = channel.function(chk.fn, count=(chk.forward or chk.fn,))
            forward = self._function(channel, chk.forward) if chk.forward else None
            try:
                with grading_seed(self.seed):
                    report = evaluate(chk.exercise, fn, forward, hidden=chk.hidden)
            except Exception as exc:              # the grader's own trouble: never a pass
                error = f"{type(exc).__name__}: {exc}"[:300]
                break
            reports.append(report)
            if not report.passed or channel.gone:
                break
        big = bool(reports) and any("big" in r.case.tags and r.failed for r in reports[-1].results)
        budget = f"took longer than {self.timeout:g} s" + (
            " on the big case (far slower than a backward in one pass: finite differences?)" if big
            else " (an endless loop?)")
        if channel.gone.startswith("the kernel died"):
            run = CellRun("error", "DeadKernelError", channel.gone, broken="the kernel died")
        elif channel.gone:
            run = CellRun("timeout", "Timeout", budget, broken=channel.gone)
        elif channel.timed_out:
            run = CellRun("timeout", "Timeout", budget)
        elif error:
            run = CellRun("error", "GradingError", error)
        elif not reports:
            run = CellRun("error", "GradingError", "the test cell has no check")
        elif reports[-1].not_written:
            run = CellRun("error", "NotImplementedError", f"{reports[-1].not_written} is not written yet")
        elif not reports[-1].passed:
            r = reports[-1]
            judged = len(r.results) - r.n_skipped
            what = (f"{r.n_failed} of {judged} cases failed" if r.n_failed else "no case could be judged")
            raised = Counter(p.facts.type for res in r.results if res.failed for p in res.problems
                             if p.kind == "exception" and getattr(p, "facts", None) is not None)
            if raised:           # a crash, said as such (a report or progress shows only this line)
                what += " (" + ", ".join(f"{n} raised {t}" for t, n in raised.most_common()) + ")"
            run = CellRun("error", "ExerciseFailed", f"{r.exercise}: {what}")
        else:
            run = CellRun("ok")
        run.result = reports
        return run


def _result(gid, pts, run):
    if run.status == "ok":
        result = TestResult(gid, pts, pts, "passed")
    elif run.status == "timeout":
        result = TestResult(gid, 0, pts, "timeout", run.evalue)
    elif run.status == "not run":
        result = TestResult(gid, 0, pts, "not run", run.evalue)
    elif run.ename == BUDGET_ENAME:
        result = TestResult(gid, 0, pts, "timeout", run.evalue)
    elif run.ename == "NotImplementedError":
        result = TestResult(gid, 0, pts, "not written", "raises NotImplementedError")
    elif run.ename == "ExerciseFailed":
        result = TestResult(gid, 0, pts, "failed", run.evalue)
    else:
        result = TestResult(gid, 0, pts, "failed", f"{run.ename}: {run.evalue}"[:300])
    reports = run.result or []
    if result.status != "passed":
        failed = [r for r in reports if not r.passed and not r.not_written and r.mistakes]
        result.mistake = _hint_name(failed[0].mistakes[0].hint) if failed else ""
    text = "\n".join(r.text() for r in reports)
    if run.status != "ok" and run.ename in ("DeadKernelError", "GradingError"):
        text = (text + "\n" if text else "") + f"{run.ename}: {run.evalue}"
    if len(text) > FEEDBACK_CHARS:
        text = text[:FEEDBACK_CHARS] + "\n[... cut]"
    result.feedback = text
    for r in reports:
        result.hints += [h for h in _report_hints(r) if h not in result.hints]
        result.notes += [n for c in getattr(r, "results", []) for n in getattr(c, "notes", [])]
        if not r.passed:
            try:
                png = _picture(r)
            except Exception:
                png = None
            if png and len(result.images) < 2:
                result.images.append(png)
    return result


def new_seed():
    """A random seed for the hidden cases of one grading run."""
    return random.SystemRandom().randrange(1, 10 ** 9)


MIN_BUDGET = 120.0      # seconds: the least default budget, whatever --timeout


def notebook_budget(exercise_set, timeout):
    """The default time budget of one notebook (``--notebook-timeout``): ``timeout`` (``--timeout``)
    for each check of the set, plus twice that for the setup and answer cells (starting the
    kernel is not counted), and at least :data:`MIN_BUDGET` (a short ``--timeout`` on a busy
    machine must not cut honest notebooks, which take seconds)."""
    checks = sum(len(c) for c in exercise_set.checks.values()) or len(exercise_set.points)
    return max(float(timeout) * (checks + 2), MIN_BUDGET)


def grade_notebook(path, sets, timeout=30, expected_set=None, output_cap=None, seed=None, sandbox=False,
                   notebook_timeout=None, student=None, data=None, on_kernel=None, max_bytes=None):
    """Grade one submitted notebook file; never raises for a bad submission.

    Args:
        seed: the hidden cases' seed (default: 0; ``nnbook grade`` draws one per run).
        sandbox: run the kernel under bubblewrap (:mod:`.run.sandbox`); raises
            :class:`~.run.sandbox.SandboxUnavailable` when that is not possible.
        notebook_timeout: total wall-clock seconds for the notebook (default:
            :func:`notebook_budget` of its set).
        student: whose it is (default: from its place, :func:`.intake.student_of`).
        data: the file's bytes, already read (default: read ``path`` as :mod:`.intake` does:
            regular files only, size-limited).
        on_kernel: called with the process group of each kernel started.
    """
    from . import intake
    from .run.sandbox import SandboxUnavailable
    path = Path(path)
    seed = 0 if seed is None else seed
    found = intake.Found(path.parent, (path.name,))
    sub = Submission(path, student or intake.student_of(found, sets), seed=seed, sandboxed=bool(sandbox))
    limit = max_bytes or intake.MAX_MB * 1_000_000
    try:
        nb = intake.parse(intake.read_bytes(found, limit) if data is None else data)
    except intake.Refused as exc:
        sub.error = str(exc)
        return sub
    try:
        return _grade(sub, nb, sets, timeout, expected_set, output_cap, seed, sandbox, notebook_timeout,
                      on_kernel)
    except SandboxUnavailable:
        raise
    except Exception as exc:            # the grader's own trouble with this notebook: its row says so
        sub.error = f"the grader failed on this notebook: {type(exc).__name__}: {exc}"[:300]
        if sub.set_name:
            sub.tests = [TestResult(g, 0, p, "not run", "the grader failed") for g, p in sets[sub.set_name].points.items()]
        return sub


def _grade(sub, nb, sets, timeout, expected_set, output_cap, seed, sandbox, notebook_timeout, on_kernel):
    from .run.guard import build_overlay
    from .run.sandbox import make_launch
    from .run.served_data import serve
    path = sub.path
    name = detect_set(nb, sets)
    if name is None:
        sub.error = "not one of the exercise sets (none of its cells has a grade_id from solutions/)"
        return sub
    sub.set_name, sub.max_points = name, sets[name].max_points
    wanted = expected_set or (path.stem if path.stem in sets else None)
    if wanted and wanted != name:
        sub.error = f"wrong exercise set: expected {wanted}, but the notebook is {name}"
        sub.tests = [TestResult(g, 0, p, "not run", "wrong exercise set") for g, p in sets[name].points.items()]
        return sub
    sub.flags = _flags(nb, sets[name].nb)
    graded = assemble(nb, sets[name].nb)
    env = dict(os.environ, NNBOOK_GRADING="1")
    env.pop("MPLBACKEND", None)
    kwargs = {} if output_cap is None else {"output_cap": output_cap}
    budget = notebook_timeout or notebook_budget(sets[name], timeout)
    judge = Judge(sets[name], seed, timeout)
    with tempfile.TemporaryDirectory(prefix="nnbook-overlay-") as overlay:
        build_overlay(overlay, name, sets[name].allowed)
        serve(overlay, name, seed)     # the capstone's kernel has only the grader's training digits
        launch = make_launch(overlay, sandbox=sandbox, exercise_set=name)
        try:
            runs = run_notebook(graded, timeout=timeout, env=env, replayable=lambda c: not is_test(c),
                                judge=judge, kernel=launch, budget=budget, on_kernel=on_kernel, **kwargs)
        except Exception as exc:               # e.g. the kernel could not start
            sub.error = f"could not run the notebook: {type(exc).__name__}: {exc}"
            sub.tests = [TestResult(g, 0, p, "not run", sub.error) for g, p in sets[name].points.items()]
            return sub
    by_id = {grade_id(c): i for i, c in enumerate(graded.cells) if is_test(c)}
    for gid, pts in sets[name].points.items():
        run = runs.get(by_id.get(gid))
        if run is None:
            sub.tests.append(TestResult(gid, 0, pts, "not run", "the test cell did not run"))
            continue
        sub.tests.append(_result(gid, pts, run))
    if any(r.ename == BUDGET_ENAME for r in runs.values()):
        cut = sum(runs.get(by_id.get(g)) is not None and runs[by_id[g]].ename == BUDGET_ENAME for g in sets[name].points)
        sub.error = (f"the notebook's time budget of {budget:g} s ran out (--notebook-timeout): "
                     f"{cut} test cell{'s' if cut != 1 else ''} not graded")
    return sub


# ---------------------------------------------------------------------------------------------
# a class: every notebook in a worker process, the gradebook and reports written as each finishes

_WORKER = {}


def worker_deadline(budget):
    """Seconds after which the worker grading a notebook is killed: far past the notebook's
    budget, since the grader's own work (references, comparisons, pictures) and kernel starts
    come on top of it. A stopped or hung worker is found sooner, by its missing heartbeat."""
    return 2 * budget + 300


def _init_worker(solutions_dir, options):
    _WORKER["sets"] = load_sets(solutions_dir)
    _WORKER["options"] = options


def _grade_in_worker(payload, report):
    path, student, data = payload
    return grade_notebook(path, _WORKER["sets"], student=student, data=data, on_kernel=report,
                          **_WORKER["options"])


def _unrun(entry, sets, options, error, with_tests=True):
    """The row of a notebook that was not graded (refused, or its grading broke off)."""
    sub = Submission(entry.path, entry.student, entry.set_name, error=error, seed=options.get("seed"),
                     sandboxed=bool(options.get("sandbox")))
    if entry.set_name in sets:
        sub.max_points = sets[entry.set_name].max_points
        if with_tests:
            sub.tests = [TestResult(g, 0, p, "not run", error[:120]) for g, p in sets[entry.set_name].points.items()]
    return sub


def feedback_names(entries):
    """A feedback file name (without extension) per entry: ``<student>_<set or file>``, made
    safe for a file system, with ``-2``, ``-3``... on a clash; the same names on every run."""
    names, taken = [], set()
    for e in entries:
        stem = re.sub(r"[^\w.-]+", "_", f"{e.student}_{e.set_name or Path(e.found.rel[-1]).stem}")[:120]
        stem = stem.lstrip(".") or "submission"
        name, n = stem, 1
        while name.lower() in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name.lower())
        names.append(name)
    return names


def _killed_twice(strikes):
    """The grading run was killed at least twice while this notebook was being graded, once
    with no other notebook in progress: it is taken to be what kills the run."""
    return len(strikes) >= 2 and any(strikes)


def grade_class(found, sets, solutions_dir, jobs=1, csv_path=None, feedback=None, fmt="md", journal=None,
                done=None, strikes=None, max_bytes=None, echo=print, **options):
    """Grade the ``found`` files (:func:`.intake.find`) of a class; returns the Submissions in order
    and how many were taken from ``done``.

    Each notebook is graded in a worker process (:class:`.run.workers.WorkerPool`); a worker that
    dies or overruns its notebook's budget costs only that notebook. As each notebook finishes,
    its feedback report, the gradebook (``csv_path``), the class report next to it and the
    ``journal`` (:class:`.report.gradebook.Journal`) are written. ``done`` (``{file: (sha256,
    Submission)}``, from the journal of a run being resumed) is taken as it is for unchanged files;
    ``strikes`` (from the same journal) are the earlier runs killed while a file was graded: those
    files are graded first, one at a time, and a file that killed the run twice is not graded again.
    ``options`` go to :func:`grade_notebook` (timeout, expected_set, seed, sandbox,
    notebook_timeout, output_cap).
    """
    from . import intake
    from .report.classreport import write_class_report
    from .report.gradebook import write_csv
    from .report.learner import table, write_feedback
    from .run.workers import Task, WorkerPool
    limit = max_bytes or intake.MAX_MB * 1_000_000
    done, strikes = done or {}, strikes or {}
    entries = intake.examine(found, sets, options.get("expected_set"), limit, detect=detect_set)
    names = feedback_names(entries)
    subs = [None] * len(entries)
    state = {"skipped": 0}

    def finish(i, sub, write=True):
        entry = entries[i]
        sub.flags = list(sub.flags) + [n for n in entry.notes if n not in sub.flags]
        subs[i] = sub
        if journal is not None and not entry.refused:
            journal.done(os.path.abspath(entry.path), entry.sha256, sub)
        if feedback:
            write_feedback(sub, feedback, fmt, name=names[i])
        echo(table(sub))
        if csv_path and write:
            finished = [s for s in subs if s is not None]
            write_csv(finished, csv_path, sets)
            write_class_report(finished, sets, Path(csv_path).parent, fresh=False)

    tasks = []
    for i, e in enumerate(entries):
        key = os.path.abspath(e.path)
        if e.refused:
            finish(i, _unrun(e, sets, options, e.refused, with_tests=e.refused.startswith("wrong exercise set")),
                   write=False)
        elif key in done and done[key][0] == e.sha256:
            subs[i] = done[key][1]
            subs[i].flags = [f for f in subs[i].flags if f not in e.notes] + e.notes
            state["skipped"] += 1
        elif _killed_twice(strikes.get(key, [])):
            finish(i, _unrun(e, sets, options, "not graded: the grading run was killed twice while this notebook "
                             "was being graded (look at it by hand, or grade it with --sandbox)"), write=False)
        else:
            budget = options.get("notebook_timeout") or notebook_budget(sets[e.set_name], options.get("timeout", 30))

            def payload(e=e):
                return (str(e.path), e.student, intake.load(e, limit))
            tasks.append(Task(i, payload, worker_deadline(budget), alone=key in strikes))
    tasks.sort(key=lambda t: not t.alone)                 # suspects of an earlier killed run first
    if csv_path:
        finished = [s for s in subs if s is not None]
        write_csv(finished, csv_path, sets)
        write_class_report(finished, sets, Path(csv_path).parent, fresh=not tasks)
    if tasks:
        pool = WorkerPool(jobs, _init_worker, (str(solutions_dir), options), _grade_in_worker)

        def on_start(task, running):
            if journal is not None:
                journal.started(os.path.abspath(entries[task.key].path),
                                [os.path.abspath(entries[k].path) for k in running])
        try:
            for outcome in pool.run(tasks, on_start=on_start):
                e = entries[outcome.task.key]
                sub = outcome.value if outcome.ok else _unrun(e, sets, options, outcome.reason)
                finish(outcome.task.key, sub)
        except BaseException:
            if journal is not None:
                journal.stopped("interrupted")
            raise
        finally:
            pool.close()
    if csv_path and tasks:
        write_class_report([s for s in subs if s is not None], sets, Path(csv_path).parent)  # every figure current
    if journal is not None:
        journal.stopped("finished")
    return [s for s in subs if s is not None], state["skipped"]
