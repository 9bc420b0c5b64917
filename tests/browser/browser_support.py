"""Shared helpers for the real-browser tests (headless Chromium from the OS, driven by Playwright).

The tests never download a browser: they use ``$NNBOOK_CHROMIUM`` or ``/usr/bin/chromium``
(Debian's ``chromium`` package). Without it, or without the ``playwright`` package, every
browser test module skips with one line saying why -- unless ``NNBOOK_REQUIRE_BROWSER=1``
(set by CI), which turns the skip into a failure so CI cannot pass without running them.
"""
import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("NNBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def skip_reason():
    """None if the browser tests can run here, else a one-line reason."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests need the playwright package (python3 dev.py test installs it: pip install -e '.[test]')"
    return None


def require_browser():
    """Call at the top of a browser test module: skip it (or fail under NNBOOK_REQUIRE_BROWSER=1)."""
    reason = skip_reason()
    if reason is None:
        return
    if os.environ.get("NNBOOK_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"NNBOOK_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason, allow_module_level=True)


@contextmanager
def chromium():
    """A headless Chromium (fresh profile, no sandbox since CI runs as root), closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class PageLog:
    """Records what a page requested, which requests failed, and its console errors."""

    def __init__(self, page, allowed_origin):
        self.allowed_origin = allowed_origin.rstrip("/")
        self.requests, self.outside, self.failed, self.errors, self.aborted = [], [], [], [], []
        page.on("request", self._request)
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        page.on("requestfailed", self._request_failed)
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        # Nothing may leave localhost: record and abort anything else.
        page.route(re.compile(r"^https?://(?!(127\.0\.0\.1|localhost)[:/])"), self._abort)

    def _request(self, req):
        self.requests.append(req.url)

    def _request_failed(self, req):
        # A picture whose src changed before it loaded (a control moved again at once) is aborted by
        # the browser: not a failure. A missing file answers 404 (the response handler above), and
        # requests that would leave localhost are recorded in ``outside``.
        if req.failure == "net::ERR_ABORTED" and req.url.startswith(self.allowed_origin + "/"):
            self.aborted.append(req.url)
            return
        self.failed.append(f"{req.failure} {req.url}")

    def _abort(self, route):
        self.outside.append(route.request.url)
        route.abort()


def load_notebook(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def code_outputs(nb):
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            yield from cell.get("outputs", [])


def widget_models(nb):
    """The saved widget models {model_id: model_name} of a notebook (empty if none saved)."""
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return {k: v.get("model_name", "") for k, v in state.items()}


def copy_tree(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
                    dirs_exist_ok=True)


def artifact_path(*parts):
    path = ARTIFACTS.joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
