"""``nnbook grade``: grade submitted notebooks against ``solutions/``.

For each submission:
1. read it (invalid JSON or the wrong exercise set: a clear error and 0 points);
2. restore every test cell and locked cell from the solution notebook by ``grade_id``
   (hidden tests come back; deleted or edited tests are undone; cells that merely claim to
   be graded are demoted to ordinary cells);
3. run it in a fresh kernel with a per-cell timeout and output cap (:mod:`.execute`);
4. score: a test cell earns its points (from ``solutions/``) when its execution ended
   without an error — decided here from the kernel's execute reply, never from anything the
   learner's code printed or stored.

The submitted file is only read.
"""
import copy
import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .execute import run_notebook
from .notebooks import grade_id, is_locked, is_test, meta

# Put before every restored test cell: fresh copies of nnbook (checker *and* references) from
# disk, so a learner's cell that patched nnbook.grading.check, nnbook.functional, ... or
# re-defined check in the notebook changes nothing.
RESTORED_PRELUDE = ("import sys as _nb_sys; [_nb_sys.modules.pop(_m) for _m in list(_nb_sys.modules) "
                    "if _m == 'nnbook' or _m.startswith('nnbook.')]; from nnbook.grading import check  "
                    "# restored by the grader\n")
FEEDBACK_CHARS = 20_000


@dataclass
class ExerciseSet:
    """One solution notebook: its test cells (by grade_id, in order) and their points."""
    name: str
    path: Path
    nb: object
    points: dict

    @property
    def max_points(self):
        return sum(self.points.values())

    @property
    def ids(self):
        return {grade_id(c) for c in self.nb.cells if grade_id(c)}


def load_sets(solutions_dir):
    """``{name: ExerciseSet}`` for every notebook in ``solutions_dir``."""
    sets = {}
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        points = {grade_id(c): meta(c)["points"] for c in nb.cells if is_test(c)}
        sets[path.stem] = ExerciseSet(path.stem, path, nb, points)
    if not sets:
        raise FileNotFoundError(f"no solution notebooks in {solutions_dir}")
    return sets


@dataclass
class TestResult:
    """The outcome of one restored test cell."""
    grade_id: str
    points: float
    max_points: float
    status: str          # passed, failed, not written, timeout, not run
    reason: str = ""
    feedback: str = ""   # what the check printed (feedback only; never used for points)
    images: list = field(default_factory=list)


@dataclass
class Submission:
    path: Path
    student: str
    set_name: str = ""
    tests: list = field(default_factory=list)
    error: str = ""
    max_points: float = 0
    flags: list = field(default_factory=list)

    @property
    def total(self):
        return sum(t.points for t in self.tests)


def student_name(path, set_names):
    """The file's stem, or its folder's name when the file is just named after the exercise set."""
    path = Path(path)
    return path.parent.name if path.stem in set_names and path.parent.name else path.stem


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
        if is_test(cell):
            cell.source = RESTORED_PRELUDE + cell.source
        cell.metadata.pop("tags", None)    # the learner's raises-exception tags change nothing here
    nb = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(solution.metadata))
    return nb


def _feedback(outputs):
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")
    if len(text) > FEEDBACK_CHARS:
        text = text[:FEEDBACK_CHARS] + "\n[... cut]"
    images = [o["data"]["image/png"] for o in outputs
              if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    return text, images[:2]


def grade_notebook(path, sets, timeout=30, expected_set=None, output_cap=None):
    """Grade one submitted notebook file; never raises for a bad submission."""
    path = Path(path)
    sub = Submission(path, student_name(path, sets))
    try:
        raw = path.read_text(encoding="utf-8")
        nb = nbformat.reads(raw, as_version=4)
    except UnicodeDecodeError:
        sub.error = "not a notebook: the file is not UTF-8 text"
        return sub
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sub.error = f"not a valid notebook (JSON): {first[:200]}"
        return sub
    if not isinstance(nb.get("cells"), list):
        sub.error = "not a valid notebook: no list of cells"
        return sub
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
    env.pop("MPLBACKEND", None)             # inline figures, for the HTML report
    kwargs = {} if output_cap is None else {"output_cap": output_cap}
    try:
        runs = run_notebook(graded, timeout=timeout, env=env, replayable=lambda c: not is_test(c), **kwargs)
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
        text, images = _feedback(run.outputs)
        if run.status == "ok":
            result = TestResult(gid, pts, pts, "passed")
        elif run.status == "timeout":
            result = TestResult(gid, 0, pts, "timeout", run.evalue)
        elif run.status == "not run":
            result = TestResult(gid, 0, pts, "not run", run.evalue)
        elif run.ename == "NotImplementedError":
            result = TestResult(gid, 0, pts, "not written", "raises NotImplementedError")
        elif run.ename == "ExerciseFailed":
            result = TestResult(gid, 0, pts, "failed", run.evalue.replace(" (see the table above)", ""))
        else:
            result = TestResult(gid, 0, pts, "failed", f"{run.ename}: {run.evalue}"[:300])
        if run.truncated:
            result.reason += " (output cut)"
        result.feedback, result.images = text, images
        sub.tests.append(result)
    return sub


def expand(paths):
    """Notebook files named by ``paths`` (files, or folders searched recursively), in order."""
    files, missing = [], []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in f.parts)
        elif p.exists():
            files.append(p)
        else:
            missing.append(p)
    return files, missing


def write_csv(subs, path, sets):
    """Gradebook: student, file, set, one column per exercise (points), total, max, error, notes
    (cells that touch the grading machinery, for a human to look at)."""
    ids = []
    for name in sorted({s.set_name for s in subs if s.set_name}):
        ids += [g for g in sets[name].points if g not in ids]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "file", "set", *ids, "total", "max", "error", "notes"])
        for s in subs:
            pts = {t.grade_id: t.points for t in s.tests}
            w.writerow([s.student, str(s.path), s.set_name, *[_num(pts[g]) if g in pts else "" for g in ids],
                        _num(s.total), _num(s.max_points), s.error, "; ".join(s.flags)])


def _num(x):
    return int(x) if float(x).is_integer() else x
