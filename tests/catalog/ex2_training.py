"""Mistake catalog of ex2_training: SGD with momentum, RMSProp, Adam (see catalog/slips.py).

The answers keep the lines the notebook gives (``config = {}`` and the defaults); the slips are in what
the learner writes between them.
"""
import numpy as np

from catalog.slips import Catalog

CATALOG = cat = Catalog("ex2_training")


@cat.correct
def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("lr", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v + dw
    config["velocity"] = v
    next_w = w - config["lr"] * v
    return next_w, config


cat.slip("sgd_momentum", "cs231n_convention", "momentum_lr_in_velocity",
         ('v = config["momentum"] * v + dw', 'v = config["momentum"] * v - config["lr"] * dw'),
         ('next_w = w - config["lr"] * v', 'next_w = w + v'), note="CS231n's velocity, which holds the step")
cat.slip("sgd_momentum", "lr_in_velocity", "momentum_lr_in_velocity",
         ('v = config["momentum"] * v + dw', 'v = config["momentum"] * v + config["lr"] * dw'),
         ('next_w = w - config["lr"] * v', 'next_w = w - v'))
cat.slip("sgd_momentum", "uphill", "momentum_sign", ('next_w = w - config["lr"] * v', 'next_w = w + config["lr"] * v'))
cat.slip("sgd_momentum", "old_velocity", "momentum_order",
         ('v = config.get("velocity", np.zeros_like(w))\n    v = config["momentum"] * v + dw\n'
          '    config["velocity"] = v\n    next_w = w - config["lr"] * v',
          'v = config.get("velocity", np.zeros_like(w))\n    next_w = w - config["lr"] * v\n'
          '    config["velocity"] = config["momentum"] * v + dw'),
         note="steps with the velocity before this gradient is added")
cat.slip("sgd_momentum", "velocity_not_stored", "optimizer_state_not_stored", ('    config["velocity"] = v\n', ''),
         note="the velocity is computed but never put back into config: every step starts from zero")
cat.slip("sgd_momentum", "w_in_place", "optimizer_inplace",
         ('next_w = w - config["lr"] * v', 'w -= config["lr"] * v\n    next_w = w'))
cat.slip("sgd_momentum", "nesterov", "momentum_nesterov",
         ('next_w = w - config["lr"] * v', 'next_w = w - config["lr"] * (dw + config["momentum"] * v)'),
         note="the Nesterov step of chapter 2 instead of plain momentum")


@cat.correct
def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("lr", 1e-2)
    config.setdefault("alpha", 0.99)
    config.setdefault("eps", 1e-8)
    r = config.get("cache", np.zeros_like(w))
    r = config["alpha"] * r + (1 - config["alpha"]) * dw ** 2
    config["cache"] = r
    next_w = w - config["lr"] * dw / (np.sqrt(r) + config["eps"])
    return next_w, config


cat.slip("rmsprop", "eps_inside_sqrt", "rmsprop_eps_inside_sqrt",
         ('(np.sqrt(r) + config["eps"])', 'np.sqrt(r + config["eps"])'))
cat.slip("rmsprop", "decay_swapped", "rmsprop_decay_swapped",
         ('r = config["alpha"] * r + (1 - config["alpha"]) * dw ** 2',
          'r = (1 - config["alpha"]) * r + config["alpha"] * dw ** 2'))
cat.slip("rmsprop", "average_not_stored", "optimizer_state_not_stored", ('    config["cache"] = r\n', ''))
cat.slip("rmsprop", "w_in_place", "optimizer_inplace",
         ('next_w = w - config["lr"] * dw / (np.sqrt(r) + config["eps"])',
          'w -= config["lr"] * dw / (np.sqrt(r) + config["eps"])\n    next_w = w'))
cat.slip("rmsprop", "not_squared", "rmsprop_not_squared",
         ('r = config["alpha"] * r + (1 - config["alpha"]) * dw ** 2',
          'r = config["alpha"] * r + (1 - config["alpha"]) * dw'),
         note="averages the gradients, not their squares")
cat.slip("rmsprop", "adagrad_sum", "rmsprop_sum_not_average",
         ('r = config["alpha"] * r + (1 - config["alpha"]) * dw ** 2', 'r = r + dw ** 2'),
         note="AdaGrad's sum of squares (chapter 2) instead of RMSProp's running average")
cat.slip("rmsprop", "no_sqrt", "rmsprop_no_sqrt",
         ('(np.sqrt(r) + config["eps"])', '(r + config["eps"])'), note="divides by the mean square, not its root")


@cat.correct
def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("lr", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("eps", 1e-8)
    b1, b2 = config["beta1"], config["beta2"]
    t = config.get("t", 0) + 1
    m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
    v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw ** 2
    config["m"], config["v"], config["t"] = m, v, t
    m_hat = m / (1 - b1 ** t)
    v_hat = v / (1 - b2 ** t)
    next_w = w - config["lr"] * m_hat / (np.sqrt(v_hat) + config["eps"])
    return next_w, config


cat.slip("adam", "no_bias_correction", "adam_no_bias_correction",
         ("m_hat = m / (1 - b1 ** t)", "m_hat = m"), ("v_hat = v / (1 - b2 ** t)", "v_hat = v"))
cat.slip("adam", "t_from_one", "adam_step_count",
         ('t = config.get("t", 0) + 1', 't = config.get("t", 1)'),
         ('config["m"], config["v"], config["t"] = m, v, t', 'config["m"], config["v"], config["t"] = m, v, t + 1'),
         note="starts t at 1 and stores the next step's count: config['t'] is one ahead")
cat.slip("adam", "eps_inside_sqrt", "adam_eps_inside_sqrt",
         ('(np.sqrt(v_hat) + config["eps"])', 'np.sqrt(v_hat + config["eps"])'))
cat.slip("adam", "beta1_swapped", "adam_decay_swapped",
         ('m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw',
          'm = (1 - b1) * config.get("m", np.zeros_like(w)) + b1 * dw'))
cat.slip("adam", "stores_corrected", "adam_stored_corrected",
         ('    config["m"], config["v"], config["t"] = m, v, t\n    m_hat = m / (1 - b1 ** t)\n'
          '    v_hat = v / (1 - b2 ** t)\n',
          '    m_hat = m / (1 - b1 ** t)\n    v_hat = v / (1 - b2 ** t)\n'
          '    config["m"], config["v"], config["t"] = m_hat, v_hat, t\n'),
         note="keeps the bias-corrected moments in config: the next step corrects them again")
cat.slip("adam", "t_not_stored", "optimizer_state_not_stored",
         ('config["m"], config["v"], config["t"] = m, v, t', 'config["m"], config["v"] = m, v'),
         note="t is counted but never stored: every step is step 1")
cat.slip("adam", "w_in_place", "optimizer_inplace",
         ('next_w = w - config["lr"] * m_hat / (np.sqrt(v_hat) + config["eps"])',
          'w -= config["lr"] * m_hat / (np.sqrt(v_hat) + config["eps"])\n    next_w = w'))
