"""Fully connected layer, activations, flatten and dropout."""
import numpy as np

from .. import functional as F
from .._checks import check_positive_int
from ..init import init_weight
from .base import Module


class Linear(Module):
    """``out = x.reshape(N, -1) @ W + b``.

    Attributes:
        params["W"]: shape (in_features, out_features), He (or Glorot) normal.
        params["b"]: shape (out_features,), zeros.
    Shape:
        input (N, in_features) (or any (N, ...) with that many values per row) -> (N, out_features).
    """

    def __init__(self, in_features, out_features, bias=True, init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_features = check_positive_int(in_features, "Linear", "in_features")
        self.out_features = check_positive_int(out_features, "Linear", "out_features")
        self.params["W"] = init_weight((in_features, out_features), init, rng, dtype, who="Linear")
        self.params["b"] = np.zeros(out_features, dtype=dtype)
        if not bias:
            del self.params["b"]
        self.zero_grad()

    @property
    def name(self):
        return f"Linear({self.in_features}→{self.out_features})"

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"

    def forward(self, x):
        self._check_input(x, ndim=range(2, 8))
        if int(np.prod(x.shape[1:])) != self.in_features:
            raise ValueError(f"{self.name}: expected input of shape (N, {self.in_features}), got {x.shape}")
        b = self._param("b", x) if "b" in self.params else np.zeros(self.out_features, x.dtype)
        out, self._cache = F.linear_forward(x, self._param("W", x), b)
        return out

    def backward(self, dout):
        dx, dW, db = F.linear_backward(dout, self._saved())
        self._set_grad("W", dW)
        if "b" in self.params:
            self._set_grad("b", db)
        return dx


class _Elementwise(Module):
    """An activation given by a functional forward/backward pair."""
    _forward = _backward = None

    def forward(self, x):
        self._check_input(x)
        out, self._cache = type(self)._forward(x)
        return out

    def backward(self, dout):
        return type(self)._backward(dout, self._saved())


class ReLU(_Elementwise):
    """``max(x, 0)``; gradient 0 at x == 0. Shape: any -> same."""
    _forward, _backward = F.relu_forward, F.relu_backward


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``. Shape: any -> same."""
    _forward, _backward = F.sigmoid_forward, F.sigmoid_backward


class Tanh(_Elementwise):
    """``tanh(x)``. Shape: any -> same."""
    _forward, _backward = F.tanh_forward, F.tanh_backward


class LeakyReLU(Module):
    """``x if x > 0 else negative_slope * x``. Shape: any -> same."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"

    def forward(self, x):
        self._check_input(x)
        out, self._cache = F.leaky_relu_forward(x, self.negative_slope)
        return out

    def backward(self, dout):
        return F.leaky_relu_backward(dout, self._saved())


class Flatten(Module):
    """(N, d_1, ..., d_k) -> (N, d_1 * ... * d_k)."""

    def forward(self, x):
        self._check_input(x, ndim=range(2, 8))
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        shape = self._saved()
        if dout.shape != (shape[0], int(np.prod(shape[1:]))):
            raise ValueError(f"Flatten: expected dout of shape {(shape[0], int(np.prod(shape[1:])))}, got {dout.shape}")
        return dout.reshape(shape)


class Dropout(Module):
    """Inverted dropout: drops each unit with probability ``p`` in training, identity in eval.

    Args:
        p: drop probability in [0, 1).
        rng: ``numpy.random.Generator`` for reproducible masks.
    Shape: any -> same.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise ValueError(f"Dropout: p is the drop probability and must be in [0, 1), got {p!r}")
        self.p = p
        self.rng = np.random.default_rng() if rng is None else rng

    @property
    def name(self):
        return f"Dropout(p={self.p})"

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        self._check_input(x)
        out, self._cache = F.dropout_forward(x, self.p, self.training, self.rng)
        return out

    def backward(self, dout):
        return F.dropout_backward(dout, self._saved())


class Dropout2d(Module):
    """Channel (spatial) dropout, as PyTorch's ``nn.Dropout2d``: in training each channel of
    each image is dropped as a whole with probability ``p`` (kept ones scaled by ``1/(1-p)``);
    identity in eval.

    Args:
        p: drop probability in [0, 1).
        rng: ``numpy.random.Generator`` for reproducible masks.
    Shape: (N, C, H, W) -> same.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise ValueError(f"Dropout2d: p is the drop probability and must be in [0, 1), got {p!r}")
        self.p = p
        self.rng = np.random.default_rng() if rng is None else rng

    @property
    def name(self):
        return f"Dropout2d(p={self.p})"

    def extra_repr(self):
        return f"p={self.p}"

    def forward(self, x):
        self._check_input(x, ("N", "C", "H", "W"))
        out, self._cache = F.dropout2d_forward(x, self.p, self.training, self.rng)
        return out

    def backward(self, dout):
        return F.dropout2d_backward(dout, self._saved())
