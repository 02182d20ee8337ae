"""Non-uniform weights on the unobserved entries (eALS, He et al. 2016): w0·a_u·b_i
with a = unobserved_row_weights, b = unobserved_col_weights. Every solver against
the dense reference (which builds the full users × items weight matrix), the
objective, the default's exact arithmetic, the "popularity" rule, fold-in,
explain, saving and validation."""

import pickle

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from fastwals import WALS, _problem
from conftest import prepare, random_ratings, solve_side
from reference import Reference
from test_solve import _both_sweeps, _close, _materialise
from test_solvers import subspace_pass
from test_total_confidence import _iterative, objective_matches_dense, signed_ratings

# confidence and feedback modes, crossed with the kinds of unobserved weights below
MODES = {
    "hkv": dict(regularization=0.1),
    "log": dict(regularization=0.1, confidence="log", epsilon=0.5, alpha=2.0),
    "constant-w0-half": dict(regularization=0.2, confidence="constant", alpha=3.0,
                             unobserved_weight=0.5),
    "explicit": dict(regularization=0.1, feedback="explicit", unobserved_weight=0.5),
    "reg-exponent-weights": dict(regularization=0.05, reg_exponent=1.0, row_weights="random",
                                 col_weights="random"),
    "total": dict(confidence="total", regularization=0.1, alpha=1.0),
}
# (unobserved_row_weights, unobserved_col_weights, unobserved_exponent): "random" are
# uniform in [0.2, 3) with some zeros
WEIGHTS = {
    "random-both": ("random", "random", 0.5),
    "items-popularity": (None, "popularity", 0.5),
    "both-popularity": ("popularity", "popularity", 0.8),
    "items-rare": (None, "popularity", -0.5),  # the rarest items weigh most
    "users-random": ("random", None, 0.5),
}


def _random_weights(rng, n):
    w = rng.uniform(0.2, 3.0, n)
    w[rng.choice(n, max(1, n // 6), replace=False)] = 0.0
    return w.astype(np.float32).astype(np.float64)  # the same values in either dtype


def _case(mode, weights, seed=3, **shape):
    """(R, params): signed values for confidence "total", positive ratings otherwise."""
    if MODES[mode].get("confidence") == "total":
        R = signed_ratings(seed=seed, low=0.1, **shape)
    else:
        R = random_ratings(seed=seed, **shape)
    params = _materialise(MODES[mode], R.shape, seed=seed)
    rng = np.random.default_rng(seed + 100)
    rows, cols, exponent = WEIGHTS[weights]
    params["unobserved_row_weights"] = _random_weights(rng, R.shape[0]) if rows == "random" \
        else rows
    params["unobserved_col_weights"] = _random_weights(rng, R.shape[1]) if cols == "random" \
        else cols
    params["unobserved_exponent"] = exponent
    return R, params


# ------------------------------------------------------------------ the exact solver

@pytest.mark.parametrize("k", [6, 16], ids=["k6-mostly-direct", "k16-mostly-woodbury"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("weights", list(WEIGHTS))
@pytest.mark.parametrize("mode", list(MODES))
def test_cholesky_matches_reference(mode, weights, dtype, k):
    R, params = _case(mode, weights)
    (X, X_ref), (Y, Y_ref) = _both_sweeps(R, dtype, params, k=k)
    assert np.abs(X_ref).max() > 0 and np.abs(Y_ref).max() > 0
    _close(X, X_ref, dtype)
    _close(Y, Y_ref, dtype)


def test_the_reference_weights_are_the_documented_ones():
    # the reference's own W: w0·a_u·b_i off the observations, plus alpha·r on them
    R, params = _case("constant-w0-half", "random-both")
    ref = Reference(R, **params)
    a, b = params["unobserved_row_weights"], params["unobserved_col_weights"]
    expected = 0.5 * np.outer(a, b) + 3.0 * (R != 0)
    assert_allclose(ref.W, expected, rtol=1e-15)
    assert (a == 0).any() and (b == 0).any()


@pytest.mark.parametrize("mode", ["hkv", "total"])
def test_woodbury_shortcut_equals_direct_path(mode, monkeypatch):
    R, params = _case(mode, "random-both", seed=6, n_users=40, n_items=30, density=0.3,
                      empty_rows=(), empty_cols=())
    k = 24
    Y = np.random.default_rng(1).standard_normal((R.shape[1], k))
    problem = prepare(R, np.float64, factors=k, **params)
    assert np.diff(problem.users.indptr).max() <= _problem.dual_rows_limit(k)
    shortcut = solve_side(problem, problem.users, Y)
    ref = Reference(R, **params).solve_users(Y)
    assert_allclose(shortcut, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
    monkeypatch.setattr(_problem, "dual_rows_limit", lambda k: 0)
    direct = solve_side(problem, problem.users, Y)
    assert_allclose(shortcut, direct, rtol=1e-9, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_long_rows_in_several_gather_batches(dtype, monkeypatch):
    monkeypatch.setattr(_problem, "GATHER_BATCH", 3)
    R, params = _case("total", "random-both", seed=16, n_users=20, n_items=40, density=0.6,
                      empty_rows=(), empty_cols=())
    (X, X_ref), (Y, Y_ref) = _both_sweeps(R, dtype, params, k=4)
    _close(X, X_ref, dtype)
    _close(Y, Y_ref, dtype)


def test_weighted_gramian_in_several_blocks(monkeypatch):
    # more rows than one Gramian block and one scratch batch of the weighted kernel
    monkeypatch.setattr(_problem, "GRAM_BLOCK", 7)
    monkeypatch.setattr(_problem, "GATHER_BATCH", 3)
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((50, 5))
    b = _random_weights(rng, 50)
    assert_allclose(_problem.gramian(Y, 1.0, b), (Y.T * b) @ Y, rtol=1e-12, atol=1e-12)
    assert_array_equal(_problem.gramian(Y, 0.0, b), np.zeros((5, 5)))


# ------------------------------------------------------------------ CG and subspace

@pytest.mark.parametrize("weights", list(WEIGHTS))
@pytest.mark.parametrize("mode", list(MODES))
def test_iterative_solvers_reach_the_reference(mode, weights):
    # rows of ~24 observations for k = 6 (block descent converges slowly on the
    # ill-conditioned systems of shorter rows without unobserved weight, a_u = 0)
    R, params = _case(mode, weights, seed=5, n_users=30, n_items=60, density=0.4)
    out, ref = _iterative(R, params, 6)
    for got in out.values():
        assert_allclose(got, ref, rtol=1e-6, atol=1e-8 * np.abs(ref).max())
    assert np.all(out["cg", 1][[0, 7]] == 0)  # empty rows: exact zero


@pytest.mark.parametrize("mode", ["hkv", "total"])
def test_iterative_solvers_reach_the_reference_float32(mode):
    R, params = _case(mode, "random-both", seed=5, n_users=30, n_items=60, density=0.4)
    out, ref = _iterative(R, params, 6, dtype=np.float32)
    for got in out.values():
        _close(got, ref, np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_size", [16, 5])
@pytest.mark.parametrize("in_place", [False, True])
@pytest.mark.parametrize("mode", ["hkv", "total"])
def test_subspace_pass_equals_dense_block_descent(monkeypatch, mode, dtype, block_size,
                                                  in_place):
    # one pass, block by block, against the reference's; short rows (solved exactly
    # when gathered, unless some weight is below its unobserved one) and, in_place,
    # every row read in place a block at a time
    R, params = _case(mode, "random-both", seed=18, n_users=40, n_items=120, density=0.45,
                      empty_rows=(), empty_cols=())
    R[:5, 8:] = 0
    k = 40
    X, Q, Y, X0 = subspace_pass(R, params, dtype, k, block_size, in_place, monkeypatch)
    ref = Reference(R, **params)
    unobserved = params.get("unobserved_weight", 1.0) * np.outer(ref.a, ref.b)  # w0·a_u·b_i
    below = ((ref.W < unobserved) & (R != 0)).any(axis=1)
    limit = 2 if in_place else _problem.subspace_exact_limit(k, block_size)
    exact = (np.count_nonzero(R, axis=1) <= limit) & ~below
    # ... and only while the Woodbury system's ‖W‖² is within bounds (float32: rows of
    # small a_u, so small d = w0·a_u·Λ + λ, take the blocks)
    Yh = Y @ Q
    w0 = params.get("unobserved_weight", 1.0)
    d = w0 * np.outer(ref.a, np.diag(Q.T @ ((Y.T * ref.b) @ Y) @ Q)) + ref.lam_users[:, None]
    norms = np.array([np.sum(((ref.W[u] - unobserved[u]) * (R[u] != 0)) @ (Yh**2 / d[u]))
                      for u in range(R.shape[0])])
    exact &= norms <= _problem.DUAL_NORM_BOUND[dtype]
    if not in_place:  # short rows solved exactly, and (total) short rows that cannot be
        assert exact[:5].any() and (mode == "hkv" or (below[:5] & ~exact[:5]).any())
    expected = ref.block_pass_users(Y @ Q, X0 @ Q, block_size, exact)
    tol = 1e-9 if dtype == np.float64 else 2e-3
    assert_allclose(X, expected, rtol=tol, atol=tol * np.abs(expected).max())


@pytest.mark.parametrize("solver", ["cholesky", "cg", "subspace"])
@pytest.mark.parametrize("mode", ["hkv", "total"])
def test_fit_descends_to_the_reference_objective(mode, solver):
    R, params = _case(mode, "both-popularity", seed=12, n_users=60, n_items=40, density=0.2)
    model = WALS(6, iterations=8, solver=solver, block_size=2, random_state=0,
                 calculate_loss=True, dtype=np.float64, **params).fit(R)
    losses = np.array(model.loss_history_)
    if solver != "cg":  # exact or block-exact steps: never up
        assert np.all(np.diff(losses) <= 1e-10 * losses[:-1])
    assert losses[-1] < losses[0]
    want = Reference(R, **params).objective(model.user_factors_, model.item_factors_)
    assert_allclose(losses[-1], want, rtol=1e-10)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
@pytest.mark.parametrize("solver", ["cholesky", "cg", "subspace"])
def test_one_and_two_threads_give_identical_factors(solver):
    R, params = _case("hkv", "random-both", seed=26, n_users=60, n_items=40, density=0.3)
    fits = [WALS(8, iterations=3, solver=solver, block_size=3, random_state=3, n_threads=n,
                 **params).fit(sp.csr_array(R)) for n in (1, 2)]
    assert_array_equal(fits[0].user_factors_, fits[1].user_factors_)
    assert_array_equal(fits[0].item_factors_, fits[1].item_factors_)


# ------------------------------------------------------------------ the objective

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weights", list(WEIGHTS))
@pytest.mark.parametrize("mode", list(MODES))
def test_objective_matches_dense(mode, weights, dtype):
    # Σ_obs [w (t − p)² − w0 a_u b_i p²] + w0·⟨Xᵀ diag(a) X, Yᵀ diag(b) Y⟩ + λ terms
    # against the reference's sum over every entry of the full weight matrix
    R, params = _case(mode, weights, seed=6)
    objective_matches_dense(R, params, dtype, 1e-6)


# ------------------------------------------------------------------ the default

@pytest.mark.parametrize("solver", ["cholesky", "cg", "subspace"])
@pytest.mark.parametrize("confidence", ["linear", "total"])
def test_all_ones_is_the_default_to_the_bit(solver, confidence):
    # None, arrays of ones and "popularity" with exponent 0 (all ones too) fit the same
    # model to the bit: all ones take the default's arithmetic (and its plain Gramian)
    R = sp.csr_array(signed_ratings(60, 40, density=0.2, seed=9) if confidence == "total"
                     else random_ratings(60, 40, density=0.2, seed=9))
    common = dict(iterations=3, solver=solver, confidence=confidence, block_size=3,
                  random_state=0, regularization=0.1, reg_exponent=0.5, calculate_loss=True)
    fits = [WALS(8, **common).fit(R),
            WALS(8, unobserved_row_weights=np.ones(60), unobserved_col_weights=[1] * 40,
                 **common).fit(R),
            WALS(8, unobserved_row_weights="popularity", unobserved_col_weights="popularity",
                 unobserved_exponent=0.0, **common).fit(R)]
    for f in fits[1:]:
        assert_array_equal(f.user_factors_, fits[0].user_factors_)
        assert_array_equal(f.item_factors_, fits[0].item_factors_)
        assert f.loss_history_ == fits[0].loss_history_
    assert fits[0].unobserved_row_weights_ is None and fits[0].unobserved_col_weights_ is None
    assert_array_equal(fits[2].unobserved_col_weights_, np.ones(40))


@pytest.mark.parametrize("solver", ["cholesky", "cg", "subspace"])
def test_the_kernels_read_no_weights_as_ones(solver):
    # given the same basis, weights of ones in the kernels give the bits of no
    # weights (empty arrays, which the kernels do not read)
    R, params = _case("total", "random-both", seed=2)
    problem = prepare(R, np.float64, factors=6, solver=solver, block_size=2, **params)
    side = problem.users
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((R.shape[1], 6))
    Q, lam = _problem.eigenbasis(_problem.gramian(Y, 1.0), 1.0, np.float64)
    Y = Y @ Q
    X0 = rng.standard_normal((R.shape[0], 6))  # the iterative solvers' start
    out = []
    for ones in (False, True):
        side.row_unobserved = np.ones(side.n_rows) if ones else None
        side.col_unobserved = np.ones(R.shape[1]) if ones else None
        X = X0.copy()
        _problem.solve_in_basis(problem, side, Y.copy(), X, lam)
        out.append(X)
    assert_array_equal(out[0], out[1])
    assert np.abs(out[0]).max() > 0


# ------------------------------------------------------------------ "popularity"

def test_popularity_weights_are_counts_to_the_exponent_normalised_to_mean_one():
    R = random_ratings(30, 20, density=0.3, seed=4)  # row 0, 7 and column 3 empty
    R[5, 2] = 0.0  # an explicit zero is not an entry
    X = sp.csr_array(R)
    X.data[0] = 0.0  # a stored zero is not counted either
    counted = X.copy()
    counted.eliminate_zeros()
    model = WALS(4, iterations=1, unobserved_row_weights="popularity",
                 unobserved_col_weights="popularity", unobserved_exponent=0.75,
                 random_state=0).fit(X)
    for got, counts in ((model.unobserved_row_weights_, np.diff(counted.indptr)),
                        (model.unobserved_col_weights_, np.diff(counted.tocsc().indptr))):
        raw = counts.astype(np.float64) ** 0.75
        assert got.dtype == np.float64
        assert_allclose(got, raw / raw.mean(), rtol=1e-15)
        assert_allclose(got.mean(), 1.0, rtol=1e-15)
    assert model.unobserved_row_weights_[0] == 0 and model.unobserved_col_weights_[3] == 0


def test_a_negative_exponent_weighs_the_rare_rows_most_and_empty_ones_zero():
    R = random_ratings(30, 20, density=0.3, seed=4)  # row 0, 7 and column 3 empty
    model = WALS(4, iterations=1, unobserved_col_weights="popularity",
                 unobserved_exponent=-0.5, random_state=0).fit(R)
    counts = np.diff(sp.csc_array(R).indptr)
    raw = np.where(counts > 0, np.maximum(counts, 1) ** -0.5, 0.0)
    assert_allclose(model.unobserved_col_weights_, raw / raw.mean(), rtol=1e-15)
    assert model.unobserved_col_weights_[3] == 0
    assert np.isfinite(model.item_factors_).all()


def test_popularity_items_only_leaves_the_users_at_one():
    R = random_ratings(seed=4)
    model = WALS(4, iterations=1, unobserved_col_weights="popularity", random_state=0).fit(R)
    assert model.unobserved_row_weights_ is None
    assert model.unobserved_col_weights_.shape == (20,)
    fitted = WALS(4, iterations=1, unobserved_col_weights=model.unobserved_col_weights_,
                  random_state=0).fit(R)
    # the same weights given as an array: the same model
    assert_array_equal(fitted.item_factors_, model.item_factors_)


# ------------------------------------------------------------------ fold-in and explain

def _fitted(mode="hkv", weights="random-both", **extra):
    R, params = _case(mode, weights, seed=3)
    model = WALS(5, iterations=4, dtype=np.float64, random_state=0, **params, **extra).fit(R)
    return model, R, params


def _with(params, a, b):
    """params with these unobserved weights (None: ones) as arrays."""
    return {**params, "unobserved_row_weights": a, "unobserved_col_weights": b}


def close(got, want, tol=1e-9):
    assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("weights", ["random-both", "both-popularity"])
@pytest.mark.parametrize("mode", ["hkv", "total", "reg-exponent-weights"])
def test_transform_folds_in_against_the_fits_item_weights_with_a_one(mode, weights):
    model, R, params = _fitted(mode, weights)
    b = model.unobserved_col_weights_
    if weights == "both-popularity":
        assert_allclose(b, Reference(R, **params).b, rtol=1e-14)  # the fit's, from its X
    new = R[[1, 2, 4, 0]] * (np.arange(20) % 3 != 0)  # other rows, and an empty one
    X = model.transform(new)
    # the new rows' own a is 1 (and their row weights); λ with a·Σb (reg_exponent)
    want = Reference(new, **{**_with(params, None, b), "row_weights": None}).solve_users(
        model.item_factors_)
    close(X, want)
    assert np.all(X[3] == 0)


def test_recalculate_item_uses_the_fits_user_weights():
    model, R, params = _fitted("log")
    column = R[:, 6]
    want = Reference(column[:, None], **_with(params, model.unobserved_row_weights_, None)
                     ).solve_items(model.user_factors_)[0]
    close(model.recalculate_item(column), want)


@pytest.mark.parametrize("weights", ["random-both", "items-popularity"])
def test_partial_fit_keeps_the_fits_weights_and_gives_new_rows_one(weights):
    model, R, params = _fitted("hkv", weights)
    a_fit = model.unobserved_row_weights_
    a = np.ones(30) if a_fit is None else a_fit
    b = model.unobserved_col_weights_
    rows = random_ratings(3, 20, density=0.5, seed=8, empty_rows=(), empty_cols=())
    model.partial_fit_users([31, 5, 30], rows)
    # user 5 keeps its a_5; the new users 30 and 31 weigh 1
    R_grown = np.zeros((32, 20))
    R_grown[:30] = R
    R_grown[[31, 5, 30]] = rows
    grown = np.r_[a, 1.0, 1.0]
    want = Reference(R_grown, **_with(params, grown, b)).solve_users(model.item_factors_)
    close(model.user_factors_[[31, 5, 30]], want[[31, 5, 30]])
    if a_fit is None:
        assert model.unobserved_row_weights_ is None
    else:
        assert_array_equal(model.unobserved_row_weights_, grown)
        assert_array_equal(model.unobserved_row_weights, grown)  # an array param grows too
    # an item added against the grown users: their a as the fit's, the new ones 1
    model.partial_fit_items([20], R_grown[:, [2]].T)
    want = Reference(R_grown[:, [2]], **_with(params, None if a_fit is None else grown, None)
                     ).solve_items(model.user_factors_)
    close(model.item_factors_[20], want[0])
    assert model.unobserved_col_weights_.shape == (21,) and model.unobserved_col_weights_[20] == 1
    if weights == "items-popularity":
        assert model.unobserved_col_weights == "popularity"  # the rule stays


@pytest.mark.parametrize("mode", ["hkv", "total", "reg-exponent-weights"])
def test_explain_folds_the_user_in_with_their_own_weight(mode):
    model, R, params = _fitted(mode)
    a, b = model.unobserved_row_weights_, model.unobserved_col_weights_
    for u in (5, int(np.flatnonzero((a == 0) & (R != 0).any(axis=1))[0])):
        observed = np.flatnonzero(R[u])
        x = Reference(R, **_with(params, a, b)).solve_users(model.item_factors_)[u]
        for item in (0, 3, 12):
            score, items, contributions = model.explain(u, R, item, N=observed.size)
            close(score, x @ model.item_factors_[item], tol=1e-9)
            assert_allclose(contributions.sum(), score, rtol=1e-12, atol=1e-14)
            assert sorted(items) == sorted(observed)


# ------------------------------------------------------------------ saving

@pytest.mark.parametrize("weights", list(WEIGHTS))
def test_save_and_load_keep_the_weights(weights, tmp_path):
    model, R, params = _fitted("hkv", weights)
    model.partial_fit_users([30], R[[3]])  # grown: the saved weights are the model's now
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = WALS.load(path)
    for name in ("unobserved_row_weights", "unobserved_col_weights"):
        given, back = getattr(model, name), getattr(loaded, name)
        assert (back == given) if given is None or isinstance(given, str) else \
            np.array_equal(back, given)
        fitted = getattr(model, name + "_")
        assert (getattr(loaded, name + "_") is None) if fitted is None else \
            np.array_equal(getattr(loaded, name + "_"), fitted)
    assert loaded.unobserved_exponent == model.unobserved_exponent
    assert_array_equal(loaded.transform(R), model.transform(R))
    assert loaded.explain(4, R[[4]], 2)[0] == model.explain(4, R[[4]], 2)[0]
    loaded.set_params(iterations=1).fit(np.vstack([R, R[[3]]]), warm_start=True)  # and on


def test_an_unfitted_model_saves_its_weight_arrays(tmp_path):
    model = WALS(unobserved_row_weights=np.arange(3.0), unobserved_col_weights="popularity")
    model.save(tmp_path / "m.npz")
    loaded = WALS.load(tmp_path / "m.npz")
    assert_array_equal(loaded.unobserved_row_weights, np.arange(3.0))
    assert loaded.unobserved_col_weights == "popularity"
    assert not hasattr(loaded, "unobserved_row_weights_")


def test_saving_refuses_weights_that_would_not_load_back(tmp_path):
    model, R, _ = _fitted("hkv", "items-popularity")
    model.set_params(unobserved_col_weights=None)
    with pytest.raises(ValueError, match=r"would not load back: 'unobserved_col_weights' is "
                                         r"stored but the model has unobserved_col_weights=None"):
        model.save(tmp_path / "m.npz")
    model.set_params(unobserved_col_weights="popularity", unobserved_row_weights=np.ones(30))
    with pytest.raises(ValueError, match=r"would not load back: 'unobserved_row_weights' is "
                                         r"missing: the model was fitted with "
                                         r"unobserved_row_weights=<array>"):
        model.save(tmp_path / "m.npz")
    model.set_params(unobserved_row_weights=None)
    model.unobserved_col_weights_ = np.ones(7)
    with pytest.raises(ValueError, match=r"'unobserved_col_weights' must have one entry per row "
                                         r"of 'item_factors': expected shape \(20,\), got \(7,\)"):
        model.save(tmp_path / "m.npz")


def test_pickles_of_models_from_before_the_weights_load_with_the_defaults():
    model, R, params = _fitted("hkv", "items-popularity")
    state = model.__getstate__()
    for name in ("unobserved_row_weights", "unobserved_col_weights", "unobserved_exponent",
                 "unobserved_row_weights_", "unobserved_col_weights_"):
        del state[name]
    old = pickle.loads(pickle.dumps(WALS.__new__(WALS)))
    old.__setstate__(state)
    assert old.unobserved_col_weights is None and old.unobserved_exponent == 0.5
    assert old.get_params()["unobserved_row_weights"] is None
    # fold-in against all-ones weights, as such a model was fitted
    close(old.transform(R), Reference(R, **_with(params, None, None)).solve_users(
        old.item_factors_))


# ------------------------------------------------------------------ validation

@pytest.mark.parametrize("params,error,match", [
    (dict(unobserved_col_weights="pop"), ValueError,
     r"unobserved_col_weights must be None \(all ones\), 'popularity' \(n\^unobserved_exponent "
     r".*normalised to mean 1\) or a 1-D array of one finite weight >= 0 per item \(column of "
     r"X\); got 'pop'"),
    (dict(unobserved_row_weights=2.0), ValueError,
     r"unobserved_row_weights must be None .* per user \(row of X\); got 2.0"),
    (dict(unobserved_row_weights=np.ones((30, 1))), ValueError,
     r"unobserved_row_weights must be .* got an array of shape \(30, 1\)"),
    (dict(unobserved_col_weights=np.ones(19)), ValueError,
     r"unobserved_col_weights must have one entry per item \(column of X\): expected shape "
     r"\(20,\), got \(19,\)"),
    (dict(unobserved_row_weights=np.r_[np.ones(29), -1.0]), ValueError,
     r"unobserved_row_weights must be finite and >= 0; 1 entries are not, the first at "
     r"index 29"),
    (dict(unobserved_col_weights=np.r_[np.nan, np.ones(19)]), ValueError,
     r"unobserved_col_weights must be finite and >= 0.*index 0"),
    (dict(unobserved_col_weights=["a"] * 20), TypeError,
     r"unobserved_col_weights must be a 1-D array of real numbers"),
    (dict(unobserved_exponent=float("inf")), ValueError,
     r"unobserved_exponent must be a finite number, got inf"),
    (dict(unobserved_exponent="half"), TypeError, r"unobserved_exponent must be a real number"),
    (dict(unobserved_col_weights="popularity", unobserved_exponent=1e6), ValueError,
     r"unobserved_col_weights='popularity' with unobserved_exponent=1e\+06 overflows.*"
     r"smaller unobserved_exponent"),
])
def test_bad_unobserved_weights_are_named(params, error, match):
    R = random_ratings(seed=1)
    model = WALS(4, iterations=1, **params)
    with pytest.raises(error, match=match):
        model.fit(R)
    assert not hasattr(model, "user_factors_")


def test_the_exponent_is_validated_even_when_unused():
    with pytest.raises(ValueError, match="unobserved_exponent"):
        WALS(4, unobserved_exponent=float("inf")).fit(random_ratings(seed=1))
