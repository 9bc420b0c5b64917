"""The feedback's own test suite: the mistake catalog (tests/catalog/, one module per exercise set).

Every graded function of ex1-ex7 has a correct answer written as a learner writes it, which must pass
(visible and hidden cases), and at least 6 realistic mistakes, one slip each, whose check must fail
with a first hint that names the slip's cause (by the hint's id) and explains every failing case. The
other hints a check gives are only those the entry lists as consequences of the same slip (``also``):
generic hints stay silent when a specific one explains the failing cases.
"""
import pytest

from nnbook.grading.judge.registry import SETS

from catalog.slips import SETS as CATALOG_SETS, every_correct, every_mistake, judge, load, what_is_wrong

MISTAKES = every_mistake()
CORRECT = every_correct()


def _id(entry):
    return f"{entry.set[:3]}:{entry.id}"


@pytest.mark.parametrize("entry", MISTAKES, ids=_id)
def test_mistake_named_by_the_first_hint(entry):
    report = judge(entry)
    wrong = what_is_wrong(entry, report)
    assert wrong is None, f"{entry.id}: {wrong}\n{report.text()}"


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
@pytest.mark.parametrize("entry", CORRECT, ids=_id)
def test_correct_loop_style_answers_pass(entry, hidden):
    report = judge(entry, hidden=hidden)
    assert report.passed, report.text()


def test_every_graded_function_of_ex1_to_ex7_has_six_mistakes():
    for name in CATALOG_SETS:
        cat = load(name)
        assert set(cat.correct_entries) == set(SETS[name].exercises), name
        for exercise in SETS[name].exercises:
            n = sum(e.exercise == exercise for e in cat.mistakes)
            assert n >= 6, f"{exercise}: {n} mistakes in the catalog"


def test_each_slip_changes_the_correct_answer():
    for name in CATALOG_SETS:
        cat = load(name)
        for entry in cat.mistakes:
            assert entry.source != cat.correct_entries[entry.exercise].source, entry.id
