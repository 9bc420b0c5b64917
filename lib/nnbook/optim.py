"""Optimizers. All share one interface::

    opt = SGD(model, lr=0.1, momentum=0.9)
    ...  # forward, loss, model.backward(dlogits)
    opt.step()          # updates every parameter in place from model's grads

State (momentum buffers, moments) is kept per parameter name.
"""
import numpy as np


class Optimizer:
    def __init__(self, model, lr):
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr!r}")
        self.model, self.lr, self.state = model, lr, {}

    def step(self):
        for name, module, key in self.model.named_parameters():
            if key not in module.grads:
                raise RuntimeError(f"{type(self).__name__}: no gradient for {name}; call model.backward first")
            p, g = module.params[key], module.grads[key]
            self.update(name, p, g.astype(p.dtype, copy=False))

    def update(self, name, p, g):
        raise NotImplementedError


class SGD(Optimizer):
    """``v = momentum * v + g + weight_decay * p``; ``p -= lr * v`` (PyTorch's SGD)."""

    def __init__(self, model, lr=0.01, momentum=0.0, weight_decay=0.0):
        super().__init__(model, lr)
        self.momentum, self.weight_decay = momentum, weight_decay

    def update(self, name, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            v = self.state.get(name)
            v = g.copy() if v is None else self.momentum * v + g
            self.state[name] = v
            g = v
        p -= self.lr * g


class RMSProp(Optimizer):
    """``s = alpha * s + (1 - alpha) * g**2``; ``p -= lr * g / (sqrt(s) + eps)``."""

    def __init__(self, model, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(model, lr)
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay

    def update(self, name, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        s = self.state.setdefault(name, np.zeros_like(p))
        s *= self.alpha
        s += (1 - self.alpha) * g * g
        p -= self.lr * g / (np.sqrt(s) + self.eps)


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba), PyTorch's defaults."""

    def __init__(self, model, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(model, lr)
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay

    def update(self, name, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        b1, b2 = self.betas
        st = self.state.setdefault(name, {"t": 0, "m": np.zeros_like(p), "v": np.zeros_like(p)})
        st["t"] += 1
        st["m"] *= b1
        st["m"] += (1 - b1) * g
        st["v"] *= b2
        st["v"] += (1 - b2) * g * g
        m_hat = st["m"] / (1 - b1 ** st["t"])
        v_hat = st["v"] / (1 - b2 ** st["t"])
        p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
