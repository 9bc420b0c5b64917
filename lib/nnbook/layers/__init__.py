"""Layers with state: ``nnbook.Linear``, ``Conv2d``, ``ResidualBlock``, ``Sequential``, ...

Every layer has ``forward(x)`` (or ``layer(x)``), ``backward(dout) -> dx``, ``params`` and
``grads`` dicts with the same keys, and ``train()`` / ``eval()``.
"""
from .base import Module
from .basic import Dropout, Dropout2d, Flatten, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from .container import Sequential
from .conv import Conv2d
from .norm import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .pooling import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .residual import BottleneckBlock, ResidualBlock, Shortcut, needs_projection

__all__ = ["Module", "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Flatten", "Dropout", "Dropout2d",
           "Conv2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "BatchNorm1d", "BatchNorm2d",
           "LayerNorm", "GroupNorm",
           "Shortcut", "ResidualBlock", "BottleneckBlock", "needs_projection", "Sequential"]
