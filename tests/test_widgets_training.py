"""Chapter 2 widgets (nnbook.widgets.training): the optimizer race moves the point the way the
update rules say, the initialization explorer measures what variance propagation predicts, and
every control redraws."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nnbook import widgets  # noqa: E402
from nnbook.widgets import training  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _controls(box):
    found, stack = {}, [box]
    while stack:
        w = stack.pop()
        stack.extend(getattr(w, "children", ()))
        if getattr(w, "description", None):
            found[w.description] = w
    return found


def test_sgd_on_the_bowl_follows_the_closed_form():
    # f = 0.5 * (x^2 + 20 y^2): each coordinate shrinks by (1 - lr * h) per step
    path, losses = widgets.run_optimizer("ill-conditioned bowl", "sgd", lr=0.05, steps=30)
    start = np.array(training.SURFACES["ill-conditioned bowl"][3])
    t = np.arange(31)[:, None]
    np.testing.assert_allclose(path, start * (1 - 0.05 * np.array([1.0, 20.0])) ** t, rtol=1e-12)
    np.testing.assert_allclose(losses, 0.5 * (path[:, 0] ** 2 + 20 * path[:, 1] ** 2), rtol=1e-12)


def test_momentum_matches_the_heavy_ball_recursion():
    f, grad, A, start, *_ = training.SURFACES["rotated bowl"]
    path, _ = widgets.run_optimizer("rotated bowl", "momentum", lr=0.02, steps=25, momentum=0.8)
    p, v = np.array(start), np.zeros(2)
    for t in range(25):
        v = 0.8 * v + A @ p
        p = p - 0.02 * v
        np.testing.assert_allclose(path[t + 1], p, rtol=1e-12, atol=1e-14)


def test_adam_first_step_has_size_lr_in_every_coordinate():
    path, _ = widgets.run_optimizer("banana (Rosenbrock)", "adam", lr=0.1, steps=1)
    np.testing.assert_allclose(np.abs(path[1] - path[0]), [0.1, 0.1], rtol=1e-6)


def test_a_diverging_run_stops_at_the_last_finite_point():
    path, losses = widgets.run_optimizer("ill-conditioned bowl", "sgd", lr=0.5, steps=500)   # 1 - 0.5*20 = -9
    assert 1 < len(path) < 501 and np.all(np.isfinite(path)) and np.all(np.isfinite(losses))
    fig, runs = widgets.race_figure("ill-conditioned bowl", ("sgd",), lr=0.5, steps=500)
    assert any("diverged" in t.get_text() for t in fig.axes[0].get_legend().get_texts())


def test_race_figure_reports_every_chosen_optimizer():
    fig, runs = widgets.race_figure("rotated bowl", ("sgd", "adam"), lr=0.05, adaptive_lr=0.2, steps=40)
    assert set(runs) == {"sgd", "adam"}
    assert all(len(path) == 41 and losses[-1] < losses[0] for path, losses in runs.values())
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["sgd (lr 0.05)", "adam (lr 0.2)"]
    fig, runs = widgets.race_figure("rotated bowl", (), steps=5)          # nothing chosen: a message
    assert runs == {} and "choose at least one" in fig.axes[1].texts[0].get_text()
    with pytest.raises(ValueError, match="make_optimizer: name must be one of"):
        widgets.run_optimizer("rotated bowl", "lbfgs", 0.1)
    with pytest.raises(ValueError, match="run_optimizer: surface must be one of"):
        widgets.run_optimizer("saddle", "sgd", 0.1)


@pytest.mark.parametrize("scheme, ratio", [("he", 1.0), ("xavier", 0.5 ** 0.5), ("std 0.01", (256 * 1e-4 / 2) ** 0.5)])
def test_init_activations_std_ratio_matches_variance_propagation(scheme, ratio):
    # ReLU halves the mean square: Var(z_l) = fan_in * Var(w) * Var(z_{l-1}) / 2
    stds = np.array([z.std() for z in widgets.init_activations(12, scheme, width=256, n=1024, seed=1)])
    measured = np.exp(np.mean(np.log(stds[1:] / stds[:-1])))     # geometric mean of the per-layer ratio
    assert abs(measured / ratio - 1) < 0.05, (scheme, measured, ratio)


def test_init_figure_returns_the_stds_it_draws():
    fig, stds = widgets.init_figure(depth=8, scheme="std 1", width=64, n=128)
    zs = widgets.init_activations(8, "std 1", width=64, n=128)
    np.testing.assert_allclose(stds, [z.std() for z in zs])
    line = fig.axes[-1].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), stds)
    assert len(fig.axes) == 6                              # 5 histogram panels + the std plot
    assert "layer 8" in fig.axes[4].get_title()
    with pytest.raises(ValueError, match="init_weights: scheme must be one of"):
        widgets.init_activations(3, "orthogonal")


@pytest.mark.parametrize("make, figure, changes", [
    (lambda: widgets.race_playground(steps=10), "race_figure",
     {"SGD / momentum lr": 0.02, "RMSProp / Adam lr": 0.1, "momentum": 0.5, "Adam β1": 0.5, "Adam β2": 0.99,
      "surface": "banana (Rosenbrock)", "optimizers": ("sgd", "adam")}),
    (lambda: widgets.init_playground(width=32, n=32), "init_figure",
     {"depth": 5, "init": "xavier", "activation": "tanh"}),
])
def test_training_playground_controls_redraw(monkeypatch, make, figure, changes):
    calls = []
    real = getattr(training, figure)

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(training, figure, spy)
    controls = _controls(make())
    assert len(calls) == 1                                  # the first picture
    for name, value in changes.items():
        assert name in controls, f"no control named {name!r}: {sorted(controls)}"
        controls[name].value = value
        assert controls[name].value == value
        assert value in calls[-1], (name, value, calls[-1])   # redrawn with the new value
    assert len(calls) == 1 + len(changes)
