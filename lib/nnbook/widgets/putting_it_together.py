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
    (top row); a few images with the filter's response map (bottom rows)."""
    Wd, imgs = _check_filters_and_images(W, images, "filter_figure")
    patches, scores, positions = top_patches(Wd, imgs, f, k)
    limit = np.abs(Wd[f, 0]).max()
    ncols = max(k + 2, len(image_indices))
    fig, axes = plt.subplots(3, ncols, figsize=(1.05 * ncols, 3.6))
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].imshow(Wd[f, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[0, 0].set_title(f"filter {f}", fontsize=8)
    axes[0, 1].imshow(patches.mean(axis=0), cmap="gray", vmin=0, vmax=1)
    axes[0, 1].set_title(f"mean of top {k}", fontsize=8)
    for t, (patch, score, (n, i, j)) in enumerate(zip(patches, scores, positions)):
        axes[0, t + 2].imshow(patch, cmap="gray", vmin=0, vmax=1)
        axes[0, t + 2].set_title(f"{score:.2f}", fontsize=7)
    resp = filter_responses(Wd[f:f + 1], imgs[list(image_indices)])[:, 0]
    rlim = max(np.abs(resp).max(), 1e-12)
    for c, n in enumerate(image_indices):
        axes[1, c].imshow(imgs[n, 0], cmap="gray", vmin=0, vmax=1)
        axes[1, c].set_title(f"image {n}: {labels[n]}", fontsize=8)
        axes[2, c].imshow(resp[c], cmap="RdBu_r", vmin=-rlim, vmax=rlim)
        axes[2, c].set_title("response", fontsize=8)
    fig.suptitle(f"filter {f}: the patches it responds to most (top), where it responds (bottom: "
                 "red = strong positive response)", fontsize=9)
    fig.tight_layout()
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
