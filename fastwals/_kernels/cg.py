"""Conjugate gradient on each row's normal equations (Takács et al. 2011).

Warm-started from the current factors, a few steps per row and per half-sweep
(implicit's default solver). A is never formed. The kernel works in the
eigenbasis of G = Yᵀ diag(b) Y = Q Λ Qᵀ (b: the unobserved weights of the other
side, all ones by default; the caller rotates Y and the warm start X; CG's
iterates are the same in any orthonormal basis), where w0·a_u·G is the diagonal
w0·a_u·Λ, so A·p = (w0·a_u·Λ + λ) ∘ p + Σ_obs (w − w0·a_u·b_i) (ŷ_i·p) ŷ_i costs
O(m·k), not O(k² + m·k). The row's factors are gathered once into a local block
that every step reuses. w − w0·a_u·b_i may be negative (confidence "total", whose
observed weight alpha·|r|·ρκ replaces the unobserved one): nothing here takes its
root, and A = Σ_all w y yᵀ + λI stays positive semi-definite, every total weight
being ≥ 0.

Every dot product is an explicit vector reduction in a fixed order (simd.row_dot,
simd.rows4_dot), and the kernel is compiled without the `reassoc` fast-math flag:
with it LLVM chose the order of the sums, and a process that JIT-compiled the
kernel and one that loaded it from Numba's disk cache gave different bits.
"""

from numba import njit

from ._common import (FASTMATH, PREFETCH_AHEAD, borrowed, next_chunk, observation, prefetch_row,
                      unobserved_weight)
from .simd import row_dot, rows4_dot

# the kernels' flags without reassoc: the reductions below fix their own order,
# and nothing else may be regrouped (contract still fuses the elementwise updates)
_FASTMATH_ORDERED = FASTMATH - {"reassoc"}


@njit(cache=True, nogil=True, inline="always", fastmath=_FASTMATH_ORDERED)
def _apply(d, Z, idx, c, m, p, out):
    """out = (diag(d) + Zᵀ diag(c) Z) p over the row's factors Z[idx[q]], q < m,
    four observations at a time: four independent dot products share the loads
    of p (measured 1.2-1.5x faster than one at a time at k = 64..128)."""
    k = p.size
    for a in range(k):
        out[a] = d[a] * p[a]
    q = 0
    while q + 4 <= m:
        z0 = Z[idx[q]]
        z1 = Z[idx[q + 1]]
        z2 = Z[idx[q + 2]]
        z3 = Z[idx[q + 3]]
        t0, t1, t2, t3 = rows4_dot(z0, z1, z2, z3, p)
        t0 *= c[q]
        t1 *= c[q + 1]
        t2 *= c[q + 2]
        t3 *= c[q + 3]
        for a in range(k):
            out[a] += t0 * z0[a] + t1 * z1[a] + t2 * z2[a] + t3 * z3[a]
        q += 4
    while q < m:
        z0 = Z[idx[q]]
        t0 = row_dot(z0, p) * c[q]
        for a in range(k):
            out[a] += t0 * z0[a]
        q += 1


@njit(cache=True, nogil=True, fastmath=_FASTMATH_ORDERED)
def cg_sweep(th, indptr, indices, values, Yh, lam_eig, reg, w0, alpha, conf_kind, epsilon,
             explicit, row_weights, col_weights, row_unobserved, col_unobserved, starts, X,
             cg_steps, Z_scratch, iota, c_scratch, vec_scratch, counter):
    """Thread th's share of improving every row of X in place by cg_steps conjugate-gradient steps,
    in the eigenbasis (Yh = Y Q, lam_eig = w0·Λ, X holding x̂ = Qᵀ x; a = row_unobserved, b
    = col_unobserved as in cholesky_sweep, empty for all ones). Thread th takes chunks ch
    (rows starts[ch]:starts[ch+1]) from `counter` (zero on entry), as cholesky_sweep. Rows
    that fit in Z_scratch[th] (rows × k, kept cache-sized) are gathered there once; longer
    rows read Yh in place at every step. iota = arange(rows), of the indices' dtype;
    c_scratch[th] holds the longest row; vec_scratch[th] is 4 × k."""
    # the views taken below skip reference counting (see _common.borrowed)
    indptr, indices, values, Yh, X, starts, counter = \
        borrowed((indptr, indices, values, Yh, X, starts, counter))
    lam_eig, reg, row_weights, col_weights, row_unobserved, col_unobserved = \
        borrowed((lam_eig, reg, row_weights, col_weights, row_unobserved, col_unobserved))
    Z_scratch, iota, c_scratch, vec_scratch = borrowed((Z_scratch, iota, c_scratch, vec_scratch))
    k = Yh.shape[1]
    cap = Z_scratch.shape[1]
    Z = Z_scratch[th]
    c = c_scratch[th]
    d = vec_scratch[th, 0]
    r = vec_scratch[th, 1]
    p = vec_scratch[th, 2]
    Ap = vec_scratch[th, 3]
    while True:
        ch = next_chunk(counter)
        if ch >= starts.size - 1:
            break
        for u in range(starts[ch], starts[ch + 1]):
            lo = indptr[u]
            hi = indptr[u + 1]
            x = X[u]
            if lo == hi:
                for a in range(k):
                    x[a] = 0.0  # b = 0: the exact minimiser, as in the Cholesky solver
                continue
            m = hi - lo
            rw = row_weights[u]
            au = unobserved_weight(row_unobserved, u)
            w0u = w0 * au
            for a in range(k):
                d[a] = au * lam_eig[a] + reg[u]
                r[a] = -d[a] * x[a]
            gathered = m <= cap
            if gathered:
                src = Z
                idx = iota[:m]
            else:
                src = Yh
                idx = indices[lo:hi]
            # one pass: gather, and r = b − A x
            for q in range(m):
                if q + PREFETCH_AHEAD < m:
                    prefetch_row(Yh, indices[lo + q + PREFETCH_AHEAD])
                i, extra, wt = observation(lo + q, indices, values, w0u, alpha, conf_kind,
                                           epsilon, explicit, rw, col_weights,
                                           col_unobserved)
                c[q] = extra
                y = Yh[i]
                if gathered:
                    z = Z[q]
                    for a in range(k):
                        z[a] = y[a]
                t = wt - extra * row_dot(y, x)
                for a in range(k):
                    r[a] += t * y[a]
            for a in range(k):
                p[a] = r[a]
            rr = row_dot(r, r)
            for _ in range(cg_steps):
                if rr == 0.0:
                    break
                _apply(d, src, idx, c, m, p, Ap)
                pAp = row_dot(p, Ap)
                if not pAp > 0.0:
                    break
                step = rr / pAp
                for a in range(k):
                    x[a] += step * p[a]
                    r[a] -= step * Ap[a]
                rr_new = row_dot(r, r)
                beta = rr_new / rr
                for a in range(k):
                    p[a] = r[a] + beta * p[a]
                rr = rr_new
