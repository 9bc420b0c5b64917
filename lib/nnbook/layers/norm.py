"""Batch normalization layers (PyTorch semantics; see ``functional.batchnorm``)."""
import numpy as np

from .. import functional as F
from .._checks import check_positive_int
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
