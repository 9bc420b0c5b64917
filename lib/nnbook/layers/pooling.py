"""Pooling layers (NCHW): ``MaxPool2d``, ``AvgPool2d`` (windows) and ``GlobalAvgPool2d``."""
import numpy as np

from .. import functional as F
from .._checks import as_pair
from .base import Module


class _Pool2d(Module):
    _forward = _backward = None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        who = type(self).__name__
        self.kernel_size = as_pair(kernel_size, who, "kernel_size")
        self.stride = self.kernel_size if stride is None else as_pair(stride, who, "stride")
        self.padding = as_pair(padding, who, "padding")
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{who}: padding must be at most half the kernel size (as in PyTorch), "
                             f"got padding {self.padding} for kernel_size {self.kernel_size}")
        if not isinstance(ceil_mode, (bool, np.bool_)):
            raise TypeError(f"{who}: ceil_mode must be True or False, got {ceil_mode!r}")
        self.ceil_mode = bool(ceil_mode)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}"
                + (f", padding={self.padding}" if any(self.padding) else "")
                + (", ceil_mode=True" if self.ceil_mode else ""))

    def _options(self):
        return {"padding": self.padding, "ceil_mode": self.ceil_mode}

    def forward(self, x):
        self._check_input(x, ("N", "C", "H", "W"))
        out, self._cache = type(self)._forward(x, self.kernel_size, self.stride, **self._options())
        return out

    def backward(self, dout):
        return type(self)._backward(dout, self._saved())


class MaxPool2d(_Pool2d):
    """Max over each (kh, kw) window, like ``torch.nn.MaxPool2d``; ``stride`` defaults to
    ``kernel_size``; ``padding`` (at most half the kernel) pads with -inf.

    Shape:
        (N, C, H, W) -> (N, C, Ho, Wo), ``Ho = (H + 2*ph - kh) // sh + 1`` (likewise Wo);
        with ``ceil_mode=True`` the division rounds up (see :mod:`nnbook.functional.pooling`).
    """
    _forward, _backward = F.maxpool2d_forward, F.maxpool2d_backward


class AvgPool2d(_Pool2d):
    """Mean over each (kh, kw) window, like ``torch.nn.AvgPool2d``; ``stride`` defaults to
    ``kernel_size``; ``padding`` (at most half the kernel) pads with zeros, which count in the
    mean when ``count_include_pad=True`` (the default) and not otherwise.

    Shape:
        (N, C, H, W) -> (N, C, Ho, Wo), ``Ho = (H + 2*ph - kh) // sh + 1`` (likewise Wo);
        with ``ceil_mode=True`` the division rounds up (see :mod:`nnbook.functional.pooling`).
    """
    _forward, _backward = F.avgpool2d_forward, F.avgpool2d_backward

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        if not isinstance(count_include_pad, (bool, np.bool_)):
            raise TypeError(f"AvgPool2d: count_include_pad must be True or False, got {count_include_pad!r}")
        self.count_include_pad = bool(count_include_pad)

    def extra_repr(self):
        return super().extra_repr() + ("" if self.count_include_pad else ", count_include_pad=False")

    def _options(self):
        return dict(super()._options(), count_include_pad=self.count_include_pad)


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
