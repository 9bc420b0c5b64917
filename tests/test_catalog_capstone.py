"""The capstone's mistake catalog (tests/catalog/ex8_putting_it_together.py) as the feedback's test suite.

Every entry is a realistic wrong answer, one slip away from a correct loop-style answer: ``check()``
must fail it, and its **first** hint must name the entry's cause (by the hint's id). The correct
answers themselves pass every case, visible and hidden. Each check runs in a fresh session, as a
learner's notebook does when the earlier functions are right.
"""
from collections import Counter

import pytest

from catalog import ex8_putting_it_together as catalog
from nnbook.grading import ExerciseFailed, check, evaluate
from nnbook.grading.judge.exercise import EXERCISES
from nnbook.grading.judge.session import session


def _check(exercise_id, ns, hidden=False):
    with session():
        return evaluate(exercise_id, ns[catalog.ANSWERS[exercise_id][0]], None, hidden)


def test_the_catalog_covers_every_graded_function_with_six_slips_or_more():
    per = Counter(e.exercise for e in catalog.ENTRIES)
    assert set(per) == set(catalog.ANSWERS) and min(per.values()) >= 6, per
    for e in catalog.ENTRIES:
        assert e.exercise in EXERCISES
        assert any(h.id == e.cause for h in _hints(e.exercise)), f"{e.cause} is not a hint of {e.exercise}"
        catalog.answer(e.exercise, e)          # each edit applies where the entry says


def _hints(exercise_id):
    from nnbook.grading.sets import ex8_putting_it_together as capstone
    from nnbook.grading.judge.exercise import Hint
    return [v for v in vars(capstone).values() if isinstance(v, Hint)]


@pytest.mark.parametrize("hidden", [False, True], ids=["visible", "hidden"])
def test_the_correct_loop_answers_pass(hidden, capsys):
    ns = catalog.namespace()
    for exercise_id in catalog.ANSWERS:
        report = _check(exercise_id, ns, hidden)
        assert report.passed, report.text()


@pytest.mark.parametrize("entry", catalog.ENTRIES, ids=lambda e: f"{e.exercise}:{e.slip}")
def test_check_fails_the_entry_and_its_first_hint_names_the_cause(entry, capsys):
    ns = catalog.namespace(entry)
    report = _check(entry.exercise, ns)
    assert not report.passed, report.text()
    assert report.hints, report.text()
    assert report.hints[0].id == entry.cause, report.text()
    text = " ".join(report.text().split())
    assert text.count(" ".join(report.hints[0].concept.split())) == 1      # the cause is said once


def test_check_raises_for_an_entry(capsys):
    """``check()`` itself (what a notebook's check cell runs) fails an entry, showing its first hint."""
    entry = next(e for e in catalog.ENTRIES if e.cause == "block_no_shortcut")
    ns = catalog.namespace(entry)
    with session(), pytest.raises(ExerciseFailed):
        check(entry.exercise, ns[catalog.ANSWERS[entry.exercise][0]])
    assert "a residual block adds its shortcut" in " ".join(capsys.readouterr().out.split())
