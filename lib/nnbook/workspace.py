"""The learner's own copy of the exercise sets: ``workspace/``, a folder that git ignores.

``exercises/`` is the released, tracked version of the sets (made from ``solutions/`` by
``nnbook release``); a learner never writes into it. ``python3 dev.py lab`` (and ``nnbook
workspace``) copies every released set that is not in ``workspace/`` yet, and never overwrites a
file there, so answers survive a ``git pull`` of a new version of the book, and a set the book
adds later appears beside them. To start a set afresh, delete or rename its copy and run the
command again, or let ``nnbook workspace --fresh ex3`` keep the old copy under a new name.

    sync(exercises_dir, workspace_dir)   -> [(name, "added" | "kept")]
    fresh(exercises_dir, workspace_dir, "ex3") -> (new copy, where the old one went)
"""
import os
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]        # the checkout (lib/nnbook/workspace.py -> repo)
EXERCISES = ROOT / "exercises"
WORKSPACE = ROOT / "workspace"

README = """\
# Your workspace

Your own copies of the exercise sets: answer them here. This folder is yours: git ignores it,
and a new version of the book never overwrites a file in it (new sets are added beside yours).

- Progress of every set: `.venv/bin/nnbook progress` (from the repository's root).
- Start a set afresh: `.venv/bin/nnbook workspace --fresh ex3` renames your copy (it is kept as
  `ex3_convolution.<date>.ipynb`) and puts a fresh one here; or delete your copy and run
  `python3 dev.py lab` (or `.venv/bin/nnbook workspace`) again.
- Grade a set as a teacher would: `.venv/bin/nnbook grade workspace/ex3_convolution.ipynb`.

The released sets are in `exercises/`; don't edit those (they are the book's, and a test checks
that they are exactly what `nnbook release` makes).
"""


class WorkspaceError(ValueError):
    """The workspace cannot be made (the message says why)."""


def released(exercises_dir=EXERCISES):
    """The released exercise notebooks, sorted by name."""
    return sorted(Path(exercises_dir).glob("ex*.ipynb"))


def sync(exercises_dir=EXERCISES, workspace_dir=WORKSPACE):
    """Copy every released set that ``workspace_dir`` does not have; never touch an existing file.

    Returns ``[(file name, "added" | "kept")]`` in name order. Raises :class:`WorkspaceError` when
    there is nothing to copy from.
    """
    sets = released(exercises_dir)
    if not sets:
        raise WorkspaceError(f"no exercise notebooks in {Path(exercises_dir).resolve()} to copy")
    workspace = Path(workspace_dir)
    workspace.mkdir(parents=True, exist_ok=True)
    readme = workspace / "README.md"
    if not readme.exists():
        readme.write_text(README, encoding="utf-8")
    done = []
    for src in sets:
        dst = workspace / src.name
        if dst.exists() or dst.is_symlink():
            done.append((src.name, "kept"))
            continue
        _copy_new(src, dst)
        done.append((src.name, "added"))
    return done


def _copy_new(src, dst):
    """Copy ``src`` to a new file ``dst`` (written beside it first, so it is never half a file)."""
    tmp = dst.with_name(f".{dst.name}.partial")
    shutil.copyfile(src, tmp)
    if dst.exists():                  # appeared meanwhile: the learner's file wins
        tmp.unlink()
        return
    os.replace(tmp, dst)


def find_set(name, exercises_dir=EXERCISES):
    """The released notebook named by ``name``: ``ex3``, ``ex3_convolution`` or its file name."""
    stem = Path(name).name.removesuffix(".ipynb")
    sets = released(exercises_dir)
    matches = [p for p in sets if p.stem == stem or p.stem.split("_")[0] == stem]
    if len(matches) != 1:
        known = ", ".join(p.stem for p in sets)
        raise WorkspaceError(f"no exercise set {name!r}; known: {known}")
    return matches[0]


def fresh(name, exercises_dir=EXERCISES, workspace_dir=WORKSPACE, stamp=None):
    """Start set ``name`` afresh: rename the learner's copy (kept, never deleted), copy the release.

    Returns ``(new copy, old copy's new path or None)``.
    """
    src = find_set(name, exercises_dir)
    workspace = Path(workspace_dir)
    workspace.mkdir(parents=True, exist_ok=True)
    dst = workspace / src.name
    kept = None
    if dst.exists():
        stamp = stamp or time.strftime("%Y-%m-%d_%H%M%S")
        kept = dst.with_name(f"{src.stem}.{stamp}.ipynb")
        n = 1
        while kept.exists():
            n += 1
            kept = dst.with_name(f"{src.stem}.{stamp}-{n}.ipynb")
        dst.rename(kept)
    _copy_new(src, dst)
    return dst, kept


def main(args):
    """``nnbook workspace [--fresh SET]``: print what was done; exit status 0 or 1."""
    try:
        if args.fresh:
            new, kept = fresh(args.fresh, args.exercises, args.workspace)
            print(f"{new}: a fresh copy" + (f"; your previous work is in {kept.name}" if kept else ""))
            return 0
        done = sync(args.exercises, args.workspace)
    except WorkspaceError as exc:
        print(f"nnbook workspace: error: {exc}")
        return 1
    added = [n for n, what in done if what == "added"]
    where = Path(args.workspace)
    if added:
        print(f"{where}/: copied {len(added)} exercise set(s) ({', '.join(added)}); "
              f"{len(done) - len(added)} of yours kept as they are")
    else:
        print(f"{where}/: your {len(done)} exercise sets are there (nothing copied)")
    return 0
