"""Interaction rows (user code, item code, value, time) -> canonical CSR.

Two stable counting sorts (by item, then by user; each on several threads,
see fastwals._counting) group the rows by (user, item) with ties in input
order, in O(rows) time and without a permutation array: each pass moves the
columns into new arrays, so the caller can drop the previous ones before the
next pass (at most two copies of the columns are alive). Duplicates are then
aggregated in place.

Codes are int32 with -1 for rows to drop (an id outside a given map). Values
and times are optional: ``has_v`` / ``has_t`` False means the arrays are empty
placeholders (a row's value is then 1).
"""

import numpy as np
from numba import njit

SUM = 0
MAX = 1
LAST = 2  # the last row of the pair in input order
COUNT = 3  # the number of rows of the pair


# The two parts below write a row the same way, spelled out in each: a helper
# function taking the arrays (inlined by Numba, or left to LLVM) made the read of
# 102M rows take 34-39 s against 18-21 s (measured; probably the arrays'
# reference counts, updated at every call by both threads: see _common.borrowed).
@njit(cache=True, nogil=True)
def group_by_item_part(th, scatter, u, i, v, t, has_v, has_t, bounds, fill, u1, v1, t1):
    """Thread th's part (rows bounds[th]:bounds[th + 1]) of grouping the rows with
    u >= 0 and i >= 0 by item in input order (a counting sort, see
    fastwals._counting): scatter False counts them per item into fill[th]; True
    writes their users, values and times from fill[th]."""
    f = fill[th]
    for k in range(bounds[th], bounds[th + 1]):
        uk = u[k]
        ik = i[k]
        if uk >= 0 and ik >= 0:
            if scatter:
                p = f[ik]
                f[ik] = p + 1
                u1[p] = uk
                if has_v:
                    v1[p] = v[k]
                if has_t:
                    t1[p] = t[k]
            else:
                f[ik] += 1


@njit(cache=True, nogil=True)
def group_by_user_part(th, scatter, item_ptr, u1, v1, t1, has_v, has_t, bounds, fill, cols, v2,
                       t2):
    """Thread th's part (item-grouped rows bounds[th]:bounds[th + 1]) of regrouping
    them by user: within a user, items ascend and a pair's rows keep their input
    order. scatter False counts them per user into fill[th]; True writes their
    items, values and times from fill[th]."""
    f = fill[th]
    lo = bounds[th]
    j = np.searchsorted(item_ptr, lo, side="right") - 1  # the item of row lo
    for k in range(lo, bounds[th + 1]):
        r = u1[k]
        if scatter:
            while item_ptr[j + 1] <= k:
                j += 1
            p = f[r]
            f[r] = p + 1
            cols[p] = j
            if has_v:
                v2[p] = v1[k]
            if has_t:
                t2[p] = t1[k]
        else:
            f[r] += 1


@njit(cache=True, nogil=True)
def aggregate(ptr, cols, v, t, out, rule, has_v, has_t):
    """Merge each run of equal (row, col) into one entry, in place: cols, out and
    t are compacted (out may be v itself). Sums accumulate in float64; a
    pair's time is its latest. Entries whose value is 0 are dropped.
    Returns (indptr, nnz, n_duplicates, n_zeros)."""
    n_rows = ptr.shape[0] - 1
    indptr = np.zeros(n_rows + 1, np.int64)
    w = 0
    dups = 0
    zeros = 0
    for r in range(n_rows):
        k = ptr[r]
        b = ptr[r + 1]
        while k < b:
            c = cols[k]
            e = k + 1
            while e < b and cols[e] == c:
                e += 1
            if rule == COUNT or (rule == SUM and not has_v):
                val = float(e - k)
            elif not has_v:
                val = 1.0
            elif rule == SUM:
                s = 0.0
                for q in range(k, e):
                    s += v[q]
                val = s
            elif rule == MAX:
                val = float(v[k])
                for q in range(k + 1, e):
                    if v[q] > val:
                        val = float(v[q])
            else:  # LAST
                val = float(v[e - 1])
            if has_t:
                tt = t[k]
                for q in range(k + 1, e):
                    if t[q] > tt:
                        tt = t[q]
                t[w] = tt
            dups += e - k - 1
            cols[w] = c
            out[w] = val
            if out[w] != 0:
                w += 1
            else:
                zeros += 1
            k = e
        indptr[r + 1] = w
    return indptr, w, dups, zeros


@njit(cache=True, nogil=True)
def filter_entries(indptr, cols, data, t, keep_row, col_map, drop_rows, has_t):
    """Keep entries whose row is kept and whose column maps to >= 0 (renumbered
    to col_map[col]), compacting in place. drop_rows: rows not kept disappear
    from the new indptr; else they stay, empty. Returns (indptr, nnz)."""
    n_rows = indptr.shape[0] - 1
    n_out = 0
    for r in range(n_rows):
        if keep_row[r] or not drop_rows:
            n_out += 1
    new_ptr = np.zeros(n_out + 1, np.int64)
    w = 0
    o = 0
    for r in range(n_rows):
        if keep_row[r]:
            for k in range(indptr[r], indptr[r + 1]):
                c = col_map[cols[k]]
                if c >= 0:
                    cols[w] = c
                    data[w] = data[k]
                    if has_t:
                        t[w] = t[k]
                    w += 1
        if keep_row[r] or not drop_rows:
            o += 1
            new_ptr[o] = w
    return new_ptr, w
