"""Per-row normal equations of the WALS objective, solved exactly.

For row u of a CSR matrix (users, or items when given the transpose) with the
other side's factors Y, the unobserved weights w0·a_u·b_i (a: this side's,
b: the other side's) and the weighted Gramian G = Yᵀ diag(b) Y:

    A = w0·a_u·G + Σ_obs (w_ui − w0·a_u·b_i) y_i y_iᵀ + λ_u I,   b = Σ_obs w_ui t_ui y_i,
    x_u = A⁻¹ b

with w_ui = w0·a_u·b_i + alpha·f(r_ui)·ρ_u·κ_i. The kernel works in the eigenbasis
of G = Q Λ Qᵀ (the caller passes Ŷ = Y Q and receives x̂ = Qᵀ x), where the shared
part of every A is the diagonal D_u = w0·a_u·Λ + λ_u I: one basis serves every row,
whatever its a_u.

- Rows with many observations (m > dual_max): A = D_u + Ŷ_uᵀ C Ŷ_u is built by
  one Gram update per batch of gathered rows (scaled by √|w − w0|) and solved by
  Cholesky, both our own tile kernels (spd.py: about twice BLAS syrk + LAPACK
  posv at these orders). With confidence "total", whose weight alpha·|r|·ρκ may
  fall below the unobserved one, the observations with w < w0·a_u·b_i are
  gathered at the back of the batch and subtracted.
- Rows with few (m ≤ dual_max, about 0.9·k): the Woodbury identity. With
  W = C^(1/2) Ŷ_u D^(-1/2) (m × k), D^(-1/2) A D^(-1/2) = I + WᵀW and
  (I + WᵀW)⁻¹ = I − Wᵀ S⁻¹ W, S = I + W Wᵀ only m × m (eigenvalues ≥ 1), so
  x̂ = D^(-1/2) (I − Wᵀ S⁻¹ W) D^(-1/2) b̂ in m²k + m³/3 flops instead of
  m·k² + k³/3. Used only while ‖W‖²_F stays under `dual_norm_bound`, beyond
  which its rounding could exceed the direct solve's, and only when every
  w ≥ w0·a_u·b_i (C^(1/2) must be real); other rows go direct.

No validation here: the caller passes clean arrays and scalars all of the factor
dtype (a float64 scalar would silently promote the float32 inner loops).
"""

import numpy as np
from numba import njit

from ._common import (FASTMATH, PREFETCH_AHEAD, borrowed, next_chunk, observation, prefetch_row,
                      unobserved_weight)
from .spd import (cholesky_solve, cholesky_upper, gram_set, gram_update, leading_dimension,
                  padded_order)


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _gather(lo, m, indices, values, Yh, w0u, alpha, conf_kind, epsilon, explicit, rw,
            col_weights, col_unobserved, Z, b):
    """Z[j] = √|w − w0·a_u·b_i|·ŷ_i for the row's observations lo..lo+m (w0u = w0·a_u),
    those with w ≥ w0·a_u·b_i from the front (in order), the others (only confidence
    "total") from the back; b += Σ w·t·ŷ_i. Returns n: Z[:n] is to be added to A,
    Z[n:m] subtracted."""
    k = Yh.shape[1]
    front = 0
    back = m
    for q in range(m):
        if q + PREFETCH_AHEAD < m:
            prefetch_row(Yh, indices[lo + q + PREFETCH_AHEAD])
        i, extra, wt = observation(lo + q, indices, values, w0u, alpha, conf_kind, epsilon,
                                   explicit, rw, col_weights, col_unobserved)
        if extra >= 0.0:
            s = np.sqrt(extra)
            j = front
            front += 1
        else:  # also NaN, which stays NaN
            s = np.sqrt(-extra)
            back -= 1
            j = back
        y = Yh[i]
        z = Z[j]
        for a in range(k):
            z[a] = s * y[a]
            b[a] += wt * y[a]
    return front


@njit(cache=True, nogil=True, inline="always")
def _add_gathered(A, Z, n, m, first, d, k):
    """A's upper triangle += Z[:n]ᵀ Z[:n] − Z[n:m]ᵀ Z[n:m] (as _gather left them);
    for the first batch of a row, A ← diag(d[:k]) (padding: ones) + that instead."""
    if first:
        gram_set(A, Z, 0, n, d, k)
    elif n > 0:
        gram_update(A, Z, 0, n, False)
    if n < m:
        gram_update(A, Z, n * Z.shape[1], m - n, True)


# up to this order the Woodbury system is formed and solved by plain loops: the
# tile kernels' padding to whole tiles would cost more than it saves
SMALL_ORDER = 32


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _small_spd_solve(S, b, n):
    """Solve S x = b in place for a small SPD S (row-major lower triangle, n×n);
    False when S is not numerically positive definite."""
    for j in range(n):
        s = S[j, j]
        for p in range(j):
            s -= S[j, p] * S[j, p]
        if not s > 0.0:  # also catches NaN
            return False
        d = np.sqrt(s)
        S[j, j] = d
        for i in range(j + 1, n):
            s = S[i, j]
            for p in range(j):
                s -= S[i, p] * S[j, p]
            S[i, j] = s / d
    for i in range(n):  # L z = b
        s = b[i]
        for p in range(i):
            s -= S[i, p] * b[p]
        b[i] = s / S[i, i]
    for i in range(n - 1, -1, -1):  # Lᵀ x = z, sweeping rows of L (contiguous)
        b[i] /= S[i, i]
        xi = b[i]
        for p in range(i):
            b[p] -= S[i, p] * xi
    return True


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _dot(w, b, k):
    """w[:k]·b[:k] in w's dtype."""
    t = w.dtype.type(0)
    for a in range(k):
        t += w[a] * b[a]
    return t


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def dual_row(m, k, d, dinv, W, b, bound, A, v, T):
    """Woodbury solve of one row (see the module docstring) given W = gathered
    Z (m × k: the first k columns of W, not yet scaled by D^(-1/2)), b̂, and the
    diagonal d of D_u.
    Leaves x̂ in b. Returns 1 when solved, 0 when ‖W‖² exceeds the bound (W
    and b are then restored for the direct path), -1 when S was not positive
    definite (only possible with NaN/inf inputs). Beyond SMALL_ORDER, S is
    formed and solved by spd.py's kernels in A (as mp × ld, mp = m padded,
    ld = spd.leading_dimension(mp)), from Wᵀ copied into T (k·ld elements), and
    v needs mp elements."""
    zero = W.dtype.type(0)  # a bare 0.0 would make float32 accumulators float64
    one = W.dtype.type(1)
    for a in range(k):
        dinv[a] = one / np.sqrt(d[a])
    norm = zero
    for q in range(m):
        w = W[q]
        for a in range(k):
            w[a] *= dinv[a]
            norm += w[a] * w[a]
    if norm > bound:
        for q in range(m):
            w = W[q]
            for a in range(k):
                w[a] /= dinv[a]
        return 0
    for a in range(k):
        b[a] *= dinv[a]
    if m <= SMALL_ORDER:
        S = A.ravel()[:m * m].reshape((m, m))
        for q in range(m):
            wq = W[q]
            for j in range(q):
                S[q, j] = _dot(wq, W[j], k)
            t = one
            for a in range(k):
                t += wq[a] * wq[a]
            S[q, q] = t
            v[q] = _dot(wq, b, k)
        if not _small_spd_solve(S, v, m):
            return -1
    else:
        mp = padded_order(m)
        ld = leading_dimension(mp)
        Wt = T[:k * ld].reshape((k, ld))
        for q in range(m):
            wq = W[q]
            for a in range(k):
                Wt[a, q] = wq[a]
            v[q] = _dot(wq, b, k)
        for a in range(k):
            for q in range(m, mp):
                Wt[a, q] = zero
        for q in range(m, mp):
            v[q] = zero
        S = A.ravel()[:mp * ld].reshape((mp, ld))
        gram_set(S, Wt, 0, k, d, 0)  # S = I + W Wᵀ
        if not cholesky_upper(S):
            return -1
        cholesky_solve(S, v, T)  # Wᵀ is no longer needed: T is the solve's scratch
    for q in range(m):  # b ← b − Wᵀ t
        t = v[q]
        w = W[q]
        for a in range(k):
            b[a] -= w[a] * t
    for a in range(k):
        b[a] *= dinv[a]
    return 1


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _solve(A, b, v):
    """b ← A⁻¹ b by our Cholesky (spd.py): 1, or -1 when A is not positive definite."""
    if not cholesky_upper(A):
        return -1
    cholesky_solve(A, b, v)
    return 1


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def cholesky_sweep(th, indptr, indices, values, Yh, lam_eig, reg, w0, alpha, conf_kind, epsilon,
                   explicit, row_weights, col_weights, row_unobserved, col_unobserved, starts, X,
                   A_scratch, b_scratch, Z_scratch, vec_scratch, T_scratch, dual_max,
                   dual_norm_bound, failed, counter):
    """Thread th's share of solving every row of X exactly, in the eigenbasis:
    Yh = Y Q, lam_eig = w0·Λ (G = Yᵀ diag(b) Y, b = col_unobserved;
    a = row_unobserved; either empty for all ones); X receives x̂ = Qᵀ x. Every
    thread th in range(A_scratch.shape[0]) runs this at once
    (_threads.run_kernel), taking chunks c (rows starts[c]:starts[c+1]) from
    `counter` (zero on entry) until none is left, working in A_scratch[th]
    (k×k), b_scratch[th] (k), Z_scratch[th] (rows × k, rows ≥ dual_max),
    vec_scratch[th] (3 × k) and T_scratch[th] (see dual_row), where k is padded:
    A_scratch is kp × ld (spd.padded_order, spd.leading_dimension), the others
    have rows of ld, Z_scratch's padding zero; failed[c] receives the first row
    of chunk c whose system was not positive definite, or -1."""
    # the views taken below skip reference counting (see _common.borrowed)
    indptr, indices, values, Yh, X, starts, failed, counter = \
        borrowed((indptr, indices, values, Yh, X, starts, failed, counter))
    lam_eig, reg, row_weights, col_weights, row_unobserved, col_unobserved = \
        borrowed((lam_eig, reg, row_weights, col_weights, row_unobserved, col_unobserved))
    A_scratch, b_scratch, Z_scratch, vec_scratch, T_scratch = \
        borrowed((A_scratch, b_scratch, Z_scratch, vec_scratch, T_scratch))
    k = Yh.shape[1]
    kp = A_scratch.shape[1]  # k padded to whole tiles (spd.py)
    batch = Z_scratch.shape[1]
    A = A_scratch[th]
    b = b_scratch[th]
    Z = Z_scratch[th]
    d = vec_scratch[th, 0]
    dinv = vec_scratch[th, 1]
    v = vec_scratch[th, 2]
    T = T_scratch[th]
    for a in range(k, d.size):  # the padding (see spd.py): an identity block
        d[a] = 1.0
        b[a] = 0.0
    while True:
        c = next_chunk(counter)
        if c >= starts.size - 1:
            break
        failed[c] = -1
        for u in range(starts[c], starts[c + 1]):
            lo = indptr[u]
            hi = indptr[u + 1]
            m = hi - lo
            if m == 0:
                # b = 0, so the minimiser (minimum-norm if A is singular) is 0
                for a in range(k):
                    X[u, a] = 0.0
                continue
            rw = row_weights[u]
            au = unobserved_weight(row_unobserved, u)
            w0u = w0 * au
            positive = True
            for a in range(k):
                d[a] = au * lam_eig[a] + reg[u]
                positive &= d[a] > 0.0
                b[a] = 0.0
            if m <= dual_max and positive:
                n = _gather(lo, m, indices, values, Yh, w0u, alpha, conf_kind, epsilon,
                            explicit, rw, col_weights, col_unobserved, Z, b)
                status = 0  # Woodbury only when no weight is below the unobserved one
                if n == m:
                    status = dual_row(m, kp, d, dinv, Z, b, dual_norm_bound, A, v, T)
                if status == 0:  # direct path, reusing the gathered block
                    _add_gathered(A, Z, n, m, True, d, k)
                    status = _solve(A, b, v)
            else:
                for start in range(lo, hi, batch):
                    mb = min(batch, hi - start)
                    n = _gather(start, mb, indices, values, Yh, w0u, alpha, conf_kind,
                                epsilon, explicit, rw, col_weights, col_unobserved, Z, b)
                    _add_gathered(A, Z, n, mb, start == lo, d, k)
                status = _solve(A, b, v)
            if status == 1:
                for a in range(k):
                    X[u, a] = b[a]
            elif failed[c] < 0:
                failed[c] = u
