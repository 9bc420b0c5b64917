"""Chapter 6 widget (nnbook.widgets.batch_norm) and the measurement behind it
(nnbook.diagnostics.train_mode_logits): they compute the right thing, leave the model as it
was, and every control redraws."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nnbook  # noqa: E402
from nnbook import models, widgets  # noqa: E402
from nnbook.diagnostics import train_mode_logits  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def trained():
    """A small batch-norm MLP trained on the digits, and 120 test digits."""
    X, y, Xt, yt = nnbook.data.load_digits()
    X, Xt = X.reshape(len(X), -1), Xt.reshape(len(Xt), -1)
    model = models.bn_mlp((64, 32, 32, 10), rng=np.random.default_rng(0))
    nnbook.fit(model, X, y, epochs=4, lr=0.1, progress=False)
    return model, Xt[:120], yt[:120]


def _buffers(model):
    return [getattr(m, b).copy() for m in model.modules() for b in getattr(m, "_buffers", ())]


def test_train_mode_logits_match_a_manual_train_mode_pass_and_restore_the_model(trained):
    model, X, _ = trained
    before = _buffers(model)
    model.eval()
    got = train_mode_logits(model, X, 40)
    assert not model.training                                   # mode restored
    assert all(np.array_equal(a, b) for a, b in zip(before, _buffers(model)))   # running stats too
    twin = models.bn_mlp((64, 32, 32, 10), rng=np.random.default_rng(0))
    for (_, m, k), (_, m2, k2) in zip(model.named_parameters(), twin.named_parameters()):
        m2.params[k2][...] = m.params[k]
    twin.train()
    manual = np.concatenate([twin(X[i:i + 40]) for i in range(0, len(X), 40)])
    assert np.allclose(got, manual, atol=1e-6)
    assert not np.allclose(got, nnbook.train.predict_logits(model, X), atol=1e-3)   # train != eval


def test_train_mode_logits_order_puts_outputs_back_in_place(trained):
    model, X, _ = trained
    order = np.random.default_rng(3).permutation(len(X))
    got = train_mode_logits(model, X, 30, order)
    direct = train_mode_logits(model, X[order], 30)
    assert np.allclose(got[order], direct)
    with pytest.raises(ValueError, match="permutation"):
        train_mode_logits(model, X, 30, order[:-1])
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        train_mode_logits(model, X, 0)


def test_gap_shrinks_with_batch_size_and_skewed_batches_hurt(trained):
    model, X, y = trained
    small, large = (widgets.train_eval_gap(model, X, y, b) for b in (4, 120))
    assert small["accuracy_eval"] == large["accuracy_eval"] > 0.85        # eval mode: batch-independent
    assert large["gap"] < small["gap"]
    assert large["agreement"] > small["agreement"]
    skewed = widgets.train_eval_gap(model, X, y, 16, "by class")
    mixed = widgets.train_eval_gap(model, X, y, 16, "random")
    assert skewed["accuracy_train"] < mixed["accuracy_train"] - 0.2
    assert widgets.train_eval_gap(model, X, y, 1) is None                 # cannot normalize one value
    odd = widgets.train_eval_gap(model, X[:9], y[:9], 4)                   # 9 = 4 + 4 + 1: last one dropped
    assert odd["train"].shape == (8, 10)
    with pytest.raises(ValueError, match="ordering"):
        widgets.train_eval_gap(model, X, y, 8, "sorted")


def test_figure_titles_and_batch_size_one(trained):
    model, X, y = trained
    curves = widgets.train_eval_curves(model, X, y, sizes=(1, 4, 64))
    assert np.isnan(curves["random"][0]) and curves["random"][2] > curves["random"][1]
    fig, stats = widgets.train_eval_figure(model, X, y, 64, "random", curves=curves)
    assert f"{stats['agreement']:.0%}" in fig.axes[1].get_title()
    fig, stats = widgets.train_eval_figure(model, X, y, 1, curves=curves)
    assert stats is None
    assert any("batch size 1" in t.get_text() for ax in fig.axes for t in ax.texts)


def test_playground_controls_redraw(trained, monkeypatch):
    from nnbook.widgets import batch_norm as wbn
    model, X, y = trained
    calls = []
    real = wbn.train_eval_figure
    monkeypatch.setattr(wbn, "train_eval_figure", lambda *a: calls.append(a[3:5]) or real(*a))
    box = widgets.train_eval_playground(model, X, y)
    size, ordering = box.children[0].children
    assert calls == [(16, "random")]                        # drawn once at the start
    size.value = 1
    size.value = 128
    ordering.value = "by class"
    assert calls == [(16, "random"), (1, "random"), (128, "random"), (128, "by class")]
