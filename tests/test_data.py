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


def test_load_photo_size_is_an_integer_shrink_factor():
    # the docstring's promise: factor f = max(1, 600 // size), 600 // f rows, size <= rows < 2 * size
    full = data.load_photo()
    assert full.shape == (600, 512)
    for size in (8, 60, 64, 100, 299, 300, 301, 600):
        f = max(1, 600 // size)
        img = data.load_photo(size=size)
        assert img.shape == (600 // f, 512 // f), size
        assert size <= img.shape[0] < 2 * size, size
        block = full[:f, :f].mean()
        assert np.isclose(img[0, 0], block)
    assert data.load_photo(size=64).shape == (66, 56) and data.load_photo(size=300).shape == (300, 256)
    assert data.load_photo(gray=False, size=64).shape == (66, 56, 3)
