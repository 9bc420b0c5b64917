"""Pooling with padding, ceil mode and count_include_pad (PyTorch's max_pool2d / avg_pool2d rules).

A plain-loop reference written from PyTorch's documented rules (window start/end per output,
padding -inf for max, the two divisors for average) checks the library without torch; the
last test compares with torch itself where it is installed.
"""
import math

import numpy as np
import pytest

import nnbook
from nnbook import functional as F
from nnbook import layers as L
from helpers import GRAD_TOL, check_pair_gradients, rand

# (x shape, kernel, stride, padding, ceil_mode): square and non-square, overlap, leftover rows
CASES = [((2, 3, 7, 7), 3, 2, 1, False),      # the ResNet stem's 3x3/2, padding 1
         ((2, 3, 7, 7), 3, 2, 1, True),
         ((1, 2, 6, 6), 2, 2, 1, False),
         ((1, 2, 5, 5), 2, 2, 0, True),       # ceil: one window hangs over the end
         ((1, 2, 5, 5), 2, 2, 1, True),       # ceil with padding: a window would start in the padding
         ((2, 1, 8, 9), 4, 3, 2, True),
         ((1, 2, 6, 7), (3, 2), (2, 1), (1, 0), True),
         ((1, 1, 4, 4), 3, 3, 1, True)]


def _reference(x, kernel, stride, padding, ceil_mode, kind, count_include_pad=True):
    """One window at a time, from PyTorch's rules."""
    (kh, kw), (sh, sw), (ph, pw) = (v if isinstance(v, tuple) else (v, v) for v in (kernel, stride, padding))
    N, C, H, W = x.shape

    def size(n, k, s, p):
        o = (math.ceil if ceil_mode else math.floor)((n + 2 * p - k) / s) + 1
        return o - 1 if ceil_mode and (o - 1) * s >= n + p else o

    Ho, Wo = size(H, kh, sh, ph), size(W, kw, sw, pw)
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            h0, w0 = i * sh - ph, j * sw - pw
            h1, w1 = min(h0 + kh, H + ph), min(w0 + kw, W + pw)         # clipped to the padded input
            pool_size = (h1 - h0) * (w1 - w0)
            a0, b0, a1, b1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)   # the input values
            window = x[:, :, a0:a1, b0:b1]
            if kind == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            else:
                out[:, :, i, j] = window.sum(axis=(2, 3)) / (pool_size if count_include_pad else window[0, 0].size)
    return out


@pytest.mark.parametrize("x_shape,kernel,stride,padding,ceil_mode", CASES)
def test_values_follow_the_rules(x_shape, kernel, stride, padding, ceil_mode):
    x = rand(np.random.default_rng(0), *x_shape) - 3.0      # all negative: zero padding would win a max
    got, _ = F.maxpool2d_forward(x, kernel, stride, padding=padding, ceil_mode=ceil_mode)
    np.testing.assert_allclose(got, _reference(x, kernel, stride, padding, ceil_mode, "max"), rtol=0, atol=1e-14)
    for cip in (True, False):
        got, _ = F.avgpool2d_forward(x, kernel, stride, padding=padding, ceil_mode=ceil_mode, count_include_pad=cip)
        want = _reference(x, kernel, stride, padding, ceil_mode, "avg", cip)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)


def test_ceil_mode_adds_a_window_only_when_rows_are_left_over():
    x = np.zeros((1, 1, 5, 6))
    assert F.maxpool2d_forward(x, 2)[0].shape == (1, 1, 2, 3)
    assert F.maxpool2d_forward(x, 2, ceil_mode=True)[0].shape == (1, 1, 3, 3)      # 6 columns: nothing left over
    # with padding 1, ceil would give a 4th window starting in the bottom padding: dropped
    assert F.maxpool2d_forward(x, 2, padding=1, ceil_mode=True)[0].shape == (1, 1, 3, 4)


def test_count_include_pad_changes_only_the_border():
    x = np.ones((1, 1, 4, 4))
    incl, _ = F.avgpool2d_forward(x, 3, 1, padding=1)
    excl, _ = F.avgpool2d_forward(x, 3, 1, padding=1, count_include_pad=False)
    np.testing.assert_allclose(excl, 1.0)                       # the mean of ones is one
    np.testing.assert_allclose(incl[0, 0, 1:3, 1:3], 1.0)        # inner windows: no padding in them
    np.testing.assert_allclose(incl[0, 0, 0, 0], 4 / 9)          # the corner window holds 4 ones and 5 zeros
    np.testing.assert_allclose(incl[0, 0, 0, 1], 6 / 9)


@pytest.mark.parametrize("x_shape,kernel,stride,padding,ceil_mode", CASES)
@pytest.mark.parametrize("pool", ["max", "avg_incl", "avg_excl"])
def test_gradients(pool, x_shape, kernel, stride, padding, ceil_mode):
    rng = np.random.default_rng(1)
    x = rand(rng, *x_shape)
    opts = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    if pool == "max":
        fwd, bwd = F.maxpool2d_forward, F.maxpool2d_backward
    else:
        fwd, bwd = F.avgpool2d_forward, F.avgpool2d_backward
        opts["count_include_pad"] = pool == "avg_incl"
    errors = check_pair_gradients(fwd, bwd, (x,), ["x"], rng, **opts)
    assert errors["x"] < GRAD_TOL, errors


def test_max_padding_never_wins_and_gets_no_gradient():
    x = -np.arange(1.0, 17.0).reshape(1, 1, 4, 4)                # every value negative
    out, cache = F.maxpool2d_forward(x, 3, 2, padding=1)
    assert (out < 0).all()                                       # a zero pad would have given 0
    dx = F.maxpool2d_backward(np.ones_like(out), cache)
    assert dx.shape == x.shape and dx.sum() == out.size


def test_layers_pass_the_options_and_show_them():
    x = rand(np.random.default_rng(2), 2, 3, 7, 7)
    layer = L.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
    assert repr(layer) == "MaxPool2d(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True)"
    np.testing.assert_array_equal(layer(x), F.maxpool2d_forward(x, 3, 2, padding=1, ceil_mode=True)[0])
    avg = L.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
    assert "count_include_pad=False" in repr(avg) and "ceil_mode" not in repr(avg)
    np.testing.assert_array_equal(avg(x), F.avgpool2d_forward(x, 3, 2, padding=1, count_include_pad=False)[0])
    for layer in (L.MaxPool2d(3, 2, 1, ceil_mode=True), L.AvgPool2d(3, 2, 1, True, False)):
        errors = nnbook.check_layer(layer, x)
        assert errors["x"] < GRAD_TOL, (layer, errors)


def test_bad_options_name_the_layer():
    with pytest.raises(ValueError, match=r"MaxPool2d: padding must be at most half the kernel size.*\(2, 2\).*\(3, 3\)"):
        L.MaxPool2d(3, padding=2)
    with pytest.raises(ValueError, match=r"avgpool2d_forward: padding must be at most half"):
        F.avgpool2d_forward(np.zeros((1, 1, 5, 5)), 2, padding=2)
    with pytest.raises(TypeError, match=r"maxpool2d_forward: ceil_mode must be True or False, got 1"):
        F.maxpool2d_forward(np.zeros((1, 1, 5, 5)), 2, ceil_mode=1)
    with pytest.raises(TypeError, match=r"AvgPool2d: count_include_pad must be True or False"):
        L.AvgPool2d(2, count_include_pad="yes")


@pytest.mark.parametrize("x_shape,kernel,stride,padding,ceil_mode", CASES)
def test_against_torch(x_shape, kernel, stride, padding, ceil_mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.standard_normal(x_shape)
    x[0, 0, :3, :3] = 0.0                                       # ties, as after a ReLU
    for kind, cip in (("max", None), ("avg", True), ("avg", False)):
        xt = torch.tensor(x, requires_grad=True)
        if kind == "max":
            ref = torch.nn.functional.max_pool2d(xt, kernel, stride, padding, ceil_mode=ceil_mode)
            out, cache = F.maxpool2d_forward(x, kernel, stride, padding, ceil_mode)
            back = F.maxpool2d_backward
        else:
            ref = torch.nn.functional.avg_pool2d(xt, kernel, stride, padding, ceil_mode=ceil_mode,
                                                 count_include_pad=cip)
            out, cache = F.avgpool2d_forward(x, kernel, stride, padding, ceil_mode, cip)
            back = F.avgpool2d_backward
        dout = rng.standard_normal(out.shape)
        ref.backward(torch.tensor(dout))
        np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(back(dout, cache), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
