"""Learning-rate schedules (nnbook.schedules), fit's lr_schedule names, and the init functions
(nnbook.init) that Linear and Conv2d use."""
import numpy as np
import pytest

import nnbook
from nnbook import init, schedules
from nnbook.optim import SGD


def _lrs_seen_by_fit(epochs, lr_schedule, lr=1.0):
    """The learning rate of every optimizer step of a tiny fit (one step per epoch)."""
    X, y = nnbook.data.make_blobs(10, 2, seed=0)
    opt = SGD(nnbook.models.mlp((2, 2), rng=np.random.default_rng(0)), lr=lr)
    seen, real_step = [], opt.step

    def spy():
        seen.append(opt.lr)
        real_step()

    opt.step = spy
    nnbook.fit(opt.model, X.astype(np.float32), y, epochs=epochs, batch_size=len(X), optimizer=opt,
               lr_schedule=lr_schedule, progress=False)
    return seen


def test_step_lr_values():
    got = [schedules.step_lr(e, 0.5, step_size=3, gamma=0.1) for e in range(7)]
    np.testing.assert_allclose(got, [0.5, 0.5, 0.5, 0.05, 0.05, 0.05, 0.005])


def test_cosine_lr_endpoints_and_midpoint():
    assert schedules.cosine_lr(0, 0.2, 10) == 0.2
    assert np.isclose(schedules.cosine_lr(5, 0.2, 10), 0.1)
    assert np.isclose(schedules.cosine_lr(10, 0.2, 10), 0.0)
    assert np.isclose(schedules.cosine_lr(10, 0.2, 10, min_lr=0.02), 0.02)
    assert np.isclose(schedules.cosine_lr(5, 0.2, 10, min_lr=0.02), 0.11)          # halfway between
    values = [schedules.cosine_lr(e, 0.2, 10) for e in range(11)]
    assert all(a > b for a, b in zip(values, values[1:]))


def test_warmup_cosine_rises_then_follows_the_cosine():
    values = [schedules.warmup_cosine_lr(e, 1.0, 10, warmup_epochs=3) for e in range(10)]
    np.testing.assert_allclose(values[:3], [0.25, 0.5, 0.75])
    np.testing.assert_allclose(values[3:], [schedules.cosine_lr(e, 1.0, 7) for e in range(7)])
    assert values[3] == 1.0
    assert [schedules.warmup_cosine_lr(e, 1.0, 4, 0) for e in range(4)] == \
        [schedules.cosine_lr(e, 1.0, 4) for e in range(4)]


def test_fit_cosine_is_the_former_formula_exactly():
    # fit's "cosine" before the schedules module: 0.5 * lr * (1 + cos(pi * epoch / epochs))
    seen = _lrs_seen_by_fit(5, "cosine", lr=0.3)
    assert seen == [float(0.5 * 0.3 * (1 + np.cos(np.pi * e / 5))) for e in range(5)]


def test_fit_accepts_every_name_and_a_function():
    assert _lrs_seen_by_fit(6, "step") == [schedules.step_lr(e, 1.0, 2) for e in range(6)]
    assert _lrs_seen_by_fit(10, "warmup_cosine") == [schedules.warmup_cosine_lr(e, 1.0, 10, 1) for e in range(10)]
    assert _lrs_seen_by_fit(1, "warmup_cosine") == [1.0]          # no room for a warm-up
    assert _lrs_seen_by_fit(3, lambda e: 0.1 * (e + 1)) == pytest.approx([0.1, 0.2, 0.3])
    assert _lrs_seen_by_fit(2, None, lr=0.7) == [0.7, 0.7]


def test_schedule_errors_name_the_function():
    with pytest.raises(ValueError, match="lr_schedule must be None, one of"):
        schedules.make_schedule("exponential", 0.1, 5)
    with pytest.raises(ValueError, match="step_lr: step_size must be a positive integer"):
        schedules.step_lr(0, 0.1, 0)
    with pytest.raises(ValueError, match="cosine_lr: epoch must be an integer >= 0"):
        schedules.cosine_lr(-1, 0.1, 5)
    with pytest.raises(ValueError, match=r"warmup_cosine_lr: warmup_epochs must be an integer in \[0, epochs=5\)"):
        schedules.warmup_cosine_lr(0, 0.1, 5, 5)
    with pytest.raises(ValueError, match="base_lr must be a positive number"):
        schedules.cosine_lr(0, -0.1, 5)


def test_init_scales_and_fans():
    rng = np.random.default_rng(0)
    assert init.fans((300, 200)) == (300, 200)
    assert init.fans((16, 8, 3, 3)) == (72, 144)
    W = init.he_normal((400, 500), rng=rng)
    assert W.shape == (400, 500) and W.dtype == np.float64
    assert abs(W.std() / np.sqrt(2 / 400) - 1) < 0.01
    W = init.xavier_normal((400, 500), rng=rng, dtype=np.float32)
    assert W.dtype == np.float32 and abs(W.std() / np.sqrt(2 / 900) - 1) < 0.01
    assert abs(init.normal((1000, 100), 0.01, rng=rng).std() / 0.01 - 1) < 0.01
    with pytest.raises(ValueError, match="fans: expected a weight shape"):
        init.he_normal((3,))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        init.normal((2, 2), 1.0, rng=0)
    with pytest.raises(ValueError, match="Linear: init must be 'he' or 'glorot'"):
        nnbook.Linear(2, 2, init="uniform")
    with pytest.raises(ValueError, match="Conv2d: init must be 'he' or 'glorot'"):
        nnbook.Conv2d(1, 2, 3, init="kaiming")


def test_layers_default_init_draws_from_nnbook_init():
    # Linear (D, M) and Conv2d (F, C, kh, kw) take the same draw as init.he_normal / xavier_normal
    lin = nnbook.Linear(6, 4, rng=np.random.default_rng(3))
    assert np.array_equal(lin.params["W"], init.he_normal((6, 4), rng=np.random.default_rng(3), dtype=np.float32))
    conv = nnbook.Conv2d(3, 5, 3, init="glorot", rng=np.random.default_rng(4), dtype=np.float64)
    assert np.array_equal(conv.params["W"], init.xavier_normal((5, 3, 3, 3), rng=np.random.default_rng(4)))
    # and with the scale the docstrings promise: fan_in = C * kh * kw for a convolution
    big = nnbook.Conv2d(32, 64, 3, rng=np.random.default_rng(5), dtype=np.float64).params["W"]
    assert abs(big.std() / np.sqrt(2 / (32 * 9)) - 1) < 0.02


def test_uniform_inits_have_their_variance_and_torch_bounds():
    rng = np.random.default_rng(1)
    W = init.uniform((500, 400), 0.3, rng=rng, dtype=np.float32)
    assert W.dtype == np.float32 and np.abs(W).max() <= 0.3 and abs(W.var() / (0.3 ** 2 / 3) - 1) < 0.01
    for shape in ((400, 500), (16, 32, 3, 3)):
        fan_in, fan_out = init.fans(shape)
        assert abs(init.he_uniform(shape, rng).var() / (2 / fan_in) - 1) < 0.02
        assert abs(init.xavier_uniform(shape, rng).var() / (2 / (fan_in + fan_out)) - 1) < 0.02
        # PyTorch's default (a = sqrt(5)): uniform on +-1/sqrt(fan_in), a sixth of He's variance
        assert abs(init.he_uniform(shape, rng, a=np.sqrt(5)).var() / (1 / (3 * fan_in)) - 1) < 0.02
    with pytest.raises(ValueError, match="he_uniform: a must be a finite number >= 0"):
        init.he_uniform((2, 2), a=-1.0)
    with pytest.raises(ValueError, match="uniform: bound must be a finite number >= 0"):
        init.uniform((2, 2), np.inf)


def test_uniform_bounds_equal_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    big = 2_000_000

    def torch_bound(fill, shape):                   # the largest |w| of many draws: the bound, to ~1e-6
        t = torch.empty(shape, dtype=torch.float64)
        fill(t)
        return float(t.abs().max())

    def ours_bound(make, shape):
        return float(np.abs(make(shape)).max())

    rng = np.random.default_rng(2)
    # torch keeps a Linear weight as (out, in) and ours as (in, out); conv weights are (F, C, kh, kw)
    for ours_shape, torch_shape in (((big // 100, 100), (100, big // 100)),
                                    ((big // 72, 8, 3, 3), (big // 72, 8, 3, 3))):
        pairs = [(lambda s: init.he_uniform(s, rng), lambda t: torch.nn.init.kaiming_uniform_(t, a=0.0)),
                 (lambda s: init.he_uniform(s, rng, a=np.sqrt(5)),
                  lambda t: torch.nn.init.kaiming_uniform_(t, a=np.sqrt(5))),
                 (lambda s: init.xavier_uniform(s, rng), torch.nn.init.xavier_uniform_)]
        for make, fill in pairs:
            ours, theirs = ours_bound(make, ours_shape), torch_bound(fill, torch_shape)
            assert abs(ours / theirs - 1) < 1e-4, (ours_shape, ours, theirs)
    # nn.Linear's own default is the a = sqrt(5) case: bound 1 / sqrt(in_features)
    lin = torch.nn.Linear(100, big // 100, dtype=torch.float64)
    assert abs(float(lin.weight.detach().abs().max()) * np.sqrt(100) - 1) < 1e-4
