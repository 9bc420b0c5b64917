"""Chapter 3 widgets: kernels on an image, and the geometry of a sliding window."""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .. import functional as F
from ..plotting import plot_conv_geometry
from ._base import _redraw, site_states

# 3x3 kernels for chapter 3, all applied as cross-correlation (what conv2d computes).
KERNELS = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "box blur": [[1 / 9] * 3] * 3,
    "Gaussian blur": [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "edges (Laplacian)": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "vertical edges (Sobel x)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges (Sobel y)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


def filter_image(image, kernel):
    """Cross-correlate a gray image (H, W) with a kernel (kh, kw), zero padding to keep the size."""
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"filter_image: use an odd kernel size to keep the image size, got {kernel.shape}")
    out, _ = F.conv2d_forward(np.asarray(image, dtype=np.float64)[None, None], kernel[None, None], None,
                              padding=(kh // 2, kw // 2))
    return out[0, 0]


def kernel_figure(image, kernel, name=""):
    """The image, the kernel (values written in), and the filtered image side by side.

    The output's gray scale depends on the sum of the kernel's entries. A kernel whose entries
    sum to 0 (an edge detector) turns flat regions into 0: its output is drawn on a scale
    symmetric around 0 (gray = 0). Any other kernel is drawn on the input's own gray scale,
    0 = black and 1 = white, so that a kernel summing to 2 makes the picture brighter; values
    outside [0, 1] are clipped, and the title says how many are.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    filtered = filter_image(image, kernel)
    fig, (a0, a1, a2) = plt.subplots(1, 3, figsize=(10, 3.6), gridspec_kw=dict(width_ratios=(4, 2, 4)))
    a0.imshow(image, cmap="gray", vmin=0, vmax=1)
    a0.set_title(f"input {image.shape[0]}x{image.shape[1]}")
    lim = max(np.abs(kernel).max(), 1e-9)
    a1.imshow(kernel, cmap="RdBu_r", vmin=-lim, vmax=lim)
    for (i, j), v in np.ndenumerate(kernel):
        a1.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=9,
                color="white" if abs(v) > 0.6 * lim else "black")
    a1.set_title(f"kernel {name} (sum {kernel.sum() + 0.0:.3g})".replace("  ", " "))
    if abs(kernel.sum()) > 1e-6:   # the input's gray scale: a kernel summing to 2 doubles the brightness
        vmin, vmax = 0.0, 1.0
        clipped = np.mean((filtered < 0) | (filtered > 1))
        note = f"input's gray scale, {clipped:.0%} clipped"
    else:                          # zero-sum (edge) kernels: symmetric scale around 0
        vmax = max(np.percentile(np.abs(filtered), 99.5), 1e-9)
        vmin, note = -vmax, "gray = 0"
    shown = a2.imshow(filtered, cmap="gray", vmin=vmin, vmax=vmax)
    fig.colorbar(shown, ax=a2, fraction=0.046, pad=0.03)
    a2.set_title(f"output {filtered.shape[0]}x{filtered.shape[1]} ({note})")
    for a in (a0, a1, a2):
        a.set_xticks([])
        a.set_yticks([])
    fig.tight_layout()
    return fig


def kernel_playground(image):
    """Pick a preset 3x3 kernel or type your own values; the filtered image follows."""
    preset = widgets.Dropdown(options=list(KERNELS), value="edges (Laplacian)", description="preset")
    cells = [widgets.FloatText(value=0.0, step=0.25, layout=widgets.Layout(width="70px")) for _ in range(9)]
    grid = widgets.GridBox(cells, layout=widgets.Layout(grid_template_columns="repeat(3, 75px)"))
    out = widgets.Output()
    state = {"loading": False}

    def kernel():
        return np.array([c.value for c in cells]).reshape(3, 3)

    def update(_=None):
        if not state["loading"]:
            _redraw(out, lambda: kernel_figure(image, kernel()))

    def load(_=None):
        state["loading"] = True
        for c, v in zip(cells, np.ravel(KERNELS[preset.value])):
            c.value = round(float(v), 4)
        state["loading"] = False
        update()

    preset.observe(load, "value")
    for c in cells:
        c.observe(update, "value")
    load()
    # The website: the presets (the kernel's values are written in the figure).
    return site_states(widgets.VBox([widgets.HBox([preset, widgets.Label("edit the kernel:"), grid]), out]),
                       only=("preset",), note="There you can also type your own kernel values.")


def conv_geometry_playground():
    """Sliders for input size H, kernel k, stride S, padding P and the output position."""
    style = {"description_width": "initial"}
    H = widgets.IntSlider(value=5, min=2, max=10, description="input H", continuous_update=False, style=style)
    K = widgets.IntSlider(value=3, min=1, max=7, description="kernel k", continuous_update=False, style=style)
    S = widgets.IntSlider(value=2, min=1, max=4, description="stride S", continuous_update=False, style=style)
    P = widgets.IntSlider(value=1, min=0, max=3, description="padding P", continuous_update=False, style=style)
    step = widgets.IntSlider(value=0, min=0, max=8, description="output position", style=style)
    out = widgets.Output()

    def n_out():
        Hp = H.value + 2 * P.value
        return (Hp - K.value) // S.value + 1 if Hp >= K.value else 0

    def update(_=None):
        Ho = n_out()
        step.max = max(Ho * Ho - 1, 0)
        pos = divmod(min(step.value, step.max), max(Ho, 1))
        _redraw(out, lambda: plot_conv_geometry(H.value, K.value, S.value, P.value, pos))

    for w in (H, K, S, P, step):
        w.observe(update, "value")
    update()
    # The website: one slider at a time from H=5, k=3, S=2, P=1 (every position of each).
    return site_states(widgets.VBox([widgets.HBox([H, K]), widgets.HBox([S, P]), step, out]))
