"""Chapter 1 widgets: a two-layer net learning the spirals."""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from ..data import make_spirals
from ..models import mlp
from ..plotting import plot_decision_boundary
from ..train import fit, predict
from ._base import _redraw, site_states


def spiral_figure(X, y, hidden=64, lr=1.0, steps=1000, seed=0):
    """Train ``Linear(2, hidden) -> ReLU -> Linear(hidden, K)`` by full-batch gradient descent.

    X: points (N, 2); y: labels (N,). Draws the decision boundary and the loss curve.
    Returns:
        fig, history (from :func:`nnbook.fit`, one "epoch" = one step on the whole batch).
    """
    model = mlp((2, hidden, int(y.max()) + 1), rng=np.random.default_rng(seed), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            history = fit(model, X, y, epochs=steps, batch_size=len(X), lr=lr, seed=seed, progress=False)
        except ValueError:          # a too-large learning rate drives the weights to inf/NaN
            history = None
    fig, (ax_b, ax_l) = plt.subplots(1, 2, figsize=(9.5, 4))
    if history is None:
        ax_b.scatter(X[:, 0], X[:, 1], c=y, cmap="tab10", vmin=0, vmax=9, s=12)
        ax_b.set_aspect("equal")
        ax_b.set_title(f"hidden={hidden}, lr={lr:g}: diverged", color="tab:red")
        ax_l.text(0.5, 0.5, "the loss blew up to inf/NaN\n(learning rate too large)", ha="center",
                  va="center", transform=ax_l.transAxes, color="tab:red")
        ax_l.axis("off")
        return fig, history
    plot_decision_boundary(lambda P: predict(model, P), X, y, ax=ax_b, resolution=120)
    ax_b.set_title(f"hidden={hidden}, lr={lr:g}: training accuracy {history['accuracy'][-1]:.0%}")
    ax_l.plot(history["loss"])
    ax_l.set_yscale("log")
    ax_l.set_xlabel("gradient-descent step")
    ax_l.set_ylabel("cross-entropy loss")
    ax_l.set_title(f"final loss {history['loss'][-1]:.3f}")
    ax_l.grid(alpha=0.3)
    fig.tight_layout()
    return fig, history


def spiral_playground(X=None, y=None, steps=1000):
    """Sliders for the hidden width and the learning rate; redraws :func:`spiral_figure`."""
    if X is None:
        X, y = make_spirals(100, 3, noise=0.2, seed=0)
    hidden = widgets.SelectionSlider(options=[2, 4, 8, 16, 32, 64, 128], value=64, description="hidden",
                                     continuous_update=False)
    lr = widgets.SelectionSlider(options=[0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0], value=1.0,
                                 description="learning rate", continuous_update=False,
                                 style={"description_width": "initial"})
    out = widgets.Output()

    def update(_=None):
        _redraw(out, lambda: spiral_figure(X, y, hidden.value, lr.value, steps))

    hidden.observe(update, "value")
    lr.observe(update, "value")
    update()
    # The website: every width at lr 1 and every learning rate at width 64 (13 trainings).
    return site_states(widgets.VBox([widgets.HBox([hidden, lr]), out]))
