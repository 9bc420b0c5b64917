"""Exactness against PyTorch in float64 (relative error < 1e-10). Skipped when torch is absent."""
import numpy as np
import pytest

from nnbook import functional as F
from nnbook.gradcheck import rel_error

torch = pytest.importorskip("torch")
TF = torch.nn.functional
TOL = 1e-10


def t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding", [
    ((2, 3, 9, 9), (4, 3, 3, 3), 1, 1), ((1, 3, 10, 7), (5, 3, 3, 3), 2, 1),
    ((3, 2, 8, 11), (4, 2, 2, 5), (2, 1), (0, 2)), ((2, 4, 8, 8), (6, 4, 1, 1), 2, 0),
    ((1, 1, 5, 5), (1, 1, 5, 5), 1, 2), ((2, 32, 20, 18), (33, 32, 3, 3), 1, 1),  # shifted by default
    ((1, 40, 5, 7), (32, 40, 2, 3), 1, (0, 2)), ((3, 2, 17, 18), (4, 2, 3, 3), 2, 1)])
def test_conv2d(x_shape, w_shape, stride, padding, conv_method):
    rng = np.random.default_rng(0)
    x, W, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, cache = F.conv2d_forward(x, W, b, stride, padding)
    xt, Wt, bt = t(x), t(W), t(b)
    ref = TF.conv2d(xt, Wt, bt, stride=stride, padding=padding)
    dout = rng.standard_normal(out.shape)
    ref.backward(torch.tensor(dout))
    assert rel_error(out, ref.detach().numpy()) < TOL
    for got, want in zip(F.conv2d_backward(dout, cache), (xt.grad, Wt.grad, bt.grad)):
        assert rel_error(got, want.numpy()) < TOL


@pytest.mark.parametrize("pool", ["max", "avg"])
@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 2), ((2, 3), (1, 2)), (3, 1)])
def test_pooling(pool, kernel, stride):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 9, 8))
    x[0, 0, :4, :4] = 0.0   # tied windows, as after a ReLU
    fwd, bwd = getattr(F, f"{pool}pool2d_forward"), getattr(F, f"{pool}pool2d_backward")
    out, cache = fwd(x, kernel, stride)
    xt = t(x)
    ref = getattr(TF, f"{pool}_pool2d")(xt, kernel, stride)
    dout = rng.standard_normal(out.shape)
    ref.backward(torch.tensor(dout))
    assert rel_error(out, ref.detach().numpy()) < TOL
    assert rel_error(bwd(dout, cache), xt.grad.numpy()) < TOL


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 5, 6)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm(shape, training):
    rng = np.random.default_rng(2)
    C = shape[1]
    x, gamma, beta = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(C), rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.random(C) + 0.5
    rm_t, rv_t = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    out, cache = F.batchnorm_forward(x, gamma, beta, rm, rv, training=training, momentum=0.1, eps=1e-5)
    xt, gt, bt = t(x), t(gamma), t(beta)
    ref = TF.batch_norm(xt, rm_t, rv_t, gt, bt, training=training, momentum=0.1, eps=1e-5)
    dout = rng.standard_normal(out.shape)
    ref.backward(torch.tensor(dout))
    assert rel_error(out, ref.detach().numpy()) < TOL
    assert rel_error(rm, rm_t.numpy()) < TOL and rel_error(rv, rv_t.numpy()) < TOL
    for got, want in zip(F.batchnorm_backward(dout, cache), (xt.grad, gt.grad, bt.grad)):
        assert rel_error(got, want.numpy()) < TOL


def test_cross_entropy():
    rng = np.random.default_rng(3)
    logits, y = rng.standard_normal((7, 5)) * 4, rng.integers(0, 5, 7)
    loss, d = F.softmax_cross_entropy(logits, y)
    lt = t(logits)
    ref = TF.cross_entropy(lt, torch.tensor(y))
    ref.backward()
    assert abs(loss - ref.item()) / abs(ref.item()) < TOL
    assert rel_error(d, lt.grad.numpy()) < TOL


def test_linear_and_activations():
    rng = np.random.default_rng(4)
    x, W, b = rng.standard_normal((4, 6)), rng.standard_normal((6, 3)), rng.standard_normal(3)
    assert rel_error(F.linear_forward(x, W, b)[0], (t(x) @ t(W) + t(b)).detach().numpy()) < TOL
    for name, ref in (("relu", torch.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
        assert rel_error(getattr(F, f"{name}_forward")(x)[0], ref(torch.tensor(x)).numpy()) < TOL
