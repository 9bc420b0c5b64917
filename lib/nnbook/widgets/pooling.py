"""Chapter 4 widgets: max and mean pooling of an image."""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .. import functional as F
from ._base import _redraw, site_states


def pool_image(image, kind="max", size=2, stride=None):
    """Max or mean pooling of a gray image (H, W) with ``size`` x ``size`` windows. Returns (Ho, Wo)."""
    fwd = {"max": F.maxpool2d_forward, "mean": F.avgpool2d_forward}
    if kind not in fwd:
        raise ValueError(f"pool_image: kind must be 'max' or 'mean', got {kind!r}")
    out, _ = fwd[kind](np.asarray(image, dtype=np.float64)[None, None], size, stride)
    return out[0, 0]


def pooling_figure(image, kind="max", size=2, stride=None):
    """The image and its pooled version, each drawn at its own pixel size."""
    pooled = pool_image(image, kind, size, stride)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9, 4))
    vmin, vmax = image.min(), image.max()
    a0.imshow(image, cmap="gray", vmin=vmin, vmax=vmax)
    a0.set_title(f"input {image.shape[0]}x{image.shape[1]}")
    a1.imshow(pooled, cmap="gray", vmin=vmin, vmax=vmax)
    a1.set_title(f"{kind} pool {size}x{size}, stride {stride or size}: {pooled.shape[0]}x{pooled.shape[1]}")
    fig.tight_layout()
    return fig


def pooling_playground(image):
    """Pool type, window size and stride for ``image`` (H, W); the pooled image follows."""
    style = {"description_width": "initial"}
    kind = widgets.ToggleButtons(options=["max", "mean"], value="max", description="pooling")
    size = widgets.IntSlider(value=4, min=1, max=16, description="window", continuous_update=False, style=style)
    stride = widgets.IntSlider(value=4, min=1, max=16, description="stride", continuous_update=False, style=style)
    same = widgets.Checkbox(value=True, description="stride = window")
    out = widgets.Output()

    def update(_=None):
        stride.disabled = same.value
        if same.value and stride.value != size.value:
            stride.value = size.value           # shows the stride in use; its observer redraws
            return
        _redraw(out, lambda: pooling_figure(image, kind.value, size.value, stride.value))

    for w in (kind, size, stride, same):
        w.observe(update, "value")
    update()
    # The website: max and mean, with the stride tied to the window or not, and one of window and
    # stride at a time away from 4.
    sizes = [1, 2, 3, 4, 6, 8, 16]
    return site_states(widgets.VBox([kind, widgets.HBox([size, stride, same]), out]),
                       grid=("pooling", "stride = window"), values={"window": sizes, "stride": sizes})
