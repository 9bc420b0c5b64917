"""Chapter 2 widgets: an optimizer race on a 2-D loss surface, and an initialization explorer.

- :func:`run_optimizer` moves one 2-D point with an :mod:`nnbook.optim` optimizer (the same
  classes that train the book's networks) and records its path and loss;
  :func:`race_figure` / :func:`race_playground` race several of them.
- :func:`init_activations` pushes a batch through a deep MLP initialized by
  :mod:`nnbook.init`; :func:`init_figure` / :func:`init_playground` show the histograms per layer.
"""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .. import init as nninit
from ..layers.base import Module
from ..optim import SGD, Adam, RMSProp
from ._base import _redraw, site_states


# --- 2-D loss surfaces ----------------------------------------------------------------------------

def _bowl(h, angle):
    """``f(p) = 0.5 * p^T A p`` with eigenvalues ``h`` along axes rotated by ``angle``."""
    c, s = np.cos(angle), np.sin(angle)
    R = np.array([[c, -s], [s, c]])
    A = R @ np.diag(h) @ R.T

    def f(P):
        P = np.asarray(P, dtype=np.float64)
        return 0.5 * np.einsum("...i,ij,...j->...", P, A, P)

    return f, lambda p: A @ p, A


def _banana():
    """A scaled Rosenbrock function ``(1 - x)^2 + 5 (y - x^2)^2``, minimum 0 at (1, 1)."""
    def f(P):
        P = np.asarray(P, dtype=np.float64)
        x, y = P[..., 0], P[..., 1]
        return (1 - x) ** 2 + 5 * (y - x ** 2) ** 2

    def grad(p):
        x, y = p
        return np.array([-2 * (1 - x) - 20 * x * (y - x ** 2), 10 * (y - x ** 2)])

    return f, grad, None


def _surfaces():
    bowl = _bowl((1.0, 20.0), 0.0)
    rotated = _bowl((1.0, 20.0), np.pi / 4)
    banana = _banana()
    # name: (f, grad, Hessian or None, start, x range, y range, minimum)
    return {
        "ill-conditioned bowl": (*bowl, (-4.5, 1.5), (-5, 5), (-2, 2), (0.0, 0.0)),
        "rotated bowl": (*rotated, (-4.0, -2.0), (-5, 5), (-4, 4), (0.0, 0.0)),
        "banana (Rosenbrock)": (*banana, (-1.5, 2.0), (-2, 2), (-1, 3), (1.0, 1.0)),
    }


SURFACES = _surfaces()
"""``{name: (f, grad, hessian, start, xlim, ylim, minimum)}``: ``f`` takes points (..., 2), ``grad`` one
point (2,); ``hessian`` is the constant matrix (2, 2) of the quadratic bowls (None for the banana)."""

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
COLORS = {"sgd": "C0", "momentum": "C1", "rmsprop": "C2", "adam": "C3"}


class Point(Module):
    """A "model" whose only parameter is a point ``params["p"]`` of shape (2,), so that the
    optimizers of :mod:`nnbook.optim` can move it. Set ``grads["p"]`` and call ``opt.step()``."""

    def __init__(self, p):
        super().__init__()
        self.params["p"] = np.array(p, dtype=np.float64).reshape(2)
        self.zero_grad()


def make_optimizer(name, model, lr, momentum=0.9, betas=(0.9, 0.999), alpha=0.99):
    """An :mod:`nnbook.optim` optimizer by name: ``"sgd"`` (plain), ``"momentum"`` (SGD with
    ``momentum``), ``"rmsprop"`` (``alpha``) or ``"adam"`` (``betas``)."""
    if name == "sgd":
        return SGD(model, lr=lr)
    if name == "momentum":
        return SGD(model, lr=lr, momentum=momentum)
    if name == "rmsprop":
        return RMSProp(model, lr=lr, alpha=alpha)
    if name == "adam":
        return Adam(model, lr=lr, betas=betas)
    raise ValueError(f"make_optimizer: name must be one of {list(OPTIMIZERS)}, got {name!r}")


def run_optimizer(surface, name, lr, steps=60, momentum=0.9, betas=(0.9, 0.999), start=None):
    """Minimize a 2-D surface from ``start`` with one optimizer.

    Args:
        surface: a key of :data:`SURFACES`; name: a key of :data:`OPTIMIZERS`.
        lr, momentum, betas: the optimizer's settings (see :func:`make_optimizer`).
        steps: number of optimizer steps; start: (2,) starting point (default: the surface's).
    Returns:
        path (steps + 1, 2) and losses (steps + 1,); if the point runs off to inf/NaN, both stop
        at the last finite point (shorter arrays).
    """
    if surface not in SURFACES:
        raise ValueError(f"run_optimizer: surface must be one of {list(SURFACES)}, got {surface!r}")
    f, grad, _, default_start, *_ = SURFACES[surface]
    point = Point(default_start if start is None else start)
    opt = make_optimizer(name, point, lr, momentum, betas)
    path = [point.params["p"].copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            point.grads["p"] = grad(point.params["p"])
            opt.step()
            p = point.params["p"]
            if not np.all(np.isfinite(p)) or np.abs(p).max() > 1e6 or not np.isfinite(f(p)):
                break
            path.append(p.copy())
    path = np.array(path)
    return path, f(path)


def race_figure(surface="ill-conditioned bowl", optimizers=OPTIMIZERS, lr=0.05, adaptive_lr=0.3,
                momentum=0.9, beta1=0.9, beta2=0.999, steps=60):
    """Trajectories on the contour plot of ``surface`` (left) and the loss per step (right).

    ``lr`` is the learning rate of SGD and momentum, ``adaptive_lr`` that of RMSProp and Adam
    (their steps have a natural size in parameter units, so they want other values).
    Returns:
        fig, runs: ``{optimizer name: (path (T, 2), losses (T,))}``.
    """
    f, _, _, start, xlim, ylim, minimum = SURFACES[surface]
    runs = {}
    for name in optimizers:
        rate = adaptive_lr if name in ("rmsprop", "adam") else lr
        runs[name] = run_optimizer(surface, name, rate, steps, momentum, (beta1, beta2))
    fig, (ax_s, ax_l) = plt.subplots(1, 2, figsize=(10.5, 4), gridspec_kw=dict(width_ratios=(1.35, 1)))
    gx, gy = np.meshgrid(np.linspace(*xlim, 120), np.linspace(*ylim, 100))
    Z = f(np.stack([gx, gy], axis=-1))
    ax_s.contour(gx, gy, np.log10(Z + 1e-3), levels=20, cmap="Greys", linewidths=0.7)
    ax_s.plot(*minimum, "k*", markersize=10)
    ax_s.plot(*start, "ko", markersize=5)
    for name, (path, losses) in runs.items():
        rate = adaptive_lr if name in ("rmsprop", "adam") else lr
        diverged = len(path) < steps + 1
        label = f"{name} (lr {rate:g}){': diverged' if diverged else ''}"
        ax_s.plot(path[:, 0], path[:, 1], "-o", color=COLORS[name], markersize=2, linewidth=1.2, label=label)
        ax_l.plot(np.arange(len(losses)), np.maximum(losses, 1e-12), color=COLORS[name],
                  label=f"{name}: final {losses[-1]:.2g}" + (" (diverged)" if diverged else ""))
    ax_s.set_xlim(xlim)
    ax_s.set_ylim(ylim)
    ax_s.set_title(f"{surface}: {steps} steps from the black dot", fontsize=10)
    if not runs:
        ax_l.text(0.5, 0.5, "choose at least one optimizer", ha="center", va="center",
                  transform=ax_l.transAxes)
    else:
        ax_s.legend(fontsize=8, loc="lower right")
        ax_l.legend(fontsize=8)
    ax_l.set_yscale("log")
    ax_l.set_xlabel("step")
    ax_l.set_ylabel("loss")
    ax_l.set_title("loss per step", fontsize=10)
    ax_l.grid(alpha=0.3, which="both")
    fig.subplots_adjust(left=0.06, right=0.98, top=0.92, bottom=0.12, wspace=0.18)
    return fig, runs


def race_playground(steps=60):
    """Surface, optimizers and their settings; redraws :func:`race_figure` (60 steps, a few ms each)."""
    style = {"description_width": "initial"}
    lrs = [0.001, 0.003, 0.01, 0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.5, 1.0]
    lr = widgets.SelectionSlider(options=lrs, value=0.05, description="SGD / momentum lr",
                                 continuous_update=False, style=style)
    adaptive_lr = widgets.SelectionSlider(options=lrs, value=0.2, description="RMSProp / Adam lr",
                                          continuous_update=False, style=style)
    momentum = widgets.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="momentum",
                                   continuous_update=False, style=style)
    beta1 = widgets.SelectionSlider(options=[0.0, 0.5, 0.8, 0.9, 0.95, 0.99], value=0.9,
                                    description="Adam β1", continuous_update=False, style=style)
    beta2 = widgets.SelectionSlider(options=[0.9, 0.99, 0.999], value=0.999,
                                    description="Adam β2", continuous_update=False, style=style)
    surface = widgets.Dropdown(options=list(SURFACES), value="ill-conditioned bowl", description="surface")
    chosen = widgets.SelectMultiple(options=list(OPTIMIZERS), value=OPTIMIZERS, description="optimizers",
                                    rows=4)
    out = widgets.Output()

    def update(_=None):
        _redraw(out, lambda: race_figure(surface.value, chosen.value, lr.value, adaptive_lr.value,
                                         momentum.value, beta1.value, beta2.value, steps))

    for w in (lr, adaptive_lr, momentum, beta1, beta2, surface, chosen):
        w.observe(update, "value")
    update()
    box = widgets.VBox([widgets.HBox([widgets.VBox([lr, adaptive_lr, momentum, beta1, beta2]),
                                      widgets.VBox([surface, chosen])]), out])
    # The website: on each surface, one setting at a time away from the defaults (each optimizer's
    # path depends on its own settings only), including the values section 2.9 suggests.
    # (60 states of about 40 KB: keep chapter 2's pictures near 3 MB.)
    site_lrs = [0.01, 0.05, 0.1, 0.12, 0.2, 0.5]
    return site_states(box, grid=("surface",), values={
        "SGD / momentum lr": site_lrs, "RMSProp / Adam lr": site_lrs,
        "momentum": [0.0, 0.5, 0.9, 0.99], "Adam β1": [0.0, 0.9, 0.99],
        "optimizers": [OPTIMIZERS, ("sgd", "momentum"), ("rmsprop", "adam")]},
        note="There the optimizers can be any subset, and the rates and momentum any value.")


# --- initialization explorer ------------------------------------------------------------------------

INIT_SCHEMES = ("std 0.01", "std 1", "xavier", "he")


def init_weights(scheme, fan_in, fan_out, rng):
    """A (fan_in, fan_out) weight matrix: ``"std 0.01"``, ``"std 1"`` (:func:`nnbook.init.normal`),
    ``"xavier"`` or ``"he"`` (:func:`nnbook.init.xavier_normal`, :func:`nnbook.init.he_normal`)."""
    shape = (fan_in, fan_out)
    if scheme == "std 0.01":
        return nninit.normal(shape, 0.01, rng)
    if scheme == "std 1":
        return nninit.normal(shape, 1.0, rng)
    if scheme == "xavier":
        return nninit.xavier_normal(shape, rng)
    if scheme == "he":
        return nninit.he_normal(shape, rng)
    raise ValueError(f"init_weights: scheme must be one of {list(INIT_SCHEMES)}, got {scheme!r}")


def init_activations(depth, scheme, width=256, n=512, activation="relu", seed=0):
    """Pre-activations ``z_l = a_{l-1} W_l`` of a deep MLP without biases, for a random batch.

    ``a_0`` is standard normal of shape (n, width); ``a_l = act(z_l)`` with ``act`` ReLU or tanh;
    every ``W_l`` (width, width) comes from :func:`init_weights`, drawn from one seeded generator.
    Returns:
        list of ``depth`` arrays of shape (n, width): z_1 ... z_depth.
    """
    if activation not in ("relu", "tanh"):
        raise ValueError(f"init_activations: activation must be 'relu' or 'tanh', got {activation!r}")
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, width))
    zs = []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(depth):
            z = a @ init_weights(scheme, width, width, rng)
            zs.append(z)
            a = np.maximum(z, 0) if activation == "relu" else np.tanh(z)
    return zs


def init_figure(depth=10, scheme="he", activation="relu", width=256, n=512, seed=0, panels=5):
    """Histograms of the pre-activations of ``panels`` layers (top) and their std per layer (bottom).

    The histograms share the x axis of layer 1, so shrinking or exploding activations show as a
    spike or an empty panel; each title gives the layer's std.
    Returns:
        fig, stds: array (depth,) of the std of z_1 ... z_depth.
    """
    zs = init_activations(depth, scheme, width, n, activation, seed)
    stds = np.array([z.std() for z in zs])
    shown = np.unique(np.linspace(0, depth - 1, min(panels, depth)).round().astype(int))
    fig = plt.figure(figsize=(10.5, 5))
    grid = fig.add_gridspec(2, len(shown), height_ratios=(1, 1.1))
    edge = 4 * stds[0]
    bins = np.linspace(-edge, edge, 41)
    for k, layer in enumerate(shown):
        ax = fig.add_subplot(grid[0, k])
        z = zs[layer].ravel()
        inside = np.isfinite(z) & (np.abs(z) <= edge)
        counts, _ = np.histogram(z[inside], bins=bins)
        ax.stairs(counts, bins, fill=True, color="C0")
        ax.set_yticks([])
        ax.set_title(f"layer {layer + 1}: std {stds[layer]:.2g}", fontsize=9)
        if inside.mean() < 0.99:
            ax.text(0.5, 0.8, f"{1 - inside.mean():.1%} outside", transform=ax.transAxes, ha="center",
                    fontsize=8, color="tab:red")
    ax = fig.add_subplot(grid[1, :])
    finite = stds[np.isfinite(stds) & (stds > 0)]
    ax.plot(np.arange(1, depth + 1), np.where(np.isfinite(stds), stds, np.nan), "o-")
    if len(finite) and finite.max() > 10 * finite.min():
        ax.set_yscale("log")                     # shrinking or exploding: a log axis shows the factor
    else:
        ax.set_ylim(0, 1.2 * finite.max() if len(finite) else 1)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("layer")
    ax.set_ylabel("std of z")
    ax.set_title(f"{depth} layers of width {width}, {activation}, init {scheme!r}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    fig.subplots_adjust(left=0.09, right=0.98, top=0.94, bottom=0.1, hspace=0.35, wspace=0.08)
    return fig, stds


def init_playground(width=256, n=512):
    """Depth, init scheme and activation; redraws :func:`init_figure`."""
    style = {"description_width": "initial"}
    depth = widgets.IntSlider(value=10, min=2, max=40, description="depth", continuous_update=False, style=style)
    scheme = widgets.Dropdown(options=list(INIT_SCHEMES), value="he", description="init")
    activation = widgets.ToggleButtons(options=["relu", "tanh"], value="relu", description="activation")
    out = widgets.Output()

    def update(_=None):
        _redraw(out, lambda: init_figure(depth.value, scheme.value, activation.value, width, n))

    for w in (depth, scheme, activation):
        w.observe(update, "value")
    update()
    # The website: every scheme and activation at depths 2 to 40.
    return site_states(widgets.VBox([widgets.HBox([depth, scheme]), activation, out]), grid="all",
                       values={"depth": [2, 5, 10, 20, 40]})
