"""Learning-rate schedules: the learning rate as a function of the epoch.

Introduced in chapter 2 ("Training a network"). Each schedule is a plain function
``f(epoch, base_lr, ...) -> lr`` of the epoch number (0, 1, 2, ...); :func:`make_schedule`
turns a name into a function ``epoch -> lr``, which is what ``nnbook.fit(lr_schedule=...)`` uses
(it sets the optimizer's ``lr`` once at the start of every epoch).

- :func:`step_lr`: multiply by ``gamma`` every ``step_size`` epochs (PyTorch's ``StepLR``);
- :func:`cosine_lr`: half a cosine from ``base_lr`` down to ``min_lr`` over ``epochs``;
- :func:`warmup_cosine_lr`: a linear warm-up over ``warmup_epochs``, then the cosine.
"""
import numbers

import numpy as np

NAMES = ("step", "cosine", "warmup_cosine")


def _check(who, base_lr=None, epochs=None, **positive_ints):
    if base_lr is not None and not (isinstance(base_lr, numbers.Real) and base_lr > 0):
        raise ValueError(f"{who}: base_lr must be a positive number, got {base_lr!r}")
    if epochs is not None:
        positive_ints["epochs"] = epochs
    for name, value in positive_ints.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{who}: {name} must be a positive integer, got {value!r}")


def _check_epoch(who, epoch):
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise ValueError(f"{who}: epoch must be an integer >= 0, got {epoch!r}")


def step_lr(epoch, base_lr, step_size, gamma=0.1):
    """``base_lr * gamma ** (epoch // step_size)``: constant, then a drop every ``step_size`` epochs.

    Args:
        epoch: 0, 1, 2, ...; base_lr: the starting rate; step_size: epochs between drops;
        gamma: the factor of each drop (0 < gamma <= 1).
    Returns:
        the learning rate (float).
    """
    _check("step_lr", base_lr, step_size=step_size)
    _check_epoch("step_lr", epoch)
    if not 0 < gamma <= 1:
        raise ValueError(f"step_lr: gamma must be in (0, 1], got {gamma!r}")
    return float(base_lr * gamma ** (epoch // step_size))


def cosine_lr(epoch, base_lr, epochs, min_lr=0.0):
    """``min_lr + 0.5 * (base_lr - min_lr) * (1 + cos(pi * epoch / epochs))``.

    Starts at ``base_lr`` (epoch 0) and falls along half a cosine towards ``min_lr``, which it
    would reach at ``epoch == epochs`` (one past the last epoch of training).
    Returns:
        the learning rate (float).
    """
    _check("cosine_lr", base_lr, epochs)
    _check_epoch("cosine_lr", epoch)
    return float(min_lr + 0.5 * (base_lr - min_lr) * (1 + np.cos(np.pi * epoch / epochs)))


def warmup_cosine_lr(epoch, base_lr, epochs, warmup_epochs, min_lr=0.0):
    """A linear warm-up, then :func:`cosine_lr` over the remaining epochs.

    For ``epoch < warmup_epochs``: ``base_lr * (epoch + 1) / (warmup_epochs + 1)`` (so the first
    epoch already trains, with a small rate); from ``warmup_epochs`` on: the cosine from
    ``base_lr`` over ``epochs - warmup_epochs`` epochs.
    Args:
        warmup_epochs: 0 <= warmup_epochs < epochs.
    Returns:
        the learning rate (float).
    """
    _check("warmup_cosine_lr", base_lr, epochs)
    _check_epoch("warmup_cosine_lr", epoch)
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, numbers.Integral) \
            or not 0 <= warmup_epochs < epochs:
        raise ValueError(f"warmup_cosine_lr: warmup_epochs must be an integer in [0, epochs={epochs}), "
                         f"got {warmup_epochs!r}")
    if epoch < warmup_epochs:
        return float(base_lr * (epoch + 1) / (warmup_epochs + 1))
    return cosine_lr(epoch - warmup_epochs, base_lr, epochs - warmup_epochs, min_lr)


def make_schedule(schedule, base_lr, epochs):
    """A function ``epoch -> lr`` from a name or a function; what ``nnbook.fit`` uses.

    Args:
        schedule: None (constant ``base_lr``), ``"step"`` (divide by 10 every
            ``max(1, epochs // 3)`` epochs), ``"cosine"`` (:func:`cosine_lr` to 0),
            ``"warmup_cosine"`` (:func:`warmup_cosine_lr` with ``max(1, epochs // 10)`` warm-up
            epochs, none when ``epochs == 1``), or a function ``epoch -> lr`` (returned as is).
        base_lr: the optimizer's learning rate; epochs: the number of training epochs.
    Returns:
        a function of the epoch, or None for ``schedule=None``.
    """
    if schedule is None or callable(schedule):
        return schedule
    if schedule not in NAMES:
        raise ValueError(f"fit: lr_schedule must be None, one of {list(NAMES)} or a function epoch -> lr, "
                         f"got {schedule!r}")
    _check("make_schedule", base_lr, epochs)
    if schedule == "step":
        size = max(1, epochs // 3)
        return lambda epoch: step_lr(epoch, base_lr, size)
    if schedule == "cosine":
        return lambda epoch: cosine_lr(epoch, base_lr, epochs)
    warmup = min(max(1, epochs // 10), epochs - 1)
    return lambda epoch: warmup_cosine_lr(epoch, base_lr, epochs, warmup)
