"""Static checks of every chapter in book/ (the notebooks themselves are run by nbval).

Each notebook must be valid nbformat JSON, committed executed (every code cell with source has an
execution count), free of error outputs (except cells tagged ``raises-exception``), and link only
to exercise notebooks that exist; a chapter N with an exercise set ``exN_*`` must link to it, in the
learner's own copy ``../workspace/exN_*.ipynb`` (made by ``python3 dev.py lab``), never to the tracked
``exercises/`` release that an edit would change.
"""
import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))

# The exercise notebooks the chapters may point to (exercises/ is made from solutions/, and the
# learner's workspace/ is copied from exercises/): set N belongs to chapter N.
EXERCISES = tuple(sorted(p.name for p in (ROOT / "solutions").glob("ex*_*.ipynb")))
EXERCISE_LINK = re.compile(r"workspace/([^)\s`'\"]+\.ipynb)")
RELEASE_LINK = re.compile(r"\]\((?:\.\./)?exercises/[^)\s]*\.ipynb\)")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _load(path):
    text = path.read_text(encoding="utf-8")
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        pytest.fail(f"{path.name} is not valid JSON: {e}")
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    return nb


def _code_cells(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def _markdown(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _chapter_number(path):
    m = re.match(r"(\d+)_", path.name)
    return int(m.group(1)) if m else None


def test_book_has_chapters():
    assert CHAPTERS, f"no notebooks found in {BOOK}"
    assert (BOOK / "00_start_here.ipynb") in CHAPTERS


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_valid_notebook(path):
    nb = _load(path)
    assert nb.nbformat == 4, f"{path.name}: nbformat {nb.nbformat}, expected 4"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_executed(path):
    unrun = [i for i, c in _code_cells(_load(path)) if c.source.strip() and c.execution_count is None]
    assert not unrun, (f"{path.name}: code cells {unrun} have no execution count; commit the notebook "
                       "executed (jupyter nbconvert --to notebook --execute --inplace)")


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_no_unexpected_errors(path):
    bad = []
    for i, cell in _code_cells(_load(path)):
        if "raises-exception" in cell.metadata.get("tags", []):
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                bad.append(f"cell {i}: {out.ename}: {out.evalue}")
    assert not bad, f"{path.name}: error outputs in cells not tagged raises-exception: {bad}"


MACHINE_PATH = re.compile(r"(/work/|/tmp/|/home/|/root/|site-packages)")


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_no_warnings_or_machine_paths(path):
    """Readers see no warnings on stderr, and nbval compares outputs that name no folder of the machine
    that executed the notebook (a warning quotes the file it came from, so it fails on every other machine)."""
    bad = []
    for i, cell in _code_cells(_load(path)):
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.name == "stderr" and \
                    "nbval-ignore-output" not in cell.metadata.get("tags", []):
                bad.append(f"cell {i} writes to stderr: {out.text[:120]!r}")
            text = out.get("text", "") + "".join(v for k, v in out.get("data", {}).items()
                                                  if k.startswith("text/") and isinstance(v, str))
            if (m := MACHINE_PATH.search(text)):
                bad.append(f"cell {i} shows a path of this machine: ...{text[max(0, m.start() - 40):m.end() + 40]!r}")
    assert not bad, f"{path.name}: {bad}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_outputs_fit_nbval(path):
    """No SVG (nbval compares it and its date stamps differ); widget cells ignored by nbval;
    figures need the inline backend (conftest.py gives test kernels MPLBACKEND=Agg)."""
    nb = _load(path)
    problems = []
    has_png = False
    for i, cell in _code_cells(nb):
        kinds = {k for out in cell.get("outputs", []) for k in out.get("data", {})}
        has_png |= "image/png" in kinds
        if "image/svg+xml" in kinds:
            problems.append(f"cell {i} has SVG output")
        tags = set(cell.metadata.get("tags", []))
        if WIDGET_MIME in kinds and not tags & {"nbval-ignore-output", "nbval-skip"}:
            problems.append(f"cell {i} shows a widget but has no nbval-ignore-output tag")
        if re.search(r"^\s*#\s*NBVAL_", cell.source, re.M):
            problems.append(f"cell {i} has an NBVAL_ comment marker: use the cell tag instead "
                            "(nbval-ignore-output, nbval-skip), so readers see only the code that teaches")
    code = "\n".join(c.source for _, c in _code_cells(nb))
    if has_png and "%matplotlib inline" not in code:
        problems.append("has figures but never runs %matplotlib inline (tests run with MPLBACKEND=Agg, "
                        "so the figures would be missing and nbval would fail)")
    assert not problems, f"{path.name}: {problems}"


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_exercise_links(path):
    nb = _load(path)
    released = RELEASE_LINK.findall(_markdown(nb))
    assert not released, (f"{path.name}: links into the tracked exercises/ release {released}; link the "
                          "learner's own copy ../workspace/<name>.ipynb instead (answers never land in a tracked file)")
    linked = EXERCISE_LINK.findall(_markdown(nb))
    unknown = sorted(set(linked) - set(EXERCISES))
    assert not unknown, f"{path.name}: links to unknown exercise notebooks {unknown}; expected one of {EXERCISES}"
    missing = [name for name in set(linked)
               if not (ROOT / "exercises" / name).exists() and not (ROOT / "solutions" / name).exists()]
    assert not missing, f"{path.name}: linked exercise notebooks exist in neither exercises/ nor solutions/: {missing}"
    n = _chapter_number(path)
    own = [name for name in EXERCISES if name.startswith(f"ex{n}_")]
    for name in own:
        assert f"](../workspace/{name})" in _markdown(nb), (
            f"{path.name}: chapter {n} must link to its exercise notebook ../workspace/{name}")


def test_every_exercise_set_has_its_chapter():
    numbers = {_chapter_number(p) for p in CHAPTERS}
    orphans = [name for name in EXERCISES if int(re.match(r"ex(\d+)_", name).group(1)) not in numbers]
    assert not orphans, f"exercise sets without a chapter of the same number: {orphans}"
