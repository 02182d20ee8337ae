"""Fold-in (transform, recalculate_*, partial_fit_*) and explain against the dense
reference solver, and against the fit itself: folding in the training users
replays the fit's last user half-sweep, up to the fit's rotation of the factors."""

import copy

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from fastwals import WALS
from conftest import random_ratings
from reference import Reference
from test_solve import MODES, _materialise


def fit(R, mode="hkv-default", dtype=np.float64, iterations=4, **extra):
    params = _materialise(MODES[mode], R.shape)
    model = WALS(5, iterations=iterations, dtype=dtype, random_state=0, **params, **extra)
    return model.fit(R), params


def close(got, want, tol=1e-9):
    assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


# ------------------------------------------------------------------ transform

@pytest.mark.parametrize("mode", ["hkv-default", "log-confidence", "w0-zero-implicit",
                                  "explicit-weighted", "als-wr", "reg-exponent-half",
                                  "row-col-weights", "tf-wals-weights"])
def test_transform_matches_reference(mode):
    R = random_ratings(seed=3)
    model, params = fit(R, mode)
    new = random_ratings(12, 20, density=0.3, seed=4, empty_rows=(2, 9), empty_cols=())
    rw = np.random.default_rng(5).uniform(0.2, 3.0, 12) if "row_weights" in params else None
    items_before = model.item_factors_.copy()
    X = model.transform(sp.csr_array(new), row_weights=rw)
    want = Reference(new, **{**params, "row_weights": rw}).solve_users(model.item_factors_)
    assert X.dtype == np.float64 and X.shape == (12, 5)
    close(X, want)
    assert np.all(X[[2, 9]] == 0) and np.all(np.abs(X).sum(axis=1)[[0, 1, 3]] > 0)
    assert_array_equal(model.item_factors_, items_before)  # fixed, not even rotated


def test_transform_float32():
    R = random_ratings(seed=3)
    model, params = fit(R, dtype=np.float32)
    new = random_ratings(6, 20, density=0.4, seed=4, empty_rows=(), empty_cols=())
    X = model.transform(new)
    assert X.dtype == np.float32
    close(X, Reference(new, **params).solve_users(model.item_factors_), tol=1e-4)


@pytest.mark.parametrize("mode", ["hkv-default", "tf-wals-weights", "als-wr"])
def test_fold_in_of_training_users_replays_the_last_iteration(mode):
    """The fit's last user half-sweep solved against the item factors as they
    were after the second-to-last iteration, and then both sides were rotated
    (an orthogonal matrix per half-sweep); folding the training users in against
    those item factors must give the final user factors up to that rotation."""
    R = random_ratings(seed=11)
    params = _materialise(MODES[mode], R.shape)
    items_after = []  # the item factors after each iteration

    def keep(iteration, seconds, loss):
        items_after.append(model.item_factors_.copy())

    model = WALS(5, iterations=6, dtype=np.float64, random_state=0, callback=keep, **params)
    model.fit(R)
    assert len(items_after) == 6
    replay = copy.copy(model)
    replay.item_factors_ = items_after[-2]
    X_fold = replay.transform(R, row_weights=params.get("row_weights"))
    X_final = model.user_factors_
    # the same Gram matrix: X_fold = X_final · (an orthogonal matrix)
    close(X_fold @ X_fold.T, X_final @ X_final.T)
    u, _, vt = np.linalg.svd(X_final.T @ X_fold)
    rotation = u @ vt  # orthogonal Procrustes
    close(X_final @ rotation, X_fold)
    # the last item half-sweep, replayed on the folded-in users, gives the fitted
    # model's scores exactly (scores do not depend on the rotation)
    replay.user_factors_ = X_fold
    replay.partial_fit_items(np.arange(R.shape[1]), R.T)
    close(replay.item_factors_, model.item_factors_ @ rotation)
    close(X_fold @ replay.item_factors_.T, X_final @ model.item_factors_.T)


def test_partial_fit_then_transform_reproduces_the_factors():
    R = random_ratings(seed=3)
    model, _ = fit(R)
    model.partial_fit_users(np.arange(R.shape[0]), R)
    close(model.transform(R), model.user_factors_, tol=1e-12)


# ------------------------------------------------------------------ recalculate

def test_recalculate_user_and_item():
    R = random_ratings(seed=3)
    model, params = fit(R, "tf-wals-weights")
    row = R[4]
    want = model.transform(row[None, :])[0]
    for given in (row, row[None, :], sp.csr_array(R)[4], sp.csr_array(R)[[4]]):
        assert_array_equal(model.recalculate_user(given), want)
    close(model.recalculate_user(row, row_weight=2.5),
          model.transform(row[None, :], row_weights=[2.5])[0], tol=1e-12)
    column = R[:, 6]
    want = Reference(column[:, None], **{**params, "col_weights": [1.7]}).solve_items(
        model.user_factors_)[0]
    close(model.recalculate_item(column, col_weight=1.7), want)
    close(model.recalculate_item(sp.csr_array(R.T)[6], col_weight=1.7), want)


# ------------------------------------------------------------------ partial fit

def test_partial_fit_users_refreshes_only_the_given_rows():
    R = random_ratings(seed=3)
    model, _ = fit(R)
    before_users, before_items = model.user_factors_.copy(), model.item_factors_.copy()
    rows = random_ratings(2, 20, density=0.5, seed=8, empty_rows=(), empty_cols=())
    model.partial_fit_users([10, 3], rows)
    changed = np.zeros(30, bool)
    changed[[3, 10]] = True
    assert_array_equal(model.user_factors_[~changed], before_users[~changed])
    assert_array_equal(model.item_factors_, before_items)
    close(model.user_factors_[[10, 3]], model.transform(rows), tol=1e-12)
    assert not np.allclose(model.user_factors_[changed], before_users[changed])


def test_partial_fit_grows_users_and_their_weights():
    R = random_ratings(seed=3)
    model, params = fit(R, "tf-wals-weights")
    rw = params["row_weights"]
    rows = random_ratings(3, 20, density=0.5, seed=8, empty_rows=(), empty_cols=())
    with pytest.raises(ValueError, match=r"user_ids: new ids must continue the range of the 30 "
                                         r"fitted users \(30, 31, \.\.\.\); got \[30, 32\]"):
        model.partial_fit_users([30, 32, 5], rows)
    assert model.user_factors_.shape == (30, 5)  # the failed call changed nothing
    model.partial_fit_users([31, 5, 30], rows)
    assert model.user_factors_.shape == (32, 5)
    assert_array_equal(model.row_weights, np.concatenate([rw, [1.0, 1.0]]))
    close(model.user_factors_[[31, 5, 30]],
          model.transform(rows, row_weights=[1.0, rw[5], 1.0]), tol=1e-12)
    # the items now see 32 users (and their weights)
    R_grown = np.zeros((32, 20))
    R_grown[:30] = R
    R_grown[[31, 5, 30]] = rows
    items_before = model.item_factors_.copy()
    model.partial_fit_items([20], R_grown[:, [2]].T)
    assert model.item_factors_.shape == (21, 5)
    assert_array_equal(model.item_factors_[:20], items_before)
    assert_array_equal(model.col_weights, np.concatenate([params["col_weights"], [1.0]]))
    want = Reference(R_grown[:, [2]], **{**params, "row_weights": model.row_weights,
                                          "col_weights": [1.0]}).solve_items(model.user_factors_)
    close(model.item_factors_[20], want[0])
    ids, _ = model.recommend(31, None, N=21, filter_already_liked_items=False)
    assert 20 in ids


# ------------------------------------------------------------------ explain

@pytest.mark.parametrize("mode", ["hkv-default", "log-confidence", "explicit-weighted",
                                  "ials-frequency-reg", "tf-wals-weights"])
def test_explain(mode):
    R = random_ratings(seed=3)
    model, params = fit(R, mode)
    u = 5
    observed = np.flatnonzero(R[u])
    rho = None if "row_weights" not in params else params["row_weights"][u]
    x = model.recalculate_user(R[u], row_weight=rho)
    for item in (0, 3, 12):
        score, items, contributions = model.explain(u, R[[u]], item, N=observed.size + 3)
        close(score, x @ model.item_factors_[item], tol=1e-10)
        assert_allclose(contributions.sum(), score, rtol=1e-12, atol=1e-14)
        assert sorted(items) == sorted(observed)
        assert np.all(np.diff(contributions) <= 0)
        for user_items in (sp.csr_array(R), R[u]):
            same = model.explain(u, user_items, item, N=observed.size + 3)
            assert same[0] == score
            assert_array_equal(same[1], items)
            assert_array_equal(same[2], contributions)
        top = model.explain(u, R, item, N=2)
        assert top[0] == score
        assert_array_equal(top[1], items[:2])
        assert_array_equal(top[2], contributions[:2])


# ------------------------------------------------------------------ errors

def test_errors():
    R = random_ratings(seed=3)
    model, _ = fit(R)
    with pytest.raises(ValueError, match=r"transform needs a fitted model"):
        WALS().transform(R)
    with pytest.raises(ValueError, match=r"user_items must have shape \(3, 20\), got \(3, 19\): "
                                         r"one row per id, one column per item of the model "
                                         r"\(in scikit-learn's words, X has 19 features, but "
                                         r"WALS is expecting 20 features as input\)$"):
        model.transform(R[:3, :19])
    with pytest.raises(ValueError, match=r"item_users must have shape \(1, 30\), got \(1, 20\)"):
        model.recalculate_item(R[0])
    with pytest.raises(ValueError, match=r"user_items must have shape \(2, 20\), got \(3, 20\)"):
        model.partial_fit_users([1, 2], R[:3])
    with pytest.raises(ValueError, match=r"user_ids must not repeat an id"):
        model.partial_fit_users([1, 1], R[:2])
    negative = R[:2].copy()
    negative[1, 4] = -1.0
    with pytest.raises(ValueError, match=r"Negative values in data: user_items has 1 value < 0 "
                                         r"\(the first -1\.0 at row 1, column 4\); "
                                         r"confidence='linear' needs"):
        model.transform(negative)
    with pytest.raises(ValueError, match=r"row_weights must have one entry per row of "
                                         r"user_items: expected shape \(2,\), got \(3,\)"):
        model.transform(R[:2], row_weights=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"user_id: id 30 is outside 0\.\.29"):
        model.explain(30, R, 0)
    with pytest.raises(ValueError, match=r"user_items must have shape \(1, 20\) or \(30, 20\)"):
        model.explain(0, R[:2], 0)


def test_partial_fit_with_raw_id_maps_needs_the_new_raw_ids_first(tmp_path):
    from fastwals import IdMap, Interactions
    R = sp.csr_array(random_ratings(30, 20, density=0.3, seed=8))
    data = Interactions(R, IdMap(np.array([f"u{i}" for i in range(30)])),
                        IdMap(np.arange(20) * 10))
    model = WALS(4, iterations=2, random_state=0).fit(data)
    row = sp.csr_array(R[[3]])
    with pytest.raises(ValueError, match=r"give the new users raw ids first: model.user_ids_ = "):
        model.partial_fit_users([30], row)
    assert model.user_factors_.shape == (30, 4)
    model.user_ids_ = model.user_ids_.extend(["newcomer"])
    model.partial_fit_users(model.user_ids_.index(["newcomer"]), row)
    assert model.user_factors_.shape == (31, 4)
    assert_allclose(model.user_factors_[30], model.transform(row)[0])
    model.save(tmp_path / "m.npz")
    assert list(WALS.load(tmp_path / "m.npz").user_ids_.raw([30])) == ["newcomer"]
