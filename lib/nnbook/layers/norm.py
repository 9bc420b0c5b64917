"""Normalization layers with PyTorch semantics: ``BatchNorm1d``, ``BatchNorm2d`` (see
``functional.batchnorm``), ``LayerNorm`` and ``GroupNorm`` (see ``functional.layernorm``)."""
import numpy as np

from .. import functional as F
from .._checks import as_shape, check_eps, check_positive_int
from .base import Module


class _BatchNorm(Module):
    _layout = None  # expected input shape, with num_features in axis 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float32):
        super().__init__()
        self.num_features = check_positive_int(num_features, type(self).__name__, "num_features")
        if not 0 <= momentum <= 1 or not eps > 0:
            raise ValueError(f"{type(self).__name__}: need 0 <= momentum <= 1 and eps > 0, "
                             f"got momentum={momentum!r}, eps={eps!r}")
        self.eps, self.momentum = eps, momentum
        self.params["gamma"] = np.ones(num_features, dtype=dtype)
        self.params["beta"] = np.zeros(num_features, dtype=dtype)
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)
        self._buffers = ("running_mean", "running_var")
        self.zero_grad()

    @property
    def name(self):
        return f"{type(self).__name__}({self.num_features})"

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def forward(self, x):
        layout = tuple(self.num_features if a == "C" else a for a in self._layout)
        self._check_input(x, layout)
        out, self._cache = F.batchnorm_forward(
            x, self._param("gamma", x), self._param("beta", x), self.running_mean, self.running_var,
            training=self.training, momentum=self.momentum, eps=self.eps)
        return out

    def backward(self, dout):
        dx, dgamma, dbeta = F.batchnorm_backward(dout, self._saved())
        self._set_grad("gamma", dgamma)
        self._set_grad("beta", dbeta)
        return dx


class BatchNorm2d(_BatchNorm):
    """Per-channel batch norm of images.

    Attributes:
        params["gamma"] (ones), params["beta"] (zeros): shape (num_features,).
        running_mean (zeros), running_var (ones): shape (num_features,), updated in training.
    Shape: (N, C, H, W) -> same, with C = num_features.
    """
    _layout = ("N", "C", "H", "W")


class BatchNorm1d(_BatchNorm):
    """Per-feature batch norm of vectors. Shape: (N, D) -> same, with D = num_features."""
    _layout = ("N", "C")


class LayerNorm(Module):
    """Normalize every example over its last axes (PyTorch's ``nn.LayerNorm``; see ``functional.layernorm``).

    Args:
        normalized_shape: int or tuple, the trailing shape of the input to normalize over,
            e.g. D for (N, D) vectors or (C, H, W) for images.
        eps: added to the variance.
        elementwise_affine: learn a scale ``gamma`` and (with ``bias``) a shift ``beta``,
            one per normalized value.
        bias: learn ``beta`` (only with ``elementwise_affine``).
    Attributes:
        params["gamma"] (ones), params["beta"] (zeros): shape normalized_shape.
    Shape: (N, *, *normalized_shape) -> same (at least one leading axis, the batch). No running
    statistics: training and evaluation mode compute the same thing.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=np.float32):
        super().__init__()
        self.normalized_shape = as_shape(normalized_shape, "LayerNorm", "normalized_shape")
        check_eps(eps, "LayerNorm")
        self.eps, self.elementwise_affine = eps, bool(elementwise_affine)
        if self.elementwise_affine:
            self.params["gamma"] = np.ones(self.normalized_shape, dtype=dtype)
            if bias:
                self.params["beta"] = np.zeros(self.normalized_shape, dtype=dtype)
        self.zero_grad()

    @property
    def name(self):
        shape = self.normalized_shape
        return f"LayerNorm({shape[0] if len(shape) == 1 else shape})"

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

    def forward(self, x):
        self._check_input(x)
        k = len(self.normalized_shape)
        if x.ndim <= k or x.shape[x.ndim - k:] != self.normalized_shape:
            want = "(N, " + ", ".join(map(str, self.normalized_shape)) + ")"
            raise ValueError(f"{self.name}: expected input of shape {want} (any leading axes), got {x.shape}")
        gamma = self._param("gamma", x) if "gamma" in self.params else None
        beta = self._param("beta", x) if "beta" in self.params else None
        out, self._cache = F.layernorm_forward(x, self.normalized_shape, gamma, beta, self.eps)
        return out

    def backward(self, dout):
        dx, dgamma, dbeta = F.layernorm_backward(dout, self._saved())
        if dgamma is not None:
            self._set_grad("gamma", dgamma)
        if dbeta is not None:
            self._set_grad("beta", dbeta)
        return dx


class GroupNorm(Module):
    """Normalize groups of channels of every example (PyTorch's ``nn.GroupNorm``; see ``functional.layernorm``).

    Args:
        num_groups: G, a divisor of num_channels; consecutive channels form a group.
            G = 1: all of (C, H, W) together (layer norm of an image, with per-channel
            gamma, beta); G = num_channels: instance norm.
        num_channels: C.
        eps: added to the variance.
        affine: learn a per-channel scale ``gamma`` and shift ``beta``.
    Attributes:
        params["gamma"] (ones), params["beta"] (zeros): shape (num_channels,).
    Shape: (N, C, *) -> same, e.g. (N, C, H, W). No running statistics.
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=np.float32):
        super().__init__()
        self.num_groups = check_positive_int(num_groups, "GroupNorm", "num_groups")
        self.num_channels = check_positive_int(num_channels, "GroupNorm", "num_channels")
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        check_eps(eps, "GroupNorm")
        self.eps, self.affine = eps, bool(affine)
        if self.affine:
            self.params["gamma"] = np.ones(num_channels, dtype=dtype)
            self.params["beta"] = np.zeros(num_channels, dtype=dtype)
        self.zero_grad()

    @property
    def name(self):
        return f"GroupNorm({self.num_groups}, {self.num_channels})"

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

    def forward(self, x):
        self._check_input(x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"{self.name}: expected input of shape (N, {self.num_channels}, *), got {x.shape}")
        gamma = self._param("gamma", x) if self.affine else None
        beta = self._param("beta", x) if self.affine else None
        out, self._cache = F.groupnorm_forward(x, self.num_groups, gamma, beta, self.eps)
        return out

    def backward(self, dout):
        dx, dgamma, dbeta = F.groupnorm_backward(dout, self._saved())
        if self.affine:
            self._set_grad("gamma", dgamma)
            self._set_grad("beta", dbeta)
        return dx
