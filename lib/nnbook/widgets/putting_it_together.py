"""Chapter 8 widgets: what the first-layer filters of a trained network respond to.

A first-layer filter is a template: its response at a position is the dot product of its
weights with the input patch there. The functions below find, for one filter, the input
patches of a set of images that give it the largest responses, and draw the filter next to
those patches and to its response maps.
"""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .. import functional as F
from ._base import _redraw, site_states


def _check_filters_and_images(W, images, who):
    W, images = np.asarray(W), np.asarray(images)
    if W.ndim != 4 or W.shape[1] != 1 or W.shape[2] % 2 == 0 or W.shape[2] != W.shape[3]:
        raise ValueError(f"{who}: expected first-layer filters W of shape (F, 1, k, k) with an odd k, "
                         f"got {W.shape}")
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"{who}: expected gray images of shape (N, 1, H, W), got {images.shape}")
    return W.astype(np.float64), images.astype(np.float64)


def filter_responses(W, images):
    """Responses of the filters W to the images, with zero padding k // 2 and no bias.

    Args:
        W: filters of shape (F, 1, k, k), k odd (e.g. a stem convolution's weights).
        images: shape (N, 1, H, W).
    Returns:
        array of shape (N, F, H, W): ``out[n, f, i, j] = sum(W[f, 0] * patch)`` where ``patch``
        is the k x k window of the zero-padded image n centered on pixel (i, j).
    """
    W, images = _check_filters_and_images(W, images, "filter_responses")
    out, _ = F.conv2d_forward(images, W, np.zeros(len(W)), stride=1, padding=W.shape[2] // 2)
    return out


def top_patches(W, images, f, k=12):
    """The ``k`` input patches that give filter ``f`` its largest responses.

    Args:
        W: filters of shape (F, 1, kh, kw); images: shape (N, 1, H, W); f: filter index.
        k: number of patches (the k largest responses over every image and position).
    Returns:
        patches (k, kh, kw) of the zero-padded images, largest response first; scores (k,),
        the responses ``sum(W[f, 0] * patch)``; positions (k, 3) of (image, row, column).
    """
    W, images = _check_filters_and_images(W, images, "top_patches")
    if isinstance(f, bool) or not isinstance(f, (int, np.integer)) or not 0 <= f < len(W):
        raise ValueError(f"top_patches: f must be a filter index in [0, {len(W)}), got {f!r}")
    resp = filter_responses(W[f:f + 1], images)[:, 0]                # (N, H, W)
    if not 1 <= k <= resp.size:
        raise ValueError(f"top_patches: k must be in [1, {resp.size}], got {k!r}")
    order = np.argsort(resp, axis=None, kind="stable")[::-1][:k]
    positions = np.stack(np.unravel_index(order, resp.shape), axis=1)  # (k, 3)
    r = W.shape[2] // 2
    padded = np.pad(images[:, 0], ((0, 0), (r, r), (r, r)))
    size = W.shape[2]
    patches = np.stack([padded[n, i:i + size, j:j + size] for n, i, j in positions])
    return patches, resp.reshape(-1)[order], positions


def filter_figure(W, images, labels, f, k=8, image_indices=(0, 1, 2, 3, 4, 5)):
    """Filter ``f`` as a template: its weights, the mean of its top-``k`` patches and those patches
    (top row); a few images with the filter's response map (bottom rows).

    One axes holds the grid of pictures (each an image placed with ``extent``): 30 small axes took
    five times as long to draw, and the widget redraws on every move of its sliders.
    """
    Wd, imgs = _check_filters_and_images(W, images, "filter_figure")
    patches, scores, positions = top_patches(Wd, imgs, f, k)
    limit = np.abs(Wd[f, 0]).max()
    resp = filter_responses(Wd[f:f + 1], imgs[list(image_indices)])[:, 0]
    rlim = max(np.abs(resp).max(), 1e-12)
    weights = dict(cmap="RdBu_r", vmin=-limit, vmax=limit)
    gray = dict(cmap="gray", vmin=0, vmax=1)
    rows = [[(Wd[f, 0], weights, f"filter {f}", 8), (patches.mean(axis=0), gray, f"mean of top {k}", 8)]
            + [(patch, gray, f"{score:.2f}", 7) for patch, score in zip(patches, scores)],
            [(imgs[n, 0], gray, f"image {n}: {labels[n]}", 8) for n in image_indices],
            [(r, dict(cmap="RdBu_r", vmin=-rlim, vmax=rlim), "response", 8) for r in resp]]
    ncols = max(len(row) for row in rows)
    fig, ax = plt.subplots(figsize=(1.05 * ncols, 3.6))
    col, row_step = 1.15, 1.35                       # a cell is 1 x 1, with room for its title
    for r, row in enumerate(rows):
        for c, (picture, colors, title, size) in enumerate(row):
            h, w = picture.shape
            scale = 1.0 / max(h, w)                  # the longer side fills the cell
            x0, y0 = c * col + (1 - w * scale) / 2, r * row_step + (1 - h * scale) / 2
            ax.imshow(picture, extent=(x0, x0 + w * scale, y0 + h * scale, y0), interpolation="nearest", **colors)
            ax.text(c * col + 0.5, r * row_step - 0.08, title, ha="center", va="bottom", fontsize=size)
    ax.set_xlim(-0.05, (ncols - 1) * col + 1.05)
    ax.set_ylim(len(rows) * row_step - 0.45, -0.4)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.suptitle(f"filter {f}: the patches it responds to most (top), where it responds (bottom: "
                 "red = strong positive response)", fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.01)
    return fig


def filter_playground(W, images, labels, k=8, n_images=6):
    """A slider for the filter index and one for the first image shown; redraws :func:`filter_figure`."""
    Wd, imgs = _check_filters_and_images(W, images, "filter_playground")
    style = {"description_width": "initial"}
    f = widgets.IntSlider(value=0, min=0, max=len(Wd) - 1, description="filter", continuous_update=False,
                          style=style)
    first = widgets.IntSlider(value=0, min=0, max=len(imgs) - n_images, description="first image",
                              continuous_update=False, style=style)
    out = widgets.Output()

    def update(_=None):
        shown = tuple(range(first.value, first.value + n_images))
        _redraw(out, lambda: filter_figure(Wd, imgs, labels, f.value, k, shown))

    for w in (f, first):
        w.observe(update, "value")
    update()
    # The website: every filter with the first images, and a few pages of images for filter 0.
    pages = sorted({min(p, first.max) for p in range(0, 6 * n_images, n_images)})
    return site_states(widgets.VBox([widgets.HBox([f, first]), out]), values={"first image": pages})
