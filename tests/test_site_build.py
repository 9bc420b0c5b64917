"""The offline website's build script (site/build.py), without a browser.

The pages themselves are checked in headless Chromium by tests/browser/test_site_browser.py.
"""
import importlib.util
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("nnbook_site_build", REPO / "site" / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)


def _notebook(path, cells, widget_state=None):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    if widget_state is not None:
        nb["metadata"]["widgets"] = {build.WIDGET_STATE: {"state": widget_state, "version_major": 2,
                                                          "version_minor": 0}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    return path


def _code(outputs, tags=()):
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": "x", "execution_count": 1,
            "outputs": outputs}


ERROR = {"output_type": "error", "ename": "ValueError", "evalue": "boom", "traceback": []}
VIEW = {"output_type": "display_data", "metadata": {},
        "data": {build.WIDGET_VIEW: {"model_id": "m1", "version_major": 2, "version_minor": 0}}}


def test_error_output_fails_unless_tagged_raises_exception(tmp_path):
    problems, _ = build.check_notebook(_notebook(tmp_path / "book" / "a.ipynb", [_code([ERROR])]))
    assert len(problems) == 1 and "ValueError: boom" in problems[0] and "book/a.ipynb" in problems[0]
    problems, _ = build.check_notebook(
        _notebook(tmp_path / "book" / "b.ipynb", [_code([ERROR], tags=["raises-exception"])]))
    assert problems == []


def test_widgets_without_saved_state_are_detected(tmp_path):
    _, needs = build.check_notebook(_notebook(tmp_path / "book" / "w.ipynb", [_code([VIEW])]))
    assert needs
    _, needs = build.check_notebook(
        _notebook(tmp_path / "book" / "s.ipynb", [_code([VIEW])], widget_state={"m1": {"model_name": "x"}}))
    assert not needs
    _, needs = build.check_notebook(_notebook(tmp_path / "book" / "n.ipynb", [_code([])]))
    assert not needs


def test_stage_rejects_errors_and_missing_widget_state(tmp_path):
    root = tmp_path / "repo"
    _notebook(root / "book" / "01_x.ipynb", [_code([ERROR])])
    with pytest.raises(build.BuildError, match="01_x.ipynb: cell 0 raised ValueError"):
        build.stage(tmp_path / "out", root)
    _notebook(root / "book" / "01_x.ipynb", [_code([VIEW])])
    with pytest.raises(build.BuildError, match="no saved widget state"):
        build.stage(tmp_path / "out", root, execute_missing_state=False)


def test_stage_lists_the_notebooks_that_exist(tmp_path):
    root = tmp_path / "repo"
    _notebook(root / "book" / "01_x.ipynb", [_code([])])
    _notebook(root / "book" / ".ipynb_checkpoints" / "01_x-checkpoint.ipynb", [_code([])])
    src = build.stage(tmp_path / "out", root)
    index = (src / "index.md").read_text()
    assert ":caption: Chapters" in index and "book/*" in index
    assert ":caption: Exercises" not in index          # no exercises/ folder: no empty toctree
    assert (src / "book" / "01_x.ipynb").is_file()
    assert not (src / "book" / ".ipynb_checkpoints").exists()


@pytest.mark.parametrize("html", [
    '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>',
    "<script defer src='//cdnjs.cloudflare.com/require.js'></script>",
    '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">',
    "<style>@font-face { src: url('https://example.org/f.woff2') }</style>",
    '<style>@import "http://example.org/x.css";</style>',
])
def test_remote_assets_are_found(tmp_path, html):
    (tmp_path / "page.html").write_text(f"<html><head>{html}</head></html>")
    assert len(build.remote_assets(tmp_path)) == 1


def test_links_and_local_assets_are_not_remote_assets(tmp_path):
    (tmp_path / "page.html").write_text(
        '<a href="https://mybinder.org/v2/gh/x/y/HEAD">Binder</a><script src="_static/x.js"></script>'
        '<link rel="stylesheet" href="../_static/a.css"><img src="data:image/png;base64,AAAA">')
    assert build.remote_assets(tmp_path) == []


def test_site_builds_offline_with_every_notebook(built_site):
    """The real book built (tests/conftest.py): warnings are errors, nothing loads from a CDN, every
    notebook has its page with the command that opens it, its widgets live or as snapshots."""
    html = built_site
    assert (html / "_static" / "mathjax" / "tex-chtml-full.js").is_file()
    assert (html / "_static" / "widgets" / "embed.js").is_file()
    pages = {p.relative_to(html).as_posix() for p in html.rglob("*.html")}
    for folder, nb in build.notebooks():
        page = f"{folder}/{nb.stem}.html"
        assert page in pages, f"no page for {folder}/{nb.name}"
        text = (html / page).read_text(encoding="utf-8")
        opened = f"workspace/{nb.name}" if folder == "exercises" else f"{folder}/{nb.name}"
        words = " ".join(re.sub(r"<[^>]+>", " ", text).split())     # what the page says, tags dropped
        assert f"python3 dev.py lab {opened}" in words and f"/lab/tree/{opened}" in text, (
            f"{page} does not say how to open it in JupyterLab")
        committed = json.loads(nb.read_text(encoding="utf-8"))
        live = {m for ids in build.live_widgets.live_cells(committed).values() for m in ids}
        views = {o["data"][build.WIDGET_VIEW]["model_id"] for c in committed["cells"]
                 for o in c.get("outputs", []) if build.WIDGET_VIEW in o.get("data", {})}
        assert text.count('class="nnbook-live-data"') == len(live), f"{page}: {len(live)} live widgets"
        if views - live:          # a snapshot (a progress bar) needs the saved state and the embed manager
            assert "widgets/embed.js" in text and "application/vnd.jupyter.widget-state+json" in text, page
    assert build.remote_assets(html) == []
    assert build.broken_links(html) == []
    assert not re.search(r"<script[^>]+src=\"https?://", (html / "index.html").read_text())


def test_links_to_the_learners_workspace_lead_to_the_exercise_page(tmp_path):
    root = tmp_path / "repo"
    link = "Work through [`../workspace/ex1_a.ipynb`](../workspace/ex1_a.ipynb)."
    _notebook(root / "book" / "01_x.ipynb", [{"cell_type": "markdown", "metadata": {}, "source": link}])
    _notebook(root / "exercises" / "ex1_a.ipynb", [_code([])])
    src = build.stage(tmp_path / "out", root)
    staged = json.loads((src / "book" / "01_x.ipynb").read_text())["cells"][0]["source"]
    assert staged == "Work through [`../workspace/ex1_a.ipynb`](../exercises/ex1_a.ipynb)."
    assert "](../workspace/ex1_a.ipynb)" in (root / "book" / "01_x.ipynb").read_text()   # repo untouched


def test_links_to_files_that_do_not_exist_are_found(tmp_path):
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    (html / "_static").mkdir()
    (html / "_static" / "x.js").write_text("")
    (html / "index.html").write_text("")
    (html / "book" / "a.html").write_text(
        '<a href="../index.html#top">ok</a> <a href="#here">ok</a> <a href="https://x.org/n">ok</a>'
        '<a href="mailto:a@b.c">ok</a> <img src="data:image/png;base64,AA"> <a href="..">ok: a folder with index.html</a>'
        '<script src="../_static/x.js"></script><script>var s = \'<a href="nowhere.html">\';</script>'
        '<a href="b.html">missing</a> <img src="../_images/p.png"> <a href="../../outside.html">outside</a>'
        '<link rel="stylesheet" href="../_static/gone.css"> <a href="../book/">a folder without index.html</a>')
    assert sorted(link for _, link in build.broken_links(html)) == sorted(
        ["b.html", "../_images/p.png", "../../outside.html", "../_static/gone.css", "../book/"])
    (html / "book" / "b.html").write_text('<a href="a.html">back</a>')
    assert "b.html" not in [link for _, link in build.broken_links(html)]


def test_missing_pictures_of_a_live_widget_are_found(tmp_path):
    html = tmp_path / "html"
    (html / "_widgets" / "book" / "01_x").mkdir(parents=True)
    (html / "_widgets" / "book" / "01_x" / "p1.png").write_bytes(b"")
    data = {"base": "_widgets/book/01_x/", "pictures": [[{"image": "p1.png"}], [{"image": "p2.png"}], [{"text": "t"}]]}
    (html / "book").mkdir()
    (html / "book" / "01_x.html").write_text(
        f'<script type="application/json" class="nnbook-live-data">{json.dumps(data)}</script>')
    assert build.broken_links(html) == [("book/01_x.html", "../_widgets/book/01_x/p2.png")]
