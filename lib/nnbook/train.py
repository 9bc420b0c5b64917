"""A small training loop: :func:`fit`, :func:`evaluate`, :func:`predict`; :func:`lr_range_test`, :func:`update_bn`.

The model contract: ``model(X_batch) -> logits`` of shape (N, K), ``model.backward(dlogits)``
filling each layer's ``grads``, ``named_parameters()``, and ``train()`` / ``eval()``.
Every :mod:`nnbook.layers` model (e.g. a ``Sequential``) meets it.

Example::

    model = nnbook.models.mlp((2, 64, 3))
    history = fit(model, X, y, epochs=20, lr=0.1, val_fraction=0.2, seed=0)
    history["val_accuracy"][-1]
"""
import numpy as np

from .functional.losses import check_labels, softmax_cross_entropy
from .optim import SGD, Adagrad, Adam, Optimizer, RMSProp, apply_max_norm, clip_grad_norm
from .schedules import make_schedule

_OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSProp, "adagrad": Adagrad}


def _batches(n, batch_size, rng=None):
    order = np.arange(n) if rng is None else rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def _check_xy(X, y, who):
    if not isinstance(X, np.ndarray) or X.ndim < 2:
        raise ValueError(f"{who}: expected X as an array of shape (N, ...), got "
                         f"{getattr(X, 'shape', type(X).__name__)}")
    if y is not None:
        check_labels(y, len(X), np.iinfo(np.int64).max, who)


def _make_optimizer(optimizer, model, lr, optimizer_options, who):
    if isinstance(optimizer, str):
        if optimizer.lower() not in _OPTIMIZERS:
            raise ValueError(f"{who}: optimizer must be one of {sorted(_OPTIMIZERS)} or an Optimizer, "
                             f"got {optimizer!r}")
        return _OPTIMIZERS[optimizer.lower()](model, lr=lr, **optimizer_options)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{who}: optimizer must be a name or an Optimizer, got {type(optimizer).__name__}")
    return optimizer


def _check_max_norm(value, who, name="max_grad_norm"):
    if value is not None and not (isinstance(value, (int, float, np.number)) and value > 0):
        raise ValueError(f"{who}: {name} must be None or a positive number, got {value!r}")


def fit(model, X, y, epochs=10, batch_size=64, optimizer="sgd", lr=0.05, val_fraction=0.0,
        validation_data=None, seed=0, progress=True, lr_schedule=None, max_grad_norm=None,
        max_weight_norm=None, **optimizer_options):
    """Train ``model`` on ``(X, y)`` with mini-batches and softmax cross-entropy.

    Args:
        X: inputs, shape (N, ...); y: integer labels, shape (N,).
        epochs, batch_size: passes over the data and examples per step.
        optimizer: ``"sgd"``, ``"adam"``, ``"rmsprop"``, ``"adagrad"`` or an
            :class:`~nnbook.optim.Optimizer`.
        lr, **optimizer_options: passed to the optimizer (e.g. ``momentum=0.9``).
        val_fraction: hold out this fraction of (X, y) for validation; or give
            ``validation_data=(X_val, y_val)``.
        seed: seeds the shuffling (and the validation split).
        progress: show a tqdm bar (a widget in JupyterLab, text in a terminal).
        lr_schedule: None (constant), ``"step"``, ``"cosine"`` (decay from lr to 0 over the
            epochs), ``"warmup_cosine"`` (see :func:`nnbook.schedules.make_schedule`), or a
            function ``epoch -> lr``; the rate is set once at the start of every epoch.
        max_grad_norm: None, or clip the total norm of the gradients to this value before every
            step (:func:`nnbook.optim.clip_grad_norm`).
        max_weight_norm: None, or the max-norm constraint: after every step, cap the norm of
            each unit's incoming weights of every ``Linear`` and ``Conv2d`` at this value
            (:func:`nnbook.optim.apply_max_norm`).
    Returns:
        history: dict of per-epoch lists ``loss``, ``accuracy`` (training, measured while
        training) and, with validation data, ``val_loss``, ``val_accuracy``.
    """
    _check_xy(X, y, "fit")
    _check_max_norm(max_grad_norm, "fit")
    _check_max_norm(max_weight_norm, "fit", "max_weight_norm")
    rng = np.random.default_rng(seed)
    if validation_data is None and val_fraction:
        if not 0 < val_fraction < 1:
            raise ValueError(f"fit: val_fraction must be in (0, 1), got {val_fraction!r}")
        order = rng.permutation(len(X))
        n_val = int(round(len(X) * val_fraction))
        validation_data = (X[order[:n_val]], y[order[:n_val]])
        X, y = X[order[n_val:]], y[order[n_val:]]
    optimizer = _make_optimizer(optimizer, model, lr, optimizer_options, "fit")

    lr_schedule = make_schedule(lr_schedule, optimizer.lr, epochs)

    history = {"loss": [], "accuracy": []}
    if validation_data is not None:
        history.update(val_loss=[], val_accuracy=[])
    bar = _progress(epochs * -(-len(X) // batch_size), progress)
    for epoch in range(epochs):
        if lr_schedule is not None:
            optimizer.lr = float(lr_schedule(epoch))
        model.train()
        total_loss = correct = 0.0
        for idx in _batches(len(X), batch_size, rng):
            logits = model(X[idx])
            loss, dlogits = softmax_cross_entropy(logits, y[idx])
            model.backward(dlogits.astype(logits.dtype, copy=False))
            if max_grad_norm is not None:
                clip_grad_norm(model, max_grad_norm)
            optimizer.step()
            if max_weight_norm is not None:
                apply_max_norm(model, max_weight_norm)
            total_loss += loss * len(idx)
            correct += (logits.argmax(axis=1) == y[idx]).sum()
            bar.update(1)
        history["loss"].append(float(total_loss / len(X)))
        history["accuracy"].append(float(correct / len(X)))
        summary = {"loss": f"{history['loss'][-1]:.3f}", "acc": f"{history['accuracy'][-1]:.3f}"}
        if validation_data is not None:
            val_loss, val_acc = evaluate(model, *validation_data, batch_size=max(batch_size, 256))
            history["val_loss"].append(val_loss)
            history["val_accuracy"].append(val_acc)
            summary.update(val_acc=f"{val_acc:.3f}")
        bar.set_postfix(epoch=epoch + 1, **summary)
    bar.close()
    model.eval()
    return history


def lr_range_test(model, X, y, lr_min=1e-4, lr_max=10.0, steps=100, batch_size=32, optimizer="sgd",
                  seed=0, stop_factor=4.0, **optimizer_options):
    """Learning-rate range test (Smith, 2017): one short run whose rate grows geometrically.

    Step ``t`` (0, 1, ..., ``steps - 1``) uses the rate ``lr_min * (lr_max / lr_min) ** (t / (steps - 1))``
    on the next mini-batch (shuffled with ``seed``, as in :func:`fit`); ``loss[t]`` is that batch's
    loss just before the step. The run stops early when the loss is not finite, exceeds
    ``stop_factor`` times the lowest loss so far, or a layer refuses the (overflowing) values.
    Plotted against the rate, the loss first stays flat (rate too small), then falls, then
    blows up: useful rates lie below the bottom of that curve. The model is trained in place:
    pass a fresh one.

    Args:
        model: the model to train (its weights change).
        X: inputs, shape (N, ...); y: integer labels, shape (N,).
        lr_min, lr_max: first and last rate, 0 < lr_min < lr_max.
        steps: number of steps (>= 2) if the run does not stop early.
        batch_size, seed: as in :func:`fit`.
        optimizer, **optimizer_options: as in :func:`fit` (e.g. ``momentum=0.9``).
        stop_factor: stop when the loss exceeds this multiple of the lowest loss so far (> 1).
    Returns:
        dict with ``lr`` and ``loss``, arrays of shape (T,) with T <= ``steps``.
    """
    _check_xy(X, y, "lr_range_test")
    if not 0 < lr_min < lr_max:
        raise ValueError(f"lr_range_test: need 0 < lr_min < lr_max, got lr_min={lr_min!r}, lr_max={lr_max!r}")
    if int(steps) != steps or steps < 2:
        raise ValueError(f"lr_range_test: steps must be an integer >= 2, got {steps!r}")
    if not stop_factor > 1:
        raise ValueError(f"lr_range_test: stop_factor must be > 1, got {stop_factor!r}")
    optimizer = _make_optimizer(optimizer, model, lr_min, optimizer_options, "lr_range_test")
    rates = lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))
    rng = np.random.default_rng(seed)
    batches = iter(())
    losses = []
    model.train()
    with np.errstate(over="ignore", invalid="ignore"):
        for t, rate in enumerate(rates):
            idx = next(batches, None)
            if idx is None:                          # a new epoch: reshuffle
                batches = _batches(len(X), batch_size, rng)
                idx = next(batches)
            try:
                logits = model(X[idx])
                loss, dlogits = softmax_cross_entropy(logits, y[idx])
            except ValueError:
                if t == 0:
                    raise
                break                                # a layer refused inf/NaN: diverged
            if not np.isfinite(loss):
                break
            losses.append(float(loss))
            if loss > stop_factor * min(losses):
                break
            model.backward(dlogits.astype(logits.dtype, copy=False))
            optimizer.lr = float(rate)
            optimizer.step()
    model.eval()
    return {"lr": rates[:len(losses)], "loss": np.array(losses)}


def predict_logits(model, X, batch_size=256):
    """Logits of the model in eval mode, shape (N, K)."""
    _check_xy(X, None, "predict")
    model.eval()
    return np.concatenate([model(X[idx]) for idx in _batches(len(X), batch_size)])


def predict(model, X, batch_size=256):
    """Predicted class of each example, shape (N,)."""
    return predict_logits(model, X, batch_size).argmax(axis=1)


def evaluate(model, X, y, batch_size=256):
    """Mean cross-entropy loss and accuracy of the model (eval mode). Returns ``(loss, accuracy)``."""
    _check_xy(X, y, "evaluate")
    logits = predict_logits(model, X, batch_size)
    loss, _ = softmax_cross_entropy(logits, y)
    return loss, float((logits.argmax(axis=1) == y).mean())


def update_bn(model, X, batch_size=64, seed=0):
    """Recompute the running statistics of every batch norm in ``model`` from the data ``X``.

    One pass through ``X`` in training mode, in batches of ``batch_size`` (shuffled with
    ``seed``; ``seed=None`` keeps the order). Each batch norm's running mean and running
    variance become the plain average, over the batches, of the batch means and of the
    unbiased batch variances: every batch weighs the same, instead of the exponential
    weighting by ``momentum`` during training. This is what PyTorch's
    ``torch.optim.swa_utils.update_bn`` does (with ``momentum=None``). Use it after training,
    when the running averages lag behind weights that changed quickly. Only the running
    statistics change: parameters stay as they were, and so do each layer's ``momentum`` and
    the model's mode (a Dropout layer drops units during the pass, as in training).

    Args:
        model: a layer or model; X: inputs, shape (N, ...), the training data as a rule.
    Returns:
        the number of batch-norm layers updated.
    """
    from .layers.norm import _BatchNorm
    _check_xy(X, None, "update_bn")
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not norms:
        return 0
    momenta = [m.momentum for m in norms]
    modes = [(m, m.training) for m in model.modules()]
    rng = None if seed is None else np.random.default_rng(seed)
    try:
        model.train()
        for k, idx in enumerate(_batches(len(X), batch_size, rng), start=1):
            for m in norms:        # the k-th batch gets weight 1/k: a running plain average
                m.momentum = 1.0 / k
            model(X[idx])
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        for m, mode in modes:
            m.training = mode
    return len(norms)


class _NoBar:
    def update(self, n=1):
        pass

    def set_postfix(self, **kw):
        pass

    def close(self):
        pass


def _progress(total, enabled):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="training", unit="batch", leave=True)
