"""Dense whole-matrix steps between the sweeps, in parallel: the Gramian YᵀY
and the finiteness check of a solved side.

BLAS stays capped at one thread during a fit, so these split the rows into
fixed blocks themselves; blocks are fixed by the shape alone and partial results
are combined in block order, so the results do not depend on the thread count.
"""

import numpy as np
from numba import njit, prange

from .lapack import syrk_lower


@njit(parallel=True, cache=True, nogil=True)
def gramian_blocks(Y, parts, work, ones):
    """YᵀY (full, symmetric): parts[b] (k×k, zeroed by the caller) receives block
    b's rows' contribution by one BLAS syrk; the parts are summed in order."""
    n, k = Y.shape
    n_blocks = parts.shape[0]
    block = (n + n_blocks - 1) // n_blocks
    for b in prange(n_blocks):
        lo = b * block
        hi = min(n, lo + block)
        if hi > lo:
            syrk_lower(parts[b], Y[lo:hi], hi - lo, work[b], ones)
    G = np.zeros((k, k), dtype=Y.dtype)
    for b in range(n_blocks):
        G += parts[b]
    for a in range(k):
        for j in range(a):
            G[j, a] = G[a, j]
    return G


@njit(parallel=True, cache=True, nogil=True)
def first_nonfinite_row(X):
    """The first row of X holding a NaN or infinity, or -1."""
    n, k = X.shape
    bad = np.full(n, False)
    for u in prange(n):
        for a in range(k):
            if not np.isfinite(X[u, a]):
                bad[u] = True
                break
    for u in range(n):
        if bad[u]:
            return u
    return -1
