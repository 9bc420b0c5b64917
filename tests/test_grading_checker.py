"""The graded cases and the in-notebook check(), run in-process on correct and buggy functions."""
import numpy as np
import pytest

import nnbook.functional as F
import nnbook.optim
from nnbook.grading import EXERCISES, ExerciseFailed, check, evaluate
from nnbook.grading.judge.checker import difference_figure
from nnbook.grading.sets import ex8_putting_it_together as capstone
from nnbook.grading.sets.ex7_residual import reference_block
from nnbook.layers import needs_projection

from helpers import as_stated


def _projection(h, W, stride):
    return F.conv2d_forward(h, W, None, stride, 0)[0]


def _block(x, params, stride=1):
    block = reference_block(x.shape[1], params["conv1.W"].shape[0], stride, params)
    return block(x.astype(np.float64)).astype(x.dtype)


pytestmark = pytest.mark.usefixtures("references_as_learners")   # see tests/conftest.py


REFERENCE = {"projection_shortcut": _projection, "needs_projection": needs_projection,
             "residual_block_forward": _block,
             "resnet_block_forward": capstone.reference_block_forward,
             "resnet_block_backward": capstone.reference_block_backward,
             "resnet_train_step": capstone.reference_train_step,
             "resnet_train": capstone.reference_train}


def reference_fn(exercise_id):
    """nnbook's own function, with the cache the exercise states where it states one."""
    if exercise_id in REFERENCE:
        return REFERENCE[exercise_id]
    if EXERCISES[exercise_id].cache is not None:
        return as_stated(exercise_id)
    return getattr(F, exercise_id, None) or getattr(nnbook.optim, exercise_id)


def report_for(exercise_id, fn, forward=None, hidden=False):
    ex = EXERCISES[exercise_id]
    if ex.kind == "backward" and forward is None:
        forward = reference_fn(ex.forward)
    return evaluate(exercise_id, fn, forward, hidden)


def flat(report, hints=None):
    """The report's text with the line wrapping undone (lines are wrapped at spaces)."""
    return " ".join(report.text(hints).split())


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
    out, _ = F.conv2d_forward(x, W, b, stride, padding)
    return out[:, :, :-1], (x, W, b, stride, padding)


def conv_stride_ignored(x, W, b, stride=1, padding=0):
    return F.conv2d_forward(x, W, b, 1, padding)[0], (x, W, b, stride, padding)


def conv_forward_simple_cache(x, W, b, stride=1, padding=0):
    return F.conv2d_forward(x, W, b, stride, padding)[0], (x, W, b, stride, padding)


def conv_backward_no_crop(dout, cache):
    """Gradient w.r.t. the *padded* input: the padding was never cropped off."""
    x, W, b, stride, p = cache
    xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    return F.conv2d_backward(dout, F.conv2d_forward(xpad, W, b, stride, 0)[1])


def conv_backward_bias_not_summed(dout, cache):
    dx, dW, _ = as_stated("conv2d_backward")(dout, cache)
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
    out, _ = F.linear_forward(x, W, b)
    return out.astype(np.float64), (x, W, b)


def test_output_size_off_by_one():
    r = report_for("conv2d_forward", conv_off_by_one)
    assert r.n_passed == 0
    assert "wrong shape" in r.text() and "output size off by one" in r.text()


def test_stride_ignored():
    r = report_for("conv2d_forward", conv_stride_ignored)
    failing = {res.case.name for res in r.results if not res.passed}
    assert failing and all("stride" in res.case.tags for res in r.results if not res.passed)
    assert "stride ignored?" in r.text()
    assert "fails only with stride > 1" not in r.text()    # the specific hint explains: the summary stays silent


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
    assert r.mistake_ids == ["conv_db_not_summed"]
    assert "db[f] = sum over n, i, j of dout[n, f, i, j]" in flat(r)        # level 2: the formula
    assert "db = dout.sum(axis=(0, 2, 3))" not in r.text()                    # the code only when asked
    assert "db = dout.sum(axis=(0, 2, 3))" in r.text(hints=3)
    assert "dx:" not in r.text() and "dW:" not in r.text()     # only db is reported wrong


def test_dropout_not_rescaled():
    r = report_for("dropout_forward", dropout_not_rescaled)
    assert not r.passed
    assert "dropout not rescaled" in r.text()
    passed = {res.case.name for res in r.results if res.passed}
    assert "eval mode (training=False)" in passed and "p=0 (keep everything)" in passed
    # the backward is judged on nnbook's mask, so a right one passes whatever the forward does
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
        dx, dW, db = as_stated("linear_backward")(dout, cache)
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
    assert "softmax_grad_not_divided" in r.mistake_ids
    assert "its gradient is divided by N too" in flat(r)


# --- robustness: never crash on a broken function ---------------------------------------------------

def test_exception_reported_with_the_learners_line():
    def relu_forward(x):
        y = x[:, 0]
        return y[99], None          # IndexError on this line
    r = report_for("relu_forward", relu_forward)
    assert r.n_passed == 0
    assert "raised IndexError" in r.text()
    assert "in relu_forward: return y[99], None" in flat(r)


def test_sys_exit_is_reported():
    import sys

    def relu_forward(x):
        sys.exit(3)
    r = report_for("relu_forward", relu_forward)
    assert r.n_passed == 0 and "raised SystemExit at line" in r.text() and "SystemExit: 3" in r.text()


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
    # a backward whose forward is still the stub is judged all the same (on nnbook's cache)
    check("relu_backward", F.relu_backward, relu_forward)

    def relu_backward(dout, cache):
        raise NotImplementedError()
    with pytest.raises(NotImplementedError, match="relu_backward is not written yet"):
        check("relu_backward", relu_backward, relu_forward)


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
    # every backward's cache is stated now, the capstone block's too: none needs the learner's forward
    from nnbook.grading.judge.checker import evaluate
    assert evaluate("resnet_block_backward", capstone.reference_block_backward).passed


def test_difference_picture():
    x = np.random.default_rng(0).standard_normal((1, 1, 6, 6))
    W = np.ones((1, 1, 3, 3))
    r = report_for("conv2d_forward", lambda x, W, b, stride=1, padding=0:
                   (F.conv2d_forward(x, W, b, stride, padding)[0] * 1.5, None))
    problem = next(p for res in r.results for p in res.problems)
    assert problem.image_like
    fig = difference_figure(problem, "test")
    assert len(fig.axes) == 4           # expected, got, |difference| and its color bar
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


# --- tiered hints, said once per check ---------------------------------------------------------------

def linear_backward_db_mean(dout, cache):
    dx, dW, db = as_stated("linear_backward")(dout, cache)
    return dx, dW, db / dout.shape[0]


def test_hint_levels_concept_formula_code():
    from nnbook.grading.sets.ex1_fully_connected import DB_MEAN
    one, two, three = (flat(report_for("linear_backward", linear_backward_db_mean), hints=h) for h in (1, 2, 3))
    assert DB_MEAN.concept in one and DB_MEAN.formula not in one and DB_MEAN.code not in one
    assert DB_MEAN.concept in two and DB_MEAN.formula in two and DB_MEAN.code not in two
    assert DB_MEAN.formula in three and "code: " + DB_MEAN.code in three
    # the level chosen in evaluate() is the default of text()
    r = evaluate("linear_backward", linear_backward_db_mean, as_stated("linear_forward"), hints=3)
    assert r.hint_level == 3 and DB_MEAN.code in r.text()
    with pytest.raises(ValueError, match="hints"):
        evaluate("linear_backward", linear_backward_db_mean, as_stated("linear_forward"), hints=4)


def test_check_hints_argument_and_the_way_to_more(capsys):
    with pytest.raises(ExerciseFailed, match=r"hints=3 says more"):
        check("linear_backward", linear_backward_db_mean, as_stated("linear_forward"))
    assert "dout.sum(axis=0)" not in capsys.readouterr().out
    with pytest.raises(ExerciseFailed) as info:
        check("linear_backward", linear_backward_db_mean, as_stated("linear_forward"), hints=3)
    assert "dout.sum(axis=0)" in capsys.readouterr().out and "says more" not in str(info.value)


def test_a_hint_is_said_once_with_the_cases_it_explains():
    r = report_for("linear_backward", linear_backward_db_mean)
    failing = [res.case.name for res in r.results if not res.passed]
    assert len(failing) >= 4 and "numerical gradient (float64)" in failing
    [mistake] = [m for m in r.mistakes if m.id == "linear_db_mean"]
    assert mistake.cases == failing                          # every failing case, in order
    assert r.hints == [m.hint for m in r.mistakes]
    text = r.text()
    assert text.count(mistake.hint.concept.split(":")[0]) == 1        # said once, not once per case
    assert text.count("[hint") == len(failing)                        # each failing row points at it
    assert f"explains: all {len(failing)} failing cases" in flat(r)


def test_old_style_string_rules_still_work(monkeypatch):
    ex = EXERCISES["relu_forward"]
    monkeypatch.setattr(ex, "rules", ex.rules + ((lambda case, problem: "an old-style hint, as a string"),))
    r = report_for("relu_forward", lambda x: (np.abs(x) + 1, None))   # no wrong alternative of ReLU's explains it
    [m] = [m for m in r.mistakes if m.hint.concept == "an old-style hint, as a string"]
    assert m.id.startswith("text:") and len(m.cases) == 4
    assert flat(r).count("an old-style hint, as a string") == 1


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_right_answers_get_no_hint(exercise_id):
    r = report_for(exercise_id, reference_fn(exercise_id))
    assert r.passed and r.mistakes == [] and r.hints == [] and "hint" not in r.text()


def test_every_set_module_hint_is_a_tiered_hint():
    from nnbook.grading.judge.exercise import Hint
    from nnbook.grading import sets
    hints = [v for mod in (sets.ex1_fully_connected, sets.ex3_convolution, sets.ex4_pooling, sets.ex5_dropout,
                           sets.ex7_residual) for v in vars(mod).values() if isinstance(v, Hint)]
    assert len(hints) >= 40
    for h in hints:
        assert h.id and h.concept and h.id == h.id.strip() and " " not in h.id, h
    for ex in EXERCISES.values():
        assert all(isinstance(h, Hint) for h in ex.only_with.values()), ex.id


# --- the classic mistakes, each detected and named ---------------------------------------------------

def conv_backward_overwrites(dout, cache):
    """The loop of the exercise, with `=` where windows overlap instead of `+=`."""
    x, W, b, stride, p = cache
    kh, kw = W.shape[2:]
    xpad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxpad, dW = np.zeros_like(xpad), np.zeros_like(W)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
            dW += np.tensordot(dout[:, :, i, j], xpad[:, :, rows, cols], axes=([0], [0]))
            dxpad[:, :, rows, cols] = np.tensordot(dout[:, :, i, j], W, axes=([1], [0]))
    return dxpad[:, :, p:p + x.shape[2], p:p + x.shape[3]], dW, dout.sum(axis=(0, 2, 3))


def test_conv_backward_overwrite_instead_of_accumulate():
    r = report_for("conv2d_backward", conv_backward_overwrites, forward=conv_forward_simple_cache)
    assert r.n_passed == 0
    [m] = [m for m in r.mistakes if m.id == "conv_backward_overwrites"]
    assert m.cases == [res.case.name for res in r.results]     # every case, the numerical gradient's too
    assert "overlapping windows must add up their contributions" in flat(r)
    assert flat(r).count("overlapping windows must add up") == 1
    assert "dW:" not in r.text() and "db:" not in r.text()


def maxpool_forward_cache(x, kernel_size, stride=None):
    s = kernel_size if stride is None else stride
    return F.maxpool2d_forward(x, kernel_size, stride)[0], (x, kernel_size, s)


def maxpool_backward(ties):
    """A loop max-pool backward: ``"first"`` (right), ``"all"`` tied maxima or ``"split"`` among them."""
    def backward(dout, cache):
        x, k, s = cache
        dx = np.zeros_like(x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                w = x[:, :, i * s:i * s + k, j * s:j * s + k]
                if ties == "first":
                    flat_w = w.reshape(w.shape[0], w.shape[1], -1)
                    is_max = np.zeros_like(flat_w)
                    np.put_along_axis(is_max, flat_w.argmax(axis=2)[:, :, None], 1, axis=2)
                    is_max = is_max.reshape(w.shape)
                else:
                    is_max = (w == w.max(axis=(2, 3), keepdims=True)).astype(x.dtype)
                    if ties == "split":
                        is_max /= is_max.sum(axis=(2, 3), keepdims=True)
                dx[:, :, i * s:i * s + k, j * s:j * s + k] += is_max * dout[:, :, i, j, None, None]
        return dx
    return backward


@pytest.mark.parametrize("ties, mistake", [("all", "maxpool_backward_all_ties"),
                                           ("split", "maxpool_backward_split_ties")])
def test_maxpool_backward_ties_fail_and_are_named(ties, mistake):
    r = report_for("maxpool2d_backward", maxpool_backward(ties), forward=maxpool_forward_cache)
    failing = {res.case.name for res in r.results if not res.passed}
    tie_cases = {res.case.name for res in r.results if "ties" in res.case.tags}
    assert len(tie_cases) >= 2 and failing == tie_cases         # visible cases with ties, and they FAIL
    assert r.mistake_ids == [mistake]
    assert "only the first one (in row-major order)" in flat(r) or "the first one (in row-major order)" in flat(r)
    hidden = report_for("maxpool2d_backward", maxpool_backward(ties), forward=maxpool_forward_cache, hidden=True)
    assert not hidden.passed                                     # the hidden cases have ties too


def test_maxpool_backward_first_maximum_passes():
    r = report_for("maxpool2d_backward", maxpool_backward("first"), forward=maxpool_forward_cache)
    assert r.passed and not r.mistakes


def test_dropout_not_inverted_is_named():
    r = report_for("dropout_forward", dropout_not_rescaled)
    assert "dropout_not_inverted" in r.mistake_ids
    [m] = [m for m in r.mistakes if m.id == "dropout_not_inverted"]
    assert len(m.cases) == sum(not res.passed for res in r.results)


def softmax_no_shift(logits, y):
    e = np.exp(logits)
    p = e / e.sum(axis=1, keepdims=True)
    N = logits.shape[0]
    d = p.copy()
    d[np.arange(N), y] -= 1
    return float(-np.log(p[np.arange(N), y]).mean()), d / N


def test_softmax_overflow_without_max_subtraction():
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        r = report_for("softmax_cross_entropy", softmax_no_shift)
    failing = [res for res in r.results if not res.passed]
    assert failing and all("large" in res.case.tags for res in failing)
    assert r.mistake_ids == ["softmax_overflow"]
    assert "np.exp overflows for large logits" in flat(r)


def test_linear_transposed_dW_and_db_as_mean():
    def transposed(dout, cache):
        dx, dW, db = as_stated("linear_backward")(dout, cache)
        return dx, dW.T.copy(), db
    r = report_for("linear_backward", transposed)
    assert r.mistake_ids[0] == "linear_dW_transposed" and "dW is transposed" in flat(r)
    assert "linear_dW_shape" not in r.mistake_ids          # the generic shape hint gives way
    assert report_for("linear_backward", linear_backward_db_mean).mistake_ids == ["linear_db_mean"]


def test_conv_db_as_mean():
    def db_mean(dout, cache):
        dx, dW, db = as_stated("conv2d_backward")(dout, cache)
        return dx, dW, db / dout.shape[0]
    r = report_for("conv2d_backward", db_mean)
    assert r.mistake_ids == ["conv_db_mean"] and "db is a sum, not a mean" in flat(r)


def test_off_by_one_is_named_and_a_fallback():
    r = report_for("conv2d_forward", conv_off_by_one)
    assert r.mistake_ids == ["output_size_off_by_one"]

    def pool_no_plus_one(x, kernel_size, stride=None):
        s = kernel_size if stride is None else stride
        out, _ = F.maxpool2d_forward(x, kernel_size, s)
        return out[:, :, :-1, :-1], (x, kernel_size, s)
    r = report_for("maxpool2d_forward", pool_no_plus_one)
    assert "output_size_off_by_one" in r.mistake_ids and "stride_ignored" not in r.mistake_ids


def maxpool_stride_ignored_first_window(x, kernel_size, stride=None):
    """The learner of the issue: steps by the kernel size, and `return` slipped into the loop."""
    k = kernel_size
    N, C, H, W = x.shape
    Ho, Wo = (H - k) // k + 1, (W - k) // k + 1
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * k:i * k + k, j * k:j * k + k].max(axis=(2, 3))
            return out, (x, k)


def test_stride_ignored_and_first_window_not_off_by_one():
    r = report_for("maxpool2d_forward", maxpool_stride_ignored_first_window)
    assert "stride_ignored" in r.mistake_ids and "first_window_only" in r.mistake_ids
    assert "output_size_off_by_one" not in r.mistake_ids
    stride_cases = {res.case.name for res in r.results if (res.case.kwargs["stride"] or res.case.args[1])
                    != res.case.args[1]}
    [m] = [m for m in r.mistakes if m.id == "stride_ignored"]
    assert set(m.cases) == stride_cases
    assert "stride ignored?" in flat(r) and "only the first output position was filled" in flat(r)


def test_stride_ignored_alone():
    def no_stride(x, kernel_size, stride=None):
        return maxpool_forward_cache(x, kernel_size, None)
    r = report_for("maxpool2d_forward", no_stride)
    assert "stride_ignored" in r.mistake_ids and "output_size_off_by_one" not in r.mistake_ids
    assert "first_window_only" not in r.mistake_ids


def test_output_all_zeros():
    r = report_for("conv2d_forward", lambda x, W, b, stride=1, padding=0:
                   (np.zeros_like(F.conv2d_forward(x, W, b, stride, padding)[0]), (x, W, b, stride, padding)))
    assert r.n_passed == 0 and r.mistake_ids == ["output_all_zeros"]
    assert "zero everywhere" in flat(r)


def test_transposed_axes():
    r = report_for("avgpool2d_forward", lambda x, k, stride=None:
                   (F.avgpool2d_forward(x, k, stride)[0].swapaxes(2, 3).copy(), (x, k, stride or k)))
    [m] = [m for m in r.mistakes if m.id == "transposed_axes"]
    assert len(m.cases) >= 5 and "spatial axes are swapped" in flat(r)


def test_projection_on_the_raw_input():
    def block(x, params, stride=1):
        ref = reference_block(x.shape[1], params["conv1.W"].shape[0], stride, params)
        h = np.maximum(ref.bn1(x), 0)
        branch = ref.conv2(np.maximum(ref.bn2(ref.conv1(h)), 0))
        skip = _projection(x, params["projection.W"], stride) if "projection.W" in params else x
        return branch + skip
    r = report_for("residual_block_forward", block)
    failing = {res.case.name for res in r.results if not res.passed}
    assert failing == {res.case.name for res in r.results if "projection" in res.case.tags}
    assert "projection_on_raw_input" in r.mistake_ids
    assert "applied to the raw input x" in flat(r)


# --- readable in the notebook ------------------------------------------------------------------------

def test_text_lines_wrap_at_spaces_never_inside_a_number():
    from nnbook.grading.judge.feedback import WIDTH
    r = evaluate("conv2d_forward", lambda x, W, b, stride=1, padding=0:
                 (F.conv2d_forward(x, W, b, stride, padding)[0] * 1.37 + 2.2987654, None), hints=3)
    text = r.text(hints=3)
    assert any(len(p.message) > WIDTH - 10 for res in r.results for p in res.problems)    # long messages...
    assert all(len(line) <= WIDTH for line in text.splitlines() if "code: " not in line)  # ...are wrapped
    for res in r.results:
        for p in res.problems:
            assert " ".join(p.message.split()) in flat(r, hints=3)     # wrapped at spaces only


def test_html_table_verdict_and_hints_first_then_one_row_per_case():
    r = report_for("conv2d_backward", conv_backward_overwrites, forward=conv_forward_simple_cache)
    page = r.html()
    assert page.index("cases passed") < page.index("overlapping windows") < page.index("<table")
    assert page.count("<tr>") == len(r.results) + 1                       # a header and one row per case
    assert "<span style='white-space:nowrap'>" in page                      # numbers are never broken
    assert "word-break:normal" in page
    assert "+= np.tensordot" not in page and "+= np.tensordot" in r.html(hints=3)


def test_check_displays_html_with_a_text_fallback_in_a_notebook(monkeypatch):
    import IPython.display
    from nnbook.grading.judge import checker
    shown = []
    monkeypatch.setattr(checker, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    check("relu_forward", F.relu_forward)
    [(bundle, raw)] = shown
    assert raw and set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"] == report_for("relu_forward", F.relu_forward).text()
    assert "<table" in bundle["text/html"]


def test_feedback_report_hides_code_behind_show_more():
    from types import SimpleNamespace
    from nnbook.grading.report.learner import html_report
    r = report_for("linear_backward", linear_backward_db_mean)
    test = SimpleNamespace(grade_id="linear_backward", points=0, max_points=3, status="failed", reason="",
                           feedback=r.text(hints=3), images=[])
    sub = SimpleNamespace(student="s", path="s.ipynb", set_name="ex1_fully_connected", total=0, max_points=3,
                          error="", tests=[test], flags=[])
    page = html_report(sub)
    assert "<details><summary>show more" in page
    details = page[page.index("<details>"):page.index("</details>")]
    assert "dout.sum(axis=0)" in details
    assert "dout.sum(axis=0)" not in page.replace(details, "")


# --- scaffolding without the answer ------------------------------------------------------------------

def _exercise_text(nb):
    """The markdown of an exercise notebook and the docstrings of its code cells."""
    import ast
    parts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    for c in nb.cells:
        if c.cell_type == "code":
            try:
                tree = ast.parse(c.source)
            except SyntaxError:
                continue
            parts += [ast.get_docstring(n) or "" for n in ast.walk(tree)
                      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return "\n".join(parts)


@pytest.mark.parametrize("name", ["ex1_fully_connected", "ex3_convolution", "ex4_pooling", "ex5_dropout",
                                  "ex7_residual"])
def test_exercise_text_does_not_give_the_solution_away(name):
    """No line of the reference answer (and none of the formulas the issue found) is in the text
    a learner reads, and the text points to the chapter instead."""
    import re
    from pathlib import Path
    import nbformat
    root = Path(__file__).resolve().parents[1]
    solution = nbformat.read(root / "solutions" / f"{name}.ipynb", as_version=4)
    text = _exercise_text(nbformat.read(root / "exercises" / f"{name}.ipynb", as_version=4))
    squeezed = re.sub(r"\s+", "", text)
    answer_lines = []
    for c in solution.cells:
        inside = False
        for line in c.source.splitlines():
            if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                inside = "BEGIN" in line
            elif inside and len(re.sub(r"\s+", "", line.split("#")[0])) >= 12:
                answer_lines.append(re.sub(r"\s+", "", line.split("#")[0]))
    assert answer_lines
    # the output size is part of the task (the shapes), not of the answer
    leaked = [line for line in answer_lines if line in squeezed and not line.startswith(("Ho=", "Wo="))]
    assert not leaked, leaked
    for formula in ("dout@W.T", "x_flat.T@dout", "rng.random(x.shape)>=p", "dout/(k*k)", "dout.sum(", "+="):
        assert formula not in squeezed, formula
    chapter = {"ex1": "01_fully_connected", "ex3": "03_convolution", "ex4": "04_pooling", "ex5": "05_dropout",
               "ex7": "07_residual"}[name[:3]]
    assert f"](../book/{chapter}.ipynb)" in text


def test_a_coincidental_tag_is_not_blamed():
    """The hidden tie case has a stride; the ties, not the stride, are the cause."""
    r = report_for("maxpool2d_backward", maxpool_backward("all"), forward=maxpool_forward_cache, hidden=True)
    failing = [res for res in r.results if not res.passed]
    assert failing and all("stride" in res.case.tags for res in failing)
    assert r.mistake_ids == ["maxpool_backward_all_ties"]
    # ... and a stride bug is named by its own hint, without the "fails only with stride" summary (which
    # would say the same thing again, less precisely)
    assert report_for("conv2d_forward", conv_stride_ignored).mistake_ids == ["stride_ignored"]


def test_a_check_in_a_kernel_shows_one_line_for_a_stub_and_the_learners_line_for_a_bug(tmp_path):
    """In a real kernel (as in JupyterLab): a stub gives one line, 'not written yet', without a
    traceback into the checker; a learner's bug shows in the table with the learner's own line."""
    import nbformat
    from nbclient import NotebookClient
    stub = "def relu_forward(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    bug = "def relu_forward(x):\n    out = x.reshape(3, -1)\n    return np.maximum(out, 0), x"
    cells = ["import numpy as np\nfrom nnbook.grading import check", stub, 'check("relu_forward", relu_forward)',
             bug, 'check("relu_forward", relu_forward)']
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    [err] = [o for o in nb.cells[2].outputs if o.output_type == "error"]
    assert len(err.traceback) == 1 and "relu_forward is not written yet" in err.traceback[0], err.traceback
    assert not [o for o in nb.cells[2].outputs if o.output_type != "error"], "only the one line"
    shown = " ".join(" ".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                              for o in nb.cells[4].outputs).split())     # the table wraps long lines
    assert "out = x.reshape(3, -1)" in shown and "line 2 in relu_forward" in shown, shown
    [err] = [o for o in nb.cells[4].outputs if o.output_type == "error"]
    assert err.ename == "ExerciseFailed" and len(err.traceback) == 1 and "checker.py" not in err.traceback[0]
