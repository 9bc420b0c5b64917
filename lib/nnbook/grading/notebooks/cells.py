"""nbgrader's notebook format: cell roles, solution regions, hidden tests.

A cell's role is in ``cell.metadata["nbgrader"]``: ``solution: true`` for an answer cell
(code between ``### BEGIN SOLUTION`` and ``### END SOLUTION``), ``grade: true`` with
``points`` for a test cell (may hold ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``),
``locked: true`` for a cell the learner must not change. Every such cell has a ``grade_id``.
"""
import copy
import hashlib

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB_LINES = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_TEXT = "YOUR ANSWER HERE"


class FormatError(ValueError):
    """A solution notebook breaks the nbgrader format (the message says where)."""


def meta(cell):
    """The cell's nbgrader metadata (an empty dict when it has none)."""
    m = cell.get("metadata", {}).get("nbgrader", {})
    return m if isinstance(m, dict) else {}


def grade_id(cell):
    gid = meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def is_solution(cell):
    return bool(meta(cell).get("solution"))


def is_test(cell):
    """An autograded test cell: a code cell with ``grade: true`` that is not an answer cell."""
    m = meta(cell)
    return cell.get("cell_type") == "code" and bool(m.get("grade")) and not m.get("solution")


def is_locked(cell):
    return bool(meta(cell).get("locked"))


def compute_checksum(cell):
    """The checksum nbgrader (0.9) stores in ``nbgrader.checksum``: an MD5 of the source, the cell
    type, whether the cell is graded, an answer, locked (a graded non-answer cell always counts as
    locked), its grade_id and, for a graded cell, its points as a float."""
    m = meta(cell)
    grade, solution = bool(m.get("grade", False)), bool(m.get("solution", False))
    locked = False if solution else (True if grade else bool(m.get("locked", False)))
    digest = hashlib.md5()
    for part in (cell.source, cell.cell_type, str(grade), str(solution), str(locked), m["grade_id"]):
        digest.update(part.encode("utf-8"))
    if grade:
        digest.update(str(float(m["points"])).encode("utf-8"))
    return digest.hexdigest()


def lock(cell):
    """nbgrader's release metadata: setup and test cells can be neither edited nor deleted in
    Jupyter, answer cells cannot be deleted; every nbgrader cell gets its checksum and cell_type."""
    m = meta(cell)
    if not m:
        return cell
    if is_solution(cell):
        cell.metadata["deletable"] = False
    elif is_test(cell) or is_locked(cell) or m.get("grade"):
        cell.metadata["editable"] = False
        cell.metadata["deletable"] = False
    cell.metadata["nbgrader"]["cell_type"] = cell.cell_type
    cell.metadata["nbgrader"]["checksum"] = compute_checksum(cell)
    return cell


def _replace_regions(source, begin, end, replacement, where):
    """Replace every ``begin``...``end`` block (markers included) by ``replacement(indent)`` lines."""
    out, inside, indent = [], False, ""
    for line in source.splitlines():
        if begin in line:
            if inside:
                raise FormatError(f"{where}: '{begin}' inside another region")
            inside, indent = True, line[:len(line) - len(line.lstrip())]
            out.extend(replacement(indent))
        elif end in line:
            if not inside:
                raise FormatError(f"{where}: '{end}' without '{begin}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise FormatError(f"{where}: '{begin}' is never closed by '{end}'")
    return "\n".join(out)


def stub_source(source, where="cell"):
    """Solution regions become ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (same indentation)."""
    return _replace_regions(source, BEGIN_SOLUTION, END_SOLUTION,
                            lambda indent: [indent + line for line in STUB_LINES], where)


def strip_hidden_tests(source, where="cell"):
    """Remove hidden-test blocks (markers included) and trailing blank lines."""
    return _replace_regions(source, BEGIN_HIDDEN, END_HIDDEN, lambda indent: [], where).rstrip()


def validate(nb, name):
    """Check a solution notebook: unique grade_ids, regions only where allowed, points on tests."""
    seen = set()
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i}"
        src = cell.get("source", "")
        gid = grade_id(cell)
        if meta(cell) and gid is None:
            raise FormatError(f"{where}: nbgrader metadata without a grade_id")
        if gid is not None:
            if gid in seen:
                raise FormatError(f"{where}: grade_id {gid!r} is used twice")
            seen.add(gid)
        if BEGIN_SOLUTION in src and not is_solution(cell):
            raise FormatError(f"{where}: a solution region in a cell not marked solution: true")
        if BEGIN_HIDDEN in src and not is_test(cell):
            raise FormatError(f"{where}: hidden tests in a cell that is not a test cell (grade: true)")
        if is_test(cell):
            pts = meta(cell).get("points")
            if not isinstance(pts, (int, float)) or isinstance(pts, bool) or pts <= 0:
                raise FormatError(f"{where}: test cell {gid!r} needs positive points, got {pts!r}")


def student_copy(nb, name="notebook"):
    """The learner's version of a solution notebook, not yet executed.

    Solution regions become stubs, markdown answers ``YOUR ANSWER HERE``, hidden tests are
    removed, outputs, execution counts and widget state are cleared; setup and test cells are
    locked and every nbgrader cell gets its checksum, as nbgrader's own release does (:func:`lock`).
    """
    validate(nb, name)
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for i, cell in enumerate(nb.cells):
        where = f"{name}, cell {i}"
        cell.metadata.pop("execution", None)
        if is_solution(cell):
            if cell.cell_type == "code":
                cell.source = stub_source(cell.source, where)
            else:
                cell.source = ANSWER_TEXT
        if is_test(cell):
            cell.source = strip_hidden_tests(cell.source, where)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        lock(cell)
    return nb
