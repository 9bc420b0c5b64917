"""A learner's exception as feedback: where (the learner's line), what (in the learner's terms: which of
the learner's arrays had which shape, and what the case expected), never a bare NumPy message alone.

:func:`error_facts` collects the facts of an exception raised in this process (the innermost frame of
the learner's code, the line, the shapes of the arrays named on it); in a graded run the kernel-side
server collects the same facts (:mod:`nnbook.grading.run.channel`) and they arrive with the
:class:`~nnbook.grading.run.channel.LearnerError`. :func:`exception_problem` turns them into the
``"exception"`` :class:`~.compare.Problem` of a case, whose ``facts`` the hint rules read
(:mod:`.mistakes` has the generic ones: shapes that do not broadcast, a matrix product whose inner
sizes differ, an index past the end, a cache unpacked into other names).
"""
import os
import re
import sys
import traceback
from dataclasses import dataclass

import numpy as np

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # lib/nnbook
_SYS_DIRS = tuple({os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
MAX_ARRAYS = 8
_NAME = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class ErrorFacts:
    """What is known about one exception of the learner's code.

    Attributes:
        type: the exception's class name (``"ValueError"``).
        message: its first line.
        line, function, code: the learner's innermost line that raised (number, function, text).
        arrays: ``((name, shape, dtype), ...)``: the arrays named on that line, as they were then.
    """
    type: str
    message: str
    line: int = 0
    function: str = ""
    code: str = ""
    arrays: tuple = ()

    def shapes(self):
        """``{name: shape}`` of the arrays on the line."""
        return {name: tuple(shape) for name, shape, _ in self.arrays}

    def message_shapes(self):
        """The shapes NumPy's message names (``"shapes (2,3) (4,)"`` -> ``[(2, 3), (4,)]``), in order, once each."""
        found = [tuple(int(d) for d in re.findall(r"\d+", m)) for m in re.findall(r"\(([\d,\s]*)\)", self.message)]
        return list(dict.fromkeys(found))


def _is_learner(filename):
    path = os.path.abspath(filename)
    return not path.startswith((_PKG_DIR,) + _SYS_DIRS)


def _learner_frames(exc):
    return [f for f in traceback.extract_tb(exc.__traceback__) if _is_learner(f.filename)]


def arrays_on_line(code, variables):
    """``((name, shape, dtype), ...)`` of the arrays among ``variables`` named in ``code``."""
    found = []
    for name in dict.fromkeys(_NAME.findall(code or "")):
        value = variables.get(name)
        if isinstance(value, np.ndarray):
            found.append((name, tuple(int(s) for s in value.shape), value.dtype.name))
        if len(found) == MAX_ARRAYS:
            break
    return tuple(found)


def error_facts(exc):
    """The :class:`ErrorFacts` of ``exc``: those the kernel sent with it, or read from its traceback."""
    sent = getattr(exc, "facts", None)
    if isinstance(sent, ErrorFacts):
        return sent
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    tb, last = exc.__traceback__, None
    while tb is not None:
        if _is_learner(tb.tb_frame.f_code.co_filename):
            last = tb
        tb = tb.tb_next
    if last is None:
        return ErrorFacts(type(exc).__name__, message)
    frame = [f for f in traceback.extract_tb(exc.__traceback__) if _is_learner(f.filename)][-1]
    code = (frame.line or "").strip()
    try:
        arrays = arrays_on_line(code, last.tb_frame.f_locals)
    except Exception:
        arrays = ()
    return ErrorFacts(type(exc).__name__, message, frame.lineno, frame.name, code, arrays)


def describe_exception(exc):
    """``"ValueError: message (line 7 in conv2d_forward: out[n] = ...)"``: one line."""
    facts = error_facts(exc)
    msg = facts.message if len(facts.message) <= 160 else facts.message[:157] + "..."
    text = f"{facts.type}: {msg}" if msg else facts.type
    if facts.line:
        text += f" (line {facts.line} in {facts.function}" + (f": {facts.code}" if facts.code else "") + ")"
    return text


# --- NumPy's messages, said in the learner's terms ------------------------------------------------------------

def _shape(text):
    """``"(2,4,3)"`` or ``"2,4,3"`` -> ``"(2, 4, 3)"``."""
    sizes = [s for s in re.split(r"[,\s()]+", text) if s]
    return "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"


_SHAPE = r"\(([\d,\s]*)\)"
_PLAIN = (
    (re.compile(r"operands could not be broadcast together with (?:remapped )?shapes (?:\[original->remapped\]: )?"
                r"(.*)"),
     lambda m: "NumPy could not combine arrays of shapes " + " and ".join(dict.fromkeys(
         _shape(s) for s in re.findall(r"\(([\d,\s]*)\)(?:->\([^)]*\))?", m.group(1))[:3]))
     + " element by element (lined up from the last axis, each pair of sizes must be equal, or one of them 1)"),
    (re.compile(rf"could not broadcast input array from shape {_SHAPE} into shape {_SHAPE}"),
     lambda m: f"an array of shape {_shape(m.group(1))} cannot be assigned into a slice of shape "
               f"{_shape(m.group(2))}"),
    (re.compile(rf"non-broadcastable output operand with shape {_SHAPE} doesn't match the broadcast shape {_SHAPE}"),
     lambda m: f"an in-place operation (+=, -=, *=) on an array of shape {_shape(m.group(1))} would have to "
               f"make it {_shape(m.group(2))}"),
    (re.compile(r"matmul: Input operand \d has a mismatch in its core dimension \d.*\(size (\d+) is different "
                r"from (\d+)\)"),
     lambda m: f"a matrix product A @ B needs A's last size to equal B's first; here they are {m.group(2)} "
               f"and {m.group(1)}"),
    (re.compile(r"shapes \(([\d,\s]*)\) and \(([\d,\s]*)\) not aligned"),
     lambda m: f"a matrix product of shapes {_shape(m.group(1))} and {_shape(m.group(2))}: A's last size must "
               "equal B's first"),
    (re.compile(r"shape-mismatch for sum"),
     lambda m: "np.tensordot: the axes summed over have different sizes in the two arrays"),
    (re.compile(r"cannot reshape array of size (\d+) into shape \(([^)]*)\)"),
     lambda m: f"an array of {m.group(1)} numbers cannot be reshaped to ({m.group(2).replace('newaxis', '-1')})"),
    (re.compile(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)"),
     lambda m: f"index {m.group(1)} is past the end of axis {m.group(2)}, which has {m.group(3)} entries "
               f"(0 to {int(m.group(3)) - 1})"),
    (re.compile(r"too many values to unpack \(expected (\d+)\)"),
     lambda m: f"the value unpacked into {m.group(1)} names has more entries than that"),
    (re.compile(r"not enough values to unpack \(expected (\d+), got (\d+)\)"),
     lambda m: f"the value unpacked into {m.group(1)} names has only {m.group(2)} entries"),
    (re.compile(r"unsupported operand type\(s\) for .*'NoneType'|'NoneType' object"),
     lambda m: "a value was None (a function without a return statement? a cache that is None?)"),
)


def plain_message(facts):
    """The exception's message in the learner's terms where NumPy's is cryptic (else the message)."""
    for pattern, say in _PLAIN:
        m = pattern.search(facts.message)
        if m:
            try:
                return say(m)
            except Exception:           # an odd message: say it as it is
                break
    return facts.message


def describe_value(name, value):
    """``"x (2, 3, 4)"``, ``"stride 2"``, ``"cache (x (2, 3), W (3, 4), b (4,))"``: a value as the table shows it."""
    if isinstance(value, np.ndarray):
        return f"{name} {_tuple(value.shape)}"
    if isinstance(value, list) and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return f"{name} ({', '.join(describe_value(n, v) for n, v in value)})"      # named parts (a cache)
    if value is None or isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
        return f"{name} {value!r}".strip()
    if isinstance(value, dict):
        return f"{name} (a dict of {len(value)})"
    return f"{name} ({type(value).__name__})".strip()


def _tuple(shape):
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def exception_problem(exc, inputs=(), expected=None, prefix=""):
    """The ``"exception"`` Problem of one case: the learner's line, what went wrong in the learner's terms, the
    shapes of the arrays on that line, and the case's inputs and expected outputs.

    Args:
        inputs: ``[(name, value)]``: what the learner's function was given.
        expected: ``{output: value}`` of the reference (only shapes are shown).
        prefix: e.g. ``"step 2 of 5: "``.
    """
    from .compare import Problem
    if type(exc).__name__ == "CallTimeout":          # the grader's time limit, not the learner's exception
        return Problem("timeout", "call", f"{prefix}{exc} (an endless loop?)")
    facts = error_facts(exc)
    where = f" at line {facts.line} in {facts.function}: {facts.code}" if facts.line else ""
    lines = [f"{prefix}raised {facts.type}{where}"]
    said = plain_message(facts)
    if said:
        lines.append(said if said != facts.message or not facts.type else f"{facts.type}: {said}")
    if facts.arrays:
        lines.append("your arrays on that line: " + ", ".join(f"{n} {_tuple(s)}" for n, s, _ in facts.arrays))
    case = [describe_value(n, v) for n, v in inputs if n != "rng"]
    if case:
        out = ", ".join(f"{k} {_tuple(v.shape)}" for k, v in (expected or {}).items() if isinstance(v, np.ndarray))
        lines.append("this case: " + ", ".join(case) + (f"; expected {out}" if out else ""))
    return Problem("exception", "call", "\n".join(lines), facts=facts)
