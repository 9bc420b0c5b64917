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


@pytest.mark.parametrize("backward", ["conv2d_backward", "batchnorm_backward", "shortcut_backward"])
def test_nnbook_own_forward_passed_along_costs_a_stated_cache_backward_nothing(backward):
    """A backward with a stated cache is judged on nnbook's cache, so the forward passed to its check judges
    nothing: nnbook's own forward there is no answer to refuse. A backward that itself calls nnbook's own
    forward is still refused."""
    from nnbook import functional as F
    from nnbook.grading import EXERCISES, evaluate
    ex = EXERCISES[backward]
    entry = next(e for e in CORRECT if e.exercise == backward)
    own_forward = getattr(F, ex.forward)
    report = evaluate(backward, entry.function(), own_forward)
    assert report.passed, report.text()
    if backward == "conv2d_backward":
        right = entry.function()

        def recomputes_with_nnbook(dout, cache):
            x, W, b, stride, padding = cache
            own_forward(x, W, b, stride=stride, padding=padding)
            return right(dout, cache)
        refused = evaluate(backward, recomputes_with_nnbook, own_forward)
        assert not refused.passed and "nnbook's own conv2d_forward is not available" in " ".join(refused.text().split())
