"""Bad input gets a clear error naming the layer/function, what was expected and what came."""
import re

import numpy as np
import pytest

import nnbook
from nnbook import functional as F
from nnbook import layers as L

f32 = np.float32


def raises(exc, *fragments):
    """pytest.raises whose message must contain every fragment (literal text)."""
    return pytest.raises(exc, match=".*".join(re.escape(f) for f in fragments))


def test_conv2d_layer_wrong_channels():
    with raises(ValueError, "Conv2d(3→8): expected input of shape (N, 3, H, W), got (2, 4, 32, 32)"):
        L.Conv2d(3, 8, 3)(np.zeros((2, 4, 32, 32), f32))


def test_wrong_number_of_dimensions():
    with raises(ValueError, "Conv2d(3→8)", "expected input of shape (N, 3, H, W)", "(3, 32, 32)"):
        L.Conv2d(3, 8, 3)(np.zeros((3, 32, 32), f32))
    with raises(ValueError, "maxpool2d_forward", "4-D", "2-D"):
        F.maxpool2d_forward(np.zeros((4, 4)), 2)
    with raises(ValueError, "BatchNorm2d(3)", "(N, 3, H, W)", "(5, 3)"):
        L.BatchNorm2d(3)(np.zeros((5, 3), f32))


def test_kernel_larger_than_padded_input():
    with raises(ValueError, "conv2d_forward", "kernel size 5", "padded input (3 + 2*0 = 3)"):
        F.conv2d_forward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 5, 5)), np.zeros(1))
    with raises(ValueError, "maxpool2d_forward", "kernel size 4", "(3 + 2*0 = 3)"):
        L.MaxPool2d(4)(np.zeros((1, 1, 3, 3), f32))


def test_conv_weight_channel_mismatch():
    with raises(ValueError, "conv2d_forward", "x has 3 channels", "W expects 2"):
        F.conv2d_forward(np.zeros((1, 3, 5, 5)), np.zeros((4, 2, 3, 3)), np.zeros(4))
    with raises(ValueError, "conv2d_forward", "b of shape (4)", "(5,)"):
        F.conv2d_forward(np.zeros((1, 3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(5))


def test_bad_stride_and_padding():
    with raises(ValueError, "stride must be >= 1", "0"):
        L.Conv2d(1, 1, 3, stride=0)
    with raises(TypeError, "padding must be an int or a pair", "1.5"):
        F.conv2d_forward(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), np.zeros(1), padding=1.5)
    with raises(ValueError, "padding must be >= 0"):
        F.conv2d_forward(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), np.zeros(1), padding=-1)


def test_linear_feature_mismatch():
    with raises(ValueError, "Linear(4→2): expected input of shape (N, 4), got (3, 5)"):
        L.Linear(4, 2)(np.zeros((3, 5), f32))
    with raises(ValueError, "linear_forward", "5 features", "W expects 4"):
        F.linear_forward(np.zeros((3, 5)), np.zeros((4, 2)), np.zeros(2))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.5"])
def test_dropout_p_out_of_range(p):
    with raises(ValueError, "p is the drop probability", "[0, 1)", repr(p)):
        L.Dropout(p)
    with raises(ValueError, "dropout_forward", "[0, 1)"):
        F.dropout_forward(np.zeros((2, 2)), p)


def test_labels_out_of_range_and_wrong_type():
    with raises(ValueError, "softmax_cross_entropy", "labels must be in [0, 2]", "from 0 to 3"):
        F.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with raises(ValueError, "softmax_cross_entropy", "-1"):
        F.softmax_cross_entropy(np.zeros((2, 3)), np.array([-1, 0]))
    with raises(TypeError, "softmax_cross_entropy", "integer class labels", "float64"):
        F.softmax_cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with raises(ValueError, "softmax_cross_entropy", "shape (2,)", "(3,)"):
        F.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))


@pytest.mark.parametrize("layer", [L.Linear(2, 2), L.Conv2d(1, 1, 1), L.ReLU(), L.MaxPool2d(2),
                                   L.BatchNorm2d(1), L.LayerNorm(2), L.GroupNorm(1, 1), L.Dropout(0.5),
                                   L.ResidualBlock(1, 1), L.BottleneckBlock(1, 1), L.Flatten()])
def test_backward_before_forward(layer):
    with raises(RuntimeError, layer.name, "backward called before forward"):
        layer.backward(np.zeros((1, 1, 2, 2), f32))


def test_nan_and_inf_in_input():
    x = np.zeros((1, 1, 4, 4), f32)
    x[0, 0, 1, 1] = np.nan
    with raises(ValueError, "Conv2d(1→2)", "contains NaN"):
        L.Conv2d(1, 2, 3)(x)
    with raises(ValueError, "relu_forward", "contains inf"):
        F.relu_forward(np.array([1.0, np.inf]))


def test_not_an_array_and_integer_dtype():
    with raises(TypeError, "ReLU", "numpy array", "list"):
        L.ReLU()([1.0, 2.0])
    with raises(TypeError, "Conv2d(1→1)", "float dtype", "int64"):
        L.Conv2d(1, 1, 1)(np.zeros((1, 1, 2, 2), dtype=np.int64))


def test_dout_shape_mismatch():
    _, cache = F.conv2d_forward(np.zeros((1, 1, 4, 4)), np.zeros((2, 1, 3, 3)), np.zeros(2))
    with raises(ValueError, "conv2d_backward", "dout of shape (1, 2, 2, 2)", "(1, 2, 3, 3)"):
        F.conv2d_backward(np.zeros((1, 2, 3, 3)), cache)
    layer = L.Linear(3, 2)
    layer(np.zeros((4, 3), f32))
    with raises(ValueError, "linear_backward", "(4, 2)", "(4, 3)"):
        layer.backward(np.zeros((4, 3), f32))


def test_shortcut_batch_mismatch():
    with raises(ValueError, "shortcut_forward", "same batch size", "(2, 1, 2, 2)", "(3, 1, 2, 2)"):
        F.shortcut_forward(np.zeros((2, 1, 2, 2)), np.zeros((3, 1, 2, 2)))


def test_bottleneck_block_input_errors():
    block = L.BottleneckBlock(8, 2)
    with raises(ValueError, "BottleneckBlock(8→2→8, stride=1): expected input of shape (N, 8, H, W)", "(2, 4, 5, 5)"):
        block(np.zeros((2, 4, 5, 5), f32))
    with raises(ValueError, "BottleneckBlock(8→2→8, stride=1)", "(8, 5, 5)"):
        block(np.zeros((8, 5, 5), f32))                            # no batch axis


def test_batchnorm_single_value_per_channel_in_training():
    with raises(ValueError, "batchnorm_forward", "more than 1 value per channel", "(1, 3)"):
        L.BatchNorm1d(3)(np.zeros((1, 3), f32))


def test_layernorm_and_groupnorm_input_errors():
    with raises(ValueError, "LayerNorm(8): expected input of shape (N, 8)", "got (2, 7)"):
        L.LayerNorm(8)(np.zeros((2, 7), f32))
    with raises(ValueError, "LayerNorm((3, 4, 4)): expected input of shape (N, 3, 4, 4)", "got (3, 4, 4)"):
        L.LayerNorm((3, 4, 4))(np.zeros((3, 4, 4), f32))          # no batch axis
    with raises(ValueError, "GroupNorm(2, 6): expected input of shape (N, 6, *), got (2, 4, 3, 3)"):
        L.GroupNorm(2, 6)(np.zeros((2, 4, 3, 3), f32))
    with raises(ValueError, "layernorm_forward: expected x of shape (*, 5, 6)", "got (2, 6, 5)"):
        F.layernorm_forward(np.zeros((2, 6, 5)), (5, 6))
    with raises(ValueError, "layernorm_forward: expected gamma of shape (5,), got (4,)"):
        F.layernorm_forward(np.zeros((2, 5)), 5, np.ones(4))
    with raises(ValueError, "groupnorm_forward: num_groups 4 must divide the 6 channels", "(2, 6, 3)"):
        F.groupnorm_forward(np.zeros((2, 6, 3)), 4)
    with raises(ValueError, "groupnorm_forward: expected beta of shape (6,), got (3,)"):
        F.groupnorm_forward(np.zeros((2, 6, 3)), 3, np.ones(6), np.zeros(3))
    with raises(ValueError, "groupnorm_forward: expected x of shape (N, C, *)", "1-D"):
        F.groupnorm_forward(np.zeros(6), 3)
    with raises(TypeError, "LayerNorm: normalized_shape must be an int or a non-empty tuple of ints, got 2.5"):
        L.LayerNorm(2.5)
    with raises(ValueError, "LayerNorm(3)", "contains NaN"):
        L.LayerNorm(3)(np.full((2, 3), np.nan, f32))
    _, cache = F.groupnorm_forward(np.ones((2, 4, 3)), 2)
    with raises(ValueError, "groupnorm_backward", "dout of shape (2, 4, 3)", "(2, 4)"):
        F.groupnorm_backward(np.zeros((2, 4)), cache)
    with raises(TypeError, "layernorm_backward: cache must be the tuple"):
        F.layernorm_backward(np.zeros((2, 4)), cache)


def test_fit_rejects_bad_options_and_labels():
    model = nnbook.models.mlp((2, 3))
    X = np.zeros((4, 2), f32)
    with raises(ValueError, "fit: optimizer must be one of", "'sgdd'"):
        nnbook.fit(model, X, np.zeros(4, int), optimizer="sgdd", progress=False)
    with raises(TypeError, "fit", "integer class labels"):
        nnbook.fit(model, X, np.zeros(4), progress=False)
    with raises(ValueError, "fit", "labels y of shape (4,)", "(3,)"):
        nnbook.fit(model, X, np.zeros(3, int), progress=False)
    with raises(ValueError, "softmax_cross_entropy", "labels must be in [0, 2]"):
        nnbook.fit(model, X, np.full(4, 7), progress=False)


def test_update_bn_rejects_bad_data():
    model = nnbook.models.bn_mlp((2, 3, 2))
    with raises(ValueError, "update_bn: expected X as an array of shape (N, ...)", "list"):
        nnbook.update_bn(model, [[0.0, 1.0]])
    model.eval()
    with raises(ValueError, "Linear(2→3): expected input of shape (N, 2), got (4, 5)"):
        nnbook.update_bn(model, np.zeros((4, 5), f32))             # fails inside the pass
    assert model[1].momentum == 0.1 and not model[1].training     # momentum and mode put back


def test_sequential_rejects_non_layers():
    with raises(TypeError, "Sequential: item 1 is not a layer", "function"):
        L.Sequential(L.ReLU(), lambda x: x)


@pytest.mark.parametrize("make,fragment", [
    (lambda: L.Linear(0, 3), "Linear: in_features must be a positive int, got 0"),
    (lambda: L.Linear(3, 2.5), "Linear: out_features must be a positive int, got 2.5"),
    (lambda: L.Conv2d(3, -1, 3), "Conv2d: out_channels must be a positive int, got -1"),
    (lambda: L.BatchNorm2d(0), "BatchNorm2d: num_features must be a positive int, got 0"),
    (lambda: L.BatchNorm2d(4, momentum=2), "BatchNorm2d: need 0 <= momentum <= 1"),
    (lambda: L.GroupNorm(4, 6), "GroupNorm: num_channels (6) must be divisible by num_groups (4)"),
    (lambda: L.GroupNorm(0, 6), "GroupNorm: num_groups must be a positive int, got 0"),
    (lambda: L.LayerNorm((3, 0)), "LayerNorm: normalized_shape must hold positive sizes, got (3, 0)"),
    (lambda: L.LayerNorm(4, eps=0), "LayerNorm: eps must be a positive number, got 0"),
    (lambda: L.ResidualBlock(4, 8, stride=0), "ResidualBlock: stride must be a positive int, got 0"),
    (lambda: L.BottleneckBlock(4, 0), "BottleneckBlock: width must be a positive int, got 0"),
    (lambda: L.BottleneckBlock(4, 2, expansion=1.5), "BottleneckBlock: expansion must be a positive int, got 1.5"),
])
def test_bad_constructor_arguments(make, fragment):
    with raises(ValueError, fragment):
        make()


def test_rel_error_rejects_shape_mismatch_and_complex():
    from nnbook.gradcheck import rel_error
    with raises(ValueError, "rel_error: shapes differ: (2,) vs (3,)"):
        rel_error(np.zeros(2), np.zeros(3))
    with raises(TypeError, "rel_error: b must hold real numbers", "complex128"):
        rel_error(np.zeros(2), np.zeros(2, dtype=complex))
