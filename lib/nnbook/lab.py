"""Get JupyterLab ready for a reader: ``python3 dev.py lab``, Binder's ``postBuild`` and the lab tests.

    python -m nnbook.lab ROOT                    # workspace, trusted chapters, quiet first start
    python -m nnbook.lab ROOT --start [ARGS]     # the same, then JupyterLab at chapter 0 (dev.py lab)

1. **The workspace**: the learner's own copies of the exercise sets (:mod:`nnbook.workspace`).
2. **Trusted chapters.** A notebook's widgets are stored as a view (``application/vnd.jupyter.
   widget-view+json``) plus the widget state in the notebook's metadata. JupyterLab renders that
   view only in a *trusted* notebook: in an untrusted one it falls back to the ``text/plain``
   form, ``VBox(children=(...``, until the cell runs again. A notebook is trusted when its
   signature is in the user's Jupyter trust database, and a fresh clone's are not. So every
   chapter in ``book/`` is signed (as ``jupyter trust`` does) each time the lab starts; that is
   also right after ``git pull`` or a re-execution of the chapters, since the signature is of the
   current file. Then the saved widget state renders as soon as a chapter opens, before anything
   runs (JupyterLab starts the kernel the widget manager needs; no cell runs).
3. **A quiet first start**: JupyterLab's defaults for this environment (``overrides.d`` in its
   settings folder): no "Would you like to receive official Jupyter news?" pop-up, no update check.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

from . import workspace

ROOT = workspace.ROOT
# where `python3 dev.py lab` starts: chapter 0 open, the file browser at the top of the repository
# (book/ with the chapters beside workspace/ with the learner's answers), not in book/
DEFAULT_URL = "/lab/tree/book/00_start_here.ipynb?file-browser-path=/"
LAB_DEFAULTS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def defaults_file(prefix=sys.prefix):
    """Where this environment's JupyterLab reads the defaults written by :func:`write_lab_defaults`."""
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.d" / "nnbook.json"


def write_lab_defaults(prefix=sys.prefix):
    """Write :data:`LAB_DEFAULTS` for the JupyterLab installed under ``prefix``; returns the file."""
    path = defaults_file(prefix)
    text = json.dumps(LAB_DEFAULTS, indent=2) + "\n"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path


def trust(paths):
    """Sign the notebooks ``paths`` in the user's Jupyter trust database (as ``jupyter trust``).

    Returns the number newly signed (already trusted ones are left alone).
    """
    import nbformat
    from nbformat.sign import NotebookNotary

    notary = NotebookNotary()
    signed = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if not notary.check_signature(nb):
            notary.sign(nb)
            signed += 1
    return signed


def prepare(root=ROOT, prefix=sys.prefix, log=print):
    """Steps 1-3 of the module docstring for the checkout at ``root``."""
    root = Path(root)
    done = workspace.sync(root / "exercises", root / "workspace")
    added = [name for name, what in done if what == "added"]
    log(f"  workspace/: your own copies of the exercise sets, ignored by git "
        + (f"(copied {len(added)} new: {', '.join(added)})" if added else f"({len(done)} sets, all yours already)"))
    chapters = sorted((root / "book").glob("*.ipynb"))
    signed = trust(chapters)
    log(f"  chapters trusted, so their widgets show their saved picture on opening "
        f"({signed} of {len(chapters)} newly signed)")
    write_lab_defaults(prefix)
    log("  JupyterLab set up: no news pop-up, no update check")


def start_command(root=ROOT, args=()):
    """The command line that starts JupyterLab over the checkout ``root`` at :data:`DEFAULT_URL`."""
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(root).resolve()}",
            f"--LabApp.default_url={DEFAULT_URL}", *as_root, *args]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    root = Path(argv.pop(0)) if argv and not argv[0].startswith("-") else Path.cwd()
    start = bool(argv) and argv[0] == "--start"
    try:
        prepare(root)
    except workspace.WorkspaceError as exc:
        print(f"nnbook.lab: error: {exc}", file=sys.stderr)
        return 1
    if not start:
        return 0
    cmd = start_command(root, argv[1:])
    print("starting JupyterLab: it opens chapter 0 in your browser (stop it with Ctrl-C) ...", flush=True)
    if os.name == "posix":
        os.execv(cmd[0], cmd)             # JupyterLab takes this process's place (Ctrl-C goes to it alone)
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
