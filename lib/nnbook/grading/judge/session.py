"""What the earlier checks of one notebook found, for the checks that build on them.

Some exercises are judged with a function the learner wrote for an earlier one, or name an
earlier mistake in their own feedback: the capstone's training step is judged with the
learner's residual block when that block failed its own check (so that one mistake costs
points once), and ``train``'s feedback says when ``train_step`` failed its check. Such a
judge uses the function **as it was when its own check ran** and that check's report, never
the name looked up again: redefining a function after its check changes nothing.

:func:`~nnbook.grading.judge.checker.evaluate` records every check in the current
:class:`Session`. In a notebook one session lives as long as the kernel (the check cells
run in order); ``nnbook grade`` opens a fresh one for every submission (:func:`session`), so
nothing of one learner reaches another's judging.
"""
import contextlib
import contextvars
from dataclasses import dataclass, field


@dataclass
class Checked:
    """One exercise's checks so far: the learner's function as checked, and the reports.

    Attributes:
        fn, forward: the functions given to the last check (in a graded run, the grader's
            handles on them).
        reports: ``{hidden: Report}``, the last report of the visible and of the hidden cases.
        kept: values a judge kept while the check ran (e.g. the learner's output on its first
            case, to recognize the same function later), by key.
    """
    fn: object = None
    forward: object = None
    reports: dict = field(default_factory=dict)
    kept: dict = field(default_factory=dict)

    @property
    def passed(self):
        """True when every recorded check of this exercise passed."""
        return bool(self.reports) and all(r.passed for r in self.reports.values())

    @property
    def failed_report(self):
        """A report of this exercise that did not pass (the visible one first), or None."""
        for hidden in (False, True):
            r = self.reports.get(hidden)
            if r is not None and not r.passed:
                return r
        return None


class Session:
    """The checks of one notebook, by exercise id (see the module docstring)."""

    def __init__(self):
        self.checked = {}

    def _entry(self, exercise_id):
        return self.checked.setdefault(exercise_id, Checked())

    def begin(self, exercise_id, fn, forward=None):
        """A check of ``exercise_id`` starts with these functions (what it keeps belongs to them)."""
        entry = self._entry(exercise_id)
        entry.fn, entry.forward, entry.kept = fn, forward, {}

    def record(self, exercise_id, report):
        self._entry(exercise_id).reports[bool(report.hidden)] = report

    def keep(self, exercise_id, key, value):
        """Keep ``value`` for ``exercise_id`` while its check runs (first value per key wins)."""
        self._entry(exercise_id).kept.setdefault(key, value)

    def get(self, exercise_id):
        """The :class:`Checked` entry of ``exercise_id``, or None when it was never checked."""
        entry = self.checked.get(exercise_id)
        return entry if entry is not None and entry.reports else None


_NOTEBOOK = Session()
_CURRENT = contextvars.ContextVar("nnbook_check_session", default=None)


def current():
    """The session that checks are recorded in: the grader's for this submission, or the notebook's."""
    s = _CURRENT.get()
    return _NOTEBOOK if s is None else s


@contextlib.contextmanager
def session(s=None):
    """Within this block, checks are recorded in ``s`` (default: a new, empty session)."""
    s = Session() if s is None else s
    token = _CURRENT.set(s)
    try:
        yield s
    finally:
        _CURRENT.reset(token)
