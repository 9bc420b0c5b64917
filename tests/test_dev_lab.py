"""`python3 dev.py lab NOTEBOOK` opens JupyterLab at that notebook (the website's pages show this command)."""
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("nnbook_dev", REPO / "dev.py")
dev = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dev)


def _url(cmd):
    return [a for a in map(str, cmd) if a.startswith("--LabApp.default_url=")]


def test_lab_opens_chapter_0_by_default_and_passes_other_arguments_on():
    cmd = dev.lab_command(["--port", "9999"])
    assert _url(cmd) == ["--LabApp.default_url=/lab/tree/book/00_start_here.ipynb"]
    assert [str(a) for a in cmd[-2:]] == ["--port", "9999"]


def test_lab_opens_the_notebook_it_is_given(monkeypatch, tmp_path):
    chapter = sorted((REPO / "book").glob("*.ipynb"))[-1]
    rel = chapter.relative_to(REPO).as_posix()
    for given in (rel, str(chapter)):
        cmd = dev.lab_command([given, "--no-browser"])
        assert _url(cmd) == [f"--LabApp.default_url=/lab/tree/{rel}"] and str(cmd[-1]) == "--no-browser"
    monkeypatch.chdir(REPO / "book")                   # a path relative to where the reader is
    assert _url(dev.lab_command([chapter.name])) == [f"--LabApp.default_url=/lab/tree/{rel}"]
    monkeypatch.chdir(tmp_path)                        # or relative to the repository
    assert _url(dev.lab_command([rel])) == [f"--LabApp.default_url=/lab/tree/{rel}"]


def test_lab_refuses_a_notebook_that_is_not_there():
    with pytest.raises(SystemExit, match="no notebook book/nope.ipynb"):
        dev.lab_command(["book/nope.ipynb"])
    with pytest.raises(SystemExit, match="not inside the repository"):
        dev.lab_command(["/tmp/elsewhere.ipynb"])
