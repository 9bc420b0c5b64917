"""Shared test helpers: seeded data and gradient checks of functional pairs."""
import numpy as np

from nnbook.gradcheck import numerical_gradient, rel_error

GRAD_TOL = 1e-7


def rand(rng, *shape):
    return rng.standard_normal(shape)


def check_pair_gradients(forward, backward, inputs, names, rng, **kwargs):
    """Numerical vs analytic gradients of ``forward(*inputs, **kwargs)`` for each input array.

    Returns {name: rel_error}. ``backward(dout, cache)`` must return grads in input order.
    """
    out, cache = forward(*inputs, **kwargs)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    errors = {}
    for name, arr, g in zip(names, inputs, grads):
        num = numerical_gradient(lambda: forward(*inputs, **kwargs)[0], arr, dout)
        errors[name] = rel_error(g, num)
    return errors
