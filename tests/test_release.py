"""``nnbook release``: exercises/ is exactly what the command generates from solutions/."""
from pathlib import Path

import nbformat
import pytest

from nnbook.grading.notebooks.cells import FormatError, stub_source, strip_hidden_tests, student_copy
from nnbook.grading.notebooks.release import ReleaseError, release

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


def test_released_cells_are_locked_like_nbgraders_release():
    """Setup and test cells can be neither edited nor deleted, answer cells not deleted, and every
    nbgrader cell carries nbgrader's checksum and cell_type (so a course can hand out either release)."""
    from nnbook.grading.notebooks.cells import compute_checksum, is_locked, is_solution, is_test
    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        locked = 0
        for cell in nb.cells:
            m = cell.metadata.get("nbgrader")
            if not m:
                assert "editable" not in cell.metadata and "deletable" not in cell.metadata
                continue
            assert m["cell_type"] == cell.cell_type and m["checksum"] == compute_checksum(cell), (path.name, m)
            if is_test(cell) or (is_locked(cell) and not is_solution(cell)):
                assert cell.metadata["editable"] is False and cell.metadata["deletable"] is False
                locked += 1
            elif is_solution(cell):
                assert cell.metadata["deletable"] is False and "editable" not in cell.metadata
        assert locked >= 3, path.name


def test_checksum_matches_nbgrader_for_known_cells():
    """Two cells of nbgrader's own documentation release (ps1/problem1.ipynb) and the checksums
    nbgrader wrote for them."""
    from nnbook.grading.notebooks.cells import compute_checksum
    test_cell = nbformat.v4.new_code_cell(
        '"""Check that squares returns the correct output for several inputs"""\n'
        "assert squares(1) == [1]\nassert squares(2) == [1, 4]\n"
        "assert squares(10) == [1, 4, 9, 16, 25, 36, 49, 64, 81, 100]\n"
        "assert squares(11) == [1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121]")
    test_cell.metadata["nbgrader"] = {"grade": True, "grade_id": "correct_squares", "locked": False,
                                      "points": 1, "schema_version": 3, "solution": False}
    assert compute_checksum(test_cell) == "8f41dd0f9c8fd2da8e8708d73e506b3a"
    text = nbformat.v4.new_markdown_cell("For this problem set, we'll be using the Jupyter notebook:\n\n"
                                         "![](jupyter.png)")
    text.metadata["nbgrader"] = {"grade": False, "grade_id": "jupyter", "locked": True, "schema_version": 3,
                                 "solution": False}
    assert compute_checksum(text) == "535c21960d4663d5edac398cb445d087"
    test_cell.metadata["nbgrader"]["points"] = 2                  # the points are part of it
    assert compute_checksum(test_cell) != "8f41dd0f9c8fd2da8e8708d73e506b3a"
