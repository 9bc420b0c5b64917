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


@pytest.mark.parametrize("x_shape,normalized_shape", [((8, 5), 5), ((3, 4, 5, 6), (5, 6)), ((2, 3, 4, 4), (3, 4, 4)),
                                                     ((1, 7), (7,))])
@pytest.mark.parametrize("affine", ["both", "gamma only", "none"])
def test_layernorm(x_shape, normalized_shape, affine):
    rng = np.random.default_rng(5)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    x = rng.standard_normal(x_shape) * 2 + 1
    gamma = None if affine == "none" else rng.standard_normal(shape)
    beta = rng.standard_normal(shape) if affine == "both" else None
    out, cache = F.layernorm_forward(x, normalized_shape, gamma, beta, eps=1e-5)
    xt, gt, bt = t(x), None if gamma is None else t(gamma), None if beta is None else t(beta)
    ref = TF.layer_norm(xt, shape, gt, bt, eps=1e-5)
    dout = rng.standard_normal(out.shape)
    ref.backward(torch.tensor(dout))
    assert rel_error(out, ref.detach().numpy()) < TOL
    for got, want in zip(F.layernorm_backward(dout, cache), (xt, gt, bt)):
        assert (got is None) == (want is None)
        if got is not None:
            assert rel_error(got, want.grad.numpy()) < TOL


@pytest.mark.parametrize("x_shape,num_groups", [((2, 6, 4, 5), 1), ((2, 6, 4, 5), 2), ((2, 6, 4, 5), 3),
                                                ((3, 4, 3, 3), 4), ((5, 4), 2), ((2, 4, 7), 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm(x_shape, num_groups, affine):
    rng = np.random.default_rng(6)
    C = x_shape[1]
    x = rng.standard_normal(x_shape) * 2 + np.arange(C).reshape((1, C) + (1,) * (len(x_shape) - 2))
    gamma, beta = (rng.standard_normal(C), rng.standard_normal(C)) if affine else (None, None)
    out, cache = F.groupnorm_forward(x, num_groups, gamma, beta, eps=1e-5)
    xt, gt, bt = t(x), *((t(gamma), t(beta)) if affine else (None, None))
    ref = TF.group_norm(xt, num_groups, gt, bt, eps=1e-5)
    dout = rng.standard_normal(out.shape)
    ref.backward(torch.tensor(dout))
    assert rel_error(out, ref.detach().numpy()) < TOL
    grads = F.groupnorm_backward(dout, cache)
    assert rel_error(grads[0], xt.grad.numpy()) < TOL
    if affine:
        assert rel_error(grads[1], gt.grad.numpy()) < TOL and rel_error(grads[2], bt.grad.numpy()) < TOL
    else:
        assert grads[1] is None and grads[2] is None


def test_groupnorm_special_cases_are_instance_norm_and_layer_norm():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 5, 5)) * 3 - 1
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    xt = torch.tensor(x)
    instance = TF.instance_norm(xt, weight=torch.tensor(gamma), bias=torch.tensor(beta), eps=1e-5)
    assert rel_error(F.groupnorm_forward(x, 4, gamma, beta)[0], instance.numpy()) < TOL      # G = C
    layer = TF.layer_norm(xt, (4, 5, 5), eps=1e-5)
    assert rel_error(F.groupnorm_forward(x, 1)[0], layer.numpy()) < TOL                      # G = 1


def test_norm_layers_equal_torch_modules():
    import nnbook
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 6, 3, 3))
    pairs = [(nnbook.LayerNorm((6, 3, 3)), torch.nn.LayerNorm((6, 3, 3))),
             (nnbook.LayerNorm(3, elementwise_affine=False), torch.nn.LayerNorm(3, elementwise_affine=False)),
             (nnbook.LayerNorm(3, bias=False), torch.nn.LayerNorm(3, bias=False)),
             (nnbook.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6)),
             (nnbook.GroupNorm(2, 6, affine=False), torch.nn.GroupNorm(2, 6, affine=False))]
    for ours, theirs in pairs:
        ours.to(np.float64)
        theirs.double()
        for key, name in (("gamma", "weight"), ("beta", "bias")):
            assert (key in ours.params) == (getattr(theirs, name, None) is not None), (ours, key)
            if key in ours.params:
                value = rng.standard_normal(ours.params[key].shape)
                ours.params[key][...] = value
                getattr(theirs, name).data = torch.tensor(value)
        xt = t(x)
        ref = theirs(xt)
        dout = rng.standard_normal(ref.shape)
        ref.backward(torch.tensor(dout))
        assert rel_error(ours(x), ref.detach().numpy()) < TOL
        assert rel_error(ours.backward(dout), xt.grad.numpy()) < TOL
        for key, name in (("gamma", "weight"), ("beta", "bias")):
            if key in ours.params:
                assert rel_error(ours.grads[key], getattr(theirs, name).grad.numpy()) < TOL


def test_update_bn_equals_torch_update_bn():
    import nnbook
    from torch.optim.swa_utils import update_bn
    rng = np.random.default_rng(9)
    X = rng.standard_normal((100, 5)) * 3 + 2          # 100 = 4 * 24 + 4: a smaller last batch
    ours = nnbook.Sequential(nnbook.Linear(5, 4, rng=rng), nnbook.BatchNorm1d(4), nnbook.ReLU(),
                             nnbook.Linear(4, 3, bias=False, rng=rng), nnbook.BatchNorm1d(3)).to(np.float64)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                                 torch.nn.Linear(4, 3, bias=False), torch.nn.BatchNorm1d(3)).double()
    with torch.no_grad():
        theirs[0].weight.copy_(torch.tensor(ours[0].params["W"].T))
        theirs[0].bias.copy_(torch.tensor(ours[0].params["b"]))
        theirs[3].weight.copy_(torch.tensor(ours[3].params["W"].T))
    ours.eval()
    assert nnbook.update_bn(ours, X, batch_size=24, seed=None) == 2
    update_bn(torch.utils.data.DataLoader(torch.tensor(X), batch_size=24), theirs)
    for i in (1, 4):
        assert rel_error(ours[i].running_mean, theirs[i].running_mean.numpy()) < TOL
        assert rel_error(ours[i].running_var, theirs[i].running_var.numpy()) < TOL
        assert ours[i].momentum == 0.1 and not ours[i].training     # momentum and mode put back


class _TorchPreActBlock(torch.nn.Module if torch else object):
    """A pre-activation block written with torch modules: (BN -> ReLU -> conv) per stage, the
    first stage's output h feeding the projection; out = alpha * branch + beta * shortcut."""

    def __init__(self, ours, stages, alpha, beta):
        super().__init__()
        self.stages = torch.nn.ModuleList()
        for bn_name, conv_name in stages:
            bn, conv = getattr(ours, bn_name), getattr(ours, conv_name)
            tconv = torch.nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                    conv.padding, bias=False).double()
            with torch.no_grad():
                tconv.weight.copy_(torch.tensor(conv.params["W"]))
            self.stages.append(torch.nn.ModuleList([torch.nn.BatchNorm2d(bn.num_features).double(), tconv]))
        self.projection = None
        if ours.projection is not None:
            p = ours.projection
            self.projection = torch.nn.Conv2d(p.in_channels, p.out_channels, 1, p.stride, bias=False).double()
            with torch.no_grad():
                self.projection.weight.copy_(torch.tensor(p.params["W"]))
        self.alpha, self.beta = alpha, beta

    def forward(self, x):
        a, h = x, None
        for bn, conv in self.stages:
            a = torch.relu(bn(a))
            h = a if h is None else h
            a = conv(a)
        skip = x if self.projection is None else self.projection(h)
        return self.alpha * a + self.beta * skip


@pytest.mark.parametrize("kind,args,x_shape", [("basic", (3, 3, 1), (2, 3, 5, 5)), ("basic", (3, 4, 2), (2, 3, 7, 6)),
                                               ("bottleneck", (8, 2, 1), (2, 8, 4, 4)),
                                               ("bottleneck", (3, 2, 2), (2, 3, 7, 5))])
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.7, 0.5)])
def test_residual_blocks_equal_torch_preactivation_blocks(kind, args, x_shape, alpha, beta):
    import nnbook
    rng = np.random.default_rng(10)
    if kind == "basic":
        ours = nnbook.ResidualBlock(*args, rng=rng)
        stages = [("bn1", "conv1"), ("bn2", "conv2")]
    else:
        ours = nnbook.BottleneckBlock(*args, rng=rng)
        stages = [("bn1", "conv1"), ("bn2", "conv2"), ("bn3", "conv3")]
    ours.to(np.float64)
    ours.add = nnbook.Shortcut(alpha, beta)
    theirs = _TorchPreActBlock(ours, stages, alpha, beta)
    x = rng.standard_normal(x_shape)
    xt = t(x)
    ref = theirs(xt)
    dout = rng.standard_normal(ref.shape)
    ref.backward(torch.tensor(dout))
    assert rel_error(ours(x), ref.detach().numpy()) < TOL
    assert rel_error(ours.backward(dout), xt.grad.numpy()) < TOL
    for (bn_name, conv_name), (bn, conv) in zip(stages, theirs.stages):
        assert rel_error(getattr(ours, conv_name).grads["W"], conv.weight.grad.numpy()) < TOL
        assert rel_error(getattr(ours, bn_name).grads["gamma"], bn.weight.grad.numpy()) < TOL
        assert rel_error(getattr(ours, bn_name).grads["beta"], bn.bias.grad.numpy()) < TOL
    if theirs.projection is not None:
        assert rel_error(ours.projection.grads["W"], theirs.projection.weight.grad.numpy()) < TOL


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
