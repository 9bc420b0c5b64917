"""Softmax cross-entropy loss, the mean over the batch (PyTorch's ``cross_entropy``)."""
import numpy as np

from .._checks import check_array


def check_labels(y, n, num_classes, who):
    """Integer class labels of shape (n,), each in [0, num_classes)."""
    if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.integer):
        kind = y.dtype if isinstance(y, np.ndarray) else type(y).__name__
        raise TypeError(f"{who}: expected integer class labels y, got {kind}")
    if y.shape != (n,):
        raise ValueError(f"{who}: expected labels y of shape ({n},), got {y.shape}")
    if n and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{who}: labels must be in [0, {num_classes - 1}] for {num_classes} classes, "
                         f"got values from {y.min()} to {y.max()}")


def log_softmax(logits):
    """Row-wise ``log(softmax)``, stable for large logits. Shape (N, K)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    Args:
        logits: shape (N, K).
        y: integer labels, shape (N,), values in [0, K).
    Returns:
        loss: float; dlogits: shape (N, K), ``(softmax(logits) - onehot(y)) / N``.
    """
    who = "softmax_cross_entropy"
    check_array(logits, who, "logits", ndim=2)
    N, K = logits.shape
    if N == 0:
        raise ValueError(f"{who}: got an empty batch (logits of shape {logits.shape})")
    check_labels(y, N, K, who)
    logp = log_softmax(logits)
    rows = np.arange(N)
    loss = -logp[rows, y].mean()
    dlogits = np.exp(logp)
    dlogits[rows, y] -= 1
    dlogits /= N
    return float(loss), dlogits
