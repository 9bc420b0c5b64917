"""Run an exercise's graded cases against a learner's function and explain what went wrong.

    check("conv2d_forward", conv2d_forward)                   # in a notebook: prints a table
    check("conv2d_backward", conv2d_backward, conv2d_forward) # backward: also give your forward
    report = evaluate("relu_forward", relu_forward)           # the same, as data

``check`` raises :class:`ExerciseFailed` (an AssertionError) when a case fails and
``NotImplementedError`` when the function is still the stub, so a test cell that calls it
fails exactly when the exercise is not solved. It never lets a learner's exception escape:
exceptions become a line in the table, with the learner's line of code.
"""
import os
import sys
import traceback
from dataclasses import dataclass, field

import numpy as np

from ..gradcheck import numerical_gradient, rel_error
from .cases import Rng, arrays_in, call_args
from .compare import Problem, compare_output, same_values
from .exercises import EXERCISES, dout_for, reference_out
from .guard import OwnCodeWatch

GRADCHECK_TOL = 1e-5
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # lib/nnbook
_SYS_DIRS = tuple({os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


class ExerciseFailed(AssertionError):
    """Some graded cases failed; the table printed above says which and why."""

    def _render_traceback_(self):     # IPython shows this instead of a long traceback
        return [f"\x1b[31mExerciseFailed\x1b[0m: {self}"]


class _NotWritten(Exception):
    def __init__(self, name):
        super().__init__(name)
        self.name = name


@dataclass
class CaseResult:
    """The outcome of one case: its problems (empty when it passed) and hints."""
    case: object
    problems: list = field(default_factory=list)
    hints: list = field(default_factory=list)

    @property
    def passed(self):
        return not self.problems


@dataclass
class Report:
    """All cases of one exercise. ``not_written`` names the stub function, if any."""
    exercise: str
    results: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    not_written: str = None
    hidden: bool = False

    @property
    def passed(self):
        return self.not_written is None and all(r.passed for r in self.results)

    @property
    def n_passed(self):
        return sum(r.passed for r in self.results)

    def text(self):
        """The feedback table, as plain text."""
        label = f"{self.exercise}" + (" (hidden cases)" if self.hidden else "")
        if self.not_written:
            return f"{label}: {self.not_written} is not written yet (it raises NotImplementedError)."
        lines = [f"{label}: {_plural(len(self.results), 'case')}"]
        for r in self.results:
            lines.append(f"  {'ok  ' if r.passed else 'FAIL'}  {r.case.name}")
            for p in r.problems:
                lines.append(f"          {p.message}")
            for h in r.hints:
                lines.append(f"          hint: {h}")
        if self.passed:
            lines.append("all cases passed" if len(self.results) > 1 else "the case passed")
        else:
            lines.append(f"{self.n_passed} of {len(self.results)} cases passed")
        for h in self.hints:
            lines.append(f"hint: {h}")
        return "\n".join(lines)


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


# ----------------------------------------------------------------------------------------
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


def _call(fn, name, *args, **kwargs):
    try:
        return True, fn(*args, **kwargs)
    except NotImplementedError as exc:
        frames = _learner_frames(exc)             # the stub may be a helper that fn calls
        raise _NotWritten(frames[-1].name if frames and frames[-1].name != "<module>" else name)
    except (Exception, SystemExit) as exc:    # a learner's bug: report it, never crash
        return False, exc


def _fresh_rngs(value):
    """Replace Rng placeholders by new generators; keep arrays as the same objects."""
    if isinstance(value, Rng):
        return np.random.default_rng(value.seed)
    if isinstance(value, dict):
        return {k: _fresh_rngs(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_fresh_rngs(v) for v in value)
    return value


def _unpack(result, names, who):
    """Split a learner's return value into the named outputs, or return a structure Problem."""
    if len(names) == 1:
        if isinstance(result, tuple):
            return None, Problem("structure", names[0], f"{who} returned a tuple of {len(result)}; "
                                 f"expected just {names[0]}")
        return {names[0]: result}, None
    if not isinstance(result, tuple) or len(result) != len(names):
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        return None, Problem("structure", names[0], f"{who} returned {got}; expected a tuple "
                             f"({', '.join(names)})")
    return dict(zip(names, result)), None


def _inplace_problems(originals, used):
    problems = []
    for (name, before), (_, after) in zip(originals, used):
        if before.shape != after.shape or not np.array_equal(before, after, equal_nan=True):
            problems.append(Problem("inplace", name, f"input {name} was modified in place"))
    return problems


def _named_arrays(args, kwargs, arg_names):
    out = []
    for i, a in enumerate(args):
        out += list(arrays_in(a, arg_names[i] if i < len(arg_names) else f"arg{i}"))
    for k, v in kwargs.items():
        out += list(arrays_in(v, k))
    return out


ARG_NAMES = ("x", "W", "b")


def _arg_names(ex):
    return {"shortcut_forward": ("x", "y"), "shortcut_backward": ("x", "y"),
            "softmax_cross_entropy": ("logits", "y"), "projection_shortcut": ("h", "W"),
            "residual_block_forward": ("x", "params")}.get(ex.id, ARG_NAMES)


def _run_direct(ex, case, fn):
    """Forward and function exercises: call fn on the case and compare with the reference."""
    args, kwargs = call_args(case)
    names = _arg_names(ex)
    originals = [(n, a.copy()) for n, a in _named_arrays(args, kwargs, names)]
    ok, result = _call(fn, ex.id, *args, **kwargs)
    if not ok:
        return [Problem("exception", "call", f"raised {describe_exception(result)}")], {}
    if ex.kind == "forward":
        if not isinstance(result, tuple) or len(result) != 2:
            got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
            return [Problem("structure", "out", f"returned {got}; expected (out, cache)")], {}
        got = {"out": result[0]}
    else:
        got, problem = _unpack(result, ex.outputs, ex.id)
        if problem:
            return [problem], {}
    expected = ex.reference(case)
    problems = [p for name in ex.outputs if (p := compare_output(name, expected[name], got[name]))]
    problems += _inplace_problems(originals, _named_arrays(args, kwargs, names))
    return problems, expected


def _run_backward(ex, case, fn, forward):
    args, kwargs = call_args(case)
    ok, fres = _call(forward, ex.forward, *args, **kwargs)
    if not ok:
        return [Problem("exception", "forward", f"your {ex.forward} raised {describe_exception(fres)}, "
                        "so there is no cache to run backward on")], {}
    if not isinstance(fres, tuple) or len(fres) != 2:
        return [Problem("structure", "forward", f"your {ex.forward} must return (out, cache)")], {}
    out, cache = fres
    try:
        expected = ex.reference(case, out)
    except Exception:                   # the learner's out is unusable: use the reference's
        expected = ex.reference(case, None)
    dout = dout_for(case, reference_out(ex.ref_forward, case))
    dout_before = dout.copy()
    ok, result = _call(fn, ex.id, dout, cache)
    if not ok:
        return [Problem("exception", "call", f"raised {describe_exception(result)}")], expected
    got, problem = _unpack(result, ex.outputs, ex.id)
    if problem:
        return [problem], expected
    problems = [p for name in ex.outputs if (p := compare_output(name, expected[name], got[name]))]
    if not np.array_equal(dout, dout_before):
        problems.append(Problem("inplace", "dout", "input dout was modified in place"))
    return problems, expected


def _run_gradcheck(ex, case, fn, forward):
    """Learner's backward (on the learner's own cache) vs a numerical gradient (float64) of the
    reference forward, or of the learner's forward when ``ex.gradcheck_forward == "learner"``."""
    if ex.gradcheck is not None:
        ok, errs = _call(ex.gradcheck, ex.id, fn, case)
        if not ok:
            return [Problem("exception", "call", f"raised {describe_exception(errs)}")]
        return [Problem("gradcheck", n, f"{n}: disagrees with the numerical gradient (relative error {e:.2g})")
                for n, e in errs if not e <= GRADCHECK_TOL]
    args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in case.args)   # Rng placeholders kept
    kwargs = dict(case.kwargs)
    own = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)  # the learner's forward may change them
    ok, fres = _call(forward, ex.forward, *_fresh_rngs(own), **_fresh_rngs(kwargs))
    if not ok:
        return [Problem("exception", "forward", f"your {ex.forward} raised {describe_exception(fres)}")]
    if not isinstance(fres, tuple) or len(fres) != 2 or not isinstance(fres[0], np.ndarray):
        return [Problem("structure", "forward", f"your {ex.forward} must return (out, cache)")]
    out, cache = fres
    if ex.gradcheck_forward != "learner":
        out = ex.ref_forward(*_fresh_rngs(args), **_fresh_rngs(kwargs))[0]
    dout = np.random.default_rng(case.seed).standard_normal(out.shape)
    ok, result = _call(fn, ex.id, dout, cache)
    if not ok:
        return [Problem("exception", "call", f"raised {describe_exception(result)}")]
    got, problem = _unpack(result, ex.outputs, ex.id)
    if problem:
        return [problem]
    problems = []
    differentiate = forward if ex.gradcheck_forward == "learner" else ex.ref_forward
    for name, idx in zip(ex.outputs, ex.grad_args):
        x = args[idx]

        def f():
            return differentiate(*_fresh_rngs(args), **_fresh_rngs(kwargs))[0]
        ok, num = _call(numerical_gradient, ex.forward, f, x, dout)
        if not ok:
            return [Problem("exception", "forward", f"your {ex.forward} raised {describe_exception(num)}")]
        g = got[name]
        if not isinstance(g, np.ndarray) or g.shape != num.shape:
            shape = getattr(g, "shape", type(g).__name__)
            problems.append(Problem("shape", name, f"{name}: expected shape {num.shape}, got {shape}"))
            continue
        if not np.issubdtype(g.dtype, np.floating):
            problems.append(Problem("dtype", name, f"{name}: expected a float array, got dtype {g.dtype}"))
            continue
        err = rel_error(g, num)
        if not err <= GRADCHECK_TOL:
            problems.append(Problem("gradcheck", name, f"{name}: disagrees with the numerical gradient "
                                    f"(relative error {err:.2g})"))
    return problems


def _run_judge(ex, case, fn, forward):
    """An exercise with its own judging (see ``Exercise.judge``); its crash is a learner's bug only
    when the learner's code raised, so it is reported like one."""
    ok, problems = _call(ex.judge, ex.id, fn, forward, case)
    if not ok:
        return [Problem("exception", "call", f"raised {describe_exception(problems)}")]
    return list(problems)


def _hints(ex, case, problems, expected):
    """Hints for a case's problems; a hint rule that trips over odd output gives no hint."""
    hints = []
    for p in problems:
        if ex.alternatives is not None and p.kind in ("values", "shape", "dtype") and expected:
            try:
                for name, alt, hint in ex.alternatives(case, expected):
                    if name == p.output and hint and same_values(alt.astype(p.got.dtype, copy=False)
                                                                 if isinstance(p.got, np.ndarray) else alt, p.got):
                        hints.append(hint)
            except Exception:
                pass
        for rule in ex.rules:
            try:
                h = rule(case, p)
            except Exception:
                h = None
            if h:
                hints.append(h)
    return list(dict.fromkeys(hints))


def _summary_hints(ex, results):
    failing = [r for r in results if not r.passed and not r.case.gradcheck]
    passing = [r for r in results if r.passed and not r.case.gradcheck]
    hints = []
    if failing and passing:
        for tag, hint in ex.only_with.items():
            if all(tag in r.case.tags for r in failing) and any(tag not in r.case.tags for r in passing):
                hints.append(hint)
    return hints


def evaluate(exercise_id, fn, forward=None, hidden=False):
    """Run the graded cases of one exercise; return a :class:`Report` (never raises for learner bugs)."""
    if exercise_id not in EXERCISES:
        raise KeyError(f"unknown exercise {exercise_id!r}; known: {', '.join(EXERCISES)}")
    ex = EXERCISES[exercise_id]
    if not callable(fn):
        raise TypeError(f"check({exercise_id!r}, ...): expected your function, got {type(fn).__name__}")
    if ex.kind == "backward" and not callable(forward):
        raise TypeError(f"check({exercise_id!r}, ...) also needs your forward, for its cache: "
                        f"check({exercise_id!r}, {exercise_id}, {ex.forward})")
    report = Report(exercise_id, hidden=hidden)
    watch = OwnCodeWatch(exercise_id)            # nnbook's own implementation does not count
    fn, forward = watch.wrap(fn), watch.wrap(forward)
    try:
        for case in ex.cases(hidden):
            expected = {}
            if ex.judge is not None:
                problems = _run_judge(ex, case, fn, forward)
            elif case.gradcheck:
                problems = _run_gradcheck(ex, case, fn, forward)
            elif ex.kind == "backward":
                problems, expected = _run_backward(ex, case, fn, forward)
            else:
                problems, expected = _run_direct(ex, case, fn)
            report.results.append(CaseResult(case, problems, _hints(ex, case, problems, expected)))
    except _NotWritten as nw:
        report.not_written = nw.name
        report.results = []
        return report
    report.hints = _summary_hints(ex, report.results)
    return watch.finish(report)


def _figures_enabled():
    if os.environ.get("NNBOOK_NO_FIGURES"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def difference_figure(problem, title):
    """Expected | got | |expected - got| for one (n, c) image of a 4-D output."""
    import matplotlib.pyplot as plt
    e, g = problem.expected, problem.got
    if e.shape == g.shape:
        diff = np.abs(e.astype(np.float64) - g.astype(np.float64))
        n, c = np.unravel_index(np.argmax(diff), diff.shape)[:2]
        panels = [(e[n, c], "expected"), (g[n, c], "got"), (diff[n, c], "|expected - got|")]
    else:
        n = c = 0
        panels = [(e[n, c], f"expected {e.shape[2]}x{e.shape[3]}"), (g[n, c], f"got {g.shape[2]}x{g.shape[3]}")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0))
    lo = min(float(np.min(e[n, c])), float(np.min(g[n, c])))
    hi = max(float(np.max(e[n, c])), float(np.max(g[n, c])))
    for ax, (img, label) in zip(axes, panels):
        diff_panel = label.startswith("|")
        im = ax.imshow(img, cmap="magma" if diff_panel else "viridis",
                       vmin=None if diff_panel else lo, vmax=None if diff_panel else hi)
        ax.set_title(label, fontsize=10)
        ax.set_xticks(range(img.shape[1]))
        ax.set_yticks(range(img.shape[0]))
        ax.tick_params(labelsize=7)
        if diff_panel:
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"{title}: {problem.output}[{n}, {c}]", fontsize=11)
    fig.tight_layout()
    return fig


def _show_picture(report):
    for r in report.results:
        for p in r.problems:
            if p.image_like:
                import matplotlib.pyplot as plt
                from IPython.display import display
                fig = difference_figure(p, f"{report.exercise}, case '{r.case.name}'")
                display(fig)
                plt.close(fig)
                return


def check(exercise_id, fn, forward=None, hidden=False):
    """Check a learner's function on the graded cases and print a table of the results.

    Args:
        exercise_id: e.g. ``"conv2d_forward"``.
        fn: your function.
        forward: for a backward exercise, your forward (its cache feeds your backward).
        hidden: run the hidden cases instead of the visible ones (used by the grader).
    Raises:
        NotImplementedError: fn (or forward) is still the stub.
        ExerciseFailed: some case failed (the table says which and why).
    """
    report = evaluate(exercise_id, fn, forward, hidden)
    print(report.text())
    if report.not_written:
        raise NotImplementedError(f"{report.not_written} is not written yet")
    if not report.passed:
        if _figures_enabled():
            try:
                _show_picture(report)
            except Exception as exc:   # a picture must never hide the table
                print(f"(could not draw the picture: {exc})")
        failed = len(report.results) - report.n_passed
        raise ExerciseFailed(f"{exercise_id}: {failed} of {len(report.results)} cases failed "
                             "(see the table above)")
