"""confidence="total": the observed weight alpha·|r|·ρκ replaces w0 (it is not added
to it, and may be below it), the target is 1 for r > 0 and 0 for r < 0 — implicit's
ALS objective when w0 = 1. Every solver against the dense reference, the objective,
and implicit's own pure-Python least squares."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from fastwals import WALS, _problem
from fastwals._validation import check_params
from conftest import prepare, solve_side
from reference import Reference
from test_solve import _both_sweeps, _close, _materialise
from test_solvers import _subspace_sweeps


def signed_ratings(n_users=30, n_items=20, density=0.3, seed=0, low=1.0, high=5.0,
                   empty_rows=(0, 7), empty_cols=(3,)):
    """Dense users × items values of magnitude in [low, high) and random sign, with
    some empty rows and columns."""
    rng = np.random.default_rng(seed)
    R = rng.uniform(low, high, (n_users, n_items)) * rng.choice([-1.0, 1.0], (n_users, n_items))
    R *= rng.random((n_users, n_items)) < density
    R[list(empty_rows), :] = 0
    R[:, list(empty_cols)] = 0
    return R.astype(np.float32).astype(np.float64)  # the same values in either dtype


# every observed weight alpha·|r|·ρκ at least w0 (low = 1, alpha >= 1, w0 <= 1, ρκ >= 1)
ABOVE = {
    "implicit": dict(confidence="total", regularization=0.1, alpha=2.0),
    "w0-half": dict(confidence="total", regularization=0.05, alpha=1.0, unobserved_weight=0.5),
    "w0-zero": dict(confidence="total", regularization=0.3, alpha=1.5, unobserved_weight=0.0),
    "weights-reg-exponent": dict(confidence="total", regularization=0.01, alpha=1.0,
                                 reg_exponent=1.0, row_weights="random", col_weights="random"),
}


def _params(mode, shape):
    params = _materialise(ABOVE[mode], shape)
    for name in ("row_weights", "col_weights"):  # ρ, κ in [1, 3): weights stay above w0
        if name in params:
            params[name] = (1.0 + params[name] / 3.0).astype(np.float32).astype(np.float64)
    return params


def _min_extra(R, params):
    """min over the observations of w − w0."""
    W = Reference(R, **params).W
    return (W - params.get("unobserved_weight", 1.0))[R != 0].min()


@pytest.mark.parametrize("k", [6, 16], ids=["k6-mostly-direct", "k16-mostly-woodbury"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("mode", list(ABOVE))
def test_cholesky_matches_reference_above_w0(mode, dtype, k):
    R = signed_ratings(seed=3)
    params = _params(mode, R.shape)
    assert _min_extra(R, params) >= 0
    (X, X_ref), (Y, Y_ref) = _both_sweeps(R, dtype, params, k=k)
    assert np.abs(X_ref).max() > 0 and np.abs(Y_ref).max() > 0
    _close(X, X_ref, dtype)
    _close(Y, Y_ref, dtype)


def _iterative(R, params, k, seed=4):
    """(cholesky, cg with 3k steps, subspace with 50 passes of 2-blocks, subspace
    with one block of k) from the same start, float64."""
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((R.shape[1], k))
    X0 = rng.standard_normal((R.shape[0], k))
    out = {}
    for solver, extra, passes in (("cholesky", {}, 1), ("cg", dict(cg_steps=3 * k), 1),
                                  ("subspace", dict(block_size=2), 50),
                                  ("subspace", dict(block_size=k), 1)):
        problem = prepare(R, np.float64, factors=k, solver=solver, **params, **extra)
        out[solver, passes] = _subspace_sweeps(problem, X0, Y, passes)
    return out, Reference(R, **params).solve_users(Y)


@pytest.mark.parametrize("mode", list(ABOVE))
def test_iterative_solvers_reach_the_reference_above_w0(mode):
    R = signed_ratings(30, 60, density=0.4, seed=5)
    params = _params(mode, R.shape)
    out, ref = _iterative(R, params, 6)
    atol = 1e-8 * np.abs(ref).max()
    for got in out.values():
        assert_allclose(got, ref, rtol=1e-6, atol=atol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", list(ABOVE))
def test_objective_matches_dense(mode, dtype):
    R = signed_ratings(seed=6)
    params = _params(mode, R.shape)
    problem = prepare(R, dtype, factors=5, **params)
    rng = np.random.default_rng(7)
    X = rng.standard_normal((R.shape[0], 5)).astype(dtype)
    Y = rng.standard_normal((R.shape[1], 5)).astype(dtype)
    want = Reference(R, **params).objective(X, Y)
    # float32: λ and the weights are rounded to the dtype in the problem
    rtol = 1e-12 if dtype == np.float64 else 1e-7
    assert_allclose(_problem.objective(problem, X, Y), want, rtol=rtol)


def _dense_total_objective(R, X, Y, alpha, reg):
    """implicit's objective written out: c = alpha·r, weight |c| and target [c > 0] on
    the stored entries, weight 1 and target 0 elsewhere, λ(‖X‖² + ‖Y‖²)."""
    C = alpha * R
    W = np.where(C != 0, np.abs(C), 1.0)
    P = (C > 0).astype(float)
    return float(np.sum(W * (P - X @ Y.T) ** 2) + reg * (np.sum(X * X) + np.sum(Y * Y)))


def test_objective_is_implicits():
    R = signed_ratings(seed=8, low=0.1, high=3.0)
    problem = prepare(R, np.float64, factors=4, confidence="total", alpha=1.3,
                      regularization=0.2)
    rng = np.random.default_rng(9)
    X = rng.standard_normal((R.shape[0], 4))
    Y = rng.standard_normal((R.shape[1], 4))
    assert_allclose(_problem.objective(problem, X, Y),
                    _dense_total_objective(R, X, Y, 1.3, 0.2), rtol=1e-12)


def _implicit_half_sweeps(R, alpha, reg, k, seed):
    """implicit's pure-Python least_squares for the users from Y, and for the items
    from its users' result: Cui = alpha·R."""
    als = pytest.importorskip("implicit.cpu.als")
    Cui = sp.csr_matrix(alpha * R)
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((R.shape[1], k))
    X = np.zeros((R.shape[0], k))
    als.least_squares(Cui, X, Y, reg)
    Yi = np.zeros_like(Y)
    als.least_squares(Cui.T.tocsr(), Yi, X, reg)
    return Y, X, Yi


def _implicit_case(R, alpha, reg, k, seed):
    Y, X_imp, Y_imp = _implicit_half_sweeps(R, alpha, reg, k, seed)
    problem = prepare(R, np.float64, factors=k, confidence="total", unobserved_weight=1.0,
                      alpha=alpha, regularization=reg)
    X = solve_side(problem, problem.users, Y)
    Yo = solve_side(problem, problem.items, X_imp)
    assert np.abs(X_imp).max() > 0
    assert_allclose(X, X_imp, rtol=1e-8, atol=1e-8 * np.abs(X_imp).max())
    assert_allclose(Yo, Y_imp, rtol=1e-8, atol=1e-8 * np.abs(Y_imp).max())


@pytest.mark.parametrize("k", [6, 16])
def test_cholesky_equals_implicit_least_squares_above_w0(k):
    R = signed_ratings(40, 30, density=0.3, seed=10)
    _implicit_case(R, alpha=2.0, reg=0.1, k=k, seed=11)


def test_fit_runs_and_descends():
    R = signed_ratings(60, 40, density=0.2, seed=12)
    model = WALS(6, confidence="total", unobserved_weight=1.0, alpha=2.0, regularization=0.1,
                 iterations=8, random_state=0, calculate_loss=True, dtype=np.float64).fit(R)
    losses = np.array(model.loss_history_)
    assert np.all(np.diff(losses) <= 1e-10 * losses[:-1])
    want = Reference(R, confidence="total", alpha=2.0, regularization=0.1).objective(
        model.user_factors_, model.item_factors_)
    assert_allclose(losses[-1], want, rtol=1e-10)


@pytest.mark.parametrize("low", [1.0], ids=["above-w0"])
def test_explain(low):
    R = signed_ratings(seed=13, low=low, high=3.0)
    model = WALS(5, confidence="total", alpha=1.0, regularization=0.1, iterations=3,
                 random_state=0, dtype=np.float64).fit(R)
    u = 5
    observed = np.flatnonzero(R[u])
    assert (R[u] < 0).any() and (R[u] > 0).any()
    x = model.recalculate_user(R[u])
    for item in (0, 3, 12):
        score, items, contributions = model.explain(u, R[[u]], item, N=observed.size)
        assert_allclose(score, x @ model.item_factors_[item], rtol=1e-9, atol=1e-12)
        assert sorted(items) == sorted(observed)
        negative = np.isin(items, np.flatnonzero(R[u] < 0))
        assert np.all(contributions[negative] == 0)  # target 0: no contribution


def test_explicit_feedback_is_rejected():
    params = WALS(confidence="total", feedback="explicit").get_params()
    with pytest.raises(ValueError, match=r"confidence='total'.*feedback='explicit'.*"
                                         r"feedback='implicit'"):
        check_params(params)
    with pytest.raises(ValueError, match="confidence='total'"):
        WALS(confidence="total", feedback="explicit").fit(signed_ratings())


def test_negative_values_are_accepted():
    R = signed_ratings(seed=14)
    WALS(4, confidence="total", iterations=1, random_state=0, alpha=2.0).fit(R)
    WALS(4, confidence="total", iterations=1, random_state=0, alpha=2.0).fit(sp.csr_array(R))
