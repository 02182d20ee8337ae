"""A row order for the gathers: the item orientation built with users relabeled
in a given order, and a factor matrix's rows moved into and out of that order in
place.

The item half-sweep gathers a user factor row for every observation. When the
user factors are much larger than the cache, that gather ran faster with the
rows gathered most often kept together, users by decreasing activity, than
spread over the whole matrix in the caller's order (_problem.GATHER_ORDER_BYTES
says when, and what it bought).
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def transpose_part(th, scatter, indptr, indices, values, order, bounds, fill, t_indices,
                   t_values):
    """Thread th's part of a transpose of a CSR matrix (a counting sort by column,
    see fastwals._counting): the rows at places p in bounds[th]:bounds[th + 1] of
    `order` (empty: row p itself), row order[p] becoming p in the transpose.
    scatter False: counts this part's entries per column into fill[th]; True:
    writes them from fill[th], this part's first slot in each transposed row."""
    f = fill[th]
    for p in range(bounds[th], bounds[th + 1]):
        u = order[p] if order.size else p
        for j in range(indptr[u], indptr[u + 1]):
            c = indices[j]
            if scatter:
                slot = f[c]
                t_indices[slot] = p
                t_values[slot] = values[j]
                f[c] = slot + 1
            else:
                f[c] += 1


@njit(cache=True, nogil=True)
def permute_rows(M, order, inverse):
    """M ← M[order] in place (order a permutation of M's rows), or with inverse
    its undoing, M[order] ← M; one cycle at a time with one row of scratch: no
    copy of M."""
    n, k = M.shape
    done = np.zeros(n, dtype=np.bool_)
    tmp = np.empty(k, dtype=M.dtype)
    for s in range(n):
        if done[s]:
            continue
        for a in range(k):
            tmp[a] = M[s, a]
        p = s
        while True:
            done[p] = True
            q = order[p]
            if inverse:  # row p's content (in tmp) goes to q; q's moves on
                for a in range(k):
                    t = M[q, a]
                    M[q, a] = tmp[a]
                    tmp[a] = t
                if q == s:
                    break
            else:  # row p takes row q's content; s's was kept in tmp
                if q == s:
                    for a in range(k):
                        M[p, a] = tmp[a]
                    break
                for a in range(k):
                    M[p, a] = M[q, a]
            p = q
