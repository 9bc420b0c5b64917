"""Forward values: worked examples, the loop definitions in nnbook.naive, and PyTorch (when installed)."""
import numpy as np
import pytest

from nnbook import functional as F
from nnbook import naive
from nnbook.gradcheck import rel_error

POOL_EXAMPLE = np.array([[4, 7, 1, 2], [6, 3, 0, 8], [9, 1, 6, 0], [6, 4, 1, 7]], dtype=float)[None, None]


def test_pooling_worked_example():
    mean, _ = F.avgpool2d_forward(POOL_EXAMPLE, 2)
    mx, _ = F.maxpool2d_forward(POOL_EXAMPLE, 2)
    np.testing.assert_array_equal(mean[0, 0], [[5, 2.75], [5, 3.5]])
    np.testing.assert_array_equal(mx[0, 0], [[7, 8], [9, 7]])


def test_maxpool_backward_routes_to_the_maximum():
    _, cache = F.maxpool2d_forward(POOL_EXAMPLE, 2)
    dx = F.maxpool2d_backward(np.ones((1, 1, 2, 2)), cache)
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 3] = expected[2, 0] = expected[3, 3] = 1
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_maxpool_ties_go_to_first_maximum_only():
    x = np.zeros((1, 1, 2, 4))        # all-zero windows, as after a ReLU
    x[0, 0, 1, 3] = 0.0
    _, cache = F.maxpool2d_forward(x, 2)
    dx = F.maxpool2d_backward(np.array([[[[3.0, 5.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[3, 0, 5, 0], [0, 0, 0, 0]])


CONV_CASES = [((2, 3, 6, 5), (4, 3, 3, 2), 1, 0), ((1, 2, 7, 7), (3, 2, 3, 3), 2, 1),
              ((2, 1, 5, 9), (2, 1, 2, 4), (2, 3), (1, 2)), ((1, 3, 4, 4), (2, 3, 1, 1), 2, 0),
              ((1, 2, 5, 6), (3, 2, 3, 3), 1, (2, 0))]


@pytest.mark.parametrize("x_shape,w_shape,stride,padding", CONV_CASES)
def test_conv2d_matches_loop_definition(x_shape, w_shape, stride, padding, conv_method):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, cache = F.conv2d_forward(x, W, b, stride, padding)
    ref, ref_cache = naive.conv2d_forward(x, W, b, stride, padding)
    assert rel_error(out, ref) < 1e-12
    dout = rng.standard_normal(out.shape)
    for got, want in zip(F.conv2d_backward(dout, cache), naive.conv2d_backward(dout, ref_cache)):
        assert rel_error(got, want) < 1e-12


@pytest.mark.parametrize("pool", ["maxpool2d", "avgpool2d"])
@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 2), ((2, 3), (1, 2))])
def test_pooling_matches_loop_definition(pool, kernel, stride):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 8))
    out, cache = getattr(F, f"{pool}_forward")(x, kernel, stride)
    ref, ref_cache = getattr(naive, f"{pool}_forward")(x, kernel, stride)
    assert rel_error(out, ref) < 1e-12
    dout = rng.standard_normal(out.shape)
    got = getattr(F, f"{pool}_backward")(dout, cache)
    assert rel_error(got, getattr(naive, f"{pool}_backward")(dout, ref_cache)) < 1e-12


def test_linear_matches_loop_definition():
    rng = np.random.default_rng(2)
    x, W, b = rng.standard_normal((3, 2, 5)), rng.standard_normal((10, 4)), rng.standard_normal(4)
    out, cache = F.linear_forward(x, W, b)
    ref, ref_cache = naive.linear_forward(x, W, b)
    assert rel_error(out, ref) < 1e-12
    dout = rng.standard_normal(out.shape)
    for got, want in zip(F.linear_backward(dout, cache), naive.linear_backward(dout, ref_cache)):
        assert rel_error(got, want) < 1e-12


def test_shortcut_example_from_darknet_rule():
    x, y = np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2))
    out, _ = F.shortcut_forward(x, y)
    expected = np.ones((4, 4))
    expected[::2, ::2] = 2
    np.testing.assert_array_equal(out[0, 0], expected)


def test_shortcut_larger_y_is_sampled_and_extra_channels_untouched():
    x = np.zeros((1, 3, 2, 2))
    y = np.arange(2 * 4 * 4, dtype=float).reshape(1, 2, 4, 4)
    out, _ = F.shortcut_forward(x, y, alpha=1.0, beta=2.0)
    np.testing.assert_array_equal(out[0, :2], 2 * y[0, :, ::2, ::2])
    np.testing.assert_array_equal(out[0, 2], 0)


def test_shortcut_same_shape_is_weighted_sum():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 3, 4, 4))
    out, _ = F.shortcut_forward(x, y, alpha=0.5, beta=2.0)
    assert rel_error(out, 0.5 * x + 2.0 * y) < 1e-15


def test_dropout_inverted_scaling_and_reproducibility():
    x = np.ones((200, 500))
    out, _ = F.dropout_forward(x, 0.3, rng=np.random.default_rng(0))
    kept = out != 0
    assert np.allclose(out[kept], 1 / 0.7)
    assert abs(kept.mean() - 0.7) < 0.01          # drop fraction ~ p
    assert abs(out.mean() - 1.0) < 0.01           # expectation preserved
    again, _ = F.dropout_forward(x, 0.3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(out, again)
    ev, _ = F.dropout_forward(x, 0.3, training=False)
    np.testing.assert_array_equal(ev, x)


def test_batchnorm_running_stats_updated_in_place_with_unbiased_variance():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 2, 3, 3)) * 3 + 1
    rm, rv = np.zeros(2), np.ones(2)
    rm_id, rv_id = id(rm), id(rv)
    out, _ = F.batchnorm_forward(x, np.ones(2), np.zeros(2), rm, rv, momentum=0.1)
    assert id(rm) == rm_id and id(rv) == rv_id
    np.testing.assert_allclose(rm, 0.1 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(rv, 0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1))
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-3)


def test_softmax_cross_entropy_is_stable_and_averaged():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]])
    loss, d = F.softmax_cross_entropy(logits, np.array([0, 0]))
    assert np.isfinite(loss) and np.isfinite(d).all()
    assert abs(loss - 1000.0) < 1e-9          # (0 + 2000) / 2
    loss2, _ = F.softmax_cross_entropy(np.zeros((3, 4)), np.array([0, 1, 2]))
    assert abs(loss2 - np.log(4)) < 1e-12


@pytest.mark.parametrize("op,args", [
    ("conv2d_forward", lambda r, t: (r((2, 3, 5, 5)), r((4, 3, 3, 3)), r((4,)))),
    ("maxpool2d_forward", lambda r, t: (r((2, 3, 6, 6)), 2)),
    ("avgpool2d_forward", lambda r, t: (r((2, 3, 6, 6)), 2)),
    ("linear_forward", lambda r, t: (r((3, 5)), r((5, 2)), r((2,)))),
    ("relu_forward", lambda r, t: (r((3, 5)),)),
    ("sigmoid_forward", lambda r, t: (r((3, 5)),)),
    ("tanh_forward", lambda r, t: (r((3, 5)),)),
    ("batchnorm_forward", lambda r, t: (r((3, 2, 2, 2)), r((2,)), r((2,)), np.zeros(2, t), np.ones(2, t))),
    ("dropout_forward", lambda r, t: (r((3, 5)), 0.5)),
    ("layernorm_forward", lambda r, t: (r((3, 2, 4)), (2, 4), r((2, 4)), r((2, 4)))),
    ("groupnorm_forward", lambda r, t: (r((3, 4, 2, 2)), 2, r((4,)), r((4,)))),
])
def test_float32_in_float32_out(op, args):
    rng = np.random.default_rng(0)
    r = lambda shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    out, cache = getattr(F, op)(*args(r, np.float32))
    assert out.dtype == np.float32
    grads = getattr(F, op.replace("forward", "backward"))(np.ones_like(out), cache)
    for g in grads if isinstance(grads, tuple) else (grads,):
        assert g.dtype == np.float32


def test_conv2d_caches_stay_valid_while_held():
    """Work arrays are recycled only when no cache holds them: two live caches never share one."""
    rng = np.random.default_rng(5)
    W, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    x1, x2 = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((2, 2, 6, 6))
    out1, cache1 = F.conv2d_forward(x1, W, b, 1, 1)
    out2, cache2 = F.conv2d_forward(x2, W, b, 1, 1)     # same shapes, while cache1 is alive
    dout = rng.standard_normal(out1.shape)
    dx1, dW1, _ = F.conv2d_backward(dout, cache1)
    ref = naive.conv2d_backward(dout, naive.conv2d_forward(x1, W, b, 1, 1)[1])
    assert rel_error(dx1, ref[0]) < 1e-12 and rel_error(dW1, ref[1]) < 1e-12
    del cache1
    for _ in range(3):                                  # later calls may reuse cache1's arrays
        F.conv2d_forward(rng.standard_normal((2, 2, 6, 6)), W, b, 1, 1)
    ref2 = naive.conv2d_backward(dout, naive.conv2d_forward(x2, W, b, 1, 1)[1])
    assert rel_error(F.conv2d_backward(dout, cache2)[1], ref2[1]) < 1e-12
