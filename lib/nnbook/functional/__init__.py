"""Pure forward/backward pairs (CS231n style).

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward(dout, cache)``
returns the gradients with respect to the forward's array arguments, in order.
Shapes: N batch, C channels, H/W height/width, D features, M outputs, F filters.
"""
from .activations import (leaky_relu_backward, leaky_relu_forward, relu_backward, relu_forward,
                          sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward)
from .batchnorm import batchnorm_backward, batchnorm_forward
from .conv import conv2d_backward, conv2d_forward
from .dropout import dropout2d_backward, dropout2d_forward, dropout_backward, dropout_forward
from .layernorm import groupnorm_backward, groupnorm_forward, layernorm_backward, layernorm_forward
from .linear import linear_backward, linear_forward
from .losses import log_softmax, softmax_cross_entropy
from .pooling import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .shortcut import shortcut_backward, shortcut_forward

__all__ = [
    "linear_forward", "linear_backward",
    "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "conv2d_forward", "conv2d_backward",
    "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward",
    "dropout_forward", "dropout_backward", "dropout2d_forward", "dropout2d_backward",
    "batchnorm_forward", "batchnorm_backward",
    "layernorm_forward", "layernorm_backward", "groupnorm_forward", "groupnorm_backward",
    "shortcut_forward", "shortcut_backward",
    "softmax_cross_entropy", "log_softmax",
]
