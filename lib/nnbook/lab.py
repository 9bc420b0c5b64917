"""Get JupyterLab ready for a reader: ``python3 dev.py lab``, Binder's ``postBuild`` and the lab tests.

    python -m nnbook.lab ROOT                    # workspace, trusted chapters, quiet first start
    python -m nnbook.lab ROOT --start [ARGS]     # the same, then JupyterLab at chapter 0 (dev.py lab)
    python -m nnbook.lab ROOT --start NOTEBOOK [ARGS]   # ... opened at NOTEBOOK (dev.py lab NOTEBOOK)

4. **The start** (``--start``): JupyterLab over ROOT, opened in the browser at :func:`start_url`:
   chapter 0, with the file browser at the top (``book/`` beside ``workspace/``); or at the
   notebook named first (:func:`notebook_path`: a path in the repository as the website's pages
   give it, e.g. ``workspace/ex3_convolution.ipynb``, or relative to the current folder).

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
import threading
import time
import webbrowser
from pathlib import Path

from . import workspace

ROOT = workspace.ROOT
# Where `python3 dev.py lab` starts: chapter 0 open, and the file browser at the top of the
# repository (book/ with the chapters beside workspace/ with the learner's answers), not in book/
# where opening chapter 0 would put it. The server's default URL cannot carry the query that says
# so (Jupyter prints it with "?token=..." appended, which would break it), so the lab is opened at
# start_url(), which `dev.py lab` prints and opens in the browser.
DEFAULT_URL = "/lab/tree/book/00_start_here.ipynb"
FILE_BROWSER_AT_TOP = "file-browser-path=/"
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


def notebook_path(root, given, cwd=None):
    """The notebook ``given`` on ``dev.py lab``'s command line, as a path inside ``root`` (posix).

    ``given`` is relative to ``cwd`` (default: the current folder) or else to ``root``, or
    absolute; a notebook that does not exist or lies outside ``root`` ends the command with a
    one-line message.
    """
    root = Path(root).resolve()
    given_path = Path(given)
    full = given_path if given_path.is_absolute() else Path(cwd or Path.cwd()) / given_path
    if not full.exists():
        full = root / given_path
    try:
        rel = full.resolve().relative_to(root).as_posix()
    except ValueError:
        raise SystemExit(f"dev.py lab: {given} is not inside the repository ({root})") from None
    if not full.is_file():
        raise SystemExit(f"dev.py lab: there is no notebook {rel} in the repository")
    return rel


def start_url(server_url, token=None, notebook=None):
    """The URL of chapter 0 (or of ``notebook``, a path in the repository) with the file browser at
    the top, on the server at ``server_url``."""
    query = FILE_BROWSER_AT_TOP + (f"&token={token}" if token else "")
    where = f"/lab/tree/{notebook}" if notebook else DEFAULT_URL
    return f"{server_url.rstrip('/')}{where}?{query}"


def start_command(root=ROOT, args=(), notebook=None):
    """The command line that starts JupyterLab over the checkout ``root`` (its own browser opening off)."""
    as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    where = f"/lab/tree/{notebook}" if notebook else DEFAULT_URL
    return [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(root).resolve()}",
            f"--LabApp.default_url={where}", "--ServerApp.open_browser=False", *as_root, *args]


def _announce(pid, open_browser, notebook=None, wait=120):
    """Once the server ``pid`` runs: print :func:`start_url` and open it in the browser."""
    from jupyter_server.serverapp import list_running_servers
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        for info in list_running_servers():
            if info.get("pid") == pid:
                url = start_url(info["url"], info.get("token"), notebook)
                what = notebook or "chapter 0"
                print(f"\n    nnbook: {what}, with your workspace/ in the file browser:\n    {url}\n", flush=True)
                if open_browser:
                    webbrowser.open(url)
                return
        time.sleep(0.2)


def start(root=ROOT, args=(), notebook=None):
    """Run JupyterLab (at ``notebook``, a path in ``root``, else chapter 0) until it stops; returns
    its exit status."""
    args = list(args)
    open_browser = not any(a in ("--no-browser", "--ServerApp.open_browser=False") for a in args)
    proc = subprocess.Popen(start_command(root, args, notebook))
    threading.Thread(target=_announce, args=(proc.pid, open_browser, notebook), daemon=True).start()
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:   # JupyterLab got the Ctrl-C too: it asks, then stops
            continue


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    root = Path(argv.pop(0)) if argv and not argv[0].startswith("-") else Path.cwd()
    launch = bool(argv) and argv[0] == "--start"
    try:
        prepare(root)
    except workspace.WorkspaceError as exc:
        print(f"nnbook.lab: error: {exc}", file=sys.stderr)
        return 1
    if not launch:
        return 0
    args, notebook = argv[1:], None
    if args and args[0].endswith(".ipynb") and not args[0].startswith("-"):
        notebook, args = notebook_path(root, args[0]), args[1:]   # after prepare(): workspace/ exists
    print("starting JupyterLab (stop it with Ctrl-C) ...", flush=True)
    return start(root, args, notebook)


if __name__ == "__main__":
    sys.exit(main())
