"""The graded cases and the in-notebook check(), run in-process on correct and buggy functions."""
import numpy as np
import pytest

import nnbook.functional as F
from nnbook.grading import EXERCISES, ExerciseFailed, check, evaluate
from nnbook.grading.checker import difference_figure
from nnbook.grading.sets.ex7_residual import reference_block
from nnbook.layers import needs_projection


def _projection(h, W, stride):
    return F.conv2d_forward(h, W, None, stride, 0)[0]


def _block(x, params, stride=1):
    block = reference_block(x.shape[1], params["conv1.W"].shape[0], stride, params)
    return block(x.astype(np.float64)).astype(x.dtype)


@pytest.fixture(autouse=True)
def _references_stand_in_for_learners(monkeypatch):
    """These tests use nnbook's own code as a learner's: check()'s refusal of it is off here
    (tests/test_grading_integrity.py tests that refusal)."""
    monkeypatch.setattr("nnbook.grading.guard.OwnCodeWatch.enabled", False)


REFERENCE = {"projection_shortcut": _projection, "needs_projection": needs_projection,
             "residual_block_forward": _block}


def reference_fn(exercise_id):
    return REFERENCE.get(exercise_id) or getattr(F, exercise_id)


def report_for(exercise_id, fn, forward=None, hidden=False):
    ex = EXERCISES[exercise_id]
    if ex.kind == "backward" and forward is None:
        forward = getattr(F, ex.forward)
    return evaluate(exercise_id, fn, forward, hidden)


def all_text(report):
    return report.text()


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
@pytest.mark.parametrize("hidden", [False, True])
def test_reference_passes_every_case(exercise_id, hidden):
    report = report_for(exercise_id, reference_fn(exercise_id), hidden=hidden)
    assert report.passed, report.text()
    assert len(report.results) >= 1


def test_visible_and_hidden_cases_differ():
    for ex in EXERCISES.values():
        visible = {c.name for c in ex.cases(False)}
        hidden = ex.cases(True)
        assert hidden and any(c.name not in visible or c.seed >= 5000 for c in hidden), ex.id


def test_edge_cases_present():
    conv = {t for c in EXERCISES["conv2d_forward"].cases() for t in c.tags}
    assert {"stride", "padding", "nonsquare", "batch1", "float32"} <= conv
    assert any(c.gradcheck for c in EXERCISES["conv2d_backward"].cases())


# --- the common mistakes and their hints -----------------------------------------------------------

def conv_off_by_one(x, W, b, stride=1, padding=0):
    out, cache = F.conv2d_forward(x, W, b, stride, padding)
    return out[:, :, :-1], cache


def conv_stride_ignored(x, W, b, stride=1, padding=0):
    return F.conv2d_forward(x, W, b, 1, padding)


def conv_forward_simple_cache(x, W, b, stride=1, padding=0):
    return F.conv2d_forward(x, W, b, stride, padding)[0], (x, W, b, stride, padding)


def conv_backward_no_crop(dout, cache):
    """Gradient w.r.t. the *padded* input: the padding was never cropped off."""
    x, W, b, stride, p = cache
    xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    return F.conv2d_backward(dout, F.conv2d_forward(xpad, W, b, stride, 0)[1])


def conv_backward_bias_not_summed(dout, cache):
    dx, dW, _ = F.conv2d_backward(dout, cache)
    return dx, dW, dout.sum(axis=(2, 3))


def dropout_not_rescaled(x, p, training=True, rng=None):
    if not training:
        return x.copy(), None
    mask = (rng.random(x.shape) >= p).astype(x.dtype)
    return x * mask, mask


def relu_in_place(x):
    cache = x.copy()
    x[x < 0] = 0
    return x, cache


def linear_float64(x, W, b):
    out, cache = F.linear_forward(x, W, b)
    return out.astype(np.float64), cache


def test_output_size_off_by_one():
    r = report_for("conv2d_forward", conv_off_by_one)
    assert r.n_passed == 0
    assert "wrong shape" in r.text() and "output size off by one" in r.text()


def test_stride_ignored():
    r = report_for("conv2d_forward", conv_stride_ignored)
    failing = {res.case.name for res in r.results if not res.passed}
    assert failing and all("stride" in res.case.tags for res in r.results if not res.passed)
    assert "stride ignored?" in r.text()
    assert "fails only with stride > 1" in r.text()


def test_padding_forgotten_in_backward():
    r = report_for("conv2d_backward", conv_backward_no_crop, forward=conv_forward_simple_cache)
    assert not r.passed
    assert all("padding" in res.case.tags or res.case.gradcheck for res in r.results if not res.passed)
    assert "padding forgotten in backward" in r.text()
    assert "dx: wrong shape" in r.text()


def test_bias_gradient_not_summed():
    r = report_for("conv2d_backward", conv_backward_bias_not_summed)
    assert r.n_passed == 0
    assert "db: wrong shape: expected (4,), got (2, 4)" in r.text()
    assert "db = dout.sum(axis=(0, 2, 3))" in r.text()
    assert "dx:" not in r.text() and "dW:" not in r.text()     # only db is reported wrong


def test_dropout_not_rescaled():
    r = report_for("dropout_forward", dropout_not_rescaled)
    assert not r.passed
    assert "dropout not rescaled" in r.text()
    passed = {res.case.name for res in r.results if res.passed}
    assert "eval mode (training=False)" in passed and "p=0 (keep everything)" in passed
    # the backward is graded on the learner's own cache, so it still passes
    assert report_for("dropout_backward", lambda dout, mask: dout.copy() if mask is None else dout * mask,
                      forward=dropout_not_rescaled).passed


def test_input_modified_in_place():
    r = report_for("relu_forward", relu_in_place)
    assert r.n_passed == 0
    assert "input x was modified in place" in r.text()
    assert "never change the inputs" in r.text()


def test_wrong_dtype():
    r = report_for("linear_forward", linear_float64)
    failing = [res for res in r.results if not res.passed]
    assert [res.case.name for res in failing] == ["float32"]
    assert "wrong dtype: expected float32, got float64" in r.text()
    assert "dtype=x.dtype" in r.text()


def test_gradient_mismatch_names_the_wrong_gradient():
    def backward(dout, cache):
        dx, dW, db = F.linear_backward(dout, cache)
        return dx, 2 * dW, db
    r = report_for("linear_backward", backward)
    text = r.text()
    assert "dW: values off" in text and "dx: values off" not in text and "db:" not in text
    assert "disagrees with the numerical gradient" in text


def test_softmax_gradient_not_divided_by_batch():
    def loss(logits, y):
        value, d = F.softmax_cross_entropy(logits, y)
        return value, d * logits.shape[0]
    r = report_for("softmax_cross_entropy", loss)
    assert "divide the gradient by N" in r.text()


# --- robustness: never crash on a broken function ---------------------------------------------------

def test_exception_reported_with_the_learners_line():
    def relu_forward(x):
        y = x[:, 0]
        return y[99], None          # IndexError on this line
    r = report_for("relu_forward", relu_forward)
    assert r.n_passed == 0
    assert "raised IndexError" in r.text()
    assert "in relu_forward: return y[99], None" in r.text()


def test_sys_exit_is_reported():
    import sys

    def relu_forward(x):
        sys.exit(3)
    r = report_for("relu_forward", relu_forward)
    assert r.n_passed == 0 and "raised SystemExit: 3" in r.text()


@pytest.mark.parametrize("result", [None, "text", [1, 2], (np.zeros(3),), (np.full((4, 5), np.nan), None)])
def test_odd_return_values_are_reported(result):
    r = report_for("relu_forward", lambda x: result)
    assert r.n_passed == 0 and not r.passed
    assert "FAIL" in r.text()


def test_not_written_raises_not_implemented():
    def relu_forward(x):
        raise NotImplementedError()
    r = report_for("relu_forward", relu_forward)
    assert r.not_written == "relu_forward" and not r.passed
    with pytest.raises(NotImplementedError):
        check("relu_forward", relu_forward)
    # a backward whose forward is still the stub
    with pytest.raises(NotImplementedError, match="relu_forward is not written yet"):
        check("relu_backward", F.relu_backward, relu_forward)


def test_not_written_names_the_helper_that_is_a_stub():
    def projection_shortcut(h, W, stride):
        raise NotImplementedError()

    def residual_block_forward(x, params, stride=1):
        return projection_shortcut(x, None, stride)
    r = report_for("residual_block_forward", residual_block_forward)
    assert r.not_written == "projection_shortcut"
    assert "projection_shortcut is not written yet" in r.text()


def test_check_prints_table_and_raises_exercise_failed(capsys):
    check("relu_forward", F.relu_forward)
    assert "all cases passed" in capsys.readouterr().out
    with pytest.raises(ExerciseFailed, match="4 of 4 cases failed") as info:
        check("relu_forward", relu_in_place)
    assert isinstance(info.value, AssertionError)
    assert info.value._render_traceback_() and "FAIL" in capsys.readouterr().out


def test_clear_errors_for_misuse():
    with pytest.raises(KeyError, match="unknown exercise"):
        check("conv3d_forward", F.conv2d_forward)
    with pytest.raises(TypeError, match="also needs your forward"):
        check("conv2d_backward", F.conv2d_backward)


def test_difference_picture():
    x = np.random.default_rng(0).standard_normal((1, 1, 6, 6))
    W = np.ones((1, 1, 3, 3))
    r = report_for("conv2d_forward", lambda x, W, b, stride=1, padding=0:
                   (F.conv2d_forward(x, W, b, stride, padding)[0] * 1.5, None))
    problem = next(p for res in r.results for p in res.problems)
    assert problem.image_like
    fig = difference_figure(problem, "test")
    assert len(fig.axes) == 4           # expected, got, |difference| and its colour bar
    shape_problem = next(p for res in report_for("conv2d_forward", conv_off_by_one).results for p in res.problems)
    assert len(difference_figure(shape_problem, "test").axes) == 2
    import matplotlib.pyplot as plt
    plt.close("all")
    del x, W


WEIRD = {
    "object array": lambda shape: np.empty(shape, dtype=object),
    "strings": lambda shape: np.full(shape, "x"),
    "complex": lambda shape: np.zeros(shape, dtype=complex),
    "ints": lambda shape: np.zeros(shape, dtype=int),
    "scalar": lambda shape: 3.0,
    "generator": lambda shape: (i for i in range(3)),
}


@pytest.mark.parametrize("weird", sorted(WEIRD))
@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_never_crashes_on_odd_outputs(exercise_id, weird):
    """Whatever a learner's function returns, evaluate() reports it and does not raise."""
    ex = EXERCISES[exercise_id]
    make = WEIRD[weird]

    def odd(*args, **kwargs):
        shape = args[0].shape if args and isinstance(args[0], np.ndarray) else (2, 2)
        value = make(shape)
        return value if len(ex.outputs) == 1 and ex.kind != "forward" else (value,) * max(2, len(ex.outputs))
    forward = odd if ex.kind == "backward" else None
    report = evaluate(exercise_id, odd, forward)
    assert not report.passed and report.text()
    if ex.kind == "backward":     # the learner's odd forward, with the reference's backward
        report = evaluate(exercise_id, reference_fn(exercise_id), odd)
        assert report.text()
