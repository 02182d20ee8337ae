"""iALS++ block coordinate descent (Rendle, Krichene, Zhang, Koren 2021,
"iALS++: Speeding up Matrix Factorization with Subspace Optimization").

Each row's factors are improved one block B of `block_size` consecutive
dimensions at a time, the others held fixed. The objective is quadratic in
x_B, so each block step is exact:

    H = w0·G_BB + Σ_obs (w − w0) y_iB y_iBᵀ + λ I,
    g = Σ_obs ((w − w0)·p_i − w·t) y_iB + w0 (G x)_B + λ x_B,    x_B −= H⁻¹ g

with p_i = x·y_i the row's cached predictions, computed once per row and
updated after every block (p_i += Δ·y_iB). One pass over all blocks costs
about n_u·k·b + k·b²/3 + k² per row instead of the exact n_u·k² + k³/3, and
block_size >= k is the exact solver. Warm-started from X's current values;
every block step lowers the objective (block coordinate descent is monotone).

The b×b systems are small (b = 32 by default), so they are built and solved
here rather than by BLAS/LAPACK, whose per-call overhead would dominate.
Float constants are made in the factor dtype (`zero`, `one`): a float literal
would promote float32 arithmetic to float64.
"""

import numpy as np
from numba import njit, prange

from ._common import FASTMATH, PREFETCH_AHEAD, observation, prefetch_row


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _add_observed(A, Z, c, m, n):
    """A (n×n) += Σ_{q<m} c_q Z[q]ᵀ Z[q], the full square (uniform, vectorisable
    rows), four observations per pass so each load and store of A carries
    four multiply-adds."""
    q = 0
    while q + 4 <= m:
        z0 = Z[q]
        z1 = Z[q + 1]
        z2 = Z[q + 2]
        z3 = Z[q + 3]
        for a in range(n):
            c0 = c[q] * z0[a]
            c1 = c[q + 1] * z1[a]
            c2 = c[q + 2] * z2[a]
            c3 = c[q + 3] * z3[a]
            h = A[a]
            for j in range(n):
                h[j] += (c0 * z0[j] + c1 * z1[j]) + (c2 * z2[j] + c3 * z3[j])
        q += 4
    while q < m:
        z0 = Z[q]
        for a in range(n):
            c0 = c[q] * z0[a]
            h = A[a]
            for j in range(n):
                h[j] += c0 * z0[j]
        q += 1


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _spd_solve(A, d, n, one):
    """Solve A Δ = d in place (Δ overwrites d) for the n×n SPD A, whose lower
    triangle (row-major) becomes L with L Lᵀ = A. Crout order, four rows of L
    at a time: every inner loop is a dot product along contiguous rows that
    stores nothing (so it vectorises without aliasing checks), and each load of
    L's row j serves four products. Returns False, leaving d undefined, when A
    is not positive definite."""
    for j in range(n):
        lj = A[j]
        s = lj[j]
        for p in range(j):
            s -= lj[p] * lj[p]
        if not s > 0:  # also catches NaN
            return False
        r = np.sqrt(s)
        lj[j] = r
        inv = one / r
        i = j + 1
        while i + 4 <= n:
            l0 = A[i]
            l1 = A[i + 1]
            l2 = A[i + 2]
            l3 = A[i + 3]
            s0 = l0[j]
            s1 = l1[j]
            s2 = l2[j]
            s3 = l3[j]
            for p in range(j):
                t = lj[p]
                s0 -= l0[p] * t
                s1 -= l1[p] * t
                s2 -= l2[p] * t
                s3 -= l3[p] * t
            l0[j] = s0 * inv
            l1[j] = s1 * inv
            l2[j] = s2 * inv
            l3[j] = s3 * inv
            i += 4
        while i < n:
            li = A[i]
            s0 = li[j]
            for p in range(j):
                s0 -= li[p] * lj[p]
            li[j] = s0 * inv
            i += 1
    for i in range(n):  # L z = d
        li = A[i]
        s = d[i]
        for p in range(i):
            s -= li[p] * d[p]
        d[i] = s / li[i]
    for i in range(n - 1, -1, -1):  # Lᵀ Δ = z, along the rows of L
        li = A[i]
        xi = d[i] / li[i]
        d[i] = xi
        for p in range(i):
            d[p] -= li[p] * xi
    return True


@njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def subspace_sweep(indptr, indices, values, Y, G, reg, w0, alpha, conf_kind, epsilon, explicit,
                   row_weights, col_weights, starts, X, block_size, obs_scratch, Z_scratch,
                   A_scratch, d_scratch, failed):
    """One pass over every block of every row of X, in place. Chunk c (rows
    starts[c]:starts[c+1]) uses obs_scratch[c] (2 × longest row), Z_scratch[c]
    (longest row × block_size), A_scratch[c] (block_size × block_size) and
    d_scratch[c] (block_size); failed[c] receives the first row with a block
    that was not positive definite, or -1.

    Per block, the row's observed factors y_iB are gathered once into
    contiguous rows of Z, which the gradient, H's observed part and the
    prediction update all read.
    """
    k = Y.shape[1]
    zero = X.dtype.type(0)
    one = X.dtype.type(1)
    use_gram = w0 != zero  # G is all zeros when w0 = 0: skip G·x
    for ch in prange(starts.size - 1):
        extra = obs_scratch[ch, 0]  # w − w0 per observation
        e = obs_scratch[ch, 1]      # (w − w0)·p − w·t: the observed gradient coefficient
        Z = Z_scratch[ch]
        A = A_scratch[ch]
        d = d_scratch[ch]
        failed[ch] = -1
        for u in range(starts[ch], starts[ch + 1]):
            lo = indptr[u]
            hi = indptr[u + 1]
            x = X[u]
            if lo == hi:
                for a in range(k):
                    x[a] = zero  # b = 0: the exact minimiser, as in the Cholesky solver
                continue
            m = hi - lo
            rw = row_weights[u]
            lam = reg[u]
            for q in range(m):
                if q + PREFETCH_AHEAD < m:
                    prefetch_row(Y, indices[lo + q + PREFETCH_AHEAD])
                i, ex, wt = observation(lo + q, indices, values, w0, alpha, conf_kind, epsilon,
                                        explicit, rw, col_weights)
                y = Y[i]
                p = zero
                for a in range(k):
                    p += x[a] * y[a]
                extra[q] = ex
                e[q] = ex * p - wt
            for b0 in range(0, k, block_size):
                bb = min(block_size, k - b0)
                # d = −g and H = w0·G_BB + λI, then the observed parts
                for a in range(bb):
                    g = G[b0 + a]
                    s = zero
                    if use_gram:
                        for j in range(k):
                            s += g[j] * x[j]
                    d[a] = -(w0 * s + lam * x[b0 + a])
                    h = A[a]
                    for j in range(bb):
                        h[j] = w0 * g[b0 + j]
                    h[a] += lam
                for q in range(m):
                    y = Y[indices[lo + q]]
                    z = Z[q]
                    c = e[q]
                    for a in range(bb):
                        ya = y[b0 + a]
                        z[a] = ya
                        d[a] -= c * ya
                _add_observed(A, Z, extra, m, bb)
                if not _spd_solve(A, d, bb, one):
                    if failed[ch] < 0:
                        failed[ch] = u
                    continue  # this block unchanged; the caller raises
                for a in range(bb):
                    x[b0 + a] += d[a]
                if b0 + bb == k:
                    break  # the last block: the predictions are not needed again
                for q in range(m):
                    z = Z[q]
                    s = zero
                    for a in range(bb):
                        s += d[a] * z[a]
                    e[q] += extra[q] * s
