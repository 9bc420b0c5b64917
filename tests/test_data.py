"""nnbook's copy of the 8x8 digits (lib/nnbook/_data/digits.npz) is scikit-learn's, exactly, so the
reader's install needs neither scikit-learn nor SciPy."""
import numpy as np
import pytest

from nnbook import data


def test_the_stored_digits_are_scikit_learns():
    sklearn_datasets = pytest.importorskip("sklearn.datasets", reason="the 'test' extra installs scikit-learn")
    ref = sklearn_datasets.load_digits()
    images, target = data.digits_raw()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert np.array_equal(images.astype(np.float64), ref.images)
    assert np.array_equal(target.astype(np.int64), ref.target)
    # load_digits gives the arrays it gave when it read scikit-learn's copy
    X_train, y_train, X_test, y_test = data.load_digits()
    expected = data.train_test_split((ref.images / 16.0).astype(np.float32)[:, None], ref.target.astype(np.int64))
    for got, want in zip((X_train, y_train, X_test, y_test), expected):
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_load_digits_shapes_and_range():
    X_train, y_train, X_test, y_test = data.load_digits(dtype=np.float64)
    assert X_train.shape == (1438, 1, 8, 8) and X_test.shape == (359, 1, 8, 8)
    assert X_train.dtype == np.float64 and 0 <= X_train.min() and X_train.max() == 1
    assert set(np.unique(y_train)) == set(range(10)) and y_test.dtype == np.int64
