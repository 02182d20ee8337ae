"""iALS++ block coordinate descent (Rendle, Krichene, Zhang, Koren 2021,
"iALS++: Speeding up Matrix Factorization with Subspace Optimization").

Each row's factors are improved one block B of `block_size` consecutive
dimensions at a time, the others held fixed. The kernel works in the
eigenbasis of G = Yᵀ diag(b) Y = Q Λ Qᵀ (b: the other side's unobserved weights,
ones by default; the caller rotates Y and X in, as for CG), where w0·a_u·G is the
diagonal w0·a_u·Λ, so with d = w0·a_u·Λ + λ and the row's observed factors
gathered once, scaled, as W (w_q = √|c_q|·ŷ_q, σ_q = sign(c_q), c_q = w − w0·a_u·b_q):

    H_B = diag(d_B) + W_Bᵀ Σ W_B,   g_B = d_B ∘ x_B + W_Bᵀ r − b_B,   x_B −= H_B⁻¹ g_B

with b = Σ_obs w·t·ŷ and r = Σ W x the signed scaled predictions, computed once
per row and updated after every block (r += Σ W_B Δ). σ_q = −1 only with
confidence "total", whose weight alpha·|r|·ρκ may fall below the unobserved one: those
observations are gathered at the back of the row, so that Σ splits the rows
into two runs (the Hessian subtracts the back run's sum, the update of r gives
it −Δ); a row without them costs what it did. The objective is quadratic in x_B,
so each step is exact and lowers the objective; one pass costs about m·k·b
per row (the Hessian blocks) instead of the exact m·k². block_size >= k is the
exact solver.

Rows with few observations (m ≤ exact_max, about the block size) are solved
exactly instead, by the Woodbury shortcut of the Cholesky solver (m²k): cheaper
than a pass over every block, and at least as good (unless some c_q < 0: Woodbury
needs every c_q ≥ 0, and those rows take the blocks).

The b×b blocks are padded to a multiple of LANES and handled by the vector
tiles of simd.py: the padding columns hold whatever finite values lie beside
the block (they never mix into the block's own columns) and the padded part of
each step Δ is zeroed. A block of exactly LANES dimensions is inverted in
registers (simd.tile_inverse: the same bits as _pivot in memory, about a fifth
of the solve time saved at k = 256). Rows longer than the gather block read
their factors in place, one block's columns at a time.

Float constants are made in the factor dtype (`zero`, `one`): a float literal
would promote float32 arithmetic to float64.
"""

import numpy as np
from numba import njit

from ._common import (CONF_TOTAL, FASTMATH, PREFETCH_AHEAD, borrowed, next_chunk, observation,
                      prefetch_row, unobserved_weight)
from .simd import (LANES, rows_dot_add, tile_acc1, tile_acc8, tile_axpy, tile_inverse,
                   tile_scale)
from .solve import dual_row
from .spd import padded_order


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _gather(lo, m, indices, values, Yh, x, w0u, alpha, conf_kind, epsilon, explicit, rw,
            col_weights, col_unobserved, into, W, s, r, b):
    """For each observation q: s[q] = σ·√|c| with c = w − w0u·b_i (w0u = w0·a_u; σ = −1
    when c < 0), b += w·t·ŷ,
    and at its place j (_place: those with s ≥ 0 from the front, in order, the
    others from the back) r[j] = s·(ŷ·x) and, when `into`, W[j·k : j·k + k] =
    |s|·ŷ. Returns the number of places taken from the front."""
    k = Yh.shape[1]
    zero = Yh.dtype.type(0)
    front = 0
    for q in range(m):
        if q + PREFETCH_AHEAD < m:
            prefetch_row(Yh, indices[lo + q + PREFETCH_AHEAD])
        i, extra, wt = observation(lo + q, indices, values, w0u, alpha, conf_kind, epsilon,
                                   explicit, rw, col_weights, col_unobserved)
        if conf_kind == CONF_TOTAL:  # the only weight that may fall below the unobserved one
            sq = np.sqrt(extra) if extra >= zero else -np.sqrt(-extra)
            j, front = _place(sq, q, front, m)
        else:  # kept apart: the placement measured 8% of a pass at k = 64
            sq = np.sqrt(extra)
            j = q
            front = q + 1
        y = Yh[i]
        s[q] = sq
        p = zero
        for a in range(k):
            b[a] += wt * y[a]
            p += y[a] * x[a]
        r[j] = sq * p
        if into:
            sq = abs(sq)
            w = W[j * k:(j + 1) * k]
            for a in range(k):
                w[a] = sq * y[a]
    return front


@njit(cache=True, nogil=True, inline="always")
def _place(sq, q, front, m):
    """(place of observation q of m, the front count after it) given its signed root
    sq and the count of places taken from the front before it: s ≥ 0 (also −0)
    at the front, in order, the others (w < w0, or NaN) from the back. The same
    rule in _gather and _panel, so that r and the panel rows line up."""
    if sq >= 0:
        return front, front + 1
    return m - 1 - (q - front), front


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _panel(lo, m, n, indices, Yh, s, b0, bb, bp, Z):
    """Z[j·bp : j·bp + bp] = |s_q|·ŷ_q[b0 : b0 + bb], zero-padded to bp, at the place j
    of observation q that _gather gave it (j = q when n = m: none below w0; rows
    read in place)."""
    zero = Z.dtype.type(0)
    front = 0
    for q in range(m):
        if q + PREFETCH_AHEAD < m:
            prefetch_row(Yh, indices[lo + q + PREFETCH_AHEAD])
        y = Yh[indices[lo + q]]
        sq = s[q]
        j = q
        if n < m:
            j, front = _place(sq, q, front, m)
        z = Z[j * bp:(j + 1) * bp]
        sq = abs(sq)
        for c in range(bb):
            z[c] = sq * y[b0 + c]
        for c in range(bb, bp):
            z[c] = zero


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _hessian(P, poff, ld, m, n, bb, bp, d, H, hoff, zero):
    """H[hoff:] (bp×bp) = diag(d) + P_Bᵀ Σ P_B, the full square (rows ≥ bb: padding),
    where Σ is +1 on P's first n rows and −1 on the others (m − n, usually none)."""
    for c in range(bp * bp):
        H[hoff + c] = zero
    if n < m:  # the back run first, then negated
        back = poff + n * ld
        for a0 in range(0, bb, 8):
            for t in range(0, bp, LANES):
                tile_acc8(H, hoff + a0 * bp + t, bp, P, back + a0, ld, P, back + t, ld, m - n)
        for c in range(bp * bp):
            H[hoff + c] = -H[hoff + c]
    for a0 in range(0, bb, 8):
        for t in range(0, bp, LANES):
            tile_acc8(H, hoff + a0 * bp + t, bp, P, poff + a0, ld, P, poff + t, ld, n)
    for a in range(bb):
        H[hoff + a * bp + a] += d[a]


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _pivot(H, hoff, j, bb, bp, one, zero):
    """Step j of the in-place Gauss-Jordan inverse of the leading bb×bb of the
    block at hoff (no pivoting: the block is SPD, and its pivots are those of
    its Cholesky factorisation). False when the pivot is not positive."""
    hj = hoff + j * bp
    p = H[hj + j]
    if not p > zero:  # also catches NaN
        return False
    ip = one / p
    H[hj + j] = one
    for t in range(0, bp, LANES):
        tile_scale(H, hj + t, ip)
    for i in range(bb):
        if i != j:
            hi = hoff + i * bp
            f = H[hi + j]
            for t in range(0, bp, LANES):
                tile_axpy(H, hi + t, H, hj + t, -f)
            H[hi + j] = -f * ip
    return True


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _invert(H, hoff, bb, bp, one, zero):
    """Invert the leading bb×bb of the bp×bp block at hoff in place: in registers
    (simd.tile_inverse, the same bits) when the block is exactly one tile, else
    pivot by pivot. False when a pivot was not positive."""
    if bb == LANES and bp == LANES:  # the tile's row stride is LANES
        return tile_inverse(H, hoff) != 0
    for j in range(bb):
        if not _pivot(H, hoff, j, bb, bp, one, zero):
            return False
    return True


@njit(cache=True, nogil=True, inline="always", fastmath=FASTMATH)
def _step(P, poff, ld, m, bb, bp, d, xB, bB, r, H, hoff, g, delta, zero):
    """delta = −H⁻¹ g for the inverted block at hoff, with the gradient
    g = P_Bᵀ r + d∘x_B − b_B from the current predictions (zero beyond bb)."""
    for c in range(bp):
        g[c] = zero
        delta[c] = zero
    for t in range(0, bp, LANES):
        tile_acc1(g, t, bp, r, 0, 1, P, poff + t, ld, m)
    for a in range(bb):
        g[a] = -(g[a] + d[a] * xB[a] - bB[a])
    for t in range(0, bp, LANES):
        tile_acc1(delta, t, bp, g, 0, 1, H, hoff + t, bp, bb)
    for c in range(bb, bp):
        delta[c] = zero


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def subspace_sweep(th, indptr, indices, values, Yh, lam_eig, reg, w0, alpha, conf_kind, epsilon,
                   explicit, row_weights, col_weights, row_unobserved, col_unobserved, starts, X,
                   block_size, exact_max, dual_norm_bound, W_scratch, Z_scratch, obs_scratch,
                   H_scratch, S_scratch, vec_scratch, failed, counter):
    """Thread th's share of one pass over every block of every row of X, in place, in the
    eigenbasis (Yh = Y Q, lam_eig = w0·Λ, X holding x̂ = Qᵀ x; a = row_unobserved, b =
    col_unobserved as in solve.cholesky_sweep, empty for all ones). Thread th takes chunks
    ch (rows starts[ch]:starts[ch+1]) from `counter` (zero on entry), as cholesky_sweep,
    working in W_scratch[th] (the gather block, flat, rows × k plus padding), Z_scratch[th]
    (one block's columns of the longest row that does not fit W, flat), obs_scratch[th] (2 ×
    longest row), H_scratch[th] (a bp×bp block per block of k), S_scratch[th] (exact_max²),
    vec_scratch[th] (7 × (k + padding)); failed[ch] receives the first row of chunk ch with
    a system that was not positive definite, or -1. Rows of at most exact_max observations
    are solved exactly."""
    # the views taken below skip reference counting (see _common.borrowed)
    indptr, indices, values, Yh, X, starts, failed, counter = \
        borrowed((indptr, indices, values, Yh, X, starts, failed, counter))
    lam_eig, reg, row_weights, col_weights, row_unobserved, col_unobserved = \
        borrowed((lam_eig, reg, row_weights, col_weights, row_unobserved, col_unobserved))
    W_scratch, Z_scratch, obs_scratch, H_scratch, S_scratch, vec_scratch = \
        borrowed((W_scratch, Z_scratch, obs_scratch, H_scratch, S_scratch, vec_scratch))
    k = Yh.shape[1]
    zero = X.dtype.type(0)
    one = X.dtype.type(1)
    bp = padded_order(block_size)
    cap = (W_scratch.shape[1] - 2 * LANES) // k  # rows the gather block holds
    W = W_scratch[th]
    Z = Z_scratch[th]
    s = obs_scratch[th, 0]
    r = obs_scratch[th, 1]
    H = H_scratch[th]
    S = S_scratch[th]
    b = vec_scratch[th, 0]
    d = vec_scratch[th, 1]
    dinv = vec_scratch[th, 2]
    v = vec_scratch[th, 3]
    g = vec_scratch[th, 4]
    delta = vec_scratch[th, 5]
    ok = vec_scratch[th, 6]  # per block: one when its inverse exists
    while True:
        ch = next_chunk(counter)
        if ch >= starts.size - 1:
            break
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
            au = unobserved_weight(row_unobserved, u)
            w0u = w0 * au
            positive = True
            for a in range(k):
                d[a] = au * lam_eig[a] + reg[u]
                positive &= d[a] > zero
                b[a] = zero
            gathered = m <= cap
            n = _gather(lo, m, indices, values, Yh, x, w0u, alpha, conf_kind, epsilon,
                        explicit, rw, col_weights, col_unobserved, gathered, W, s, r, b)
            if gathered and m <= exact_max and positive and n == m:
                W2 = W[:m * k].reshape((m, k))
                # exact_max ≤ SMALL_ORDER: dual_row never needs its T
                status = dual_row(m, k, d, dinv, W2, b, dual_norm_bound, S, v, S[:0])
                if status == 1:
                    for a in range(k):
                        x[a] = b[a]
                    continue
                if status < 0:
                    if failed[ch] < 0:
                        failed[ch] = u
                    continue
                # status 0: the Woodbury bound was exceeded; W is restored, b untouched
            nb = -(-k // block_size)
            full = k // block_size
            hsz = bp * bp
            if gathered:
                # every block's Hessian, then their inverses, pivot j of all the
                # full blocks at a time (independent chains, so they overlap)
                for B in range(nb):
                    b0 = B * block_size
                    bb = min(block_size, k - b0)
                    _hessian(W, b0, k, m, n, bb, bp, d[b0:b0 + bb], H, B * hsz, zero)
                    ok[B] = one
                if block_size == LANES:  # one tile each: _invert holds it in registers
                    for B in range(full):
                        if not _invert(H, B * hsz, LANES, bp, one, zero):
                            ok[B] = zero
                else:  # pivot j of every full block at a time (the chains overlap)
                    for j in range(block_size):
                        for B in range(full):
                            if ok[B] != zero and not _pivot(H, B * hsz, j, block_size, bp, one,
                                                            zero):
                                ok[B] = zero
                rest = k - full * block_size
                if rest and not _invert(H, full * hsz, rest, bp, one, zero):
                    ok[full] = zero
            for B in range(nb):
                b0 = B * block_size
                bb = min(block_size, k - b0)
                if gathered:
                    P = W
                    poff = b0
                    ld = k
                    hoff = B * hsz
                else:
                    _panel(lo, m, n, indices, Yh, s, b0, bb, bp, Z)
                    P = Z
                    poff = 0
                    ld = bp
                    hoff = 0
                    _hessian(Z, 0, bp, m, n, bb, bp, d[b0:b0 + bb], H, 0, zero)
                    ok[B] = one if _invert(H, 0, bb, bp, one, zero) else zero
                if ok[B] == zero:
                    if failed[ch] < 0:
                        failed[ch] = u
                    continue  # this block unchanged; the caller raises
                _step(P, poff, ld, m, bb, bp, d[b0:b0 + bb], x[b0:b0 + bb], b[b0:b0 + bb], r,
                      H, hoff, g, delta, zero)
                for a in range(bb):
                    x[b0 + a] += delta[a]
                if b0 + bb < k:  # predictions for the next block
                    rows_dot_add(r, P, poff, ld, n, delta, bp // LANES)
                    if n < m:  # the back run's predictions move by −Δ
                        for c in range(bp):
                            g[c] = -delta[c]
                        rows_dot_add(r[n:], P, poff + n * ld, ld, m - n, g, bp // LANES)
