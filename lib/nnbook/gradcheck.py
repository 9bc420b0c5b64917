"""Numerical gradients by centered differences, and ``rel_error``.

Used by the tests, the book and the grader to check every backward pass.
Work in float64: with float32 the differences drown in rounding error.
"""
import numpy as np


def rel_error(a, b):
    """Largest absolute difference, relative to the largest magnitude in a or b.

    ``max|a - b| / max(max|a|, max|b|, 1e-12)``: about 1e-10 for a correct float64
    backward, 1e-3 or more for a wrong one. Shapes must match.
    """
    a, b = np.asarray(a), np.asarray(b)
    for name, v in (("a", a), ("b", b)):
        if not (np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.integer)):
            raise TypeError(f"rel_error: {name} must hold real numbers, got dtype {v.dtype}")
    a, b = a.astype(np.float64), b.astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(np.abs(a).max(), np.abs(b).max(), 1e-12)
    return float(np.abs(a - b).max() / scale)


def numerical_gradient(f, x, dout=None, h=1e-6):
    """Gradient of ``sum(f() * dout)`` with respect to the array ``x``, changed in place.

    Args:
        f: function of no arguments that reads ``x`` (a scalar or an array).
        x: float64 array; each entry is nudged by ±h and restored.
        dout: upstream gradient, shape of ``f()`` (omit when f returns a scalar).
    Returns:
        array of the shape of x.
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient: use float64 arrays, got {x.dtype}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = np.sum(f() * (1.0 if dout is None else dout))
        x[i] = old - h
        minus = np.sum(f() * (1.0 if dout is None else dout))
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def check_layer(layer, x, dout=None, rng=None, h=1e-6):
    """Compare a layer's backward with numerical gradients of its input and parameters.

    The layer is converted to float64 first. ``dout`` defaults to a seeded random array.
    Returns:
        dict ``{"x": err, "W": err, ...}`` of :func:`rel_error` values.
    """
    layer.to(np.float64)
    x = np.array(x, dtype=np.float64)
    rng = np.random.default_rng(12345) if rng is None else rng
    out = _forward_fixed(layer, x)
    dout = rng.standard_normal(out.shape) if dout is None else np.asarray(dout, dtype=np.float64)
    _forward_fixed(layer, x)
    dx = layer.backward(dout)
    analytic = {"x": dx}
    analytic.update({name: module.grads[key].copy() for name, module, key in layer.named_parameters()})
    errors = {"x": rel_error(dx, numerical_gradient(lambda: _forward_fixed(layer, x), x, dout, h))}
    for name, module, key in layer.named_parameters():
        num = numerical_gradient(lambda: _forward_fixed(layer, x), module.params[key], dout, h)
        errors[name] = rel_error(analytic[name], num)
    return errors


def _forward_fixed(layer, x):
    """Forward pass that leaves running statistics and random masks unchanged between calls."""
    saved = [(m, b, getattr(m, b).copy()) for m in layer.modules() for b in getattr(m, "_buffers", ())]
    states = [(m, m.rng.bit_generator.state) for m in layer.modules() if hasattr(m, "rng")]
    out = layer(x)
    for m, b, value in saved:
        getattr(m, b)[...] = value
    for m, state in states:
        m.rng.bit_generator.state = state
    return out

