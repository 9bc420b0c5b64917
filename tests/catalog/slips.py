"""The machinery of the mistake catalog: correct answers written as a learner writes them, and the
realistic mistakes made from them, one slip each.

A catalog module (``tests/catalog/exN_name.py``) makes a :class:`Catalog`, writes each graded
function's correct answer as an ordinary function decorated with ``@catalog.correct`` (loops where a
learner writes loops), and lists the mistakes with :meth:`Catalog.slip`: the correct answer's source
with one or a few text edits (each ``old`` must occur exactly once), or a whole function
(:meth:`Catalog.written`) when the slip changes its shape. Every mistake states its cause: the id of
the :class:`~nnbook.grading.judge.exercise.Hint` that the check's first hint must have.

The functions are compiled from their source text (registered with :mod:`linecache`, so a traceback
shows the learner's line, as in a notebook) in a namespace that holds what the exercise notebook's
setup cell gives (``np``; ``F`` for the sets that allow it) and the set's other correct answers (a
residual block calls the learner's ``projection_shortcut``). The same source text is what the
fixture class of ``tests/test_feedback_class_report.py`` puts into notebook answer cells.

    .venv/bin/python -m catalog.slips ex3_convolution conv2d_backward flipped_kernel   # (from tests/)

prints one entry's source.
"""
import importlib
import inspect
import linecache
import re
import sys
import textwrap
from dataclasses import dataclass, field

import numpy as np

SETS = ("ex1_fully_connected", "ex2_training", "ex3_convolution", "ex4_pooling", "ex5_dropout",
        "ex6_batch_norm", "ex7_residual")


@dataclass
class Entry:
    """One answer of the catalog.

    Attributes:
        set: the exercise set (``"ex3_convolution"``).
        exercise: the graded function (``"conv2d_backward"``).
        name: short name of the slip (``"flipped_kernel"``); ``"correct"`` for the correct answer.
        cause: id of the Hint that the check's first hint must have (None for the correct answer).
        source: the learner's code, the whole function.
        note: the slip in words.
        also: ids of other hints the check may give after the first, each a true consequence of the
            same slip (said in the note); any other hint fails the catalog's test (hints that agree).
    """
    set: str
    exercise: str
    name: str
    cause: str
    source: str
    note: str = ""
    also: tuple = ()
    catalog: object = field(default=None, repr=False, compare=False)

    @property
    def id(self):
        return f"{self.exercise}/{self.name}"

    def function(self):
        """The function compiled from :attr:`source`, in the set's namespace (a new one each time)."""
        return self.catalog.compile(self)


class Catalog:
    """The correct answers and the mistakes of one exercise set (see the module docstring)."""

    def __init__(self, set_name, namespace=None):
        self.set = set_name
        self.base = {"np": np, **(namespace or {})}
        self.correct_entries = {}
        self.mistakes = []

    # --- writing the catalog -----------------------------------------------------------------------------
    def correct(self, fn):
        """Decorator: ``fn`` is the correct answer of the exercise named like it."""
        source = textwrap.dedent(inspect.getsource(fn))
        source = re.sub(r"^@\w+\.correct\n", "", source)
        self.correct_entries[fn.__name__] = Entry(self.set, fn.__name__, "correct", None, source, catalog=self)
        return fn

    def slip(self, exercise, name, cause, *edits, note="", also=()):
        """A mistake: the correct answer of ``exercise`` with ``edits`` (``(old, new)`` pairs) applied."""
        source = self.correct_entries[exercise].source
        for old, new in edits:
            n = source.count(old)
            if n != 1:
                raise ValueError(f"{self.set} {exercise}/{name}: {old!r} occurs {n} times in the correct answer")
            source = source.replace(old, new)
        return self._add(Entry(self.set, exercise, name, cause, source, note, tuple(also), catalog=self))

    def written(self, exercise, name, cause, source, note="", also=()):
        """A mistake written out whole (the slip changes more than a few words)."""
        return self._add(Entry(self.set, exercise, name, cause, textwrap.dedent(source).strip("\n") + "\n", note,
                               tuple(also), catalog=self))

    def _add(self, entry):
        if any(e.id == entry.id for e in self.mistakes):
            raise ValueError(f"{self.set}: two entries named {entry.id}")
        self.mistakes.append(entry)
        return entry

    # --- using it ----------------------------------------------------------------------------------------
    def namespace(self, skip=None):
        """What a notebook's answer cell sees: the setup's names and the set's other correct answers."""
        ns = dict(self.base)
        for exercise, entry in self.correct_entries.items():
            if exercise != skip:
                ns[exercise] = self._exec(entry, ns)
        return ns

    def _exec(self, entry, ns):
        filename = f"<catalog {self.set} {entry.id}>"
        linecache.cache[filename] = (len(entry.source), None, entry.source.splitlines(True), filename)
        exec(compile(entry.source, filename, "exec"), ns)
        return ns[entry.exercise]

    def compile(self, entry):
        return self._exec(entry, self.namespace(skip=entry.exercise))

    def answers(self):
        """``{exercise: correct function}``, compiled in one shared namespace (as in a notebook)."""
        ns = self.namespace()
        return {e: ns[e] for e in self.correct_entries}


def load(set_name):
    """The :class:`Catalog` of one exercise set."""
    return importlib.import_module(f"catalog.{set_name}").CATALOG


def every_mistake():
    return [e for s in SETS for e in load(s).mistakes]


def every_correct():
    return [e for s in SETS for e in load(s).correct_entries.values()]


def forward_for(entry):
    """A backward's forward, as the learner's check cell passes it: the catalog's correct forward."""
    from nnbook.grading import EXERCISES
    ex = EXERCISES[entry.exercise]
    if ex.kind != "backward":
        return None
    return entry.catalog.answers().get(ex.forward)


def judge(entry, hidden=False, hints=2):
    """``evaluate`` of the entry's function, as its check cell calls it."""
    from nnbook.grading import evaluate
    return evaluate(entry.exercise, entry.function(), forward_for(entry), hidden=hidden, hints=hints)


def what_is_wrong(entry, report):
    """Why ``report`` (the check of ``entry``) does not name the entry's slip right, or None when it does: the
    check fails; its first hint is the cause; it gives no hint beyond the cause and the entry's ``also``; and
    the cause explains every failing case (but those that only the ``also`` hints explain)."""
    ids = report.mistake_ids
    if report.passed:
        return "the check passes"
    if not ids:
        return "no hint"
    if ids[0] != entry.cause:
        return f"first hint {ids[0]}, not {entry.cause}"
    extra = set(ids) - {entry.cause, *entry.also}
    if extra:
        return f"hints beyond the cause: {sorted(extra)}"
    failing = {r.case.name for r in report.results
               if r.failed and not (r.hints and {h.id for h in r.hints} <= set(entry.also))}
    unexplained = failing - set(report.mistakes[0].cases)
    if unexplained:
        return f"the cause does not explain {sorted(unexplained)}"
    return None


if __name__ == "__main__":
    set_name, exercise, name = sys.argv[1:4]
    cat = load(set_name)
    found = [e for e in cat.mistakes + list(cat.correct_entries.values()) if e.exercise == exercise and e.name == name]
    print(found[0].source if found else f"no entry {exercise}/{name} in {set_name}")
