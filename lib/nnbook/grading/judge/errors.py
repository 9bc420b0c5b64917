"""A learner's exception as one line that points at the learner's own code."""
import os
import sys
import traceback

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # lib/nnbook
_SYS_DIRS = tuple({os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


def describe_exception(exc):
    """``"ValueError: message (line 7 in conv2d_forward: out[n] = ...)"``, pointing at the learner's code."""
    msg = str(exc).strip().splitlines()
    msg = msg[0] if msg else ""
    if len(msg) > 160:
        msg = msg[:157] + "..."
    text = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    learner = _learner_frames(exc)
    if learner:
        f = learner[-1]
        code = (f.line or "").strip()
        text += f" (line {f.lineno} in {f.name}" + (f": {code}" if code else "") + ")"
    return text


def _learner_frames(exc):
    return [f for f in traceback.extract_tb(exc.__traceback__)
            if not os.path.abspath(f.filename).startswith((_PKG_DIR,) + _SYS_DIRS)]
