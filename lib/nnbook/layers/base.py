"""``Module``: the base class of every layer.

A layer has ``params`` and ``grads`` (dicts with the same keys; the arrays in
``params`` are the live parameters), ``forward(x) -> out`` (also ``layer(x)``),
``backward(dout) -> dx`` (which fills ``grads``), and ``train()`` / ``eval()``.
"""
import numpy as np

from .._checks import check_array, check_shape


class Module:
    """Base class. Subclasses set ``self.params`` (then call ``self.zero_grad()`` so that
    ``grads`` has the same keys from the start) and implement ``forward``/``backward``."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.training = True
        self._cache = None

    # --- the interface -------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args):
        return self.forward(*args)

    def children(self):
        """Sub-layers, in order (none for a plain layer)."""
        return []

    def modules(self):
        """Yield this layer and every layer inside it, depth first (as PyTorch's ``modules()``)."""
        yield self
        for child in self.children():
            yield from child.modules()

    # --- modes and parameters ------------------------------------------------
    def train(self, mode=True):
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def named_parameters(self, prefix=""):
        """Yield ``(name, module, key)`` for every parameter, e.g. ``("0.conv1.W", conv, "W")``."""
        for key in self.params:
            yield prefix + key, self, key
        for i, child in enumerate(self.children()):
            name = getattr(child, "_name_in_parent", None) or str(i)
            yield from child.named_parameters(f"{prefix}{name}.")

    def num_parameters(self):
        return sum(m.params[k].size for _, m, k in self.named_parameters())

    def zero_grad(self):
        for _, module, key in self.named_parameters():
            module.grads[key] = np.zeros_like(module.params[key])

    def to(self, dtype):
        """Convert every parameter (and buffer) to ``dtype`` in place; returns self."""
        for _, module, key in self.named_parameters():
            module.params[key] = module.params[key].astype(dtype)
            module.grads[key] = np.zeros_like(module.params[key])
        for module in self.modules():
            for buf in getattr(module, "_buffers", ()):
                setattr(module, buf, getattr(module, buf).astype(dtype))
        return self

    # --- helpers for subclasses ------------------------------------------------
    @property
    def name(self):
        """Short name used in error messages, e.g. ``Conv2d(3→8)``."""
        return type(self).__name__

    def _check_input(self, x, expected=None, ndim=None):
        check_array(x, self.name, "input", ndim=ndim)
        if expected is not None:
            check_shape(x, expected, self.name)
        return x

    def _param(self, key, x):
        """The parameter ``key`` in the dtype of ``x``."""
        return self.params[key].astype(x.dtype, copy=False)

    def _set_grad(self, key, g):
        self.grads[key] = g.astype(self.params[key].dtype, copy=False)

    def _saved(self):
        if self._cache is None:
            raise RuntimeError(f"{self.name}: backward called before forward "
                               "(run forward on a batch first, in training mode for dropout/batch norm)")
        return self._cache

    def extra_repr(self):
        return ""

    def __repr__(self):
        kids = self.children()
        if not kids:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for i, child in enumerate(kids):
            label = getattr(child, "_name_in_parent", None) or str(i)
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({label}): {body}")
        lines.append(")")
        return "\n".join(lines)

