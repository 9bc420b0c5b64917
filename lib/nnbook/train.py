"""A small training loop: :func:`fit`, :func:`evaluate`, :func:`predict`, and :func:`update_bn`.

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
from .optim import SGD, Adam, Optimizer, RMSProp
from .schedules import make_schedule

_OPTIMIZERS = {"sgd": SGD, "adam": Adam, "rmsprop": RMSProp}


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


def fit(model, X, y, epochs=10, batch_size=64, optimizer="sgd", lr=0.05, val_fraction=0.0,
        validation_data=None, seed=0, progress=True, lr_schedule=None, **optimizer_options):
    """Train ``model`` on ``(X, y)`` with mini-batches and softmax cross-entropy.

    Args:
        X: inputs, shape (N, ...); y: integer labels, shape (N,).
        epochs, batch_size: passes over the data and examples per step.
        optimizer: ``"sgd"``, ``"adam"``, ``"rmsprop"`` or an :class:`~nnbook.optim.Optimizer`.
        lr, **optimizer_options: passed to the optimizer (e.g. ``momentum=0.9``).
        val_fraction: hold out this fraction of (X, y) for validation; or give
            ``validation_data=(X_val, y_val)``.
        seed: seeds the shuffling (and the validation split).
        progress: show a tqdm bar (a widget in JupyterLab, text in a terminal).
        lr_schedule: None (constant), ``"step"``, ``"cosine"`` (decay from lr to 0 over the
            epochs), ``"warmup_cosine"`` (see :func:`nnbook.schedules.make_schedule`), or a
            function ``epoch -> lr``; the rate is set once at the start of every epoch.
    Returns:
        history: dict of per-epoch lists ``loss``, ``accuracy`` (training, measured while
        training) and, with validation data, ``val_loss``, ``val_accuracy``.
    """
    _check_xy(X, y, "fit")
    rng = np.random.default_rng(seed)
    if validation_data is None and val_fraction:
        if not 0 < val_fraction < 1:
            raise ValueError(f"fit: val_fraction must be in (0, 1), got {val_fraction!r}")
        order = rng.permutation(len(X))
        n_val = int(round(len(X) * val_fraction))
        validation_data = (X[order[:n_val]], y[order[:n_val]])
        X, y = X[order[n_val:]], y[order[n_val:]]
    if isinstance(optimizer, str):
        if optimizer.lower() not in _OPTIMIZERS:
            raise ValueError(f"fit: optimizer must be one of {sorted(_OPTIMIZERS)} or an Optimizer, got {optimizer!r}")
        optimizer = _OPTIMIZERS[optimizer.lower()](model, lr=lr, **optimizer_options)
    elif not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: optimizer must be a name or an Optimizer, got {type(optimizer).__name__}")

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
            optimizer.step()
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
