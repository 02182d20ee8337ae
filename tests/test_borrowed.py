"""_kernels._common.borrowed: arrays without their reference count, the same data."""

import numpy as np
from numba import njit

from fastwals._kernels._common import borrowed


@njit
def _scale_rows(X, factor, out):
    X, factor, out = borrowed((X, factor, out))
    for u in range(X.shape[0]):
        row = X[u]  # a view of a borrowed array: no count to raise or lower
        for a in range(row.size):
            row[a] *= factor
        out[u] = row.sum()
    return X.shape[0], X.strides[0], factor


def test_borrowed_arrays_are_the_same_memory_and_other_values_pass_through():
    X = np.arange(12, dtype=np.float32).reshape(3, 4)
    expected = X * 2
    out = np.zeros(3, dtype=np.float64)
    n, stride, factor = _scale_rows(X, 2.0, out)
    assert (n, stride, factor) == (3, 16, 2.0)
    assert np.array_equal(X, expected)  # written through the borrowed views
    assert np.array_equal(out, expected.sum(axis=1))


def test_borrowed_strided_views_keep_their_strides():
    base = np.arange(40, dtype=np.float64).reshape(8, 5)
    X = base[::2, 1:4]  # neither C- nor F-contiguous
    expected = X * 3
    out = np.zeros(4)
    _scale_rows(X, 3.0, out)
    assert np.array_equal(X, expected)
    assert np.array_equal(base[1::2], np.arange(40.0).reshape(8, 5)[1::2])  # untouched
