"""Held-out splits and ranking metrics.

Splits are seeded and exact: every stored entry of the input lands in exactly
one part (train + test = input). Metrics rank every item for each user with
the serving kernel, the user's training items excluded, as in the NGCF /
LightGCN and VAE-CF / iALS benchmark protocols.
"""

import numpy as np
import scipy.sparse as sp

from ._kernels.metrics import per_user_metrics
from ._threads import compute_threads
from ._validation import as_csr, check_int, check_n_threads, check_random_state, check_real
from .serving import top_n

METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "auc", "coverage", "recall_all")


# ---------------------------------------------------------------- splits

def _canonical(X, name="X"):
    """Canonical CSR keeping X's values exactly (float64 unless float32)."""
    dtype = np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64
    return as_csr(X, dtype=dtype, name=name)


def _fraction(name, value):
    value = check_real(name, value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")
    return value


def _parts(X, is_test):
    """(train, test) CSR arrays of X's shape from a mask over X's stored entries."""
    coo = X.tocoo()

    def part(mask):
        return sp.csr_array((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=X.shape)

    return part(~is_test), part(is_test)


def _first_in_row(X, n_first, order_key):
    """Mask over X's stored entries: within each row, the n_first[row] entries
    that come first by order_key (one key per stored entry, ties by position)."""
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    order = np.lexsort((order_key, rows))  # by row, then key; stable
    rank = np.empty(X.nnz, dtype=np.int64)
    rank[order] = np.arange(X.nnz) - X.indptr[rows[order]]
    return rank < n_first[rows]


def split_random(X, test_fraction=0.2, random_state=None):
    """Each stored entry goes to test with probability ``test_fraction``.
    Returns (train, test) CSR arrays of X's shape."""
    test_fraction = _fraction("test_fraction", test_fraction)
    rng = check_random_state(random_state)
    X = _canonical(X)
    return _parts(X, rng.random(X.nnz) < test_fraction)


def split_leave_k_out(X, k=1, random_state=None):
    """k random entries of every user with more than k go to test; users with
    k or fewer keep all theirs in train. Returns (train, test)."""
    k = check_int("k", k, 1)
    rng = check_random_state(random_state)
    X = _canonical(X)
    counts = np.diff(X.indptr)
    return _parts(X, _first_in_row(X, np.where(counts > k, k, 0), rng.random(X.nnz)))


def split_by_time(X, timestamps, test_fraction=0.2, per_user=False, shape=None):
    """Split by timestamp. X is a (users, items, values) triplet and
    ``timestamps`` one number per entry of it. The latest ``test_fraction`` of
    all entries go to test (``per_user=True``: the latest fraction of each
    user's, rounded), ties in time broken by position. A user-item pair may
    then appear in both parts (test items a user has in train are left out of
    the metrics). Returns (train, test) CSR arrays, duplicates summed in each."""
    test_fraction = _fraction("test_fraction", test_fraction)
    if not isinstance(X, tuple) or len(X) != 3:
        raise TypeError("split_by_time: X must be a (users, items, values) triplet, so that "
                        "each entry has its timestamp")
    t = np.asarray(timestamps)
    rows = np.asarray(X[0])
    if t.ndim != 1 or t.size != rows.size or t.dtype.kind not in "iuf":
        raise ValueError(f"timestamps must be a 1-D numeric array with one entry per "
                         f"interaction ({rows.size}), got shape {t.shape}, dtype {t.dtype}")
    if t.dtype.kind == "f" and not np.isfinite(t).all():
        raise ValueError("timestamps contain NaN or infinite values")
    full = as_csr(X, shape=shape, dtype=np.float64, name="X")  # validates, gives the shape
    if per_user:
        n_rows = full.shape[0]
        counts = np.bincount(rows, minlength=n_rows)
        order = np.lexsort((np.arange(rows.size), t, rows))  # by user, then time
        last = np.cumsum(counts) - 1  # each user's last position in that order
        from_end = np.empty(rows.size, dtype=np.int64)
        from_end[order] = last[rows[order]] - np.arange(rows.size)
        is_test = from_end < np.rint(test_fraction * counts).astype(np.int64)[rows]
    else:
        order = np.lexsort((np.arange(rows.size), t))
        is_test = np.zeros(rows.size, dtype=bool)
        is_test[order[rows.size - int(round(test_fraction * rows.size)):]] = True

    def part(mask):
        return as_csr((rows[mask], np.asarray(X[1])[mask], np.asarray(X[2])[mask]),
                      shape=full.shape, dtype=np.float64, name="X", allow_empty=True)

    return part(~is_test), part(is_test)


def split_users(X, test_users=0.2, test_fraction=0.2, random_state=None):
    """Strong generalization (VAE-CF, iALS benchmarks): a random ``test_users``
    fraction of users is held out of training; each held-out user's entries
    split at random into fold-in and test (about ``test_fraction`` to test, at
    least one in each when the user has two or more). Returns (train, fold_in,
    test) CSR arrays of X's shape: train holds the other users' rows; fit on it,
    fold the held-out users in from fold_in (``transform``), rank against test."""
    test_users = _fraction("test_users", test_users)
    test_fraction = _fraction("test_fraction", test_fraction)
    rng = check_random_state(random_state)
    X = _canonical(X)
    n_users = X.shape[0]
    held = np.zeros(n_users, dtype=bool)
    held[rng.permutation(n_users)[:int(round(test_users * n_users))]] = True
    in_test = _test_entries(X, held, test_fraction, rng)
    rows = np.repeat(np.arange(n_users), np.diff(X.indptr))
    train, rest = _parts(X, held[rows])
    fold_in, test = _parts(rest, in_test[held[rows]])
    return train, fold_in, test


def _test_entries(X, held, test_fraction, rng):
    """Mask over canonical X's stored entries: of each row where `held`, about
    ``test_fraction`` of its entries at random, at least one and not all when
    it has two or more (none when it has one). Draws one number per entry."""
    counts = np.diff(X.indptr)
    n_test = np.where(counts >= 2, np.clip(np.rint(test_fraction * counts), 1, counts - 1), 0)
    n_test = np.where(held, n_test, 0).astype(np.int64)
    return _first_in_row(X, n_test, rng.random(X.nnz))


# ---------------------------------------------------------------- metrics

def ranking_metrics(model, train, test, K=10, metrics=METRICS, n_threads=None):
    """Mean ranking metrics at K over the users with test items.

    model: a fitted model (``user_factors_``, ``item_factors_``, as WALS, or
    ``user_factors``/``item_factors`` as implicit's) or a pair (user factors,
    item factors) whose rows match train's and test's rows and columns. Every
    item is ranked; the user's ``train`` items are excluded; test items that
    are also in train are left out. Recall, NDCG and MAP are normalised by
    min(K, number of test items) (the VAE-CF / iALS convention), recall_all by
    the number of test items (the NGCF / LightGCN convention); precision by K;
    hit_rate is the share of users with a hit; AUC counts ties one half;
    coverage is the share of all items in at least one evaluated top-K list.
    Returns {metric: value, ..., "users": how many were evaluated}.
    """
    U, V = _factors(model)
    K = check_int("K", K, 1)
    metrics = _metric_names(metrics)
    rows = _evaluated(train, test, U.shape[0], V.shape[0], ("train", "test"))
    return _ranked(U, V, rows, K, metrics, n_threads)


def _evaluated(train, test, n_users, n_items, names):
    """(users with test items outside train, their train rows, their test rows
    minus train, sorted) for the ranking; `names` name train and test in errors."""
    train = _pattern(train, n_users, n_items, names[0])
    test = _pattern(test, n_users, n_items, names[1])
    positives = test - test.multiply(train)
    positives.eliminate_zeros()
    users = np.flatnonzero(np.diff(positives.indptr))
    pos = positives[users]
    pos.sort_indices()  # per_user_metrics searches each row's test items
    return users, train[users], pos


def _ranked(U, V, rows, K, metrics, n_threads):
    """The metrics of ranking_metrics from its evaluated rows."""
    users, excl, pos = rows
    result = {"users": int(users.size)}
    if users.size == 0:
        return {**{m: float("nan") for m in metrics}, **result}
    with compute_threads(check_n_threads(n_threads)):
        if "auc" in metrics:
            top, _, pairs_below = top_n(U[users], V, K, excl, None, pos)
        else:
            top, _ = top_n(U[users], V, K, excl, None)
        per_user = np.empty((users.size, 6))
        per_user_metrics(top, K, pos.indptr.astype(np.int64), pos.indices.astype(np.int64),
                         per_user)
    means = per_user.mean(axis=0)
    for name, column in (("precision", 0), ("recall", 1), ("ndcg", 2), ("map", 3),
                         ("hit_rate", 4), ("recall_all", 5)):
        if name in metrics:
            result[name] = float(means[column])
    if "auc" in metrics:
        n_pos = np.diff(pos.indptr)
        n_neg = V.shape[0] - np.diff(excl.indptr) - n_pos
        ok = n_neg > 0
        auc = 1.0 - pairs_below[ok] / (n_pos[ok] * n_neg[ok])
        result["auc"] = float(auc.mean()) if auc.size else float("nan")
    if "coverage" in metrics:
        result["coverage"] = float(np.unique(top[top >= 0]).size / V.shape[0])
    return {m: result[m] for m in (*metrics, "users")}


def validation_scorer(train, validation):
    """For fit's early stopping: validation = (test, metric, K) -> a function of
    (user factors, item factors) giving that metric, training items excluded.
    The evaluated rows are prepared once, here, not at every iteration."""
    if not (isinstance(validation, tuple) and len(validation) == 3):
        raise TypeError(f"validation must be a (test_matrix, metric, K) tuple such as "
                        f"(test, 'ndcg', 20), got {type(validation).__name__}")
    test, metric, K = validation
    if metric not in METRICS:
        raise ValueError(f"validation metric must be one of {', '.join(METRICS)}; "
                         f"got {metric!r}")
    K = check_int("validation K", K, 1)
    rows = _evaluated(train, test, *train.shape, ("X", "validation test matrix"))
    if rows[0].size == 0:
        raise ValueError("validation test matrix has no entries outside X: every test item is "
                         "a training item, so there is nothing to rank; hold entries out of X "
                         "(fastwals.metrics.split_random)")

    def score(U, V):
        return _ranked(U, V, rows, K, (metric,), None)[metric]

    return score


def _factors(model):
    if isinstance(model, tuple) and len(model) == 2:
        U, V = model
    elif hasattr(model, "_fitted_pair"):  # a WALS: the pair read once (a refit publishes anew)
        U, V = model._fitted_pair("ranking_metrics")
    elif hasattr(model, "user_factors_"):
        U, V = model.user_factors_, model.item_factors_
    elif hasattr(model, "user_factors"):
        U, V = model.user_factors, model.item_factors
    else:
        raise TypeError(f"model must be a fitted model or a (user_factors, item_factors) pair, "
                        f"got {type(model).__name__}")
    U, V = np.asarray(U), np.asarray(V)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise ValueError(f"user and item factors must be 2-D with the same number of "
                         f"columns, got shapes {U.shape} and {V.shape}")
    dtype = U.dtype if U.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(U, dtype=dtype), np.ascontiguousarray(V, dtype=dtype)


def _metric_names(metrics):
    if isinstance(metrics, str):
        metrics = (metrics,)
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"metrics must name some of {', '.join(METRICS)}; got {metrics!r}")
    return metrics


def _pattern(M, n_users, n_items, name):
    """The stored-entry pattern of M as a canonical CSR of ones."""
    csr = as_csr(M, dtype=np.float32, name=name, allow_empty=True)
    if csr.shape != (n_users, n_items):
        raise ValueError(f"{name} must have shape ({n_users}, {n_items}) to match the factors, "
                         f"got {csr.shape}")
    csr = sp.csr_array((np.ones(csr.nnz, np.float32), csr.indices, csr.indptr), shape=csr.shape)
    return csr


def __getattr__(name):
    # model selection (UserSplit, ranking_scorer) lives in fastwals.selection, which
    # builds on this module: imported on first use, so either may be imported first
    if name in ("UserSplit", "ranking_scorer"):
        from . import selection
        return getattr(selection, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
