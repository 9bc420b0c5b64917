"""Interactive figures for the book (ipywidgets + matplotlib), chapters 1, 3 and 4.

Each ``*_figure`` function draws one static figure (used in the text and by the tests);
each ``*_playground`` function wraps it in widgets and returns the widget to display as
the last line of a notebook cell. Sliders redraw when released (``continuous_update=False``)
and every redraw takes well under a second.
"""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from . import functional as F
from .data import make_spirals
from .models import mlp
from .plotting import plot_conv_geometry, plot_decision_boundary
from .train import fit, predict

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


def _redraw(output, draw):
    """Run ``draw()`` (which makes one figure) inside ``output``, replacing what was there."""
    with output:
        output.clear_output(wait=True)
        draw()
        plt.show()


# --- chapter 1: a two-layer net on the spirals ----------------------------------------------

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
    return widgets.VBox([widgets.HBox([hidden, lr]), out])


# --- chapter 3: kernels and sliding windows ---------------------------------------------------

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
    """The image, the kernel (values written in), and the filtered image side by side."""
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
    a1.set_title(f"kernel {name}".strip())
    total = kernel.sum()
    if abs(total) > 1e-6:       # brightness-preserving kernels (sum 1): same gray scale as the input
        vmin, vmax, note = min(0.0, total), max(0.0, total), "gray scale as input"
    else:                       # zero-sum (edge) kernels: symmetric scale around 0
        vmax = max(np.percentile(np.abs(filtered), 99.5), 1e-9)
        vmin, note = -vmax, "gray = 0"
    a2.imshow(filtered, cmap="gray", vmin=vmin, vmax=vmax)
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
    return widgets.VBox([widgets.HBox([preset, widgets.Label("edit the kernel:"), grid]), out])


def conv_geometry_playground():
    """Sliders for input size H, kernel K, stride S, padding P and the output position."""
    style = {"description_width": "initial"}
    H = widgets.IntSlider(value=5, min=2, max=10, description="input H", continuous_update=False, style=style)
    K = widgets.IntSlider(value=3, min=1, max=7, description="kernel K", continuous_update=False, style=style)
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
    return widgets.VBox([widgets.HBox([H, K]), widgets.HBox([S, P]), step, out])


# --- chapter 4: pooling ------------------------------------------------------------------------

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
    return widgets.VBox([kind, widgets.HBox([size, stride, same]), out])
