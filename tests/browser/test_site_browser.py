"""The offline website in a real browser: build it (site/build.py), serve it on 127.0.0.1, load
every notebook page in headless Chromium and check what a reader sees.

Per page: MathJax typeset every formula (no raw ``$$``/TeX left, no TeX errors), every figure
from the notebook's outputs is there and decoded, every widget with controls is live (its
controls move through the pictures rendered at build time: every control of every widget is
moved, and the picture changes), the other widgets (progress bars) rendered from their saved
state, a copy button on every code cell, the command that opens the notebook in JupyterLab, no
request left localhost, nothing failed to load, no console error. Across the site: dark mode
follows the system (and the toggle still switches), one search box, search results without raw
TeX. Full-page screenshots (light and dark) go to ``test-artifacts/site/``.
"""
import functools
import http.server
import importlib.util
import re
import threading

import pytest

from browser_support import (REPO, WIDGET_STATE, WIDGET_VIEW, PageLog, artifact_path, chromium, code_outputs,
                             load_notebook, require_browser, widget_models)

require_browser()

SECTIONS = ("book", "exercises")
NOTEBOOKS = [p for folder in SECTIONS for p in sorted((REPO / folder).glob("*.ipynb"))]
RAW_TEX = re.compile(r"\$\$|\\begin\{|\\frac|\\(?:mathbf|sum|partial)\b|\$[^$\n]*\\[A-Za-z]+[^$\n]*\$")
_spec = importlib.util.spec_from_file_location("nnbook_site_live_widgets", REPO / "site" / "live_widgets.py")
live_widgets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(live_widgets)
LIVE = [p for p in NOTEBOOKS if live_widgets.live_cells(load_notebook(p))]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(built_site):
    """Serve the site built once per run (tests/conftest.py) on 127.0.0.1; yields (base_url, html_dir)."""
    html = built_site
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
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    live = {m for ids in live_widgets.live_cells(nb).values() for m in ids}
    views = [o["data"][WIDGET_VIEW]["model_id"] for o in outs if WIDGET_VIEW in o.get("data", {})]
    snapshot_models, todo = set(), [m for m in views if m not in live]
    while todo:                       # the saved models the remaining snapshots show
        m = todo.pop()
        if m in state and m not in snapshot_models:
            snapshot_models.add(m)
            todo += re.findall(r"IPY_MODEL_([0-9a-f]+)", str(state[m]))
    snapshot_figures = sum("image/png" in o.get("data", {}) for m in snapshot_models
                           if state[m].get("model_name") == "OutputModel"
                           for o in state[m].get("state", {}).get("outputs", []))
    return {
        "figures": sum("image/png" in o.get("data", {}) or "image/jpeg" in o.get("data", {}) for o in outs),
        "views": len(views) - len(live),
        "live": len(live),
        "widget_figures": snapshot_figures,
        "code_cells": sum(c["cell_type"] == "code" and bool("".join(c["source"]).strip()) for c in nb["cells"]),
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
                const live = [...art.querySelectorAll('.nnbook-live')];
                return {
                  math: maths.length,
                  typeset: maths.filter(m => m.querySelector('mjx-container')).length,
                  merrors: art.querySelectorAll('mjx-merror').length,
                  text: clone.innerText,
                  outputImages: art.querySelectorAll('.cell_output img:not(.nnbook-live img)').length,
                  widgetImages: art.querySelectorAll('.widget-output img').length,
                  brokenImages: imgs.filter(i => !(i.naturalWidth > 0)).map(i => i.src.slice(0, 80)),
                  live: live.length,
                  liveReady: live.filter(w => w.matches('.nnbook-live-ready')
                                              && w.querySelectorAll('.nnbook-live-control').length > 0
                                              && w.querySelector('.nnbook-live-picture > *')).length,
                  liveNotes: live.filter(w => /in JupyterLab the widget takes any value/
                                              .test(w.querySelector('.nnbook-live-note').textContent)).length,
                  codeCells: art.querySelectorAll('.cell_input').length,
                  copyButtons: art.querySelectorAll('.cell_input button.copybtn').length,
                  runBox: !!art.querySelector('.nnbook-run a.nnbook-open-lab'),
                  command: (art.querySelector('.nnbook-run .nnbook-lab-command') || {}).textContent || null,
                  download: (document.querySelector('a.btn-download-source-button') || {}).href || null,
                };
            }""")
        response = page.request.get(facts["download"]) if facts["download"] else None
        downloaded = response.json() if response is not None and response.ok else None
        page.screenshot(path=str(artifact_path("site", f"{nb_path.parent.name}_{nb_path.stem}.png")),
                        full_page=True, timeout=120_000)   # long pages on a busy machine
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
    assert facts["live"] == want["live"], f"{want['live']} widgets with controls, {facts['live']} live on the page"
    assert facts["liveReady"] == facts["live"], "a live widget has no controls or no picture"
    assert facts["liveNotes"] == facts["live"], "a live widget does not say that JupyterLab takes any value"
    assert facts["codeCells"] == want["code_cells"] and facts["copyButtons"] == facts["codeCells"], (
        f"{want['code_cells']} code cells, {facts['codeCells']} on the page, {facts['copyButtons']} copy buttons")
    assert facts["runBox"], "no 'Run this notebook' box with a JupyterLab link"
    opened = f"workspace/{nb_path.name}" if nb_path.parent.name == "exercises" else f"book/{nb_path.name}"
    assert facts["command"] == f"python3 dev.py lab {opened}", facts["command"]
    assert downloaded is not None, f"the .ipynb download link is broken: {facts['download']}"
    assert len(downloaded["cells"]) == len(load_notebook(nb_path)["cells"]), "downloaded another notebook"
    assert not log.outside, f"requests left localhost: {log.outside[:5]}"
    assert not log.failed, f"failed requests: {log.failed[:5]}"
    assert not log.errors, f"console errors: {log.errors[:5]}"


# The controls' values as the page shows them, the state they make, and what is drawn.
READ_WIDGET = """w => {
  const root = document.querySelectorAll('.nnbook-live')[w];
  const data = JSON.parse(root.querySelector('script.nnbook-live-data').textContent);
  const shown = [...root.querySelectorAll('.nnbook-live-control')].map((el, j) => {
    const c = data.controls[j];
    const kind = el.dataset.kind;
    if (kind === 'slider') {
      const v = +el.querySelector('input').value;
      return {v, readout: el.querySelector('output').textContent === c.labels[v]};
    }
    if (kind === 'select') return {v: +el.querySelector('select').value, readout: true};
    if (kind === 'buttons') {
      const pressed = [...el.querySelectorAll('button')].map(b => b.getAttribute('aria-pressed') === 'true');
      return {v: pressed.indexOf(true), readout: pressed.filter(x => x).length === 1};
    }
    return {v: c.labels.indexOf(el.querySelector('input').checked ? 'on' : 'off'), readout: true};
  });
  const values = shown.map(x => x.v);
  const k = data.states.findIndex(s => s.every((v, j) => v === values[j]));
  const imgs = [...root.querySelectorAll('.nnbook-live-picture img')];
  return {
    values, readouts: shown.every(x => x.readout), state: k, dataState: +root.dataset.state,
    drawn: imgs.map(i => i.getAttribute('src').split('/').pop()).join(' ')
           + root.querySelector('.nnbook-live-picture').innerText,
    expected: k < 0 ? null : data.pictures[k].map(p => p.image || '').join(' ')
              + data.pictures[k].map(p => p.text || '').join(''),
    loaded: imgs.every(i => i.complete && i.naturalWidth > 0),
  };
}"""


def _move(page, w, ci, kind, v):
    """Move control ``ci`` of live widget ``w`` to value index ``v`` as a reader does."""
    control = page.locator(".nnbook-live").nth(w).locator(".nnbook-live-control").nth(ci)
    if kind == "slider":                       # keyboard: Home, then one step right at a time
        slider = control.locator("input")
        slider.focus()
        slider.press("Home")
        for _ in range(v):
            slider.press("ArrowRight")
    elif kind == "select":
        control.locator("select").select_option(index=v)   # by value it also matches labels ("1", "2")
    elif kind == "buttons":
        control.locator("button").nth(v).click()
    else:
        box = control.locator("input")
        labels = page.evaluate("([w, ci]) => JSON.parse(document.querySelectorAll('.nnbook-live')[w]"
                               ".querySelector('script.nnbook-live-data').textContent).controls[ci].labels", [w, ci])
        if box.is_checked() != (labels[v] == "on"):
            box.click()


@pytest.mark.parametrize("nb_path", LIVE, ids=[f"{p.parent.name}/{p.stem}" for p in LIVE])
def test_every_control_of_every_live_widget_changes_the_picture(site, browser, nb_path):
    """Move each control of each widget through all its values (one control after the other, from
    where the last one left the widget): every position shows the picture rendered for the values
    the controls show, the picture loads from the site, and each control changes it."""
    base, html = site
    page, log = open_page(browser, base, f"{nb_path.parent.name}/{nb_path.stem}.html")
    problems, moves = [], 0
    pictures = page.evaluate("() => [...document.querySelectorAll('script.nnbook-live-data')].some(s =>"
                             " JSON.parse(s.textContent).pictures.some(ps => ps.some(p => p.image)))")
    try:
        n = page.locator(".nnbook-live").count()
        assert n > 0, "no live widget on the page"
        for w in range(n):
            controls = page.evaluate("w => JSON.parse(document.querySelectorAll('.nnbook-live')[w]"
                                     ".querySelector('script.nnbook-live-data').textContent).controls", w)
            kinds = page.evaluate("w => [...document.querySelectorAll('.nnbook-live')[w]"
                                  ".querySelectorAll('.nnbook-live-control')].map(e => e.dataset.kind)", w)
            assert len(kinds) == len(controls)
            for ci, (c, kind) in enumerate(zip(controls, kinds)):
                changes = 0
                for v in range(len(c["labels"])):
                    before = page.evaluate(READ_WIDGET, w)
                    _move(page, w, ci, kind, v)
                    moves += 1
                    page.wait_for_function(
                        "w => [...document.querySelectorAll('.nnbook-live')[w].querySelectorAll('img')]"
                        ".every(i => i.complete)", arg=w)
                    now = page.evaluate(READ_WIDGET, w)
                    where = f"widget {w}, {c['name']!r} -> {c['labels'][v]!r}"
                    if now["values"][ci] != v:
                        problems.append(f"{where}: the control shows value {now['values'][ci]}")
                    if now["state"] < 0 or now["state"] != now["dataState"]:
                        problems.append(f"{where}: the controls show {now['values']}, not a rendered state "
                                        f"(page state {now['dataState']})")
                    elif now["drawn"] != now["expected"]:
                        problems.append(f"{where}: drawn {now['drawn'][:80]!r}, rendered {now['expected'][:80]!r}")
                    if not now["loaded"] or not now["readouts"]:
                        problems.append(f"{where}: picture loaded {now['loaded']}, readouts right {now['readouts']}")
                    changes += now["drawn"] != before["drawn"]
                if changes == 0:
                    problems.append(f"widget {w}: moving {c['name']!r} through {c['labels']} never changed the picture")
        page.screenshot(path=str(artifact_path("site", f"live_{nb_path.stem}.png")), full_page=True,
                        timeout=120_000)   # long pages on a busy machine
    finally:
        page.close()
    assert not problems, f"{len(problems)} problems in {moves} moves:\n" + "\n".join(problems[:20])
    assert not log.outside, f"requests left localhost: {log.outside[:5]}"
    assert not log.failed, f"failed requests: {log.failed[:5]}"
    assert not log.errors, f"console errors: {log.errors[:5]}"
    widget_files = [u for u in log.requests if "/_widgets/" in u]
    assert all(u.startswith(base + "/_widgets/") for u in widget_files), widget_files[:5]
    if pictures:                  # a widget that prints text (chapter 7's block explorer) loads no file
        assert widget_files, "the pictures of the live widgets were not loaded from the site"


def _theme_page(browser, base, path, scheme):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    log = PageLog(page, base)
    page.goto(f"{base}/{path}", wait_until="load")
    page.wait_for_function("() => document.documentElement.dataset.theme")
    return page, log


def test_dark_mode_follows_the_system_and_the_button_still_switches(site, browser):
    base, _ = site
    path = f"{LIVE[0].parent.name}/{LIVE[0].stem}.html" if LIVE else "index.html"
    for scheme in ("light", "dark"):
        page, log = _theme_page(browser, base, path, scheme)
        try:
            assert page.evaluate("() => document.documentElement.dataset.theme") == scheme
            page.screenshot(path=str(artifact_path("site", f"theme_{scheme}.png")), full_page=False)
            if scheme == "dark":
                background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
                assert sum(map(int, re.findall(r"\d+", background)[:3])) < 3 * 100, background
                # the theme's switch (pydata-sphinx-theme >= 0.16: a menu of Light, Dark, System Settings)
                button = page.locator(".theme-switch-button:visible").first
                for mode, shown in (("light", "light"), ("dark", "dark"), ("auto", "dark")):
                    button.click()
                    page.locator(f".theme-change-button[data-mode='{mode}']:visible").click()
                    now = page.evaluate("() => [document.documentElement.dataset.mode,"
                                        " document.documentElement.dataset.theme]")
                    assert now == [mode, shown], (mode, now)
        finally:
            page.close()
        assert not log.outside and not log.failed and not log.errors, (log.outside, log.failed, log.errors)


def test_one_search_box(site, browser):
    """One search field or button a reader can see on a page (the theme has a second one)."""
    base, _ = site
    page, log = open_page(browser, base, f"{NOTEBOOKS[0].parent.name}/{NOTEBOOKS[0].stem}.html")
    try:
        visible = page.evaluate(
            """() => [...document.querySelectorAll('input[type="search"], input[name="q"], .search-button-field,'
                                                   + ' button.search-button, .search-button__button')]
                 .filter(e => !e.closest('dialog') && e.offsetParent !== null
                              && e.getBoundingClientRect().width > 0)
                 .map(e => e.outerHTML.slice(0, 80))""")
    finally:
        page.close()
    assert len(visible) == 1, visible


def test_search_results_show_no_raw_tex(site, browser):
    """A word that occurs next to formulas: the summaries under the results read as text."""
    base, _ = site
    page, log = open_page(browser, base, "search.html?q=gradient")
    try:
        page.wait_for_function("() => document.querySelectorAll('#search-results li p.context').length >= 3",
                               timeout=30_000)
        page.wait_for_timeout(1000)     # the other summaries
        summaries = page.evaluate("() => [...document.querySelectorAll('#search-results li p.context')]"
                                  ".map(p => p.textContent)")
        titles = page.evaluate("() => [...document.querySelectorAll('#search-results li > a')].map(a => a.textContent)")
        page.screenshot(path=str(artifact_path("site", "search.png")), full_page=False)
    finally:
        page.close()
    tex = re.compile(r"\\[A-Za-z]+|\\[()\[\]]|\$\$")
    raw = [t for t in summaries + titles if tex.search(t)]
    assert not raw, f"{len(raw)} of {len(summaries)} summaries or titles show raw TeX: {raw[:3]}"
    assert not log.outside and not log.failed and not log.errors, (log.outside, log.failed, log.errors)


def test_index_navigation_and_search(site, browser):
    """The home page links every notebook page, and the offline search finds a chapter."""
    base, html = site
    page, log = open_page(browser, base, "index.html")
    try:
        links = page.evaluate("() => [...document.querySelectorAll('a.reference.internal')]"
                              ".map(a => new URL(a.href).pathname)")
        for nb in NOTEBOOKS:
            assert f"/{nb.parent.name}/{nb.stem}.html" in links, f"index does not link {nb.name}"
        page.screenshot(path=str(artifact_path("site", "index.png")), full_page=True, timeout=120_000)
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
