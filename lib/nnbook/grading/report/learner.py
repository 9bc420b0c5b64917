"""Grading results as a terminal table and as per-submission feedback (Markdown or HTML)."""
import html
import re
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _num(x):
    return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


def table(sub):
    """A few lines for the terminal: one row per exercise and the total."""
    head = f"{sub.student} ({sub.path})" + (f" — {sub.set_name}" if sub.set_name else "")
    if sub.error and not sub.tests:
        return f"{head}\n  ERROR: {sub.error}\n  total 0" + (f"/{_num(sub.max_points)}" if sub.max_points else "")
    width = max([len(t.grade_id) for t in sub.tests] + [8])
    lines = [head]
    if sub.error:
        lines.append(f"  ERROR: {sub.error}")
    for t in sub.tests:
        reason = f" — {t.reason}" if t.reason else ""
        lines.append(f"  {t.grade_id:<{width}}  {_num(t.points):>3}/{_num(t.max_points):<3} {t.status}{reason}")
    lines.append(f"  {'total':<{width}}  {_num(sub.total):>3}/{_num(sub.max_points)}")
    for flag in sub.flags:
        lines.append(f"  note: {flag} (look at it by hand)")
    return "\n".join(lines)


def markdown(sub):
    """Feedback for one submission, in Markdown."""
    out = [f"# Feedback: {sub.student}", "",
           f"- file: `{sub.path}`", f"- exercise set: {sub.set_name or '?'}",
           f"- score: **{_num(sub.total)} / {_num(sub.max_points)}**", ""]
    if sub.error:
        out += [f"**Error:** {sub.error}", ""]
    if sub.tests:
        out += ["| exercise | points | result |", "|---|---|---|"]
        for t in sub.tests:
            reason = f": {t.reason}" if t.reason else ""
            out.append(f"| `{t.grade_id}` | {_num(t.points)} / {_num(t.max_points)} | {t.status}{reason} |")
        out.append("")
    for t in sub.tests:
        if (t.status != "passed" or getattr(t, "notes", None)) and t.feedback.strip():   # notes: what was measured
            out += [f"## {t.grade_id}", "", "```", _ANSI.sub("", t.feedback).rstrip(), "```", ""]
    if sub.flags:
        out += ["## Notes for the grader", ""] + [f"- {f}" for f in sub.flags] + [""]
    return "\n".join(out)


_CODE_LINE = re.compile(r"^(\s*)code: ")


def feedback_html(text):
    """A check's text feedback as HTML: ``<pre>`` blocks, with each level-3 code hint (the lines
    starting ``code:`` and their continuation) behind a "show more" disclosure."""
    e = html.escape
    blocks, plain, lines, i = [], [], _ANSI.sub("", text).rstrip().splitlines(), 0
    while i < len(lines):
        m = _CODE_LINE.match(lines[i])
        if not m:
            plain.append(lines[i])
            i += 1
            continue
        indent = len(m.group(0))
        code = [lines[i][indent:]]
        i += 1
        while i < len(lines) and lines[i].startswith(" " * indent) and lines[i].strip():
            code.append(lines[i][indent:])
            i += 1
        if plain:
            blocks.append(f"<pre>{e(chr(10).join(plain))}</pre>")
            plain = []
        blocks.append(f"<details><summary>show more: the code</summary><pre>{e(chr(10).join(code))}</pre></details>")
    if plain:
        blocks.append(f"<pre>{e(chr(10).join(plain))}</pre>")
    return "".join(blocks)


def html_report(sub):
    """Feedback for one submission, as a standalone HTML page (with the difference pictures)."""
    e = html.escape
    rows = "".join(f"<tr><td><code>{e(t.grade_id)}</code></td><td>{_num(t.points)} / {_num(t.max_points)}</td>"
                   f"<td class='{'ok' if t.status == 'passed' else 'bad'}'>{e(t.status)}"
                   f"{': ' + e(t.reason) if t.reason else ''}</td></tr>" for t in sub.tests)
    parts = [f"<h1>Feedback: {e(sub.student)}</h1>",
             f"<p>file <code>{e(str(sub.path))}</code> — exercise set {e(sub.set_name or '?')} — "
             f"score <b>{_num(sub.total)} / {_num(sub.max_points)}</b></p>"]
    if sub.error:
        parts.append(f"<p class='bad'><b>Error:</b> {e(sub.error)}</p>")
    if rows:
        parts.append(f"<table><tr><th>exercise</th><th>points</th><th>result</th></tr>{rows}</table>")
    for t in sub.tests:
        if (t.status != "passed" or getattr(t, "notes", None)) and t.feedback.strip():
            parts.append(f"<h2>{e(t.grade_id)}</h2>{feedback_html(t.feedback)}")
            parts += [f"<img alt='expected, got and their difference' src='data:image/png;base64,{img}'>"
                      for img in t.images]
    if sub.flags:
        parts.append("<h2>Notes for the grader</h2><ul>" + "".join(f"<li>{e(f)}</li>" for f in sub.flags) + "</ul>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .8em;"
             "border-bottom:1px solid #ddd;text-align:left}.ok{color:#080}.bad{color:#b00}"
             "pre{background:#f6f6f6;padding:.6em;overflow-x:auto;margin:0}details{margin:0 0 0 2em}"
             "summary{cursor:pointer;color:#555}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback {e(sub.student)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def write_feedback(sub, folder, fmt="md", taken=None):
    """Write ``folder/<student>_<set>.md`` (or ``.html``); returns the path.

    ``taken``: a set of paths already written in this run; a clash gets a ``-2``, ``-3``... suffix.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", f"{sub.student}_{sub.set_name or sub.path.stem}")
    ext = "html" if fmt == "html" else "md"
    path, n = folder / f"{stem}.{ext}", 1
    while taken is not None and path in taken:
        n += 1
        path = folder / f"{stem}-{n}.{ext}"
    if taken is not None:
        taken.add(path)
    path.write_text(html_report(sub) if fmt == "html" else markdown(sub), encoding="utf-8")
    return path
