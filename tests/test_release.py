"""``nnbook release``: exercises/ is exactly what the command generates from solutions/."""
from pathlib import Path

import nbformat
import pytest

from nnbook.grading.notebooks import FormatError, stub_source, strip_hidden_tests, student_copy
from nnbook.grading.release import ReleaseError, release

ROOT = Path(__file__).resolve().parents[1]


def test_exercises_are_up_to_date():
    changed = release(ROOT / "solutions", ROOT / "exercises", check=True, log=lambda *a: None)
    assert changed == [], f"run 'nnbook release': out of date: {changed}"


def test_released_notebooks_hide_the_answers():
    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert "widgets" not in nb.metadata
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "HIDDEN TESTS", "hidden=True"):
            assert marker not in text, (path.name, marker)
        tagged = 0
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
                tagged += "raises-exception" in cell.metadata.get("tags", [])
        assert tagged >= 2, path.name


def test_stub_keeps_signature_docstring_and_indentation():
    src = 'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    y = x\n    ### END SOLUTION\n    return y'
    assert stub_source(src) == ('def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n'
                                '    raise NotImplementedError()\n    return y')
    assert strip_hidden_tests('check(1)\n### BEGIN HIDDEN TESTS\ncheck(2)\n### END HIDDEN TESTS') == "check(1)"
    with pytest.raises(FormatError, match="never closed"):
        stub_source("### BEGIN SOLUTION\nx = 1")


def _cell(source, **nbgrader):
    cell = nbformat.v4.new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {"schema_version": 3, "task": False, "locked": False,
                                     "grade": False, "solution": False, **nbgrader}
    return cell


def test_format_errors_are_caught():
    region = "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"
    with pytest.raises(FormatError, match="not marked solution"):
        student_copy(nbformat.v4.new_notebook(cells=[_cell(region)]))
    twice = [_cell(region, solution=True, grade_id="a"), _cell(region, solution=True, grade_id="a")]
    with pytest.raises(FormatError, match="used twice"):
        student_copy(nbformat.v4.new_notebook(cells=twice))
    with pytest.raises(FormatError, match="needs positive points"):
        student_copy(nbformat.v4.new_notebook(cells=[_cell("pass", grade=True, locked=True, grade_id="t")]))


def test_release_tags_stubs_and_aborts_on_other_errors(tmp_path):
    sols, exs = tmp_path / "solutions", tmp_path / "exercises"
    sols.mkdir()
    good = nbformat.v4.new_notebook(cells=[
        _cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", solution=True, grade_id="f_sol"),
        _cell("assert f() == 1\n### BEGIN HIDDEN TESTS\nassert f() + 1 == 2\n### END HIDDEN TESTS",
              grade=True, locked=True, points=1, grade_id="f"),
        _cell("print('fine')")])
    nbformat.write(good, sols / "a.ipynb")
    assert release(sols, exs, log=lambda *a: None) == ["a.ipynb"]
    out = nbformat.read(exs / "a.ipynb", as_version=4)
    assert "raise NotImplementedError()" in out.cells[0].source
    assert out.cells[1].source == "assert f() == 1"
    assert [c.metadata.get("tags", []) for c in out.cells] == [[], ["raises-exception"], []]
    assert release(sols, exs, check=True, log=lambda *a: None) == []

    good.cells.append(_cell("1 / 0"))
    nbformat.write(good, sols / "a.ipynb")
    with pytest.raises(ReleaseError, match="cell 3: .*ZeroDivisionError"):
        release(sols, exs, log=lambda *a: None)
