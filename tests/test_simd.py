"""The register-resident block inverse of the subspace solver against its in-memory twin."""

import numpy as np
import pytest
from numba import njit

from fastwals._kernels.simd import LANES, tile_inverse
from fastwals._kernels.subspace import _pivot

OFF = LANES * LANES  # the block sits between two others, which must stay untouched


@njit(cache=False)
def _in_registers(H):
    return tile_inverse(H, OFF)


@njit(cache=False)
def _in_memory(H):
    one, zero = H.dtype.type(1), H.dtype.type(0)
    for j in range(LANES):
        if not _pivot(H, OFF, j, LANES, LANES, one, zero):
            return 0
    return 1


def _blocks(M):
    H = np.full(3 * OFF, 7.0, dtype=M.dtype)
    H[OFF:2 * OFF] = M.ravel()
    return H


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_register_inverse_is_bit_identical_to_pivots_in_memory(dtype):
    rng = np.random.default_rng(0)
    for _ in range(10):
        A = rng.standard_normal((40, LANES))
        M = (A.T @ A + np.eye(LANES)).astype(dtype)
        H1, H2 = _blocks(M), _blocks(M)
        assert _in_registers(H1) == 1 and _in_memory(H2) == 1
        assert np.array_equal(H1, H2)
        assert np.all(H1[:OFF] == 7.0) and np.all(H1[2 * OFF:] == 7.0)
        tol = 1e-3 if dtype == np.float32 else 1e-10
        assert np.allclose(H1[OFF:2 * OFF].reshape(LANES, LANES) @ M, np.eye(LANES), atol=tol)


@pytest.mark.parametrize("bad", [-1.0, 0.0, np.nan])
def test_register_inverse_reports_a_pivot_that_is_not_positive(bad):
    M = np.eye(LANES)
    M[5, 5] = bad
    assert _in_registers(_blocks(M)) == 0
    assert _in_memory(_blocks(M)) == 0
