"""nnbook.diagnostics: per-layer gradient norms and feature maps (used by chapters 7 and 8)."""
import numpy as np
import pytest

from nnbook import models
from nnbook.diagnostics import feature_maps, gradient_norms
from nnbook.functional import softmax_cross_entropy
from nnbook.train import predict_logits


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.random((6, 1, 8, 8)).astype(np.float64), rng.integers(0, 10, 6)


def test_gradient_norms_match_a_manual_backward_pass(batch):
    X, y = batch
    model = models.deep_cnn(2, width=4, rng=np.random.default_rng(1), dtype=np.float64)
    norms = gradient_norms(model, X, y)
    # the same forward/backward by hand, on a fresh copy of the same model
    twin = models.deep_cnn(2, width=4, rng=np.random.default_rng(1), dtype=np.float64)
    twin.train()
    logits = twin(X)
    _, dlogits = softmax_cross_entropy(logits, y)
    twin.backward(dlogits)
    expected = {name: np.linalg.norm(m.grads[k]) for name, m, k in twin.named_parameters() if k == "W"}
    assert list(norms) == list(expected)            # forward order, weights only
    assert list(norms)[0] == "0.W" and list(norms)[-1].endswith(".W")
    for name in expected:
        assert norms[name] == pytest.approx(expected[name], rel=1e-12)


def test_gradient_norms_leave_running_stats_and_mode_unchanged(batch):
    X, y = batch
    model = models.small_resnet(rng=np.random.default_rng(2), dtype=np.float64).eval()
    bn = model[1].bn1
    before = bn.running_mean.copy(), bn.running_var.copy()
    gradient_norms(model, X, y)
    assert np.array_equal(bn.running_mean, before[0]) and np.array_equal(bn.running_var, before[1])
    assert model.training is False


def test_gradient_norms_keys_select_parameters(batch):
    X, y = batch
    model = models.small_resnet(rng=np.random.default_rng(3), dtype=np.float64)
    norms = gradient_norms(model, X, y, keys=("gamma",))
    assert norms and all(name.endswith(".gamma") for name in norms)
    assert all(v > 0 for v in norms.values())


def test_feature_maps_shapes_and_last_output_is_the_logits(batch):
    X, _ = batch
    model = models.small_resnet(rng=np.random.default_rng(4), dtype=np.float64)
    maps = feature_maps(model, X)
    assert len(maps) == len(model)
    assert [out.shape for _, out in maps][:3] == [(6, 16, 8, 8), (6, 16, 8, 8), (6, 32, 4, 4)]
    assert maps[0][0].startswith("0: Conv2d")
    np.testing.assert_allclose(maps[-1][1], predict_logits(model, X), rtol=1e-12, atol=1e-12)
