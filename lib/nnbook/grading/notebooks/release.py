"""``nnbook release``: make the learners' notebooks (``exercises/``) from ``solutions/``.

For each solution notebook: solution regions become stubs, hidden tests are removed,
outputs and widget state are cleared (see :func:`notebooks.student_copy`); then the copy is
run once and every cell that raises ``NotImplementedError`` is tagged ``raises-exception``
(so nbval and nbconvert accept it). Any other error aborts the release.
"""
import os
from pathlib import Path

import nbformat

from ..run.kernel import run_notebook
from .cells import student_copy

TAG = "raises-exception"


class ReleaseError(RuntimeError):
    """The solutions cannot be released (the message says which notebook and cell)."""


def solution_paths(solutions_dir):
    paths = sorted(p for p in Path(solutions_dir).glob("*.ipynb"))
    if not paths:
        raise ReleaseError(f"no notebooks in {solutions_dir}")
    return paths


def release_notebook(path, timeout=120):
    """The released (learner) version of one solution notebook, as a NotebookNode."""
    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        raise ReleaseError(f"{path}: cannot read the notebook: {exc}") from None
    try:
        learner = student_copy(nb, path.name)
    except ValueError as exc:
        raise ReleaseError(str(exc)) from None
    trial = nbformat.from_dict(nbformat.v4.new_notebook(cells=[c.copy() for c in learner.cells],
                                                        metadata=dict(learner.metadata)))
    env = dict(os.environ, NNBOOK_NO_FIGURES="1", MPLBACKEND="Agg")
    runs = run_notebook(trial, timeout=timeout, env=env, cwd=str(path.parent))
    for i, run in sorted(runs.items()):
        cell = learner.cells[i]
        tags = list(cell.metadata.get("tags", []))
        if run.status == "ok":
            continue
        if run.status == "error" and run.ename in ("NotImplementedError", "NotWrittenYet"):   # check()'s is the 2nd
            if TAG not in tags:
                cell.metadata["tags"] = tags + [TAG]
        elif TAG not in tags:
            raise ReleaseError(f"{path.name}, cell {i}: the unanswered notebook fails with {run.ename}: "
                               f"{run.evalue} (only NotImplementedError is expected there)")
    return learner


def release(solutions_dir, exercises_dir, timeout=120, check=False, log=print):
    """Write (or, with ``check``, only compare) ``exercises_dir/NAME.ipynb`` for every solution.

    Returns:
        list of the notebook names whose released version differs from what is on disk.
    """
    exercises_dir = Path(exercises_dir)
    changed = []
    for path in solution_paths(solutions_dir):
        text = nbformat.writes(release_notebook(path, timeout)) + "\n"
        target = exercises_dir / path.name
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old != text:
            changed.append(path.name)
            if not check:
                exercises_dir.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        state = ("up to date" if old == text else "out of date") if check else \
            ("unchanged" if old == text else "written")
        log(f"{target}: {state}")
    return changed
