"""Exercise set ex2_training: graded over several steps; each classic mistake gets exactly its hint.

The wrong learner functions below are written here, as a learner would write them, independently
of the variants the hint rules compare with.
"""
import numpy as np
import pytest

from nnbook import optim
from nnbook.grading import EXERCISES, evaluate
from nnbook.grading.judge.exercise import SETS


pytestmark = pytest.mark.usefixtures("references_as_learners")   # see tests/conftest.py


def hint_ids(report):
    hints = [h for r in report.results for h in r.hints] + list(report.hints)
    return {getattr(h, "id", h) for h in hints}


def run(exercise_id, fn, hidden=False):
    with np.errstate(all="ignore"):          # some mistakes divide by zero
        return evaluate(exercise_id, fn, hidden=hidden)


# --- correct answers ---------------------------------------------------------------------------------

def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("lr", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v + dw
    config["velocity"] = v
    return w - config["lr"] * v, config


def rmsprop(w, dw, config=None, inside=False, swapped=False):
    config = {} if config is None else config
    for k, d in (("lr", 1e-2), ("alpha", 0.99), ("eps", 1e-8)):
        config.setdefault(k, d)
    a = config["alpha"]
    cache = config.get("cache", np.zeros_like(w))
    cache = (1 - a) * cache + a * dw ** 2 if swapped else a * cache + (1 - a) * dw ** 2
    config["cache"] = cache
    denom = np.sqrt(cache + config["eps"]) if inside else np.sqrt(cache) + config["eps"]
    return w - config["lr"] * dw / denom, config


def adam(w, dw, config=None, bias=True, t0=0, t_after=False, inside=False, swap_m=False):
    config = {} if config is None else config
    for k, d in (("lr", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-8)):
        config.setdefault(k, d)
    b1, b2 = config["beta1"], config["beta2"]
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", t0)
    if not t_after:
        config["t"] += 1
    t = config["t"]
    config["m"] = (1 - b1) * config["m"] + b1 * dw if swap_m else b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw * dw
    m, v = config["m"], config["v"]
    if bias:
        m, v = m / (1 - b1 ** t), v / (1 - b2 ** t)
    if t_after:
        config["t"] += 1
    denom = np.sqrt(v + config["eps"]) if inside else np.sqrt(v) + config["eps"]
    return w - config["lr"] * m / denom, config


@pytest.mark.parametrize("exercise_id,fn", [("sgd_momentum", sgd_momentum), ("rmsprop", rmsprop),
                                            ("adam", adam), ("sgd_momentum", optim.sgd_momentum),
                                            ("rmsprop", optim.rmsprop), ("adam", optim.adam)])
@pytest.mark.parametrize("hidden", [False, True])
def test_correct_answers_pass_without_hints(exercise_id, fn, hidden):
    r = run(exercise_id, fn, hidden)
    assert r.passed, r.text()
    assert hint_ids(r) == set()


def test_set_is_registered_and_graded_over_several_steps():
    assert SETS["ex2_training"].exercises == ("sgd_momentum", "rmsprop", "adam")
    assert not SETS["ex2_training"].allows("nnbook.optim.adam")
    for exercise_id in SETS["ex2_training"].exercises:
        for hidden in (False, True):
            cases = EXERCISES[exercise_id].cases(hidden)
            assert all(len(c.args[1]) >= 3 for c in cases)
            assert any(c.args[2] is None for c in cases) or hidden      # the defaults are graded
            assert any("resume" in c.tags for c in cases)


# --- a wrong state shows up only after the first step ------------------------------------------------

def test_state_not_kept_fails_at_step_two():
    def forgets(w, dw, config=None):              # never stores the velocity: the first step is right
        config = {} if config is None else config
        config.setdefault("lr", 1e-2)
        config.setdefault("momentum", 0.9)
        v = config["momentum"] * np.zeros_like(w) + dw
        return w - config["lr"] * v, config
    r = run("sgd_momentum", forgets)
    assert r.n_passed == 0
    assert "step 1 of 5: config has no 'velocity' (the state is kept in config under this name)" in r.text()
    assert hint_ids(r) == {"optimizer_state_not_stored"}

    def stale(w, dw, config=None):                # stores the velocity of the first step only
        config = {} if config is None else config
        first = "velocity" not in config
        nw, c = optim.sgd_momentum(w, dw, config)
        if not first:
            c["velocity"] = dw.copy()
        return nw, c
    r = run("sgd_momentum", stale)
    assert not r.passed and "step 2 of 5: config['velocity']: values off" in r.text()


def test_exception_and_structure_are_reported_with_the_step():
    def crashes(w, dw, config=None):
        if config and "m" in config:
            raise ValueError("boom")
        return optim.adam(w, dw, config)
    r = run("adam", crashes)
    assert "step 2 of 5: raised ValueError at line" in r.text() and "ValueError: boom" in r.text()
    r = run("adam", lambda w, dw, config=None: optim.adam(w, dw, config)[0])
    assert "step 1 of 5: returned ndarray; expected (next_w, config)" in r.text()


def test_wrong_default_is_named():
    def default_099(w, dw, config=None):
        config = {} if config is None else config
        config.setdefault("momentum", 0.99)
        return optim.sgd_momentum(w, dw, config)
    r = run("sgd_momentum", default_099)
    failing = [res.case.name for res in r.results if not res.passed]
    assert failing == ["defaults (config=None), 3 steps"]
    assert "config['momentum']: expected 0.9, got 0.99" in r.text()


def test_changing_w_in_place_gets_its_hint():
    def in_place(w, dw, config=None):
        nw, config = optim.sgd_momentum(w, dw, config)
        w[...] = nw
        return w, config
    r = run("sgd_momentum", in_place)
    assert r.n_passed == 0 and "input w was modified in place" in r.text()
    assert hint_ids(r) == {"optimizer_inplace"}


# --- each classic mistake: exactly its hint ---------------------------------------------------------

def sgd_cs231n(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("lr", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config["momentum"] * config.get("velocity", np.zeros_like(w)) - config["lr"] * dw
    config["velocity"] = v
    return w + v, config


def sgd_uphill(w, dw, config=None):
    nw, config = sgd_momentum(w, dw, config)
    return w + config["lr"] * config["velocity"], config


def sgd_old_velocity(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("lr", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    nw = w - config["lr"] * v
    config["velocity"] = config["momentum"] * v + dw
    return nw, config


MISTAKES = [
    ("sgd_momentum", sgd_cs231n, "momentum_lr_in_velocity"),
    ("sgd_momentum", sgd_uphill, "momentum_sign"),
    ("sgd_momentum", sgd_old_velocity, "momentum_order"),
    ("rmsprop", lambda w, dw, config=None: rmsprop(w, dw, config, inside=True), "rmsprop_eps_inside_sqrt"),
    ("rmsprop", lambda w, dw, config=None: rmsprop(w, dw, config, swapped=True), "rmsprop_decay_swapped"),
    ("adam", lambda w, dw, config=None: adam(w, dw, config, bias=False), "adam_no_bias_correction"),
    ("adam", lambda w, dw, config=None: adam(w, dw, config, t_after=True), "adam_step_count"),
    ("adam", lambda w, dw, config=None: adam(w, dw, config, t0=1), "adam_step_count"),
    ("adam", lambda w, dw, config=None: adam(w, dw, config, inside=True), "adam_eps_inside_sqrt"),
    ("adam", lambda w, dw, config=None: adam(w, dw, config, swap_m=True), "adam_decay_swapped"),
]


@pytest.mark.parametrize("exercise_id,fn,hint", MISTAKES, ids=[f"{m[2]}-{i}" for i, m in enumerate(MISTAKES)])
def test_mistake_gets_exactly_its_hint(exercise_id, fn, hint):
    r = run(exercise_id, fn)
    assert not r.passed
    assert hint_ids(r) == {hint}, r.text()
    failing = [res for res in r.results if not res.passed]
    assert all(hint in {h.id for h in res.hints} for res in failing), r.text()


def test_hints_are_tiered():
    r = run("adam", lambda w, dw, config=None: adam(w, dw, config, bias=False))
    hint = r.results[0].hints[0]
    assert hint.concept and hint.formula and hint.code
    assert "beta1**t" in hint.formula and "beta1**t" not in hint.concept
    assert str(hint) == hint.concept           # the table shows the concept (level 1)


def test_eps_placement_is_caught_by_the_eps_cases():
    r = run("rmsprop", lambda w, dw, config=None: rmsprop(w, dw, config, inside=True))
    failing = {res.case.name for res in r.results if not res.passed}
    assert {c.name for c in EXERCISES["rmsprop"].cases() if "eps" in c.tags} <= failing
    assert "float32, 4 steps" not in failing       # gradients of size 1: eps 1e-8 is too small to matter
