"""Exercise set ex6_batch_norm (``exercises/ex6_batch_norm.ipynb``): batch normalization.

``batchnorm_forward`` has the contract of :func:`nnbook.functional.batchnorm_forward`: in
training it must update ``running_mean`` and ``running_var`` *in place*, so its cases are
judged by :func:`_forward_judge`: ``out`` and the running arrays after the call are compared
with the reference's (in eval mode the running arrays must stay as they were), and ``x``,
``gamma`` and ``beta`` must not change; the cache must be the one the exercise states,
``(x, gamma, mean, var, eps, training)`` (:data:`BN_CACHE`). ``batchnorm_backward`` is graded on
the reference's cache in that format, so a right backward keeps its points whatever the forward
does, against the reference and a numerical gradient, in training and in eval mode.

Hints come from wrong variants: when the learner's output (or running array) equals what a
known mistake gives, that mistake's hint is shown. See :mod:`nnbook.grading.judge.exercise`.
"""
import numpy as np

from ... import functional as F
from ..judge.cases import Case, call_args, materialize, randn
from ..judge.compare import Problem, compare_cache, compare_output, tolerance
from ..judge.exercise import (COMMON_RULES, CacheContract, Exercise, ExerciseSet, Hint, backward_reference, dout_for,
                               dtype_rule, inplace_rule, register, register_set)

ARGS = ("x", "gamma", "beta", "running_mean", "running_var")


def _bn_cache(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
    """The cache the exercise states: the inputs x and gamma, the mean and variance x was normalized
    with (the batch's, biased, in training; the running ones in eval mode), eps and the mode."""
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    else:
        mean, var = running_mean.copy(), running_var.copy()
    return x, gamma, mean, var, eps, training


BN_CACHE = CacheContract(("x", "gamma", "mean", "var", "eps", "training"), _bn_cache)


# --- cases ------------------------------------------------------------------------------------------

def _bn_case(name, shape, training=True, momentum=0.1, eps=1e-5, dtype=np.float64, fresh=False, tags=()):
    def build(rng):
        C = shape[1]
        x = (randn(rng, *shape, dtype=dtype, scale=2.0) + dtype(0.5) * np.arange(C, dtype=dtype).reshape(
            (1, C) + (1,) * (len(shape) - 2))).astype(dtype)
        gamma = (1 + 0.5 * rng.standard_normal(C)).astype(dtype)
        beta = randn(rng, C, dtype=dtype)
        if fresh:
            rm, rv = np.zeros(C, dtype), np.ones(C, dtype)
        else:
            rm, rv = randn(rng, C, dtype=dtype), (0.5 + rng.random(C)).astype(dtype)
        return (x, gamma, beta, rm, rv), {"training": training, "momentum": momentum, "eps": eps}
    t = set(tags) | {"train" if training else "eval"} | ({"nchw"} if len(shape) == 4 else set()) \
        | ({"float32"} if dtype == np.float32 else set())
    return name, build, t


def _specs(hidden):
    if hidden:
        return [_bn_case("(N, D) = (9, 7), training, momentum 0.05", (9, 7), momentum=0.05),
                _bn_case("(N, C, H, W) = (4, 5, 2, 3), training, eps 1e-3", (4, 5, 2, 3), eps=1e-3),
                _bn_case("(N, C, H, W) = (2, 4, 3, 3), eval", (2, 4, 3, 3), training=False),
                _bn_case("float32 (N, D) = (5, 6), eval", (5, 6), training=False, dtype=np.float32)]
    return [_bn_case("(N, D) = (6, 4), training", (6, 4)),
            _bn_case("(N, D) = (3, 5), training, momentum 0.3", (3, 5), momentum=0.3),
            _bn_case("(N, D) = (5, 3), eval", (5, 3), training=False),
            _bn_case("(N, C, H, W) = (2, 3, 4, 4), training", (2, 3, 4, 4)),
            _bn_case("(N, C, H, W) = (3, 2, 3, 5), eval", (3, 2, 3, 5), training=False),
            _bn_case("fresh running statistics (zeros and ones), training", (4, 3), fresh=True),
            _bn_case("batch of 2, eps 1e-3, training", (2, 3), eps=1e-3),
            _bn_case("float32 (N, C, H, W) = (2, 3, 3, 3), training", (2, 3, 3, 3), dtype=np.float32)]


def _inputs_rng(seed):
    """The inputs' generator: another stream than ``dout_for``'s (seeded with the case's seed), since
    a dout drawn like x would be an affine function of x per channel, whose batch-norm dx is 0."""
    return np.random.default_rng([seed, 1])


def _numbered(base, specs):
    cases = []
    for i, (name, build, tags) in enumerate(specs):
        args, kwargs = build(_inputs_rng(base + i))
        cases.append(Case(name, args, kwargs, frozenset(tags), seed=base + i))
    return cases


def _big_case(base):
    """Finite differences: 2 * 131,136 forward passes over 131,072 values each."""
    name, build, tags = _bn_case("big: (N, C, H, W) = (4, 32, 32, 32), training", (4, 32, 32, 32))
    args, kwargs = build(_inputs_rng(base + 90))
    return Case(name, args, kwargs, frozenset({"big"}), seed=base + 90)


def _gradcheck_cases(base):
    cases = []
    for j, (training, shape) in enumerate(((True, (4, 2, 3, 3)), (False, (5, 3)))):
        name, build, tags = _bn_case("", shape, training=training)
        args, kwargs = build(_inputs_rng(base + 98 + j))
        mode = "training" if training else "eval"
        cases.append(Case(f"numerical gradient (float64), {mode}, x {shape}", args, kwargs,
                          frozenset(tags | {"gradcheck"}), seed=base + 98 + j, gradcheck=True))
    return cases


# --- wrong variants (written out here, independently of nnbook.functional) --------------------------

def _variant(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1, eps=1e-5,
             axes=None, ddof_norm=0, batch_stats_in_eval=False, swap_momentum=False, biased_running=False,
             update_in_eval=False, eps_outside=False):
    """Batch norm with one mistake switched on; returns ``(out, new running_mean, new running_var)``.
    ``update_in_eval``: eval mode updates the running statistics first, then normalizes with them."""
    x64 = x.astype(np.float64)
    axes = ((0,) if x.ndim == 2 else (0, 2, 3)) if axes is None else axes
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    rm, rv = running_mean.astype(np.float64), running_var.astype(np.float64)
    if training or batch_stats_in_eval:
        m = int(np.prod([x.shape[a] for a in axes]))
        mean = x64.mean(axis=axes, keepdims=True)
        var = x64.var(axis=axes, keepdims=True)
        norm_var = var * m / (m - 1) if ddof_norm else var
        out = (x64 - mean) / (np.sqrt(norm_var) + eps if eps_outside else np.sqrt(norm_var + eps))
        cm, cv = mean.reshape(-1), var.reshape(-1)
        if cm.shape == rm.shape:
            cv = cv if biased_running else cv * m / (m - 1)
            w_new = 1 - momentum if swap_momentum else momentum
            rm, rv = (1 - w_new) * rm + w_new * cm, (1 - w_new) * rv + w_new * cv
    else:
        if update_in_eval:
            m = x.size // x.shape[1]
            rm = (1 - momentum) * rm + momentum * x64.mean(axis=axes)
            rv = (1 - momentum) * rv + momentum * x64.var(axis=axes) * m / (m - 1)
        std = np.sqrt(rv.reshape(shape)) + eps if eps_outside else np.sqrt(rv.reshape(shape) + eps)
        out = (x64 - rm.reshape(shape)) / std
    out = out * gamma.astype(np.float64).reshape(shape) + beta.astype(np.float64).reshape(shape)
    return out.astype(x.dtype), rm.astype(running_mean.dtype), rv.astype(running_var.dtype)


# the formulas in chapter 6's notation: mu_B and sigma_B^2 the batch's mean and (biased) variance over the m
# values of a feature (a channel, for images), mu^ and sigma^2^ the running estimates, alpha the momentum
HINT_UNBIASED_NORMALIZE = Hint(
    "bn_unbiased_normalize",
    "In training, normalize with the batch's own variance, the biased one (divide by the number of values "
    "per channel, m). The unbiased estimate (divide by m - 1) is only for updating running_var.",
    "y = γ (x − μ_B) / √(σ_B² + ε) + β, with σ_B² = (1/m) Σ (x − μ_B)²",
    "var = x.var(axis=axes)          # ddof=0 (numpy's default) for normalizing")
HINT_EVAL_BATCH_STATS = Hint(
    "bn_eval_batch_stats",
    "In eval mode (training=False) batch norm uses the running statistics, not the batch's, and it does not "
    "change them: the output of one example must not depend on the rest of the batch.",
    "eval: y = γ (x − μ̂) / √(σ̂² + ε) + β, with μ̂, σ̂² the running estimates",
    "mean, var = running_mean, running_var   # when not training")
HINT_EVAL_UPDATES = Hint(
    "bn_eval_updates_running",
    "Eval mode changes nothing: it only reads the running statistics. Updating them belongs to training, "
    "where each batch adds its statistics to the running averages.",
    "eval: μ̂ and σ̂² stay as they are; training: μ̂ ← (1 − α) μ̂ + α μ_B",
    "if training:\n    running_mean[:] = ...   # the updates only here")
HINT_NOT_UPDATED = Hint(
    "bn_running_not_updated",
    "In training, running_mean and running_var must be updated in place: the caller keeps the arrays it "
    "passed in and reads them later. Assigning a new array to the name (running_mean = ...) only changes "
    "your local variable.",
    "μ̂ ← (1 − α) μ̂ + α μ_B, written into the array the caller passed",
    "running_mean *= 1 - momentum; running_mean += momentum * mean   # or running_mean[:] = ...")
HINT_MOMENTUM_SWAPPED = Hint(
    "bn_momentum_swapped",
    "momentum (0.1 by default, as in PyTorch) is the weight of the *new* batch statistic; the old running "
    "value keeps the weight 1 - momentum. Yours has them the other way round.",
    "μ̂ ← (1 − α) μ̂ + α μ_B, with α the momentum (small: the running average changes slowly)",
    "running_mean[:] = (1 - momentum) * running_mean + momentum * mean")
HINT_RUNNING_VAR_BIASED = Hint(
    "bn_running_var_biased",
    "running_var is updated with the unbiased variance of the batch (divide by m - 1, m = values per "
    "channel), as in PyTorch, while normalizing uses the biased one.",
    "σ̂² ← (1 − α) σ̂² + α · m/(m − 1) · σ_B², with σ_B² the biased batch variance",
    "running_var[:] = (1 - momentum) * running_var + momentum * var * m / (m - 1)")
HINT_EPS = Hint(
    "bn_eps_outside_sqrt",
    "eps goes inside the square root, added to the variance (as in PyTorch): it keeps the division safe "
    "when a channel's variance is 0.",
    "x̂ = (x − μ) / √(σ² + ε)",
    "xhat = (x - mean) / np.sqrt(var + eps)")
HINT_CHANNEL_AXES = Hint(
    "bn_channel_axes",
    "For images (N, C, H, W) the statistics are per channel: each channel's mean and variance are taken over "
    "the batch and all positions, so there are C of them, like gamma and beta, shaped to broadcast along "
    "axis 1.",
    "μ_c = (1/m) Σ over n, p, q of x[n, c, p, q], with m = N·H·W",
    "axes = (0,) if x.ndim == 2 else (0, 2, 3); mean = x.mean(axis=axes)")

_WRONG = {
    "out": [(HINT_UNBIASED_NORMALIZE, dict(ddof_norm=1)),
            (HINT_EVAL_BATCH_STATS, dict(batch_stats_in_eval=True)),
            (HINT_EVAL_UPDATES, dict(update_in_eval=True)),
            (HINT_EPS, dict(eps_outside=True)),
            (HINT_CHANNEL_AXES, dict(axes=(0,)))],
    "running": [(HINT_EVAL_BATCH_STATS, dict(batch_stats_in_eval=True)),
                (HINT_MOMENTUM_SWAPPED, dict(swap_momentum=True)),
                (HINT_RUNNING_VAR_BIASED, dict(biased_running=True))],
}


def _agree(a, b, factor=10):
    if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
        return False
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    scale = max(np.abs(a64).max(initial=0), np.abs(b64).max(initial=0), 1e-12)
    return np.abs(a64 - b64).max(initial=0) / scale <= factor * tolerance(a.dtype)


def _forward_rule(case, problem):
    """The hint of the wrong variant whose output (or running array) equals the learner's."""
    if problem.kind != "values" or not isinstance(problem.got, np.ndarray):
        return None
    x = case.args[0]
    if problem.output == "out":
        which, idx = "out", 0
    elif problem.output in ("running_mean", "running_var"):
        which, idx = "running", 1 if problem.output == "running_mean" else 2
        original = case.args[ARGS.index(problem.output)]
        if case.kwargs["training"] and np.array_equal(problem.got, original):
            return HINT_NOT_UPDATED
        if not case.kwargs["training"]:
            return HINT_EVAL_UPDATES          # eval mode changed them (see _one_eval_hint)
    else:
        return None
    for hint, mistake in _WRONG[which]:
        if mistake.get("axes") and x.ndim != 4:
            continue
        with np.errstate(all="ignore"):
            alt = _variant(*materialize(case.args), **case.kwargs, **mistake)[idx]
        if _agree(alt, problem.got) and not _agree(alt, problem.expected, factor=1):
            return hint
    return None


# --- judging the forward: out and the running statistics after the call ---------------------------

def _forward_judge(fn, forward, case):
    from ..judge.errors import exception_problem
    args, kwargs = call_args(case)
    before = [a.copy() for a in args]
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except (Exception, SystemExit) as exc:        # a learner's bug: report it, never crash
        return [exception_problem(exc, list(zip(ARGS, before)) + list(kwargs.items()),
                                  {"out": before[0]})]
    if not isinstance(result, tuple) or len(result) != 2:
        got = f"a tuple of {len(result)}" if isinstance(result, tuple) else type(result).__name__
        return [Problem("structure", "out", f"returned {got}; expected (out, cache)")]
    ref_args = materialize(case.args)
    ref_out, _ = F.batchnorm_forward(*ref_args, **kwargs)
    problems = [p for p in [compare_output("out", ref_out, result[0])] if p]
    if not problems:                    # where out is right (one mistake is named once)
        problems += compare_cache(BN_CACHE, BN_CACHE.make(case), result[1])
    training = kwargs["training"]
    for i, name in enumerate(ARGS):
        got, old = args[i], before[i]
        changed = got.shape != old.shape or not np.array_equal(got, old, equal_nan=True)
        if i < 3:
            if changed:
                problems.append(Problem("inplace", name, f"input {name} was modified in place"))
        elif not training:
            if changed:
                problems.append(Problem("values", name, f"{name} changed in eval mode (it must stay as it "
                                        "was: evaluation only reads the running statistics)", old, got))
        elif not changed:
            problems.append(Problem("values", name, f"{name} was not updated (training updates it in place)",
                                    ref_args[i], got))
        elif (p := compare_output(name, ref_args[i], got)):
            problems.append(p)
    return problems


def _forward_reference(case, learner_out=None):
    args, kwargs = call_args(case)
    out, _ = F.batchnorm_forward(*args, **kwargs)
    return {"out": out, "running_mean": args[3], "running_var": args[4]}


# --- the backward ------------------------------------------------------------------------------------

def _backward_variant(case, formula=None, gamma_used=True, count=None, batch_stats=False):
    """``(dx, dgamma)`` of a batch-norm backward on the stated cache, with one mistake: ``formula`` ("train" or
    "eval", whatever the mode), ``gamma_used=False`` (dx without gamma), ``count`` (the m the sums are divided
    by), ``batch_stats`` (mean and var recomputed from x instead of taken from the cache)."""
    x, gamma, mean, var, eps, training = BN_CACHE.make(case)
    out = F.batchnorm_forward(*materialize(case.args), **case.kwargs)[0]
    dout = dout_for(case, out).astype(np.float64)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    x64 = x.astype(np.float64)
    if batch_stats:
        mean, var = x64.mean(axis=axes), x64.var(axis=axes)
    std = np.sqrt(np.asarray(var, np.float64) + eps).reshape(shape)
    xhat = (x64 - np.asarray(mean, np.float64).reshape(shape)) / std
    dgamma = (dout * xhat).sum(axis=axes)
    dxhat = dout * (gamma.astype(np.float64).reshape(shape) if gamma_used else 1)
    m = x.size // x.shape[1] if count is None else count
    if (formula or ("train" if training else "eval")) == "train":
        dx = (dxhat - dxhat.sum(axis=axes, keepdims=True) / m
              - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True) / m) / std
    else:
        dx = dxhat / std
    return dx.astype(x.dtype), dgamma.astype(x.dtype)


def _backward_alternatives(case, expected):
    """The classic wrong backwards, written out here (see :func:`_backward_variant`)."""
    x = case.args[0]
    training = case.kwargs["training"]
    dout = dout_for(case, x)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    alts = [("dx", _backward_variant(case, formula="eval" if training else "train")[0],
             HINT_BACKWARD_CONSTANT_STATS if training else HINT_BACKWARD_EVAL_FORMULA),
            ("dx", _backward_variant(case, gamma_used=False)[0], HINT_BACKWARD_FORGOT_GAMMA),
            ("dgamma", dout.sum(axis=axes), HINT_BACKWARD_DGAMMA)]
    if training and x.ndim == 4:
        alts.append(("dx", _backward_variant(case, count=x.shape[0])[0], HINT_BACKWARD_COUNT))
    if not training:
        dx, dgamma = _backward_variant(case, batch_stats=True)
        alts += [("dx", dx, HINT_BACKWARD_RECOMPUTED), ("dgamma", dgamma, HINT_BACKWARD_RECOMPUTED)]
    return alts


HINT_BACKWARD_CONSTANT_STATS = Hint(
    "bn_backward_constant_stats",
    "In training, the batch mean and variance are computed from x, so every x also moves them: dx has two "
    "more terms than the eval-mode gradient γ dy / √(σ² + ε). Follow the graph through the mean and the "
    "variance (chapter 6, section 6.6).",
    "dx = γ / √(σ_B² + ε) · (dy − dβ/m − x̂ · dγ/m), per channel",
    "dx = scale * (dout - dbeta / m - xhat * dgamma / m)   # scale = gamma / sqrt(var + eps), per channel")
HINT_BACKWARD_EVAL_FORMULA = Hint(
    "bn_backward_eval_formula",
    "In eval mode (training False in the cache) the mean and variance are the running estimates, constants "
    "that do not depend on x: the two extra terms of the training-mode gradient are not there.",
    "eval: dx = γ dy / √(σ̂² + ε), with σ̂² the cache's var",
    "if not training:\n    dx = dout * gamma_ / np.sqrt(var_ + eps)   # gamma_, var_ shaped to broadcast")
HINT_BACKWARD_FORGOT_GAMMA = Hint(
    "bn_backward_forgot_gamma",
    "The output is γ x̂ + β, so the gradient reaching x̂ is dy times γ: without γ, dx is off by that factor "
    "in every channel.", "dx̂ = γ dy; dx follows from dx̂", "dxhat = dout * gamma_   # gamma_ shaped to broadcast",
    label="forgot gamma in dx")
HINT_BACKWARD_DGAMMA = Hint(
    "bn_backward_dgamma",
    "γ multiplies x̂, so its gradient collects dy times x̂ (dβ is the one that collects dy alone).",
    "dγ = Σ dy · x̂ and dβ = Σ dy, summed over the m values of each channel",
    "dgamma = (dout * xhat).sum(axis=axes)", label="dgamma without xhat")
HINT_BACKWARD_COUNT = Hint(
    "bn_backward_count",
    "For images the statistics are taken over m = N·H·W values per channel, so the means in dx divide by "
    "that m, not by the batch size N.", "dx = γ / √(σ_B² + ε) · (dy − dβ/m − x̂ · dγ/m), m = N·H·W",
    "m = x.size // x.shape[1]", label="divided by N instead of N*H*W")
HINT_BACKWARD_RECOMPUTED = Hint(
    "bn_backward_recomputed_stats",
    "Use the mean and var the cache holds: they are the ones x was normalized with. In eval mode those are "
    "the running estimates; recomputed from x they are the batch's, which the forward never used.",
    "x̂ = (x − μ) / √(σ² + ε) with μ, σ² from the cache",
    "x, gamma, mean, var, eps, training = cache   # and no x.mean() / x.var()", label="recomputed the statistics")
HINT_BACKWARD_AXES = Hint(
    "bn_backward_axes",
    "For images (N, C, H, W), gamma and beta act per channel, so their gradients add dout over the batch and "
    "all positions: dgamma and dbeta have shape (C,).",
    "dβ_c = Σ over n, p, q of dy[n, c, p, q]",
    "dbeta = dout.sum(axis=(0, 2, 3))")


def _backward_rule(case, problem):
    if problem.output in ("dgamma", "dbeta") and problem.kind == "shape" and case.args[0].ndim == 4:
        return HINT_BACKWARD_AXES
    return None


def _one_eval_hint(results):
    """In an eval case whose running statistics changed, the out's hint says why: eval mode that works like
    training (batch statistics, and the updates that go with them) is one mistake, not two."""
    for r in results:
        ids = [h.id for h in r.hints]
        if HINT_EVAL_BATCH_STATS.id in ids and HINT_EVAL_UPDATES.id in ids:
            first = ids.index(HINT_EVAL_BATCH_STATS.id) < ids.index(HINT_EVAL_UPDATES.id)
            drop = HINT_EVAL_UPDATES.id if first else HINT_EVAL_BATCH_STATS.id
            r.hints = [h for h in r.hints if h.id != drop]
    return []


register(Exercise(
    "batchnorm_forward", "forward", ("out",),
    lambda base, hidden: _numbered(base, _specs(hidden)),
    _forward_reference,
    rules=(dtype_rule, inplace_rule, _forward_rule),
    only_with={"nchw": HINT_CHANNEL_AXES},
    detectors=(_one_eval_hint,),
    judge=_forward_judge,
    cache=BN_CACHE,
))

register(Exercise(
    "batchnorm_backward", "backward", ("dx", "dgamma", "dbeta"),
    lambda base, hidden: (_numbered(base, _specs(hidden)) + _gradcheck_cases(base)
                          + ([_big_case(base)] if hidden else [])),
    backward_reference(F.batchnorm_forward, F.batchnorm_backward, ("dx", "dgamma", "dbeta")),
    forward="batchnorm_forward", grad_args=(0, 1, 2), ref_forward=F.batchnorm_forward,
    rules=COMMON_RULES + (_backward_rule,),
    alternatives=_backward_alternatives,
    only_with={"nchw": HINT_BACKWARD_AXES},
    cache=BN_CACHE,
))


register_set(ExerciseSet(
    "ex6_batch_norm", ("batchnorm_forward", "batchnorm_backward"),
    allowed=(),
))
