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
    """Color the plane by ``predict(points) -> labels`` and scatter the 2-D points X (N, 2)."""
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
    """Channels of one feature map ``(C, H, W)`` as a grid, each with its own color scale."""
    maps = np.asarray(maps)
    return show_images(maps, titles=[f"ch {c}" for c in range(len(maps))], ncols=ncols, cmap="viridis",
                       size=size, suptitle=title)


def plot_gradient_norms(norms, ax=None, title="gradient norm per layer"):
    """Gradient norm of each layer (input side left), one line per model, log scale.

    ``norms``: ``{label: {parameter name: norm}}``, e.g. from :func:`nnbook.diagnostics.gradient_norms`.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    for label, per_layer in norms.items():
        values = list(per_layer.values())
        ax.plot(np.arange(len(values)), values, marker="o", markersize=3, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("layer (0 = nearest the input)")
    ax.set_ylabel("‖∂L/∂W‖")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.figure.tight_layout()
    return ax.figure


def compare_histories(histories, key="loss", ax=None):
    """One curve per model of ``history[key]`` per epoch; ``histories``: ``{label: history}``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 3.2))
    for label, history in histories.items():
        ax.plot(np.arange(1, len(history[key]) + 1), history[key], marker="o", markersize=3, label=label)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(key.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.figure.tight_layout()
    return ax.figure


# --- figures for chapters 1, 3 and 4 (fully connected, convolution, pooling) ---------------------------

def show_matrix(a, ax=None, title=None, groups=None, mark=None, fmt="{:g}", cmap="Blues",
                vmin=None, vmax=None, fontsize=10):
    """A small 2-D array (H, W) as a grid of cells with each value written in its cell.

    Args:
        groups: optional int array (H, W); cells with the same id share a pastel color
            (e.g. the pooling window each cell belongs to; -1 = no color). Without it the
            cells are colored by value with ``cmap``.
        mark: optional bool array (H, W); marked cells get a thick black border.
        fmt: format of the value written in each cell, or None to write no values (a small image
            with its cell grid).
    """
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"show_matrix: expected a 2-D array, got shape {a.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * a.shape[1] + 0.6, 0.55 * a.shape[0] + 0.6))
    if groups is not None:
        groups = np.asarray(groups)
        palette = plt.get_cmap("Pastel1").colors
        rgb = np.ones(a.shape + (3,))
        for g in np.unique(groups[groups >= 0]):
            rgb[groups == g] = palette[int(g) % len(palette)]
        ax.imshow(rgb)
        dark = np.zeros(a.shape, dtype=bool)
    else:
        vmin = a.min() if vmin is None else vmin
        vmax = a.max() if vmax is None else vmax
        ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax)
        dark = (a - vmin) > 0.6 * (vmax - vmin) if vmax > vmin else np.zeros(a.shape, dtype=bool)
    if fmt is not None:
        for (i, j), v in np.ndenumerate(a):
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=fontsize,
                    color="white" if dark[i, j] else "black")
    # the cell grid as two line collections (minor ticks with a grid cost several times more to draw)
    ax.hlines(np.arange(a.shape[0] + 1) - 0.5, -0.5, a.shape[1] - 0.5, color="0.6", linewidth=0.8)
    ax.vlines(np.arange(a.shape[1] + 1) - 0.5, -0.5, a.shape[0] - 0.5, color="0.6", linewidth=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    if mark is not None:
        for i, j in zip(*np.nonzero(mark)):
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2.5))
    if title:
        ax.set_title(title, fontsize=10)
    return ax.figure


def plot_linear_circuit(x, w, b, dout, dx, dw, db, ax=None):
    """Computational graph of one output ``out = sum_i x[i] * w[i] + b`` (D inputs, D <= 4).

    The inputs are labeled x_0, ..., x_{D-1} and w_0, ..., w_{D-1} (indices from 0, as in the book).

    Forward values are written in green above each wire, gradients (given: ``dx``, ``dw``
    of shape (D,), scalar ``db``, upstream ``dout``) in red below it.
    """
    x, w, dx, dw = (np.asarray(v, dtype=float).ravel() for v in (x, w, dx, dw))
    D = len(x)
    if not 1 <= D <= 4 or len(w) != D:
        raise ValueError(f"plot_linear_circuit: need 1 to 4 inputs and as many weights, got {len(x)} and {len(w)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 1.3 * (2 * D + 1)))
    ys = [2.6 * (D - 1 - i) + 1.8 for i in range(D)]          # one multiply gate per input
    y_sum = (ys[0] + ys[-1]) / 2
    y_b = -0.2

    def wire(p, q, val, grad, side=1):
        """Arrow p -> q labeled 'value' (green) and 'gradient' (red) on one side of it."""
        ax.annotate("", xy=q, xytext=p, arrowprops=dict(arrowstyle="->", color="0.3", lw=1.2))
        mx, my = p[0] + 0.45 * (q[0] - p[0]), p[1] + 0.45 * (q[1] - p[1])
        box = dict(boxstyle="square,pad=0.1", fc="white", ec="none")
        my += 0.22 * side
        ax.text(mx - 0.04, my, f"{val:.2f}", color="tab:green", ha="right", va="center", fontsize=10, bbox=box)
        ax.text(mx + 0.04, my, f"{grad:.2f}", color="tab:red", ha="left", va="center", fontsize=10, bbox=box)

    def node(p, label, gate=False):
        ax.text(*p, label, ha="center", va="center", fontsize=12 if gate else 11,
                bbox=dict(boxstyle="circle" if gate else "round", fc="lightyellow" if gate else "white",
                          ec="0.3"))

    products = x * w
    out = products.sum() + b
    for i in range(D):
        node((0, ys[i] + 0.6), f"$x_{i}$")          # indices from 0, as in the book
        node((0, ys[i] - 0.6), f"$w_{i}$")
        node((2.2, ys[i]), r"$\times$", gate=True)
        wire((0.3, ys[i] + 0.6), (1.95, ys[i] + 0.08), x[i], dx[i], +1)
        wire((0.3, ys[i] - 0.6), (1.95, ys[i] - 0.08), w[i], dw[i], -1)
        wire((2.45, ys[i]), (4.25, y_sum + 0.1 * (ys[i] - y_sum)), products[i], dout, +1 if i == 0 else -1)
    node((0, y_b), "$b$")
    wire((0.3, y_b), (4.3, y_sum - 0.25), b, db, -1)
    node((4.5, y_sum), "$+$", gate=True)
    wire((4.75, y_sum), (6.6, y_sum), out, dout, +1)
    node((6.9, y_sum), "out")
    ax.text(0, ys[0] + 1.35, "on each wire: forward value (green), gradient of the loss (red)",
            fontsize=9, color="0.3")
    ax.set_xlim(-0.5, 7.4)
    ax.set_ylim(y_b - 0.8, ys[0] + 1.6)
    ax.axis("off")
    return ax.figure


# the batch-norm graph of chapter 6: node -> (position, forward label); edges; backward step per node
_BN_NODES = {
    "x": ((0.0, 1.0), "$x$"),
    "mu": ((1.8, 0.0), r"$\mu = \frac{1}{m}\sum_n x_n$"),
    "z": ((3.6, 1.0), r"$z = x - \mu$"),
    "v": ((5.4, 0.0), r"$v = \frac{1}{m}\sum_n z_n^2$"),
    "s": ((7.6, 0.0), r"$s = (v + \epsilon)^{-1/2}$"),
    "xhat": ((9.4, 1.0), r"$\hat x = z\,s$"),
    "y": ((11.8, 1.0), r"$y = \gamma\,\hat x + \beta$"),
}
_BN_EDGES = [("x", "z"), ("x", "mu"), ("mu", "z"), ("z", "xhat"), ("z", "v"), ("v", "s"), ("s", "xhat"),
             ("xhat", "y")]
_BN_BACKWARD = {   # node -> the backward step taken there (numbered as in chapter 6)
    "y": "1: $d\\beta = \\sum dy$, $d\\gamma = \\sum dy\\,\\hat x$\n$d\\hat x = \\gamma\\,dy$",
    "xhat": "2: $ds = \\sum d\\hat x\\,z$\n$dz = d\\hat x\\,s$ (first part)",
    "s": "3: $dv = -\\frac{1}{2}(v+\\epsilon)^{-3/2}\\,ds$",
    "v": "4: $dz \\leftarrow dz + \\frac{2z}{m}\\,dv$",
    "z": "5: $dx = dz$ (first part)\n$d\\mu = -\\sum dz$",
    "mu": "6: $dx \\leftarrow dx + \\frac{1}{m}\\,d\\mu$",
}


def _bn_anchor(a, b):
    """Where an arrow from node a to node b leaves a and enters b, as fractions of their boxes."""
    (ax_, ay), (bx, by) = _BN_NODES[a][0], _BN_NODES[b][0]
    if ay == by:
        return (1.0, 0.5), (0.0, 0.5)
    return ((0.5, 0.0), (0.5, 1.0)) if ay > by else ((0.5, 1.0), (0.5, 0.0))


def plot_batchnorm_graph(ax=None):
    """The training-mode batch-norm forward pass of one feature as a graph, with its backward steps.

    Forward: x -> mu -> z = x - mu -> v -> s -> xhat = z s -> y = gamma xhat + beta (arrows); next
    to each node, in red, the backward step taken there, numbered 1 (at y) to 6 (at mu), the order
    in which the backward pass visits the nodes. Sums run over the m values of the feature.
    Returns the Figure.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 3.4))
    box = dict(boxstyle="round,pad=0.35", fc="white", ec="0.3")
    artists = {}
    for key, ((px, py), label) in _BN_NODES.items():
        artists[key] = ax.text(px, py, label, ha="center", va="center", fontsize=11, bbox=box, zorder=3)
        top = py > 0.5
        ax.text(px, py + (0.36 if top else -0.36), _BN_BACKWARD.get(key, ""), ha="center",
                va="bottom" if top else "top", fontsize=9, color="tab:red", linespacing=1.6)
    for a, b in _BN_EDGES:
        start, end = _bn_anchor(a, b)
        ax.annotate("", xy=end, xycoords=artists[b], xytext=start, textcoords=artists[a],
                    arrowprops=dict(arrowstyle="->", color="0.3", lw=1.2, shrinkA=2, shrinkB=2))
    ax.text(-0.3, 2.25, "forward: arrows, for one feature with m values; backward: the red steps, from "
            "1 (at y) to 6 (at mu); a value used twice (x, z) adds up the gradients of both uses",
            fontsize=9, color="0.3", ha="left")
    ax.set_xlim(-0.5, 13.0)
    ax.set_ylim(-0.95, 2.4)
    ax.axis("off")
    return ax.figure


def _runs(indices):
    """Sorted ints -> list of half-open runs ``(a, b)`` of consecutive values."""
    runs = []
    for i in indices:
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    return [tuple(r) for r in runs]


def plot_conv_geometry(H, k, S=1, P=0, pos=(0, 0), ax=None):
    """A k x k window sliding with stride S over an H x H input zero-padded by P on each side.

    Left: the padded input (padding hatched) with the window that produces output ``pos``, and
    every padded row and column that no window reaches framed by a dashed blue line (gid
    ``"missed"``): the tail after the last window and, when k < S, the gaps between windows.
    Right: the output grid of size Ho x Ho, ``Ho = (H + 2P - k) // S + 1``, with ``pos`` marked.
    Returns the Figure (a message instead of a grid when the window does not fit).
    """
    Hp = H + 2 * P
    Ho = (Hp - k) // S + 1 if Hp >= k else 0
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(9, 4.2), gridspec_kw=dict(width_ratios=(Hp, max(Ho, 1) + 1)))
    else:
        fig = ax[0].figure
    a_in, a_out = ax
    for a in ax:
        a.set_aspect("equal")
        a.axis("off")
    for r in range(Hp):
        for c in range(Hp):
            pad = not (P <= r < P + H and P <= c < P + H)
            a_in.add_patch(plt.Rectangle((c, Hp - 1 - r), 1, 1, fc="0.92" if pad else "white", ec="0.6",
                                         hatch="//" if pad else None, lw=0.8))
    a_in.set_xlim(-0.2, Hp + 0.2)
    a_in.set_ylim(-0.2, Hp + 0.2)
    title = f"input {H}x{H}, padding {P} → {Hp}x{Hp}, kernel {k}x{k}, stride {S}"
    if Ho <= 0:
        a_in.set_title(title, fontsize=10)
        a_out.text(0.5, 0.5, f"kernel {k} does not fit\nin {Hp}x{Hp}: no output", ha="center", va="center",
                   transform=a_out.transAxes, fontsize=11, color="tab:red")
        return fig
    oy, ox = min(pos[0], Ho - 1), min(pos[1], Ho - 1)
    a_in.add_patch(plt.Rectangle((ox * S, Hp - oy * S - k), k, k, fc="tab:orange", alpha=0.35,
                                 ec="tab:red", lw=2.5))
    covered = np.zeros(Hp, dtype=bool)         # padded rows (and columns) some window reads
    for start in range(0, (Ho - 1) * S + 1, S):
        covered[start:start + k] = True
    missed = np.flatnonzero(~covered)
    for a, b in _runs(missed):                  # each run of missed rows, and of columns
        for xy, w, h in (((0, Hp - b), Hp, b - a), ((a, 0), b - a, Hp)):
            a_in.add_patch(plt.Rectangle(xy, w, h, fc=(0.12, 0.47, 0.71, 0.12), ec="tab:blue", lw=1.8, ls="--",
                                         gid="missed"))
    lost = [int(r) - P for r in missed if P <= r < P + H]
    if lost:
        title += f"\ndashed: never read; input rows/columns lost: {', '.join(map(str, lost))}"
    elif len(missed):
        title += "\ndashed: never read (padding only, no input lost)"
    a_in.set_title(title, fontsize=10)
    for r in range(Ho):
        for c in range(Ho):
            hit = (r, c) == (oy, ox)
            a_out.add_patch(plt.Rectangle((c, Ho - 1 - r), 1, 1, fc="tab:orange" if hit else "white",
                                          alpha=0.6 if hit else 1, ec="0.4", lw=0.8))
    a_out.set_xlim(-0.2, Ho + 0.8)
    a_out.set_ylim(-0.2, max(Ho, 1) + 0.2)
    a_out.set_title(f"output {Ho}x{Ho}\n⌊({H} + 2·{P} − {k})/{S}⌋ + 1 = {Ho}", fontsize=10)
    return fig


# --- chapters-a: figures added to chapters 3 and 4 (multi-channel convolution, rows of small matrices) ---

def show_matrix_row(mats, titles=None, marks=None, fmt="{:g}", cell=0.42, vmin=None, vmax=None,
                    cmap="Blues", fontsize=9):
    """Small 2-D arrays side by side, each drawn by :func:`show_matrix` at the same cell size.

    Args:
        mats: list of 2-D arrays (any sizes).
        titles: optional list of titles, one per array.
        marks: optional list of bool arrays (or None), one per array: cells with a thick border.
        vmin, vmax: one color scale shared by all panels (default: each panel its own).
    Returns:
        the Figure.
    """
    mats = [np.asarray(m) for m in mats]
    if not mats or any(m.ndim != 2 for m in mats):
        raise ValueError(f"show_matrix_row: expected a list of 2-D arrays, got shapes {[m.shape for m in mats]}")
    titles = titles or [None] * len(mats)
    marks = marks or [None] * len(mats)
    if len(titles) != len(mats) or len(marks) != len(mats):
        raise ValueError(f"show_matrix_row: {len(mats)} arrays but {len(titles)} titles and {len(marks)} marks")
    widths = [m.shape[1] for m in mats]
    height = max(m.shape[0] for m in mats)
    fig, axes = plt.subplots(1, len(mats), figsize=(cell * (sum(widths) + 1.2 * len(mats)), cell * height + 0.9),
                             gridspec_kw=dict(width_ratios=widths), squeeze=False)
    for ax, m, t, mk in zip(axes[0], mats, titles, marks):
        show_matrix(m, ax=ax, title=t, mark=mk, fmt=fmt, vmin=vmin, vmax=vmax, cmap=cmap, fontsize=fontsize)
    return fig


def plot_conv_channels(C=3, F=2, H=5, k=3, S=1, pos=(1, 1), f=0, ax=None):
    """What one output pixel of a multi-channel convolution sums over (no padding).

    Left: the C input channels (H x H each), with the k x k window of output ``pos`` marked
    in every channel; middle: the C kernels W[f, c] of filter ``f``; right: the F output
    channels, with pixel ``pos`` of channel ``f`` marked. Each input channel is multiplied by
    its own kernel and the C products are summed (plus the bias b_f) into one number.
    Returns the Figure.
    """
    Ho = (H - k) // S + 1
    if Ho < 1 or not (0 <= pos[0] < Ho and 0 <= pos[1] < Ho) or not 0 <= f < F or C < 1:
        raise ValueError(f"plot_conv_channels: need k <= H, 0 <= pos < {max(Ho, 0)} and 0 <= f < F; "
                         f"got C={C}, F={F}, H={H}, k={k}, S={S}, pos={pos}, f={f}")
    if ax is None:
        width = H + k + Ho + 12.0
        height = C * (H + 1.6) + 2.5
        _, ax = plt.subplots(figsize=(0.32 * width, 0.32 * height))
    fig = ax.figure
    gap = H + 1.6                                     # vertical distance between channels
    colors = plt.get_cmap("tab10").colors
    i, j = pos

    def grid(x0, y0, n, fc="white", ec="0.55"):
        for r in range(n):
            for c in range(n):
                ax.add_patch(plt.Rectangle((x0 + c, y0 - r - 1), 1, 1, fc=fc, ec=ec, lw=0.7))

    xk = H + 4.0                                      # kernels
    xs = xk + k + 3.5                                 # the sum
    xo = xs + 3.0                                     # outputs
    top = 0.0
    ys = -((C - 1) * gap + H) / 2                     # vertical middle of the stack
    for c in range(C):
        y0 = top - c * gap
        grid(0, y0, H)
        ax.add_patch(plt.Rectangle((j * S, y0 - i * S - k), k, k, fc="tab:orange", alpha=0.45,
                                   ec="tab:red", lw=2))
        ax.text(-0.4, y0 - H / 2, f"c={c}", ha="right", va="center", fontsize=9)
        yk = y0 - i * S - k / 2 + k / 2              # kernel aligned with the window
        grid(xk, yk, k, fc=colors[f % 10], ec="0.3")
        for patch in ax.patches[-k * k:]:
            patch.set_alpha(0.45)
        ax.annotate("", xy=(xk - 0.15, yk - k / 2), xytext=(j * S + k + 0.15, y0 - i * S - k / 2),
                    arrowprops=dict(arrowstyle="-", color="tab:red", lw=1, ls=":"))
        ax.annotate("", xy=(xs - 0.45, ys), xytext=(xk + k + 0.15, yk - k / 2),
                    arrowprops=dict(arrowstyle="->", color="0.3", lw=1))
        ax.text(xk + k / 2, yk + 0.25, f"W[{f},{c}]", ha="center", va="bottom", fontsize=8)
    ax.text(xs, ys, r"$\Sigma$", ha="center", va="center", fontsize=15,
            bbox=dict(boxstyle="circle", fc="lightyellow", ec="0.3"))
    ax.text(xs, ys - 1.1, f"+ b[{f}]", ha="center", va="top", fontsize=9)
    for g in range(F - 1, -1, -1):                    # output channels, stacked (f in front)
        off = 0.6 * (g - f) if g >= f else 0.6 * (F - f + g)
        x0, y0 = xo + off, ys + Ho / 2 + off
        for r in range(Ho):
            for c in range(Ho):
                hit = g == f and (r, c) == (i, j)
                ax.add_patch(plt.Rectangle((x0 + c, y0 - r - 1), 1, 1, lw=0.7, ec="0.55",
                                           fc="tab:orange" if hit else ("white" if g == f else "0.93")))
    ax.annotate("", xy=(xo - 0.1, ys), xytext=(xs + 0.45, ys), arrowprops=dict(arrowstyle="->", color="0.3"))
    ax.text(xo + Ho / 2, ys - Ho / 2 - 0.5,
            f"output: F={F} channels\nmarked: out[n, {f}, {i}, {j}]\n= b[{f}] + a sum of\n{C}·{k}·{k} = {C * k * k} products",
            ha="center", va="top", fontsize=9)
    ax.text(H / 2, top + 0.6, f"input x[n]\nC={C} channels {H}x{H}", ha="center", va="bottom", fontsize=9)
    ax.text(xk + k / 2, top + 0.6, f"filter f={f}\n{C} kernels {k}x{k}", ha="center", va="bottom", fontsize=9)
    ax.set_xlim(-1.6, xo + Ho + 0.6 * F + 0.5)
    ax.set_ylim(top - (C - 1) * gap - H - 1.2, top + 2.4)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig
