"""implicit's top-N results, computed by fastwals's ranking kernel.

implicit (cpu/topk.pyx) scores filtered items -FLT_MAX instead of dropping
them and selects with a heap over the columns in order, so its results are
always N wide: the best unfiltered items, then filtered ones, then, past the
number of columns, id 0 with score 0. fastwals.serving.top_n returns only what
passes the filters (-1 / -inf elsewhere); this rebuilds implicit's layout:

- equal scores come highest column first (implicit's heap order);
- where the filters leave fewer than N items, the rest are filtered columns,
  highest first: all of them when N covers every column, else those among the
  first N columns (the heap's initial fill, whose lowest columns the later
  unfiltered items push out).
"""

import numpy as np

from .. import serving


def neg_max(dtype):
    """implicit's score of a filtered item."""
    return -np.finfo(dtype).max


def topk(Q, Y, N, exclude=None, banned=None):
    """(ids int32, scores of Q's dtype), (len(Q), N) each, for queries Q against
    the rows of Y as implicit's topk(Y, Q, N, filter_query_items=exclude,
    filter_items=banned) gives them. exclude: CSR (len(Q) × len(Y)) of columns
    filtered per query; banned: unique columns filtered for all.
    Runs on the current Numba threads, with BLAS capped at one thread."""
    m, n = Q.shape[0], Y.shape[0]
    N = int(N)  # implicit's Cython `int k` truncates a float N
    if N < 0:
        raise ValueError(f"N must be >= 0, got {N}")
    if N == 0 and m:
        raise IndexError("N=0: there is no place for a result (implicit raises IndexError)")
    out_ids = np.zeros((m, N), np.int32)
    out_scores = np.zeros((m, N), Q.dtype)
    if m == 0 or n == 0:
        return out_ids, out_scores
    ids, scores = serving.top_n(Q, Y, N, exclude, banned)
    ids, scores = _high_column_first(ids, scores)
    filled = ids >= 0
    width = ids.shape[1]
    out_ids[:, :width] = np.where(filled, ids, 0)
    out_scores[:, :width] = np.where(filled, scores, 0)
    for row in np.flatnonzero(~filled.all(axis=1)):
        kept = int(filled[row].sum())
        tail = _filtered(exclude, banned, row)
        if N < n:  # of the heap's initial fill (the first N columns), the highest stay
            tail = tail[tail < N]
            tail = tail[tail.size - (N - kept):]
        out_ids[row, kept:kept + tail.size] = tail[::-1]
        out_scores[row, kept:kept + tail.size] = neg_max(Q.dtype)
    return out_ids, out_scores


def _high_column_first(ids, scores):
    """Each row's runs of equal scores reordered by decreasing id."""
    if ids.shape[1] < 2 or not np.any(scores[:, 1:] == scores[:, :-1]):
        return ids, scores
    order = np.lexsort((-ids, -scores.astype(np.float64)))
    return np.take_along_axis(ids, order, 1), np.take_along_axis(scores, order, 1)


def _filtered(exclude, banned, row):
    """The columns filtered for one query, sorted, unique."""
    parts = [np.zeros(0, np.int64)]
    if exclude is not None:
        parts.append(exclude.indices[exclude.indptr[row]:exclude.indptr[row + 1]])
    if banned is not None:
        parts.append(banned)
    return np.unique(np.concatenate(parts).astype(np.int64))
