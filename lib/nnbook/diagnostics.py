"""Looking inside a network: per-layer gradient norms and feature maps.

- :func:`gradient_norms`: the size of every weight gradient for one batch.
- :func:`feature_maps`: the output of each layer of a ``Sequential`` for one batch.
- :func:`train_mode_logits`: what a batch-norm model outputs when ``eval()`` is forgotten.
"""
import numpy as np

from .functional.losses import softmax_cross_entropy


def gradient_norms(model, X, y, keys=("W",)):
    """Euclidean norm of each weight gradient after one forward/backward pass on a batch.

    The model runs in training mode (batch norm uses the batch statistics and dropout
    draws masks, as in training); batch-norm running averages and the train/eval mode
    are restored afterwards. The ``grads`` of every layer are overwritten.

    Args:
        model: a layer or ``Sequential`` (e.g. :func:`nnbook.models.deep_cnn`).
        X: a batch, shape (N, ...); y: integer labels, shape (N,).
        keys: which parameters to report (default: only weights ``"W"``, not biases
            or batch-norm scales).
    Returns:
        dict ``{parameter name: norm}`` in forward order, e.g. ``{"0.W": 0.8, "1.conv1.W": ...}``.
    """
    saved = _running_stats(model)
    was_training = model.training
    model.train()
    try:
        logits = model(X)
        _, dlogits = softmax_cross_entropy(logits, y)
        model.backward(dlogits.astype(logits.dtype, copy=False))
    finally:
        _restore_running_stats(saved)
        model.train(was_training)
    return {name: float(np.linalg.norm(module.grads[key]))
            for name, module, key in model.named_parameters() if key in keys}


def feature_maps(model, x):
    """Outputs of every layer of a ``Sequential`` for the batch x (eval mode).

    Returns:
        list of ``(layer name, output)`` pairs, one per layer, in order; each output
        has shape (N, ...) (e.g. (N, C, H, W) after a convolution or a residual block).
    """
    model.eval()
    outputs = []
    for i, layer in enumerate(model):
        x = layer(x)
        outputs.append((f"{i}: {layer.name}", x))
    return outputs


def train_mode_logits(model, X, batch_size, order=None):
    """The model's outputs in *training* mode, fed in batches of ``batch_size``.

    This is what a model with batch norm computes when ``eval()`` is forgotten: every
    batch is normalized with its own statistics, so an example's output depends on the
    other examples in its batch. The running averages and the train/eval mode are restored
    afterwards, so the model is left exactly as it was.

    Args:
        model: a layer or ``Sequential`` (typically with ``BatchNorm1d``/``BatchNorm2d``).
        X: inputs, shape (N, ...).
        batch_size: examples per batch (the last batch may be smaller).
        order: optional permutation of ``range(N)``: the batches are ``X[order[i:i + batch_size]]``
            (e.g. examples sorted by class to make skewed batches); default ``range(N)``.
    Returns:
        outputs of shape (N, ...) in the original order of X.
    """
    if not isinstance(X, np.ndarray) or X.ndim < 2:
        raise ValueError(f"train_mode_logits: expected X as an array of shape (N, ...), got "
                         f"{getattr(X, 'shape', type(X).__name__)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"train_mode_logits: batch_size must be a positive int, got {batch_size!r}")
    order = np.arange(len(X)) if order is None else np.asarray(order)
    if sorted(order.tolist()) != list(range(len(X))):
        raise ValueError(f"train_mode_logits: order must be a permutation of range({len(X)})")
    saved = _running_stats(model)
    was_training = model.training
    model.train()
    try:
        parts = [model(X[order[i:i + batch_size]]) for i in range(0, len(X), batch_size)]
    finally:
        _restore_running_stats(saved)
        model.train(was_training)
    out = np.empty((len(X),) + parts[0].shape[1:], dtype=parts[0].dtype)
    out[order] = np.concatenate(parts)
    return out


def _running_stats(model):
    return [(m, buf, getattr(m, buf).copy()) for m in model.modules() for buf in getattr(m, "_buffers", ())]


def _restore_running_stats(saved):
    for module, buf, value in saved:
        setattr(module, buf, value)
