"""End to end: networks learn; optimizers follow their update rules; fit's history."""
import numpy as np
import pytest

import nnbook
from nnbook.optim import SGD, Adam, RMSProp


def test_small_resnet_loss_falls_on_digits():
    X, y, Xt, yt = nnbook.data.load_digits()
    model = nnbook.models.small_resnet(rng=np.random.default_rng(0))
    before, _ = nnbook.evaluate(model, Xt, yt)
    hist = nnbook.fit(model, X, y, epochs=4, batch_size=32, lr=0.1, momentum=0.9, weight_decay=5e-4,
                      lr_schedule="cosine", validation_data=(Xt, yt), progress=False, seed=0)
    assert hist["loss"][-1] < hist["loss"][0] < before
    assert hist["val_accuracy"][-1] > 0.95
    assert nnbook.evaluate(model, Xt, yt)[1] == hist["val_accuracy"][-1]


def test_mlp_learns_spirals_with_each_optimizer():
    X, y = nnbook.data.make_spirals(100, 3, seed=0)
    X = X.astype(np.float32)
    for name, lr in (("sgd", 0.5), ("adam", 0.02), ("rmsprop", 0.01)):
        model = nnbook.models.mlp((2, 64, 3), rng=np.random.default_rng(0))
        hist = nnbook.fit(model, X, y, epochs=60, batch_size=32, optimizer=name, lr=lr, progress=False)
        assert hist["accuracy"][-1] > 0.8, (name, hist["accuracy"][-1])


def test_fit_history_and_validation_split():
    X, y = nnbook.data.make_blobs(50, 3, seed=1)
    model = nnbook.models.mlp((2, 8, 3))
    hist = nnbook.fit(model, X.astype(np.float32), y, epochs=3, val_fraction=0.2, progress=False)
    assert set(hist) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in hist.values())
    assert not model.training        # fit leaves the model in eval mode
    assert nnbook.predict(model, X.astype(np.float32)).shape == (150,)


def test_fit_is_reproducible_with_a_seed():
    X, y = nnbook.data.make_blobs(30, 2, seed=2)
    runs = []
    for _ in range(2):
        model = nnbook.models.mlp((2, 5, 2), rng=np.random.default_rng(0))
        runs.append(nnbook.fit(model, X.astype(np.float32), y, epochs=2, seed=3, progress=False)["loss"])
    assert runs[0] == runs[1]


class _One(nnbook.Module):
    """A model with one parameter p and a gradient we set by hand."""

    def __init__(self, p):
        super().__init__()
        self.params["p"] = np.array(p, dtype=np.float64)


def _run(opt_cls, grads, **kw):
    model = _One([1.0, -2.0])
    opt = opt_cls(model, **kw)
    for g in grads:
        model.grads["p"] = np.array(g, dtype=np.float64)
        opt.step()
    return model.params["p"]


def test_sgd_momentum_and_weight_decay_rule():
    g1, g2 = [0.5, 1.0], [0.2, -0.4]
    p = np.array([1.0, -2.0])
    v = np.array(g1) + 0.1 * p
    p = p - 0.1 * v
    v = 0.9 * v + np.array(g2) + 0.1 * p
    p = p - 0.1 * v
    np.testing.assert_allclose(_run(SGD, [g1, g2], lr=0.1, momentum=0.9, weight_decay=0.1), p)


def test_adam_first_step_moves_by_lr():
    p = _run(Adam, [[0.5, -3.0]], lr=0.01)
    np.testing.assert_allclose(p, [1.0 - 0.01, -2.0 + 0.01], rtol=1e-6)


def test_rmsprop_rule():
    g = np.array([0.5, -3.0])
    s = 0.01 * g * g
    np.testing.assert_allclose(_run(RMSProp, [g], lr=0.01, alpha=0.99),
                               np.array([1.0, -2.0]) - 0.01 * g / (np.sqrt(s) + 1e-8))


def test_optimizer_needs_gradients():
    with pytest.raises(RuntimeError, match="no gradient for p"):
        SGD(_One([1.0]), lr=0.1).step()


@pytest.mark.parametrize("opt", [SGD, Adam, RMSProp])
def test_optimizers_match_torch(opt):
    torch = pytest.importorskip("torch")
    kwargs = {SGD: dict(lr=0.1, momentum=0.9, weight_decay=0.01), Adam: dict(lr=0.01, weight_decay=0.01),
              RMSProp: dict(lr=0.01, alpha=0.9, weight_decay=0.01)}[opt]
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(2) for _ in range(5)]
    ours = _run(opt, grads, **kwargs)
    tp = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    topt = {SGD: torch.optim.SGD, Adam: torch.optim.Adam, RMSProp: torch.optim.RMSprop}[opt]([tp], **kwargs)
    for g in grads:
        tp.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(ours, tp.detach().numpy(), rtol=1e-6)


def test_data_sets_need_no_network_and_have_expected_shapes():
    X, y, Xt, yt = nnbook.data.load_digits()
    assert X.shape == (1438, 1, 8, 8) and Xt.shape == (359, 1, 8, 8)
    assert 0 <= X.min() and X.max() <= 1 and set(np.unique(y)) == set(range(10))
    photo = nnbook.data.load_photo()
    assert photo.ndim == 2 and photo.shape[0] > 100 and 0 <= photo.min() <= photo.max() <= 1
    assert nnbook.data.load_photo(gray=False, size=100).shape[2] == 3
    Xs, ys = nnbook.data.make_spirals(50, 3)
    assert Xs.shape == (150, 2) and np.bincount(ys).tolist() == [50, 50, 50]


def test_lr_schedule_cosine_and_callable():
    X, y = nnbook.data.make_blobs(20, 2, seed=0)
    X = X.astype(np.float32)
    seen = []
    opt = SGD(nnbook.models.mlp((2, 2)), lr=1.0)
    real_step = opt.step

    def spy():
        seen.append(opt.lr)
        real_step()

    opt.step = spy
    nnbook.fit(opt.model, X, y, epochs=4, batch_size=40, optimizer=opt, lr_schedule="cosine", progress=False)
    np.testing.assert_allclose(seen, [0.5 * (1 + np.cos(np.pi * e / 4)) for e in range(4)])
    seen.clear()
    nnbook.fit(opt.model, X, y, epochs=2, batch_size=40, optimizer=opt, lr_schedule=lambda e: 0.1 / (e + 1),
               progress=False)
    np.testing.assert_allclose(seen, [0.1, 0.05])
    with pytest.raises(ValueError, match="lr_schedule must be"):
        nnbook.fit(opt.model, X, y, epochs=1, optimizer=opt, lr_schedule="linear", progress=False)


def test_fit_with_max_grad_norm_equals_a_loop_that_clips():
    X, y, *_ = nnbook.data.load_digits()
    X = X.reshape(len(X), -1)[:256]
    y = y[:256]
    clipped = nnbook.models.mlp((64, 32, 10), rng=np.random.default_rng(0))
    nnbook.fit(clipped, X, y, epochs=2, batch_size=32, lr=0.5, seed=3, progress=False, max_grad_norm=0.5)
    mine = nnbook.models.mlp((64, 32, 10), rng=np.random.default_rng(0))
    opt = SGD(mine, lr=0.5)
    rng, norms = np.random.default_rng(3), []
    for _ in range(2):
        order = rng.permutation(len(X))
        for first in range(0, len(X), 32):
            idx = order[first:first + 32]
            logits = mine(X[idx])
            _, d = nnbook.functional.softmax_cross_entropy(logits, y[idx])
            mine.backward(d.astype(logits.dtype))
            norms.append(nnbook.optim.clip_grad_norm(mine, 0.5))
            opt.step()
    assert max(norms) > 0.5                          # clipping did act
    for (_, a, k), (_, b, _) in zip(clipped.named_parameters(), mine.named_parameters()):
        assert np.array_equal(a.params[k], b.params[k])
    unclipped = nnbook.models.mlp((64, 32, 10), rng=np.random.default_rng(0))
    nnbook.fit(unclipped, X, y, epochs=2, batch_size=32, lr=0.5, seed=3, progress=False)
    assert not np.array_equal(unclipped[0].params["W"], clipped[0].params["W"])
    with pytest.raises(ValueError, match="fit: max_grad_norm must be None or a positive number, got -1"):
        nnbook.fit(unclipped, X, y, epochs=1, progress=False, max_grad_norm=-1)


def test_lr_range_test_rates_losses_and_early_stop():
    X, y, *_ = nnbook.data.load_digits()
    X = X.reshape(len(X), -1)
    model = nnbook.models.mlp((64, 32, 10), rng=np.random.default_rng(0))
    out = nnbook.lr_range_test(model, X, y, lr_min=1e-3, lr_max=100.0, steps=120, batch_size=32, seed=1)
    lrs, losses = out["lr"], out["loss"]
    assert len(lrs) == len(losses) < 120                        # lr 100 blows up: it stopped early
    np.testing.assert_allclose(lrs, 1e-3 * (1e5) ** (np.arange(len(lrs)) / 119))
    running_min = np.minimum.accumulate(losses)
    assert losses[-1] > 4 * running_min[-1] and np.all(losses[:-1] <= 4 * running_min[:-1])  # the stop rule
    assert losses.argmin() > 10                                  # the loss fell before it rose
    # the same steps by hand: batch t's loss before the step with rate lrs[t]
    mine = nnbook.models.mlp((64, 32, 10), rng=np.random.default_rng(0))
    opt, rng, seen = SGD(mine, lr=1.0), np.random.default_rng(1), []
    while len(seen) < 10:
        order = rng.permutation(len(X))
        seen += [order[i:i + 32] for i in range(0, len(X), 32)]
    for t in range(10):
        logits = mine(X[seen[t]])
        loss, d = nnbook.functional.softmax_cross_entropy(logits, y[seen[t]])
        assert abs(loss - losses[t]) < 1e-6
        mine.backward(d.astype(logits.dtype))
        opt.lr = lrs[t]
        opt.step()
    # a run that stays small does all its steps
    full = nnbook.lr_range_test(nnbook.models.mlp((64, 10), rng=np.random.default_rng(0)), X, y,
                                lr_min=1e-4, lr_max=1e-3, steps=60)
    assert len(full["loss"]) == 60
    with pytest.raises(ValueError, match="lr_range_test: need 0 < lr_min < lr_max"):
        nnbook.lr_range_test(model, X, y, lr_min=1.0, lr_max=0.1)


def test_fit_with_max_weight_norm_equals_a_loop_that_projects():
    X, y, *_ = nnbook.data.load_digits()
    X = X.reshape(len(X), -1)[:256]
    y = y[:256]
    c = 0.6
    constrained = nnbook.models.mlp((64, 32, 10), rng=np.random.default_rng(0))
    nnbook.fit(constrained, X, y, epochs=2, batch_size=32, lr=0.5, momentum=0.9, seed=3, progress=False,
               max_weight_norm=c)
    mine = nnbook.models.mlp((64, 32, 10), rng=np.random.default_rng(0))
    opt = SGD(mine, lr=0.5, momentum=0.9)
    rng, largest = np.random.default_rng(3), []
    for _ in range(2):
        order = rng.permutation(len(X))
        for first in range(0, len(X), 32):
            idx = order[first:first + 32]
            logits = mine(X[idx])
            _, d = nnbook.functional.softmax_cross_entropy(logits, y[idx])
            mine.backward(d.astype(logits.dtype))
            opt.step()
            largest.append(nnbook.optim.apply_max_norm(mine, c))
    assert max(largest) > c                          # the constraint did act
    for (_, a, k), (_, b, _) in zip(constrained.named_parameters(), mine.named_parameters()):
        assert np.array_equal(a.params[k], b.params[k])
    for layer in (constrained[0], constrained[2]):
        assert np.sqrt((layer.params["W"].astype(np.float64) ** 2).sum(axis=0)).max() <= c + 1e-6
    free = nnbook.models.mlp((64, 32, 10), rng=np.random.default_rng(0))
    nnbook.fit(free, X, y, epochs=2, batch_size=32, lr=0.5, momentum=0.9, seed=3, progress=False)
    assert not np.array_equal(free[0].params["W"], constrained[0].params["W"])
    with pytest.raises(ValueError, match="fit: max_weight_norm must be None or a positive number, got 0"):
        nnbook.fit(free, X, y, epochs=1, progress=False, max_weight_norm=0)


def test_make_spirals_arms_start_at_the_origin_so_the_loss_has_a_floor():
    X, y = nnbook.data.make_spirals(n_per_class=30, n_classes=3, noise=0.3, seed=1)
    at_origin = np.flatnonzero((X == 0).all(axis=1))
    assert sorted(y[at_origin]) == [0, 1, 2]                 # one point of each class, at (0, 0)
    # the best a classifier can do there is equal probabilities: mean loss >= ln(3) / 30
    logits = np.zeros((len(X), 3))
    logits[np.arange(len(X)), y] = 50.0                      # perfect everywhere else
    logits[at_origin] = 0.0
    loss, _ = nnbook.functional.softmax_cross_entropy(logits, y)
    assert abs(loss - np.log(3) / 30) < 1e-12
