"""While grading, the kernel's copy of nnbook holds only the digits the grader gives it.

The capstone (ex8) measures a trained network on digits that its ``train`` never saw. So while it is
graded, the kernel must not have those digits. nnbook ships all 1,797 of them in its package
(``nnbook/_data/digits.npz``, read by :func:`nnbook.data.digits_raw` and
:func:`nnbook.data.load_digits`); the kernel imports the overlay copy of the package
(:func:`~nnbook.grading.run.guard.build_overlay`), and for a set that registers a provider
(:func:`register`), :func:`serve` overwrites that copy's digits file with the provided digits. Then
``load_digits``, ``digits_raw``, ``importlib.resources`` and any path next to ``nnbook/data.py`` in
the kernel find only the grader's training part; under ``--sandbox`` the overlay is also mounted over
the real package, so the full file is not in the kernel's view at all. (In the default mode the
kernel runs as you and can read any file you can, the real package's too: see README.md.)

Sets without a provider keep the real digits.
"""
from pathlib import Path

import numpy as np

PROVIDERS = {}


def register(set_name, provider):
    """``provider(seed) -> (pixels, labels)``: the digits a kernel grading ``set_name`` may load,
    pixels as integers 0-16 of shape (N, 8, 8), labels of shape (N,)."""
    PROVIDERS[set_name] = provider


def digits_file(overlay_dir):
    """Where the overlay copy of nnbook keeps its digits (the same place as in the real package)."""
    from ...data import DIGITS
    package = Path(DIGITS).resolve().parents[1]          # .../nnbook/_data/digits.npz -> .../nnbook
    return Path(overlay_dir) / "nnbook" / Path(DIGITS).resolve().relative_to(package)


def serve(overlay_dir, set_name, seed):
    """Replace the overlay's digits by the provider's for ``set_name`` and the run's ``seed``.
    Returns how many digits are served (0 when the set has no provider: the real digits stay)."""
    provider = PROVIDERS.get(set_name)
    if provider is None:
        return 0
    pixels, labels = provider(seed)
    pixels, labels = np.asarray(pixels), np.asarray(labels)
    if pixels.ndim != 3 or pixels.shape[1:] != (8, 8) or labels.shape != (len(pixels),):
        raise ValueError(f"exercise set {set_name}: served digits must be (N, 8, 8) pixels and (N,) labels, "
                         f"got {pixels.shape} and {labels.shape}")
    target = digits_file(overlay_dir)
    if not target.is_file():
        raise FileNotFoundError(f"exercise set {set_name}: the overlay has no digits file at {target}")
    with open(target, "wb") as f:                     # same keys and dtypes as the shipped file
        np.savez_compressed(f, images=pixels.astype(np.uint8), target=labels.astype(np.uint8))
    return len(labels)
