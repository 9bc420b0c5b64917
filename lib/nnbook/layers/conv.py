"""The convolution layer (NCHW). Pooling layers: :mod:`nnbook.layers.pooling`."""
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
