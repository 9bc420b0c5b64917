"""`python3 dev.py lab NOTEBOOK` opens JupyterLab at that notebook (the website's pages show this command)."""
import importlib.util
from pathlib import Path

import pytest

from nnbook import lab

REPO = Path(__file__).resolve().parents[1]


def _url(cmd):
    return [a for a in map(str, cmd) if a.startswith("--LabApp.default_url=")]


def test_lab_opens_chapter_0_by_default_and_passes_other_arguments_on():
    cmd = lab.start_command(REPO, ["--port", "9999"])
    assert _url(cmd) == ["--LabApp.default_url=/lab/tree/book/00_start_here.ipynb"]
    assert [str(a) for a in cmd[-2:]] == ["--port", "9999"]
    assert lab.start_url("http://localhost:8888/", "T") == (
        "http://localhost:8888/lab/tree/book/00_start_here.ipynb?file-browser-path=/&token=T")


def test_lab_opens_the_notebook_it_is_given(monkeypatch, tmp_path):
    chapter = sorted((REPO / "book").glob("*.ipynb"))[-1]
    rel = chapter.relative_to(REPO).as_posix()
    for given in (rel, str(chapter)):
        assert lab.notebook_path(REPO, given) == rel
    assert lab.notebook_path(REPO, chapter.name, cwd=REPO / "book") == rel   # relative to where the reader is
    assert lab.notebook_path(REPO, rel, cwd=tmp_path) == rel                 # or to the repository
    cmd = lab.start_command(REPO, ["--no-browser"], notebook=rel)
    assert _url(cmd) == [f"--LabApp.default_url=/lab/tree/{rel}"] and str(cmd[-1]) == "--no-browser"
    assert lab.start_url("http://127.0.0.1:9000", None, rel) == (
        f"http://127.0.0.1:9000/lab/tree/{rel}?file-browser-path=/")


def test_lab_refuses_a_notebook_that_is_not_there():
    with pytest.raises(SystemExit, match="no notebook book/nope.ipynb"):
        lab.notebook_path(REPO, "book/nope.ipynb")
    with pytest.raises(SystemExit, match="not inside the repository"):
        lab.notebook_path(REPO, "/tmp/elsewhere.ipynb")


def test_dev_py_makes_a_notebook_relative_to_the_current_folder_absolute(monkeypatch):
    spec = importlib.util.spec_from_file_location("nnbook_dev", REPO / "dev.py")
    dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dev)
    ran = []
    monkeypatch.setattr(dev, "run", lambda cmd: ran.append([str(c) for c in cmd]) or 0)
    chapter = sorted((REPO / "book").glob("*.ipynb"))[-1]
    monkeypatch.chdir(REPO / "book")
    dev.lab([chapter.name, "--no-browser"])
    assert ran[-1][-2:] == [str(chapter.resolve()), "--no-browser"] and "--start" in ran[-1]
