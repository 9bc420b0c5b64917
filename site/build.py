#!/usr/bin/env python3
"""Build the nnbook website (offline): ``python3 dev.py site`` runs this with the project's venv.

    python site/build.py [--out DIR] [--execute] [extra sphinx-build arguments]

Steps (writes only under ``--out``, default ``site/_build``):

1. check the committed notebooks: an error output outside a cell tagged ``raises-exception``
   fails the build; a notebook with widget outputs but no saved widget state is re-executed
   into the staging copy (with nbclient, which saves the state) so its snapshots render;
2. stage ``OUT/src``: ``site/index.md`` plus tables of contents for every ``book/*.ipynb`` and
   ``exercises/*.ipynb`` that exists, and copies of those two folders (a chapter's link to the
   learner's own copy, ``../workspace/exN_*.ipynb``, leads to that exercise's page);
3. render the live widgets (``site/live_widgets.py``): every widget with controls gets a picture
   for each setting it declares, rendered by running the notebook's cells as its kernel would (cached by content in
   ``site/_build/live-cache``); the pages show them with controls that need no kernel;
4. ``sphinx-build -W --keep-going`` (warnings are errors) into ``OUT/html``;
5. check that no built page loads a script, stylesheet or font from ``http(s)://``, and that every
   link, image and script of every page (and every picture of a live widget) is a file that exists.

``--execute`` re-runs every notebook during the build instead of rendering the committed outputs.
"""
import argparse
import html as htmllib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

SITE = Path(__file__).resolve().parent
REPO = SITE.parent
sys.path.insert(0, str(SITE))
import live_widgets  # noqa: E402  (site/live_widgets.py)
SECTIONS = (("book", "Chapters"), ("exercises", "Exercises"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
SKIP_DIRS = {".ipynb_checkpoints", "__pycache__", "_build", ".venv", "node_modules"}
# <script src=...>, <link href=...> (stylesheets, fonts, preloads) and CSS url(...)/@import.
REMOTE_ASSET = re.compile(
    r"""<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?//"""
    r"""|url\(\s*["']?(?:https?:)?//|@import\s+["'](?:https?:)?//""", re.I)


# href="..." / src="..." in a page (script bodies are dropped first: they are code, not links)
LINK = re.compile(r"""\b(?:href|src)\s*=\s*(["'])(.*?)\1""", re.I | re.S)
SCRIPT_BODY = re.compile(r"(<script\b[^>]*>).*?(</script>)", re.I | re.S)
LIVE_DATA = re.compile(r'<script type="application/json" class="nnbook-live-data">(.*?)</script>', re.S)
NOT_A_FILE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.I)      # http:, mailto:, data:, //host, #anchor

# In JupyterLab a chapter links the learner's copy of an exercise set (workspace/, made by
# `python3 dev.py lab`); the site has no workspace, so the link goes to the set's page.
WORKSPACE_LINK = re.compile(r"\]\(\.\./workspace/(ex[^)\s]*\.ipynb)\)")


class BuildError(RuntimeError):
    pass


def notebooks(root=REPO):
    """[(folder, path)] of the notebooks the site shows, sorted by name."""
    return [(folder, p) for folder, _ in SECTIONS for p in sorted((root / folder).glob("*.ipynb"))]


def check_notebook(path):
    """Return (problems, needs_state) for one committed notebook.

    problems: error outputs in cells not tagged ``raises-exception`` (they fail the build);
    needs_state: True if it shows widgets but has no widget state in its metadata.
    """
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems, has_widgets = [], False
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        allowed = "raises-exception" in cell.get("metadata", {}).get("tags", [])
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and not allowed:
                problems.append(f"{path.parent.name}/{path.name}: cell {i} raised {out.get('ename')}: {out.get('evalue')}")
            if WIDGET_VIEW in out.get("data", {}):
                has_widgets = True
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state")
    return problems, has_widgets and not state


def execute_with_state(src, dst):
    """Run notebook ``src`` (in its own folder) and write it with widget state to ``dst``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(src, as_version=4)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")   # the kernel inherits them
    NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(src.parent)}}).execute()
    nbformat.write(nb, dst)


def sync_tree(src, dst):
    """Copy folder ``src`` to ``dst``, rewriting only changed files and deleting stale ones."""
    dst.mkdir(parents=True, exist_ok=True)
    wanted = set()
    for item in src.iterdir():
        if item.name in SKIP_DIRS or item.name.startswith("."):
            continue
        wanted.add(item.name)
        target = dst / item.name
        if item.is_dir():
            sync_tree(item, target)
        elif item.suffix == ".ipynb":
            text = WORKSPACE_LINK.sub(r"](../exercises/\1)", item.read_text(encoding="utf-8"))
            write_if_changed(target, text)
        elif not target.exists() or target.read_bytes() != item.read_bytes():
            shutil.copy2(item, target)
    for stale in dst.iterdir():
        if stale.name not in wanted:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


def write_if_changed(path, text):
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def stage(out, root=REPO, execute_missing_state=True):
    """Make ``out/src`` (the Sphinx source folder); returns it."""
    src = out / "src"
    src.mkdir(parents=True, exist_ok=True)
    problems, stateless = [], []
    for _, nb in notebooks(root):
        p, needs_state = check_notebook(nb)
        problems += p
        if needs_state:
            stateless.append(nb)
    if problems:
        raise BuildError("notebooks with error outputs (tag the cell raises-exception if the error is "
                         "on purpose, else fix and re-execute):\n  " + "\n  ".join(problems))
    index = (SITE / "index.md").read_text(encoding="utf-8")
    index = re.sub(r"\n<!--.*?-->\n", "\n", index, flags=re.S).rstrip() + "\n"
    for folder, caption in SECTIONS:
        if any((root / folder).glob("*.ipynb")):
            index += f"\n```{{toctree}}\n:caption: {caption}\n:glob:\n:maxdepth: 1\n\n{folder}/*\n```\n"
        sync_tree(root / folder, src / folder) if (root / folder).is_dir() else None
    write_if_changed(src / "index.md", index)
    for folder, _ in SECTIONS:     # folders that vanished from the repo
        if not (root / folder).is_dir() and (src / folder).exists():
            shutil.rmtree(src / folder)
    for nb in stateless:
        rel = nb.relative_to(root)
        if not execute_missing_state:
            raise BuildError(f"{rel} shows widgets but has no saved widget state")
        print(f"{rel}: widget outputs but no widget state in its metadata; executing it for the site "
              f"(commit it executed with nbconvert/nbclient to skip this) ...", flush=True)
        execute_with_state(nb, src / rel)
    return src


def remote_assets(html_dir):
    """[(file, snippet)] for every http(s) script/stylesheet/font reference in the built site."""
    found = []
    for f in sorted(html_dir.rglob("*")):
        if f.suffix not in (".html", ".css", ".js") or not f.is_file():
            continue
        if f.suffix == ".js" and "_static" in f.parts:
            continue  # vendored bundles mention URLs in comments/strings; pages are what load things
        text = f.read_text(encoding="utf-8", errors="replace")
        for m in REMOTE_ASSET.finditer(text):
            found.append((f.relative_to(html_dir).as_posix(), text[m.start():m.start() + 120]))
    return found


def broken_links(html_dir):
    """[(page, link)] for every local link, image, stylesheet or script of a built page whose file
    does not exist (or lies outside the site), and every missing picture of a live widget."""
    html_dir = Path(html_dir).resolve()
    broken = []
    for page in sorted(html_dir.rglob("*.html")):
        rel = page.relative_to(html_dir)
        if rel.parts[0] == "_static":
            continue
        text = page.read_text(encoding="utf-8", errors="replace")
        links = [htmllib.unescape(m.group(2)).strip() for m in LINK.finditer(SCRIPT_BODY.sub(r"\1\2", text))]
        for m in LIVE_DATA.finditer(text):
            data = json.loads(m.group(1))
            root = "../" * (len(rel.parts) - 1)
            links += [root + data["base"] + o["image"] for outs in data["pictures"] for o in outs if "image" in o]
        for link in links:
            path = unquote(link.split("#")[0].split("?")[0])
            if not path or NOT_A_FILE.match(link):
                continue
            target = Path(os.path.normpath(page.parent / path))
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or html_dir not in target.parents:
                broken.append((rel.as_posix(), link))
    return broken


def build(out=SITE / "_build", execute=False, sphinx_args=(), root=REPO, quiet=False, jobs=None):
    """Stage and build the site; returns the html folder. Raises BuildError on any problem."""
    out = Path(out).resolve()
    for need in ("mathjax/tex-chtml-full.js", "widgets/embed.js"):
        if not (SITE / "_static" / need).is_file():
            raise BuildError(f"site/_static/{need} is missing: run `python3 site/fetch_assets.py` (needs npm)")
    src = stage(out, root, execute_missing_state=not execute)
    try:
        live_widgets.render_all(out, root, jobs=jobs)
    except live_widgets.LiveWidgetError as e:
        raise BuildError(f"live widgets: {e}") from None
    html = out / "html"
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-c", str(SITE),
           "-d", str(out / "doctrees"), *(["-q"] if quiet else []),
           *(["-D", "nb_execution_mode=force"] if execute else []), *sphinx_args, str(src), str(html)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    if subprocess.call(cmd, env=env) != 0:
        raise BuildError("sphinx-build failed (warnings count as errors; see above)")
    live_widgets.publish(out, html)
    bad = remote_assets(html)
    if bad:
        raise BuildError("pages load assets from the network:\n  " +
                         "\n  ".join(f"{f}: {s}" for f, s in bad[:20]))
    broken = broken_links(html)
    if broken:
        raise BuildError(f"{len(broken)} links to files that do not exist:\n  " +
                         "\n  ".join(f"{page}: {link}" for page, link in broken[:20]))
    return html


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(SITE / "_build"), help="build folder (default site/_build)")
    ap.add_argument("--execute", action="store_true", help="re-run every notebook instead of using its outputs")
    ap.add_argument("--root", default=str(REPO), help="folder holding book/ and exercises/ (default: the repo)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="notebooks whose widgets render at once (default: the number of cores, at most 4)")
    args, sphinx_args = ap.parse_known_args(argv)
    try:
        html = build(args.out, args.execute, sphinx_args, root=Path(args.root).resolve(), jobs=args.jobs)
    except BuildError as e:
        print(f"site build failed: {e}", file=sys.stderr)
        return 1
    print(f"site built: {html / 'index.html'}  (serve it: python3 -m http.server -d {html})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
