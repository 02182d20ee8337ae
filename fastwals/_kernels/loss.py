"""The WALS objective by the Gramian trick, in O(nnz·k + (users+items)·k²).

    Σ_obs w (t − p)² + w0 Σ_unobs a_u b_i p² + Σ λ_u‖x_u‖² + Σ λ_i‖y_i‖²
  = Σ_obs [w (t − p)² − w0 a_u b_i p²] + w0·⟨Xᵀ diag(a) X, Yᵀ diag(b) Y⟩
    + Σ λ_u‖x_u‖² + Σ λ_i‖y_i‖²

where p = x_u·y_i and a, b are the unobserved entries' row and column weights
(all ones by default: w0·⟨XᵀX, YᵀY⟩). Everything accumulates in float64 whatever the factor dtype.
"""

import numpy as np
from numba import njit, prange

from ._common import CONF_TOTAL, FASTMATH, observed_weight, unobserved_weight


@njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def observed_loss_rows(indptr, indices, values, X, Y, reg, w0, alpha, conf_kind, epsilon,
                       explicit, row_weights, col_weights, row_unobserved, col_unobserved, out):
    """out[u] = Σ_obs [w (t − p)² − w0 a_u b_i p²] + λ_u‖x_u‖² for each row u
    (a = row_unobserved, b = col_unobserved; empty: all ones).
    Per-row results (summed by the caller) keep the total independent of
    the thread count."""
    k = X.shape[1]
    for u in prange(X.shape[0]):
        s = 0.0
        for a in range(k):
            s += np.float64(X[u, a]) * np.float64(X[u, a])
        s *= reg[u]
        rw = row_weights[u]
        w0u = w0 * np.float64(unobserved_weight(row_unobserved, u))
        for q in range(indptr[u], indptr[u + 1]):
            i = indices[q]
            r = np.float64(values[q])
            p = 0.0
            for a in range(k):
                p += np.float64(X[u, a]) * np.float64(Y[i, a])
            w0i = w0u * np.float64(unobserved_weight(col_unobserved, i))
            w = observed_weight(r, w0i, alpha, conf_kind, epsilon, np.float64(rw),
                                np.float64(col_weights[i]))[1]
            t = r if explicit else (0.0 if conf_kind == CONF_TOTAL and not r > 0 else 1.0)
            s += w * (t - p) * (t - p) - w0i * p * p
        out[u] = s


@njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def weighted_sq_norms(Y, reg, out):
    """out[i] = λ_i‖y_i‖² in float64."""
    for i in prange(Y.shape[0]):
        s = 0.0
        for a in range(Y.shape[1]):
            s += np.float64(Y[i, a]) * np.float64(Y[i, a])
        out[i] = reg[i] * s
