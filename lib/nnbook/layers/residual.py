"""Shortcut connections and the pre-activation residual block."""
import numpy as np

from .. import functional as F
from .._checks import check_positive_int
from .base import Module
from .basic import ReLU
from .conv import Conv2d
from .norm import BatchNorm2d


class Shortcut(Module):
    """``out = alpha * x + beta * y`` (darknet rule when sizes differ, see ``functional.shortcut``).

    ``forward(x, y) -> out`` takes two inputs; ``backward(dout) -> (dx, dy)``.
    Shape: x (N, C_x, H_x, W_x), y (N, C_y, H_y, W_y) -> x's shape.
    """

    def __init__(self, alpha=1.0, beta=1.0):
        super().__init__()
        self.alpha, self.beta = alpha, beta

    def extra_repr(self):
        return f"alpha={self.alpha}, beta={self.beta}"

    def forward(self, x, y):
        out, self._cache = F.shortcut_forward(x, y, self.alpha, self.beta)
        return out

    def backward(self, dout):
        return F.shortcut_backward(dout, self._saved())


def needs_projection(in_channels, out_channels, stride):
    """A residual block needs a projection shortcut when its output shape differs from its input's."""
    return stride != 1 or in_channels != out_channels


class ResidualBlock(Module):
    """Pre-activation residual block (He et al., 2016).

    ``h = relu(bn1(x))``; ``F(x) = conv2(relu(bn2(conv1(h))))`` with 3x3 convolutions
    (conv1 has the block's stride); ``out = F(x) + shortcut``, where the shortcut is
    x itself when the shapes match, else the projection ``conv1x1(h)`` with the block's
    stride and ``out_channels`` filters, applied to the *pre-activated* input h.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        stride: the stride of conv1 (and of the projection).
        shortcut: False gives the "plain" block, ``out = F(x)`` (no shortcut, no projection).
        batch_norm: False leaves out bn1 and bn2 (``h = relu(x)``,
            ``F(x) = conv2(relu(conv1(h)))``); conv1 and conv2 then have biases, which the batch
            norms' ``beta`` replaces otherwise.

    Attributes:
        bn1, conv1, bn2, conv2: the residual branch (bn1, bn2 are None without batch norm);
        projection: ``Conv2d`` or None.
    Shape:
        (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels, out_channels, stride=1, shortcut=True, batch_norm=True, rng=None,
                 dtype=np.float32):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "ResidualBlock", "in_channels")
        self.out_channels = check_positive_int(out_channels, "ResidualBlock", "out_channels")
        self.stride = check_positive_int(stride, "ResidualBlock", "stride")
        self.use_shortcut = shortcut
        self.batch_norm = bool(batch_norm)
        self.bn1 = BatchNorm2d(in_channels, dtype=dtype) if batch_norm else None
        self.relu1 = ReLU()
        self.conv1 = Conv2d(in_channels, out_channels, 3, stride, 1, bias=not batch_norm, rng=rng,
                            dtype=dtype)
        self.bn2 = BatchNorm2d(out_channels, dtype=dtype) if batch_norm else None
        self.relu2 = ReLU()
        self.conv2 = Conv2d(out_channels, out_channels, 3, 1, 1, bias=not batch_norm, rng=rng,
                            dtype=dtype)
        self.projection = None
        if shortcut and needs_projection(in_channels, out_channels, stride):
            self.projection = Conv2d(in_channels, out_channels, 1, stride, 0, bias=False, rng=rng, dtype=dtype)
        self.add = Shortcut()
        for label in ("bn1", "conv1", "bn2", "conv2", "projection"):
            if getattr(self, label) is not None:
                getattr(self, label)._name_in_parent = label

    @property
    def name(self):
        return f"ResidualBlock({self.in_channels}→{self.out_channels}, stride={self.stride})"

    def extra_repr(self):
        options = "" if self.use_shortcut else ", shortcut=False"
        options += "" if self.batch_norm else ", batch_norm=False"
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}{options}"

    def children(self):
        parts = [self.bn1, self.conv1, self.bn2, self.conv2, self.projection]
        return [part for part in parts if part is not None]

    def train(self, mode=True):
        super().train(mode)
        self.relu1.train(mode), self.relu2.train(mode), self.add.train(mode)
        return self

    def forward(self, x):
        self._check_input(x, ("N", self.in_channels, "H", "W"))
        h = self.relu1(self.bn1(x) if self.batch_norm else x)
        z = self.conv1(h)
        branch = self.conv2(self.relu2(self.bn2(z) if self.batch_norm else z))
        if not self.use_shortcut:
            self._cache = "plain"
            return branch
        skip = x if self.projection is None else self.projection(h)
        self._cache = "residual"
        return self.add(branch, skip)

    def backward(self, dout):
        if self._saved() == "plain":
            dbranch, dskip = dout, None
        else:
            dbranch, dskip = self.add.backward(dout)
        dz = self.relu2.backward(self.conv2.backward(dbranch))
        dh = self.conv1.backward(self.bn2.backward(dz) if self.batch_norm else dz)
        if dskip is None:
            dx_skip = 0
        elif self.projection is None:
            dx_skip = dskip
        else:
            dh = dh + self.projection.backward(dskip)
            dx_skip = 0
        dx = self.relu1.backward(dh)
        return (self.bn1.backward(dx) if self.batch_norm else dx) + dx_skip


class BottleneckBlock(Module):
    """Pre-activation bottleneck block (He et al., 2015; pre-activation order of He et al., 2016).

    Three convolutions instead of two: a 1x1 convolution reduces the channels to ``width``,
    a 3x3 convolution (with the block's stride) works at that reduced width, and a 1x1
    convolution expands to ``width * expansion`` output channels. Each is preceded by
    batch norm and ReLU:
    ``h = relu(bn1(x))``, ``F(x) = conv3(relu(bn3(conv2(relu(bn2(conv1(h)))))))``,
    ``out = F(x) + shortcut``, where the shortcut is x itself when the shapes match, else the
    projection ``conv1x1(h)`` with the block's stride (as in :class:`ResidualBlock`).
    The stride sits on the 3x3 convolution, as in torchvision's ResNet-50 ("v1.5");
    He et al. (2015) put it on the first 1x1 convolution.

    Args:
        in_channels: C, the channels of x.
        width: the channels inside the block (64 in the first stage of ResNet-50).
        stride: stride of the 3x3 convolution and of the projection.
        expansion: the output has ``width * expansion`` channels (4 in ResNet-50).
    Attributes:
        bn1, conv1, bn2, conv2, bn3, conv3: the residual branch; projection: ``Conv2d`` or None;
        add: the ``Shortcut`` that adds branch and shortcut.
    Shape:
        (N, in_channels, H, W) -> (N, width * expansion, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels, width, stride=1, expansion=4, rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "BottleneckBlock", "in_channels")
        self.width = check_positive_int(width, "BottleneckBlock", "width")
        self.stride = check_positive_int(stride, "BottleneckBlock", "stride")
        self.expansion = check_positive_int(expansion, "BottleneckBlock", "expansion")
        self.out_channels = width * expansion
        self.bn1, self.relu1 = BatchNorm2d(in_channels, dtype=dtype), ReLU()
        self.conv1 = Conv2d(in_channels, width, 1, 1, 0, bias=False, rng=rng, dtype=dtype)
        self.bn2, self.relu2 = BatchNorm2d(width, dtype=dtype), ReLU()
        self.conv2 = Conv2d(width, width, 3, stride, 1, bias=False, rng=rng, dtype=dtype)
        self.bn3, self.relu3 = BatchNorm2d(width, dtype=dtype), ReLU()
        self.conv3 = Conv2d(width, self.out_channels, 1, 1, 0, bias=False, rng=rng, dtype=dtype)
        self.projection = None
        if needs_projection(in_channels, self.out_channels, stride):
            self.projection = Conv2d(in_channels, self.out_channels, 1, stride, 0, bias=False, rng=rng,
                                     dtype=dtype)
        self.add = Shortcut()
        for label in ("bn1", "conv1", "bn2", "conv2", "bn3", "conv3", "projection"):
            if getattr(self, label) is not None:
                getattr(self, label)._name_in_parent = label

    @property
    def name(self):
        return f"BottleneckBlock({self.in_channels}→{self.width}→{self.out_channels}, stride={self.stride})"

    def extra_repr(self):
        return f"{self.in_channels}, {self.width}, stride={self.stride}, expansion={self.expansion}"

    def children(self):
        parts = [self.bn1, self.conv1, self.bn2, self.conv2, self.bn3, self.conv3]
        return parts + ([self.projection] if self.projection is not None else [])

    def train(self, mode=True):
        super().train(mode)
        for layer in (self.relu1, self.relu2, self.relu3, self.add):
            layer.train(mode)
        return self

    def forward(self, x):
        self._check_input(x, ("N", self.in_channels, "H", "W"))
        h = self.relu1(self.bn1(x))
        a = self.conv2(self.relu2(self.bn2(self.conv1(h))))
        branch = self.conv3(self.relu3(self.bn3(a)))
        skip = x if self.projection is None else self.projection(h)
        self._cache = "residual"
        return self.add(branch, skip)

    def backward(self, dout):
        self._saved()
        dbranch, dskip = self.add.backward(dout)
        da = self.bn3.backward(self.relu3.backward(self.conv3.backward(dbranch)))
        dh = self.conv1.backward(self.bn2.backward(self.relu2.backward(self.conv2.backward(da))))
        if self.projection is None:
            return self.bn1.backward(self.relu1.backward(dh)) + dskip
        dh = dh + self.projection.backward(dskip)
        return self.bn1.backward(self.relu1.backward(dh))
