"""Learner-controlled text (names from file and folder names, error messages from a kernel) made
safe for each output: a spreadsheet cell, Markdown, HTML, the terminal.

- :func:`csv_cell`: a text cell that a spreadsheet would read as a formula (it starts with ``=``,
  ``+``, ``-``, ``@``, a tab or a carriage return, also after spaces or in their full-width forms)
  gets a leading ``'``, so it is shown as text.
- :func:`md_text` / :func:`md_code`: text in Markdown (one line; HTML special characters and the
  markup that works inside a line escaped: emphasis, code, links and images, table bars) / as a
  code span that the text cannot close.
- :func:`md_fence`: a fence for a code block that the text cannot close.
- :func:`block_text`: the text of a code block (a check's feedback, with a kernel's exception
  messages in it): colors dropped, every other control character (cursor moves, screen clears,
  terminal links) shown as ``?``, newlines kept.
- :func:`terminal_text`: control characters (ANSI escapes, bidirectional overrides) shown as ``?``.
- HTML uses :func:`html.escape` everywhere.
"""
import html
import re
import unicodedata

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_MD_PUNCT = re.compile(r"([\\`*_\[\]|~])")     # markup that works inside a line: emphasis, code, links, tables
_BACKTICKS = re.compile(r"`+")


def csv_cell(value):
    """``value`` for a CSV cell: numbers as they are; text that could start a formula gets a ``'``."""
    if not isinstance(value, str):
        return value
    if value.lstrip(" ").startswith(FORMULA_START):
        return "'" + value
    return value


def _controls(text, keep_newlines=False):
    out = []
    for ch in str(text):
        if keep_newlines and ch == "\n":
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf") and ch != "\t" or ch in "\u2028\u2029":
            out.append("?" if ch not in "\r\n" else " ")
        else:
            out.append(ch)
    return "".join(out)


def terminal_text(text):
    """One line for the terminal: control and format characters become ``?`` (newlines: spaces)."""
    return _controls(text)


def md_text(text):
    """Text inside Markdown (a heading, a list item, a table cell): one line, no HTML, no markup."""
    flat = html.escape(_controls(text), quote=False)
    return _MD_PUNCT.sub(r"\\\1", flat)


def md_code(text):
    """A Markdown code span showing ``text`` literally (the span cannot be closed from inside)."""
    flat = _controls(text)
    longest = max((len(m) for m in _BACKTICKS.findall(flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


_COLOR = re.compile(r"\x1b\[[0-9;]*m")


def block_text(text):
    """Several lines for a code block: ANSI colors removed, other control characters ``?``."""
    return _controls(_COLOR.sub("", str(text)), keep_newlines=True)


def md_fence(text):
    """A fence for a Markdown code block holding ``text`` (longer than any run of backticks in it)."""
    longest = max((len(m) for m in _BACKTICKS.findall(str(text))), default=0)
    return "`" * max(3, longest + 1)


def html_text(text):
    return html.escape(str(text))
