"""Per-user ranking metrics at K from the top-K lists, in parallel."""

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def per_user_metrics(top, K, test_indptr, test_indices, out):
    """For each row u of `top` (ranked item ids, -1 for unfilled places; it may
    be narrower than K when there are fewer items) against
    its sorted test items: out[u] = (precision, recall, ndcg, average precision,
    hit), with recall, NDCG and AP normalised by min(K, |test|). Users without
    test items get zeros (the caller leaves them out)."""
    n_users, width = top.shape
    for u in prange(n_users):
        lo, hi = test_indptr[u], test_indptr[u + 1]
        n_test = hi - lo
        if n_test == 0:
            out[u, :] = 0.0
            continue
        n_rel = min(K, n_test)
        hits = 0
        dcg = 0.0
        ap = 0.0
        for r in range(width):
            item = top[u, r]
            if item < 0:
                continue
            # binary search among the sorted test items
            a, b = lo, hi
            while a < b:
                mid = (a + b) >> 1
                if test_indices[mid] < item:
                    a = mid + 1
                else:
                    b = mid
            if a < hi and test_indices[a] == item:
                hits += 1
                dcg += 1.0 / np.log2(r + 2.0)
                ap += hits / (r + 1.0)
        idcg = 0.0
        for r in range(n_rel):
            idcg += 1.0 / np.log2(r + 2.0)
        out[u, 0] = hits / K
        out[u, 1] = hits / n_rel
        out[u, 2] = dcg / idcg
        out[u, 3] = ap / n_rel
        out[u, 4] = 1.0 if hits > 0 else 0.0
        out[u, 5] = hits / n_test
