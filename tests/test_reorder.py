"""The item half-sweep's gather order (_kernels/reorder.py, _problem.gather_order).

Past GATHER_ORDER_BYTES of user factors, the item orientation labels users by
decreasing activity and the item half-sweep gathers from the user factors moved
into that order. Only the order of each item row's observations changes (and so
the rounding of its sums): lowering the threshold to 0 (and allowing every
solver) sends small data down the reordered path, which must give the plain path's fit to rounding, in every
solver, with every kind of weight, and leave the factors in their own order.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from fastwals import WALS, _counting, _problem, _validation
from fastwals._kernels.reorder import permute_rows
from fastwals._validation import SOLVERS, as_csr

from conftest import random_ratings


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
@pytest.mark.parametrize("relabel", [False, True], ids=["as-they-are", "in-order"])
def test_transpose_is_the_relabeled_transpose_with_sorted_rows(monkeypatch, threads, relabel):
    """Any number of parts (more threads than rows with entries too) gives scipy's
    transpose of the relabeled rows, every row's entries in increasing order."""
    monkeypatch.setattr(_counting, "MIN_PER_THREAD", 1)
    R = as_csr(random_ratings(seed=3))
    n_users, n_items = R.shape
    order = np.random.default_rng(0).permutation(n_users) if relabel else None
    for index in (np.int32, np.int64):
        indptr, indices, values = _problem.transpose(R, order, np.dtype(index), threads)
        assert indptr.dtype == indices.dtype == index and values.dtype == R.dtype
        got = sp.csr_array((values, indices, indptr), shape=(n_items, n_users))
        assert got.has_sorted_indices
        assert_array_equal(got.toarray(), R.toarray()[order if relabel else slice(None)].T)
    empty = sp.csr_array((3, 4), dtype=np.float32)
    indptr, indices, _ = _problem.transpose(empty, None, np.dtype(np.int32), threads)
    assert_array_equal(indptr, np.zeros(5)) and indices.size == 0


def test_permute_rows_in_place_and_back():
    rng = np.random.default_rng(1)
    M = rng.standard_normal((1000, 7)).astype(np.float32)
    for order in (rng.permutation(1000), np.arange(1000), np.roll(np.arange(1000), 1)):
        P = M.copy()
        permute_rows(P, order, False)
        assert_array_equal(P, M[order])
        permute_rows(P, order, True)
        assert_array_equal(P, M)
        undone = np.empty_like(M)
        undone[order] = M
        permute_rows(P, order, True)
        assert_array_equal(P, undone)


def test_large_user_factors_get_users_by_activity_in_cg():
    counts = np.array([3, 9, 1, 9, 0])
    assert _problem.gather_order(counts, 4, 4, "cg") is None  # 80 bytes: fits in the cache
    big = np.resize(counts, _problem.GATHER_ORDER_BYTES // (4 * 4) + 1)
    order = _problem.gather_order(big, 4, 4, "cg")
    assert_array_equal(order[:4], [1, 3, 6, 8])  # the most active first, ties in user order
    assert _problem.gather_order(big, 4, 4, "cholesky") is None  # measured: no gain


@pytest.fixture
def reordered(monkeypatch):
    """The reordered path for any size and solver."""
    monkeypatch.setattr(_problem, "GATHER_ORDER_BYTES", 0)
    monkeypatch.setattr(_problem, "GATHER_ORDER_SOLVERS", SOLVERS)


def _fit(R, solver, **kw):
    return WALS(6, iterations=3, solver=solver, random_state=0, calculate_loss=True,
                dtype=np.float64, **kw).fit(R)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("weights", ["plain", "weighted"])
def test_reordered_fit_equals_the_plain_one(solver, weights, request):
    R = sp.csr_array(random_ratings(seed=2))
    n_users, n_items = R.shape
    kw = {}
    if weights == "weighted":
        rng = np.random.default_rng(4)
        kw = dict(row_weights=rng.uniform(0.5, 2, n_users), col_weights=rng.uniform(0.5, 2, n_items),
                  unobserved_row_weights="popularity", unobserved_col_weights="popularity",
                  confidence="total")
    plain = _fit(R, solver, **kw)
    request.getfixturevalue("reordered")
    problem = _problem.build(as_csr(R), plain.get_params() | {"dtype": np.float64},
                             np.ones(n_users), np.ones(n_items))
    assert problem.items.gather_order is not None  # the reordered path is taken
    moved = _fit(R, solver, **kw)
    assert_allclose(moved.user_factors_, plain.user_factors_, rtol=1e-7, atol=1e-10)
    assert_allclose(moved.item_factors_, plain.item_factors_, rtol=1e-7, atol=1e-10)
    assert_allclose(moved.loss_history_, plain.loss_history_, rtol=1e-10)


def test_a_failed_half_sweep_puts_the_user_factors_back(reordered, monkeypatch):
    R = as_csr(random_ratings(seed=2))
    model = WALS(4, iterations=1, random_state=0)
    problem = _problem.build(R, model.get_params() | {"dtype": np.float32},
                             np.ones(R.shape[0], np.float32), np.ones(R.shape[1], np.float32))
    X = np.random.default_rng(0).standard_normal((R.shape[0], 4)).astype(np.float32)
    Y = np.zeros((R.shape[1], 4), np.float32)
    before = X.copy()

    def broken(*args):
        raise FloatingPointError("injected")
    monkeypatch.setattr(_problem, "solve_in_basis", broken)
    monkeypatch.setattr(_problem, "rotate_rows", lambda M, Q: None)  # keep X's basis
    with pytest.raises(FloatingPointError, match="injected"):
        _problem.half_sweep(problem, problem.items, X, Y)
    assert_array_equal(X, before)


def test_reordered_int64_indices_give_the_int32_fit(reordered, monkeypatch):
    R = sp.csr_array(random_ratings(seed=5))
    narrow = _fit(R, "cg")
    monkeypatch.setattr(_validation, "INT32_LIMIT", 0)
    assert _problem.build(as_csr(R), narrow.get_params() | {"dtype": np.float64},
                          np.ones(R.shape[0]), np.ones(R.shape[1])).items.indices.dtype == np.int64
    wide = _fit(R, "cg")
    assert_array_equal(wide.user_factors_, narrow.user_factors_)
    assert_array_equal(wide.item_factors_, narrow.item_factors_)


def test_implicit_compatible_cg_fit_is_the_same_reordered(monkeypatch):
    """fastwals.implicit's CG fit keeps its factors as the caller's arrays: they
    are moved and put back in place at every item half-sweep."""
    from fastwals.implicit import AlternatingLeastSquares
    R = sp.csr_matrix(random_ratings(seed=6))

    def fit():
        model = AlternatingLeastSquares(factors=5, iterations=3, use_cg=True, dtype=np.float64,
                                        random_state=0)
        model.fit(R, show_progress=False)
        return model
    plain = fit()
    monkeypatch.setattr(_problem, "GATHER_ORDER_BYTES", 0)
    moved = fit()
    assert_allclose(moved.user_factors, plain.user_factors, rtol=1e-7, atol=1e-10)
    assert_allclose(moved.item_factors, plain.item_factors, rtol=1e-7, atol=1e-10)
