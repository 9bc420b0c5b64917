"""The learner's own copy of the exercise sets (nnbook.workspace) and the lab's set-up (nnbook.lab)."""
import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from nnbook import lab, workspace

ROOT = Path(__file__).resolve().parents[1]


def _release(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# {name}")]),
                       folder / f"{name}.ipynb")
    return folder


def test_sync_copies_what_is_missing_and_never_overwrites(tmp_path):
    ex = _release(tmp_path / "exercises", ["ex1_a", "ex2_b"])
    ws = tmp_path / "workspace"
    assert workspace.sync(ex, ws) == [("ex1_a.ipynb", "added"), ("ex2_b.ipynb", "added")]
    assert (ws / "ex1_a.ipynb").read_bytes() == (ex / "ex1_a.ipynb").read_bytes()
    assert (ws / "README.md").is_file()
    (ws / "ex1_a.ipynb").write_text("my half-done answer")
    (ex / "ex1_a.ipynb").write_text("a new version of the book")
    _release(ex, ["ex3_c"])                                       # the book adds a set
    assert workspace.sync(ex, ws) == [("ex1_a.ipynb", "kept"), ("ex2_b.ipynb", "kept"), ("ex3_c.ipynb", "added")]
    assert (ws / "ex1_a.ipynb").read_text() == "my half-done answer"
    assert not list(ws.glob(".*partial"))


def test_sync_without_released_sets_says_so(tmp_path):
    with pytest.raises(workspace.WorkspaceError, match="no exercise notebooks"):
        workspace.sync(tmp_path / "nothing", tmp_path / "ws")


def test_fresh_keeps_the_old_copy(tmp_path):
    ex = _release(tmp_path / "exercises", ["ex3_convolution", "ex4_pooling"])
    ws = tmp_path / "workspace"
    workspace.sync(ex, ws)
    (ws / "ex3_convolution.ipynb").write_text("attempt 1")
    new, kept = workspace.fresh("ex3", ex, ws, stamp="day")
    assert new.read_bytes() == (ex / "ex3_convolution.ipynb").read_bytes()
    assert kept == ws / "ex3_convolution.day.ipynb" and kept.read_text() == "attempt 1"
    (ws / "ex3_convolution.ipynb").write_text("attempt 2")
    _, kept2 = workspace.fresh("ex3_convolution", ex, ws, stamp="day")
    assert kept2.read_text() == "attempt 2" and kept.read_text() == "attempt 1"
    with pytest.raises(workspace.WorkspaceError, match="known: ex3_convolution, ex4_pooling"):
        workspace.fresh("ex9", ex, ws)


def test_git_ignores_the_workspace_and_tests_never_collect_it():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    probe = subprocess.run(["git", "check-ignore", "-q", "workspace/ex3_convolution.ipynb"], cwd=ROOT)
    assert probe.returncode == 0, "workspace/ must be ignored by git (.gitignore)"
    import tomllib
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "workspace" not in config["testpaths"] and "workspace" in config["norecursedirs"]


def test_chapters_are_trusted_so_saved_widgets_render(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))     # a private trust database
    from nbformat.sign import NotebookNotary
    nb_path = tmp_path / "ch.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), nb_path)
    assert not NotebookNotary().check_signature(nbformat.read(nb_path, as_version=4))
    assert lab.trust([nb_path]) == 1
    assert NotebookNotary().check_signature(nbformat.read(nb_path, as_version=4))
    assert lab.trust([nb_path]) == 0                                  # already trusted
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[0].source = "2"                                          # re-executed / pulled: a new file
    nbformat.write(nb, nb_path)
    assert lab.trust([nb_path]) == 1


def test_lab_defaults_turn_off_the_news_popup(tmp_path):
    path = lab.write_lab_defaults(tmp_path)
    assert path == tmp_path / "share/jupyter/lab/settings/overrides.d/nnbook.json"
    notification = json.loads(path.read_text())["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}

