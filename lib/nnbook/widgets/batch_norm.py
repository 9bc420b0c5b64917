"""Chapter 6 widgets: how far a batch-norm model's train-mode output is from its eval-mode output.

In training mode batch norm normalizes each batch with the batch's own mean and variance, so an
example's output depends on the batch it comes in. In eval mode it uses the running averages,
and the output depends on the example alone. These functions measure the difference for a
trained model as a function of the batch size, for random batches and for skewed batches (the
examples sorted by class: on the 359 test digits of ``nnbook.data.load_digits``, most batches of
up to 16 hold a single class, larger ones several neighboring classes).
"""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from ..diagnostics import train_mode_logits
from ..train import predict_logits
from ._base import _redraw, site_states

BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
ORDERINGS = ("random", "by class")


def _order(y, ordering, seed):
    if ordering == "random":
        return np.random.default_rng(seed).permutation(len(y))
    if ordering == "by class":
        return np.argsort(y, kind="stable")
    raise ValueError(f"batch norm widget: ordering must be one of {ORDERINGS}, got {ordering!r}")


def train_eval_gap(model, X, y, batch_size, ordering="random", seed=0):
    """Compare the model's train-mode outputs (batches of ``batch_size``) with its eval-mode outputs.

    Args:
        model: a trained model with batch norm; its running averages are left unchanged.
        X: inputs (N, ...); y: labels (N,).
        batch_size: examples per batch in training mode.
        ordering: ``"random"`` (shuffled with ``seed``) or ``"by class"`` (sorted by label).
    Returns:
        dict with ``train`` and ``eval`` logits (N, K) in batch order (if the last batch would
        hold a single example, that example is left out), ``accuracy_train``, ``accuracy_eval``,
        ``agreement`` (fraction of examples with the same predicted class in both modes) and
        ``gap`` (mean |train - eval| of the logits divided by the mean |eval| logit), or
        ``None`` when training mode cannot run at this batch size (batch size 1).
    """
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"train_eval_gap: X has {len(X)} rows but y has {len(y)}")
    order = _order(y, ordering, seed)
    if batch_size > 1 and len(order) % batch_size == 1:
        order = order[:-1]          # a last batch of one example could not be normalized: drop it
    X, y = X[order], y[order]
    eval_logits = predict_logits(model, X)
    try:
        train_logits = train_mode_logits(model, X, batch_size)
    except ValueError as e:
        if "more than 1 value per channel" not in str(e):
            raise
        return None
    return {"train": train_logits, "eval": eval_logits,
            "accuracy_train": float((train_logits.argmax(1) == y).mean()),
            "accuracy_eval": float((eval_logits.argmax(1) == y).mean()),
            "agreement": float((train_logits.argmax(1) == eval_logits.argmax(1)).mean()),
            "gap": float(np.abs(train_logits - eval_logits).mean() / np.abs(eval_logits).mean())}


def train_eval_curves(model, X, y, sizes=BATCH_SIZES, seed=0):
    """Train-mode accuracy for every batch size in ``sizes`` and both orderings.

    Returns:
        dict ``{"sizes": [...], "random": [...], "by class": [...], "eval": accuracy}``; an
        accuracy is NaN where training mode cannot run (batch size 1).
    """
    curves = {"sizes": list(sizes)}
    for ordering in ORDERINGS:
        stats = [train_eval_gap(model, X, y, b, ordering, seed) for b in sizes]
        curves[ordering] = [np.nan if s is None else s["accuracy_train"] for s in stats]
    curves["eval"] = float((predict_logits(model, X).argmax(1) == np.asarray(y)).mean())
    return curves


def train_eval_figure(model, X, y, batch_size=16, ordering="random", seed=0, curves=None):
    """Left: accuracy in train mode against the batch size (both orderings) and in eval mode.
    Right: every logit in train mode (batches of ``batch_size``) against eval mode.

    ``curves`` (from :func:`train_eval_curves`) can be passed in to avoid recomputing them.
    Returns:
        fig, stats (from :func:`train_eval_gap`, ``None`` for batch size 1).
    """
    curves = train_eval_curves(model, X, y, seed=seed) if curves is None else curves
    stats = train_eval_gap(model, X, y, batch_size, ordering, seed)
    fig, (ax_a, ax_s) = plt.subplots(1, 2, figsize=(10, 4))
    sizes = curves["sizes"]
    for name, style in zip(ORDERINGS, ("o-", "s--")):
        ax_a.plot(sizes, curves[name], style, markersize=4, label=f"train mode, {name} batches")
    ax_a.axhline(curves["eval"], color="k", lw=1, label="eval mode (any batch)")
    ax_a.axvline(batch_size, color="tab:red", lw=1, alpha=0.6)
    ax_a.set_xscale("log", base=2)
    ax_a.set_xticks(sizes, [str(b) for b in sizes])
    ax_a.minorticks_off()
    ax_a.set_ylim(0, 1.02)
    ax_a.set_xlabel("batch size")
    ax_a.set_ylabel("accuracy")
    ax_a.set_title("forgetting eval(): accuracy against batch size", fontsize=10)
    ax_a.legend(fontsize=8, loc="lower right")
    ax_a.grid(alpha=0.3)
    if stats is None:
        ax_s.text(0.5, 0.5, "batch size 1: training mode cannot\ncompute a variance from one value\n"
                  "(batch norm raises a ValueError)", ha="center", va="center",
                  transform=ax_s.transAxes, color="tab:red")
        ax_s.axis("off")
    else:
        e, t = stats["eval"].ravel(), stats["train"].ravel()
        ax_s.scatter(e, t, s=3, alpha=0.3)
        lo, hi = min(e.min(), t.min()), max(e.max(), t.max())
        ax_s.plot([lo, hi], [lo, hi], color="k", lw=1)
        ax_s.set_xlabel("logit in eval mode (running averages)")
        ax_s.set_ylabel("logit in train mode (batch statistics)")
        ax_s.set_title(f"batch size {batch_size}, {ordering} batches: same class for "
                       f"{stats['agreement']:.0%}, gap {stats['gap']:.2f}", fontsize=10)
        ax_s.grid(alpha=0.3)
    fig.tight_layout()
    return fig, stats


def train_eval_playground(model, X, y, seed=0, curves=None):
    """A batch-size slider and the batch ordering; redraws :func:`train_eval_figure`.

    ``curves`` (from :func:`train_eval_curves` with the same model, data and seed) can be
    passed in to save computing them again.
    """
    curves = train_eval_curves(model, X, y, seed=seed) if curves is None else curves
    size = widgets.SelectionSlider(options=list(BATCH_SIZES), value=16, description="batch size",
                                   continuous_update=False, style={"description_width": "initial"})
    ordering = widgets.ToggleButtons(options=list(ORDERINGS), value="random", description="batches")
    out = widgets.Output()

    def update(_=None):
        _redraw(out, lambda: train_eval_figure(model, X, y, size.value, ordering.value, seed, curves))

    size.observe(update, "value")
    ordering.observe(update, "value")
    update()
    # The website: every batch size with both orderings.
    return site_states(widgets.VBox([widgets.HBox([size, ordering]), out]), grid="all")
