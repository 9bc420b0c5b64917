"""``Sequential``: layers applied one after another."""
from .base import Module


class Sequential(Module):
    """``Sequential(a, b, c)(x) == c(b(a(x)))``; backward runs in reverse order.

    Index it (``model[0]``), iterate it, or ``len`` it like a list.
    """

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is not a layer (got {type(layer).__name__})")
        self.layers = list(layers)

    def children(self):
        return self.layers

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout
