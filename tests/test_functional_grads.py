"""Numerical gradient check (float64, relative error < 1e-7) of every functional op."""
import numpy as np
import pytest

from nnbook import functional as F
from helpers import GRAD_TOL, check_pair_gradients, rand

CONV_CASES = [  # x shape, W shape, stride, padding
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0),
    ((2, 3, 7, 6), (4, 3, 3, 3), 2, 1),          # stride 2, padding, non-square input
    ((1, 2, 6, 9), (3, 2, 2, 4), (1, 2), (2, 1)),  # batch 1, non-square kernel, pair args
    ((2, 4, 8, 8), (5, 4, 1, 1), 2, 0),          # 1x1 projection
    ((1, 1, 4, 4), (2, 1, 4, 4), 3, 1),          # stride larger than needed
    ((1, 32, 4, 3), (32, 32, 3, 3), 1, 1),       # many channels (see conv_method for both formulations)
    ((2, 1, 16, 17), (2, 1, 3, 3), (2, 1), 1),   # a larger image: im2col with the batch first
]


@pytest.mark.parametrize("x_shape,w_shape,stride,padding", CONV_CASES)
def test_conv2d_gradients(x_shape, w_shape, stride, padding, conv_method):
    rng = np.random.default_rng(0)
    x, W, b = rand(rng, *x_shape), rand(rng, *w_shape), rand(rng, w_shape[0])
    errors = check_pair_gradients(F.conv2d_forward, F.conv2d_backward, (x, W, b), "x W b".split(), rng,
                                  stride=stride, padding=padding)
    assert max(errors.values()) < GRAD_TOL, errors


@pytest.mark.parametrize("x_shape", [(3, 5), (2, 3, 2, 2), (1, 7)])
def test_linear_gradients(x_shape):
    rng = np.random.default_rng(1)
    D = int(np.prod(x_shape[1:]))
    x, W, b = rand(rng, *x_shape), rand(rng, D, 4), rand(rng, 4)
    errors = check_pair_gradients(F.linear_forward, F.linear_backward, (x, W, b), "x W b".split(), rng)
    assert max(errors.values()) < GRAD_TOL, errors


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activation_gradients(name):
    rng = np.random.default_rng(2)
    x = rand(rng, 3, 4, 5)
    x[np.abs(x) < 1e-3] = 0.5     # keep away from the kink at 0
    fwd, bwd = getattr(F, f"{name}_forward"), getattr(F, f"{name}_backward")
    errors = check_pair_gradients(fwd, bwd, (x,), ["x"], rng)
    assert errors["x"] < GRAD_TOL, errors


def test_relu_gradient_at_zero_is_zero():
    x = np.array([[-1.0, 0.0, 2.0]])
    _, cache = F.relu_forward(x)
    np.testing.assert_array_equal(F.relu_backward(np.ones_like(x), cache), [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize("pool", ["maxpool2d", "avgpool2d"])
@pytest.mark.parametrize("x_shape,kernel,stride", [
    ((2, 3, 6, 6), 2, None), ((1, 2, 7, 5), 3, 2), ((2, 1, 5, 8), (2, 3), (1, 2)), ((1, 1, 4, 4), 3, 1)])
def test_pool_gradients(pool, x_shape, kernel, stride):
    rng = np.random.default_rng(3)
    x = rand(rng, *x_shape)
    fwd, bwd = getattr(F, f"{pool}_forward"), getattr(F, f"{pool}_backward")
    errors = check_pair_gradients(fwd, bwd, (x,), ["x"], rng, kernel_size=kernel, stride=stride)
    assert errors["x"] < GRAD_TOL, errors


@pytest.mark.parametrize("training", [True, False])
def test_dropout_gradients(training):
    rng = np.random.default_rng(4)
    x = rand(rng, 4, 6)

    def forward(x):  # the same mask on every call
        return F.dropout_forward(x, 0.4, training, np.random.default_rng(7))

    errors = check_pair_gradients(forward, F.dropout_backward, (x,), ["x"], rng)
    assert errors["x"] < GRAD_TOL, errors


@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 4, 5), (1, 3, 2, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradients(shape, training):
    rng = np.random.default_rng(5)
    C = shape[1]
    x, gamma, beta = rand(rng, *shape), rand(rng, C), rand(rng, C)
    rm, rv = rand(rng, C), rng.random(C) + 0.5

    def forward(x, gamma, beta):   # running stats must not drift between numerical evaluations
        return F.batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy(), training=training)

    errors = check_pair_gradients(forward, F.batchnorm_backward, (x, gamma, beta), "x gamma beta".split(), rng)
    assert max(errors.values()) < GRAD_TOL, errors


@pytest.mark.parametrize("x_shape,normalized_shape", [((4, 6), 6), ((2, 3, 4, 5), (4, 5)), ((2, 3, 3, 2), (3, 3, 2)),
                                                     ((1, 5), 5)])
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_gradients(x_shape, normalized_shape, affine):
    rng = np.random.default_rng(7)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    x = rand(rng, *x_shape) * 2 + 1
    if affine:
        def forward(x, gamma, beta):
            return F.layernorm_forward(x, normalized_shape, gamma, beta)
        errors = check_pair_gradients(forward, F.layernorm_backward, (x, rand(rng, *shape), rand(rng, *shape)),
                                      "x gamma beta".split(), rng)
    else:
        errors = check_pair_gradients(lambda x: F.layernorm_forward(x, normalized_shape), F.layernorm_backward,
                                      (x,), ["x"], rng)
    assert max(errors.values()) < GRAD_TOL, errors


# more than 2 values per group: a normalized pair is about (-1, 1) whatever x, with a dx too small to check
@pytest.mark.parametrize("x_shape,num_groups", [((2, 6, 3, 3), 1), ((2, 6, 3, 3), 3), ((2, 4, 2, 3), 4),
                                                ((3, 8), 2), ((1, 4, 5), 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_groupnorm_gradients(x_shape, num_groups, affine):
    rng = np.random.default_rng(8)
    C = x_shape[1]
    x = rand(rng, *x_shape) * 2 + 1
    if affine:
        def forward(x, gamma, beta):
            return F.groupnorm_forward(x, num_groups, gamma, beta)
        errors = check_pair_gradients(forward, F.groupnorm_backward, (x, rand(rng, C), rand(rng, C)),
                                      "x gamma beta".split(), rng)
    else:
        errors = check_pair_gradients(lambda x: F.groupnorm_forward(x, num_groups), F.groupnorm_backward,
                                      (x,), ["x"], rng)
    assert max(errors.values()) < GRAD_TOL, errors


@pytest.mark.parametrize("x_shape,y_shape", [
    ((2, 3, 4, 4), (2, 3, 4, 4)), ((2, 3, 4, 4), (2, 3, 2, 2)), ((2, 2, 3, 3), (2, 4, 6, 6)),
    ((1, 4, 4, 6), (1, 2, 2, 3)), ((1, 2, 5, 5), (1, 3, 2, 2))])
def test_shortcut_gradients(x_shape, y_shape):
    rng = np.random.default_rng(6)
    x, y = rand(rng, *x_shape), rand(rng, *y_shape)
    errors = check_pair_gradients(F.shortcut_forward, F.shortcut_backward, (x, y), ["x", "y"], rng,
                                  alpha=0.7, beta=-1.3)
    assert max(errors.values()) < GRAD_TOL, errors


def test_softmax_cross_entropy_gradient():
    rng = np.random.default_rng(7)
    logits, y = rand(rng, 5, 4), rng.integers(0, 4, 5)
    from nnbook.gradcheck import numerical_gradient, rel_error
    _, dlogits = F.softmax_cross_entropy(logits, y)
    num = numerical_gradient(lambda: F.softmax_cross_entropy(logits, y)[0], logits)
    assert rel_error(dlogits, num) < GRAD_TOL
