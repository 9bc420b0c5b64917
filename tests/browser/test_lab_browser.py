"""The book in a real JupyterLab, driven through headless Chromium like a student would use it.

A JupyterLab server is started on 127.0.0.1 (random port, token chosen here) over a temporary
copy of ``book/`` and ``exercises/`` (so nothing in the repository is modified), prepared as
``python3 dev.py lab`` prepares the repository (:func:`nnbook.lab.prepare`: the learner's
``workspace/``, trusted chapters, JupyterLab's defaults; with a private trust database and settings
folder), and stopped at the end.
- First start: the start page is chapter 0, the file browser shows ``book/`` and ``workspace/``,
  and no "Jupyter news" pop-up appears.
- Each chapter: open it and, before anything runs, see every widget's saved picture (an image,
  not the widget's text form); then clear the outputs, run all cells, wait until every code cell
  has run, move one slider of each widget and wait for its output (figure or text) to change.
- The first exercise set, in the learner's ``workspace/``: type the reference answer of its first
  exercise into the answer cell, run the notebook, and read the feedback table: that exercise
  passes, the others still say "not written yet".
"""
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from browser_support import REPO, PageLog, artifact_path, chromium, copy_tree, load_notebook, require_browser

require_browser()

CHAPTERS = sorted((REPO / "book").glob("*.ipynb"))
EXERCISES = sorted((REPO / "exercises").glob("ex*.ipynb"))
RUN_TIMEOUT = 300        # seconds for "run all cells" of one notebook
WIDGET_TIMEOUT = 60_000  # ms for a widget to redraw after a slider moved

# JupyterLab user settings for the test server: all cells kept in the DOM (no windowing), start
# the notebook's kernel without asking, no autosave. (No news and no update check come from
# nnbook.lab's defaults, as for a reader.)
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings":
        {"autosave": False, "autoStartDefaultKernel": True},
}


class Lab:
    def __init__(self, base, token, root):
        self.base, self.token, self.root = base, token, root

    def url(self, rel):
        # ?reset: start from an empty workspace, not the tabs a previous test left open.
        return f"{self.base}/lab/tree/{rel}?token={self.token}&reset"

    def start_url(self):
        """Where `python3 dev.py lab` opens the lab (``nnbook.lab.start_url``)."""
        from nnbook.lab import start_url
        return start_url(self.base, self.token)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a temp copy of book/ and exercises/; shut down afterwards."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "root"
    for folder in ("book", "exercises"):
        if (REPO / folder).is_dir():
            copy_tree(REPO / folder, root / folder)
    for rel, value in LAB_SETTINGS.items():
        path = tmp / "settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "JUPYTER_CONFIG_DIR": str(tmp / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "JUPYTER_DATA_DIR": str(tmp / "data"),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    # as `python3 dev.py lab` does, with a private trust database (JUPYTER_DATA_DIR) and JupyterLab
    # defaults in a private prefix instead of the venv's
    prepare = [sys.executable, "-c", "import sys; from nnbook.lab import prepare; prepare(sys.argv[1], sys.argv[2])",
               str(root), str(tmp / "prefix")]
    subprocess.run(prepare, env=env, check=True)
    from nnbook.lab import DEFAULT_URL, defaults_file
    app_settings = defaults_file(tmp / "prefix").parent.parent
    log_path = tmp / "jupyterlab.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True", f"--LabApp.default_url={DEFAULT_URL}",
             f"--LabApp.app_settings_dir={app_settings}"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start in 120 s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.25)
        yield Lab(base, token, root)
    finally:
        try:
            urllib.request.urlopen(urllib.request.Request(
                f"{base}/api/shutdown?token={token}", method="POST"), timeout=10)
            proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


# --- driving JupyterLab ----------------------------------------------------------------------

PROMPTS_JS = """() => {
    const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')]
        .filter(c => ((c.querySelector('.cm-content') || {}).textContent || '').trim() !== '');
    const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');
    const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
    return {cells: cells.length,
            done: prompts.filter(t => /\\[\\d+\\]/.test(t)).length,
            running: prompts.filter(t => t.includes('*')).length,
            idle: !!ind && ind.dataset.status === 'idle'};
}"""


def open_notebook(browser, lab, rel):
    """Open ``rel`` in JupyterLab; returns (page, log) once its cells are on screen."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log = PageLog(page, lab.base)
    page.goto(lab.url(rel), wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    # Without a kernelspec in the notebook JupyterLab asks which kernel to use: take the default.
    page.wait_for_function(
        "() => document.querySelector('.jp-Dialog') || "
        "document.querySelector('.jp-Notebook-ExecutionIndicator[data-status=\"idle\"]')", timeout=60_000)
    if page.query_selector(".jp-Dialog"):
        page.click(".jp-Dialog .jp-mod-accept")
    return page, log


def menu(page, top, item):
    dialog = page.query_selector(".jp-Dialog")
    if dialog:   # the kernel choice can come late on a busy machine (after the kernel showed idle)
        print("accepting a JupyterLab dialog:", " ".join(dialog.inner_text().split())[:200])
        page.click(".jp-Dialog .jp-mod-accept")
        page.wait_for_selector(".jp-Dialog", state="detached", timeout=30_000)
    page.get_by_role("menuitem", name=top, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def run_all(page, timeout=RUN_TIMEOUT):
    """Clear all outputs, run all cells, and wait until the kernel has run every code cell."""
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").click(position={"x": 5, "y": 5})
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(f"() => ({PROMPTS_JS})().done === 0")
    for attempt in range(3):   # a menu command can be disabled while the kernel is connecting
        menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(f"() => {{ const s = ({PROMPTS_JS})(); return s.running + s.done > 0; }}",
                                   timeout=20_000)
            break
        except Exception:
            page.screenshot(path=str(artifact_path("lab", f"run_all_not_started_{attempt}.png")))
    else:
        pytest.fail("'Run All Cells' did not start any cell (see test-artifacts/lab/run_all_not_started_*.png)")
    deadline = time.monotonic() + timeout
    while True:
        st = page.evaluate(PROMPTS_JS)
        if st["done"] == st["cells"] and st["running"] == 0 and st["idle"]:
            return st
        if st["running"] == 0 and st["idle"]:
            # Nothing queued but cells left unrun: an error stopped "Run All".
            page.wait_for_timeout(1000)   # let a late prompt update land before judging
            st = page.evaluate(PROMPTS_JS)
            if st["done"] < st["cells"] and st["running"] == 0:
                page.screenshot(path=str(artifact_path("lab", "run_all_stopped.png")), full_page=True)
                pytest.fail(f"run all stopped after {st['done']} of {st['cells']} code cells "
                            f"(an error in a cell not tagged raises-exception?)")
        if time.monotonic() > deadline:
            pytest.fail(f"run all did not finish in {timeout} s: {st}")
        page.wait_for_timeout(250)


WIDGET_OUTPUT_JS = """cell => [...cell.querySelectorAll('.widget-output .jp-OutputArea-output, .widget-html-content')]
    .map(o => [...o.querySelectorAll('img')].map(i => i.src.slice(-200)).join('|') + o.innerText).join('#')"""


# Code cell i shows its widget rendered from the saved state (not the text/plain fallback), with
# an image in it when the saved state holds one, else with some content (a progress bar, text).
SAVED_PICTURE_JS = """([i, image]) => {
    const cell = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')[i];
    const widget = cell && cell.querySelector('.jp-OutputArea .jupyter-widgets');
    if (!widget) return false;
    if (image) return [...widget.querySelectorAll('img')].some(img => img.complete && img.naturalWidth > 0);
    return widget.innerText.trim() !== '' || !!widget.querySelector('.widget-progress, .progress-bar');
}"""


def move_control(page, cell):
    """Change the first slider in ``cell`` (keyboard), else its first dropdown; returns (old, new)."""
    handle = cell.locator(".widget-slider .noUi-handle")
    if handle.count():
        handle = handle.first
        before = handle.get_attribute("aria-valuetext")
        handle.focus()
        page.keyboard.press("ArrowRight")
        if handle.get_attribute("aria-valuetext") == before:     # it was at its maximum
            page.keyboard.press("ArrowLeft")
        return before, handle.get_attribute("aria-valuetext")
    select = cell.locator(".widget-dropdown select").first
    options = select.locator("option").all_inner_texts()
    before = select.evaluate("s => s.options[s.selectedIndex].text")
    after = options[(options.index(before) + 1) % len(options)]
    select.select_option(label=after)
    return before, after


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_and_widgets_respond(lab, browser, nb_path):
    rel = f"book/{nb_path.name}"
    page, log = open_notebook(browser, lab, rel)
    try:
        saved = _saved_widgets(nb_path)
        if saved:   # before anything runs: each saved widget shows its picture, not its text form
            try:
                page.wait_for_function(f"ws => ws.every(w => ({SAVED_PICTURE_JS})(w))", arg=saved,
                                       timeout=WIDGET_TIMEOUT)
            except Exception:
                shown = page.evaluate(f"ws => ws.map(w => [w, ({SAVED_PICTURE_JS})(w)])", saved)
                page.screenshot(path=str(artifact_path("lab", f"{nb_path.stem}_not_rendered.png")))
                pytest.fail(f"{rel}: before running, widget cells without their saved picture "
                            f"([code cell index, has an image], shown): {shown}")
        t0 = time.monotonic()
        run_all(page)
        ran = time.monotonic() - t0
        # Widgets render after their cell finished: wait for every cell that showed a widget
        # when the notebook was saved to show one again.
        page.wait_for_function(
            """idx => { const cells = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell');
                        return idx.every(i => cells[i] && cells[i].querySelector('.jp-OutputArea .jupyter-widgets')); }""",
            arg=_widget_cells(nb_path), timeout=WIDGET_TIMEOUT)
        # Interactive widgets: an output area plus a slider or a dropdown to change it.
        widget_cells = page.locator(
            ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell:has(.widget-output)"
            ":is(:has(.widget-slider .noUi-handle), :has(.widget-dropdown select))")
        n_widgets = widget_cells.count()
        moved = []
        for i in range(n_widgets):
            cell = widget_cells.nth(i)
            cell.scroll_into_view_if_needed()
            handle = cell.element_handle()
            page.wait_for_function(f"cell => ({WIDGET_OUTPUT_JS})(cell) !== ''", arg=handle,
                                   timeout=WIDGET_TIMEOUT)
            old_output = page.evaluate(WIDGET_OUTPUT_JS, handle)
            before, after = move_control(page, cell)
            assert before != after, f"widget {i}: its control did not change (value {before})"
            page.wait_for_function(
                f"""([cell, old]) => {{
                    const now = ({WIDGET_OUTPUT_JS})(cell);
                    const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
                    return now !== '' && now !== old && ind && ind.dataset.status === 'idle';
                }}""", arg=[handle, old_output], timeout=WIDGET_TIMEOUT)
            moved.append((before, after))
        page.screenshot(path=str(artifact_path("lab", f"{nb_path.stem}.png")))
    finally:
        page.close()
    expected = _has_sliders(nb_path)
    assert n_widgets >= expected, (f"the notebook shows {expected} widgets with a slider or dropdown, "
                                   f"JupyterLab rendered {n_widgets}")
    assert not log.outside, f"requests left localhost: {log.outside[:5]}"
    print(f"{rel}: ran all in {ran:.1f} s; changed {len(moved)} widgets {moved}")


def _widget_cells(nb_path):
    """Indices (among code cells) of the cells whose saved outputs include a widget."""
    code = [c for c in load_notebook(nb_path)["cells"] if c["cell_type"] == "code"]
    return [i for i, c in enumerate(code)
            if any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in c.get("outputs", []))]


def _saved_widgets(nb_path):
    """[(code cell index, whether its saved widget holds an image)] for the cells showing a widget."""
    nb = load_notebook(nb_path)
    state = nb.get("metadata", {}).get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})

    def has_image(model_id, depth=0):
        model = state.get(model_id, {})
        st = model.get("state", {})
        if any("image/png" in o.get("data", {}) for o in st.get("outputs", []) if isinstance(o, dict)):
            return True
        kids = [k.removeprefix("IPY_MODEL_") for k in st.get("children", []) if isinstance(k, str)]
        return depth < 20 and any(has_image(k, depth + 1) for k in kids)

    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    found = []
    for i, cell in enumerate(code):
        views = [o["data"]["application/vnd.jupyter.widget-view+json"] for o in cell.get("outputs", [])
                 if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        if views:
            found.append([i, any(has_image(v["model_id"]) for v in views)])
    return found


def _has_sliders(nb_path):
    """Number of cells whose saved widget includes a slider or dropdown (0 without saved state)."""
    nb = load_notebook(nb_path)
    state = nb.get("metadata", {}).get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})
    sliders = {k for k, m in state.items() if re.search(r"Slider|Dropdown", m.get("model_name", ""))}
    if not sliders:
        return 0

    def contains_slider(model_id, seen=()):
        if model_id in sliders:
            return True
        kids = state.get(model_id, {}).get("state", {}).get("children", [])
        return any(contains_slider(k.removeprefix("IPY_MODEL_"), seen) for k in kids if isinstance(k, str))

    count = 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view and contains_slider(view["model_id"]):
                count += 1
                break
    return count


# --- the first start -------------------------------------------------------------------------

NEWS_JS = """() => [...document.querySelectorAll('.jp-toast-message, .Toastify__toast, .jp-Notification-List')]
    .map(e => e.innerText).join(' | ')"""


def test_first_start_shows_chapter_0_the_workspace_and_no_news_popup(lab, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    log = PageLog(page, lab.base)
    try:
        page.goto(lab.start_url(), wait_until="domcontentloaded")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
        try:     # the start page opens after the tabs a previous visit left open
            page.wait_for_function("() => /^Start here/.test((document.querySelector("
                                   "'.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell h1') || {}).innerText)",
                                   timeout=30_000)
        except Exception:
            pass
        title = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell h1").first.inner_text()
        page.wait_for_function("() => document.querySelectorAll('.jp-DirListing-item').length > 0", timeout=30_000)
        page.wait_for_timeout(5000)      # the news question comes a moment after the start
        listing = page.locator(".jp-DirListing-item .jp-DirListing-itemText").all_inner_texts()
        toasts = page.evaluate(NEWS_JS)
        page.screenshot(path=str(artifact_path("lab", "first_start.png")))
    finally:
        page.close()
    assert title.startswith("Start here"), title
    assert {"book", "workspace"} <= set(listing), f"the file browser shows {listing}, not the top folder"
    assert "news" not in toasts.lower(), f"a news pop-up appeared: {toasts}"
    assert not log.outside, f"requests left localhost: {log.outside[:5]}"


# --- an exercise, answered through the browser -----------------------------------------------

def _first_exercise(ex_path):
    """(answer cell, check cell, reference answer, exercise id) of the first exercise in ex_path.

    Cells are counted among code cells; the answer is the solutions/ version of the answer cell
    without its BEGIN/END SOLUTION marker lines.
    """
    nb = load_notebook(ex_path)
    sol = load_notebook(REPO / "solutions" / ex_path.name)
    sol_by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): "".join(c["source"])
                 for c in sol["cells"] if c["metadata"].get("nbgrader")}
    code_index = -1
    answer = None
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        code_index += 1
        meta = cell["metadata"].get("nbgrader", {})
        if answer is None and meta.get("solution"):
            reference = sol_by_id[meta["grade_id"]]
            text = "\n".join(line for line in reference.splitlines()
                             if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
            answer = (code_index, text)
        elif answer is not None and meta.get("grade"):
            return answer[0], code_index, answer[1], meta["grade_id"]
    raise AssertionError(f"{ex_path.name}: no answer cell followed by a graded check cell")


@pytest.mark.skipif(not EXERCISES, reason="no exercise notebooks yet")
def test_exercise_answered_in_lab_passes_its_check(lab, browser):
    ex_path = EXERCISES[0]
    answer_i, check_i, answer, exercise_id = _first_exercise(ex_path)
    page, log = open_notebook(browser, lab, f"workspace/{ex_path.name}")      # the learner's own copy
    try:
        cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")
        editor = cells.nth(answer_i).locator(".cm-content")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(answer)
        typed = page.evaluate(
            "e => [...e.querySelectorAll('.cm-line')].map(l => l.textContent).join('\\n')",
            editor.element_handle())
        assert typed.strip() == answer.strip(), f"the editor holds something else:\n{typed}"
        page.keyboard.press("Escape")
        run_all(page)
        feedback = cells.nth(check_i).locator(".jp-OutputArea").inner_text()
        others = [cells.nth(i).locator(".jp-OutputArea").inner_text()
                  for i in range(check_i + 1, cells.count())]
        cells.nth(check_i).scroll_into_view_if_needed()
        page.screenshot(path=str(artifact_path("lab", f"{ex_path.stem}_answered.png")))
    finally:
        page.close()
    assert re.search(r"(all cases|the case) passed", feedback), f"no pass in the feedback table:\n{feedback}"
    assert "FAIL" not in feedback and re.search(r"^\s*ok\s", feedback, re.M), feedback
    assert exercise_id in feedback, feedback
    assert any("not written yet" in text for text in others), \
        "the exercises left unanswered should still report 'not written yet'"
    assert not log.outside, f"requests left localhost: {log.outside[:5]}"
