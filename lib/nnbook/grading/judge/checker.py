"""Run an exercise's graded cases against a learner's function and explain what went wrong.

    check("conv2d_forward", conv2d_forward)                   # in a notebook: prints a table
    check("conv2d_backward", conv2d_backward, conv2d_forward) # backward: also give your forward
    check("conv2d_backward", conv2d_backward, conv2d_forward, hints=3)   # hints with code
    report = evaluate("relu_forward", relu_forward)           # the same, as data

A backward whose exercise states the cache's contents (:class:`~.exercise.CacheContract`) is
judged on the reference's cache in that format, so it keeps its points whatever the forward does;
the forward's check compares its cache. Without a contract, a backward is judged on the learner's
own forward's cache, only in the cases where that forward is right (the others are "not judged").
Each function is judged as it was judged: ``check`` keeps a copy of every function it checks
(:func:`~nnbook.grading.run.channel.pinned_copy`, with its globals as they were), and a later
check that needs it (a backward's forward) uses that copy, not the name's current value; graded
runs do the same in the learner's kernel.

In JupyterLab the table is HTML (the verdict and the hints first, then one row per case), with
the plain text as fallback; in a terminal it is printed. Hints come in tiers: ``hints=1`` names
the idea that was missed, ``hints=2`` (default) adds the formula, ``hints=3`` a line of code.
Each named mistake is said once per check, with the cases it explains (``Report.mistakes``).

``check`` raises :class:`ExerciseFailed` (an AssertionError) when a case fails and
:class:`NotWrittenYet` (a ``NotImplementedError``) when the function is still the stub, so a test
cell that calls it fails exactly when the exercise is not solved; IPython shows either as one line,
without a traceback into this file. It never lets a learner's exception escape: exceptions become
a line in the table, with the learner's line of code.
"""
import os
import sys
from collections import Counter

import numpy as np

from ... import gradcheck
from ...gradcheck import numerical_gradient, rel_error
from ..run.channel import CallTimeout, pinned_copy
from . import mistakes
from .cases import Rng, arrays_in, call_args
from .compare import Problem, compare_cache, compare_output, not_judged, same_values
from .errors import _learner_frames, describe_exception, exception_problem  # noqa: F401  (describe_exception: API)
from .exercise import ALWAYS_RULES, HINT_CACHE, as_hint
from .exercise import dout_rng
from .registry import EXERCISES, dout_for, reference_out
from .feedback import CaseResult, Mistake, Report  # noqa: F401  (Report: part of the API)
from .own_code import OwnCodeWatch
from . import session as _session

GRADCHECK_TOL = 1e-5


class ExerciseFailed(AssertionError):
    """Some graded cases failed; the table printed above says which and why."""

    def _render_traceback_(self):     # IPython shows this instead of a long traceback
        return [f"\x1b[31mExerciseFailed\x1b[0m: {self}"]


class NotWrittenYet(NotImplementedError):
    """The function under check (or one it calls) still raises NotImplementedError."""

    def _render_traceback_(self):     # IPython shows this one line instead of a traceback
        return [f"\x1b[33m{self}\x1b[0m"]


class _NotWritten(Exception):
    def __init__(self, name):
        super().__init__(name)
        self.name = name


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
    pool = ("x", "kernel_size")
    return {"shortcut_forward": ("x", "y"), "shortcut_backward": ("x", "y"),
            "softmax_cross_entropy": ("logits", "y"), "projection_shortcut": ("h", "W", "stride"),
            "residual_block_forward": ("x", "params", "stride"),
            "needs_projection": ("in_channels", "out_channels", "stride"),
            "maxpool2d_forward": pool, "maxpool2d_backward": pool, "avgpool2d_forward": pool,
            "avgpool2d_backward": pool, "dropout_forward": ("x", "p"), "dropout_backward": ("x", "p")
            }.get(ex.id, ARG_NAMES)


def forward_cache_problems(ex, case, cache):
    """A forward's cache against the one its exercise states (none without a contract). Compared only
    where ``out`` is right: a wrong out mostly makes the cache wrong too, and one mistake is named once."""
    if ex.cache is None:
        return []
    return compare_cache(ex.cache, ex.cache.make(case), cache, ex.cache.alternatives(case))


def _run_direct(ex, case, fn):
    """Forward and function exercises: call fn on the case and compare with the reference."""
    args, kwargs = call_args(case)
    names = _arg_names(ex)
    originals = [(n, a.copy()) for n, a in _named_arrays(args, kwargs, names)]
    inputs = _inputs(args, kwargs, names)
    ok, result = _call(fn, ex.id, *args, **kwargs)
    if not ok:
        expected = _expected_quietly(ex, case)
        return [_failure(result, case, inputs, expected)], expected
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
    changed = _inplace_problems(originals, _named_arrays(args, kwargs, names))
    if ex.kind == "forward" and not problems and not changed:
        # (an input changed in place changes a cache that holds it too: that mistake is named once)
        problems += forward_cache_problems(ex, case, result[1])
    return problems + changed, expected


def _failure(exc, case, inputs=(), expected=None):
    """The problem of a call that raised: a time-out (said as such, with its likely cause) or the learner's
    exception (:func:`~.errors.exception_problem`)."""
    if isinstance(exc, CallTimeout):
        why = ("far slower than a backward in one pass (finite differences?)" if "big" in case.tags
               else "an endless loop?")
        return Problem("timeout", "call", f"{exc} ({why})")
    return exception_problem(exc, inputs, expected)


def _inputs(args, kwargs, names):
    """``[(name, value)]`` of a call, named as the exercise names its arguments."""
    named = [(names[i] if i < len(names) else f"arg{i}", a) for i, a in enumerate(args)]
    return named + list(kwargs.items())


def _named_cache(ex, cache):
    """A stated cache as ``[(field, value)]`` (how an exception's case line shows it), else as it is."""
    if ex.cache is None:
        return cache
    if len(ex.cache.fields) == 1:
        return [(ex.cache.fields[0], cache)]
    return list(zip(ex.cache.fields, cache))


def _expected_quietly(ex, case):
    """The reference's outputs for ``case`` (shown next to an exception), or {} when it cannot be made."""
    try:
        with np.errstate(all="ignore"):
            return ex.reference(case)
    except Exception:
        return {}


def _learner_cache(ex, case, forward):
    """Without a cache contract: the learner's forward's ``(out, cache)`` for ``case``, or the
    ``not_judged`` problem when that forward raises or is wrong here (its own check counts that)."""
    args, kwargs = call_args(case)
    ok, fres = _call(forward, ex.forward, *args, **kwargs)
    if not ok:
        return None, not_judged(f"not judged: your {ex.forward} raised {describe_exception(fres)} in this "
                                "case, so there is no cache to run the backward on")
    if not isinstance(fres, tuple) or len(fres) != 2:
        return None, not_judged(f"not judged: your {ex.forward} must return (out, cache)")
    if compare_output("out", reference_out(ex.ref_forward, case), fres[0]) is not None:
        return None, not_judged(f"not judged: your {ex.forward} is wrong in this case (its own check counts "
                                "that), so its cache cannot be trusted")
    return fres, None


def _backward_cache(ex, case, forward):
    """The cache a backward's case runs on: the reference's in the stated format (a contract), or the
    learner's forward's where that forward is right. ``(cache, problem)``."""
    if ex.cache is not None:
        return ex.cache.make(case), None
    fres, problem = _learner_cache(ex, case, forward)
    return (None, problem) if problem else (fres[1], None)


def _run_backward(ex, case, fn, forward):
    cache, problem = _backward_cache(ex, case, forward)
    if problem:
        return [problem], {}
    expected = ex.reference(case)
    dout = dout_for(case, reference_out(ex.ref_forward, case))
    dout_before = dout.copy()
    ok, result = _call(fn, ex.id, dout, cache)
    if not ok:
        return [_failure(result, case, [("dout", dout), ("cache", _named_cache(ex, cache))], expected)], expected
    got, problem = _unpack(result, ex.outputs, ex.id)
    if problem:
        return [problem], expected
    problems = [p for name in ex.outputs if (p := compare_output(name, expected[name], got[name]))]
    if not np.array_equal(dout, dout_before):
        problems.append(Problem("inplace", "dout", "input dout was modified in place"))
    return problems, expected


def _run_gradcheck(ex, case, fn, forward):
    """The learner's backward (on the cache of :func:`_backward_cache`) vs a numerical gradient
    (float64) of the reference forward."""
    if ex.gradcheck is not None:
        ok, errs = _call(ex.gradcheck, ex.id, fn, case)
        if not ok:
            return [_failure(errs, case, _inputs(case.args, case.kwargs, _arg_names(ex)))], {}
        return [Problem("gradcheck", n, f"{n}: disagrees with the numerical gradient (relative error {e:.2g})")
                for n, e in errs if not e <= GRADCHECK_TOL], {}
    cache, problem = _backward_cache(ex, case, forward)
    if problem:
        return [problem], {}
    args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in case.args)   # Rng placeholders kept
    kwargs = dict(case.kwargs)

    def f():
        return ex.ref_forward(*_fresh_rngs(args), **_fresh_rngs(kwargs))[0]
    out = f()
    dout = dout_rng(case.seed).standard_normal(out.shape)
    # the learner gets a copy: a backward that zeroes dout in place must not zero the numerical gradient
    ok, result = _call(fn, ex.id, given := dout.copy(), cache)
    if not ok:
        return [_failure(result, case, [("dout", dout), ("cache", _named_cache(ex, cache))])], {}
    got, problem = _unpack(result, ex.outputs, ex.id)
    if problem:
        return [problem], {}
    problems, nums = [], {}
    if not np.array_equal(given, dout):
        problems.append(Problem("inplace", "dout", "input dout was modified in place"))
    for name, idx in zip(ex.outputs, ex.grad_args):
        num = numerical_gradient(f, args[idx], dout)
        nums[name] = num
        g = got[name]
        if not isinstance(g, np.ndarray) or g.shape != num.shape:
            shape = getattr(g, "shape", type(g).__name__)
            problems.append(Problem("shape", name, f"{name}: expected shape {num.shape}, got {shape}", num, g))
            continue
        if not np.issubdtype(g.dtype, np.floating):
            problems.append(Problem("dtype", name, f"{name}: expected a float array, got dtype {g.dtype}", num, g))
            continue
        err = rel_error(g, num)
        if not err <= GRADCHECK_TOL:
            problems.append(Problem("gradcheck", name, f"{name}: disagrees with the numerical gradient "
                                    f"(relative error {err:.2g})", num, g))
    return problems, nums


def _run_judge(ex, case, fn, forward):
    """An exercise with its own judging (see ``Exercise.judge``); its crash is a learner's bug only
    when the learner's code raised, so it is reported like one. Returns ``(problems, notes)``: a
    judge may return a :class:`~.feedback.Verdict`, whose notes are shown with the case."""
    ok, problems = _call(ex.judge, ex.id, fn, forward, case)
    if not ok:
        return [_failure(problems, case, _inputs(case.args, case.kwargs, _arg_names(ex)))], []
    return list(problems), list(getattr(problems, "notes", ()))


def _alternative_hints(ex, case, p, expected):
    if ex.alternatives is None or p.kind not in ("values", "shape", "dtype", "gradcheck") or not expected:
        return []
    found = []
    try:
        for name, alt, hint in ex.alternatives(case, expected):
            # an alternative that equals the right output makes no mistake in this case
            if name == p.output and hint and _same(alt, p.got) and not _same(alt, expected.get(name)):
                found.append(as_hint(hint))
    except Exception:
        pass
    return found


def _same(alt, got):
    """Does the learner's output equal a wrong alternative (an array, or a number such as a loss)?"""
    if isinstance(got, np.ndarray):
        return isinstance(alt, np.ndarray) and same_values(alt.astype(got.dtype, copy=False), got)
    if isinstance(alt, np.ndarray) or isinstance(got, (bool, np.bool_)):
        return False
    try:
        a, g = float(alt), float(got)
    except (TypeError, ValueError):
        return False
    return np.isfinite(a) and np.isfinite(g) and abs(a - g) <= 1e-6 * max(abs(a), abs(g), 1e-12)


def _try(rule, *args):
    try:
        return as_hint(rule(*args))
    except Exception:              # a hint rule that trips over odd output gives no hint
        return None


def _hints(ex, case, problems, expected):
    """The hints for one case's problems: the exercise's own (alternatives, then rules) and, for a
    problem none of them explains, the generic patterns of :mod:`.mistakes`. Fallback hints are
    dropped when a specific one explains the case. A cache not in the stated format is a mistake
    of its own: its hint neither hides nor is hidden by those about the output."""
    hints, apart, ambiguous = [], [], []
    for p in problems:
        own = [h for rule in ALWAYS_RULES if (h := _try(rule, case, p))]
        if p.kind == "cache":        # an exercise's own word on its cache's format comes before the generic one
            apart += [h for rule in ex.rules if (h := _try(rule, case, p))] or own
            continue
        # a wrong alternative that the output equals is evidence; a rule is a guess from the problem's kind,
        # and says nothing more when an alternative (or a rule every exercise has) already explains it
        if not own:
            found = _alternative_hints(ex, case, p, expected)
            if len({h.id for h in found}) > 1:
                ambiguous.append({h.id for h in found})
            own += found or [h for rule in ex.rules if (h := _try(rule, case, p))]
        if not any(not h.fallback for h in own):
            own += [h for h in (_try(rule, case, p) for rule in mistakes.GENERIC) if h][:1]
        hints += own
    return _specific_first(hints) + [h for h in _specific_first(apart) if h.id not in {x.id for x in hints}], ambiguous


def _specific_first(hints):
    unique = list({h.id: h for h in reversed(hints)}.values())[::-1]      # first of each id, in order
    if any(not h.fallback for h in unique):
        unique = [h for h in unique if not h.fallback]
    return unique


def _check_level(ex, results):
    """Whole-check findings ``[(hint, case names)]``: the exercise's detectors, then ``only_with``
    (every failing case has the tag, and some case without it passes)."""
    found = []
    for detector in tuple(ex.detectors) + (mistakes.reconcile,):
        try:
            found += [(as_hint(h), list(names)) for h, names in detector(results) if h and names]
        except Exception:
            pass
    failing = [r for r in results if r.failed and not r.case.gradcheck]
    passing = [r for r in results if r.passed and not r.case.gradcheck]
    named = {n for h, names in found for n in names}
    # "fails only with <tag>" is an inference, said only when nothing more specific explains every failing
    # case: a specific hint says more (stride ignored), or shows that the tag is a coincidence (the cases
    # with ties happen to have a stride), and two hints would say one thing twice
    explained = all(r.case.name in named or any(not h.fallback for h in r.hints) for r in failing)
    if failing and passing and not explained:
        judged = [r for r in results if not r.skipped and not r.case.gradcheck]
        fits = [(sum(tag in r.case.tags for r in judged), tag, hint) for tag, hint in ex.only_with.items()
                if all(tag in r.case.tags for r in failing) and any(tag not in r.case.tags for r in passing)]
        if fits:           # the tag that fits most closely (overlapping windows, not every stride != k)
            _, tag, hint = min(fits, key=lambda f: f[0])
            found.append((as_hint(hint), [r.case.name for r in failing]))
    return found


def _collect_mistakes(ex, results, extra=()):
    """Attach the whole-check findings (and ``extra`` ones) to their cases, then list every hint once
    with its cases."""
    by_name = {r.case.name: r for r in results}

    def attach(findings):
        for hint, names in findings:
            for name in names:
                if name in by_name:
                    r = by_name[name]
                    r.hints = _specific_first(r.hints + [hint])
    attach(list(extra) + _check_level(ex, results))
    attach(mistakes.numerical_too(results))      # after every other finding: what the other cases share
    order = {}
    for r in results:
        for h in r.hints:
            order.setdefault(h.id, Mistake(h, []))
            if r.case.name not in order[h.id].cases:
                order[h.id].cases.append(r.case.name)
    found = _undominated(list(order.values()), results)
    return sorted(found, key=lambda m: m.hint.fallback)       # specific hints first


def _undominated(found, results):
    """Drop a hint that only ever matched together with another on the same output (the two wrong answers are
    indistinguishable in those cases, as keeping a unit with probability p or 1 - p when p = 0.5) when the
    other explains strictly more cases: two hints would say one thing twice, and one of them is wrong."""
    by_name = {r.case.name: r for r in results}
    keep = []
    for m in found:
        cases = set(m.cases)
        rivals = [o for o in found if o is not m and cases < set(o.cases)]
        if rivals and all(any(m.id in group and any(o.id in group for o in rivals)
                              for group in by_name[c].ambiguous) for c in cases if c in by_name):
            for r in results:
                r.hints = [h for h in r.hints if h.id != m.id]
            continue
        keep.append(m)
    return keep


class CallCounter:
    """Counts, while a learner's function runs, its calls of the code of given functions (its own
    forward, nnbook's ``numerical_gradient``): a backward that calls its forward many times is
    differentiating it numerically. In a notebook a profile hook counts them (``enabled``); when
    grading, the kernel counts the calls it can see (the forward by any global name; see
    :meth:`~nnbook.grading.run.channel.KernelChannel.function`) and the proxy hands them over. A
    backward that avoids both (a private copy of the forward) still meets the big hidden case, whose
    time limit stops finite differences."""

    enabled = True
    LIMIT = 8             # calls of the forward in one call of the backward (a real one needs at most 1)

    def __init__(self, named_functions):
        self.codes = {}
        for name, f in named_functions:
            f = getattr(f, "__wrapped_learner__", f)
            if hasattr(f, "__code__"):
                self.codes.setdefault(f.__code__, name)
        self.counts = Counter()
        self.remote = None

    def wrap(self, fn):
        if callable(getattr(fn, "take_calls", None)):      # a proxy into the kernel: it counts there
            self.remote = fn.take_calls
            return fn
        if fn is None or not self.enabled or not self.codes:
            return fn
        counter = self

        def counted(*args, **kwargs):
            previous = sys.getprofile()

            def profile(frame, event, arg):
                if event == "call":
                    name = counter.codes.get(frame.f_code)
                    if name is not None:
                        counter.counts[name] += 1
                if previous is not None:
                    previous(frame, event, arg)
            sys.setprofile(profile)
            try:
                return fn(*args, **kwargs)
            finally:
                sys.setprofile(previous)
        counted.__name__ = getattr(fn, "__name__", "function")
        return counted

    def problems(self, ex):
        """The case's problems from the calls counted since the last time (then starts again)."""
        counts, self.counts = self.counts, Counter()
        if self.remote is not None:
            counts.update(self.remote())
        found = []
        for name, n in counts.items():
            if name == "numerical_gradient":
                found.append(Problem("not one pass", "call", f"your {ex.id} computes a gradient with nnbook's "
                                     "numerical_gradient (finite differences), not in one pass"))
            elif n > self.LIMIT:
                found.append(Problem("not one pass", "call", f"your {ex.id} called {name} {n} times in this "
                                     "case: finite differences of the forward are not a backward"))
        return found


def _own_forward_cache_note(ex, forward, results):
    """When a contract backward fails and the learner's forward returns a cache in another format: the
    finding ``(HINT_CACHE, failing cases)``, so the backward's feedback says why."""
    failing = [r for r in results if r.failed and not r.case.gradcheck]
    if ex.cache is None or forward is None or not failing:
        return []
    case = failing[0].case
    args, kwargs = call_args(case)
    try:
        fres = forward(*args, **kwargs)
    except BaseException:                # the forward's own check reports its trouble
        return []
    if not isinstance(fres, tuple) or len(fres) != 2:
        return []
    if not compare_cache(ex.cache, ex.cache.make(case), fres[1], ex.cache.alternatives(case)):
        return []
    return [(HINT_CACHE, [r.case.name for r in failing])]


def evaluate(exercise_id, fn, forward=None, hidden=False, hints=2):
    """Run the graded cases of one exercise; return a :class:`Report` (never raises for learner bugs).

    Args:
        forward: a backward's forward. With a cache contract it is optional: the backward runs on the
            reference's cache, and the forward is only asked, when a case fails, whether its cache is in
            the stated format (to say so). Without one, its cache feeds the backward.
        hints: how much the hints say in ``Report.text()``: 1 the concept, 2 also the formula
            (default), 3 also a line of code.
    """
    if exercise_id not in EXERCISES:
        raise KeyError(f"unknown exercise {exercise_id!r}; known: {', '.join(EXERCISES)}")
    ex = EXERCISES[exercise_id]
    if not callable(fn):
        raise TypeError(f"check({exercise_id!r}, ...): expected your function, got {type(fn).__name__}")
    if ex.kind == "backward" and ex.cache is None and not callable(forward):
        raise TypeError(f"check({exercise_id!r}, ...) also needs your forward, for its cache: "
                        f"check({exercise_id!r}, {exercise_id}, {ex.forward})")
    if hints not in (1, 2, 3):
        raise ValueError(f"check({exercise_id!r}, ..., hints=...): expected 1 (concept), 2 (formula) "
                         f"or 3 (code), got {hints!r}")
    report = Report(exercise_id, hidden=hidden, hint_level=hints)
    checks = _session.current()                  # later checks may build on this one (judge/session.py)
    checks.begin(exercise_id, fn, forward)
    if ex.kind == "backward" and ex.judge is None:
        stated = ex.cache and (ex.cache.text if len(ex.cache.fields) == 1 else f"the tuple {ex.cache.text}")
        report.notes.append(
            f"each case runs your backward on nnbook's cache ({stated}, as the exercise states), whatever your "
            "forward returns" if ex.cache is not None else
            f"a case runs your backward on your {ex.forward}'s cache only where your {ex.forward} is right; "
            "the others are not judged (skip)")
    counter = CallCounter([(ex.forward or "forward", forward), ("numerical_gradient", gradcheck.numerical_gradient)]
                          if callable(forward) else [("numerical_gradient", gradcheck.numerical_gradient)])
    watch = OwnCodeWatch(exercise_id)            # nnbook's own implementation does not count
    fn, forward = watch.wrap(counter.wrap(fn)), watch.wrap(forward)
    try:
        for case in ex.cases(hidden):
            expected, notes = {}, []
            if ex.judge is not None:
                problems, notes = _run_judge(ex, case, fn, forward)
            elif case.gradcheck:       # the numerical gradients stand in for the reference
                problems, expected = _run_gradcheck(ex, case, fn, forward)
            elif ex.kind == "backward":
                problems, expected = _run_backward(ex, case, fn, forward)
            else:
                problems, expected = _run_direct(ex, case, fn)
            problems += counter.problems(ex)
            hints, ambiguous = _hints(ex, case, problems, expected)
            report.results.append(CaseResult(case, problems, hints, ambiguous, notes))
    except _NotWritten as nw:
        report.not_written = nw.name
        report.results = []
        checks.record(exercise_id, report)
        return report
    report = watch.finish(report)
    report.mistakes = _collect_mistakes(ex, report.results, _own_forward_cache_note(ex, forward, report.results))
    report.hints = [m.hint for m in report.mistakes]
    checks.record(exercise_id, report)
    return report


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
    # fixed margins instead of tight_layout, and a few integer ticks instead of one per pixel:
    # laying out text is most of a picture's cost, and check() should answer fast
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0),
                             gridspec_kw={"left": 0.06, "right": 0.95, "bottom": 0.1, "top": 0.8, "wspace": 0.35})
    lo = min(float(np.min(e[n, c])), float(np.min(g[n, c])))
    hi = max(float(np.max(e[n, c])), float(np.max(g[n, c])))
    for ax, (img, label) in zip(axes, panels):
        diff_panel = label.startswith("|")
        im = ax.imshow(img, cmap="magma" if diff_panel else "viridis",
                       vmin=None if diff_panel else lo, vmax=None if diff_panel else hi)
        ax.set_title(label, fontsize=10)
        ax.set_xticks(range(0, img.shape[1], max(1, img.shape[1] // 4)))
        ax.set_yticks(range(0, img.shape[0], max(1, img.shape[0] // 4)))
        ax.tick_params(labelsize=7)
        if diff_panel:
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"{title}: {problem.output}[{n}, {c}]", fontsize=11)
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


def _in_notebook():
    """True inside a Jupyter kernel (JupyterLab, nbclient), where HTML can be shown."""
    if os.environ.get("NNBOOK_PLAIN_TEXT"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def show(report, hints=None):
    """Print ``report`` (a terminal), or display it as an HTML table with a plain-text fallback."""
    text = report.text(hints)
    if _in_notebook():
        from IPython.display import display
        display({"text/plain": text, "text/html": report.html(hints)}, raw=True)
    else:
        print(text)


_CHECKED = {}    # exercise id -> (the function given to its check, the copy that check judged)


def _as_checked(ex, fn, forward):
    """``(fn, forward, note)``: ``fn`` pinned (a copy with its globals as they are now, kept as the
    function this exercise's check judged), and a backward's forward as *its* check judged it, if it
    ran, so that redefining the forward afterwards changes nothing (as when grading)."""
    pinned = pinned_copy(fn)
    _CHECKED[ex.id] = (fn, pinned)
    if forward is None or not ex.forward:
        return pinned, forward, None
    given, judged = _CHECKED.get(ex.forward, (None, None))
    if judged is None:
        judged = pinned_copy(forward)
        _CHECKED[ex.forward] = (forward, judged)
        return pinned, judged, None
    note = None
    if given is not forward:
        note = (f"{ex.forward} is used as it was when check({ex.forward!r}, ...) ran, as when grading; "
                f"it has been redefined since: run its check again to use the new one")
    return pinned, judged, note


def check(exercise_id, fn, forward=None, hidden=False, hints=2):
    """Check a learner's function on the graded cases and show a table of the results.

    Args:
        exercise_id: e.g. ``"conv2d_forward"``.
        fn: your function.
        forward: for a backward exercise, your forward (as its own check last judged it). Where the
            exercise states the cache's format, your backward runs on nnbook's cache in that format and
            the forward only helps to explain a failure; otherwise its cache feeds your backward.
        hidden: run the hidden cases instead of the visible ones (used by the grader).
        hints: 1 names the idea behind a mistake, 2 (default) adds the formula, 3 adds code.
    Raises:
        NotWrittenYet: fn (or forward) is still the stub (a NotImplementedError; nothing else is shown).
        ExerciseFailed: some case failed (the table says which and why).
    """
    if exercise_id in EXERCISES and callable(fn):
        fn, forward, note = _as_checked(EXERCISES[exercise_id], fn, forward)
    else:
        note = None
    report = evaluate(exercise_id, fn, forward, hidden, hints=hints)
    if note:
        report.notes.append(note)
    if report.not_written:
        raise NotWrittenYet(f"{report.not_written} is not written yet: replace its "
                            "'raise NotImplementedError()' with your code, run that cell, then this one")
    show(report)
    if not report.passed:
        if _figures_enabled():
            try:
                _show_picture(report)
            except Exception as exc:   # a picture must never hide the table
                print(f"(could not draw the picture: {exc})")
        deeper = any(len(h.levels(3)) > len(h.levels(hints)) for h in report.hints)
        more = f"; hints={hints + 1} says more" if deeper else ""     # short: error text wraps anywhere
        if not report.n_failed:
            raise ExerciseFailed(f"{exercise_id}: no case could be judged (table above{more})")
        judged = len(report.results) - report.n_skipped
        raise ExerciseFailed(f"{exercise_id}: {report.n_failed} of {judged} cases failed (table above{more})")
