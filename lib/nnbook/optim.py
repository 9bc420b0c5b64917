"""Optimizers: update rules as functions, and optimizer objects that apply them to a model.

The rules follow CS231n's contract, with PyTorch's semantics::

    next_w, config = adam(w, dw, config)     # config: learning rate, hyper-parameters, state

``config`` is a dict: hyper-parameters left out get their defaults (``config.setdefault``),
and the state the rule needs between steps (``velocity``; ``cache``; ``m``, ``v``, ``t``) is
kept in it, so feeding the returned config into the next call continues the run. ``w`` and
``dw`` are not changed; ``next_w`` is a new array of ``w``'s shape and dtype.

The optimizer objects share one interface and use these rules (one config per parameter)::

    opt = SGD(model, lr=0.1, momentum=0.9)
    ...  # forward, loss, model.backward(dlogits)
    opt.step()          # updates every parameter in place from model's grads

Weight decay (L2) is added to the gradient by the objects, before the rule: ``g + wd * p``;
``no_decay`` names the parameter keys it skips (e.g. ``("b", "gamma", "beta")``: biases and
batch-norm parameters, as many training recipes do). :func:`clip_grad_norm` rescales a model's
gradients before the step when their total norm is too large; :func:`apply_max_norm` caps the
norm of every unit's incoming weights after the step (the max-norm constraint used with dropout).
"""
import numpy as np


def _start(who, w, dw, config):
    if not isinstance(w, np.ndarray) or not isinstance(dw, np.ndarray):
        raise TypeError(f"{who}: expected w and dw to be numpy arrays, got {type(w).__name__} "
                        f"and {type(dw).__name__}")
    if w.shape != dw.shape:
        raise ValueError(f"{who}: dw must have the shape of w {w.shape}, got {dw.shape}")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TypeError(f"{who}: config must be a dict or None, got {type(config).__name__}")
    return config


def _check_hyper(who, config, positive=("lr",), unit=()):
    for k in positive:
        if not config[k] > 0:
            raise ValueError(f"{who}: config[{k!r}] must be positive, got {config[k]!r}")
    for k in unit:
        if not 0 <= config[k] < 1:
            raise ValueError(f"{who}: config[{k!r}] must be in [0, 1), got {config[k]!r}")


def sgd_momentum(w, dw, config=None):
    r"""One step of SGD with momentum, in PyTorch's form (the velocity is in gradient units).

    .. math::
        u_t = \mu\, u_{t-1} + g_t, \qquad w_t = w_{t-1} - \eta\, u_t, \qquad u_0 = 0

    (CS231n writes :math:`v_t = \mu v_{t-1} - \eta g_t`, :math:`w_t = w_{t-1} + v_t`: the same
    weights for a constant learning rate, but its velocity is :math:`-\eta` times this one.
    The velocity is :math:`u` here, as in chapter 2, where :math:`v` is Adam's second moment.)
    With ``momentum = 0`` this is plain SGD.

    Args:
        w: parameters, any shape.
        dw: gradient of the loss with respect to ``w``, shape of ``w``.
        config: dict (or None) with ``lr`` (:math:`\eta`, default 1e-2), ``momentum``
            (:math:`\mu`, default 0.9) and the state ``velocity`` (:math:`u`, shape of ``w``,
            zeros at the start).
    Returns:
        next_w: shape and dtype of ``w``; config: the same dict with the new ``velocity``.
    Shape:
        ``w``, ``dw``, ``next_w`` and ``velocity`` all have the same (any) shape.
    """
    who = "sgd_momentum"
    config = _start(who, w, dw, config)
    config.setdefault("lr", 1e-2)
    config.setdefault("momentum", 0.9)
    _check_hyper(who, config, unit=("momentum",))
    u = config.get("velocity")
    u = np.zeros_like(w) if u is None else u
    u = config["momentum"] * u + dw
    config["velocity"] = u
    return w - config["lr"] * u, config


def sgd_nesterov(w, dw, config=None):
    r"""One step of SGD with Nesterov momentum, in PyTorch's form (``SGD(nesterov=True)``).

    .. math::
        u_t = \mu\, u_{t-1} + g_t, \qquad w_t = w_{t-1} - \eta\, (g_t + \mu\, u_t), \qquad u_0 = 0

    This is Sutskever et al.'s "gradient at the look-ahead point" written for the look-ahead
    weights themselves: the stored ``w`` is the point where the next gradient is taken.
    With ``momentum = 0`` this is plain SGD.

    Args:
        w: parameters, any shape.
        dw: gradient of the loss with respect to ``w``, shape of ``w``.
        config: dict (or None) with ``lr`` (:math:`\eta`, default 1e-2), ``momentum``
            (:math:`\mu`, default 0.9) and the state ``velocity`` (:math:`u`, shape of ``w``,
            zeros at the start), as in :func:`sgd_momentum`.
    Returns:
        next_w: shape and dtype of ``w``; config: the same dict with the new ``velocity``.
    Shape:
        ``w``, ``dw``, ``next_w`` and ``velocity`` all have the same (any) shape.
    """
    who = "sgd_nesterov"
    config = _start(who, w, dw, config)
    config.setdefault("lr", 1e-2)
    config.setdefault("momentum", 0.9)
    _check_hyper(who, config, unit=("momentum",))
    u = config.get("velocity")
    u = np.zeros_like(w) if u is None else u
    u = config["momentum"] * u + dw
    config["velocity"] = u
    return w - config["lr"] * (dw + config["momentum"] * u), config


def adagrad(w, dw, config=None):
    r"""One step of AdaGrad (Duchi et al., 2011; PyTorch's ``Adagrad`` with its defaults).

    .. math::
        r_t = r_{t-1} + g_t^2, \qquad
        w_t = w_{t-1} - \eta\, \frac{g_t}{\sqrt{r_t} + \epsilon}, \qquad r_0 = 0

    (element-wise). The sum never forgets, so each weight's steps only shrink: for a constant
    gradient the step is :math:`\eta / \sqrt{t}`. RMSProp (:func:`rmsprop`) replaces the sum by
    a decaying average.

    Args:
        w: parameters, any shape.
        dw: gradient, shape of ``w``.
        config: dict (or None) with ``lr`` (default 1e-2), ``eps`` (default 1e-10, PyTorch's)
            and the state ``cache`` (:math:`r`, the sum of the squared gradients so far, shape
            of ``w``).
    Returns:
        next_w: shape and dtype of ``w``; config: the same dict with the new ``cache``.
    Shape:
        ``w``, ``dw``, ``next_w`` and ``cache`` all have the same (any) shape.
    """
    who = "adagrad"
    config = _start(who, w, dw, config)
    config.setdefault("lr", 1e-2)
    config.setdefault("eps", 1e-10)
    _check_hyper(who, config)
    r = config.get("cache")
    r = np.zeros_like(w) if r is None else r
    r = r + dw * dw
    config["cache"] = r
    return w - config["lr"] * dw / (np.sqrt(r) + config["eps"]), config


def rmsprop(w, dw, config=None):
    r"""One step of RMSProp (PyTorch's ``RMSprop`` without momentum or centering).

    .. math::
        r_t = \alpha\, r_{t-1} + (1 - \alpha)\, g_t^2, \qquad
        w_t = w_{t-1} - \eta\, \frac{g_t}{\sqrt{r_t} + \epsilon}, \qquad r_0 = 0

    (element-wise; :math:`\epsilon` is added *outside* the square root, as in PyTorch).

    Args:
        w: parameters, any shape.
        dw: gradient, shape of ``w``.
        config: dict (or None) with ``lr`` (default 1e-2), ``alpha`` (the decay rate of the
            average, default 0.99), ``eps`` (default 1e-8) and the state ``cache``
            (:math:`r`, the running average of squared gradients, shape of ``w``).
    Returns:
        next_w: shape and dtype of ``w``; config: the same dict with the new ``cache``.
    Shape:
        ``w``, ``dw``, ``next_w`` and ``cache`` all have the same (any) shape.
    """
    who = "rmsprop"
    config = _start(who, w, dw, config)
    config.setdefault("lr", 1e-2)
    config.setdefault("alpha", 0.99)
    config.setdefault("eps", 1e-8)
    _check_hyper(who, config, unit=("alpha",))
    r = config.get("cache")
    r = np.zeros_like(w) if r is None else r
    a = config["alpha"]
    r = a * r + (1 - a) * (dw * dw)
    config["cache"] = r
    return w - config["lr"] * dw / (np.sqrt(r) + config["eps"]), config


def adam(w, dw, config=None):
    r"""One step of Adam with bias correction (Kingma & Ba; PyTorch's ``Adam``).

    .. math::
        t &\leftarrow t + 1 \quad (t = 1 \text{ on the first step}) \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
        \hat m_t &= \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
        w_t = w_{t-1} - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    with :math:`m_0 = v_0 = 0`. The correction undoes the pull of the zero start: without it
    the step would be :math:`(1 - \beta_1^t) / \sqrt{1 - \beta_2^t}` times the corrected one,
    which with the default betas is 3.2 at the first step, peaks at 6.6 (step 12) and stays above
    2 until step 287: the uncorrected first steps are several times too *large*.

    Args:
        w: parameters, any shape.
        dw: gradient, shape of ``w``.
        config: dict (or None) with ``lr`` (default 1e-3), ``beta1`` (0.9), ``beta2`` (0.999),
            ``eps`` (1e-8) and the state: ``m`` and ``v`` (the running averages, shape of ``w``,
            before bias correction) and ``t`` (the number of steps taken, this one included;
            0 before the first step).
    Returns:
        next_w: shape and dtype of ``w``; config: the same dict with the new ``m``, ``v``, ``t``.
    Shape:
        ``w``, ``dw``, ``next_w``, ``m`` and ``v`` all have the same (any) shape; ``t`` is an int.
    """
    who = "adam"
    config = _start(who, w, dw, config)
    config.setdefault("lr", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("eps", 1e-8)
    _check_hyper(who, config, unit=("beta1", "beta2"))
    b1, b2 = config["beta1"], config["beta2"]
    m, v = config.get("m"), config.get("v")
    m = np.zeros_like(w) if m is None else m
    v = np.zeros_like(w) if v is None else v
    t = config.get("t", 0) + 1
    m = b1 * m + (1 - b1) * dw
    v = b2 * v + (1 - b2) * (dw * dw)
    config.update(m=m, v=v, t=t)
    m_hat = m / (1 - b1 ** t)
    v_hat = v / (1 - b2 ** t)
    return w - config["lr"] * m_hat / (np.sqrt(v_hat) + config["eps"]), config


def _grads(who, model):
    out = []
    for name, module, key in model.named_parameters():
        if key not in module.grads:
            raise RuntimeError(f"{who}: no gradient for {name}; call model.backward first")
        out.append(module.grads[key])
    return out


def clip_grad_norm(model, max_norm):
    r"""Rescale all gradients of ``model`` in place so that their total norm is at most ``max_norm``.

    .. math::
        \lVert g \rVert = \sqrt{\textstyle\sum_\text{all gradients} \sum_i g_i^2}, \qquad
        g \leftarrow g \cdot \min\!\Big(1, \frac{c}{\lVert g \rVert + 10^{-6}}\Big)

    with :math:`c` = ``max_norm`` (PyTorch's ``torch.nn.utils.clip_grad_norm_``, the same
    :math:`10^{-6}`). The direction of the step is kept; only its length is capped. Call it
    after ``model.backward`` and before ``optimizer.step()``.

    Args:
        model: a layer or ``Sequential`` whose ``grads`` are filled.
        max_norm: the largest total norm :math:`c` allowed, > 0.
    Returns:
        the total norm before clipping (a float), as PyTorch returns it.
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be positive, got {max_norm!r}")
    grads = _grads("clip_grad_norm", model)
    total = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)))
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for g in grads:
            g *= g.dtype.type(scale)
    return total


def _incoming_axes(module):
    """The axes of a layer's ``W`` that hold one output unit's incoming weights, or None."""
    from .layers import Conv2d, Linear
    if isinstance(module, Linear):
        return (0,)                    # W (in_features, out_features): a column per unit
    if isinstance(module, Conv2d):
        return (1, 2, 3)               # W (out_channels, in_channels, kh, kw): a filter per unit
    return None


def apply_max_norm(model, max_norm):
    r"""Project every unit's incoming weight vector onto the ball of radius ``max_norm``, in place.

    .. math::
        w_j \leftarrow \frac{c}{\lVert w_j \rVert_2 + 10^{-7}}\, w_j
        \quad \text{for every } j \text{ with } \lVert w_j \rVert_2 > c

    with :math:`c` = ``max_norm`` (Srivastava et al., 2014, used it with dropout). :math:`w_j`
    is the incoming weight vector of output unit :math:`j`: column ``W[:, j]`` of a ``Linear``
    (shape (in_features, out_features)), filter ``W[j]`` of a ``Conv2d`` (shape
    (out_channels, in_channels, kh, kw)). Every ``Linear`` and ``Conv2d`` in ``model`` is
    constrained, the last layer included; biases and batch-norm parameters are not. Units
    whose norm is at most :math:`c` are left exactly as they are; the others keep their
    direction. This is ``torch.renorm(W, 2, 0, c)`` on PyTorch's layout (the same
    :math:`10^{-7}`). Call it after ``optimizer.step()`` (``fit(max_weight_norm=c)`` does).

    Args:
        model: a layer or ``Sequential``.
        max_norm: the largest norm :math:`c` a unit's incoming weights may have, > 0.
    Returns:
        the largest norm of a unit's incoming weights before the projection (a float; 0.0 if
        the model has no ``Linear`` or ``Conv2d``).
    """
    if not (isinstance(max_norm, (int, float, np.number)) and max_norm > 0):
        raise ValueError(f"apply_max_norm: max_norm must be a positive number, got {max_norm!r}")
    largest = 0.0
    for module in model.modules():
        axes = _incoming_axes(module)
        if axes is None:
            continue
        W = module.params["W"]
        norms = np.sqrt(np.sum(np.square(W, dtype=np.float64), axis=axes, keepdims=True))
        largest = max(largest, float(norms.max()))
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        W *= scale.astype(W.dtype)
    return largest


class Optimizer:
    r"""Applies an update rule to every parameter of a model.

    ``state[name]`` is the rule's config for the parameter ``name`` (hyper-parameters and state).
    ``weight_decay`` (L2, :math:`\lambda`) adds ``weight_decay * p`` to every gradient before the
    rule, except for parameters whose key is in ``no_decay`` (e.g. ``("b", "gamma", "beta")``).
    """
    rule = None

    def __init__(self, model, lr, weight_decay=0.0, no_decay=()):
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr!r}")
        if not weight_decay >= 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0, got {weight_decay!r}")
        if isinstance(no_decay, str) or not all(isinstance(k, str) for k in no_decay):
            raise TypeError(f"{type(self).__name__}: no_decay must be a tuple of parameter keys such as "
                            f"('b', 'gamma', 'beta'), got {no_decay!r}")
        self.model, self.lr, self.state = model, lr, {}
        self.weight_decay, self.no_decay = weight_decay, tuple(no_decay)

    def hyper(self):
        """The hyper-parameters passed to the rule, e.g. ``{"lr": 0.1, "momentum": 0.9}``."""
        return {"lr": self.lr}

    def rule_for(self):
        """The update rule this optimizer applies (a function of :mod:`nnbook.optim`)."""
        return type(self).rule

    def step(self):
        for name, module, key in self.model.named_parameters():
            if key not in module.grads:
                raise RuntimeError(f"{type(self).__name__}: no gradient for {name}; call model.backward first")
            p, g = module.params[key], module.grads[key]
            self.update(name, p, g.astype(p.dtype, copy=False), decay=key not in self.no_decay)

    def update(self, name, p, g, decay=True):
        """Update the parameter array ``p`` in place from its gradient ``g`` (with weight decay
        unless ``decay`` is False)."""
        if self.weight_decay and decay:
            g = g + self.weight_decay * p
        config = self.state.setdefault(name, {})
        config.update(self.hyper())       # the learning rate may change between steps (schedules)
        next_p, self.state[name] = self.rule_for()(p, g, config)
        p[...] = next_p


class SGD(Optimizer):
    """``u = momentum * u + g + weight_decay * p``; ``p -= lr * u`` (PyTorch's SGD; see :func:`sgd_momentum`).

    With ``nesterov=True`` (and ``momentum > 0``) the step is ``p -= lr * (g + momentum * u)``
    (see :func:`sgd_nesterov`).
    """
    rule = staticmethod(sgd_momentum)
    nesterov_rule = staticmethod(sgd_nesterov)

    def __init__(self, model, lr=0.01, momentum=0.0, weight_decay=0.0, nesterov=False, no_decay=()):
        super().__init__(model, lr, weight_decay, no_decay)
        if nesterov and not momentum > 0:
            raise ValueError(f"SGD: nesterov=True needs a momentum > 0, got momentum={momentum!r}")
        self.momentum, self.nesterov = momentum, bool(nesterov)

    def hyper(self):
        return {"lr": self.lr, "momentum": self.momentum}

    def rule_for(self):
        return type(self).nesterov_rule if self.nesterov else type(self).rule


class Adagrad(Optimizer):
    """``r = r + g**2``; ``p -= lr * g / (sqrt(r) + eps)`` (PyTorch's Adagrad; see :func:`adagrad`)."""
    rule = staticmethod(adagrad)

    def __init__(self, model, lr=0.01, eps=1e-10, weight_decay=0.0, no_decay=()):
        super().__init__(model, lr, weight_decay, no_decay)
        self.eps = eps

    def hyper(self):
        return {"lr": self.lr, "eps": self.eps}


class RMSProp(Optimizer):
    """``r = alpha * r + (1 - alpha) * g**2``; ``p -= lr * g / (sqrt(r) + eps)`` (see :func:`rmsprop`)."""
    rule = staticmethod(rmsprop)

    def __init__(self, model, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, no_decay=()):
        super().__init__(model, lr, weight_decay, no_decay)
        self.alpha, self.eps = alpha, eps

    def hyper(self):
        return {"lr": self.lr, "alpha": self.alpha, "eps": self.eps}


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba), PyTorch's defaults (see :func:`adam`)."""
    rule = staticmethod(adam)

    def __init__(self, model, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, no_decay=()):
        super().__init__(model, lr, weight_decay, no_decay)
        self.betas, self.eps = betas, eps

    def hyper(self):
        return {"lr": self.lr, "beta1": self.betas[0], "beta2": self.betas[1], "eps": self.eps}
