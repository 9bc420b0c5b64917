"""Looking inside a network: per-layer gradient norms and feature maps.

- :func:`gradient_norms`: the size of every weight gradient for one batch.
- :func:`feature_maps`: the output of each layer of a ``Sequential`` for one batch.
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


def _running_stats(model):
    return [(m, buf, getattr(m, buf).copy()) for m in model.modules() for buf in getattr(m, "_buffers", ())]


def _restore_running_stats(saved):
    for module, buf, value in saved:
        setattr(module, buf, value)
