"""Splits (nothing lost or duplicated, seeded) and ranking metrics against a
naive reference: dense scores, a full stable sort, pairs counted one by one."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from fastwals import WALS
from fastwals.datasets import synthetic_implicit
from fastwals.metrics import METRICS, ranking_metrics, split_by_time, split_leave_k_out, \
    split_random, split_users


def naive_metrics(U, V, train, test, K):
    """Per-user metrics from dense scores, averaged over users with test items
    that are not in train."""
    S = np.asarray(U, np.float64) @ np.asarray(V, np.float64).T
    train, test = train.toarray() != 0, test.toarray() != 0
    test &= ~train
    rows = {m: [] for m in METRICS if m != "coverage"}
    shown = set()
    for u in np.flatnonzero(test.any(axis=1)):
        s = np.where(train[u], -np.inf, S[u])
        order = [i for i in np.argsort(-s, kind="stable") if not train[u, i]][:K]
        shown.update(order)
        rel = test[u, order]
        n_rel = min(K, test[u].sum())
        hits = np.cumsum(rel)
        rows["precision"].append(rel.sum() / K)
        rows["recall"].append(rel.sum() / n_rel)
        dcg = sum(1 / np.log2(r + 2) for r in range(len(order)) if rel[r])
        rows["ndcg"].append(dcg / sum(1 / np.log2(r + 2) for r in range(n_rel)))
        rows["map"].append(sum(hits[r] / (r + 1) for r in range(len(order)) if rel[r]) / n_rel)
        rows["hit_rate"].append(float(rel.any()))
        rows["recall_all"].append(rel.sum() / test[u].sum())
        pos = np.flatnonzero(test[u])
        neg = np.flatnonzero(~test[u] & ~train[u])
        if neg.size:
            good = sum((S[u, p] > S[u, n]) + 0.5 * (S[u, p] == S[u, n]) for p in pos for n in neg)
            rows["auc"].append(good / (pos.size * neg.size))
    out = {m: float(np.mean(v)) for m, v in rows.items()}
    out["coverage"] = len(shown) / V.shape[0]
    return out


def _data(seed=0, dtype=np.float64, n_users=60, n_items=40):
    X, _ = synthetic_implicit(n_users, n_items, 900, random_state=seed)
    train, test = split_random(X, 0.3, random_state=seed)
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((n_users, 5)).astype(dtype)
    V = rng.standard_normal((n_items, 5)).astype(dtype)
    return U, V, train, test


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [1, 5, 50])
def test_metrics_match_the_naive_reference(dtype, K):
    U, V, train, test = _data(dtype=dtype)
    fast = ranking_metrics((U, V), train, test, K=K)
    ref = naive_metrics(U, V, train, test, K)
    for m in METRICS:
        assert_allclose(fast[m], ref[m], rtol=1e-6, err_msg=m)
    assert fast["users"] == np.count_nonzero(np.diff(sp.csr_array(test).indptr))


def test_metrics_with_ties_test_items_in_train_and_a_hand_checked_case():
    # scores as factors: U = score rows, V = identity
    S = np.array([[9.0, 1.0, 3.0, 2.0], [0.0, 0.5, 2.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    train = sp.csr_array(np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]], dtype=float))
    test = sp.csr_array(np.array([[1, 0, 1, 1], [0, 1, 0, 0], [0, 1, 0, 0]], dtype=float))
    m = ranking_metrics((S, np.eye(4)), train, test, K=2)
    ref = naive_metrics(S, np.eye(4), train, test, 2)
    # user 0: item 0 is in train (left out of test), top-2 = [2, 3] both relevant;
    # user 1: top-2 = [2, 3], a miss; user 2: all tied, top-2 = [0, 1], item 1 hits at rank 2
    assert m["users"] == 3
    assert np.isclose(m["recall"], (1.0 + 0.0 + 1.0) / 3)
    assert np.isclose(m["precision"], (1.0 + 0.0 + 0.5) / 3)
    assert np.isclose(m["auc"], (1.0 + 1 / 3 + 0.5) / 3)  # ties count one half
    for name in METRICS:
        assert np.isclose(m[name], ref[name]), name


def test_metrics_of_a_fitted_model_and_the_metric_selection():
    X, _ = synthetic_implicit(200, 80, 3000, random_state=3)
    train, test = split_random(X, 0.2, random_state=3)
    model = WALS(8, iterations=3, random_state=0).fit(train)
    full = ranking_metrics(model, train, test, K=10)
    assert set(full) == set(METRICS) | {"users"}
    some = ranking_metrics(model, train, test, K=10, metrics=["ndcg", "recall"])
    assert list(some) == ["ndcg", "recall", "users"]
    assert some["ndcg"] == full["ndcg"]
    one = ranking_metrics(model, train, test, K=10, n_threads=1)
    assert one == full


def test_metrics_errors():
    U, V, train, test = _data()
    with pytest.raises(ValueError, match="metrics must name some of"):
        ranking_metrics((U, V), train, test, metrics=["recall@20"])
    with pytest.raises(ValueError, match=r"test must have shape \(60, 40\)"):
        ranking_metrics((U, V), train, test[:10])
    with pytest.raises(ValueError, match="K must be >= 1"):
        ranking_metrics((U, V), train, test, K=0)
    with pytest.raises(TypeError, match="model must be a fitted model"):
        ranking_metrics("model", train, test)
    with pytest.raises(ValueError, match="same number of columns"):
        ranking_metrics((U, V[:, :3]), train, test)


# ---------------------------------------------------------------- splits

def _same_entries(parts, X, disjoint=True):
    total = sum(parts[1:], parts[0])
    if disjoint:
        assert sum(p.nnz for p in parts) == sp.csr_array(X).nnz
    assert (total != sp.csr_array(X)).nnz == 0


def test_split_random_and_leave_k_out_keep_every_entry_once_and_are_seeded():
    X, _ = synthetic_implicit(200, 100, 3000, random_state=2)
    train, test = split_random(X, 0.25, random_state=0)
    _same_entries([train, test], X)
    assert 0.15 < test.nnz / X.nnz < 0.35
    again = split_random(X, 0.25, random_state=0)[1]
    assert (again != test).nnz == 0
    train, test = split_leave_k_out(X, 2, random_state=1)
    _same_entries([train, test], X)
    counts = np.diff(sp.csr_array(X).indptr)
    assert_allclose(np.diff(test.indptr), np.where(counts > 2, 2, 0))
    with pytest.raises(ValueError, match="test_fraction must be between 0 and 1"):
        split_random(X, 1.0)
    with pytest.raises(ValueError, match="k must be >= 1"):
        split_leave_k_out(X, 0)


def test_split_by_time_global_and_per_user():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 30, 500)
    items = rng.integers(0, 20, 500)
    values = rng.integers(1, 5, 500).astype(float)
    t = rng.permutation(500) * 10
    X = sp.csr_array((values, (users, items)), shape=(30, 20))
    # a user-item pair repeated across the cut is in both parts: values sum to X's
    train, test = split_by_time((users, items, values), t, 0.2)
    _same_entries([train, test], X, disjoint=False)
    assert test.sum() == values[t >= np.sort(t)[400]].sum()
    late = t >= np.sort(t)[400]
    ref_test = sp.csr_array((values[late], (users[late], items[late])), shape=(30, 20))
    assert (test != ref_test).nnz == 0
    train, test = split_by_time((users, items, values), t, 0.5, per_user=True)
    _same_entries([train, test], X, disjoint=False)
    for u in range(30):
        mine = np.flatnonzero(users == u)
        k = int(np.rint(0.5 * mine.size))
        latest = mine[np.argsort(t[mine])][mine.size - k:]
        ref = np.zeros(20)
        np.add.at(ref, items[latest], values[latest])
        assert_allclose(test[[u]].toarray()[0], ref)
    with pytest.raises(ValueError, match="one entry per interaction"):
        split_by_time((users, items, values), t[:10])
    with pytest.raises(TypeError, match="triplet"):
        split_by_time(X, t)


def test_split_users_holds_out_whole_users():
    X, _ = synthetic_implicit(300, 100, 4000, random_state=5)
    train, fold_in, test = split_users(X, 0.2, 0.25, random_state=0)
    _same_entries([train, fold_in, test], X)
    held = np.diff(fold_in.indptr) + np.diff(test.indptr) > 0
    assert not (np.diff(train.indptr)[held] > 0).any()
    assert 50 <= held.sum() <= 60
    counts = np.diff(sp.csr_array(X).indptr)
    many = held & (counts >= 2)
    assert (np.diff(test.indptr)[many] >= 1).all() and (np.diff(fold_in.indptr)[many] >= 1).all()
    # the protocol end to end: fit on train, fold in, rank the held-out items
    model = WALS(8, iterations=3, random_state=0).fit(train)
    rows = np.flatnonzero(held)
    U = model.transform(fold_in[rows])
    m = ranking_metrics((U, model.item_factors_), fold_in[rows], test[rows], K=10)
    assert m["users"] == (np.diff(test.indptr)[rows] > 0).sum()


# ---------------------------------------------------------------- early stopping

def test_validation_keeps_the_best_iteration():
    X, _ = synthetic_implicit(300, 120, 5000, random_state=4)
    train, test = split_random(X, 0.2, random_state=4)
    model = WALS(16, iterations=6, regularization=1e-4, random_state=0)
    model.fit(train, validation=(test, "ndcg", 10))
    history = model.validation_history_
    assert len(history) == 6 and model.n_iter_ == 6
    assert model.best_iteration_ == int(np.argmax(history)) + 1
    kept = ranking_metrics(model, train, test, K=10, metrics="ndcg")["ndcg"]
    assert np.isclose(kept, max(history), rtol=1e-12)
    model.fit(train)  # a fit without validation drops the validation state
    assert not hasattr(model, "validation_history_") and not hasattr(model, "best_iteration_")


def test_patience_stops_and_restores_the_best_factors(monkeypatch):
    import fastwals.metrics as fm
    scripted = iter([0.1, 0.3, 0.2, 0.25, 0.4, 0.5])
    monkeypatch.setattr(fm, "validation_scorer", lambda train, validation: lambda U, V:
                        next(scripted))
    X, _ = synthetic_implicit(100, 50, 1500, random_state=1)
    seen = []
    model = WALS(4, iterations=6, dtype=np.float64, random_state=0,
                 callback=lambda it, s, loss: seen.append(
                     (model.user_factors_.copy(), model.item_factors_.copy())))
    model.fit(X, validation=(X, "recall", 5), patience=2)
    assert model.n_iter_ == 4 and model.best_iteration_ == 2
    assert model.validation_history_ == [0.1, 0.3, 0.2, 0.25]
    assert len(seen) == 4
    assert np.array_equal(model.user_factors_, seen[1][0])
    assert np.array_equal(model.item_factors_, seen[1][1])


def test_validation_errors():
    X, _ = synthetic_implicit(100, 50, 1500, random_state=1)
    model = WALS(4, iterations=1)
    with pytest.raises(TypeError, match=r"validation must be a \(test_matrix, metric, K\)"):
        model.fit(X, validation=X)
    with pytest.raises(ValueError, match="validation metric must be one of"):
        model.fit(X, validation=(X, "recall@10", 10))
    with pytest.raises(ValueError, match="patience needs validation"):
        model.fit(X, patience=3)
    with pytest.raises(ValueError, match="patience must be >= 1"):
        model.fit(X, validation=(split_random(X, 0.2, random_state=0)[1], "ndcg", 10),
                  patience=0)
    with pytest.raises(ValueError, match=r"validation test matrix must have shape \(100, 50\)"):
        model.fit(X, validation=(X[:5], "ndcg", 10))
    with pytest.raises(ValueError, match="validation test matrix has no entries outside X"):
        model.fit(X, validation=(X, "ndcg", 10))
