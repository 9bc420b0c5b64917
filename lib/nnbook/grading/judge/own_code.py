"""In a notebook: does the learner's function call nnbook's own implementation of what is graded?

:class:`OwnCodeWatch` (used by ``check``/``evaluate``) watches the learner's function while it runs
for calls into the code of the functions its exercise set declares ``not_available``; if the
function *is* or *wraps* nnbook's own implementation, every case fails with a plain message.
Graded runs enforce the same rule in the kernel instead (:mod:`nnbook.grading.run.guard`).
"""
import sys
import threading

from ..run.guard import resolve
from .compare import Problem
from .exercise import SETS


def sets_of(exercise_id):
    return [s for s in SETS.values() if exercise_id in s.exercises]


def _codes(obj):
    obj = getattr(obj, "__wrapped__", obj)
    if isinstance(obj, type):
        found = []
        for value in vars(obj).values():
            value = getattr(value, "__func__", getattr(value, "fget", value))
            # only the class's own methods (not functions merely stored on it, like ReLU._forward)
            if hasattr(value, "__code__") and value.__qualname__.startswith(obj.__qualname__ + "."):
                found.append(value.__code__)
        return found
    return [obj.__code__] if hasattr(obj, "__code__") else []


class OwnCodeWatch:
    """Watches the learner's function while it runs for calls into nnbook's own implementation of
    what the exercise's set grades (see the module docstring)."""

    enabled = True     # tests that use nnbook's own code as a stand-in for a learner's switch it off

    def __init__(self, exercise_id):
        self.exercise_id = exercise_id
        self.codes = {}
        self.set_names = []
        for s in sets_of(exercise_id):
            self.set_names.append(s.name)
            for dotted in s.not_available:
                try:
                    for code in _codes(resolve(dotted)):
                        self.codes.setdefault(code, dotted)
                except Exception:
                    continue
        self.used = set()
        self._depth = 0
        self._lock = threading.Lock()

    def wrap(self, fn):
        """``fn`` wrapped so that what it calls is watched (``None`` stays ``None``)."""
        if fn is None or not self.codes or not callable(fn) or not self.enabled:
            return fn
        for code in _codes(fn):
            if code in self.codes:
                self.used.add(self.codes[code])
        watch = self

        def watched(*args, **kwargs):
            previous = sys.getprofile()

            def profile(frame, event, arg):
                if event == "call":
                    name = watch.codes.get(frame.f_code)
                    if name is not None:
                        watch.used.add(name)
                if previous is not None:
                    previous(frame, event, arg)
            sys.setprofile(profile)
            try:
                return fn(*args, **kwargs)
            finally:
                sys.setprofile(previous)
        watched.__name__ = getattr(fn, "__name__", "function")
        watched.__wrapped_learner__ = fn
        return watched

    def verdict(self):
        """A plain sentence when nnbook's own implementation was used, else None."""
        if not self.used:
            return None
        names = ", ".join(sorted(self.used))
        return (f"{self.exercise_id}: your function is, or calls, nnbook's own implementation ({names}); "
                "that does not count as an answer — write your own")

    def finish(self, report):
        """Fail every case of ``report`` when nnbook's own implementation was used."""
        text = self.verdict()
        if text is None:
            return report
        for r in report.results:
            r.problems.append(Problem("own", "call", text))
        return report
