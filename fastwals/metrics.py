"""Held-out splits and ranking metrics."""

import numpy as np
import scipy.sparse as sp

from ._validation import check_int, check_random_state


def split_random(X, test_fraction=0.2, random_state=None):
    """Split a CSR matrix's entries at random into (train, test) CSR arrays of the
    same shape; every entry lands in exactly one of them."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), "
                         f"got {test_fraction!r}")
    rng = check_random_state(random_state)
    X = sp.csr_array(X)
    coo = X.tocoo()
    is_test = rng.random(coo.nnz) < test_fraction

    def part(mask):
        return sp.csr_array((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=X.shape)

    return part(~is_test), part(is_test)


def ranking_metrics(scores, train, test, K=10, chunk=1024):
    """Mean recall@K and NDCG@K over the users that have test items.

    ``scores(users)`` returns a dense len(users) × items block of scores. Items a
    user has in ``train`` are excluded from the ranking. Recall is normalised by
    min(K, number of test items), as in the VAE-CF / iALS benchmarks.
    """
    K = check_int("K", K, 1)
    train = sp.csr_array(train)
    test = sp.csr_array(test)
    if train.shape != test.shape:
        raise ValueError(f"train and test must have the same shape, got {train.shape} and "
                         f"{test.shape}")
    users = np.flatnonzero(np.diff(test.indptr))
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    recall = ndcg = 0.0
    for lo in range(0, users.size, chunk):
        batch = users[lo:lo + chunk]
        s = np.array(scores(batch), dtype=np.float64)
        tr = train[batch]
        s[np.repeat(np.arange(batch.size), np.diff(tr.indptr)), tr.indices] = -np.inf
        top = np.argpartition(-s, min(K, s.shape[1] - 1), axis=1)[:, :K]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(s, top, 1), 1), 1)
        te = test[batch]
        for r in range(batch.size):
            truth = te.indices[te.indptr[r]:te.indptr[r + 1]]
            hits = np.isin(top[r], truth)
            n_rel = min(K, truth.size)
            recall += hits.sum() / n_rel
            ndcg += discounts[:top.shape[1]][hits].sum() / discounts[:n_rel].sum()
    n = max(1, users.size)
    return {"recall": recall / n, "ndcg": ndcg / n, "users": int(users.size)}
