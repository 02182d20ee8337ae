"""BLAS/LAPACK from @njit code: SciPy's bundled routines, bound by symbol name.

The addresses come from scipy.linalg.cython_blas / cython_lapack and are
registered with LLVM under our own names, so the kernels that call them stay
cacheable (a ctypes function object in a kernel would not be). Every routine
works on our row-major arrays through the column-major view: the lower triangle
of a row-major symmetric matrix is the upper triangle ("U") of the column-major one.

The callers run these inside prange, one call per row: BLAS must be limited to
one thread meanwhile (see fastwals/_threads.py), or every call spawns its own.
"""

import llvmlite.binding as ll
import numpy as np
from numba import njit, types
from numba.extending import get_cython_function_address

_vp = types.voidptr
_SIGNATURES = {
    # C += alpha·A·Aᵀ: uplo, trans, n, k, alpha, A, lda, beta, C, ldc
    "syrk": ("cython_blas", types.void(*[_vp] * 10)),
    # solve A x = b for SPD A: uplo, n, nrhs, A, lda, b, ldb, info
    "posv": ("cython_lapack", types.void(*[_vp] * 8)),
}


def _bind(prefix, name):
    module, signature = _SIGNATURES[name]
    symbol = f"fastwals_{prefix}{name}"
    ll.add_symbol(symbol, get_cython_function_address(f"scipy.linalg.{module}", prefix + name))
    return types.ExternalFunction(symbol, signature)


_ssyrk, _dsyrk = _bind("s", "syrk"), _bind("d", "syrk")
_sposv, _dposv = _bind("s", "posv"), _bind("d", "posv")

# layout of the small per-thread work array the callers pass as `work` (int32)
W_UPLO, W_TRANS, W_K, W_M, W_ONE, W_INFO = range(6)
WORK_SIZE = 6
_U, _N = ord("U"), ord("N")


def make_work(n_chunks, k):
    """Per-thread int32 work arrays holding the scalar arguments BLAS takes by pointer."""
    work = np.zeros((n_chunks, WORK_SIZE), dtype=np.int32)
    work[:, W_UPLO] = _U
    work[:, W_TRANS] = _N
    work[:, W_K] = k
    work[:, W_ONE] = 1
    return work


@njit(cache=True, nogil=True, inline="always")
def syrk_lower(C, Z, m, work, ones):
    """C (k×k row-major, lower triangle) += Z[:m]ᵀ Z[:m], Z row-major (rows × k).
    `ones` holds the scalar 1 in C's dtype (alpha = beta = 1)."""
    work[W_M] = m
    uplo, trans, k, rank = work.ctypes, work[W_TRANS:].ctypes, work[W_K:].ctypes, work[W_M:].ctypes
    if C.itemsize == 4:
        _ssyrk(uplo, trans, k, rank, ones.ctypes, Z.ctypes, k, ones.ctypes, C.ctypes, k)
    else:
        _dsyrk(uplo, trans, k, rank, ones.ctypes, Z.ctypes, k, ones.ctypes, C.ctypes, k)


@njit(cache=True, nogil=True, inline="always")
def posv_lower(A, b, work):
    """Solve A x = b in place (x overwrites b; A's lower triangle, row-major,
    becomes its Cholesky factor). Returns LAPACK's info: 0 on success, > 0 when
    A is not positive definite."""
    uplo, k, one, info = work.ctypes, work[W_K:].ctypes, work[W_ONE:].ctypes, work[W_INFO:].ctypes
    if A.itemsize == 4:
        _sposv(uplo, k, one, A.ctypes, k, b.ctypes, k, info)
    else:
        _dposv(uplo, k, one, A.ctypes, k, b.ctypes, k, info)
    return work[W_INFO]
