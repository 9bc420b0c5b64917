"""Each function judged as it was judged, a backward is a backward, one mistake costs once (issue 14,
sections 2, 4 and 8). End to end (graded notebooks, both modes): the judging fixtures in
tests/test_grading_cli.py and tests/test_grading_integrity.py.

- Every forward/backward pair of ex1-ex7 states its cache; the forward's check compares it (where out is
  right), and the backward runs on nnbook's cache in that format: a right backward passes whatever the
  forward does. Without a stated cache, a backward is judged only where the learner's forward is right.
- A function is pinned when its check runs (a copy with its globals as they were), in check() and in the
  graded kernel; a later check that needs it uses that copy.
- A backward that calls its forward many times fails in a notebook (calls counted) and runs out of time
  on the big hidden case when graded; ReLU has a case at the kink, where a difference quotient is wrong.
"""
import dataclasses
import json
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

import nnbook.functional as F
from nnbook.grading import EXERCISES, ExerciseFailed, check, evaluate
from nnbook.grading.judge import checker
from nnbook.grading.judge.cases import materialize
from nnbook.grading.judge.exercise import SETS, grading_seed
from nnbook.grading.judge.registry import dout_for, reference_out
from nnbook.grading.run.channel import pinned_copy

from helpers import as_stated

pytestmark = pytest.mark.usefixtures("references_as_learners")   # see tests/conftest.py

ROOT = Path(__file__).resolve().parents[1]
LAYER_SETS = [name for name in SETS if name != "ex8_putting_it_together"]
BACKWARDS = [e for name in LAYER_SETS for e in SETS[name].exercises if EXERCISES[e].kind == "backward"]
FORWARDS = [EXERCISES[e].forward for e in BACKWARDS]


@pytest.fixture(autouse=True)
def _fresh_check_memory(monkeypatch):
    """check() remembers the functions it judged (as a notebook does); each test starts afresh."""
    monkeypatch.setattr(checker, "_CHECKED", {})


def answers(set_name):
    """The reference answers of a solution notebook (loop style), as the learner's cells define them."""
    ns = {}
    nb = json.loads((ROOT / "solutions" / f"{set_name}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") or meta.get("grade_id") == "setup":
            exec("".join(cell["source"]), ns)
    return ns


# --- one mistake costs once ------------------------------------------------------------------------

def test_every_pair_of_ex1_to_ex7_states_its_cache():
    assert len(BACKWARDS) == 8
    for backward, forward in zip(BACKWARDS, FORWARDS):
        assert EXERCISES[backward].cache is not None, backward
        assert EXERCISES[forward].cache is EXERCISES[backward].cache, backward


def _broken_forwards(forward_id):
    def zeros_and_junk(*args, **kwargs):
        return np.zeros_like(args[0]), ("junk",)

    def raises(*args, **kwargs):
        raise ValueError("my forward is broken")

    def stub(*args, **kwargs):
        raise NotImplementedError()
    return {"wrong out and cache": zeros_and_junk, "raises": raises, "still the stub": stub,
            "nnbook's own (its cache may differ)": getattr(F, forward_id)}


@pytest.mark.parametrize("backward", BACKWARDS)
@pytest.mark.parametrize("hidden", [False, True])
def test_a_right_backward_keeps_its_points_whatever_the_forward_does(backward, hidden):
    forward_id = EXERCISES[backward].forward
    right = as_stated(backward)
    for what, forward in _broken_forwards(forward_id).items():
        assert what.startswith("nnbook") or not evaluate(forward_id, forward).passed
        report = evaluate(backward, right, forward, hidden=hidden)
        assert report.passed, (what, report.text())
        assert "each case runs your backward on nnbook's cache" in " ".join(report.text().split())


@pytest.mark.parametrize("forward", FORWARDS)
def test_the_forward_check_compares_the_cache_where_out_is_right(forward):
    ex = EXERCISES[forward]
    right = as_stated(forward)
    assert evaluate(forward, right).passed

    def other_cache(*args, **kwargs):
        return right(*args, **kwargs)[0], "my own cache"
    report = evaluate(forward, other_cache)
    assert report.n_passed == 0
    assert all(p.kind == "cache" for r in report.results for p in r.problems), report.text()
    assert report.mistake_ids == ["cache_contract"]
    assert f"not {ex.cache.text} as the exercise states" in " ".join(report.text().split())

    def wrong_out(*args, **kwargs):
        out, _ = right(*args, **kwargs)
        return out + 1, "my own cache"
    report = evaluate(forward, wrong_out)
    assert report.n_passed == 0 and "cache_contract" not in report.mistake_ids   # one mistake, named once


@pytest.mark.parametrize("backward, forward, mistake", [
    ("conv2d_backward", "conv2d_forward", "flipped kernel, kept in the cache"),
    ("batchnorm_backward", "batchnorm_forward", "normalized with the unbiased variance")])
def test_without_the_stated_cache_a_wrong_forward_would_cost_the_backward(monkeypatch, backward, forward, mistake):
    """The fairness fixtures' forwards (make_submissions.judging): their backwards pass on nnbook's cache.
    With the contract switched off they are judged on the learner's forward's cache only where that
    forward is right: the conv forward is wrong everywhere, so the right backward earns nothing; the
    batch-norm forward is right in evaluation mode only, so only those cases are judged."""
    set_name = next(name for name in LAYER_SETS if backward in SETS[name].exercises)
    ns = answers(set_name)
    if forward == "conv2d_forward":
        def wrong(x, W, b, stride=1, padding=0):
            return ns["conv2d_forward"](x, W[:, :, ::-1, ::-1], b, stride, padding)
    else:
        cells = json.loads((ROOT / "solutions" / f"{set_name}.ipynb").read_text(encoding="utf-8"))["cells"]
        source = next("".join(c["source"]) for c in cells
                      if c["metadata"].get("nbgrader", {}).get("grade_id") == "batchnorm_forward_solution")
        assert "x.var(axis=axes)" in source
        exec(source.replace("x.var(axis=axes)", "x.var(axis=axes, ddof=1)")
             .replace("running_var += momentum * var * m / (m - 1)", "running_var += momentum * var")
             .replace("def batchnorm_forward", "def wrong"), ns)
        wrong = ns["wrong"]
    assert not evaluate(forward, wrong).passed
    assert evaluate(backward, ns[backward], wrong).passed, mistake
    monkeypatch.setattr(EXERCISES[backward], "cache", None)       # the guard off
    report = evaluate(backward, ns[backward], wrong)
    skipped = {r.case.name for r in report.results if r.skipped}
    if forward == "conv2d_forward":
        assert not report.passed and skipped == {r.case.name for r in report.results}
    else:
        assert skipped == {r.case.name for r in report.results if r.case.kwargs["training"]}


# --- without a stated cache: only the cases where the forward is right ------------------------------

@pytest.fixture
def no_contract(monkeypatch):
    """A relu_backward whose exercise states no cache (as a capstone exercise may be)."""
    ex = dataclasses.replace(EXERCISES["relu_backward"], id="relu_backward_own_cache", cache=None)
    monkeypatch.setitem(EXERCISES, ex.id, ex)
    return ex


def relu_forward_ok(x):
    return np.maximum(x, 0), x


def relu_forward_wrong_on_4d(x):
    return (np.abs(x) if x.ndim == 4 else np.maximum(x, 0)), x


def relu_backward_ok(dout, x):
    return dout * (x > 0)


def test_without_a_stated_cache_only_the_cases_where_the_forward_is_right_are_judged(no_contract):
    with pytest.raises(TypeError, match="also needs your forward"):
        evaluate(no_contract.id, relu_backward_ok)
    assert evaluate(no_contract.id, relu_backward_ok, relu_forward_ok).passed
    report = evaluate(no_contract.id, relu_backward_ok, relu_forward_wrong_on_4d)
    skipped = [r.case.name for r in report.results if r.skipped]
    assert skipped == ["image-shaped (2, 3, 4, 4)"], report.text()
    assert report.passed and report.n_failed == 0
    text = report.text()
    assert "skip  image-shaped (2, 3, 4, 4)" in text and "not judged: your relu_forward is wrong" in " ".join(text.split())
    assert "5 of 5 judged cases passed (1 not judged)" in text
    assert "only where your relu_forward is right" in " ".join(text.split())
    # a wrong backward still fails on the judged cases
    assert not evaluate(no_contract.id, lambda dout, x: dout * (x >= 0) * 2, relu_forward_wrong_on_4d).passed
    # a forward that is wrong everywhere: nothing can be judged, nothing is earned
    nothing = evaluate(no_contract.id, relu_backward_ok, lambda x: (np.abs(x), x))
    assert not nothing.passed and nothing.n_skipped == len(nothing.results)
    assert "no case could be judged" in nothing.text()
    with pytest.raises(ExerciseFailed, match="no case could be judged"):
        check(no_contract.id, relu_backward_ok, lambda x: (np.abs(x), x))


# --- each function judged as it was judged ------------------------------------------------------------

def test_pinned_copy_keeps_the_function_and_its_helpers_as_they_were():
    ns = {}
    exec("def helper(v):\n    return v + 1\n\n"
         "def f(v):\n    return helper(v) * 10\n\n"
         "def g(n):\n    return 1 if n == 0 else n * g(n - 1)\n\n"
         "count = 0\n"
         "def counts():\n    global count\n    count += 1\n    return count\n", ns)
    f, g, counts = pinned_copy(ns["f"]), pinned_copy(ns["g"]), pinned_copy(ns["counts"])
    exec("def helper(v):\n    return 0\n\ndef f(v):\n    return -1\n\ndef g(n):\n    return 0\n", ns)
    assert ns["f"](1) == -1 and f(1) == 20                 # neither the function nor its helper changed
    assert g(4) == 24                                       # recursion goes to the pinned copy too
    assert counts() == 1 and counts() == 2 and ns["count"] == 0
    assert pinned_copy(np.maximum) is np.maximum            # not a plain function: kept as it is


def test_check_judges_a_backward_with_the_forward_its_own_check_judged(no_contract, capsys):
    """The issue's attack, in a notebook: the forward passes its check, a later cell swaps it; the
    backward's check uses the forward as its check judged it (as the grader does)."""
    check("relu_forward", relu_forward_ok)
    assert EXERCISES[no_contract.id].forward == "relu_forward"
    swapped = lambda x: (np.abs(x), x)                      # noqa: E731  (wrong everywhere)
    check(no_contract.id, relu_backward_ok, swapped)        # judged with relu_forward_ok: passes
    out = capsys.readouterr().out
    assert "relu_forward is used as it was when check('relu_forward', ...) ran" in " ".join(out.split())
    checker._CHECKED.clear()
    with pytest.raises(ExerciseFailed, match="no case could be judged"):
        check(no_contract.id, relu_backward_ok, swapped)    # no earlier check: the forward given is used


def test_the_swapped_dropout_forward_does_not_help_in_a_notebook():
    ns = answers("ex5_dropout")
    check("dropout_forward", ns["dropout_forward"])
    with pytest.raises(ExerciseFailed):
        check("dropout_backward", lambda dout, cache: dout.copy(), lambda x, p, training=True, rng=None: (x.copy(), None))


def _kernel_calls(cells, judge_steps):
    """Run ``cells`` in a kernel; the cells ``"#judge k"`` run ``judge_steps[k](channel)``."""
    from nnbook.grading.run.kernel import CellRun, run_notebook
    results = {}

    class Judge:
        def wants(self, cell):
            return cell.source.startswith("#judge")

        def __call__(self, cell, index, channel):
            k = int(cell.source.split()[1])
            channel.start_cell(30)
            results[k] = judge_steps[k](channel)
            return CellRun("ok")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    run_notebook(nb, timeout=60, judge=Judge())
    return results


def test_the_graded_kernel_calls_the_function_pinned_at_its_check():
    cells = ["def helper(v):\n    return v + 1\n\ndef forward(v):\n    return helper(v) * 10",
             "#judge 0",
             "def helper(v):\n    return 0\n\ndef forward(v):\n    return -1\n\ndef later(v):\n    return 5",
             "#judge 1",
             "def later(v):\n    return 6",
             "#judge 2",
             "def nothing_here(v):\n    return 7",
             "#judge 3"]

    def missing(ch):
        try:
            return ch.call("nothing_here", (0,), {})
        except Exception as exc:
            return str(exc)
    steps = {0: lambda ch: ch.pin("forward"),
             1: lambda ch: (ch.call("forward", (1,), {}), ch.pin("nothing_here"), ch.call("later", (0,), {})),
             2: lambda ch: (ch.call("later", (0,), {}), ch.pin("later"), ch.call("later", (0,), {})),
             3: missing}
    got = _kernel_calls(cells, steps)
    assert got[0] is True
    assert got[1] == (20, False, 5)          # pinned at its check; 'later', never checked: pinned at first use
    assert got[2] == (5, True, 6)            # a new check pins it again
    assert "name 'nothing_here' is not defined" in got[3]     # missing at its check: defining it later is too late


def test_the_graded_kernel_counts_a_backwards_calls_of_its_forward():
    cells = ["def forward(v):\n    return v * 2\n\nalias = forward\n\n"
             "def own_copy(v):\n    return v * 2\n\n"
             "def backward(n):\n    return sum(forward(i) for i in range(n)) + alias(0) + own_copy(0)",
             "#judge 0"]

    def step(ch):
        ch.pin("forward")
        ch.pin("backward")
        counted = ch.function("backward", count=("forward",))
        plain = ch.function("backward")
        return counted(20), counted.take_calls(), plain(5), ch.take_calls(), hasattr(plain, "take_calls")
    [(value, calls, plain_value, after, plain_counts)] = _kernel_calls(cells, {0: step}).values()
    assert value == 380 and plain_value == 20
    assert calls == {"forward": 21}          # by its name and by an alias; a private copy is not seen
    assert after == {} and not plain_counts


def test_a_forward_pinned_in_a_kernel_that_died_is_not_looked_up_again():
    from nnbook.grading.grade import Judge
    judge = Judge(None, 0, 5)

    class Channel:
        def function(self, name):
            return f"proxy of {name}"
    first, second = Channel(), Channel()
    judge.pinned_in["conv2d_forward"] = first
    assert judge._function(first, "conv2d_forward") == "proxy of conv2d_forward"
    assert judge._function(second, "never_checked") == "proxy of never_checked"
    lost = judge._function(second, "conv2d_forward")
    with pytest.raises(RuntimeError, match="lost when the kernel restarted"):
        lost(1)


# --- a backward is a backward -------------------------------------------------------------------------

def _fd_backward(forward):
    def backward(dout, cache):
        arrays = [a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in cache]
        grads = []
        for a in arrays[:3]:
            g = np.zeros_like(a)
            for i in np.ndindex(a.shape):
                old = a[i]
                a[i] = old + 1e-6
                plus = (forward(*arrays)[0] * dout).sum()
                a[i] = old - 1e-6
                minus = (forward(*arrays)[0] * dout).sum()
                a[i] = old
                g[i] = (plus - minus) / 2e-6
            grads.append(g.astype(dout.dtype))
        return tuple(grads)
    return backward


@pytest.mark.parametrize("set_name, backward", [("ex1_fully_connected", "linear_backward"),
                                                ("ex3_convolution", "conv2d_backward")])
def test_a_backward_by_finite_differences_fails_in_a_notebook(monkeypatch, set_name, backward):
    ns = answers(set_name)
    forward = ns[EXERCISES[backward].forward]
    report = evaluate(backward, _fd_backward(forward), forward)
    assert report.n_passed == 0 and report.mistake_ids[0] == "backward_not_one_pass", report.text()
    assert f"called {EXERCISES[backward].forward}" in report.text()
    monkeypatch.setattr(checker.CallCounter, "enabled", False)       # the guard off: it would pass
    assert evaluate(backward, _fd_backward(forward), forward).passed
    assert evaluate(backward, ns[backward], forward).passed           # the real one passes either way


def test_numerical_gradient_inside_a_backward_is_named(monkeypatch):
    from nnbook.gradcheck import numerical_gradient

    def relu_backward(dout, x):
        x = x.astype(np.float64)
        return numerical_gradient(lambda: np.maximum(x, 0), x, dout.astype(np.float64)).astype(dout.dtype)
    report = evaluate("relu_backward", relu_backward)
    assert "backward_not_one_pass" in report.mistake_ids
    assert "nnbook's numerical_gradient" in report.text()


def test_relu_has_a_case_at_the_kink_where_a_difference_quotient_is_wrong():
    def quotient(dout, x):                        # two forward passes for the whole array
        h = 1e-6
        x = x.astype(np.float64)
        return (dout * (np.maximum(x + h, 0) - np.maximum(x - h, 0)) / (2 * h)).astype(dout.dtype)
    for hidden in (False, True):
        report = evaluate("relu_backward", quotient, hidden=hidden)
        failing = [r.case.name for r in report.results if r.failed]
        assert failing == ["zeros and tiny values (the kink at 0)"], report.text()
        assert report.mistake_ids == ["relu_backward_kink"]
    assert evaluate("relu_backward", lambda dout, x: dout * (x > 0)).passed


def test_every_backward_has_a_big_hidden_case_only_hidden():
    needs_big = [e for e in BACKWARDS if e not in ("relu_backward", "dropout_backward")] + ["softmax_cross_entropy"]
    for exercise_id in needs_big:
        ex = EXERCISES[exercise_id]
        assert not any("big" in c.tags for c in ex.cases()), exercise_id
        with grading_seed(11):
            [big] = [c for c in ex.cases(hidden=True) if "big" in c.tags]
        assert big.tags == {"big"} and big.name.startswith("big: "), exercise_id
    assert not any("big" in c.tags for c in EXERCISES["dropout_backward"].cases(hidden=True))


@pytest.mark.parametrize("exercise_id", ["linear_backward", "conv2d_backward", "maxpool2d_backward",
                                         "avgpool2d_backward", "batchnorm_backward", "shortcut_backward",
                                         "softmax_cross_entropy"])
def test_finite_differences_on_the_big_case_cost_thousands_of_real_backwards(exercise_id):
    """Measured in one run, as a ratio: central differences of the forward on a few numbers of the big
    case, scaled to all of them, against the loop-style reference answer's backward on the whole case
    (benchmarks/backward_budget.py prints the times)."""
    ex = EXERCISES[exercise_id]
    set_name = next(name for name in LAYER_SETS if exercise_id in SETS[name].exercises)
    ns = answers(set_name)
    [case] = [c for c in ex.cases(hidden=True) if "big" in c.tags]
    args, kwargs = materialize(case.args), materialize(case.kwargs)
    if ex.kind == "backward":
        dout = dout_for(case, reference_out(ex.ref_forward, case))
        cache = ex.cache.make(case)
        backward, forward = (lambda: ns[exercise_id](dout, cache)), ns[ex.forward]
        arrays = [args[i] for i in ex.grad_args]

        def f():
            return np.sum(forward(*args, **kwargs)[0] * dout)
    else:
        backward = lambda: ns[exercise_id](*args)     # noqa: E731  (the loss and dlogits together)
        arrays = [args[0]]

        def f():
            return ns[exercise_id](*args)[0]
    t_backward = min(_seconds(backward) for _ in range(3))
    start, sample = time.perf_counter(), 0
    for a in arrays:
        flat = a.reshape(-1)
        for i in range(min(10, flat.size)):
            old = flat[i]
            flat[i] = old + 1e-6
            f()
            flat[i] = old - 1e-6
            f()
            flat[i] = old
            sample += 1
    per_number = (time.perf_counter() - start) / sample
    ratio = per_number * sum(a.size for a in arrays) / t_backward
    assert ratio > 2000, (exercise_id, ratio)


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_a_backward_that_zeroes_dout_in_place_does_not_pass_the_numerical_gradient_case():
    """The numerical-gradient case hands the learner a copy of its dout: a backward that zeroes dout in
    place (so that the numerical gradient would be 0 too) and returns zeros fails there, and the in-place
    change is named."""
    def backward(dout, cache):
        if dout.dtype == np.float64 and dout.shape == cache.shape and dout.ndim == 2:
            dout[...] = 0.0
            return np.zeros(cache.shape)
        return dout * (cache > 0)
    r = evaluate("relu_backward", backward, forward=None)
    failing = {res.case.name: res for res in r.results if not res.passed}
    grad_cases = [name for name in failing if failing[name].case.gradcheck]
    assert grad_cases, r.text()
    kinds = {p.kind for name in grad_cases for p in failing[name].problems}
    assert {"gradcheck", "inplace"} <= kinds, kinds
