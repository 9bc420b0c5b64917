"""Ready-made models for the book: MLPs (with or without batch norm), a small ResNet, and deep
plain/residual nets."""
import numpy as np

from .layers import (BatchNorm1d, BatchNorm2d, Conv2d, GlobalAvgPool2d, Linear, ReLU,
                     ResidualBlock, Sequential)


def mlp(sizes, rng=None, dtype=np.float32):
    """``Linear -> ReLU -> ... -> Linear``; ``sizes = (in, hidden..., out)``. (N, in) -> (N, out)."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(a, b, rng=rng, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(ReLU())
    return Sequential(*layers)


def bn_mlp(sizes, batch_norm=True, rng=None, dtype=np.float32):
    """``Linear -> BatchNorm1d -> ReLU -> ... -> Linear``; ``sizes = (in, hidden..., out)``.

    Every hidden ``Linear`` is followed by ``BatchNorm1d`` and then ``ReLU``; the hidden
    ``Linear`` layers have no bias, because the batch norm's ``beta`` takes its place (a bias
    added before batch norm is removed again by the mean subtraction). The last ``Linear``
    keeps its bias and has no batch norm after it.
    With ``batch_norm=False`` the same stack without the batch norms (and with the hidden
    biases, all zero at the start): for the same ``rng`` seed both get the same initial weights.
    Shape: (N, in) -> (N, out).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    if len(sizes) < 2:
        raise ValueError(f"bn_mlp: sizes needs at least (in, out), got {tuple(sizes)!r}")
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = i < len(sizes) - 2
        layers.append(Linear(a, b, bias=not (hidden and batch_norm), rng=rng, dtype=dtype))
        if hidden:
            if batch_norm:
                layers.append(BatchNorm1d(b, dtype=dtype))
            layers.append(ReLU())
    return Sequential(*layers)


def small_resnet(in_channels=1, num_classes=10, widths=(16, 32), blocks_per_stage=1, shortcut=True,
                 batch_norm=True, rng=None, dtype=np.float32):
    """A small pre-activation ResNet for small images such as the 8x8 digits.

    stem conv3x3 -> for each width: ``blocks_per_stage`` residual blocks (the first of every
    stage after the first has stride 2 and a projection shortcut) -> BN -> ReLU ->
    global average pool -> Linear.

    For ablations: ``shortcut=False`` makes every block plain (no shortcut, no projection);
    ``batch_norm=False`` leaves out every batch norm (the blocks' and the head's) and gives the
    convolutions before them biases instead.
    Shape: (N, in_channels, H, W) -> (N, num_classes) logits.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    layers = [Conv2d(in_channels, widths[0], 3, padding=1, bias=not batch_norm, rng=rng, dtype=dtype)]
    channels = widths[0]
    for stage, width in enumerate(widths):
        for b in range(blocks_per_stage):
            stride = 2 if stage > 0 and b == 0 else 1
            layers.append(ResidualBlock(channels, width, stride, shortcut=shortcut,
                                        batch_norm=batch_norm, rng=rng, dtype=dtype))
            channels = width
    layers += [BatchNorm2d(channels, dtype=dtype)] if batch_norm else []
    layers += [ReLU(), GlobalAvgPool2d(), Linear(channels, num_classes, rng=rng, dtype=dtype)]
    return Sequential(*layers)


def deep_cnn(depth, width=16, in_channels=1, num_classes=10, residual=True, rng=None, dtype=np.float32):
    """``depth`` blocks of two 3x3 convolutions each, with or without shortcuts.

    With ``residual=False`` every block is the same pre-activation stack without its
    shortcut (a "plain" net), so the two differ only in the identity connections.
    Shape: (N, in_channels, H, W) -> (N, num_classes).
    """
    rng = np.random.default_rng(0) if rng is None else rng
    layers = [Conv2d(in_channels, width, 3, padding=1, bias=False, rng=rng, dtype=dtype)]
    layers += [ResidualBlock(width, width, shortcut=residual, rng=rng, dtype=dtype) for _ in range(depth)]
    layers += [BatchNorm2d(width, dtype=dtype), ReLU(), GlobalAvgPool2d(),
               Linear(width, num_classes, rng=rng, dtype=dtype)]
    return Sequential(*layers)
