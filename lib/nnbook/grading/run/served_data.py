"""While grading, the kernel's ``nnbook.data`` serves only the data the grader gives it.

The capstone (ex8) measures a trained network on digits that its ``train`` never saw. So while
it is graded, the kernel must not have those digits: whatever the notebook's setup cells load
with :func:`nnbook.data.load_digits` comes from the grader, not from scikit-learn. An exercise
set that needs this registers a provider (:func:`register`); for its submissions, :func:`serve`
writes the provided digits into the overlay copy of nnbook that the kernel imports
(:func:`~nnbook.grading.run.guard.build_overlay`) and makes that copy's ``load_digits`` read
them. The kernel then needs neither scikit-learn nor any file outside the overlay.

Sets without a provider keep the ordinary ``load_digits``.
"""
from pathlib import Path

import numpy as np

FILE = "_served_digits.npz"
PROVIDERS = {}

SERVED_LOAD_DIGITS = f'''


def load_digits(test_fraction=0.2, seed=0, dtype=np.float32):
    """While this exercise set is graded: the digits the grader gives this kernel (its training
    part, relabeled), split like the real ones. The held-out digits are not in this kernel.

    Returns ``X_train, y_train, X_test, y_test`` (see the ordinary ``load_digits``).
    """
    import os
    with np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), {FILE!r})) as served:
        X, y = served["X"], served["y"]
    X = (X / 16.0).astype(dtype)[:, None, :, :]
    return train_test_split(X, y.astype(np.int64), test_fraction, seed)
'''


def register(set_name, provider):
    """``provider(seed) -> (pixels, labels)``: the digits a kernel grading ``set_name`` may load,
    pixels as integers 0-16 of shape (N, 8, 8), labels of shape (N,)."""
    PROVIDERS[set_name] = provider


def serve(overlay_dir, set_name, seed):
    """Make the overlay's ``load_digits`` serve the provider's digits for ``set_name`` and the run's
    ``seed``. Returns how many digits are served (0 when the set has no provider)."""
    provider = PROVIDERS.get(set_name)
    if provider is None:
        return 0
    pixels, labels = provider(seed)
    pixels, labels = np.asarray(pixels), np.asarray(labels)
    if pixels.ndim != 3 or pixels.shape[1:] != (8, 8) or labels.shape != (len(pixels),):
        raise ValueError(f"exercise set {set_name}: served digits must be (N, 8, 8) pixels and (N,) labels, "
                         f"got {pixels.shape} and {labels.shape}")
    package = Path(overlay_dir) / "nnbook"
    np.savez(package / FILE, X=pixels.astype(np.uint8), y=labels.astype(np.int64))
    data = package / "data.py"
    data.write_text(data.read_text(encoding="utf-8") + SERVED_LOAD_DIGITS, encoding="utf-8")
    return len(labels)
