"""The book's widgets (nnbook.widgets) and chapter 1, 3 and 4 figures (nnbook.plotting): they compute the
right thing, and every control redraws without error."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nnbook import functional as F  # noqa: E402
from nnbook import plotting, widgets  # noqa: E402
from nnbook.data import load_photo, make_spirals  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def photo():
    return load_photo(gray=True, size=60)          # (60, 51)


def test_spiral_figure_learns_and_survives_divergence():
    X, y = make_spirals(60, 3, noise=0.2, seed=0)
    _, history = widgets.spiral_figure(X, y, hidden=64, lr=1.0, steps=500)
    assert history["accuracy"][-1] > 0.9
    assert history["loss"][-1] < history["loss"][0]
    fig, history = widgets.spiral_figure(X, y, hidden=64, lr=1e6, steps=50)   # diverges
    assert fig is not None
    assert history is None or not history["loss"][-1] < history["loss"][0]


def test_filter_image_identity_and_errors(photo):
    assert np.allclose(widgets.filter_image(photo, widgets.KERNELS["identity"]), photo)
    box = widgets.filter_image(np.ones((5, 5)), widgets.KERNELS["box blur"])
    assert np.allclose(box[1:-1, 1:-1], 1.0) and np.isclose(box[0, 0], 4 / 9)   # zero padding at corners
    with pytest.raises(ValueError, match="odd kernel"):
        widgets.filter_image(photo, np.ones((2, 2)))


def test_pool_image_matches_functional(photo):
    x = photo[None, None]
    assert np.array_equal(widgets.pool_image(photo, "max", 3), F.maxpool2d_forward(x, 3)[0][0, 0])
    assert np.allclose(widgets.pool_image(photo, "mean", 4, 2), F.avgpool2d_forward(x, 4, 2)[0][0, 0])
    with pytest.raises(ValueError, match="kind"):
        widgets.pool_image(photo, "median")


@pytest.mark.parametrize("make, changes", [
    (lambda img: widgets.spiral_playground(steps=20), {"hidden": 4, "learning rate": 0.1}),
    (lambda img: widgets.kernel_playground(img), {"preset": "sharpen"}),
    (lambda img: widgets.conv_geometry_playground(),
     {"input H": 9, "kernel k": 5, "stride S": 3, "padding P": 0, "output position": 3}),
    (lambda img: widgets.pooling_playground(img), {"pooling": "mean", "window": 5, "stride = window": False}),
])
def test_playground_controls_redraw(photo, make, changes):
    box = make(photo)
    controls = {}
    stack = [box]
    while stack:
        w = stack.pop()
        stack.extend(getattr(w, "children", ()))
        if getattr(w, "description", None):
            controls[w.description] = w
    for name, value in changes.items():
        assert name in controls, f"no control named {name!r}: {sorted(controls)}"
        controls[name].value = value            # runs the redraw callback
        assert controls[name].value == value


def test_kernel_playground_loads_preset(photo):
    box = widgets.kernel_playground(photo)
    preset = box.children[0].children[0]
    grid = box.children[0].children[2]
    preset.value = "vertical edges (Sobel x)"
    values = np.array([c.value for c in grid.children]).reshape(3, 3)
    assert np.allclose(values, widgets.KERNELS["vertical edges (Sobel x)"])


def test_conv_geometry_output_size_in_title():
    fig = plotting.plot_conv_geometry(H=6, k=3, S=2, P=1, pos=(1, 2))
    titles = " ".join(ax.get_title() for ax in fig.axes)
    assert "output 3x3" in titles                  # floor((6 + 2 - 3) / 2) + 1 = 3
    fig = plotting.plot_conv_geometry(H=2, k=5, S=1, P=0)
    assert any("does not fit" in t.get_text() for ax in fig.axes for t in ax.texts)


def test_show_matrix_writes_every_value():
    a = np.arange(6.0).reshape(2, 3)
    fig = plotting.show_matrix(a, groups=np.array([[0, 0, 1], [0, 0, 1]]), mark=a > 4)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["0", "1", "2", "3", "4", "5"]
    with pytest.raises(ValueError, match="2-D"):
        plotting.show_matrix(np.zeros(3))


def test_linear_circuit_labels():
    fig = plotting.plot_linear_circuit([1.0, -2.0], [0.5, 0.25], 0.1, 2.0, [1.0, 0.5], [2.0, -4.0], 2.0)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"1.00", "-2.00", "0.50", "-4.00", "0.10", "2.00"} <= texts
    assert {"$x_0$", "$x_1$", "$w_0$", "$w_1$"} <= texts and "$x_2$" not in texts   # indices from 0
    with pytest.raises(ValueError):
        plotting.plot_linear_circuit([1.0] * 5, [1.0] * 5, 0, 1, [1.0] * 5, [1.0] * 5, 1)


def test_pooling_stride_follows_window_when_tied(photo):
    box = widgets.pooling_playground(photo)
    size, stride, same = box.children[1].children
    size.value = 6
    assert stride.value == 6 and stride.disabled
    same.value = False
    stride.value = 2
    assert size.value == 6 and stride.value == 2 and not stride.disabled


def _dashed(fig):
    """Padded rows and columns framed as missed in plot_conv_geometry's input panel."""
    rows, cols = set(), set()
    a_in = fig.axes[0]
    Hp = round(a_in.get_xlim()[1] - 0.2)
    for p in a_in.patches:
        if p.get_gid() != "missed":
            continue
        (x, y), w, h = p.get_xy(), p.get_width(), p.get_height()
        if w == Hp and h < Hp:                      # a band of rows
            rows |= {Hp - 1 - r for r in range(round(y), round(y + h))}
        else:                                       # a band of columns
            cols |= set(range(round(x), round(x + w)))
    return rows, cols


@pytest.mark.parametrize("H", [2, 4, 5, 7])
def test_conv_geometry_dashes_every_row_no_window_reads(H):
    """Tails and gaps: the dashed rows are exactly the padded rows no window covers, and the
    input rows among them are exactly those that get no gradient in conv2d_backward."""
    for k in range(1, 5):
        for S in range(1, 5):
            for P in range(0, 3):
                if H + 2 * P < k:
                    continue
                fig = plotting.plot_conv_geometry(H, k, S, P)
                rows, cols = _dashed(fig)
                Ho = (H + 2 * P - k) // S + 1
                read = {i * S + u for i in range(Ho) for u in range(k)}
                assert rows == cols == set(range(H + 2 * P)) - read, (H, k, S, P)
                _, cache = F.conv2d_forward(np.ones((1, 1, H, H)), np.ones((1, 1, k, k)), None, stride=S, padding=P)
                dx, _, _ = F.conv2d_backward(np.ones((1, 1, Ho, Ho)), cache)
                no_gradient = {h + P for h in range(H) if not dx[0, 0, h].any()}
                assert {r for r in rows if P <= r < P + H} == no_gradient, (H, k, S, P)
                plt.close(fig)


def test_conv_geometry_names_the_lost_rows():
    # the review's case: H=4, k=2, S=3, P=2 reads padded rows 0-1, 3-4, 6-7 and misses input rows 0 and 3
    title = plotting.plot_conv_geometry(4, 2, 3, 2).axes[0].get_title()
    assert "input rows/columns lost: 0, 3" in title
    assert "padding only" in plotting.plot_conv_geometry(6, 3, 2, 1).axes[0].get_title()
    assert "dashed" not in plotting.plot_conv_geometry(5, 3, 1, 1).axes[0].get_title()


def test_kernel_figure_scale_follows_the_kernel_sum(photo):
    identity = np.array(widgets.KERNELS["identity"], dtype=float)
    scales = {}
    for name, k in (("identity", identity), ("twice", 2 * identity), ("minus", -identity),
                    ("sobel", widgets.KERNELS["vertical edges (Sobel x)"])):
        fig = widgets.kernel_figure(photo, k)
        scales[name] = (fig.axes[2].images[0].get_clim(), fig.axes[2].get_title())
    # every kernel with a non-zero sum is drawn on the photo's scale [0, 1]: twice the identity
    # is brighter (and clipped where the photo is above 0.5), not the same picture as the identity
    assert scales["identity"][0] == scales["twice"][0] == scales["minus"][0] == (0.0, 1.0)
    assert "0% clipped" in scales["identity"][1]
    twice_clipped = np.mean(2 * photo > 1)
    assert twice_clipped > 0.1 and f"{twice_clipped:.0%} clipped" in scales["twice"][1]
    lo, hi = scales["sobel"][0]
    assert lo == -hi and hi > 0 and "gray = 0" in scales["sobel"][1]


def test_show_matrix_without_values_draws_only_the_grid():
    fig = plotting.show_matrix(np.arange(6.0).reshape(2, 3), fmt=None)
    ax = fig.axes[0]
    assert len(ax.texts) == 0 and len(ax.images) == 1
    hlines, vlines = ax.collections                     # 3 row borders, 4 column borders
    assert len(hlines.get_segments()) == 3 and len(vlines.get_segments()) == 4
