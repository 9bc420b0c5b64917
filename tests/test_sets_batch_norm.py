"""Exercise set ex6_batch_norm: running statistics graded after the call; each mistake gets its hint.

The learner functions below are written here, as a learner would write them (one flag per
mistake), independently of nnbook.functional and of the variants the hint rules compare with.
"""
import numpy as np
import pytest

import nnbook.functional as F
from nnbook.grading import EXERCISES, evaluate
from nnbook.grading.judge.exercise import SETS

from helpers import as_stated


pytestmark = pytest.mark.usefixtures("references_as_learners")   # see tests/conftest.py


def hint_ids(report):
    hints = [h for r in report.results for h in r.hints] + list(report.hints)
    return {getattr(h, "id", h) for h in hints}


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5,
                      ddof=0, eval_batch=False, no_update=False, rebind=False, swap=False, biased_running=False,
                      axes_4d=(0, 2, 3), channel_stats_for_running=False):
    axes = (0,) if x.ndim == 2 else axes_4d
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
    if training or eval_batch:
        mean = x.mean(axis=axes)
        var = x.var(axis=axes, ddof=ddof)
        unbiased = x.var(axis=axes, ddof=1) if ddof == 0 else var
        new_mean, new_var = mean, (x.var(axis=axes) if biased_running else unbiased)
        if channel_stats_for_running:
            ch = (0,) if x.ndim == 2 else (0, 2, 3)
            new_mean, new_var = x.mean(axis=ch), x.var(axis=ch, ddof=1)
        a = 1 - momentum if swap else momentum
        if rebind:
            running_mean = (1 - a) * running_mean + a * new_mean
            running_var = (1 - a) * running_var + a * new_var
        elif not no_update:
            running_mean *= 1 - a
            running_mean += a * new_mean
            running_var *= 1 - a
            running_var += a * new_var
        used = mean, var
    else:
        used = running_mean.copy(), running_var.copy()
    mean_b, var_b = (v.reshape((1,) + v.shape) if v.ndim > 1 else v.reshape(shape) for v in used)
    xhat = (x - mean_b) / np.sqrt(var_b + eps)
    out = gamma.reshape(shape) * xhat + beta.reshape(shape)
    return out, (x, gamma, *used, eps, training)


def batchnorm_backward(dout, cache, constant_stats=False, axes_4d=(0, 2, 3)):
    x, gamma, mean, var, eps, training = cache
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
    inv_std = 1 / np.sqrt(var.reshape(shape) + eps)
    xhat = (x - mean.reshape(shape)) * inv_std
    sum_axes = (0,) if x.ndim == 2 else axes_4d
    dbeta = dout.sum(axis=sum_axes)
    dgamma = (dout * xhat).sum(axis=sum_axes)
    dxhat = dout * gamma.reshape(shape)
    if not training or constant_stats:
        return dxhat * inv_std, dgamma, dbeta
    dx = inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                    - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
    return dx, dgamma, dbeta


def forward_with(**mistake):
    def fn(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
        return batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps, **mistake)
    return fn


def backward_with(**mistake):
    return lambda dout, cache: batchnorm_backward(dout, cache, **mistake)


@pytest.mark.parametrize("hidden", [False, True])
def test_correct_answers_pass_without_hints(hidden):
    for fwd in (forward_with(), as_stated("batchnorm_forward")):
        r = evaluate("batchnorm_forward", fwd, hidden=hidden)
        assert r.passed and hint_ids(r) == set(), r.text()
    for fwd, bwd in ((forward_with(), backward_with()),
                     (as_stated("batchnorm_forward"), as_stated("batchnorm_backward"))):
        r = evaluate("batchnorm_backward", bwd, fwd, hidden=hidden)
        assert r.passed and hint_ids(r) == set(), r.text()


def test_cases_cover_both_shapes_both_modes_and_gradchecks():
    assert SETS["ex6_batch_norm"].exercises == ("batchnorm_forward", "batchnorm_backward")
    for exercise_id in SETS["ex6_batch_norm"].exercises:
        cases = EXERCISES[exercise_id].cases()
        assert {(c.args[0].ndim, c.kwargs["training"]) for c in cases} == {(2, True), (2, False), (4, True), (4, False)}
    grad = [c for c in EXERCISES["batchnorm_backward"].cases() if c.gradcheck]
    assert {c.kwargs["training"] for c in grad} == {True, False}


def test_backward_cases_are_not_degenerate():
    """dout must not be an affine function of x per channel (then the training dx would be 0)."""
    from nnbook.grading.judge.exercise import dout_for
    for c in EXERCISES["batchnorm_backward"].cases():
        if c.kwargs["training"] and c.args[0].shape[0] > 2:
            out, cache = F.batchnorm_forward(*[a.copy() for a in c.args], **c.kwargs)
            assert np.abs(F.batchnorm_backward(dout_for(c, out), cache)[0]).max() > 0.1, c.name


def test_running_statistics_are_graded_after_the_call():
    r = evaluate("batchnorm_forward", forward_with(no_update=True))
    text = r.text()
    assert "running_mean was not updated (training updates it in place)" in text
    assert all(res.passed == (not res.case.kwargs["training"]) for res in r.results), text

    def changes_eval_stats(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
        out, cache = batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps)
        running_var += 1.0
        return out, cache
    r = evaluate("batchnorm_forward", changes_eval_stats)
    assert "running_var changed in eval mode" in r.text()
    assert all(not res.passed for res in r.results)     # in training the update is off by one


def test_changing_x_is_an_inplace_problem():
    def centers_x(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
        out, cache = batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps)
        x -= x.mean()
        return out, cache
    r = evaluate("batchnorm_forward", centers_x)
    assert r.n_passed == 0 and "input x was modified in place" in r.text()
    assert "never change the inputs" in r.text()


MISTAKES = [
    ("unbiased variance for normalizing", dict(ddof=1), "bn_unbiased_normalize"),
    ("batch statistics in eval", dict(eval_batch=True), "bn_eval_batch_stats"),
    ("running statistics not updated", dict(no_update=True), "bn_running_not_updated"),
    ("running statistics rebound, not updated in place", dict(rebind=True), "bn_running_not_updated"),
    ("momentum and 1 - momentum swapped", dict(swap=True), "bn_momentum_swapped"),
    ("running_var with the biased variance", dict(biased_running=True), "bn_running_var_biased"),
    ("4-D: statistics over axis 0 only (running update then fails)", dict(axes_4d=(0,)), "bn_channel_axes"),
    ("4-D: normalized over axis 0 only", dict(axes_4d=(0,), channel_stats_for_running=True), "bn_channel_axes"),
]


@pytest.mark.parametrize("what,mistake,hint", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_forward_mistake_gets_exactly_its_hint(what, mistake, hint):
    r = evaluate("batchnorm_forward", forward_with(**mistake))
    assert not r.passed
    assert hint_ids(r) == {hint}, r.text()


def test_channel_axes_hint_comes_from_the_output_when_there_is_one():
    r = evaluate("batchnorm_forward", forward_with(axes_4d=(0,), channel_stats_for_running=True))
    failing = [res for res in r.results if not res.passed]
    assert failing and all(res.case.args[0].ndim == 4 for res in failing)
    assert all("bn_channel_axes" in {h.id for h in res.hints} for res in failing if res.case.kwargs["training"])


BACKWARD_MISTAKES = [
    ("training dx with the statistics held constant", dict(constant_stats=True), "bn_backward_constant_stats"),
    ("4-D: dgamma and dbeta summed over axis 0 only", dict(axes_4d=(0,)), "bn_backward_axes"),
]


@pytest.mark.parametrize("what,mistake,hint", BACKWARD_MISTAKES, ids=[m[0] for m in BACKWARD_MISTAKES])
def test_backward_mistake_gets_exactly_its_hint(what, mistake, hint):
    r = evaluate("batchnorm_backward", backward_with(**mistake), forward_with())
    assert not r.passed
    assert hint_ids(r) == {hint}, r.text()


def test_gradient_checks_catch_a_wrong_backward_in_both_modes():
    def half_dx_in_eval(dout, cache):
        dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        return (dx / 2 if not cache[-1] else dx), dgamma, dbeta
    r = evaluate("batchnorm_backward", half_dx_in_eval, forward_with())
    failing = {res.case.name for res in r.results if not res.passed}
    assert "numerical gradient (float64), eval, x (5, 3)" in failing
    assert not any("training" in name and "numerical" in name for name in failing)
    r = evaluate("batchnorm_backward", backward_with(constant_stats=True), forward_with())
    assert not [res for res in r.results if res.case.gradcheck and res.case.kwargs["training"]][0].passed


def test_layer_norm_and_group_norm_are_not_available_while_grading(tmp_path):
    """Layer norm of x.T *is* batch norm of x (without gamma, beta): an answer could be built on it, so
    the graded run blocks layer norm and group norm (and their private helpers) like batch norm itself."""
    import os
    import subprocess
    import sys

    from nnbook.grading.run.guard import build_overlay
    rng = np.random.default_rng(0)
    x, gamma, beta = rng.standard_normal((6, 4)) * 3 + 1, rng.standard_normal(4), rng.standard_normal(4)
    cheat = F.layernorm_forward(x.T, 6)[0].T * gamma + beta            # the route the guard must close
    assert np.allclose(cheat, F.batchnorm_forward(x, gamma, beta, np.zeros(4), np.ones(4))[0])
    cheat_gn = F.groupnorm_forward(x.T, 1)[0].T * gamma + beta
    assert np.allclose(cheat_gn, cheat)

    build_overlay(tmp_path, "ex6_batch_norm", SETS["ex6_batch_norm"].allowed)
    code = """
import numpy as np, nnbook, nnbook.functional as F
from nnbook.functional import layernorm
x = np.ones((6, 4)) + np.arange(4)
def attempt(f):
    try:
        f(); return 'ran'
    except Exception as e:
        return type(e).__name__ + ': ' + str(e)
print(attempt(lambda: F.layernorm_forward(x.T, 6)))
print(attempt(lambda: F.groupnorm_forward(x.T, 1)))
print(attempt(lambda: layernorm._normalize_rows(x.T, 1e-5)))
print(attempt(lambda: nnbook.LayerNorm(6)(x.T)))
print(attempt(lambda: nnbook.GroupNorm(1, 4)(x)))
print(attempt(lambda: F.relu_forward(x)))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    lines = proc.stdout.splitlines()
    assert len(lines) == 6, proc.stderr
    message = "NotAvailableError: grading ex6_batch_norm: nnbook's own {} is not available to answers — write your own"
    assert lines[0] == message.format("layernorm_forward")
    # the private helper shared by the four functions is blocked too, in the name of one of them
    users = ("layernorm_forward", "layernorm_backward", "groupnorm_forward", "groupnorm_backward")
    assert lines[2] in {message.format(name) for name in users}
    assert lines[1] == message.format("groupnorm_forward")
    assert lines[3] == message.format("LayerNorm") and lines[4] == message.format("GroupNorm")
    # the allowlist (ex6 allows nothing of nnbook) refuses the rest too
    assert lines[5] == message.format("relu_forward")
