"""Ablation switches of ResidualBlock and models.small_resnet: shortcut=False, batch_norm=False.

Structure, numerical gradient checks (float64) in both modes, and agreement with the same network
written in PyTorch.
"""
import numpy as np
import pytest

from nnbook import layers as L
from nnbook import models
from nnbook.gradcheck import check_layer, rel_error

VARIANTS = [dict(), dict(shortcut=False), dict(batch_norm=False), dict(shortcut=False, batch_norm=False)]
IDS = ["residual-bn", "plain-bn", "residual-nobn", "plain-nobn"]


def test_block_without_batch_norm_structure():
    block = L.ResidualBlock(2, 4, stride=2, batch_norm=False, rng=np.random.default_rng(0))
    assert block.bn1 is None and block.bn2 is None
    assert "b" in block.conv1.params and "b" in block.conv2.params        # biases replace beta
    assert "b" not in block.projection.params
    assert [type(m).__name__ for m in block.children()] == ["Conv2d", "Conv2d", "Conv2d"]
    assert "batch_norm=False" in block.extra_repr() and "shortcut" not in block.extra_repr()
    assert "shortcut=False" in L.ResidualBlock(2, 2, shortcut=False).extra_repr()
    with_bn = L.ResidualBlock(2, 4, stride=2, rng=np.random.default_rng(0))
    assert "b" not in with_bn.conv1.params and isinstance(with_bn.bn1, L.BatchNorm2d)
    # same draws from the rng: the same convolution weights with and without batch norm
    for a, b in ((block.conv1, with_bn.conv1), (block.conv2, with_bn.conv2),
                 (block.projection, with_bn.projection)):
        assert np.array_equal(a.params["W"], b.params["W"])
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    block.to(np.float64)
    h = np.maximum(x, 0)
    import nnbook.functional as F
    z = F.conv2d_forward(h, block.conv1.params["W"], block.conv1.params["b"], 2, 1)[0]
    branch = F.conv2d_forward(np.maximum(z, 0), block.conv2.params["W"], block.conv2.params["b"], 1, 1)[0]
    skip = F.conv2d_forward(h, block.projection.params["W"], None, 2, 0)[0]
    assert rel_error(block(x), branch + skip) < 1e-12                      # the formula of the docstring


@pytest.mark.parametrize("kw", VARIANTS, ids=IDS)
def test_small_resnet_variants_structure(kw):
    model = models.small_resnet(rng=np.random.default_rng(0), **kw)
    names = [type(m).__name__ for m in model]
    bn = kw.get("batch_norm", True)
    shortcut = kw.get("shortcut", True)
    assert names == ["Conv2d", "ResidualBlock", "ResidualBlock"] + (["BatchNorm2d"] if bn else []) + \
        ["ReLU", "GlobalAvgPool2d", "Linear"]
    assert ("b" in model[0].params) == (not bn)
    assert all(b.use_shortcut == shortcut and b.batch_norm == bn for b in model if isinstance(b, L.ResidualBlock))
    assert (model[2].projection is not None) == shortcut
    assert any(isinstance(m, L.BatchNorm2d) for m in model.modules()) == bn
    assert model(np.zeros((3, 1, 8, 8), np.float32)).shape == (3, 10)


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("kw", VARIANTS, ids=IDS)
def test_gradients(kw, mode):
    block = L.ResidualBlock(2, 3, stride=2, rng=np.random.default_rng(1), **kw).to(np.float64)
    model = models.small_resnet(widths=(2, 3), rng=np.random.default_rng(2), dtype=np.float64, **kw)
    for net, shape in ((block, (2, 2, 5, 5)), (model, (2, 1, 6, 6))):
        for m in net.modules():
            if isinstance(m, L.BatchNorm2d):          # non-trivial running statistics for eval mode
                m.running_mean[...] = np.linspace(-0.3, 0.3, m.num_features)
                m.running_var[...] = np.linspace(0.5, 2.0, m.num_features)
            if isinstance(m, L.Conv2d) and "b" in m.params:
                m.params["b"][...] = np.linspace(-0.2, 0.2, m.out_channels)
        getattr(net, mode)()
        errors = check_layer(net, np.random.default_rng(3).standard_normal(shape))
        assert max(errors.values()) < 1e-7, (net, errors)


def _torch_twin(torch, model):
    """The same network in PyTorch, with nnbook's weights."""
    nn = torch.nn

    def conv(m):
        c = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                      bias="b" in m.params).double()
        with torch.no_grad():
            c.weight.copy_(torch.tensor(m.params["W"]))
            if "b" in m.params:
                c.bias.copy_(torch.tensor(m.params["b"]))
        return c

    def norm(m):
        return None if m is None else nn.BatchNorm2d(m.num_features, eps=1e-5, momentum=0.1).double()

    class Block(nn.Module):
        def __init__(self, b):
            super().__init__()
            self.bn1, self.conv1, self.bn2, self.conv2 = norm(b.bn1), conv(b.conv1), norm(b.bn2), conv(b.conv2)
            self.projection = None if b.projection is None else conv(b.projection)
            self.shortcut = b.use_shortcut

        def forward(self, x):
            h = torch.relu(self.bn1(x) if self.bn1 is not None else x)
            z = self.conv1(h)
            branch = self.conv2(torch.relu(self.bn2(z) if self.bn2 is not None else z))
            if not self.shortcut:
                return branch
            return branch + (x if self.projection is None else self.projection(h))

    mods = []
    for m in model:
        if isinstance(m, L.Conv2d):
            mods.append(conv(m))
        elif isinstance(m, L.ResidualBlock):
            mods.append(Block(m))
        elif isinstance(m, L.BatchNorm2d):
            mods.append(norm(m))
        elif isinstance(m, L.ReLU):
            mods.append(nn.ReLU())
        elif isinstance(m, L.GlobalAvgPool2d):
            mods.append(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()))
        else:
            lin = nn.Linear(m.in_features, m.out_features).double()
            with torch.no_grad():
                lin.weight.copy_(torch.tensor(m.params["W"].T))
                lin.bias.copy_(torch.tensor(m.params["b"]))
            mods.append(lin)
    return nn.Sequential(*mods)


@pytest.mark.parametrize("kw", VARIANTS, ids=IDS)
def test_small_resnet_variants_match_torch(kw):
    torch = pytest.importorskip("torch")
    model = models.small_resnet(widths=(3, 4), rng=np.random.default_rng(4), dtype=np.float64, **kw)
    for m in model.modules():
        if isinstance(m, L.Conv2d) and "b" in m.params:
            m.params["b"][...] = np.random.default_rng(5).standard_normal(m.out_channels) * 0.1
    ref = _torch_twin(torch, model)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 1, 8, 8))
    dout = rng.standard_normal((4, 10))
    model.train(), ref.train()
    out = model(x)
    dx = model.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    out_t = ref(xt)
    out_t.backward(torch.tensor(dout))
    assert rel_error(out, out_t.detach().numpy()) < 1e-10
    assert rel_error(dx, xt.grad.numpy()) < 1e-10
    ours = [m for m in model.modules() if isinstance(m, L.Conv2d)]
    theirs = [m for m in ref.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert rel_error(a.grads["W"], b.weight.grad.numpy()) < 1e-10
        if "b" in a.params:
            assert rel_error(a.grads["b"], b.bias.grad.numpy()) < 1e-10
    model.eval(), ref.eval()
    assert rel_error(model(x[:1]), ref(torch.tensor(x[:1])).detach().numpy()) < 1e-10
