"""Per-row normal equations of the WALS objective, solved exactly by Cholesky.

For row u of a CSR matrix (users, or items when given the transpose) with the
other side's factors Y and their Gramian G = YᵀY:

    A = w0·G + Σ_obs (w_ui − w0) y_i y_iᵀ + λ_u I,   b = Σ_obs w_ui t_ui y_i,   x_u = A⁻¹ b

with w_ui = w0 + alpha·f(r_ui)·ρ_u·κ_i. Only the lower triangle of A is built.
No validation here: the caller passes clean arrays and scalars all of the factor
dtype (a float64 scalar would silently promote the float32 inner loops).
"""

import numpy as np
from numba import njit, prange

from ._common import observed_weight


@njit(cache=True, nogil=True, inline="always")
def _cholesky_solve(A, b, k):
    """Solve A x = b in place (x overwrites b) for the SPD matrix whose lower
    triangle is in A (row-major, so every inner loop is a contiguous dot).
    Returns False when A is not numerically positive definite."""
    for j in range(k):
        s = A[j, j]
        for p in range(j):
            s -= A[j, p] * A[j, p]
        if not s > 0.0:  # also catches NaN
            return False
        d = np.sqrt(s)
        A[j, j] = d
        for i in range(j + 1, k):
            s = A[i, j]
            for p in range(j):
                s -= A[i, p] * A[j, p]
            A[i, j] = s / d
    # forward: L z = b
    for i in range(k):
        s = b[i]
        for p in range(i):
            s -= A[i, p] * b[p]
        b[i] = s / A[i, i]
    # backward: Lᵀ x = z, sweeping rows of L so access stays contiguous
    for i in range(k - 1, -1, -1):
        b[i] /= A[i, i]
        xi = b[i]
        for p in range(i):
            b[p] -= A[i, p] * xi
    return True


@njit(parallel=True, cache=True, nogil=True)
def cholesky_sweep(indptr, indices, values, Y, G, reg, w0, alpha, conf_kind, epsilon,
                   explicit, row_weights, col_weights, starts, X, A_scratch, b_scratch,
                   failed):
    """Solve every row of X exactly. Chunk c (rows starts[c]:starts[c+1]) uses
    scratch A_scratch[c], b_scratch[c]; failed[c] receives the first row whose
    system was not positive definite, or -1."""
    k = Y.shape[1]
    for c in prange(starts.size - 1):
        A = A_scratch[c]
        b = b_scratch[c]
        failed[c] = -1
        for u in range(starts[c], starts[c + 1]):
            lo = indptr[u]
            hi = indptr[u + 1]
            if lo == hi:
                # b = 0, so the minimiser (minimum-norm if A is singular) is 0
                for a in range(k):
                    X[u, a] = 0.0
                continue
            for a in range(k):
                for j in range(a + 1):
                    A[a, j] = w0 * G[a, j]
                A[a, a] += reg[u]
                b[a] = 0.0
            rw = row_weights[u]
            for p in range(lo, hi):
                i = indices[p]
                r = values[p]
                extra = observed_weight(r, alpha, conf_kind, epsilon, rw, col_weights[i])
                wt = w0 + extra  # w·t, with t = 1 (implicit) or r (explicit)
                if explicit:
                    wt *= r
                y = Y[i]
                for a in range(k):
                    ya = extra * y[a]
                    for j in range(a + 1):
                        A[a, j] += ya * y[j]
                    b[a] += wt * y[a]
            if _cholesky_solve(A, b, k):
                for a in range(k):
                    X[u, a] = b[a]
            elif failed[c] < 0:
                failed[c] = u
