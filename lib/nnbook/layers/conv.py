"""Convolution and pooling layers (NCHW)."""
import numpy as np

from .. import functional as F
from .._checks import as_pair, check_positive_int
from ..init import init_weight
from .base import Module


class Conv2d(Module):
    """2-D convolution (cross-correlation) with zero padding, like ``torch.nn.Conv2d``.

    Attributes:
        params["W"]: shape (out_channels, in_channels, kh, kw), He (or Glorot) normal
            with fan_in = in_channels * kh * kw.
        params["b"]: shape (out_channels,), zeros (absent when ``bias=False``).
    Shape:
        (N, in_channels, H, W) -> (N, out_channels, Ho, Wo),
        ``Ho = (H + 2*ph - kh) // sh + 1``, ``Wo = (W + 2*pw - kw) // sw + 1``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "Conv2d", "in_channels")
        self.out_channels = check_positive_int(out_channels, "Conv2d", "out_channels")
        self.kernel_size = as_pair(kernel_size, self.name, "kernel_size")
        self.stride = as_pair(stride, self.name, "stride")
        self.padding = as_pair(padding, self.name, "padding")
        kh, kw = self.kernel_size
        self.params["W"] = init_weight((out_channels, in_channels, kh, kw), init, rng, dtype, who="Conv2d")
        if bias:
            self.params["b"] = np.zeros(out_channels, dtype=dtype)
        self.zero_grad()

    @property
    def name(self):
        return f"Conv2d({self.in_channels}→{self.out_channels})"

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        return s + (f", padding={self.padding}" if any(self.padding) else "") + \
            ("" if "b" in self.params else ", bias=False")

    def forward(self, x):
        self._check_input(x, ("N", self.in_channels, "H", "W"))
        b = self._param("b", x) if "b" in self.params else None
        out, self._cache = F.conv2d_forward(x, self._param("W", x), b, self.stride, self.padding)
        return out

    def backward(self, dout):
        dx, dW, db = F.conv2d_backward(dout, self._saved())
        self._set_grad("W", dW)
        if db is not None:
            self._set_grad("b", db)
        return dx


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
