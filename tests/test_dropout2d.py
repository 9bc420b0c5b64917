"""Channel (spatial) dropout: ``functional.dropout2d_forward/backward`` and ``layers.Dropout2d``.

Values (whole channels kept or dropped, 1/q scaling, eval identity), numerical gradient checks in
float64, the layer against the functional pair, clear errors, and PyTorch's ``dropout2d``.
"""
import re

import numpy as np
import pytest

from nnbook import functional as F
from nnbook import layers as L
from nnbook.gradcheck import check_layer, rel_error

from helpers import GRAD_TOL, check_pair_gradients, rand


def _channel_pattern(out, x, q):
    """For every (n, c): True if the channel is kept (out == x / q), False if dropped (out == 0)."""
    kept = np.all(np.isclose(out, x / q, rtol=1e-12, atol=0), axis=(2, 3))
    dropped = np.all(out == 0, axis=(2, 3))
    assert np.all(kept ^ dropped), "some channel is neither fully kept nor fully dropped"
    return kept


def test_whole_channels_are_kept_or_dropped_and_scaled():
    rng = np.random.default_rng(0)
    x = rand(rng, 40, 50, 3, 4) + 5.0            # no zeros in x, so a zero means "dropped"
    p = 0.3
    out, (mask, shape) = F.dropout2d_forward(x, p, rng=np.random.default_rng(1))
    assert mask.shape == (40, 50, 1, 1) and shape == x.shape
    kept = _channel_pattern(out, x, 1 - p)
    # 2000 channel draws: the dropped fraction is within 5 standard deviations of p
    assert abs((~kept).mean() - p) < 5 * np.sqrt(p * (1 - p) / kept.size)
    assert np.allclose(np.unique(mask), [0.0, 1 / (1 - p)])


def test_reproducible_eval_identity_and_dtype():
    x = rand(np.random.default_rng(2), 2, 3, 4, 4).astype(np.float32)
    a, _ = F.dropout2d_forward(x, 0.5, rng=np.random.default_rng(3))
    b, _ = F.dropout2d_forward(x, 0.5, rng=np.random.default_rng(3))
    assert np.array_equal(a, b) and a.dtype == np.float32
    ev, cache = F.dropout2d_forward(x, 0.5, training=False)
    assert np.array_equal(ev, x) and ev is not x and cache[0] is None
    assert np.array_equal(F.dropout2d_backward(np.ones_like(x), cache), np.ones_like(x))
    zero_p, _ = F.dropout2d_forward(x, 0.0, rng=np.random.default_rng(3))
    assert np.array_equal(zero_p, x)


def test_differs_from_elementwise_dropout():
    """Element-wise dropout breaks channels up; channel dropout never does."""
    x = np.ones((4, 8, 5, 5))
    elem, _ = F.dropout_forward(x, 0.5, rng=np.random.default_rng(4))
    per_channel_std = elem.std(axis=(2, 3))
    assert (per_channel_std > 0).mean() > 0.9            # element-wise: mixed channels
    chan, _ = F.dropout2d_forward(x, 0.5, rng=np.random.default_rng(4))
    assert np.all(chan.std(axis=(2, 3)) == 0)            # channel-wise: each map is constant


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 1, 3, 3), (3, 4, 1, 2)])
def test_gradients(training, shape):
    rng = np.random.default_rng(5)
    x = rand(rng, *shape)

    def forward(x):  # the same mask on every call
        return F.dropout2d_forward(x, 0.4, training, np.random.default_rng(7))

    errors = check_pair_gradients(forward, F.dropout2d_backward, (x,), ["x"], rng)
    assert errors["x"] < GRAD_TOL, errors


def test_gradient_check_can_fail():
    """The check above would catch a backward that forgot the 1/q scale."""
    rng = np.random.default_rng(6)
    x = rand(rng, 2, 3, 4, 4)

    def forward(x):
        return F.dropout2d_forward(x, 0.4, True, np.random.default_rng(7))

    def unscaled_backward(dout, cache):
        mask, _ = cache
        return dout * (mask > 0)

    errors = check_pair_gradients(forward, unscaled_backward, (x,), ["x"], rng)
    assert errors["x"] > 0.1


def test_layer_matches_functional_and_gradcheck():
    layer = L.Dropout2d(0.25, rng=np.random.default_rng(8))
    x = rand(np.random.default_rng(9), 3, 4, 5, 5)
    out = layer(x)
    ref, _ = F.dropout2d_forward(x, 0.25, rng=np.random.default_rng(8))
    assert np.array_equal(out, ref)
    errors = check_layer(L.Dropout2d(0.25, rng=np.random.default_rng(10)), x)
    assert errors["x"] < GRAD_TOL, errors
    layer.eval()
    assert np.array_equal(layer(x), x)
    assert repr(layer) == "Dropout2d(p=0.25)" and layer.name == "Dropout2d(p=0.25)"


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, True, "0.5"])
def test_bad_p(p):
    with pytest.raises(ValueError, match=re.escape("Dropout2d: p is the drop probability")):
        L.Dropout2d(p)
    with pytest.raises(ValueError, match=re.escape("dropout2d_forward: p is the drop probability")):
        F.dropout2d_forward(np.zeros((1, 1, 2, 2)), p)


def test_bad_shapes_and_cache():
    with pytest.raises(ValueError, match=re.escape("Dropout2d(p=0.5): expected input of shape (N, C, H, W), got (3, 4)")):
        L.Dropout2d(0.5)(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=re.escape("dropout2d_forward: expected x to be 4-D, got 2-D")):
        F.dropout2d_forward(np.zeros((3, 4)), 0.5)
    _, cache = F.dropout2d_forward(np.zeros((1, 2, 3, 3)), 0.5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=re.escape("dropout2d_backward: expected dout of shape (1, 2, 3, 3)")):
        F.dropout2d_backward(np.zeros((1, 2, 3, 4)), cache)
    with pytest.raises(TypeError, match="dropout2d_forward: rng must be a numpy.random.Generator"):
        F.dropout2d_forward(np.zeros((1, 2, 3, 3)), 0.5, rng=0)
    with pytest.raises(RuntimeError, match=re.escape("Dropout2d(p=0.5): backward called before forward")):
        L.Dropout2d(0.5).backward(np.zeros((1, 2, 3, 3)))


def test_against_torch():
    """PyTorch draws its own mask: read it off torch's output, check that it has the same
    structure (whole channels, 1/q scale), and that our backward with that mask equals autograd's."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    x = rand(rng, 6, 10, 4, 3) + 3.0          # no zeros
    p = 0.4
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(0)
    out_t = torch.nn.functional.dropout2d(xt, p, training=True)
    dout = rng.standard_normal(x.shape)
    out_t.backward(torch.tensor(dout))
    out_np = out_t.detach().numpy()
    kept = _channel_pattern(out_np, x, 1 - p)            # torch also drops whole channels
    assert kept.any() and not kept.all()
    mask = (kept[:, :, None, None] / (1 - p)).astype(np.float64)   # (N, C, 1, 1), our cache layout
    assert rel_error(x * mask, out_np) < 1e-12
    dx = F.dropout2d_backward(dout, (mask, x.shape))
    assert rel_error(dx, xt.grad.numpy()) < 1e-12
    # eval mode: both are the identity
    assert np.array_equal(torch.nn.functional.dropout2d(torch.tensor(x), p, training=False).numpy(),
                          F.dropout2d_forward(x, p, training=False)[0])
