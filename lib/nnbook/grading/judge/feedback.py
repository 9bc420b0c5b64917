"""The outcome of one check — cases, problems, named mistakes — as plain text and as an HTML table.

:class:`Report` is what :func:`nnbook.grading.evaluate` returns. Each named mistake is a
:class:`Mistake`: a tiered :class:`~nnbook.grading.judge.exercise.Hint` and the cases it explains, said
once per check. ``Report.text()`` is the table for terminals, nbval and the grader's feedback;
``Report.html()`` the compact table JupyterLab shows (verdict and hints first, then one row per
case). Lines are wrapped at spaces only, so no number is ever cut in two.
"""
import html
import re
import textwrap
from dataclasses import dataclass, field

WIDTH = 100          # text lines are wrapped (at spaces) to this width
CODE_MARK = "code: "


@dataclass
class CaseResult:
    """The outcome of one case: its problems (empty when it passed), the hints explaining them, and
    notes: what the judge measured or how it judged (shown with the case, passed or not).

    A case whose only problem is of kind ``"not judged"`` was *skipped*: it counts neither as passed
    nor as failed (a backward's case where the learner's forward, which makes its cache, is wrong).
    """
    case: object
    problems: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    # sets of hint ids whose wrong alternatives all equal one output of this case (indistinguishable here)
    ambiguous: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def passed(self):
        return not self.problems

    @property
    def skipped(self):
        return bool(self.problems) and all(p.kind == "not judged" for p in self.problems)

    @property
    def failed(self):
        return bool(self.problems) and not self.skipped

    @property
    def mark(self):
        return "ok" if self.passed else "skip" if self.skipped else "FAIL"


class Verdict(list):
    """What an exercise's own judge returns (``Exercise.judge``): the case's problems (a list),
    with ``notes``, sentences shown with the case whether it passed or not (e.g. the accuracy
    the grader measured)."""

    def __init__(self, problems=(), notes=()):
        super().__init__(problems)
        self.notes = list(notes)


@dataclass
class Mistake:
    """A named mistake found in one check: its hint and the names of the cases it explains."""
    hint: object
    cases: list = field(default_factory=list)

    @property
    def id(self):
        return self.hint.id


@dataclass
class Report:
    """All cases of one exercise. ``not_written`` names the stub function, if any.

    Attributes:
        results: one :class:`CaseResult` per case, in order.
        mistakes: the named mistakes (:class:`Mistake`), each once, with the cases it explains.
        hints: the same hints as ``mistakes``, in the same order (:class:`Hint` objects).
        hint_level: 1 concept, 2 concept and formula (default), 3 also code.
        notes: lines shown under the heading: how the cases were judged (a backward: on which cache).
    """
    exercise: str
    results: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    not_written: str = None
    hidden: bool = False
    mistakes: list = field(default_factory=list)
    hint_level: int = 2
    notes: list = field(default_factory=list)

    @property
    def passed(self):
        """No case failed, and at least one was judged."""
        return (self.not_written is None and not any(r.failed for r in self.results)
                and any(not r.skipped for r in self.results))

    @property
    def n_passed(self):
        return sum(r.passed for r in self.results)

    @property
    def n_failed(self):
        return sum(r.failed for r in self.results)

    @property
    def n_skipped(self):
        return sum(r.skipped for r in self.results)

    @property
    def mistake_ids(self):
        """Ids of the named mistakes, e.g. ``["conv_backward_overwrites"]`` (for a class report)."""
        return [m.id for m in self.mistakes]

    def _label(self):
        return f"{self.exercise}" + (" (hidden cases)" if self.hidden else "")

    def _verdict(self):
        skipped = self.n_skipped
        if not skipped:
            if self.passed:
                return "all cases passed" if len(self.results) > 1 else "the case passed"
            return f"{self.n_passed} of {len(self.results)} cases passed"
        judged = len(self.results) - skipped
        if not judged:
            return "no case could be judged"
        return f"{self.n_passed} of {_plural(judged, 'judged case')} passed ({skipped} not judged)"

    def _numbers(self):
        return {m.id: i + 1 for i, m in enumerate(self.mistakes)}

    def _explains(self, mistake):
        failing = [r.case.name for r in self.results if r.failed]
        if len(failing) > 1 and sorted(mistake.cases) == sorted(failing):
            return "both failing cases" if len(failing) == 2 else f"all {len(failing)} failing cases"
        return "; ".join(mistake.cases)

    def text(self, hints=None):
        """The feedback table, as plain text (``hints``: level 1-3, default ``hint_level``)."""
        level = self.hint_level if hints is None else hints
        if self.not_written:
            return f"{self._label()}: {self.not_written} is not written yet (it raises NotImplementedError)."
        numbers = self._numbers()
        lines = [f"{self._label()}: {_plural(len(self.results), 'case')}"]
        for note in self.notes:
            lines += _wrap(note, "", 6, first="note: ")
        for r in self.results:
            refs = sorted({numbers[h.id] for h in r.hints if h.id in numbers})
            ref = f"  [hint {', '.join(map(str, refs))}]" if refs else ""
            lines += _wrap(f"{r.mark:4s}  {r.case.name}{ref}", "  ", 10)
            for p in r.problems:
                for i, part in enumerate(p.message.split("\n")):     # an exception's lines: where, what, ...
                    lines += _wrap(part, " " * (10 if i == 0 else 12), 4)
            for note in r.notes:
                lines += _wrap(note, " " * 10, 4)
        lines.append(self._verdict())
        for m in self.mistakes:
            n = numbers[m.id]
            head = f"hint {n}: " if len(self.mistakes) > 1 else "hint: "
            pad = " " * len(head)
            for kind, text in m.hint.levels(level):
                if kind == "concept":
                    lines += _wrap(text, "", len(head), first=head)
                elif kind == "formula":
                    lines += _wrap(text, pad, len("formula: "), first="formula: ")
                else:
                    code = text.splitlines() or [""]
                    lines.append(f"{pad}{CODE_MARK}{code[0]}")
                    lines += [f"{pad}{' ' * len(CODE_MARK)}{c}" for c in code[1:]]
            lines += _wrap(self._explains(m), pad, len("explains: "), first="explains: ")
        return "\n".join(lines)

    def html(self, hints=None):
        """A compact HTML table: the verdict and the hints first, then one row per case."""
        level = self.hint_level if hints is None else hints
        e = _html_text
        if self.not_written:
            return (f"<div class='nnbook-check'><b>{e(self._label())}</b>: <code>{e(self.not_written)}</code> "
                    "is not written yet (it raises NotImplementedError).</div>")
        color = "#080" if self.passed else "#b00"
        parts = [f"<div class='nnbook-check' style='{_BOX}'>",
                 f"<div><b>{e(self._label())}</b>: <b style='color:{color}'>{e(self._verdict())}</b></div>"]
        parts += [f"<div><small>{e(note)}</small></div>" for note in self.notes]
        if self.mistakes:
            items = []
            for m in self.mistakes:
                body = []
                for kind, text in m.hint.levels(level):
                    if kind == "concept":
                        body.append(f"<b>{e(text)}</b>")
                    elif kind == "formula":
                        body.append(f"<br>{e(text)}")
                    else:
                        body.append(f"<pre style='{_PRE}'>{html.escape(text)}</pre>")
                body.append(f"<br><small>explains: {e(self._explains(m))}</small>")
                items.append(f"<li>{''.join(body)}</li>")
            parts.append(f"<ol style='margin:.3em 0 .4em 1.4em;padding:0'>{''.join(items)}</ol>")
        numbers = self._numbers()
        rows = []
        for r in self.results:
            mark = ("<td style='color:#080;" + _TD + "'>ok</td>" if r.passed
                    else "<td style='color:#777;" + _TD + "'>skip</td>" if r.skipped
                    else "<td style='color:#b00;font-weight:bold;" + _TD + "'>FAIL</td>")
            refs = sorted({numbers[h.id] for h in r.hints if h.id in numbers})
            what = "<br>".join(["<br>".join(e(part) for part in p.message.split("\n")) for p in r.problems]
                               + [f"<small>{e(n)}</small>" for n in r.notes])
            if refs:
                what += f" <small>(hint {', '.join(map(str, refs))})</small>"
            rows.append(f"<tr>{mark}<td style='{_TD}'>{e(r.case.name)}</td><td style='{_TD}'>{what}</td></tr>")
        parts.append(f"<table style='border-collapse:collapse;margin:0'><tr><th style='{_TD}'></th>"
                     f"<th style='{_TD}'>case</th><th style='{_TD}'>what is wrong</th></tr>{''.join(rows)}</table>")
        parts.append("</div>")
        return "".join(parts)


_TD = "text-align:left;vertical-align:top;padding:.1em .6em;word-break:normal;overflow-wrap:normal"
_BOX = "font-size:var(--jp-code-font-size, 13px);line-height:1.4;word-break:normal;overflow-wrap:normal"
_PRE = "margin:.2em 0;padding:.3em;background:rgba(127,127,127,.1);white-space:pre;overflow-x:auto"
# a number (with its sign, decimals and exponent) or a short tuple like (2, 4): never broken
_UNBREAKABLE = re.compile(r"\((?:[-+]?[\d.e]+(?:, ?)?)+\)|[-+]?\d[\d.]*(?:e[-+]?\d+)?")


def _html_text(text):
    """Escaped text whose numbers and shape tuples cannot be wrapped in the middle."""
    out, last = [], 0
    for m in _UNBREAKABLE.finditer(text):
        out.append(html.escape(text[last:m.start()]))
        out.append(f"<span style='white-space:nowrap'>{html.escape(m.group(0))}</span>")
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _wrap(text, indent, hang, first=""):
    """Wrap one line at spaces only (never inside a number or a word): ``indent + first`` before
    the first line, ``indent`` plus ``hang`` spaces before the following ones."""
    glued = _GROUP.sub(lambda m: m.group(0).replace(" ", "\0"), text)   # keep (2, 4) and [n, c] whole
    lines = textwrap.wrap(glued, WIDTH, initial_indent=indent + first, subsequent_indent=indent + " " * hang,
                          break_long_words=False, break_on_hyphens=False) or [indent + first]
    return [line.replace("\0", " ") for line in lines]


_GROUP = re.compile(r"\[[^\[\]]{0,30}\]|\([^()]{0,30}\)")


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")
