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
from test_solvers import _subspace_sweeps, subspace_pass


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


# every observed weight alpha·|r|·ρκ at least w0 (|r| >= 1, alpha >= 1, w0 <= 1, ρκ >= 1)
ABOVE = {
    "implicit": dict(confidence="total", regularization=0.1, alpha=2.0),
    "w0-half": dict(confidence="total", regularization=0.05, alpha=1.0, unobserved_weight=0.5),
    "w0-zero": dict(confidence="total", regularization=0.3, alpha=1.5, unobserved_weight=0.0),
    "weights-reg-exponent": dict(confidence="total", regularization=0.01, alpha=1.0,
                                 reg_exponent=1.0, row_weights="random", col_weights="random"),
}
# some or all observed weights below w0 (|r| from 0.1): w − w0 < 0
BELOW = {
    "implicit-below": dict(confidence="total", regularization=0.1, alpha=1.0),
    "w0-two": dict(confidence="total", regularization=0.05, alpha=1.0, unobserved_weight=2.0),
    "all-below": dict(confidence="total", regularization=0.1, alpha=0.2),
    "weights-below": dict(confidence="total", regularization=0.1, alpha=0.7, reg_exponent=0.5,
                          row_weights="random", col_weights="random"),
}
MODES = {**ABOVE, **BELOW}


def _case(mode, seed, **shape):
    """(R, params) of a mode: in ABOVE every |r| >= 1 and ρ, κ >= 1, in BELOW |r| >= 0.1."""
    above = mode in ABOVE
    R = signed_ratings(seed=seed, low=1.0 if above else 0.1, **shape)
    params = _materialise(MODES[mode], R.shape)
    for name in ("row_weights", "col_weights"):
        if name in params:  # in the dtype's values; ρ, κ in [1, 2) above w0
            w = 1.0 + params[name] / 3.0 if above else params[name]
            params[name] = w.astype(np.float32).astype(np.float64)
    extra = _min_extra(R, params)
    assert extra >= 0 if above else extra < 0
    if mode == "all-below":
        assert _max_extra(R, params) < 0
    return R, params


def _extras(R, params):
    W = Reference(R, **params).W
    return (W - params.get("unobserved_weight", 1.0))[R != 0]


def _min_extra(R, params):
    """min over the observations of w − w0."""
    return _extras(R, params).min()


def _max_extra(R, params):
    return _extras(R, params).max()


@pytest.mark.parametrize("k", [6, 16], ids=["k6-mostly-direct", "k16-mostly-woodbury"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("mode", list(MODES))
def test_cholesky_matches_reference(mode, dtype, k):
    R, params = _case(mode, seed=3)
    (X, X_ref), (Y, Y_ref) = _both_sweeps(R, dtype, params, k=k)
    assert np.abs(X_ref).max() > 0 and np.abs(Y_ref).max() > 0
    _close(X, X_ref, dtype)
    _close(Y, Y_ref, dtype)


@pytest.mark.parametrize("mode", ["implicit-below", "all-below"])
def test_rows_below_w0_take_the_direct_path_for_short_rows(mode, monkeypatch):
    # every row short enough for the Woodbury shortcut, which the rows with a weight
    # below w0 must leave for the direct solve; the all-direct sweep agrees
    R, params = _case(mode, seed=15, n_users=40, n_items=30, density=0.3, empty_rows=(),
                      empty_cols=())
    k = 24
    problem = prepare(R, np.float64, factors=k, **params)
    assert np.diff(problem.users.indptr).max() <= _problem.dual_rows_limit(k)
    Y = np.random.default_rng(1).standard_normal((R.shape[1], k))
    X = solve_side(problem, problem.users, Y)
    ref = Reference(R, **params).solve_users(Y)
    assert_allclose(X, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
    monkeypatch.setattr(_problem, "dual_rows_limit", lambda k: 0)
    assert_allclose(solve_side(problem, problem.users, Y), X, rtol=1e-9,
                    atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["implicit-below", "weights-below"])
def test_batches_mixing_both_signs(mode, dtype, monkeypatch):
    # long rows in several gather batches of 3, each with weights above and below w0
    monkeypatch.setattr(_problem, "GATHER_BATCH", 3)
    R, params = _case(mode, seed=16, n_users=20, n_items=40, density=0.6, empty_rows=(),
                      empty_cols=())
    (X, X_ref), (Y, Y_ref) = _both_sweeps(R, dtype, params, k=4)
    _close(X, X_ref, dtype)
    _close(Y, Y_ref, dtype)


def _iterative(R, params, k, dtype=np.float64, seed=4):
    """(cholesky, cg with 3k steps, subspace with 60 passes of 2-blocks, subspace
    with one block of k) from the same start, and the reference."""
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((R.shape[1], k))
    X0 = rng.standard_normal((R.shape[0], k))
    out = {}
    for solver, extra, passes in (("cholesky", {}, 1), ("cg", dict(cg_steps=3 * k), 1),
                                  ("subspace", dict(block_size=2), 60),
                                  ("subspace", dict(block_size=k), 1)):
        problem = prepare(R, dtype, factors=k, solver=solver, **params, **extra)
        out[solver, passes] = _subspace_sweeps(problem, X0, Y, passes)
    return out, Reference(R, **params).solve_users(Y)


@pytest.mark.parametrize("mode", list(MODES))
def test_iterative_solvers_reach_the_reference(mode):
    R, params = _case(mode, seed=5, n_users=30, n_items=60, density=0.4)
    out, ref = _iterative(R, params, 6)
    atol = 1e-8 * np.abs(ref).max()
    for got in out.values():
        assert_allclose(got, ref, rtol=1e-6, atol=atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_size", [16, 5])
@pytest.mark.parametrize("in_place", [False, True])
def test_subspace_pass_equals_dense_block_descent(monkeypatch, dtype, block_size, in_place):
    # one pass, block by block, against the dense reference's (as in test_solvers):
    # rows mixing weights above and below w0, short rows (exact only when none is
    # below w0) and, in_place, every row read in place a block at a time
    R, params = _case("implicit-below", seed=18, n_users=40, n_items=120, density=0.45,
                      empty_rows=(), empty_cols=())
    R[:5, 8:] = 0
    R[:2, :8] = np.abs(R[:2, :8]) + 1.0 * (R[:2, :8] != 0)  # two short rows all above w0
    R[2:5, :2] = np.float32([0.25, -0.375])  # and three with weights below it
    k = 40
    X, Q, Y, X0 = subspace_pass(R, params, dtype, k, block_size, in_place, monkeypatch)
    ref = Reference(R, **params)
    below = ((ref.W < 1.0) & (R != 0)).any(axis=1)
    limit = 2 if in_place else _problem.subspace_exact_limit(k, block_size)
    exact = (np.count_nonzero(R, axis=1) <= limit) & ~below
    assert exact.sum() == (0 if in_place else 2) and below[2:5].all()
    expected = ref.block_pass_users(Y @ Q, X0 @ Q, block_size, exact)
    tol = 1e-9 if dtype == np.float64 else 2e-3
    assert_allclose(X, expected, rtol=tol, atol=tol * np.abs(expected).max())


@pytest.mark.parametrize("mode", ["implicit-below", "all-below"])
def test_iterative_solvers_reach_the_reference_float32(mode):
    R, params = _case(mode, seed=5, n_users=30, n_items=60, density=0.4)
    out, ref = _iterative(R, params, 6, dtype=np.float32)
    for got in out.values():
        _close(got, ref, np.float32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", list(MODES))
def test_objective_matches_dense(mode, dtype):
    R, params = _case(mode, seed=6)
    objective_matches_dense(R, params, dtype, 1e-7)


def objective_matches_dense(R, params, dtype, rtol32):
    """_problem.objective of random factors against the reference's sum over every
    entry: 1e-12 relative in float64, rtol32 in float32 (λ and the weights are
    rounded to the dtype in the problem)."""
    problem = prepare(R, dtype, factors=5, **params)
    rng = np.random.default_rng(7)
    X = rng.standard_normal((R.shape[0], 5)).astype(dtype)
    Y = rng.standard_normal((R.shape[1], 5)).astype(dtype)
    want = Reference(R, **params).objective(X, Y)
    rtol = 1e-12 if dtype == np.float64 else rtol32
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
@pytest.mark.parametrize("low,alpha", [(1.0, 2.0), (0.1, 1.0), (0.1, 0.3)],
                         ids=["above-w0", "some-below-w0", "mostly-below-w0"])
def test_cholesky_equals_implicit_least_squares(k, low, alpha):
    # implicit: confidence c = alpha·r, weight |c| (which may be below the unobserved
    # entries' 1), target 1 where c > 0, λ unscaled
    R = signed_ratings(40, 30, density=0.3, seed=10, low=low, high=3.0)
    _implicit_case(R, alpha=alpha, reg=0.1, k=k, seed=11)


@pytest.mark.parametrize("solver", ["cholesky", "subspace"])
def test_a_system_made_indefinite_by_the_subtracted_weights_raises(solver):
    # the kernels trust lam_eig = w0·Λ; given none (zeros) the subtracted weights of
    # row 4, the only one below w0, leave its system λI − Σ (w0 − w) ŷŷᵀ indefinite
    R = signed_ratings(seed=17, low=1.0, high=3.0)
    R[4] = np.where(R[4] != 0, 0.1 * np.sign(R[4]), 0.0)
    k = 6
    problem = prepare(R, np.float64, factors=k, solver=solver, block_size=3,
                      confidence="total", alpha=1.0, regularization=0.01)
    Y = np.random.default_rng(0).standard_normal((R.shape[1], k))
    X = np.zeros((R.shape[0], k))
    with pytest.raises(np.linalg.LinAlgError, match=r"user row 4\b.*not positive definite"):
        _problem.solve_in_basis(problem, problem.users, Y, X, np.zeros(k))
    assert np.isfinite(X).all()


@pytest.mark.parametrize("solver", ["cholesky", "cg", "subspace"])
@pytest.mark.parametrize("low,alpha", [(1.0, 2.0), (0.1, 1.0)], ids=["above-w0", "below-w0"])
def test_fit_descends_to_the_reference_objective(low, alpha, solver):
    R = signed_ratings(60, 40, density=0.2, seed=12, low=low, high=3.0)
    model = WALS(6, confidence="total", unobserved_weight=1.0, alpha=alpha, regularization=0.1,
                 iterations=8, solver=solver, block_size=2, random_state=0, calculate_loss=True,
                 dtype=np.float64).fit(R)
    losses = np.array(model.loss_history_)
    if solver != "cg":  # exact or block-exact steps: never up
        assert np.all(np.diff(losses) <= 1e-10 * losses[:-1])
    assert losses[-1] < losses[0]
    want = Reference(R, confidence="total", alpha=alpha, regularization=0.1).objective(
        model.user_factors_, model.item_factors_)
    assert_allclose(losses[-1], want, rtol=1e-10)


@pytest.mark.parametrize("low", [1.0, 0.1], ids=["above-w0", "below-w0"])
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
