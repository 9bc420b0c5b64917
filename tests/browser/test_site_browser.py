"""The offline website in a real browser: build it (site/build.py), serve it on 127.0.0.1, load
every notebook page in headless Chromium and check what a reader sees.

Per page: MathJax typeset every formula (no raw ``$$``/TeX left, no TeX errors), every figure
from the notebook's outputs is there and decoded, the widget snapshots rendered (sliders and
their stored output), no request left localhost, nothing failed to load, no console error.
A full-page screenshot per page goes to ``test-artifacts/site/``.
"""
import functools
import http.server
import re
import subprocess
import sys
import threading

import pytest

from browser_support import (REPO, WIDGET_STATE, WIDGET_VIEW, PageLog, artifact_path, chromium, code_outputs,
                             load_notebook, require_browser, widget_models)

require_browser()

SECTIONS = ("book", "exercises")
NOTEBOOKS = [p for folder in SECTIONS for p in sorted((REPO / folder).glob("*.ipynb"))]
RAW_TEX = re.compile(r"\$\$|\\begin\{|\\frac|\\(?:mathbf|sum|partial)\b|\$[^$\n]*\\[A-Za-z]+[^$\n]*\$")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site into a temp folder and serve it; yields (base_url, html_dir)."""
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, str(REPO / "site" / "build.py"), "--out", str(out), "-q"],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"site build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    html = out / "html"
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", html
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def open_page(browser, base, path):
    """Open base/path; returns (page, log) once the page, MathJax and the widgets are done."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page, base)
    page.goto(f"{base}/{path}", wait_until="load")
    if page.query_selector('script[src*="mathjax"]'):   # Sphinx adds MathJax only to pages with math
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
    return page, log


def expectations(nb):
    """What the page for notebook ``nb`` must show, from its committed outputs."""
    outs = list(code_outputs(nb))
    models = widget_models(nb)
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    widget_figures = sum("image/png" in o.get("data", {}) for m in state.values()
                         if m.get("model_name") == "OutputModel" for o in m.get("state", {}).get("outputs", []))
    return {
        "figures": sum("image/png" in o.get("data", {}) or "image/jpeg" in o.get("data", {}) for o in outs),
        "views": sum(WIDGET_VIEW in o.get("data", {}) for o in outs),
        "widget_figures": widget_figures,
        "sliders": any("Slider" in name for name in models.values()),
        "math": any(re.search(r"\$|\\begin\{", "".join(c["source"]) if isinstance(c["source"], list)
                              else c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"),
    }


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS])
def test_notebook_page(site, browser, nb_path):
    base, html = site
    rel = f"{nb_path.parent.name}/{nb_path.stem}.html"
    assert (html / rel).is_file(), f"{rel} was not built"
    want = expectations(load_notebook(nb_path))
    page, log = open_page(browser, base, rel)
    try:
        if want["views"]:
            # embed.js renders each snapshot into a .widget-subarea placed before its view script.
            page.wait_for_function(
                """n => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
                     .filter(s => s.previousElementSibling && s.previousElementSibling.matches('.widget-subarea')
                                  && s.previousElementSibling.querySelector('.jupyter-widgets')).length >= n""",
                arg=want["views"], timeout=30_000)
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        facts = page.evaluate(
            """() => {
                const art = document.querySelector('article') || document.body;
                const maths = [...art.querySelectorAll('.math')];
                const clone = art.cloneNode(true);
                clone.querySelectorAll('pre, code, mjx-container, script, style, .cell_output')
                     .forEach(e => e.remove());
                const imgs = [...art.querySelectorAll('img')];
                return {
                  math: maths.length,
                  typeset: maths.filter(m => m.querySelector('mjx-container')).length,
                  merrors: art.querySelectorAll('mjx-merror').length,
                  text: clone.innerText,
                  outputImages: art.querySelectorAll('.cell_output img').length,
                  widgetImages: art.querySelectorAll('.widget-output img').length,
                  brokenImages: imgs.filter(i => !(i.naturalWidth > 0)).map(i => i.src.slice(0, 80)),
                  sliders: art.querySelectorAll('.widget-slider .noUi-handle').length,
                  runBox: !!art.querySelector('.nnbook-run a.nnbook-open-lab'),
                  download: (document.querySelector('a.btn-download-source-button') || {}).href || null,
                };
            }""")
        response = page.request.get(facts["download"]) if facts["download"] else None
        downloaded = response.json() if response is not None and response.ok else None
        page.screenshot(path=str(artifact_path("site", f"{nb_path.parent.name}_{nb_path.stem}.png")),
                        full_page=True)
    finally:
        page.close()

    if want["math"]:
        assert facts["math"] > 0, "the notebook has math but the page has no math elements"
    assert facts["typeset"] == facts["math"], f"MathJax typeset {facts['typeset']} of {facts['math']} formulas"
    assert facts["merrors"] == 0, f"{facts['merrors']} formulas have TeX errors (red in the page)"
    raw = RAW_TEX.findall(facts["text"])
    assert not raw, f"raw TeX left in the text: {raw[:5]}"
    assert not facts["brokenImages"], f"images that did not load: {facts['brokenImages']}"
    assert facts["outputImages"] - facts["widgetImages"] >= want["figures"], (
        f"the notebook has {want['figures']} figures, the page shows "
        f"{facts['outputImages'] - facts['widgetImages']}")
    assert facts["widgetImages"] >= want["widget_figures"], (
        f"the widget snapshots hold {want['widget_figures']} figures, the page shows {facts['widgetImages']}")
    if want["sliders"]:
        assert facts["sliders"] > 0, "the notebook's widgets have sliders but none rendered"
    assert facts["runBox"], "no 'Run this notebook' box with a JupyterLab link"
    assert downloaded is not None, f"the .ipynb download link is broken: {facts['download']}"
    assert len(downloaded["cells"]) == len(load_notebook(nb_path)["cells"]), "downloaded another notebook"
    assert not log.outside, f"requests left localhost: {log.outside[:5]}"
    assert not log.failed, f"failed requests: {log.failed[:5]}"
    assert not log.errors, f"console errors: {log.errors[:5]}"


def test_index_navigation_and_search(site, browser):
    """The home page links every notebook page, and the offline search finds a chapter."""
    base, html = site
    page, log = open_page(browser, base, "index.html")
    try:
        links = page.evaluate("() => [...document.querySelectorAll('a.reference.internal')]"
                              ".map(a => new URL(a.href).pathname)")
        for nb in NOTEBOOKS:
            assert f"/{nb.parent.name}/{nb.stem}.html" in links, f"index does not link {nb.name}"
        page.screenshot(path=str(artifact_path("site", "index.png")), full_page=True)
        if NOTEBOOKS:
            target = NOTEBOOKS[0]
            title = page.evaluate(
                "p => [...document.querySelectorAll('a.reference.internal')]"
                ".find(a => new URL(a.href).pathname === p).textContent", f"/{target.parent.name}/{target.stem}.html")
            word = max(re.findall(r"[A-Za-z]{4,}", title), key=len)
            page.goto(f"{base}/search.html?q={word}", wait_until="load")
            page.wait_for_function(
                "p => [...document.querySelectorAll('#search-results a')].some(a => a.href.includes(p))",
                arg=f"{target.parent.name}/{target.stem}.html", timeout=20_000)
    finally:
        page.close()
    assert not log.outside, f"requests left localhost: {log.outside[:5]}"
    assert not log.failed, f"failed requests: {log.failed[:5]}"
    assert not log.errors, f"console errors: {log.errors[:5]}"


def test_every_other_page_loads_cleanly(site, browser):
    """Pages that are not notebooks (index, search, genindex, folder READMEs): same network and
    console rules, and any math on them is typeset."""
    base, html = site
    notebook_pages = {f"{p.parent.name}/{p.stem}.html" for p in NOTEBOOKS}
    others = sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                    if "_static" not in p.parts and p.relative_to(html).as_posix() not in notebook_pages)
    assert "index.html" in others and "search.html" in others
    problems = []
    for rel in others:
        page, log = open_page(browser, base, rel)
        try:
            untypeset = page.evaluate("() => [...document.querySelectorAll('.math')]"
                                      ".filter(m => !m.querySelector('mjx-container')).length")
        finally:
            page.close()
        for what, items in (("left localhost", log.outside), ("failed", log.failed),
                            ("console errors", log.errors), ("untypeset math", [untypeset] if untypeset else [])):
            if items:
                problems.append(f"{rel}: {what}: {items[:3]}")
    assert not problems, "\n".join(problems)
