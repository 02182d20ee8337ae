"""Each half-sweep of the Cholesky kernel against the dense reference."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_allclose

from fastwals import _problem
from fastwals._kernels.solve import SMALL_ORDER
from conftest import prepare, random_ratings, solve_side
from reference import Reference

MODES = {
    "hkv-default": dict(regularization=0.1),
    "log-confidence": dict(regularization=0.1, confidence="log", epsilon=0.5, alpha=2.0),
    "constant-confidence": dict(regularization=0.2, confidence="constant", alpha=3.0),
    "w0-zero-implicit": dict(regularization=0.3, unobserved_weight=0.0),
    "w0-small": dict(regularization=0.05, unobserved_weight=0.1, alpha=4.0),
    "explicit-spark": dict(regularization=0.1, feedback="explicit", unobserved_weight=0.0,
                           confidence="constant"),
    "explicit-weighted": dict(regularization=0.1, feedback="explicit", unobserved_weight=0.5),
    "ials-frequency-reg": dict(regularization=0.01, reg_exponent=1.0),
    "als-wr": dict(regularization=0.05, reg_exponent=1.0, unobserved_weight=0.0),
    "reg-exponent-half": dict(regularization=0.1, reg_exponent=0.5, unobserved_weight=0.3),
    "row-col-weights": dict(regularization=0.1, row_weights="random", col_weights="random"),
    "tf-wals-weights": dict(regularization=0.1, unobserved_weight=0.2, confidence="constant",
                            row_weights="random", col_weights="random"),
}

TOL = {np.float64: 1e-8, np.float32: 1e-4}


def _materialise(params, shape, seed=1):
    rng = np.random.default_rng(seed)
    out = dict(params)
    if out.get("row_weights") == "random":
        out["row_weights"] = rng.uniform(0.2, 3.0, shape[0])
    if out.get("col_weights") == "random":
        out["col_weights"] = rng.uniform(0.2, 3.0, shape[1])
    return out


def _both_sweeps(R, dtype, params, k=6, seed=2):
    problem = prepare(R, dtype, factors=k, **params)
    ref = Reference(R, **params)
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((R.shape[1], k)).astype(dtype)
    X = solve_side(problem, problem.users, Y)
    X_ref = ref.solve_users(Y)
    # the item sweep from the reference's X, so each sweep is tested on its own
    Xi = X_ref.astype(dtype)
    Yo = solve_side(problem, problem.items, Xi)
    Y_ref = ref.solve_items(Xi)
    return (X, X_ref), (Yo, Y_ref)


def _close(fast, ref, dtype):
    tol = TOL[dtype]
    assert_allclose(fast, ref, rtol=tol, atol=tol * np.abs(ref).max())


@pytest.mark.parametrize("k", [6, 16], ids=["k6-mostly-direct", "k16-mostly-woodbury"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("mode", list(MODES))
def test_half_sweeps_match_reference(mode, dtype, k):
    # rows with at most _problem.dual_rows_limit(k) observations (2 for k=6, 13 for
    # k=16) take the Woodbury shortcut, the others the direct Cholesky path
    R = random_ratings(seed=3)
    params = _materialise(MODES[mode], R.shape)
    (X, X_ref), (Y, Y_ref) = _both_sweeps(R, dtype, params, k=k)
    assert np.abs(X_ref).max() > 0 and np.abs(Y_ref).max() > 0
    _close(X, X_ref, dtype)
    _close(Y, Y_ref, dtype)


@pytest.mark.parametrize("k, n_items, density", [(24, 30, 0.3), (48, 45, 0.85)],
                         ids=["small-systems", "tiled-systems"])
@pytest.mark.parametrize("mode", ["hkv-default", "ials-frequency-reg", "tf-wals-weights"])
def test_woodbury_shortcut_equals_direct_path(mode, k, n_items, density, monkeypatch):
    # rows of more than solve.SMALL_ORDER (32) observations form and solve their
    # Woodbury system with the tile kernels (spd.py), shorter ones with plain loops
    R = random_ratings(40, n_items, density=density, seed=6, empty_rows=(), empty_cols=())
    params = _materialise(MODES[mode], R.shape)
    Y = np.random.default_rng(1).standard_normal((R.shape[1], k))
    problem = prepare(R, np.float64, factors=k, **params)
    counts = np.diff(problem.users.indptr)
    assert counts.max() <= _problem.dual_rows_limit(k)
    if k == 48:
        assert counts.min() > SMALL_ORDER
    shortcut = solve_side(problem, problem.users, Y)
    monkeypatch.setattr(_problem, "dual_rows_limit", lambda k: 0)
    direct = solve_side(problem, problem.users, Y)
    assert not np.array_equal(shortcut, direct)  # different arithmetic ...
    assert_allclose(shortcut, direct, rtol=1e-9, atol=1e-12)  # ... same answer
    _close(shortcut, Reference(R, **params).solve_users(Y), np.float64)


def test_empty_rows_and_columns_get_zero_factors():
    R = random_ratings(seed=4)
    (X, _), (Y, _) = _both_sweeps(R, np.float64, dict(regularization=0.1))
    assert np.all(X[[0, 7]] == 0) and np.all(Y[3] == 0)
    assert np.all(np.abs(X[1:7]).sum(axis=1) > 0)


def test_int64_indices_give_the_same_factors():
    R = random_ratings(seed=5)
    p32 = prepare(R, np.float64, factors=5, regularization=0.1)
    p64 = prepare(R, np.float64, factors=5, regularization=0.1)
    for side in (p64.users, p64.items):
        side.indptr = side.indptr.astype(np.int64)
        side.indices = side.indices.astype(np.int64)
    assert p32.users.indices.dtype == np.int32
    Y = np.random.default_rng(0).standard_normal((R.shape[1], 5))
    assert np.array_equal(solve_side(p32, p32.users, Y), solve_side(p64, p64.users, Y))


def test_cholesky_failure_names_the_row():
    R = np.zeros((5, 8))
    R[1, :6] = 1.0   # enough observations
    R[2, 3] = 1.0    # rank-1 system with k=4, w0=0, λ=0: singular
    problem = prepare(R, np.float64, factors=4, regularization=0.0, unobserved_weight=0.0)
    Y = np.random.default_rng(0).standard_normal((8, 4))
    X = np.empty((5, 4))
    with pytest.raises(np.linalg.LinAlgError, match=r"user row 2\b.*Raise `regularization`"):
        _problem.half_sweep(problem, problem.users, Y, X)


@settings(max_examples=25, deadline=None)
@given(n_users=st.integers(1, 25), n_items=st.integers(1, 25), k=st.integers(1, 9),
       density=st.floats(0.0, 1.0), seed=st.integers(0, 2**16),
       w0=st.sampled_from([0.0, 0.5, 1.0]), reg=st.floats(0.05, 5.0))
def test_user_sweep_matches_reference_on_random_shapes(n_users, n_items, k, density, seed, w0,
                                                        reg):
    R = random_ratings(n_users, n_items, density, seed, empty_rows=(), empty_cols=())
    params = dict(regularization=reg, unobserved_weight=w0)
    problem = prepare(R, np.float64, factors=k, **params) if R.any() else None
    if problem is None:
        return  # an all-zero matrix is rejected; tested in test_validation
    Y = np.random.default_rng(seed).standard_normal((n_items, k))
    X = solve_side(problem, problem.users, Y)
    _close(X, Reference(R, **params).solve_users(Y), np.float64)
