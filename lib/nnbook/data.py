"""Data sets that need no network: everything comes from installed packages or is made here.

- :func:`load_digits`: the 8x8 handwritten digits (1,797 images; the copy of the UCI data set that
  scikit-learn ships, stored in this package as ``_data/digits.npz``, 45 KB).
- :func:`load_photo`: a real photograph shipped with matplotlib (Grace Hopper, 600x512).
- :func:`make_spirals`, :func:`make_blobs`: small synthetic 2-D classification sets.
"""
from pathlib import Path

import numpy as np


def train_test_split(X, y, test_fraction=0.2, seed=0):
    """Shuffle with a seeded rng, then cut off the last ``test_fraction`` as the test set.

    Returns ``X_train, y_train, X_test, y_test``.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"train_test_split: test_fraction must be in (0, 1), got {test_fraction!r}")
    if len(X) != len(y):
        raise ValueError(f"train_test_split: X has {len(X)} rows but y has {len(y)}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(len(X) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


DIGITS = Path(__file__).resolve().parent / "_data" / "digits.npz"


def digits_raw():
    """The 1,797 digits as stored: ``images`` (1797, 8, 8) uint8 gray levels 0-16, ``target`` (1797,).

    The "Optical Recognition of Handwritten Digits" data set (E. Alpaydin and C. Kaynak, UCI Machine
    Learning Repository, CC BY 4.0), in the order and form scikit-learn's ``load_digits`` gives
    (its test set: 1,797 images). tests/test_data.py checks that they are equal.
    """
    with np.load(DIGITS) as f:
        return f["images"], f["target"]


def load_digits(test_fraction=0.2, seed=0, dtype=np.float32):
    """The 8x8 digits (:func:`digits_raw`) as NCHW images scaled to [0, 1].

    Returns:
        X_train (N_train, 1, 8, 8), y_train (N_train,), X_test (N_test, 1, 8, 8), y_test (N_test,);
        labels are ints 0-9. With ``test_fraction=0.2``: 1,438 training and 359 test images.
    """
    images, target = digits_raw()
    X = (images.astype(np.float64) / 16.0).astype(dtype)[:, None, :, :]
    y = target.astype(np.int64)
    return train_test_split(X, y, test_fraction, seed)


def load_photo(gray=True, size=None, dtype=np.float64):
    """A real photograph (matplotlib's sample ``grace_hopper.jpg``), values in [0, 1].

    Args:
        gray: if True return shape (H, W) luminance, else (H, W, 3) RGB.
        size: optional approximate height. The 600 x 512 photo is shrunk by the integer factor
            ``f = max(1, 600 // size)`` (means of ``f x f`` blocks; rows and columns left over are
            dropped), so the result has ``600 // f`` rows: for ``size <= 600`` at least ``size``
            and fewer than ``2 * size``. ``size=64`` gives (66, 56), ``size=300`` (300, 256).

    Shape:
        (600, 512) without ``size``, else (600 // f, 512 // f); RGB adds a last axis of 3.
    """
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = mpimg.imread(f, format="jpg").astype(np.float64) / 255.0
    if gray:
        img = img @ np.array([0.299, 0.587, 0.114])
    if size is not None:
        k = max(1, img.shape[0] // size)
        H, W = img.shape[0] // k * k, img.shape[1] // k * k
        img = img[:H, :W].reshape(H // k, k, W // k, k, *img.shape[2:]).mean(axis=(1, 3))
    return img.astype(dtype)


def make_spirals(n_per_class=100, n_classes=3, noise=0.2, seed=0):
    """Interleaved 2-D spirals (not linearly separable).

    Arm ``k`` has ``n_per_class`` points at radii ``r = 0, 1/(n_per_class - 1), ..., 1`` and angles
    around ``[4k, 4(k + 1)]`` plus Gaussian noise of standard deviation ``noise``. Every arm starts
    at ``r = 0``, so the first point of each class is exactly ``(0, 0)``: ``n_classes`` identical
    inputs with different labels. No classifier gets more than one of them right, and the mean
    cross-entropy over the whole set cannot go below ``ln(n_classes) / n_per_class`` (equal
    probabilities at the origin).

    Returns:
        X: shape (n_per_class * n_classes, 2), float64; y: int labels.
    """
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k in range(n_classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, n_per_class) + rng.standard_normal(n_per_class) * noise
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(n_per_class, k))
    return np.concatenate(X), np.concatenate(y).astype(np.int64)


def make_blobs(n_per_class=100, n_classes=3, spread=0.5, seed=0):
    """Gaussian blobs around centers on a circle of radius 2. Returns ``X (N, 2), y (N,)``."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(n_classes) / n_classes
    centers = 2 * np.c_[np.cos(angles), np.sin(angles)]
    X = np.concatenate([c + spread * rng.standard_normal((n_per_class, 2)) for c in centers])
    y = np.repeat(np.arange(n_classes), n_per_class).astype(np.int64)
    return X, y
