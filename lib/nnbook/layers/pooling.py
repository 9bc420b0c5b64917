"""Pooling layers (NCHW): ``MaxPool2d``, ``AvgPool2d`` (windows) and ``GlobalAvgPool2d``."""
import numpy as np

from .. import functional as F
from .._checks import as_pair
from .base import Module


class _Pool2d(Module):
    _forward = _backward = None

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = as_pair(kernel_size, type(self).__name__, "kernel_size")
        self.stride = self.kernel_size if stride is None else as_pair(stride, type(self).__name__, "stride")

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def forward(self, x):
        self._check_input(x, ("N", "C", "H", "W"))
        out, self._cache = type(self)._forward(x, self.kernel_size, self.stride)
        return out

    def backward(self, dout):
        return type(self)._backward(dout, self._saved())


class MaxPool2d(_Pool2d):
    """Max over each (kh, kw) window; ``stride`` defaults to ``kernel_size``.

    Shape: (N, C, H, W) -> (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1).
    """
    _forward, _backward = F.maxpool2d_forward, F.maxpool2d_backward


class AvgPool2d(_Pool2d):
    """Mean over each (kh, kw) window; ``stride`` defaults to ``kernel_size``.

    Shape: (N, C, H, W) -> (N, C, (H - kh) // sh + 1, (W - kw) // sw + 1).
    """
    _forward, _backward = F.avgpool2d_forward, F.avgpool2d_backward


class GlobalAvgPool2d(Module):
    """Mean over all positions of each channel. Shape: (N, C, H, W) -> (N, C)."""

    def forward(self, x):
        self._check_input(x, ("N", "C", "H", "W"))
        self._cache = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dout):
        N, C, H, W = self._saved()
        if dout.shape != (N, C):
            raise ValueError(f"GlobalAvgPool2d: expected dout of shape {(N, C)}, got {dout.shape}")
        return np.broadcast_to((dout / (H * W))[:, :, None, None], (N, C, H, W)).copy()
