"""Sphinx configuration for the nnbook website (built by ``python3 dev.py site``).

The source folder is a staging copy made by ``site/build.py``: ``index.md`` (from this folder)
plus the repository's ``book/`` and ``exercises/`` notebooks. Everything the pages load is
served from ``_static/`` (no CDN): MathJax 3 and the ipywidgets embed manager are vendored by
``site/fetch_assets.py``.
"""
import json
import os
import re
import subprocess
from pathlib import Path

from docutils import nodes

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

project = "nnbook"
author = "the nnbook authors"
copyright = "the nnbook authors"
root_doc = "index"

extensions = ["myst_nb", "sphinx_copybutton"]
exclude_patterns = ["_build", "**/_build", ".venv", "**/.venv", "node_modules", "**/node_modules",
                    "**/.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = []

# --- notebooks -----------------------------------------------------------------------------
# Render the committed outputs (the same outputs nbval verified). ``site/build.py --execute``
# switches this to "force"; either way a cell that raises without the ``raises-exception``
# tag fails the build.
nb_execution_mode = "off"
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# --- no CDN: MathJax and the widget manager come from _static/ --------------------------------
html_static_path = ["_static"]
mathjax_path = "mathjax/tex-chtml-full.js"
nb_ipywidgets_js = {"widgets/embed.js": {}}
html_js_files = ["nnbook.js"]        # live widgets; MathJax 2 -> 3 shim for embed.js's widget labels
html_css_files = ["nnbook.css"]
html_favicon = "_static/favicon.svg"  # else browsers request /favicon.ico and get a 404

# --- theme ---------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "nnbook: neural-network layers in NumPy"
html_copy_source = True      # the download button serves _sources/...ipynb
html_show_sourcelink = False
html_last_updated_fmt = None
# Light or dark as the reader's system prefers; the theme's button still switches (and remembers).
html_context = {"default_mode": "auto"}

# --- a copy button on every code cell and code block (not on outputs) -------------------------
copybutton_selector = "div.highlight pre:not(.cell_output pre):not(.output pre)"
copybutton_exclude = ".linenos, .gp, .go"


def _repo_url():
    """The GitHub URL used for Binder links: $NNBOOK_REPO_URL, else a github.com origin remote."""
    url = os.environ.get("NNBOOK_REPO_URL", "").strip()
    if not url:
        try:
            url = subprocess.run(["git", "-C", str(REPO), "remote", "get-url", "origin"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            url = ""
    m = re.match(r"^(?:https://github\.com/|git@github\.com:)([\w.-]+/[\w.-]+?)(?:\.git)?/?$", url)
    return f"https://github.com/{m.group(1)}" if m else ""


REPO_URL = _repo_url()
BRANCH = os.environ.get("NNBOOK_REPO_BRANCH", "HEAD")
html_theme_options = {
    "use_download_button": True,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
if REPO_URL:
    html_theme_options.update({
        "repository_url": REPO_URL,
        "repository_branch": BRANCH,
        "use_repository_button": True,
        "launch_buttons": {"binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
    })

# --- "run this notebook" box at the top of every notebook page ------------------------------
LAB_PORT = 8888


WORKSPACE = "workspace"     # where `python3 dev.py lab` puts the learner's own copies of the exercise sets


def _run_box(app, doctree):
    """Insert, under the page title, the one command that opens the same notebook in JupyterLab
    (and Binder). A page cannot know a running JupyterLab's port or token; the command starts one
    and opens the notebook in it."""
    docname = app.env.docname
    source = Path(app.env.doc2path(docname))
    if not docname.startswith(("book/", "exercises/")) or source.suffix != ".ipynb":
        return                     # folder READMEs and other pages are not notebooks
    path = f"{docname}.ipynb"
    try:
        has_widgets = "application/vnd.jupyter.widget-view+json" in source.read_text(encoding="utf-8")
    except OSError:
        has_widgets = False
    para = nodes.paragraph()
    if docname.startswith("exercises/"):
        mine = f"{WORKSPACE}/{Path(path).name}"
        para += nodes.Text("This page shows the exercise set unanswered and read-only. To answer it and run its "
                           "checks, work in your own copy: from the repository, ")
        para += nodes.literal(text=f"python3 dev.py lab {mine}", classes=["nnbook-lab-command"])
        para += nodes.Text(" opens it in JupyterLab (")
        para += nodes.literal(text=f"{WORKSPACE}/")
        para += nodes.Text(" is your folder, ignored by git; the first run makes it and installs what it needs)")
        lab_path = mine
    else:
        if has_widgets:
            para += nodes.Text("The widgets on this page show pictures rendered when this site was built, for the "
                               "settings their controls offer here. To run the code, change it and give the widgets "
                               "any value, open the notebook in JupyterLab: from the repository, ")
        else:
            para += nodes.Text("To run the code and change it, open the notebook in JupyterLab: from the repository, ")
        para += nodes.literal(text=f"python3 dev.py lab {path}", classes=["nnbook-lab-command"])
        para += nodes.Text(" (the first run installs what it needs)")
        lab_path = path
    para += nodes.Text(". If JupyterLab already runs on port 8888 and this browser is logged in to it, ")
    para += nodes.reference(text="open it there", refuri=f"http://localhost:{LAB_PORT}/lab/tree/{lab_path}",
                            classes=["nnbook-open-lab"])
    if REPO_URL:
        para += nodes.Text(". Without a local install: ")
        binder = f"https://mybinder.org/v2/gh/{REPO_URL.removeprefix('https://github.com/')}/{BRANCH}?labpath={path}"
        para += nodes.reference(text="launch it on Binder", refuri=binder, classes=["nnbook-binder"])
    para += nodes.Text(".")
    box = nodes.admonition(classes=["tip", "nnbook-run"])
    box += nodes.title(text="Run this notebook")
    box += para
    sections = list(doctree.findall(nodes.section))
    if sections and isinstance(sections[0][0], nodes.title):
        sections[0].insert(1, box)
    else:
        doctree.insert(0, box)


# --- live widgets: a widget with controls becomes pictures rendered at build time ---------------
WIDGET_VIEW_SCRIPT = re.compile(r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)</script>', re.S)


def _view_id(node):
    m = WIDGET_VIEW_SCRIPT.search(node.astext())
    return json.loads(m.group(1).replace("<\\/", "</"))["model_id"] if m else None


def _live_widgets(app, doctree):
    """Swap each widget snapshot that site/live_widgets.py rendered for its live version, and drop
    the saved state only those snapshots needed (the page then loads the embed manager only if
    another widget, such as a progress bar, still needs it)."""
    docname = app.env.docname
    page = Path(app.srcdir).parent / "live" / "pages" / f"{docname}.json"
    if not page.is_file():
        return
    app.env.note_dependency(str(page))
    fragments = json.loads(page.read_text(encoding="utf-8"))
    root = "../" * docname.count("/")
    remaining = set()
    for node in list(doctree.findall(nodes.raw)):
        model_id = _view_id(node)
        if model_id is None:
            continue
        if model_id in fragments:
            node.replace_self(nodes.raw("", fragments.pop(model_id).replace("{root}", root), format="html"))
        else:
            remaining.add(model_id)
    if fragments:
        raise RuntimeError(f"{docname}: live widgets {sorted(fragments)} were rendered but the page has no such widget")
    js_files = getattr(app.env, "nb_metadata", {}).get(docname, {}).get("js_files", {})
    if "ipywidgets_state" not in js_files:
        return
    if not remaining:
        for key in [k for k in js_files if k.startswith("ipywidgets_")]:
            del js_files[key]
        return
    uri, kwargs = js_files["ipywidgets_state"]
    saved = json.loads(kwargs["body"].replace("<\\/", "</"))
    models, keep, todo = saved.get("state", {}), set(), list(remaining)
    while todo:                      # every model the remaining views refer to, directly or not
        m = todo.pop()
        if m in keep or m not in models:
            continue
        keep.add(m)
        todo += re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(models[m]))
    saved["state"] = {k: v for k, v in models.items() if k in keep}
    js_files["ipywidgets_state"] = (uri, {**kwargs, "body": json.dumps(saved).replace("</", "<\\/")})


def setup(app):
    app.connect("doctree-read", _run_box)
    app.connect("doctree-read", _live_widgets)
