"""Chapter 8 widgets (nnbook.widgets.putting_it_together): filter responses, top patches, the figure
and the playground's controls."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nnbook import widgets  # noqa: E402
from nnbook import naive  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture()
def data():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((5, 1, 3, 3))
    images = rng.random((7, 1, 6, 5))
    labels = np.arange(7) % 10
    return W, images, labels


def test_filter_responses_are_padded_dot_products(data):
    W, images, _ = data
    out = widgets.filter_responses(W, images)
    assert out.shape == (7, 5, 6, 5)
    padded = np.pad(images[:, 0], ((0, 0), (1, 1), (1, 1)))
    for n, f, i, j in [(0, 0, 0, 0), (3, 2, 5, 4), (6, 4, 2, 3)]:
        assert np.isclose(out[n, f, i, j], (W[f, 0] * padded[n, i:i + 3, j:j + 3]).sum())
    ref, _ = naive.conv2d_forward(images, W, np.zeros(5), stride=1, padding=1)
    assert np.allclose(out, ref)


def test_top_patches_are_the_largest_responses(data):
    W, images, _ = data
    f, k = 2, 6
    patches, scores, positions = widgets.top_patches(W, images, f, k)
    assert patches.shape == (k, 3, 3) and scores.shape == (k,) and positions.shape == (k, 3)
    resp = widgets.filter_responses(W, images)[:, f]
    assert np.allclose(scores, np.sort(resp.ravel())[::-1][:k])          # the k largest, in order
    assert np.allclose(scores, (patches * W[f, 0]).sum(axis=(1, 2)))      # each is <w, patch>
    for (n, i, j), s in zip(positions, scores):
        assert np.isclose(resp[n, i, j], s)


def test_top_patch_of_a_planted_template():
    """An image holding the filter's positive pattern gives the best patch exactly there."""
    w = np.array([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])   # a horizontal bar
    images = np.zeros((2, 1, 7, 7))
    images[1, 0, 4, 1:4] = 1.0                                              # bar centered at (4, 2)
    patches, scores, positions = widgets.top_patches(w[None, None], images, 0, 1)
    assert tuple(positions[0]) == (1, 4, 2) and np.isclose(scores[0], 3.0)
    assert np.array_equal(patches[0], (w > 0).astype(float))


def test_errors(data):
    W, images, _ = data
    with pytest.raises(ValueError, match=r"filter_responses: expected first-layer filters W of shape \(F, 1, k, k\)"):
        widgets.filter_responses(np.zeros((2, 3, 3, 3)), images)
    with pytest.raises(ValueError, match="odd k"):
        widgets.filter_responses(np.zeros((2, 1, 2, 2)), images)
    with pytest.raises(ValueError, match=r"top_patches: expected gray images of shape \(N, 1, H, W\)"):
        widgets.top_patches(W, images[:, 0], 0)
    with pytest.raises(ValueError, match=r"top_patches: f must be a filter index in \[0, 5\)"):
        widgets.top_patches(W, images, 5)
    with pytest.raises(ValueError, match="top_patches: k must be in"):
        widgets.top_patches(W, images, 0, k=0)


def test_filter_figure_draws_weights_patches_and_maps(data):
    W, images, labels = data
    fig = widgets.filter_figure(W, images, labels, 1, k=4, image_indices=(0, 2, 3))
    (ax,) = fig.axes                                         # one axes holds the grid of pictures
    titles = [t.get_text() for t in ax.texts]
    patches, scores, _ = widgets.top_patches(W, images, 1, 4)
    assert titles[:2] == ["filter 1", "mean of top 4"] and titles[2:6] == [f"{s:.2f}" for s in scores]
    assert titles[6:] == ["image 0: 0", "image 2: 2", "image 3: 3"] + ["response"] * 3
    drawn = [im.get_array() for im in ax.images]
    assert len(drawn) == 2 + 4 + 3 + 3
    assert np.allclose(drawn[0], W[1, 0]) and np.allclose(drawn[1], patches.mean(axis=0))
    assert np.allclose(drawn[6], images[0, 0])
    resp = widgets.filter_responses(W[1:2], images[[0, 2, 3]])[:, 0]
    assert np.allclose(drawn[9], resp[0]) and np.allclose(drawn[11], resp[2])
    # every picture in its own cell of the grid: no two overlap
    boxes = [im.get_extent() for im in ax.images]            # (left, right, bottom, top), top < bottom
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[1] <= b[0] or b[1] <= a[0] or a[2] <= b[3] or b[2] <= a[3]


def test_playground_controls_redraw(data):
    W, images, labels = data
    box = widgets.filter_playground(W, images, labels, k=3, n_images=4)
    controls = {w.description: w for w in box.children[0].children}
    out = box.children[1]
    assert set(controls) == {"filter", "first image"}
    assert controls["filter"].max == 4 and controls["first image"].max == 3
    before = len(out.outputs)
    for name, value in {"filter": 3, "first image": 2}.items():
        controls[name].value = value                       # runs the redraw callback
        assert controls[name].value == value
    assert len(out.outputs) >= before
