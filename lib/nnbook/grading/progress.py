"""``nnbook progress``: every exercise set in the learner's workspace, function by function.

Each graded function (each check cell) is *passed*, *failed* (with the check's one-line verdict)
or *not started* (it still raises ``NotImplementedError``). The verdicts come from the same checks
as the notebooks' check cells (their visible cases, not the grader's hidden ones), run the way
``nnbook grade`` runs them in its default mode: the notebook's cells, check cells excepted, run in
a fresh kernel, and the checks call the learner's functions there and judge in this process.

It is quick because it runs as little as it can:

- a notebook whose code cells are still exactly the released ones is *not started* throughout,
  without starting a kernel;
- a notebook whose code (and nnbook, and the solutions' checks) did not change since the last
  ``nnbook progress`` keeps its verdicts, cached in ``workspace/.nnbook-progress.json``;
- the others run ``--jobs`` at a time (default: the number of cores).

    nnbook progress                       # a table
    nnbook progress --json                # the same as data
    from nnbook.grading.progress import show_progress; show_progress()    # in a notebook
"""
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..workspace import EXERCISES, ROOT, WORKSPACE
from .notebooks.cells import grade_id, is_test

SOLUTIONS = ROOT / "solutions"
CACHE_NAME = ".nnbook-progress.json"
PASSED, FAILED, NOT_STARTED = "passed", "failed", "not started"
_LIB = Path(__file__).resolve().parents[1]     # the nnbook package


@dataclass
class SetProgress:
    """One exercise set of the workspace: ``functions`` is ``[(grade_id, status, detail)]``."""
    name: str
    path: str
    functions: list = field(default_factory=list)
    error: str = ""
    how: str = ""          # "unchanged" (released code, no kernel), "cached" or "ran"

    def count(self, status):
        return sum(s == status for _, s, _ in self.functions)


def _read(path):
    """A notebook as plain JSON (nbformat's import alone takes seconds: this path must be quick)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("no list of cells")
    return nb


def _code(nb):
    """The sources of a notebook's code cells, in order."""
    out = []
    for c in nb["cells"]:
        if isinstance(c, dict) and c.get("cell_type") == "code":
            src = c.get("source", "")
            out.append("".join(src) if isinstance(src, list) else str(src))
    return out


def _test_ids(solution):
    """The grade_ids of a solution notebook's test cells, in order (the graded functions)."""
    return [grade_id(c) for c in solution["cells"] if is_test(c)]


def _visible(exercise_set):
    """The set with only the checks a learner's notebook shows (hidden cases are the grader's)."""
    checks = {gid: [c for c in calls if not c.hidden] for gid, calls in exercise_set.checks.items()}
    return dataclasses.replace(exercise_set, checks=checks)


def _library_digest():
    """A digest of nnbook's code (the checks' cases and references live there)."""
    h = hashlib.sha256()
    for path in sorted(_LIB.rglob("*.py")):
        h.update(str(path.relative_to(_LIB)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _key(code, solution_path, library):
    """What a verdict depends on: the learner's code, the solution notebook (its checks), nnbook."""
    h = hashlib.sha256(library.encode())
    h.update(hashlib.sha256(Path(solution_path).read_bytes()).digest())
    for source in code:
        h.update(b"\0" + source.encode("utf-8"))
    return h.hexdigest()


def _status(test):
    if test.status == "passed":
        return PASSED, ""
    if test.status == "not written":
        return NOT_STARTED, ""
    return FAILED, (test.reason or test.status).splitlines()[0][:200]


_WORKER = {}


def _init_worker(solutions_dir):
    from .grade import load_sets
    if _WORKER.get("dir") != solutions_dir:
        _WORKER.update(dir=solutions_dir, sets={n: _visible(s) for n, s in load_sets(solutions_dir).items()})


def _run_one(path, timeout):
    from .grade import grade_notebook
    sub = grade_notebook(path, _WORKER["sets"], timeout=timeout, expected_set=Path(path).stem)
    return sub.error, [(t.grade_id, *_status(t)) for t in sub.tests]


def _run_all(paths, solutions_dir, jobs, timeout):
    """``[(error, functions)]`` for ``paths``, ``jobs`` notebooks at a time."""
    _init_worker(str(solutions_dir))      # imports the grader here once: forked workers inherit it
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    if jobs == 1:
        return [_run_one(str(p), timeout) for p in paths]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(method),
                             initializer=_init_worker, initargs=(str(solutions_dir),)) as pool:
        return list(pool.map(_run_one, [str(p) for p in paths], [timeout] * len(paths)))


def workspace_sets(workspace_dir, set_names):
    """The workspace's notebooks named after an exercise set (renamed old copies are not counted)."""
    return [p for p in sorted(Path(workspace_dir).glob("ex*.ipynb")) if p.stem in set_names]


def progress(workspace_dir=WORKSPACE, solutions_dir=SOLUTIONS, exercises_dir=EXERCISES, jobs=None,
             timeout=120, use_cache=True):
    """``[SetProgress]`` for every set in ``workspace_dir`` (see the module docstring)."""
    solutions = {p.stem: p for p in sorted(Path(solutions_dir).glob("ex*.ipynb"))}
    if not solutions:
        raise FileNotFoundError(f"no solution notebooks in {Path(solutions_dir).resolve()}")
    workspace_dir = Path(workspace_dir)
    cache_path = workspace_dir / CACHE_NAME
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8")) if use_cache else {}
        cache = cache if isinstance(cache, dict) else {}
    except (OSError, ValueError):
        cache = {}
    library = _library_digest()
    results, to_run, used = [], {}, set()
    for path in workspace_sets(workspace_dir, solutions):
        sp = SetProgress(path.stem, str(path))
        results.append(sp)
        try:
            code = _code(_read(path))
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            sp.error = f"not a valid notebook: {first}"
            continue
        release = Path(exercises_dir) / path.name
        if release.exists() and code == _code(_read(release)):
            ids = _test_ids(_read(solutions[path.stem]))
            sp.functions, sp.how = [(gid, NOT_STARTED, "") for gid in ids], "unchanged"
            continue
        key = _key(code, solutions[path.stem], library)
        used.add(key)
        if key in cache:
            sp.functions, sp.how = [tuple(f) for f in cache[key]["functions"]], "cached"
            sp.error = cache[key].get("error", "")
            continue
        to_run[path] = (sp, key)
    if to_run:
        outcomes = _run_all(list(to_run), solutions_dir, jobs, timeout)
        for (sp, key), (error, functions) in zip(to_run.values(), outcomes):
            sp.error, sp.functions, sp.how = error, functions, "ran"
            cache[key] = {"functions": functions, "error": error}
    if use_cache and (to_run or set(cache) != used):
        try:      # only the entries of the notebooks as they are now
            cache_path.write_text(json.dumps({k: cache[k] for k in used if k in cache}), encoding="utf-8")
        except OSError:
            pass
    return results


def missing_sets(workspace_dir=WORKSPACE, exercises_dir=EXERCISES):
    """Released sets that the workspace does not have (``nnbook workspace`` copies them)."""
    return [p.stem for p in sorted(Path(exercises_dir).glob("ex*.ipynb"))
            if not (Path(workspace_dir) / p.name).exists()]


def text(results, missing=(), seconds=None):
    """The table printed by ``nnbook progress``."""
    lines = []
    n = sum(len(sp.functions) for sp in results)
    ok = sum(sp.count(PASSED) for sp in results)
    took = f" ({seconds:.1f} s)" if seconds is not None else ""
    lines.append(f"{ok} of {n} graded functions pass{took}")
    width = max([len(sp.name) for sp in results] + [0]) + 2
    for sp in results:
        if sp.error:
            lines.append(f"{sp.name:{width}}error: {sp.error}")
            if not sp.functions:
                continue
        passed = sp.count(PASSED)
        summary = (NOT_STARTED if passed == 0 and sp.count(NOT_STARTED) == len(sp.functions)
                   else f"{passed} of {len(sp.functions)} passed")
        lines.append(f"{sp.name:{width}}{summary}")
        if summary == NOT_STARTED:
            continue
        for gid, status, detail in sp.functions:
            mark = {PASSED: "ok", FAILED: "FAIL", NOT_STARTED: "--"}[status]
            lines.append(f"  {mark:5}{gid:26}{status}" + (f": {detail}" if detail else ""))
    for name in missing:
        lines.append(f"{name:{width}}not in your workspace yet (run: .venv/bin/nnbook workspace)")
    return "\n".join(lines)


def html(results, missing=(), seconds=None):
    """The same table for JupyterLab."""
    from html import escape
    colors = {PASSED: "#1a7f37", FAILED: "#cf222e", NOT_STARTED: "#6e7781"}
    rows = []
    for sp in results:
        if sp.error:
            rows.append(f"<tr><td>{escape(sp.name)}</td><td colspan='2' style='color:#cf222e'>"
                        f"error: {escape(sp.error)}</td></tr>")
        if sp.functions and sp.count(NOT_STARTED) == len(sp.functions):     # one row for an untouched set
            rows.append(f"<tr><td>{escape(sp.name)}</td><td>all {len(sp.functions)}</td>"
                        f"<td style='color:{colors[NOT_STARTED]}'>{NOT_STARTED}</td></tr>")
            continue
        for gid, status, detail in sp.functions:
            rows.append(f"<tr><td>{escape(sp.name)}</td><td><code>{escape(gid)}</code></td>"
                        f"<td style='color:{colors[status]}'>{escape(status)}"
                        + (f": {escape(detail)}" if detail else "") + "</td></tr>")
    for name in missing:
        rows.append(f"<tr><td>{escape(name)}</td><td colspan='2'>not in your workspace yet "
                    "(run <code>.venv/bin/nnbook workspace</code>)</td></tr>")
    n = sum(len(sp.functions) for sp in results)
    ok = sum(sp.count(PASSED) for sp in results)
    took = f" ({seconds:.1f} s)" if seconds is not None else ""
    return (f"<p><b>{ok} of {n}</b> graded functions pass{took}</p><table><tr><th>set</th>"
            f"<th>function</th><th>status</th></tr>{''.join(rows)}</table>")


def as_data(results, missing=(), seconds=None):
    return {"sets": [dataclasses.asdict(sp) for sp in results], "missing": list(missing), "seconds": seconds}


def from_data(data):
    results = [SetProgress(**{**d, "functions": [tuple(f) for f in d["functions"]]}) for d in data["sets"]]
    return results, data.get("missing", []), data.get("seconds")


def main(args):
    """``nnbook progress``."""
    workspace = Path(args.workspace)
    if not workspace.is_dir():
        try:
            shown = workspace.resolve().relative_to(ROOT)
        except ValueError:
            shown = workspace
        print(f"nnbook progress: no workspace at {shown}/ yet: run python3 dev.py lab "
              "(or nnbook workspace) to make it", file=sys.stderr)
        return 1
    start = time.monotonic()
    results = progress(workspace, args.solutions, args.exercises, jobs=args.jobs, use_cache=not args.no_cache)
    seconds = time.monotonic() - start
    missing = missing_sets(workspace, args.exercises)
    if args.json:
        print(json.dumps(as_data(results, missing, seconds)))
    else:
        print(text(results, missing, seconds))
    return 0


def show_progress(workspace=None):
    """In a notebook: the progress table of the workspace (run in a separate process)."""
    cmd = [sys.executable, "-m", "nnbook.cli", "progress", "--json"]
    if workspace is not None:
        cmd += ["--workspace", str(workspace)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr.strip() or f"nnbook progress failed (exit status {proc.returncode})")
        return
    results, missing, seconds = from_data(json.loads(proc.stdout))
    try:
        from IPython import get_ipython
        from IPython.display import display
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        display({"text/plain": text(results, missing, seconds), "text/html": html(results, missing, seconds)},
                raw=True)
    else:
        print(text(results, missing, seconds))
