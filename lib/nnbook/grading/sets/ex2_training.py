"""Exercise set ex2_training (``exercises/ex2_training.ipynb``): SGD with momentum, RMSProp, Adam.

The learner writes the update rules of :mod:`nnbook.optim` with the same contract,
``update(w, dw, config) -> (next_w, config)``. A case is a run of several consecutive steps
from one start (``args = (w0, grads, config0)``): the learner's returned ``next_w`` and
``config`` are fed into the next step, as in a training loop, and after every step ``next_w``
and everything in the reference's config (hyper-parameters with their defaults, and the
state) are compared with :mod:`nnbook.optim`'s. The first step that differs is reported.

Hints come from wrong variants of each rule: when the learner's run so far equals a
variant's run (``next_w`` and the state, step by step), the variant's hint names the mistake.
See :mod:`nnbook.grading.judge.exercise` for the format.
"""
from dataclasses import dataclass

import numpy as np

from ... import optim
from ..judge.cases import Case, materialize, randn
from ..judge.compare import Problem, compare_output, tolerance
from ..judge.exercise import Exercise, ExerciseSet, Hint, dtype_rule, register, register_set

STATE = {"sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("m", "v", "t")}
RULES = {"sgd_momentum": optim.sgd_momentum, "rmsprop": optim.rmsprop, "adam": optim.adam}


@dataclass
class StepProblem(Problem):
    """A problem at one step of a run; ``trajectory`` is the learner's ``(next_w, state)`` after
    each step up to this one (the hint rules compare it with the wrong variants' runs)."""
    step: int = 0
    trajectory: list = None


# --- cases ------------------------------------------------------------------------------------------

def _run_reference(rule, w, grads, config):
    for dw in grads:
        w, config = rule(w, dw, config)
    return w, config


def _case(name, shape, steps, config, tags=(), scale=1.0, dtype=np.float64, resume=None, rule=None):
    """A builder: w0 of ``shape``, ``steps`` seeded gradients; ``resume`` steps of the reference
    are run first so the case starts from a config that already holds state."""
    def build(rng):
        w = randn(rng, *shape, dtype=dtype)
        grads = tuple(randn(rng, *shape, dtype=dtype, scale=scale) for _ in range(steps))
        cfg = None if config is None else dict(config)
        if resume:
            warm = tuple(randn(rng, *shape, dtype=dtype, scale=scale) for _ in range(resume))
            w, cfg = _run_reference(rule, w, warm, cfg)
        return w, grads, cfg
    return name, build, set(tags) | ({"float32"} if dtype == np.float32 else set())


def _numbered(base, specs):
    cases = []
    for i, (name, build, tags) in enumerate(specs):
        rng = np.random.default_rng(base + i)
        cases.append(Case(name, build(rng), {}, frozenset(tags), seed=base + i))
    return cases


def _sgd_specs(hidden):
    r = optim.sgd_momentum
    if hidden:
        return [_case("8 steps, lr 0.01, momentum 0.99, w (2, 3, 2, 2)", (2, 3, 2, 2), 8,
                      {"lr": 0.01, "momentum": 0.99}),
                _case("6 steps, lr 0.3, momentum 0.7, w (1,)", (1,), 6, {"lr": 0.3, "momentum": 0.7}),
                _case("only lr given (momentum default), 4 steps", (3, 5), 4, {"lr": 0.05}, {"defaults"}),
                _case("resumed after 4 steps, momentum 0.6", (4, 2), 5, {"lr": 0.2, "momentum": 0.6},
                      {"resume"}, resume=4, rule=r)]
    return [_case("5 steps, lr 0.1, momentum 0.9, w (4, 3)", (4, 3), 5, {"lr": 0.1, "momentum": 0.9}),
            _case("defaults (config=None), 3 steps", (6,), 3, None, {"defaults"}),
            _case("momentum 0.5, lr 1.0, 4 steps", (2, 5), 4, {"lr": 1.0, "momentum": 0.5}),
            _case("momentum 0 (plain SGD), 3 steps", (3, 3), 3, {"lr": 0.1, "momentum": 0.0}),
            _case("resumed: config already holds a velocity", (5,), 3, {"lr": 0.1, "momentum": 0.8},
                  {"resume"}, resume=3, rule=r),
            _case("float32, 4 steps", (4, 3), 4, {"lr": 0.1, "momentum": 0.9}, dtype=np.float32)]


def _rmsprop_specs(hidden):
    r = optim.rmsprop
    if hidden:
        return [_case("8 steps, lr 0.1, alpha 0.5, w (3, 2, 2)", (3, 2, 2), 8, {"lr": 0.1, "alpha": 0.5}),
                _case("tiny gradients (1e-5), eps 1e-6", (7,), 4, {"lr": 0.01, "eps": 1e-6}, {"eps"}, scale=1e-5),
                _case("resumed after 5 steps, alpha 0.9", (2, 6), 4, {"lr": 0.02, "alpha": 0.9}, {"resume"},
                      resume=5, rule=r)]
    return [_case("5 steps, lr 0.01, alpha 0.9, w (4, 3)", (4, 3), 5, {"lr": 0.01, "alpha": 0.9}),
            _case("defaults (config=None), 3 steps", (6,), 3, None, {"defaults"}),
            _case("tiny gradients (1e-4), default eps", (3, 4), 4, {"lr": 0.01}, {"eps"}, scale=1e-4),
            _case("eps 1e-3", (5,), 4, {"lr": 0.01, "alpha": 0.99, "eps": 1e-3}, {"eps"}),
            _case("resumed: config already holds a cache", (2, 3), 3, {"lr": 0.01, "alpha": 0.95}, {"resume"},
                  resume=3, rule=r),
            _case("float32, 4 steps", (4, 3), 4, {"lr": 0.01, "alpha": 0.9}, dtype=np.float32)]


def _adam_specs(hidden):
    r = optim.adam
    if hidden:
        return [_case("10 steps, lr 0.05, betas (0.8, 0.9), w (2, 2, 3, 3)", (2, 2, 3, 3), 10,
                      {"lr": 0.05, "beta1": 0.8, "beta2": 0.9}),
                _case("tiny gradients (1e-6), eps 1e-7", (5,), 3, {"lr": 0.01, "eps": 1e-7}, {"eps"}, scale=1e-6),
                _case("resumed after 6 steps", (3, 3), 4, {"lr": 0.01, "beta1": 0.7, "beta2": 0.95}, {"resume"},
                      resume=6, rule=r)]
    return [_case("5 steps, lr 0.01, w (4, 3)", (4, 3), 5, {"lr": 0.01}),
            _case("defaults (config=None), 3 steps", (6,), 3, None, {"defaults"}),
            _case("betas (0.5, 0.75), lr 0.1, 4 steps", (2, 5), 4, {"lr": 0.1, "beta1": 0.5, "beta2": 0.75}),
            _case("tiny gradients (1e-5), default eps", (3, 4), 4, {"lr": 0.01}, {"eps"}, scale=1e-5),
            _case("resumed: config already holds m, v and t = 3", (2, 3), 3,
                  {"lr": 0.01, "beta1": 0.8, "beta2": 0.9}, {"resume"}, resume=3, rule=r),
            _case("float32, 4 steps", (4, 3), 4, {"lr": 0.01}, dtype=np.float32)]


SPECS = {"sgd_momentum": _sgd_specs, "rmsprop": _rmsprop_specs, "adam": _adam_specs}


# --- judging: run the steps, feeding the learner's config back ------------------------------------

def _snapshot(config, keys):
    """Copies of the state entries (the learner may change its arrays in place later)."""
    out = {}
    for k in keys:
        if k in config:
            v = config[k]
            out[k] = v.copy() if isinstance(v, np.ndarray) else v
    return out


def _step_problem(p, step, n_steps, trajectory):
    return StepProblem(p.kind, p.output, f"step {step} of {n_steps}: {p.message}", p.expected, p.got,
                       step=step, trajectory=trajectory)


def _judge(exercise_id):
    rule, keys = RULES[exercise_id], STATE[exercise_id]

    def judge(fn, forward, case):
        from ..judge.errors import exception_problem
        w, grads, config = materialize(case.args)
        ref_w, _, ref_config = materialize(case.args)
        n, trajectory = len(grads), []
        for step, dw in enumerate(grads, 1):
            w_before, dw_before = w.copy(), dw.copy()
            try:
                result = fn(w, dw, config)
            except NotImplementedError:
                raise
            except (Exception, SystemExit) as exc:    # a learner's bug: report it with the step
                return [exception_problem(exc, [("w", w_before), ("dw", dw_before), ("config", config)],
                                          {"next_w": w_before}, prefix=f"step {step} of {n}: ")]
            ref_w, ref_config = rule(ref_w, dw_before.copy(), ref_config)
            if not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[1], dict):
                got = (f"a tuple of {len(result)}" if isinstance(result, tuple) and len(result) != 2
                       else "config that is not a dict" if isinstance(result, tuple) else type(result).__name__)
                return [Problem("structure", "next_w", f"step {step} of {n}: returned {got}; expected "
                                "(next_w, config), with config the dict of hyper-parameters and state")]
            next_w, config = result
            trajectory.append((next_w.copy() if isinstance(next_w, np.ndarray) else next_w,
                               _snapshot(config, keys)))
            problems = []
            if (p := compare_output("next_w", ref_w, next_w)):
                problems.append(p)
            for k, expected in ref_config.items():
                name = f"config[{k!r}]"
                if k not in config:
                    what = ("the state is kept in config under this name" if k in keys
                            else "a hyper-parameter left out gets its default")
                    problems.append(Problem("structure", name, f"config has no {k!r} ({what})"))
                elif (p := compare_output(name, expected, config[k])):
                    problems.append(p)
            for arg, before, after in (("w", w_before, w), ("dw", dw_before, dw)):
                if not np.array_equal(before, after, equal_nan=True):
                    problems.append(Problem("inplace", arg, f"input {arg} was modified in place"))
            if problems:
                return [_step_problem(p, step, n, trajectory) for p in problems]
            w = next_w
        return []
    return judge


def _reference(exercise_id):
    def reference(case, learner_out=None):
        w, grads, config = materialize(case.args)
        w, config = _run_reference(RULES[exercise_id], w, grads, config)
        return {"next_w": w, "config": config}
    return reference


# --- wrong variants and their hints -----------------------------------------------------------------

def _agree(a, b, factor=10):
    """Same value (NaN where the other has NaN), within ``factor`` times the grading tolerance."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
            return False
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        nan_a, nan_b = ~np.isfinite(a64), ~np.isfinite(b64)
        if not np.array_equal(nan_a, nan_b):
            return False
        ok = ~nan_a
        if not ok.any():
            return True
        scale = max(np.abs(a64[ok]).max(), np.abs(b64[ok]).max(), 1e-30)
        return np.abs(a64[ok] - b64[ok]).max() / scale <= factor * tolerance(a.dtype)
    try:
        return abs(float(a) - float(b)) <= factor * 1e-7 * max(abs(float(a)), 1.0)
    except (TypeError, ValueError):
        return False


def _variant_matches(variant, reference, case, problem, keys):
    """Does the learner's run up to ``problem.step`` equal the wrong variant's run, where that run
    differs from the reference's? (On some cases a mistake changes nothing, e.g. the learning
    rate in the velocity when lr = 1; there it explains nothing.)"""
    traj = getattr(problem, "trajectory", None)
    if not traj:
        return False
    w, grads, config = materialize(case.args)
    config = {} if config is None else config
    ref_w, _, ref_config = materialize(case.args)
    differs = False
    with np.errstate(all="ignore"):
        for (got_w, got_state), dw in zip(traj, grads):
            w, config = variant(w, dw, config)
            ref_w, ref_config = reference(ref_w, dw.copy(), ref_config)
            if not _agree(w, got_w):
                return False
            differs = differs or not _agree(w, ref_w, factor=1)
            for k in keys:
                if k in config:
                    if not (k in got_state and _agree(config[k], got_state[k])):
                        return False
                    differs = differs or not _agree(config[k], ref_config.get(k), factor=1)
    return differs


def variant_rule(variants, reference, keys):
    """A hint rule from ``(hint, variant_update)`` pairs (or a function that returns them, looked up at each
    call); ``variant_update(w, dw, config)`` makes the
    mistake. Only problems at the first failing step carry the learner's run; a problem with w or dw
    changed in place is another mistake (the run may still be right)."""
    def rule(case, problem):
        if problem.kind not in ("values", "nan", "shape", "structure"):
            return None
        for hint, variant in (variants() if callable(variants) else variants):
            if _variant_matches(variant, reference, case, problem, keys):
                return hint
        return None
    return rule


def _defaults(config, **defaults):
    for k, v in defaults.items():
        config.setdefault(k, v)
    return config


# SGD with momentum
def _sgd_cs231n(w, dw, c):        # velocity holds the step: v = mu v - lr g, w + v
    _defaults(c, lr=1e-2, momentum=0.9)
    c["velocity"] = c["momentum"] * c.get("velocity", 0 * w) - c["lr"] * dw
    return w + c["velocity"], c


def _sgd_lr_in_velocity(w, dw, c):    # v = mu v + lr g, w - v
    _defaults(c, lr=1e-2, momentum=0.9)
    c["velocity"] = c["momentum"] * c.get("velocity", 0 * w) + c["lr"] * dw
    return w - c["velocity"], c


def _sgd_uphill(w, dw, c):        # v = mu v + g, w + lr v
    _defaults(c, lr=1e-2, momentum=0.9)
    c["velocity"] = c["momentum"] * c.get("velocity", 0 * w) + dw
    return w + c["lr"] * c["velocity"], c


def _sgd_minus_gradient(w, dw, c):    # v = mu v - g, w - lr v
    _defaults(c, lr=1e-2, momentum=0.9)
    c["velocity"] = c["momentum"] * c.get("velocity", 0 * w) - dw
    return w - c["lr"] * c["velocity"], c


def _sgd_old_velocity(w, dw, c):  # the step uses the velocity before this gradient is added
    _defaults(c, lr=1e-2, momentum=0.9)
    v = c.get("velocity", 0 * w)
    c["velocity"] = c["momentum"] * v + dw
    return w - c["lr"] * v, c


HINT_MOMENTUM_CONVENTION = Hint(
    "momentum_lr_in_velocity",
    "Your weights follow a momentum method, but your velocity holds the learning-rate-scaled step "
    "(CS231n's convention). Here, as in PyTorch, the velocity is a decayed sum of gradients and the "
    "learning rate is applied only when stepping.",
    "v_t = mu * v_{t-1} + g_t, then w_t = w_{t-1} - lr * v_t",
    'config["velocity"] = config["momentum"] * v + dw; next_w = w - config["lr"] * config["velocity"]')
HINT_MOMENTUM_SIGN = Hint(
    "momentum_sign",
    "Your steps go uphill: the velocity accumulates gradients, and a gradient points to where the loss "
    "grows, so the weights move against the velocity.",
    "v_t = mu * v_{t-1} + g_t (plus), w_t = w_{t-1} - lr * v_t (minus)",
    'next_w = w - config["lr"] * config["velocity"]')
HINT_NESTEROV = Hint(
    "momentum_nesterov",
    "Your step is Nesterov's (it looks ahead with momentum * v + g); this exercise asks for plain momentum, "
    "which steps with the velocity itself.",
    "v_t = mu * v_{t-1} + g_t, then w_t = w_{t-1} - lr * v_t",
    'next_w = w - config["lr"] * config["velocity"]')
HINT_MOMENTUM_ORDER = Hint(
    "momentum_order",
    "You step with the old velocity and add the new gradient only afterwards (your first step does not "
    "move at all). Update the velocity with this step's gradient first, then step with the new velocity.",
    "v_t = mu * v_{t-1} + g_t, then w_t = w_{t-1} - lr * v_t (v_t, not v_{t-1})",
    'v = config["momentum"] * config["velocity"] + dw; next_w = w - config["lr"] * v')

def _sgd_nesterov(w, dw, c):      # PyTorch's Nesterov: the step looks ahead along the new velocity
    _defaults(c, lr=1e-2, momentum=0.9)
    c["velocity"] = c["momentum"] * c.get("velocity", 0 * w) + dw
    return w - c["lr"] * (dw + c["momentum"] * c["velocity"]), c


SGD_VARIANTS = ((HINT_MOMENTUM_CONVENTION, _sgd_cs231n), (HINT_MOMENTUM_CONVENTION, _sgd_lr_in_velocity),
                (HINT_MOMENTUM_SIGN, _sgd_uphill), (HINT_MOMENTUM_SIGN, _sgd_minus_gradient),
                (HINT_MOMENTUM_ORDER, _sgd_old_velocity), (HINT_NESTEROV, _sgd_nesterov))


# RMSProp
def _rms(w, dw, c, inside=False, swapped=False, square=True, average=True, root=True):
    _defaults(c, lr=1e-2, alpha=0.99, eps=1e-8)
    a = c["alpha"]
    r = c.get("cache", 0 * w)
    g2 = dw * dw if square else dw
    if not average:
        c["cache"] = r + g2
    else:
        c["cache"] = (1 - a) * r + a * g2 if swapped else a * r + (1 - a) * g2
    rms = np.sqrt(c["cache"]) if root else c["cache"]
    denom = np.sqrt(c["cache"] + c["eps"]) if inside else rms + c["eps"]
    return w - c["lr"] * dw / denom, c


HINT_RMS_EPS = Hint(
    "rmsprop_eps_inside_sqrt",
    "eps belongs outside the square root (as in PyTorch): it only keeps the division safe when the "
    "average r is near zero; inside the root it changes the step whenever gradients are small.",
    "w_t = w_{t-1} - lr * g_t / (sqrt(r_t) + eps)",
    'next_w = w - config["lr"] * dw / (np.sqrt(r) + config["eps"])   # r = config["cache"]')
HINT_RMS_DECAY = Hint(
    "rmsprop_decay_swapped",
    "The decay rate alpha weighs the old average r, and (1 - alpha) the new squared gradient: with "
    "alpha = 0.99 the average changes slowly. Yours gives the new gradient the large weight.",
    "r_t = alpha * r_{t-1} + (1 - alpha) * g_t**2",
    'r = config["alpha"] * r + (1 - config["alpha"]) * dw**2; config["cache"] = r')
HINT_RMS_SQUARE = Hint(
    "rmsprop_not_squared",
    "RMSProp averages the squared gradients, element by element: r measures how large the recent gradients "
    "were, whatever their sign. An average of the gradients themselves can be negative, and its root is NaN.",
    "r_t = alpha * r_{t-1} + (1 - alpha) * g_t**2",
    'r = config["alpha"] * r + (1 - config["alpha"]) * dw**2')
HINT_RMS_SUM = Hint(
    "rmsprop_sum_not_average",
    "That is AdaGrad: r sums every squared gradient, so the steps keep shrinking. RMSProp's r is a running "
    "average that forgets: the old r is weighed by alpha and the new squared gradient by (1 - alpha).",
    "r_t = alpha * r_{t-1} + (1 - alpha) * g_t**2 (AdaGrad: r_t = r_{t-1} + g_t**2)",
    'r = config["alpha"] * r + (1 - config["alpha"]) * dw**2')
HINT_RMS_ROOT = Hint(
    "rmsprop_no_sqrt",
    "The step divides by the root of the mean square (RMS) of the recent gradients, a number in gradient units: "
    "the square root is missing.",
    "w_t = w_{t-1} - lr * g_t / (sqrt(r_t) + eps)",
    'next_w = w - config["lr"] * dw / (np.sqrt(r) + config["eps"])')

RMSPROP_VARIANTS = ((HINT_RMS_EPS, lambda w, dw, c: _rms(w, dw, c, inside=True)),
                    (HINT_RMS_DECAY, lambda w, dw, c: _rms(w, dw, c, swapped=True)),
                    (HINT_RMS_DECAY, lambda w, dw, c: _rms(w, dw, c, inside=True, swapped=True)),
                    (HINT_RMS_SQUARE, lambda w, dw, c: _rms(w, dw, c, square=False)),
                    (HINT_RMS_SUM, lambda w, dw, c: _rms(w, dw, c, average=False)),
                    (HINT_RMS_ROOT, lambda w, dw, c: _rms(w, dw, c, root=False)))


# Adam
def _adam(w, dw, c, correct=(True, True), t_start=0, increment_first=True, inside=False, swap=(False, False),
          store_corrected=False):
    """A configurable Adam. The reference is ``t_start=0, increment_first=True``: t counts the steps
    taken, this one included. The step-count mistakes start t at 1, or use t before adding 1."""
    _defaults(c, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    b1, b2 = c["beta1"], c["beta2"]
    m, v = c.get("m", 0 * w), c.get("v", 0 * w)
    t = int(c.get("t", t_start)) + (1 if increment_first else 0)
    m = (1 - b1) * m + b1 * dw if swap[0] else b1 * m + (1 - b1) * dw
    v = (1 - b2) * v + b2 * dw * dw if swap[1] else b2 * v + (1 - b2) * dw * dw
    m_hat = m / (1 - b1 ** t) if correct[0] else m
    v_hat = v / (1 - b2 ** t) if correct[1] else v
    denom = np.sqrt(v_hat + c["eps"]) if inside else np.sqrt(v_hat) + c["eps"]
    c.update(m=m_hat if store_corrected else m, v=v_hat if store_corrected else v, t=t if increment_first else t + 1)
    return w - c["lr"] * m_hat / denom, c


def _adam_variant(**kw):
    def run(w, dw, c):
        return _adam(w, dw, c, **kw)
    return run


HINT_ADAM_BIAS = Hint(
    "adam_no_bias_correction",
    "Bias correction is missing (on one moment or both): m and v start at zero, so in the first steps "
    "they are far smaller than the gradients they average. Divide each by (1 - beta**t) before the step, "
    "and keep the uncorrected m and v in config.",
    "m_hat = m_t / (1 - beta1**t), v_hat = v_t / (1 - beta2**t), "
    "w_t = w_{t-1} - lr * m_hat / (sqrt(v_hat) + eps)",
    'm_hat = m / (1 - config["beta1"] ** t); v_hat = v / (1 - config["beta2"] ** t)')
HINT_ADAM_STEP = Hint(
    "adam_step_count",
    "The step count t is off by one. t is the number of steps taken, this one included: 0 before the "
    "first step, 1 during the first step (so 1 - beta**t is not 0), and config['t'] keeps the t just used.",
    "t <- t + 1 first, then m_hat = m_t / (1 - beta1**t), with t = 1 on the first step",
    't = config.get("t", 0) + 1; config["t"] = t   # before computing m_hat and v_hat')
HINT_ADAM_EPS = Hint(
    "adam_eps_inside_sqrt",
    "eps belongs outside the square root (as in PyTorch): it only keeps the division safe when v_hat is "
    "near zero; inside the root it changes the step whenever gradients are small.",
    "w_t = w_{t-1} - lr * m_hat / (sqrt(v_hat) + eps)",
    'next_w = w - config["lr"] * m_hat / (np.sqrt(v_hat) + config["eps"])')
HINT_ADAM_DECAY = Hint(
    "adam_decay_swapped",
    "beta1 and beta2 weigh the old averages, (1 - beta) the new gradient: with beta1 = 0.9 the average "
    "changes slowly. One of your running averages gives the new gradient the large weight.",
    "m_t = beta1 * m_{t-1} + (1 - beta1) * g_t, v_t = beta2 * v_{t-1} + (1 - beta2) * g_t**2",
    'm = config["beta1"] * m + (1 - config["beta1"]) * dw')

HINT_ADAM_STORED = Hint(
    "adam_stored_corrected",
    "config keeps the running averages m and v before bias correction: the correction is for this step's "
    "use only. Stored corrected, they are corrected again at the next step.",
    "m_t = beta1 * m_{t-1} + (1 - beta1) * g_t is what is kept; m_hat = m_t / (1 - beta1**t) is only used",
    'config["m"], config["v"] = m, v   # not m_hat, v_hat')

ADAM_VARIANTS = tuple(
    [(HINT_ADAM_BIAS, _adam_variant(correct=c)) for c in ((False, False), (True, False), (False, True))]
    + [(HINT_ADAM_STEP, _adam_variant(t_start=s, increment_first=f)) for s, f in ((0, False), (1, True), (1, False))]
    + [(HINT_ADAM_EPS, _adam_variant(inside=True))]
    + [(HINT_ADAM_DECAY, _adam_variant(swap=sw)) for sw in ((True, True), (True, False), (False, True))]
    + [(HINT_ADAM_STORED, _adam_variant(store_corrected=True))])

HINT_INPLACE = Hint(
    "optimizer_inplace",
    "Leave w and dw as they are: compute next_w as a new array and return it (the caller decides what to "
    "do with it). Only the state in config is yours to replace or update.",
    "next_w = w - (the step), a new array",
    'next_w = w - config["lr"] * step   # not w -= ...')


HINT_STATE = Hint(
    "optimizer_state_not_stored",
    "The state is what the rule remembers from one step to the next: it must be written back into config, "
    "under the name the exercise gives, or the next step starts from zero again.",
    "step t reads the state left by step t - 1 and leaves its own for step t + 1",
    'config["velocity"] = v   # (RMSProp: config["cache"] = r; Adam: m, v and t)')


def _inplace_rule(case, problem):
    return HINT_INPLACE if problem.kind == "inplace" else None


def _state_rule(keys):
    names = {f"config[{k!r}]": k for k in keys}

    def rule(case, problem):
        if problem.output not in names:
            return None
        if problem.kind == "structure":
            return HINT_STATE
        traj = getattr(problem, "trajectory", None)
        if problem.kind == "values" and traj:        # the state left as it was before this step
            key = names[problem.output]
            before = traj[-2][1].get(key) if len(traj) > 1 else (materialize(case.args)[2] or {}).get(key)
            if before is not None and _agree(before, problem.got, factor=1):
                return HINT_STATE
        return None
    return rule


VARIANTS = {"sgd_momentum": SGD_VARIANTS, "rmsprop": RMSPROP_VARIANTS, "adam": ADAM_VARIANTS}


def _cases(exercise_id):
    return lambda base, hidden: _numbered(base, SPECS[exercise_id](hidden))


for _id in ("sgd_momentum", "rmsprop", "adam"):
    register(Exercise(
        _id, "function", ("next_w", "config"), _cases(_id), _reference(_id),
        rules=(dtype_rule, _inplace_rule, _state_rule(STATE[_id]), variant_rule(lambda i=_id: VARIANTS[i], RULES[_id], STATE[_id])),
        judge=_judge(_id),
    ))


register_set(ExerciseSet(
    "ex2_training", ("sgd_momentum", "rmsprop", "adam"),
    allowed=(),
))
