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


# --- nnbook's own functions with the caches the exercises state (tests use them as learners) --------

def _library_backward(exercise_id):
    """``backward(dout, cache)`` of nnbook on a cache in the exercise's stated format."""
    import nnbook.functional as F
    forward_id = exercise_id.replace("_backward", "_forward")
    if exercise_id == "dropout_backward":
        return lambda dout, mask: dout.copy() if mask is None else dout * mask
    if exercise_id == "batchnorm_backward":
        def batchnorm_backward(dout, cache):
            x, gamma, mean, var, eps, training = cache
            _, lib = F.batchnorm_forward(x, gamma, np.zeros_like(gamma), np.array(mean, copy=True),
                                         np.array(var, copy=True), training=training, eps=eps)
            return F.batchnorm_backward(dout, lib)
        return batchnorm_backward
    fwd, bwd = getattr(F, forward_id), getattr(F, exercise_id)

    def backward(dout, cache):      # every entry of the cache is an argument of the forward
        args = (cache,) if exercise_id == "relu_backward" else cache
        return bwd(dout, fwd(*args)[1])
    backward.__name__ = exercise_id
    return backward


def as_stated(exercise_id):
    """nnbook's own ``exercise_id`` with the cache the exercise states (:class:`CacheContract`): its
    forward returns that cache, its backward reads it. Exercises without a contract: nnbook's own."""
    import copy

    import nnbook.functional as F
    from nnbook.grading import EXERCISES
    ex = EXERCISES[exercise_id]
    if ex.cache is None:
        return getattr(F, exercise_id)
    if ex.kind == "backward":
        return _library_backward(exercise_id)
    ref = getattr(F, exercise_id)

    def forward(*args, **kwargs):
        cache = ex.cache.build(*copy.deepcopy(args), **copy.deepcopy(kwargs))   # the inputs as they came in
        return ref(*args, **kwargs)[0], cache
    forward.__name__ = exercise_id
    return forward
