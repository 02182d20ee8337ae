"""The exact solver's own Gram update and Cholesky (fastwals/_kernels/spd.py)
against numpy, on padded orders, several panels and chunks of rows."""

import os
import subprocess
import sys

import numpy as np
import pytest
from numba import njit
from numpy.testing import assert_allclose

from fastwals._kernels.spd import (CHUNK_BYTES, cholesky_solve, cholesky_upper, gram_set,
                                   gram_update, leading_dimension, padded_order)

TOL = {np.float32: 2e-5, np.float64: 1e-12}


@njit(cache=False)
def _gram(A, d, k, Z, zoff, n_add, n_sub):
    gram_set(A, Z, zoff, n_add, d, k)
    gram_update(A, Z, zoff + n_add * Z.shape[1], n_sub, True)


@njit(cache=False)
def _solve(A, b, w):
    if not cholesky_upper(A):
        return False
    cholesky_solve(A, b, w)
    return True


def _layout(k, dtype):
    kp = padded_order(k)
    return kp, leading_dimension(kp), np.zeros(16, dtype)


def _rows(rng, m, k, ld, dtype):
    """m rows of k random values, zero-padded to ld (as the gather leaves them)."""
    Z = np.zeros((m, ld), dtype)
    Z[:, :k] = rng.standard_normal((m, k))
    return Z


def _chunk(ld, dtype):
    return max(16, CHUNK_BYTES // (ld * np.dtype(dtype).itemsize))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 15, 16, 17, 40, 130])
def test_gram_update_adds_and_subtracts_rows(k, dtype):
    rng = np.random.default_rng(k)
    kp, ld, _ = _layout(k, dtype)
    n_add, n_sub = 3 * k + 5, k // 2
    Z = _rows(rng, 1 + n_add + n_sub, k, ld, dtype)  # row 0 is skipped through zoff
    d = rng.uniform(1, 2, ld).astype(dtype)
    A = np.full((kp, ld), np.nan, dtype)  # gram_set must write all that is read
    _gram(A, d, k, Z, ld, n_add, n_sub)
    Zd = Z[1:, :k].astype(np.float64)
    expected = np.diag(d[:k].astype(np.float64)) + Zd[:n_add].T @ Zd[:n_add] \
        - Zd[n_add:].T @ Zd[n_add:]
    upper = np.triu_indices(k)
    assert_allclose(A[:k, :k][upper], expected[upper], rtol=TOL[dtype],
                    atol=TOL[dtype] * np.abs(expected).max())
    # the padding: an identity block, nothing coupling it to the row's k
    assert np.array_equal(A[:k, k:kp], np.zeros((k, kp - k), dtype))
    assert np.array_equal(np.triu(A[k:kp, k:kp]), np.eye(kp - k, dtype=dtype))


def test_gram_update_spans_several_chunks_of_rows():
    k, dtype = 300, np.float64
    kp, ld, _ = _layout(k, dtype)
    m = 2 * _chunk(ld, dtype) + 7  # two full chunks and a partial one
    rng = np.random.default_rng(1)
    Z = _rows(rng, m, k, ld, dtype)
    for n_add, n_sub in ((m, 0), (m - 5, 5)):  # gram_set stores the first chunk, adds the rest
        A = np.full((kp, ld), np.nan, dtype)
        _gram(A, np.zeros(ld, dtype), k, Z, 0, n_add, n_sub)
        expected = Z[:n_add, :k].T @ Z[:n_add, :k] - Z[n_add:, :k].T @ Z[n_add:, :k]
        assert_allclose(np.triu(A[:k, :k]), np.triu(expected), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("k", [0, 7, 40])
def test_gram_set_of_no_rows_is_the_diagonal(k):
    """No rows (a row whose observations are all subtracted): A ← diag(d[:k]), the
    padding's diagonal ones (k = 0: the identity, as the Woodbury system starts)."""
    kp, ld, _ = _layout(max(k, 1), np.float32)
    d = np.arange(2, 2 + ld, dtype=np.float32)
    A = np.full((kp, ld), np.nan, np.float32)
    gram_set(A, np.zeros((1, ld), np.float32), 0, 0, d, k)
    expected = np.diag(np.where(np.arange(kp) < k, d[:kp], 1)).astype(np.float32)
    assert np.array_equal(np.triu(A[:, :kp]), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 5, 16, 33, 100, 300])
def test_cholesky_solves_padded_systems(k, dtype):
    rng = np.random.default_rng(k)
    kp, ld, w = _layout(k, dtype)
    Z = _rows(rng, 2 * k + 3, k, ld, dtype)
    d = np.full(ld, 0.5, dtype)
    A = np.empty((kp, ld), dtype)
    _gram(A, d, k, Z, 0, Z.shape[0], 0)  # k = 300 in float64: more rows than one chunk
    M = Z[:, :k].astype(np.float64).T @ Z[:, :k] + 0.5 * np.eye(k)
    b = np.zeros(ld, dtype)
    b[:k] = rng.standard_normal(k)
    expected = np.linalg.solve(M, b[:k].astype(np.float64))
    assert _solve(A, b, w)
    assert_allclose(b[:k], expected, rtol=0, atol=50 * TOL[dtype] * np.abs(expected).max())
    assert np.array_equal(b[k:kp], np.zeros(kp - k, dtype))  # the padding's solution
    # the factor itself: UᵀU = M
    U = np.triu(A[:k, :k]).astype(np.float64)
    assert_allclose(U.T @ U, M, rtol=0, atol=20 * TOL[dtype] * np.abs(M).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cholesky_solve_reads_only_the_upper_triangle(dtype):
    """The register solves load whole rows of each diagonal tile: what lies below
    its diagonal (the tiles' scratch) must not reach the solution, NaN included."""
    k = 40
    rng = np.random.default_rng(3)
    kp, ld, w = _layout(k, dtype)
    Z = _rows(rng, 2 * k, k, ld, dtype)
    A = np.empty((kp, ld), dtype)
    _gram(A, np.ones(ld, dtype), k, Z, 0, Z.shape[0], 0)
    assert cholesky_upper(A)
    b = np.zeros(ld, dtype)
    b[:k] = rng.standard_normal(k)
    clean = b.copy()
    cholesky_solve(A.copy(), clean, w)
    A[np.tril_indices(kp, -1)] = np.nan
    cholesky_solve(A, b, w)
    assert np.array_equal(b, clean)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", ["negative", "nan", "in-panel", "across-panels"])
def test_cholesky_reports_a_system_that_is_not_positive_definite(bad, dtype):
    k = 40
    kp, ld, w = _layout(k, dtype)
    A = np.empty((kp, ld), dtype)
    gram_set(A, np.zeros((1, ld), dtype), 0, 0, np.ones(ld, dtype), k)
    if bad == "negative":
        A[3, 3] = -1.0
    elif bad == "nan":
        A[20, 30] = np.nan
        A[30, 30] = np.nan
    elif bad == "in-panel":  # a positive diagonal, but indefinite within the third panel
        A[35, 36] = 2.0
    else:  # ... and between the first and the third: found after the panel update
        A[5, 36] = 2.0
    assert not _solve(A, np.ones(ld, dtype), w)


SCRIPT = """
import numpy as np
from numba import njit
from fastwals._kernels.spd import (cholesky_solve, cholesky_upper, gram_set,
                                   leading_dimension, padded_order)

@njit(cache=False)
def solve(A, d, k, Z, b, w):
    gram_set(A, Z, 0, Z.shape[0], d, k)
    ok = cholesky_upper(A)
    cholesky_solve(A, b, w)
    return ok

for dtype in (np.float32, np.float64):
    k = 40
    kp = padded_order(k)
    ld = leading_dimension(kp)
    rng = np.random.default_rng(0)
    Z = np.zeros((90, ld), dtype)
    Z[:, :k] = rng.standard_normal((90, k))
    b = np.zeros(ld, dtype)
    b[:k] = 1
    A = np.empty((kp, ld), dtype)
    assert solve(A, np.ones(ld, dtype), k, Z, b, np.zeros(16, dtype))
    M = Z[:, :k].astype(np.float64).T @ Z[:, :k] + np.eye(k)
    x = np.linalg.solve(M, np.ones(k))
    assert np.abs(b[:k] - x).max() <= 1e-4 * np.abs(x).max(), dtype
print("ok")
"""


@pytest.mark.parametrize("cpu", ["generic", "haswell"])
def test_tiles_are_portable_vector_code(cpu, tmp_path):
    # no instruction-set check guards these kernels: they are plain LLVM vector
    # code, compiled here for a baseline x86-64 (SSE2) and an AVX2 CPU instead of
    # this machine's, each with a cache of its own
    env = dict(os.environ, NUMBA_CPU_NAME=cpu, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
