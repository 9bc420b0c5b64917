"""A class report a teacher can act on, measured on a fixture class whose mistakes are known.

Eight learners hand in ex6 (batch norm), each notebook made from tests/catalog/ex6_batch_norm.py: the
correct answers with the mistakes listed below. They are graded as ``nnbook grade`` grades them (a kernel
per notebook, hidden cases from a fixed seed), and the class report must count every failing (learner,
exercise) exactly once: under the mistake the learner's first hint named, or as "failed, no named mistake".
A learner whose forward is wrong keeps the backward's points (one mistake costs once), so appears only
under the forward.
"""
import sys
from pathlib import Path

import nbformat
import pytest

from nnbook.grading.grade import grade_notebook, load_sets
from nnbook.grading.report.classreport import NO_NAMED_MISTAKE, markdown, summarize

from catalog.slips import load

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from make_submissions import from_catalog  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BN = load("ex6_batch_norm")
FORWARD, BACKWARD = "batchnorm_forward", "batchnorm_backward"
STUB = object()

# learner: (forward's slip, backward's slip); None = the correct answer, STUB = not written
CLASS = {
    "ann": (None, "training_formula_in_eval"),
    "bob": ("unbiased_normalize", None),
    "cy": ("momentum_swapped", "eval_formula_in_training"),
    "dan": ("running_rebound", "dgamma_dbeta_per_position"),
    "eve": (None, "forgot_gamma"),
    "fay": ("cs231n_cache", None),
    "gus": ("batch_stats_in_eval", STUB),
    "hal": (None, None),
}


def _source(exercise, slip):
    if slip is STUB:
        return None
    if slip is None:
        return BN.correct_entries[exercise].source
    return next(e for e in BN.mistakes if e.exercise == exercise and e.name == slip).source


def _cause(exercise, slip):
    return next(e for e in BN.mistakes if e.exercise == exercise and e.name == slip).cause


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    for who, (fwd, bwd) in CLASS.items():
        nb = from_catalog("ex6_batch_norm", {FORWARD: _source(FORWARD, fwd), BACKWARD: _source(BACKWARD, bwd)})
        (folder / who).mkdir()
        nbformat.write(nb, folder / who / "ex6_batch_norm.ipynb")
    sets = load_sets(ROOT / "solutions")
    subs = [grade_notebook(folder / who / "ex6_batch_norm.ipynb", sets, timeout=60, seed=7) for who in CLASS]
    return subs, summarize(subs, sets)


def _expected(position, exercise):
    """``({mistake id: [learners]}, [learners failing with no named mistake])`` the class should give."""
    named, unnamed = {}, []
    for who, slips in CLASS.items():
        slip = slips[position]
        if slip is STUB:
            unnamed.append(who)
        elif slip is not None:
            named.setdefault(_cause(exercise, slip), []).append(who)
    return named, unnamed


@pytest.mark.parametrize("position, exercise", [(0, FORWARD), (1, BACKWARD)])
def test_every_failing_learner_is_counted_once_under_the_mistake_named_first(graded, position, exercise):
    subs, summary = graded
    ex = summary["ex6_batch_norm"]["exercises"][exercise]
    named, unnamed = _expected(position, exercise)
    got = {key.rsplit("[", 1)[1].rstrip("]"): sorted(who) for key, who in ex["who"].items()}
    assert got == {k: sorted(v) for k, v in named.items()}
    assert sorted(who for who, _ in ex["unnamed"]) == sorted(unnamed)
    assert ex["failed"] == sum(len(v) for v in named.values()) + len(unnamed)
    assert sum(ex["mistakes"].values()) + len(ex["unnamed"]) == ex["failed"]
    # a right function scores full marks, whatever the learner's other function does
    full = sum(1 for s in subs for t in s.tests if t.grade_id == exercise and t.status == "passed")
    assert full == len(CLASS) - ex["failed"]


def test_the_report_says_it_in_words(graded):
    md = markdown(graded[1])
    assert "**batchnorm_backward**: 5 of 8 failed; the mistake each one's first hint named:" in md
    assert f"- 1 of 8: {NO_NAMED_MISTAKE} (gus: not written)" in md
    line = next(ln for ln in md.splitlines() if "[bn_backward_eval_formula]" in ln)
    assert line.startswith("- 1 of 8: ") and line.endswith("(ann)")
    assert "| `batchnorm_backward` | 3 of 8 |" in md and "| `batchnorm_forward` | 3 of 8 |" in md
