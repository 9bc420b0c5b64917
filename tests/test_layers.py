"""Layers: numerical gradient checks of input and parameters, modes, dtypes, live params."""
import numpy as np
import pytest

import nnbook
from nnbook import layers as L
from nnbook.gradcheck import check_layer, rel_error

GRAD_TOL = 1e-7


def x_of(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


LAYER_CASES = [
    ("Linear", lambda r: L.Linear(6, 4, rng=r), (3, 6)),
    ("Linear-batch1", lambda r: L.Linear(12, 3, rng=r), (1, 3, 2, 2)),
    ("ReLU", lambda r: L.ReLU(), (2, 3, 4)),
    ("LeakyReLU", lambda r: L.LeakyReLU(0.1), (2, 3, 4)),
    ("Sigmoid", lambda r: L.Sigmoid(), (2, 5)),
    ("Tanh", lambda r: L.Tanh(), (2, 5)),
    ("Conv2d", lambda r: L.Conv2d(3, 4, 3, rng=r), (2, 3, 5, 5)),
    ("Conv2d-stride2-pad", lambda r: L.Conv2d(2, 3, 3, stride=2, padding=1, rng=r), (2, 2, 7, 6)),
    ("Conv2d-nonsquare-batch1", lambda r: L.Conv2d(2, 2, (2, 3), stride=(1, 2), padding=(1, 0), rng=r),
     (1, 2, 5, 7)),
    ("MaxPool2d", lambda r: L.MaxPool2d(2), (2, 3, 6, 4)),
    ("MaxPool2d-overlap", lambda r: L.MaxPool2d(3, stride=2), (1, 2, 7, 7)),
    ("AvgPool2d", lambda r: L.AvgPool2d((2, 3), stride=1), (2, 2, 5, 6)),
    ("GlobalAvgPool2d", lambda r: L.GlobalAvgPool2d(), (2, 3, 4, 5)),
    ("Dropout", lambda r: L.Dropout(0.3, rng=r), (4, 5)),
    ("BatchNorm2d", lambda r: L.BatchNorm2d(3), (4, 3, 3, 2)),
    ("BatchNorm1d", lambda r: L.BatchNorm1d(5), (6, 5)),
    ("LayerNorm", lambda r: L.LayerNorm(5), (3, 5)),
    ("LayerNorm-image-batch1", lambda r: L.LayerNorm((2, 3, 3)), (1, 2, 3, 3)),
    ("LayerNorm-no-bias", lambda r: L.LayerNorm(4, bias=False), (2, 3, 4)),
    ("GroupNorm", lambda r: L.GroupNorm(2, 4), (2, 4, 3, 3)),
    ("GroupNorm-instance-batch1", lambda r: L.GroupNorm(3, 3, affine=False), (1, 3, 2, 4)),
    ("Flatten", lambda r: L.Flatten(), (2, 3, 2, 2)),
    ("ResidualBlock-identity", lambda r: L.ResidualBlock(3, 3, rng=r), (2, 3, 4, 4)),
    ("ResidualBlock-projection", lambda r: L.ResidualBlock(2, 4, stride=2, rng=r), (2, 2, 5, 5)),
    ("ResidualBlock-plain", lambda r: L.ResidualBlock(2, 2, shortcut=False, rng=r), (2, 2, 3, 3)),
    ("BottleneckBlock-identity", lambda r: L.BottleneckBlock(8, 2, rng=r), (2, 8, 3, 3)),
    ("BottleneckBlock-projection", lambda r: L.BottleneckBlock(3, 2, stride=2, expansion=2, rng=r), (2, 3, 5, 4)),
    ("Sequential", lambda r: L.Sequential(L.Conv2d(1, 2, 3, padding=1, rng=r), L.ReLU(), L.MaxPool2d(2),
                                          L.Flatten(), L.Linear(8, 3, rng=r)), (2, 1, 4, 4)),
]


@pytest.mark.parametrize("name,make,shape", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_layer_gradients(name, make, shape):
    layer = make(np.random.default_rng(1))
    errors = check_layer(layer, x_of(shape))
    assert set(errors) == {"x"} | {n for n, _, _ in layer.named_parameters()}
    assert max(errors.values()) < GRAD_TOL, errors


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_layer_gradients_in_both_modes(mode):
    for make, shape in ((lambda: L.BatchNorm2d(2), (3, 2, 2, 2)), (lambda: L.Dropout(0.5), (3, 4)),
                        (lambda: L.ResidualBlock(2, 3, stride=2), (2, 2, 4, 4))):
        layer = getattr(make(), mode)()
        errors = check_layer(layer, x_of(shape, 3))
        assert max(errors.values()) < GRAD_TOL, (layer, errors)


def test_residual_block_structure_and_shapes():
    same = L.ResidualBlock(8, 8)
    assert same.projection is None
    proj = L.ResidualBlock(8, 16, stride=2)
    assert isinstance(proj.projection, L.Conv2d)
    assert proj.projection.kernel_size == (1, 1) and proj.projection.stride == (2, 2)
    assert proj.projection.out_channels == 16
    for part in ("bn1", "conv1", "bn2", "conv2"):
        assert isinstance(getattr(proj, part), L.Module)
    assert L.ResidualBlock(4, 4, stride=2).projection is not None     # stride alone needs one
    assert L.ResidualBlock(4, 6).projection is not None               # channels alone need one
    x = x_of((2, 8, 7, 5)).astype(np.float32)
    assert proj(x).shape == (2, 16, 4, 3)          # ceil(7/2), ceil(5/2)
    assert same(x).shape == (2, 8, 7, 5)


def test_projection_is_applied_to_the_preactivated_input():
    block = L.ResidualBlock(2, 4, stride=2, rng=np.random.default_rng(0)).to(np.float64)
    x = x_of((2, 2, 4, 4))
    block.conv2.params["W"][...] = 0            # the residual branch now outputs 0
    out = block(x)
    h = np.maximum(block.bn1(x), 0)
    expected = nnbook.functional.conv2d_forward(h, block.projection.params["W"], None, 2, 0)[0]
    assert rel_error(out, expected) < 1e-12


def test_identity_block_adds_its_input():
    block = L.ResidualBlock(3, 3).to(np.float64)
    block.conv2.params["W"][...] = 0
    x = x_of((2, 3, 4, 4))
    np.testing.assert_allclose(block(x), x, atol=1e-15)


def test_bottleneck_block_structure_shapes_and_preactivated_projection():
    same = L.BottleneckBlock(16, 4)                                   # 16 -> 4 -> 16: identity shortcut
    assert same.projection is None and same.out_channels == 16
    assert [c.kernel_size for c in (same.conv1, same.conv2, same.conv3)] == [(1, 1), (3, 3), (1, 1)]
    assert (same.conv1.out_channels, same.conv2.out_channels, same.conv3.out_channels) == (4, 4, 16)
    assert same.num_parameters() == 16 * 4 + 9 * 4 * 4 + 4 * 16 + 2 * (16 + 4 + 4)
    proj = L.BottleneckBlock(8, 4, stride=2, rng=np.random.default_rng(0)).to(np.float64)
    assert proj.conv2.stride == (2, 2) and proj.conv1.stride == (1, 1)      # the stride is on the 3x3
    assert proj.projection.kernel_size == (1, 1) and proj.projection.stride == (2, 2)
    assert L.BottleneckBlock(16, 4, stride=2).projection is not None   # stride alone needs one
    assert L.BottleneckBlock(8, 4).projection is not None              # channels alone need one (8 -> 16)
    x = x_of((2, 8, 7, 5))
    assert proj(x).shape == (2, 16, 4, 3)                              # ceil(7/2), ceil(5/2)
    proj.conv3.params["W"][...] = 0                                    # the branch outputs 0
    h = np.maximum(proj.bn1(x), 0)
    expected = nnbook.functional.conv2d_forward(h, proj.projection.params["W"], None, 2, 0)[0]
    assert rel_error(proj(x), expected) < 1e-12
    same = same.to(np.float64)
    same.conv3.params["W"][...] = 0
    x = x_of((2, 16, 3, 3))
    np.testing.assert_allclose(same(x), x, atol=1e-15)                # identity block: out = x
    assert "BottleneckBlock(16→4→16, stride=1)" in same.name


def test_residual_block_shortcut_weight_scales_the_direct_gradient():
    # out = alpha * F(x) + beta * x through the block's Shortcut: with F = 0, dx = beta * dout
    block = L.ResidualBlock(3, 3, rng=np.random.default_rng(0)).to(np.float64)
    block.conv2.params["W"][...] = 0
    block.add = L.Shortcut(alpha=1.0, beta=0.5)
    x, dout = x_of((2, 3, 4, 4), 1), x_of((2, 3, 4, 4), 2)
    np.testing.assert_allclose(block(x), 0.5 * x, atol=1e-15)
    np.testing.assert_allclose(block.backward(dout), 0.5 * dout, atol=1e-15)
    weighted = L.ResidualBlock(3, 3, rng=np.random.default_rng(1)).to(np.float64)
    weighted.add = L.Shortcut(alpha=0.7, beta=0.5)                    # every gradient still right
    errors = check_layer(weighted, x)
    assert max(errors.values()) < GRAD_TOL, errors


def test_float32_in_float32_out_and_float64_in_float64_out():
    model = nnbook.models.small_resnet()
    for dtype in (np.float32, np.float64):
        x = x_of((3, 1, 8, 8)).astype(dtype)
        out = model(x)
        assert out.dtype == dtype
        dx = model.backward(np.ones_like(out))
        assert dx.dtype == dtype
        for _, m, k in model.named_parameters():
            assert m.grads[k].dtype == m.params[k].dtype == np.float32


def test_norm_layers_keep_the_input_dtype_and_store_float32_grads():
    model = L.Sequential(L.Conv2d(1, 4, 3, padding=1), L.GroupNorm(2, 4), L.ReLU(), L.LayerNorm((4, 5, 5)))
    for dtype in (np.float32, np.float64):
        x = x_of((2, 1, 5, 5)).astype(dtype)
        out = model(x)
        assert out.dtype == dtype and model.backward(np.ones_like(out)).dtype == dtype
        for _, m, k in model.named_parameters():
            assert m.grads[k].dtype == m.params[k].dtype == np.float32


def test_params_are_live():
    layer = L.Linear(3, 2)
    layer.params["W"][...] = 0
    layer.params["b"][...] = 1
    np.testing.assert_array_equal(layer(np.ones((4, 3), np.float32)), np.ones((4, 2)))
    assert set(layer.params) == set(layer.grads) == {"W", "b"}     # grads exist (zeros) before backward
    assert not layer.grads["W"].any()


def test_params_and_grads_have_the_same_keys_after_backward():
    model = nnbook.models.small_resnet()
    x = x_of((2, 1, 8, 8)).astype(np.float32)
    model.backward(np.ones_like(model(x)))
    for _, module, _ in model.named_parameters():
        assert set(module.params) == set(module.grads)
    bn = model[1].bn1
    assert set(bn.params) == {"gamma", "beta"} and bn.running_mean.shape == (16,)


def test_train_eval_switch_dropout_and_batchnorm():
    model = L.Sequential(L.BatchNorm1d(4), L.Dropout(0.5, rng=np.random.default_rng(0)))
    x = x_of((8, 4)).astype(np.float32)
    assert (model(x) == 0).any()          # layers start in training mode
    model = L.Sequential(L.BatchNorm1d(4), L.Dropout(0.5, rng=np.random.default_rng(0)))
    model.eval()
    assert all(not m.training for m in model)
    out = model(x)      # eval: running stats (mean 0, var 1 initially) and no dropout
    np.testing.assert_allclose(out, x / np.sqrt(1 + 1e-5), rtol=1e-6)


def test_batchnorm_layer_updates_running_stats_only_in_training():
    bn = L.BatchNorm2d(2)
    x = (x_of((4, 2, 3, 3)) + 5).astype(np.float32)
    bn.eval()
    bn(x)
    np.testing.assert_array_equal(bn.running_mean, 0)
    bn.train()
    bn(x)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5)


@pytest.mark.parametrize("make,shape", [(lambda: L.LayerNorm((3, 2, 2)), (5, 3, 2, 2)),
                                        (lambda: L.GroupNorm(1, 3), (5, 3, 2, 2)), (lambda: L.LayerNorm(4), (5, 4))])
def test_per_example_norms_ignore_the_batch_and_the_mode(make, shape):
    layer = make().to(np.float64)
    x = x_of(shape, 4) * 3 + 1
    out = layer(x)
    np.testing.assert_allclose(out.reshape(len(x), -1).mean(axis=1), 0, atol=1e-12)   # per example
    np.testing.assert_allclose(out.reshape(len(x), -1).var(axis=1), 1, atol=1e-4)
    alone = layer(x[2:3])                                  # a batch of 1 works
    others = layer(np.concatenate([x[2:3], x[:2] * 10 - 4]))[:1]
    np.testing.assert_allclose(alone, out[2:3], atol=1e-12)
    np.testing.assert_allclose(others, out[2:3], atol=1e-12)
    np.testing.assert_array_equal(layer.eval()(x), out)


def test_groupnorm_normalizes_groups_of_consecutive_channels():
    gn = L.GroupNorm(2, 4).to(np.float64)
    x = x_of((3, 4, 2, 2), 5) * [[[[1.0]], [[2.0]], [[3.0]], [[4.0]]]]
    out = gn(x)
    for g, channels in enumerate((slice(0, 2), slice(2, 4))):
        block = x[:, channels].reshape(3, -1)
        want = (block - block.mean(1, keepdims=True)) / np.sqrt(block.var(1, keepdims=True) + 1e-5)
        np.testing.assert_allclose(out[:, channels].reshape(3, -1), want, atol=1e-12)


def test_update_bn_averages_the_batch_statistics():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((90, 3)) * [1.0, 2.0, 3.0] + [0.0, -1.0, 5.0]
    bn = L.BatchNorm1d(3).to(np.float64)
    model = L.Sequential(bn, L.ReLU()).eval()
    assert nnbook.update_bn(model, X, batch_size=30, seed=None) == 1
    batches = X.reshape(3, 30, 3)
    np.testing.assert_allclose(bn.running_mean, batches.mean(axis=1).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, batches.var(axis=1, ddof=1).mean(axis=0), rtol=1e-12)
    assert not bn.training and bn.momentum == 0.1
    assert nnbook.update_bn(L.Sequential(L.ReLU()), X) == 0
    shuffled = L.BatchNorm1d(3).to(np.float64)
    nnbook.update_bn(shuffled, X, batch_size=30, seed=0)            # other batches, other variances
    np.testing.assert_allclose(shuffled.running_mean, bn.running_mean, rtol=1e-12)
    assert np.abs(shuffled.running_var - bn.running_var).max() > 1e-6


def test_shortcut_layer_two_inputs():
    s = L.Shortcut(alpha=2.0, beta=3.0)
    x, y = np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2))
    out = s(x, y)
    assert out[0, 0, 0, 0] == 5 and out[0, 0, 0, 1] == 1
    dx, dy = s.backward(np.ones_like(out))
    assert dx[0, 0, 0, 0] == 2 and dx[0, 0, 0, 1] == 1 and (dy == 3).all()


def test_repr_reads_like_the_architecture():
    text = repr(nnbook.models.small_resnet())
    assert "(projection): Conv2d(16, 32, kernel_size=(1, 1), stride=(2, 2)" in text
    assert "(bn1): BatchNorm2d(16" in text


def test_initialization_is_seeded_and_he_scaled():
    a = L.Conv2d(16, 32, 3, rng=np.random.default_rng(0)).params["W"]
    b = L.Conv2d(16, 32, 3, rng=np.random.default_rng(0)).params["W"]
    np.testing.assert_array_equal(a, b)
    assert abs(a.std() - np.sqrt(2 / (16 * 9))) < 0.01


def test_modules_walks_every_layer_depth_first():
    block = L.ResidualBlock(2, 4, stride=2, rng=np.random.default_rng(0))
    model = L.Sequential(L.Conv2d(1, 2, 3, padding=1), block, L.Flatten())
    found = list(model.modules())
    assert found[0] is model and found[1] is model[0] and found[2] is block
    for part in (block.bn1, block.conv1, block.bn2, block.conv2, block.projection):
        assert any(m is part for m in found)
    assert found[-1] is model[2]
    assert len(found) == len({id(m) for m in found})
