"""The functional update rules of nnbook.optim: the contract, the optimizer objects, PyTorch."""
import numpy as np
import pytest

import nnbook
from nnbook.optim import SGD, Adam, RMSProp, adam, rmsprop, sgd_momentum

RULES = {SGD: sgd_momentum, RMSProp: rmsprop, Adam: adam}
KWARGS = {SGD: dict(lr=0.1, momentum=0.8), RMSProp: dict(lr=0.01, alpha=0.9, eps=1e-6),
          Adam: dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6)}


def _config(opt_cls, kw):
    kw = dict(kw)
    if "betas" in kw:
        kw["beta1"], kw["beta2"] = kw.pop("betas")
    return kw


class _Two(nnbook.Module):
    """Two parameters whose gradients are set by hand."""

    def __init__(self, rng):
        super().__init__()
        self.params["a"] = rng.standard_normal((3, 4))
        self.params["b"] = rng.standard_normal(5)


def _grads(rng, steps):
    return [{"a": rng.standard_normal((3, 4)), "b": rng.standard_normal(5)} for _ in range(steps)]


@pytest.mark.parametrize("opt_cls", [SGD, RMSProp, Adam])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_rules_equal_the_optimizer_objects(opt_cls, weight_decay):
    rng = np.random.default_rng(0)
    model = _Two(rng)
    w = {k: v.copy() for k, v in model.params.items()}
    grads = _grads(rng, 6)
    opt = opt_cls(model, weight_decay=weight_decay, **KWARGS[opt_cls])
    configs = {k: _config(opt_cls, KWARGS[opt_cls]) for k in w}
    for g in grads:
        model.grads.update({k: v.copy() for k, v in g.items()})
        opt.step()
        for k in w:
            w[k], configs[k] = RULES[opt_cls](w[k], g[k] + weight_decay * w[k], configs[k])
    for k in w:
        np.testing.assert_allclose(model.params[k], w[k], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("opt_cls", [SGD, RMSProp, Adam])
def test_rules_match_torch_over_several_steps(opt_cls):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(8)]
    tp = torch.tensor(w0, requires_grad=True)
    topt = {SGD: torch.optim.SGD, RMSProp: torch.optim.RMSprop, Adam: torch.optim.Adam}[opt_cls](
        [tp], **KWARGS[opt_cls])
    w, config = w0.copy(), _config(opt_cls, KWARGS[opt_cls])
    for g in grads:
        tp.grad = torch.tensor(g)
        topt.step()
        w, config = RULES[opt_cls](w, g, config)
        np.testing.assert_allclose(w, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
    state = topt.state[tp]
    named = {SGD: {"velocity": "momentum_buffer"}, RMSProp: {"cache": "square_avg"},
             Adam: {"m": "exp_avg", "v": "exp_avg_sq"}}[opt_cls]
    for ours, theirs in named.items():
        np.testing.assert_allclose(config[ours], state[theirs].numpy(), rtol=1e-10, atol=1e-14)
    if opt_cls is Adam:
        assert config["t"] == int(state["step"]) == 8


def test_defaults_are_set_in_config():
    w, dw = np.ones(3), np.full(3, 0.5)
    _, c = sgd_momentum(w, dw)
    assert (c["lr"], c["momentum"]) == (1e-2, 0.9)
    _, c = rmsprop(w, dw, {})
    assert (c["lr"], c["alpha"], c["eps"]) == (1e-2, 0.99, 1e-8)
    _, c = adam(w, dw, {"lr": 0.5})
    assert (c["lr"], c["beta1"], c["beta2"], c["eps"], c["t"]) == (0.5, 0.9, 0.999, 1e-8, 1)


def test_first_steps_by_hand():
    w, dw = np.array([1.0, -2.0]), np.array([0.5, -3.0])
    nw, c = sgd_momentum(w, dw, {"lr": 0.1, "momentum": 0.9})
    np.testing.assert_allclose(nw, w - 0.1 * dw)
    nw, c = sgd_momentum(nw, dw, c)                  # v = 0.9 * dw + dw
    np.testing.assert_allclose(c["velocity"], 1.9 * dw)
    np.testing.assert_allclose(nw, w - 0.1 * dw - 0.1 * 1.9 * dw)
    # Adam's first step moves every weight by about lr, whatever the gradient's size
    nw, c = adam(w, dw, {"lr": 0.01})
    np.testing.assert_allclose(nw, w - 0.01 * np.sign(dw), rtol=1e-6)
    nw, c = rmsprop(w, dw, {"lr": 0.01, "alpha": 0.99})
    np.testing.assert_allclose(nw, w - 0.01 * dw / (np.sqrt(0.01 * dw * dw) + 1e-8))


@pytest.mark.parametrize("rule", [sgd_momentum, rmsprop, adam])
def test_inputs_unchanged_dtype_kept_config_returned(rule):
    rng = np.random.default_rng(2)
    w, dw = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 3)).astype(np.float32)
    w0, dw0 = w.copy(), dw.copy()
    config = {}
    for _ in range(3):
        nw, out = rule(w, dw, config)
        assert out is config and nw.dtype == np.float32 and nw.shape == w.shape
        assert all(v.dtype == np.float32 for v in config.values() if isinstance(v, np.ndarray))
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(dw, dw0)


def test_bad_input_is_named():
    w = np.zeros(3)
    with pytest.raises(ValueError, match=r"sgd_momentum: dw must have the shape of w \(3,\), got \(4,\)"):
        sgd_momentum(w, np.zeros(4))
    with pytest.raises(TypeError, match="adam: expected w and dw to be numpy arrays, got list"):
        adam([0.0], np.zeros(1))
    with pytest.raises(TypeError, match="rmsprop: config must be a dict or None, got tuple"):
        rmsprop(w, w, ())
    with pytest.raises(ValueError, match=r"adam: config\['beta1'\] must be in \[0, 1\), got 1.0"):
        adam(w, w, {"beta1": 1.0})
    with pytest.raises(ValueError, match=r"rmsprop: config\['lr'\] must be positive, got -1"):
        rmsprop(w, w, {"lr": -1})
