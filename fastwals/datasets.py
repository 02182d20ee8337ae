"""Synthetic implicit-feedback data with planted low-rank structure.

The package ships no real data (their licences forbid it); this generator is
the embedded default for the demo and the benchmarks.
"""

import numpy as np
import scipy.sparse as sp

from ._validation import check_int, check_random_state, check_real, index_dtype


def synthetic_implicit(n_users=3000, n_items=1500, n_draws=60000, *, rank=8, signal=3.0,
                       user_exponent=0.8, item_exponent=0.6, max_value=9, random_state=0):
    """A users × items CSR array of integer counts in 1..max_value.

    Each user u makes about n_draws/n_users·(power-law activity) draws of items
    with probability ∝ popularity_i · exp(signal · u·v_i / √rank), where u, v are
    hidden Gaussian factors of the given rank and popularity is Zipf-like with
    ``item_exponent``. Repeated draws add up (each draw adds 1 or more), capped at
    ``max_value``, so the number of non-zeros is somewhat below n_draws. Returns
    ``(matrix, (user_factors, item_factors))`` with the planted factors.
    """
    n_users = check_int("n_users", n_users, 1)
    n_items = check_int("n_items", n_items, 1)
    n_draws = check_int("n_draws", n_draws, 1)
    rank = check_int("rank", rank, 1)
    signal = check_real("signal", signal)
    user_exponent = check_real("user_exponent", user_exponent)
    item_exponent = check_real("item_exponent", item_exponent)
    max_value = check_int("max_value", max_value, 1)
    rng = check_random_state(random_state)

    U = rng.standard_normal((n_users, rank))
    V = rng.standard_normal((n_items, rank))
    log_pop = -item_exponent * np.log1p(rng.permutation(n_items))
    activity = (1.0 + rng.permutation(n_users)) ** -user_exponent
    counts = np.maximum(1, np.round(n_draws * activity / activity.sum())).astype(np.int64)

    rows, cols = [], []
    chunk = max(1, (1 << 22) // n_items)  # bounds the dense probability block
    for lo in range(0, n_users, chunk):
        hi = min(n_users, lo + chunk)
        logits = signal * (U[lo:hi] @ V.T) / np.sqrt(rank) + log_pop
        logits -= logits.max(axis=1, keepdims=True)
        cdf = np.cumsum(np.exp(logits), axis=1)
        cdf /= cdf[:, -1:]
        owner = np.repeat(np.arange(hi - lo), counts[lo:hi])
        # inverse-CDF sampling for all rows at once on the row-offset flattened CDF
        flat = (cdf + np.arange(hi - lo)[:, None]).ravel()
        pos = np.searchsorted(flat, owner + rng.random(owner.size), side="right")
        rows.append(owner + lo)
        cols.append(np.clip(pos - owner * n_items, 0, n_items - 1))
    rows = np.concatenate(rows)
    cols = np.concatenate(cols)
    weight = np.minimum(rng.geometric(0.5, size=rows.size), max_value).astype(np.float32)
    X = sp.coo_array((weight, (rows, cols)), shape=(n_users, n_items)).tocsr()
    X.sum_duplicates()
    np.minimum(X.data, max_value, out=X.data)
    index = index_dtype(X.nnz, X.shape)  # the index type a fit would choose
    X = sp.csr_array((X.data, X.indices.astype(index, copy=False),
                      X.indptr.astype(index, copy=False)), shape=X.shape)
    return X, (U, V)
