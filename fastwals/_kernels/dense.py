"""Dense whole-matrix steps, in parallel: the Gramian YᵀY or its weighted form
Yᵀ diag(b) Y (in the factor dtype for the solvers, in float64 for the objective)
and the finiteness check of a solved side.

BLAS stays capped at one thread during a fit, so these split the rows into
fixed blocks themselves; blocks are fixed by the shape alone and partial results
are combined in block order (symmetric_sum), so the results do not depend on
the thread count. The BLAS-bound Gramians are thread th's share of the blocks
(of n_threads, all run at once by _threads.run_kernel), dealt round-robin: a
Numba parallel loop around them cost seconds of compilation per specialisation.
"""

import numpy as np
from numba import njit, prange

from ._common import FASTMATH, unobserved_weight
from .blas import syrk_lower


@njit(cache=True, nogil=True)
def symmetric_sum(parts):
    """Σ parts (lower triangles), in order, mirrored into a full symmetric matrix."""
    k = parts.shape[1]
    G = np.zeros((k, k), dtype=parts.dtype)
    for b in range(parts.shape[0]):
        G += parts[b]
    for a in range(k):
        for j in range(a):
            G[j, a] = G[a, j]
    return G


@njit(cache=True, nogil=True)
def gramian_blocks(th, n_threads, Y, parts, work, ones):
    """YᵀY's blocks: parts[b] (k×k, zeroed by the caller) receives block b's
    rows' lower triangle by one BLAS syrk (work[b]: its arguments)."""
    n = Y.shape[0]
    n_blocks = parts.shape[0]
    block = (n + n_blocks - 1) // n_blocks
    for b in range(th, n_blocks, n_threads):
        lo = b * block
        hi = min(n, lo + block)
        if hi > lo:
            syrk_lower(parts[b], Y[lo:hi], hi - lo, work[b], ones)


@njit(cache=True, nogil=True)
def weighted_gramian_blocks(th, n_threads, Y, weights, parts, scratch, work, ones):
    """Yᵀ diag(weights) Y's blocks, weights >= 0: as gramian_blocks, each block's
    rows scaled by √weight into scratch[b] (batch × k) a batch at a time, one
    BLAS syrk per batch."""
    n, k = Y.shape
    n_blocks = parts.shape[0]
    block = (n + n_blocks - 1) // n_blocks
    batch = scratch.shape[1]
    for b in range(th, n_blocks, n_threads):
        lo = b * block
        hi = min(n, lo + block)
        Z = scratch[b]
        for start in range(lo, hi, batch):
            mb = min(batch, hi - start)
            for q in range(mb):
                s = np.sqrt(weights[start + q])
                for a in range(k):
                    Z[q, a] = s * Y[start + q, a]
            syrk_lower(parts[b], Z, mb, work[b], ones)


@njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def gramian64(X, weights, block):
    """Xᵀ diag(weights) X accumulated in float64 over fixed row blocks (for the
    objective); weights empty: XᵀX. Still a Numba parallel loop: not moved to
    run_kernel with the sweeps and the top-N passes (_threads.py), nor timed."""
    n, k = X.shape
    n_blocks = (n + block - 1) // block
    parts = np.zeros((n_blocks, k, k))
    for c in prange(n_blocks):
        P = parts[c]
        for u in range(c * block, min(n, (c + 1) * block)):
            wu = np.float64(unobserved_weight(weights, u))
            for a in range(k):
                xa = wu * np.float64(X[u, a])
                for j in range(a + 1):
                    P[a, j] += xa * np.float64(X[u, j])
    return symmetric_sum(parts)


@njit(cache=True, nogil=True)
def first_nonfinite_row(X):
    """The first row of X holding a NaN or infinity, or -1 (one thread: a single
    pass over memory, small beside the solve that produced X)."""
    n, k = X.shape
    for u in range(n):
        for a in range(k):
            if not np.isfinite(X[u, a]):
                return u
    return -1
