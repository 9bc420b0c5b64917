"""Fixtures shared by the library tests."""
import fcntl
import os

import pytest


@pytest.fixture(params=["auto", "im2col", "shifted", "shifted-in-small-blocks"])
def conv_method(request, monkeypatch):
    """Run a conv test with the automatic choice, and with each formulation forced (stride 1).

    "shifted-in-small-blocks" makes the shifted method work in blocks of 7 columns, so
    that test-sized inputs run through many blocks and a ragged last one."""
    import nnbook.functional.conv as conv
    if request.param != "auto":
        forced = request.param.startswith("shifted")
        monkeypatch.setattr(conv, "_use_shifted", lambda C, F, stride, *sizes: forced and stride == (1, 1))
    if request.param == "shifted-in-small-blocks":
        monkeypatch.setattr(conv, "_CHUNK", 7)
    return request.param


@pytest.fixture
def references_as_learners(monkeypatch):
    """For tests that use nnbook's own code as a learner's answer: check()'s refusal of it is
    off (tests/test_grading_integrity.py tests that refusal)."""
    monkeypatch.setattr("nnbook.grading.judge.own_code.OwnCodeWatch.enabled", False)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The real book built as the website once per test run (``site/build.py --out TMP``), shared by
    tests/test_site_build.py and tests/browser/test_site_browser.py; returns its html folder.

    The live widgets' pictures come from ``site/_build/live-cache`` when the chapters' widget cells,
    the library and the drawing packages are unchanged since the last build of this checkout."""
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("myst_nb", reason="the site needs the 'site' extra (python3 dev.py site installs it)")
    repo = Path(__file__).resolve().parents[1]
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # under pytest-xdist (dev.py test) the workers share one build: the first builds, the
        # others wait for it (the folder above each worker's basetemp is the run's, shared)
        out = tmp_path_factory.getbasetemp().parent / "site"
    else:
        out = tmp_path_factory.mktemp("site")
    with open(out.parent / "site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "built").is_file():
            proc = subprocess.run([sys.executable, str(repo / "site" / "build.py"), "--out", str(out), "-q"],
                                  cwd=repo, capture_output=True, text=True, timeout=1800)
            assert proc.returncode == 0, f"site build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            (out / "built").write_text("")
    return out / "html"
