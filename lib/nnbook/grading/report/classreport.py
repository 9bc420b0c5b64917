"""The class report written next to the gradebook: what to re-teach, at a glance.

Per exercise set and exercise: how many learners got each score, and, for the learners who failed, the
mistake that each one's **first** hint named (``TestResult.mistake``: a hint's label and stable id), each
failing learner counted once, under that mistake only; a failing learner whose feedback named no mistake
(an exception no hint explains, a time-out, an answer not written) is listed as "failed, no named mistake"
with the reason. Nothing is counted under a mistake its learner was not told about first.
``class_report.md`` and ``class_report.html`` (with a figure of the score distributions),
rewritten (atomically) as each notebook finishes; at the end, the submissions that were not graded,
with the reason (names are escaped: :mod:`.safe`).
"""
import base64
import html
import io
from collections import Counter
from pathlib import Path

from .gradebook import atomic_write
from .safe import md_code, md_text

NO_NAMED_MISTAKE = "failed, no named mistake"


def _why(t):
    """Why a failing test named no mistake, in a few words."""
    if t.status == "not written":
        return "not written"
    if t.status == "timeout":
        return "timed out"
    if t.status == "not run":
        return "not run" + (f": {t.reason}" if t.reason else "")
    return (t.reason or t.status)[:80]


def summarize(subs, sets):
    """``{set: {"learners": n, "exercises": {grade_id: {"max", "scores", "failed", "mistakes", "who",
    "unnamed"}}}}``: ``mistakes`` counts failing learners by the mistake their first hint named, ``who`` lists
    them, ``unnamed`` is ``[(learner, why)]`` for the failing learners whose feedback named no mistake."""
    out = {}
    for s in subs:
        if not s.set_name or s.error and not s.tests:
            continue
        entry = out.setdefault(s.set_name, {"learners": 0, "exercises": {}})
        entry["learners"] += 1
        for t in s.tests:
            ex = entry["exercises"].setdefault(t.grade_id, {"max": t.max_points, "scores": Counter(), "failed": 0,
                                                            "mistakes": Counter(), "who": {}, "unnamed": []})
            ex["scores"][t.points] += 1
            if t.status == "passed":
                continue
            ex["failed"] += 1
            mistake = getattr(t, "mistake", "")
            if mistake:
                ex["mistakes"][mistake] += 1
                ex["who"].setdefault(mistake, []).append(s.student)
            else:
                ex["unnamed"].append((s.student, _why(t)))
    order = {name: list(sets[name].points) if name in sets else [] for name in out}
    for name, entry in out.items():
        entry["exercises"] = {g: entry["exercises"][g] for g in order[name] if g in entry["exercises"]} | \
            {g: v for g, v in entry["exercises"].items() if g not in order[name]}
    return dict(sorted(out.items()))


def _num(x):
    return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


def _names(names, esc):
    return ", ".join(esc(n) for n in sorted(names))


def failure_lines(ex, esc=str):
    """``[(count, text)]``: one per named mistake (most learners first), then the failures without one.
    ``esc`` escapes what learners control (their names, their exceptions' text) for the output format."""
    lines = [(c, f"{mistake} ({_names(ex['who'][mistake], esc)})") for mistake, c in
             sorted(ex["mistakes"].items(), key=lambda kv: (-kv[1], kv[0]))]
    if ex["unnamed"]:
        lines.append((len(ex["unnamed"]), f"{NO_NAMED_MISTAKE} ("
                      + "; ".join(f"{esc(who)}: {esc(why)}" for who, why in sorted(ex["unnamed"])) + ")"))
    return lines


def not_graded(subs):
    """``[(student, file, reason)]`` of the submissions that got no grade at all."""
    return [(s.student, str(s.path), s.error) for s in subs if s.error and not any(t.status != "not run" for t in s.tests)]


def markdown(summary, skipped=()):
    lines = ["# Class report", ""]
    if skipped:
        lines += [f"## Not graded ({len(skipped)})", "", "| student | file | reason |", "|---|---|---|"]
        lines += [f"| {md_text(who)} | {md_code(path)} | {md_text(why)} |" for who, path, why in skipped]
        lines.append("")
    if not summary:
        return "\n".join(lines + ["No graded submissions.", ""])
    for name, entry in summary.items():
        n = entry["learners"]
        lines += [f"## {name} ({n} learner{'s' if n != 1 else ''})", "",
                  "| exercise | full marks | score distribution (points: learners) | mean |", "|---|---|---|---|"]
        for gid, ex in entry["exercises"].items():
            total = sum(ex["scores"].values())
            full = ex["scores"].get(ex["max"], 0)
            dist = ", ".join(f"{_num(p)}: {c}" for p, c in sorted(ex["scores"].items()))
            mean = sum(p * c for p, c in ex["scores"].items()) / max(total, 1)
            lines.append(f"| `{gid}` | {full} of {total} | {dist} | {mean:.2g} / {_num(ex['max'])} |")
        lines.append("")
        for gid, ex in entry["exercises"].items():
            if ex["failed"]:
                lines.append(f"**{gid}**: {ex['failed']} of {n} failed; the mistake each one's first hint named:")
                lines += [f"- {c} of {n}: {text}" for c, text in failure_lines(ex, md_text)]
                lines.append("")
    return "\n".join(lines)


_FIGURES = {}          # (title, scores) -> PNG
_LATEST = {}           # title -> the PNG drawn last
_DRAWN = {"at": None}  # when figures were last drawn
REDRAW_SECONDS = 30.0


def _figure(entry, title, fresh=True):
    """:func:`figure_png`, drawn again only when the set's scores changed. With ``fresh=False``
    (during a run, where the report is rewritten after every notebook) at most one figure is drawn
    per :data:`REDRAW_SECONDS` (drawing one costs about as much as grading a notebook): meanwhile
    the set's last figure is shown, or none (None) until its first is drawn."""
    import time
    key = (title, tuple((g, ex["max"], tuple(sorted(ex["scores"].items()))) for g, ex in entry["exercises"].items()))
    if key in _FIGURES:
        return _FIGURES[key]
    recent = _DRAWN["at"] is not None and time.monotonic() - _DRAWN["at"] < REDRAW_SECONDS
    if not fresh and recent:
        return _LATEST.get(title)
    if len(_FIGURES) > 64:
        _FIGURES.clear()
    _FIGURES[key] = _LATEST[title] = figure_png(entry, title)
    _DRAWN["at"] = time.monotonic()
    return _FIGURES[key]


def figure_png(entry, title):
    """Bar charts of the score distribution, one panel per exercise (PNG, base64)."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    exercises = list(entry["exercises"].items())
    fig, axes = plt.subplots(1, len(exercises), figsize=(2.6 * len(exercises), 2.6), squeeze=False)
    for ax, (gid, ex) in zip(axes[0], exercises):
        scores = sorted(set(ex["scores"]) | {0, ex["max"]})
        ax.bar([_num(p) for p in scores], [ex["scores"].get(p, 0) for p in scores], color="#4a7fb5")
        ax.set_title(gid, fontsize=9)
        ax.set_xlabel("points", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].set_ylabel("learners", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def html_page(summary, skipped=(), fresh=True):
    e = html.escape
    parts = ["<h1>Class report</h1>"]
    if skipped:
        rows = "".join(f"<tr><td>{e(who)}</td><td><code>{e(path)}</code></td><td>{e(why)}</td></tr>"
                       for who, path, why in skipped)
        parts.append(f"<h2>Not graded ({len(skipped)})</h2><table><tr><th>student</th><th>file</th>"
                     f"<th>reason</th></tr>{rows}</table>")
    if not summary:
        parts.append("<p>No graded submissions.</p>")
    for name, entry in summary.items():
        n = entry["learners"]
        parts.append(f"<h2>{e(name)} ({n} learner{'s' if n != 1 else ''})</h2>")
        try:
            png = _figure(entry, f"{name}: score distribution", fresh)
            parts.append(f"<img alt='score distribution per exercise' src='data:image/png;base64,{png}'>" if png
                         else "<p>(the figure is drawn as the run goes on)</p>")
        except Exception as exc:                 # the tables still say everything
            parts.append(f"<p>(no figure: {e(str(exc))})</p>")
        rows = []
        for gid, ex in entry["exercises"].items():
            total = sum(ex["scores"].values())
            dist = ", ".join(f"{_num(p)}: {c}" for p, c in sorted(ex["scores"].items()))
            failed = "".join(f"<li>{c} of {n}: {e(text)}</li>" for c, text in failure_lines(ex))
            rows.append(f"<tr><td><code>{e(gid)}</code></td><td>{ex['scores'].get(ex['max'], 0)} of {total}</td>"
                        f"<td>{e(dist)}</td><td><ul>{failed}</ul></td></tr>")
        parts.append("<table><tr><th>exercise</th><th>full marks</th><th>scores (points: learners)</th>"
                     f"<th>failed: the mistake the first hint named</th></tr>{''.join(rows)}</table>")
    style = ("body{font-family:sans-serif;max-width:70em;margin:2em auto}td,th{padding:.2em .8em;"
             "border-bottom:1px solid #ddd;text-align:left;vertical-align:top}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report</title><style>{style}</style>"
            f"</head><body>{''.join(parts)}</body></html>\n")


def write_class_report(subs, sets, folder, fresh=True):
    """Write ``folder/class_report.md`` and ``.html`` (atomically); returns their paths.
    ``fresh=False``: a figure may be up to :data:`REDRAW_SECONDS` old (see :func:`_figure`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    summary, skipped = summarize(subs, sets), not_graded(subs)
    md, page = folder / "class_report.md", folder / "class_report.html"
    atomic_write(md, markdown(summary, skipped))
    atomic_write(page, html_page(summary, skipped, fresh))
    return [md, page]
