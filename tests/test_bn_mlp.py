"""nnbook.models.bn_mlp: structure, gradients (float64 numerical check) and PyTorch agreement."""
import numpy as np
import pytest

from nnbook import layers as L
from nnbook import models
from nnbook.gradcheck import check_layer, rel_error


def test_structure_and_same_initial_weights():
    bn = models.bn_mlp((5, 4, 3, 2), rng=np.random.default_rng(0))
    plain = models.bn_mlp((5, 4, 3, 2), batch_norm=False, rng=np.random.default_rng(0))
    assert [type(m).__name__ for m in bn] == ["Linear", "BatchNorm1d", "ReLU"] * 2 + ["Linear"]
    assert [type(m).__name__ for m in plain] == ["Linear", "ReLU"] * 2 + ["Linear"]
    assert "b" not in bn[0].params and "b" not in bn[3].params and "b" in bn[6].params
    assert all("b" in m.params for m in plain if isinstance(m, L.Linear))
    weights = lambda net: [m.params["W"] for m in net if isinstance(m, L.Linear)]  # noqa: E731
    assert all(np.array_equal(a, b) for a, b in zip(weights(bn), weights(plain)))
    assert bn(np.ones((3, 5), np.float32)).shape == (3, 2)
    with pytest.raises(ValueError, match="bn_mlp: sizes"):
        models.bn_mlp((5,))


@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradients(batch_norm, mode):
    net = models.bn_mlp((6, 5, 4, 3), batch_norm=batch_norm, rng=np.random.default_rng(1))
    for m in net:
        if isinstance(m, L.BatchNorm1d):      # non-trivial running statistics for eval mode
            m.running_mean[...] = np.linspace(-0.5, 0.5, m.num_features)
            m.running_var[...] = np.linspace(0.5, 2.0, m.num_features)
    getattr(net, mode)()
    errors = check_layer(net, np.random.default_rng(2).standard_normal((7, 6)))
    assert max(errors.values()) < 1e-7, errors


def test_matches_torch_over_training_steps():
    torch = pytest.importorskip("torch")
    sizes = (6, 5, 4, 3)
    net = models.bn_mlp(sizes, rng=np.random.default_rng(3), dtype=np.float64)
    mods = []
    for m in net:
        if isinstance(m, L.Linear):
            lin = torch.nn.Linear(m.in_features, m.out_features, bias="b" in m.params).double()
            with torch.no_grad():
                lin.weight.copy_(torch.tensor(m.params["W"].T))
                if "b" in m.params:
                    lin.bias.copy_(torch.tensor(m.params["b"]))
            mods.append(lin)
        elif isinstance(m, L.BatchNorm1d):
            mods.append(torch.nn.BatchNorm1d(m.num_features, momentum=0.1, eps=1e-5).double())
        else:
            mods.append(torch.nn.ReLU())
    ref = torch.nn.Sequential(*mods)
    rng = np.random.default_rng(4)
    for step in range(3):                         # training steps: outputs, gradients, running stats
        x = rng.standard_normal((8, 6)) * 2 + 1
        dout = rng.standard_normal((8, 3))
        net.train(), ref.train()
        out = net(x)
        net.backward(dout)
        xt = torch.tensor(x, requires_grad=True)
        ref.zero_grad()
        out_t = ref(xt)
        out_t.backward(torch.tensor(dout))
        assert rel_error(out, out_t.detach().numpy()) < 1e-10
        for m, mt in zip(net, ref):
            if isinstance(m, L.Linear):
                assert rel_error(m.grads["W"], mt.weight.grad.numpy().T) < 1e-10
            elif isinstance(m, L.BatchNorm1d):
                assert rel_error(m.grads["gamma"], mt.weight.grad.numpy()) < 1e-10
                assert rel_error(m.running_mean, mt.running_mean.numpy()) < 1e-10
                assert rel_error(m.running_var, mt.running_var.numpy()) < 1e-10
    net.eval(), ref.eval()
    x = rng.standard_normal((1, 6))               # eval mode works on a single example
    assert rel_error(net(x), ref(torch.tensor(x)).detach().numpy()) < 1e-10
