"""Figures used across the book (matplotlib). Each function draws and returns its Figure.

End a notebook cell that plots with ``;`` (or assign the result) so no object repr is printed.
"""
import matplotlib.pyplot as plt
import numpy as np


def show_images(images, titles=None, ncols=8, cmap="gray", size=1.4, vmin=None, vmax=None, suptitle=None):
    """A grid of images. ``images``: (N, H, W), (N, 1, H, W) or (N, H, W, 3)."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.4 if suptitle else 0)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap=cmap, vmin=vmin, vmax=vmax)
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_history(history, title=None):
    """Loss and accuracy per epoch from :func:`nnbook.fit`'s history (training and validation)."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.2))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        ax.plot(epochs, history[key], label="training")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_decision_boundary(predict, X, y, ax=None, resolution=200, margin=0.25):
    """Colour the plane by ``predict(points) -> labels`` and scatter the 2-D points X (N, 2)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.c_[gx.ravel(), gy.ravel()]
    zz = np.asarray(predict(grid)).reshape(gx.shape)
    k = int(max(y.max(), zz.max())) + 1
    ax.contourf(gx, gy, zz, levels=np.arange(k + 1) - 0.5, cmap="tab10", vmin=0, vmax=9, alpha=0.3)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="tab10", vmin=0, vmax=9, s=12, edgecolors="k", linewidths=0.3)
    ax.set_aspect("equal")
    return ax.figure


def confusion_matrix(y_true, y_pred, num_classes=None):
    """Counts ``M[i, j]`` of examples of class i predicted as j. Shape (K, K)."""
    k = num_classes or int(max(y_true.max(), y_pred.max())) + 1
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def plot_confusion_matrix(y_true, y_pred, num_classes=None, ax=None):
    """Heat map of :func:`confusion_matrix` with the counts written in each cell."""
    m = confusion_matrix(y_true, y_pred, num_classes)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                    color="white" if v > m.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(len(m)))
    ax.set_yticks(range(len(m)))
    return ax.figure


def show_feature_maps(maps, ncols=8, title=None, size=1.2):
    """Channels of one feature map ``(C, H, W)`` as a grid, each with its own colour scale."""
    maps = np.asarray(maps)
    return show_images(maps, titles=[f"ch {c}" for c in range(len(maps))], ncols=ncols, cmap="viridis",
                       size=size, suptitle=title)
