"""Sphinx configuration for the nnbook website (built by ``python3 dev.py site``).

The source folder is a staging copy made by ``site/build.py``: ``index.md`` (from this folder)
plus the repository's ``book/`` and ``exercises/`` notebooks. Everything the pages load is
served from ``_static/`` (no CDN): MathJax 3 and the ipywidgets embed manager are vendored by
``site/fetch_assets.py``.
"""
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

extensions = ["myst_nb"]
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
html_js_files = ["nnbook.js"]        # MathJax 2 -> 3 shim for embed.js's widget-label typesetting
html_favicon = "_static/favicon.svg"  # else browsers request /favicon.ico and get a 404

# --- theme ---------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "nnbook: neural-network layers in NumPy"
html_copy_source = True      # the download button serves _sources/...ipynb
html_show_sourcelink = False
html_last_updated_fmt = None
html_context = {"default_mode": "light"}   # an empty mode logs a console error in the theme


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


def _run_box(app, doctree):
    """Insert, under the page title, how to open the same notebook in JupyterLab (and Binder)."""
    docname = app.env.docname
    if not docname.startswith(("book/", "exercises/")):
        return
    path = f"{docname}.ipynb"
    source = Path(app.env.doc2path(docname))
    try:
        has_widgets = "application/vnd.jupyter.widget-view+json" in source.read_text(encoding="utf-8")
    except OSError:
        has_widgets = False
    if docname.startswith("exercises/"):
        lead = "This page shows the exercise unanswered and read-only. To answer it and run its checks, open "
    elif has_widgets:
        lead = ("The widgets on this page are snapshots: they show their first output and do not respond. "
                "To run the code and move the sliders, open ")
    else:
        lead = "To run the code and change it, open "
    box = nodes.admonition(classes=["tip", "nnbook-run"])
    box += nodes.title(text="Run this notebook")
    para = nodes.paragraph()
    para += nodes.Text(lead)
    para += nodes.literal(text=path)
    para += nodes.Text(" in JupyterLab: from the repository, run ")
    para += nodes.literal(text="python3 dev.py lab")
    para += nodes.Text(" and open it in the file browser, or, with that server running, ")
    lab = f"http://localhost:{LAB_PORT}/lab/tree/{path}"
    para += nodes.reference(text="open it in your local JupyterLab", refuri=lab,
                            classes=["nnbook-open-lab"])
    if REPO_URL:
        para += nodes.Text(". Without a local install: ")
        binder = f"https://mybinder.org/v2/gh/{REPO_URL.removeprefix('https://github.com/')}/{BRANCH}?labpath={path}"
        para += nodes.reference(text="launch it on Binder", refuri=binder, classes=["nnbook-binder"])
    para += nodes.Text(".")
    box += para
    sections = list(doctree.findall(nodes.section))
    if sections and isinstance(sections[0][0], nodes.title):
        sections[0].insert(1, box)
    else:
        doctree.insert(0, box)


def setup(app):
    app.connect("doctree-read", _run_box)
