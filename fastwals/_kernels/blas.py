"""BLAS from @njit code: SciPy's bundled routines, bound by symbol name.

The addresses come from scipy.linalg.cython_blas and are
registered with LLVM under our own names, so the kernels that call them stay
cacheable (a ctypes function object in a kernel would not be). Every routine
works on our row-major arrays through the column-major view: the lower triangle
of a row-major symmetric matrix is the upper triangle ("U") of the column-major one.

The callers run these from several threads at once (a parallel loop, or
_threads.run_kernel), one call per block of rows: BLAS must be limited to one
thread meanwhile (see fastwals/_threads.py), or every call spawns
its own. (The exact solver's per-row syrk and LAPACK posv gave way to its own
tiles, _kernels/spd.py; bench/spd_kernels.py measures the two.)
"""

import llvmlite.binding as ll
import numpy as np
from numba import njit, types
from numba.extending import get_cython_function_address

_vp = types.voidptr
_SIGNATURES = {
    # C += alpha·A·Aᵀ: uplo, trans, n, k, alpha, A, lda, beta, C, ldc
    "syrk": ("cython_blas", types.void(*[_vp] * 10)),
    # C = alpha·op(A)·op(B) + beta·C: transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc
    "gemm": ("cython_blas", types.void(*[_vp] * 13)),
}


def _bind(prefix, name):
    module, signature = _SIGNATURES[name]
    symbol = f"fastwals_{prefix}{name}"
    ll.add_symbol(symbol, get_cython_function_address(f"scipy.linalg.{module}", prefix + name))
    return types.ExternalFunction(symbol, signature)


_ssyrk, _dsyrk = _bind("s", "syrk"), _bind("d", "syrk")
_sgemm, _dgemm = _bind("s", "gemm"), _bind("d", "gemm")

# layout of the small per-thread work array the callers pass as `work` (int32):
# BLAS takes every scalar by pointer, so the scalars live here
W_UPLO, W_TRANS, W_TRANS_T, W_ORDER, W_N, W_RANK = range(6)
W_GM, W_GN, W_GK, W_LDC = range(6, 10)  # scores_tile's gemm dimensions
WORK_SIZE = 10
_U, _N, _T = ord("U"), ord("N"), ord("T")


def make_work(n_chunks, k):
    """Per-thread int32 work arrays; k is the order used by syrk_lower."""
    work = np.zeros((n_chunks, WORK_SIZE), dtype=np.int32)
    work[:, W_UPLO] = _U
    work[:, W_TRANS] = _N
    work[:, W_TRANS_T] = _T
    work[:, W_ORDER] = k
    return work


@njit(cache=True, nogil=True, inline="always")
def matmul_rows(out, M, R, rows, work, zero_one):
    """out[:rows] = M[:rows] @ R for row-major M (rows × k) and R (k × k): in the
    column-major view, outᵀ = Rᵀ·Mᵀ. zero_one holds [0, 1] in the dtype."""
    k = R.shape[0]
    work[W_N] = rows
    work[W_ORDER] = k
    beta = zero_one[0:].ctypes
    alpha = zero_one[1:].ctypes
    n, kk = work[W_N:].ctypes, work[W_ORDER:].ctypes
    trans = work[W_TRANS:].ctypes
    if M.itemsize == 4:
        _sgemm(trans, trans, kk, n, kk, alpha, R.ctypes, kk, M.ctypes, kk, beta, out.ctypes, kk)
    else:
        _dgemm(trans, trans, kk, n, kk, alpha, R.ctypes, kk, M.ctypes, kk, beta, out.ctypes, kk)


@njit(cache=True, nogil=True, inline="always")
def syrk_lower(C, Z, m, work, ones):
    """C (k×k row-major, lower triangle) += Z[:m]ᵀ Z[:m], Z row-major (rows × k),
    k = the order given to make_work. `ones` holds 1 in C's dtype. Column-major
    BLAS syrk on C's upper triangle with alpha = beta = 1: C += Zᵀ·Z, Z as k × m."""
    work[W_RANK] = m
    k = work[W_ORDER:].ctypes
    if C.itemsize == 4:
        _ssyrk(work.ctypes, work[W_TRANS:].ctypes, k, work[W_RANK:].ctypes, ones.ctypes,
               Z.ctypes, k, ones.ctypes, C.ctypes, k)
    else:
        _dsyrk(work.ctypes, work[W_TRANS:].ctypes, k, work[W_RANK:].ctypes, ones.ctypes,
               Z.ctypes, k, ones.ctypes, C.ctypes, k)


@njit(cache=True, nogil=True, inline="always")
def scores_tile(S, U, Y, work, zero_one):
    """S[:m·n] = U Yᵀ as a row-major m × n block, for row-major U (m × k) and
    Y (n × k): in the column-major view, Sᵀ = (Yᵀ)ᵀ·Uᵀ. zero_one holds [0, 1]
    in the dtype."""
    m, k = U.shape
    n = Y.shape[0]
    work[W_GM] = n
    work[W_GN] = m
    work[W_GK] = k
    work[W_LDC] = n
    beta = zero_one[0:].ctypes
    alpha = zero_one[1:].ctypes
    gm, gn, gk, ldc = work[W_GM:].ctypes, work[W_GN:].ctypes, work[W_GK:].ctypes, \
        work[W_LDC:].ctypes
    if S.itemsize == 4:
        _sgemm(work[W_TRANS_T:].ctypes, work[W_TRANS:].ctypes, gm, gn, gk, alpha, Y.ctypes, gk,
               U.ctypes, gk, beta, S.ctypes, ldc)
    else:
        _dgemm(work[W_TRANS_T:].ctypes, work[W_TRANS:].ctypes, gm, gn, gk, alpha, Y.ctypes, gk,
               U.ctypes, gk, beta, S.ctypes, ldc)
