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
from .lapack import posv_lower, syrk_lower


@njit(parallel=True, cache=True, nogil=True)
def cholesky_sweep(indptr, indices, values, Y, G, reg, w0, alpha, conf_kind, epsilon,
                   explicit, row_weights, col_weights, starts, X, A_scratch, b_scratch,
                   Z_scratch, work, ones, failed):
    """Solve every row of X exactly. Chunk c (rows starts[c]:starts[c+1]) uses
    A_scratch[c] (k×k), b_scratch[c] (k), Z_scratch[c] (batch×k) and work[c];
    failed[c] receives the first row whose system was not positive definite, or -1.

    The observed part of A is a rank-n_u update: the row's factors, scaled by
    √(w − w0) (never negative: validated weights and confidences are ≥ 0), are
    gathered into Z batch by batch and added with one BLAS syrk per batch.
    """
    k = Y.shape[1]
    batch = Z_scratch.shape[1]
    for c in prange(starts.size - 1):
        A = A_scratch[c]
        b = b_scratch[c]
        Z = Z_scratch[c]
        wk = work[c]
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
            for start in range(lo, hi, batch):
                m = min(batch, hi - start)
                for q in range(m):
                    i = indices[start + q]
                    r = values[start + q]
                    extra = observed_weight(r, alpha, conf_kind, epsilon, rw, col_weights[i])
                    wt = w0 + extra  # w·t, with t = 1 (implicit) or r (explicit)
                    if explicit:
                        wt *= r
                    s = np.sqrt(extra)
                    y = Y[i]
                    z = Z[q]
                    for a in range(k):
                        z[a] = s * y[a]
                        b[a] += wt * y[a]
                syrk_lower(A, Z, m, wk, ones)
            if posv_lower(A, b, wk) == 0:
                for a in range(k):
                    X[u, a] = b[a]
            elif failed[c] < 0:
                failed[c] = u
