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


# --- Nesterov momentum, AdaGrad, gradient clipping, weight decay that skips some parameters ---------

from nnbook.optim import Adagrad, adagrad, clip_grad_norm, sgd_nesterov  # noqa: E402


@pytest.mark.parametrize("make, rule, config", [
    (lambda m, wd: SGD(m, lr=0.1, momentum=0.8, nesterov=True, weight_decay=wd), sgd_nesterov,
     {"lr": 0.1, "momentum": 0.8}),
    (lambda m, wd: Adagrad(m, lr=0.05, eps=1e-10, weight_decay=wd), adagrad, {"lr": 0.05, "eps": 1e-10}),
])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_new_rules_equal_their_optimizer_objects(make, rule, config, weight_decay):
    rng = np.random.default_rng(0)
    model = _Two(rng)
    w = {k: v.copy() for k, v in model.params.items()}
    opt = make(model, weight_decay)
    configs = {k: dict(config) for k in w}
    for g in _grads(rng, 6):
        model.grads.update({k: v.copy() for k, v in g.items()})
        opt.step()
        for k in w:
            w[k], configs[k] = rule(w[k], g[k] + weight_decay * w[k], configs[k])
    for k in w:
        np.testing.assert_allclose(model.params[k], w[k], rtol=1e-12, atol=1e-14)


def test_nesterov_and_adagrad_match_torch_over_several_steps():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(8)]
    cases = [(sgd_nesterov, {"lr": 0.1, "momentum": 0.8},
              lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.8, nesterov=True), {"velocity": "momentum_buffer"}),
             (adagrad, {"lr": 0.05, "eps": 1e-10},
              lambda p: torch.optim.Adagrad([p], lr=0.05, eps=1e-10), {"cache": "sum"})]
    for rule, config, make_torch, named in cases:
        tp = torch.tensor(w0, requires_grad=True)
        topt = make_torch(tp)
        w, config = w0.copy(), dict(config)
        for g in grads:
            tp.grad = torch.tensor(g)
            topt.step()
            w, config = rule(w, g, config)
            np.testing.assert_allclose(w, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
        for ours, theirs in named.items():
            np.testing.assert_allclose(config[ours], topt.state[tp][theirs].numpy(), rtol=1e-10, atol=1e-14)


def test_nesterov_is_the_look_ahead_form_and_adagrad_steps_shrink_like_one_over_sqrt_t():
    # Sutskever's form: v <- mu v - lr grad(w + mu v); w <- w + v. PyTorch's form stores w + mu v.
    grad = lambda p: np.array([1.0, 20.0]) * p
    w, v = np.array([-4.5, 1.5]), np.zeros(2)
    ours, config = w.copy(), {"lr": 0.05, "momentum": 0.9}
    for _ in range(30):
        v = 0.9 * v - 0.05 * grad(w + 0.9 * v)
        w = w + v
        ours, config = sgd_nesterov(ours, grad(ours), config)
        np.testing.assert_allclose(ours, w + 0.9 * v, rtol=1e-12, atol=1e-14)
    # a constant gradient: AdaGrad's t-th step is lr / sqrt(t) in every coordinate
    w, config, g = np.zeros(2), {"lr": 0.1}, np.array([3.0, -0.01])
    for t in range(1, 50):
        nw, config = adagrad(w, g, config)
        np.testing.assert_allclose(np.abs(nw - w), 0.1 / np.sqrt(t), rtol=1e-6)
        w = nw


def test_nesterov_needs_momentum_and_new_rules_name_bad_input():
    with pytest.raises(ValueError, match="SGD: nesterov=True needs a momentum > 0"):
        SGD(_Two(np.random.default_rng(0)), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"sgd_nesterov: dw must have the shape of w \(3,\), got \(2,\)"):
        sgd_nesterov(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"adagrad: config\['lr'\] must be positive, got 0"):
        adagrad(np.zeros(3), np.zeros(3), {"lr": 0})


def _filled(rng, dtype=np.float64):
    model = nnbook.models.mlp((5, 4, 3), rng=rng, dtype=dtype)
    for _, m, k in model.named_parameters():
        m.grads[k] = rng.standard_normal(m.params[k].shape).astype(dtype)
    return model


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    for max_norm in (0.5, 1e3):                              # clipped, and left alone
        model = _filled(np.random.default_rng(3))
        tensors = []
        for _, m, k in model.named_parameters():
            t = torch.tensor(m.params[k], requires_grad=True)
            t.grad = torch.tensor(m.grads[k].copy())
            tensors.append(t)
        total_t = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
        before = [m.grads[k].copy() for _, m, k in model.named_parameters()]
        total = clip_grad_norm(model, max_norm)
        assert abs(total - float(total_t)) < 1e-12 * total
        for (_, m, k), t, g0 in zip(model.named_parameters(), tensors, before):
            np.testing.assert_allclose(m.grads[k], t.grad.numpy(), rtol=1e-12, atol=1e-15)
        after = np.sqrt(sum((m.grads[k] ** 2).sum() for _, m, k in model.named_parameters()))
        if max_norm < total:
            assert after <= max_norm and after > 0.999 * max_norm
        else:
            assert all(np.array_equal(m.grads[k], g0) for (_, m, k), g0 in zip(model.named_parameters(), before))


def test_clip_grad_norm_keeps_dtype_and_names_bad_input():
    model = _filled(np.random.default_rng(4), np.float32)
    clip_grad_norm(model, 0.1)
    assert all(m.grads[k].dtype == np.float32 for _, m, k in model.named_parameters())
    with pytest.raises(ValueError, match="clip_grad_norm: max_norm must be positive, got 0"):
        clip_grad_norm(model, 0)


def _sgd_run(no_decay, torch_groups=False):
    """Four SGD steps (momentum 0.9, weight decay 0.05) on a small MLP with non-zero biases; the
    parameters after them, from nnbook (``no_decay``) or from torch with the biases in a group
    without decay."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    model = nnbook.models.mlp((5, 4, 3), rng=rng, dtype=np.float64)
    for _, m, k in model.named_parameters():
        m.params[k] = rng.standard_normal(m.params[k].shape)      # non-zero biases, so decay would show
    grads = [{name: rng.standard_normal(m.params[k].shape) for name, m, k in model.named_parameters()}
             for _ in range(4)]
    if torch_groups:
        tensors = {name: torch.tensor(m.params[k].copy(), requires_grad=True)
                   for name, m, k in model.named_parameters()}
        groups = [{"params": [t for n, t in tensors.items() if not n.endswith(".b")]},
                  {"params": [t for n, t in tensors.items() if n.endswith(".b")], "weight_decay": 0.0}]
        topt = torch.optim.SGD(groups, lr=0.1, momentum=0.9, weight_decay=0.05)
        for g in grads:
            for n, t in tensors.items():
                t.grad = torch.tensor(g[n].copy())
            topt.step()
        return {n: t.detach().numpy() for n, t in tensors.items()}
    opt = SGD(model, lr=0.1, momentum=0.9, weight_decay=0.05, no_decay=no_decay)
    for g in grads:
        for name, m, k in model.named_parameters():
            m.grads[k] = g[name].copy()
        opt.step()
    return {name: m.params[k] for name, m, k in model.named_parameters()}


def test_weight_decay_skips_the_keys_in_no_decay_like_torch_param_groups():
    theirs = _sgd_run(None, torch_groups=True)
    ours = _sgd_run(("b",))
    for name in theirs:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-12, atol=1e-14)
    # without no_decay the biases are decayed too, and only they differ
    everything = _sgd_run(())
    for name in theirs:
        assert np.array_equal(everything[name], ours[name]) != name.endswith(".b")
    with pytest.raises(TypeError, match="no_decay must be a tuple of parameter keys"):
        SGD(nnbook.models.mlp((2, 2)), lr=0.1, no_decay="b")


# --- the max-norm constraint -------------------------------------------------------------------
def _max_norm_model(rng, dtype=np.float64):
    """A Conv2d and two Linears with incoming-weight norms both above and below 1."""
    model = nnbook.Sequential(nnbook.Conv2d(2, 3, 3, rng=rng, dtype=dtype), nnbook.ReLU(),
                              nnbook.Flatten(), nnbook.Linear(12, 5, rng=rng, dtype=dtype),
                              nnbook.ReLU(), nnbook.Linear(5, 3, rng=rng, dtype=dtype))
    for m in model.modules():
        if "W" in m.params:
            W = m.params["W"]
            units = W if W.ndim == 4 else W.T                      # a view with a row per unit
            directions = rng.standard_normal(units.shape)
            norms = np.sqrt((directions ** 2).reshape(len(units), -1).sum(axis=1))
            wanted = np.linspace(0.3, 2.0, len(units))             # some below c = 1, some above
            units[...] = directions * (rng.permutation(wanted) / norms).reshape(-1, *[1] * (units.ndim - 1))
            m.params["b"][...] = rng.standard_normal(m.params["b"].shape)
    return model


def _unit_norms(module):
    W = module.params["W"]
    return np.sqrt((W.astype(np.float64) ** 2).sum(axis=0 if W.ndim == 2 else (1, 2, 3)))


def test_apply_max_norm_caps_each_units_incoming_weights():
    rng = np.random.default_rng(5)
    model = _max_norm_model(rng)
    weighted = [m for m in model.modules() if "W" in m.params]
    before = {id(m): (m.params["W"].copy(), _unit_norms(m)) for m in weighted}
    biases = [m.params["b"].copy() for m in weighted]
    c = 1.0
    assert any((n > c).any() and (n <= c).any() for _, n in before.values())   # both kinds present
    largest = nnbook.optim.apply_max_norm(model, c)
    assert largest == max(n.max() for _, n in before.values())
    for m, b in zip(weighted, biases):
        W0, n0 = before[id(m)]
        n1 = _unit_norms(m)
        W, W0u = (m.params["W"], W0) if W0.ndim == 4 else (m.params["W"].T, W0.T)   # a row per unit
        for j in range(len(n0)):
            if n0[j] <= c:
                assert np.array_equal(W[j], W0u[j])                    # untouched, exactly
            else:
                assert abs(n1[j] - c) < 1e-6                          # on the sphere of radius c
                np.testing.assert_allclose(W[j] * n0[j] / n1[j], W0u[j], rtol=1e-12)  # same direction
        assert np.array_equal(m.params["b"], b)                       # biases are not constrained
    again = {id(m): m.params["W"].copy() for m in weighted}
    nnbook.optim.apply_max_norm(model, c)                              # a projection: idempotent
    assert all(np.allclose(m.params["W"], again[id(m)], rtol=1e-12, atol=0) for m in weighted)


def test_apply_max_norm_matches_torch_renorm():
    torch = pytest.importorskip("torch")
    model = _max_norm_model(np.random.default_rng(6))
    expected = []
    for m in model.modules():
        if "W" in m.params:
            W = m.params["W"]
            W_torch = torch.tensor(W if W.ndim == 4 else W.T)               # PyTorch's (out, in, ...)
            out = torch.renorm(W_torch, 2, 0, 0.8).numpy()
            expected.append(out if W.ndim == 4 else out.T)
    nnbook.optim.apply_max_norm(model, 0.8)
    got = [m.params["W"] for m in model.modules() if "W" in m.params]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-15)


def test_apply_max_norm_keeps_dtype_and_names_bad_input():
    model = _max_norm_model(np.random.default_rng(7), np.float32)
    nnbook.optim.apply_max_norm(model, 0.5)
    assert all(m.params["W"].dtype == np.float32 for m in model.modules() if "W" in m.params)
    assert all(_unit_norms(m).max() <= 0.5 + 1e-6 for m in model.modules() if "W" in m.params)
    assert nnbook.optim.apply_max_norm(nnbook.Sequential(nnbook.ReLU()), 1.0) == 0.0
    for bad in (0, -1.0, None, "3"):
        with pytest.raises(ValueError, match=f"apply_max_norm: max_norm must be a positive number, got {bad!r}"):
            nnbook.optim.apply_max_norm(model, bad)
