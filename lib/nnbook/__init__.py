"""nnbook: neural-network layers built in NumPy, exact to PyTorch.

Shape letters used in every docstring: N batch size, C channels, H/W height/width,
D input features, M output features, F filters (output channels), K classes,
kh/kw kernel size, sh/sw stride, ph/pw padding. Images are NCHW.

- :mod:`nnbook.functional`: ``*_forward(...) -> (out, cache)``, ``*_backward(dout, cache)``.
- :mod:`nnbook.layers`: ``Linear``, ``Conv2d``, ``MaxPool2d``, ``ResidualBlock``, ``Sequential``, ...
- :mod:`nnbook.optim`, :mod:`nnbook.schedules`, :mod:`nnbook.init`, :mod:`nnbook.train`,
  :mod:`nnbook.models`, :mod:`nnbook.data`,
  :mod:`nnbook.gradcheck`.
"""
from . import data, functional, gradcheck, init, layers, models, optim, schedules
from .gradcheck import check_layer, numerical_gradient, rel_error
from .layers import (AvgPool2d, BatchNorm1d, BatchNorm2d, BottleneckBlock, Conv2d, Dropout, Dropout2d, Flatten,
                     GlobalAvgPool2d, GroupNorm, LayerNorm, LeakyReLU, Linear, MaxPool2d, Module, ReLU, ResidualBlock,
                     Sequential, Shortcut, Sigmoid, Tanh)
from .optim import SGD, Adagrad, Adam, RMSProp
from .train import evaluate, fit, lr_range_test, predict, update_bn

__version__ = "0.1.0"
