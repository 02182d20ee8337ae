"""The iterative solvers converge to the exact (Cholesky) answer, in every weighting mode."""

import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
import scipy.sparse as sp
from numpy.testing import assert_allclose

from fastwals import WALS, _problem
from conftest import prepare, random_ratings, solve_side
from reference import Reference
from test_solve import MODES, _materialise


def _sweep(R, dtype, params, solver, X0, Y, **extra):
    problem = prepare(R, dtype, factors=Y.shape[1], solver=solver, **params, **extra)
    return solve_side(problem, problem.users, Y, X0)


@pytest.mark.parametrize("mode", list(MODES))
def test_cg_reaches_the_exact_solution(mode):
    R = random_ratings(seed=21)
    params = _materialise(MODES[mode], R.shape)
    rng = np.random.default_rng(0)
    k = 6
    Y = rng.standard_normal((R.shape[1], k))
    X0 = rng.standard_normal((R.shape[0], k))
    exact = _sweep(R, np.float64, params, "cholesky", X0, Y)
    # CG on a k-dimensional SPD system is exact after k steps (up to rounding)
    cg = _sweep(R, np.float64, params, "cg", X0, Y, cg_steps=3 * k)
    assert_allclose(cg, exact, rtol=1e-6, atol=1e-8 * np.abs(exact).max())
    few = _sweep(R, np.float64, params, "cg", X0, Y, cg_steps=1)
    assert np.abs(few - exact).max() > 1e-6 * np.abs(exact).max()  # one step is not enough
    assert np.all(cg[[0, 7]] == 0)  # empty rows: exact zero, as with Cholesky


def test_cg_rows_too_long_to_gather_are_read_in_place(monkeypatch):
    R = random_ratings(seed=24)
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((R.shape[1], 6))
    X0 = rng.standard_normal((R.shape[0], 6))
    params = dict(regularization=0.1, alpha=2.0)
    gathered = _sweep(R, np.float64, params, "cg", X0, Y)
    monkeypatch.setattr(_problem, "CG_GATHER_BYTES", 1)  # every row longer than the block
    monkeypatch.setattr(_problem, "GATHER_BATCH", 2)
    in_place = _sweep(R, np.float64, params, "cg", X0, Y)
    assert_allclose(in_place, gathered, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cg_fit_loss_close_to_cholesky(dtype):
    R = random_ratings(80, 60, density=0.15, seed=22)
    common = dict(iterations=15, regularization=0.1, random_state=0, calculate_loss=True,
                  dtype=dtype)
    chol = WALS(8, **common).fit(R).loss_history_[-1]
    cg = WALS(8, solver="cg", **common).fit(R).loss_history_[-1]
    assert abs(cg - chol) <= 1e-2 * chol


def _subspace_sweeps(problem, X0, Y, n):
    """n half-sweeps of the users against a fixed Y, mapped back to the original
    basis (each half-sweep rotates both sides into its eigenbasis)."""
    X = np.array(X0, dtype=problem.dtype)
    Y = np.array(Y, dtype=problem.dtype)
    R = np.eye(Y.shape[1])
    for _ in range(n):
        Q = _problem.half_sweep(problem, problem.users, Y, X)
        if Q is not None:
            R = R @ Q
    return X @ R.T


@pytest.mark.parametrize("mode", list(MODES))
def test_subspace_reaches_the_exact_solution(mode):
    # rows of ~24 observations for k = 6: with w0 = 0 a row with fewer observations than
    # (about) k has an ill-conditioned system, where block descent converges slowly
    R = random_ratings(30, 60, density=0.4, seed=23)
    params = _materialise(MODES[mode], R.shape)
    rng = np.random.default_rng(1)
    k = 6
    Y = rng.standard_normal((R.shape[1], k))
    X0 = rng.standard_normal((R.shape[0], k))
    exact = _sweep(R, np.float64, params, "cholesky", X0, Y)
    atol = np.abs(exact).max()
    # block coordinate descent: each pass lowers the row objective, and converges
    blocks = prepare(R, np.float64, factors=k, solver="subspace", block_size=2, **params)
    many = _subspace_sweeps(blocks, X0, Y, 50)
    assert_allclose(many, exact, rtol=1e-6, atol=1e-8 * atol)
    one = _subspace_sweeps(blocks, X0, Y, 1)
    assert np.abs(one - exact).max() > 1e-6 * atol  # one pass of small blocks is not exact
    # one block holding every dimension is the exact solve
    for block_size in (k, k + 3):
        full = _sweep(R, np.float64, params, "subspace", X0, Y, block_size=block_size)
        assert_allclose(full, exact, rtol=1e-8, atol=1e-10 * atol)
    assert np.all(many[[0, 7]] == 0) and np.all(one[[0, 7]] == 0)  # empty rows: exact zero


def test_subspace_uneven_last_block():
    # k = 7 with blocks of 3: the last block has a single dimension
    R = random_ratings(seed=24)
    rng = np.random.default_rng(2)
    Y = rng.standard_normal((R.shape[1], 7))
    X0 = rng.standard_normal((R.shape[0], 7))
    params = dict(regularization=0.1)
    exact = _sweep(R, np.float64, params, "cholesky", X0, Y)
    problem = prepare(R, np.float64, factors=7, solver="subspace", block_size=3, **params)
    assert_allclose(_subspace_sweeps(problem, X0, Y, 60), exact, rtol=1e-6,
                    atol=1e-8 * np.abs(exact).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subspace_fit_loss_close_to_cholesky(dtype):
    R = random_ratings(80, 60, density=0.15, seed=22)
    common = dict(regularization=0.1, random_state=0, calculate_loss=True, dtype=dtype)
    chol = WALS(8, iterations=15, **common).fit(R).loss_history_[-1]
    sub = WALS(8, iterations=30, solver="subspace", block_size=3, **common).fit(R).loss_history_
    # the alternation itself is still descending after 15 iterations (Cholesky reaches ~2%
    # lower by 60), so twice the iterations may end lower: only worse is a failure
    assert sub[-1] <= 1.01 * chol
    assert abs(sub[14] - chol) <= 1e-2 * chol  # and iteration for iteration, about as good


@pytest.mark.parametrize("mode", ["hkv-default", "explicit-weighted", "als-wr"])
def test_subspace_objective_never_increases(mode):
    R = random_ratings(60, 40, density=0.2, seed=25)
    params = _materialise(MODES[mode], R.shape)
    losses = np.array(WALS(8, iterations=12, solver="subspace", block_size=3, random_state=0,
                           calculate_loss=True, dtype=np.float64, **params).fit(R).loss_history_)
    assert np.all(np.diff(losses) <= 1e-10 * losses[:-1])
    assert losses[-1] < losses[0]


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads")
def test_subspace_one_and_two_threads_give_identical_factors():
    R = sp.csr_array(random_ratings(seed=26))
    fits = [WALS(8, iterations=4, solver="subspace", block_size=3, random_state=3, n_threads=n,
                 regularization=0.1).fit(R) for n in (1, 2, 1)]
    for f in fits[1:]:
        assert np.array_equal(fits[0].user_factors_, f.user_factors_)
        assert np.array_equal(fits[0].item_factors_, f.item_factors_)


def test_subspace_rows_too_long_to_gather_are_read_in_place(monkeypatch):
    R = random_ratings(30, 60, density=0.4, seed=27)
    rng = np.random.default_rng(3)
    Y = rng.standard_normal((R.shape[1], 7))
    X0 = rng.standard_normal((R.shape[0], 7))
    problem = prepare(R, np.float64, factors=7, solver="subspace", block_size=3, regularization=0.1,
                      alpha=2.0)
    gathered = _subspace_sweeps(problem, X0, Y, 2)
    monkeypatch.setattr(_problem, "SUBSPACE_GATHER_BYTES", 1)  # every row longer than the block
    monkeypatch.setattr(_problem, "GATHER_BATCH", 2)
    in_place = _subspace_sweeps(problem, X0, Y, 2)
    assert_allclose(in_place, gathered, rtol=1e-10, atol=1e-12 * np.abs(gathered).max())


def subspace_pass(R, params, dtype, k, block_size, in_place, monkeypatch, seed=4):
    """One subspace half-sweep of the users from random Y and X0 (every row longer
    than the gather block read in place when `in_place`): (X in the basis Q, Q as
    float64, Y, X0)."""
    if in_place:
        monkeypatch.setattr(_problem, "SUBSPACE_GATHER_BYTES", 1)
        monkeypatch.setattr(_problem, "GATHER_BATCH", 2)
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((R.shape[1], k))
    X0 = rng.standard_normal((R.shape[0], k))
    problem = prepare(R, dtype, factors=k, solver="subspace", block_size=block_size, **params)
    X = np.array(X0, dtype=dtype)
    Q = _problem.half_sweep(problem, problem.users, np.array(Y, dtype=dtype), X)
    return X, Q.astype(np.float64), Y, X0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_size", [16, 5, 24])
@pytest.mark.parametrize("in_place", [False, True])
def test_subspace_pass_equals_dense_block_descent(monkeypatch, dtype, block_size, in_place):
    # k = 40: full blocks and a shorter last one; block_size 16 (one vector tile) takes
    # the register inverse, 5 the in-memory one, and 24 a last block of 16 whose rows
    # are 32 apart (padded), which the register inverse must not take; rows both sides
    # of the exact-path cut-off
    R = random_ratings(40, 120, density=0.45, seed=28, empty_rows=(), empty_cols=())
    R[:5, 8:] = 0  # short rows: solved exactly when gathered
    params = dict(regularization=0.5, alpha=2.0)
    k = 40
    # in_place: every row longer than the gather block read in place, a block at a time
    X, Q, Y, X0 = subspace_pass(R, params, dtype, k, block_size, in_place, monkeypatch)
    # rows read in place (more than GATHER_BATCH = 2 observations) always take the blocks
    limit = 2 if in_place else _problem.subspace_exact_limit(k, block_size)
    short = np.count_nonzero(R, axis=1) <= limit
    assert short.sum() == (0 if in_place else 5)
    expected = Reference(R, **params).block_pass_users(Y @ Q, X0 @ Q, block_size, short)
    tol = 1e-9 if dtype == np.float64 else 2e-3
    assert_allclose(X, expected, rtol=tol, atol=tol * np.abs(expected).max())


def _random_problem(n_users, n_items, k, density, seed):
    """(R, Y, X0) for a random shape, or (None, None, None) when R came out empty."""
    R = random_ratings(n_users, n_items, density, seed, empty_rows=(), empty_cols=())
    if not R.any():
        return None, None, None
    rng = np.random.default_rng(seed)
    return R, rng.standard_normal((n_items, k)), rng.standard_normal((n_users, k))


@settings(max_examples=30, deadline=None)
@given(n_users=st.integers(1, 40), n_items=st.integers(1, 40), k=st.integers(1, 40),
       extra_block=st.integers(0, 3), density=st.floats(0.05, 1.0), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_subspace_single_block_equals_exact_on_random_shapes(n_users, n_items, k, extra_block,
                                                             density, seed, dtype):
    # block_size >= k: one pass is the exact solve. Random k (not multiples of the
    # vector width) and row lengths on both sides of the exact-path cut-off
    # exercise the padded vector tiles.
    R, Y, X0 = _random_problem(n_users, n_items, k, density, seed)
    if R is None:
        return  # an all-zero matrix is rejected; tested in test_validation
    params = dict(regularization=0.5)
    exact = _sweep(R, dtype, params, "cholesky", X0, Y)
    sub = _sweep(R, dtype, params, "subspace", X0, Y, block_size=k + extra_block)
    tol = 1e-8 if dtype == np.float64 else 2e-4
    assert_allclose(sub, exact, rtol=tol, atol=tol * max(1.0, np.abs(exact).max()))


@settings(max_examples=30, deadline=None)
@given(n_users=st.integers(1, 30), n_items=st.integers(1, 30), k=st.integers(2, 40),
       block=st.integers(1, 39), density=st.floats(0.05, 1.0), seed=st.integers(0, 2**16))
def test_subspace_pass_never_increases_the_objective_on_random_shapes(n_users, n_items, k,
                                                                      block, density, seed):
    R, Y, X0 = _random_problem(n_users, n_items, k, density, seed)
    if R is None:
        return  # an all-zero matrix is rejected; tested in test_validation
    params = dict(regularization=0.5, alpha=2.0)
    X1 = _sweep(R, np.float64, params, "subspace", X0, Y, block_size=min(block, k - 1))
    ref = Reference(R, **params)
    before, after = ref.objective(X0, Y), ref.objective(X1, Y)
    assert after <= before * (1 + 1e-12)
    assert after >= ref.objective(ref.solve_users(Y), Y) * (1 - 1e-9)  # never below the optimum


@pytest.mark.parametrize("solver", ["cholesky", "cg", "subspace"])
def test_how_rows_are_chunked_between_threads_does_not_change_the_factors(monkeypatch, solver):
    # threads take chunks from a shared counter in whatever order they finish:
    # one chunk per thread, a few, or one per row all give the same bits
    R = sp.csr_array(random_ratings(60, 40, density=0.3, seed=29))
    fits = []
    for per_thread in (1, 3, 1000):
        monkeypatch.setattr(_problem, "CHUNKS_PER_THREAD", per_thread)
        fits.append(WALS(8, iterations=3, solver=solver, block_size=3, random_state=0,
                         regularization=0.1).fit(R))
    for f in fits[1:]:
        assert np.array_equal(fits[0].user_factors_, f.user_factors_)
        assert np.array_equal(fits[0].item_factors_, f.item_factors_)


_CG_CHILD = """
import sys, numpy as np, scipy.sparse as sp
from fastwals import WALS
R = sp.random(300, 200, density=0.05, format="csr", random_state=0) * 5
m = WALS(16, iterations=3, solver="cg", dtype=np.float64, random_state=6,
         regularization=0.1).fit(R)
sys.stdout.write(m.user_factors_.tobytes().hex() + m.item_factors_.tobytes().hex())
"""


def test_cg_same_bits_compiled_or_loaded_from_the_disk_cache(tmp_path):
    """The first process JIT-compiles the CG kernel into an empty NUMBA_CACHE_DIR, the
    second loads it: the factors must agree to the bit (a Dask worker restarted mid-fit
    loads the cache while the others compiled). With LLVM free to reorder CG's sums
    (the reassoc flag) they did not, from k = 8 on."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", _CG_CHILD], capture_output=True, text=True,
                           env=env, timeout=300) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    assert any(tmp_path.rglob("*cg_sweep*.nbc"))  # the second run had a cache to load
    assert runs[0].stdout == runs[1].stdout


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cg_dot_products_fixed_order_and_tail(dtype):
    """simd.row_dot / rows4_dot, CG's dot products: right for every length (a tail
    shorter than a tile included), and the four-row form gives row_dot's bits."""
    from fastwals._kernels.simd import LANES, row_dot, rows4_dot

    one = numba.njit(lambda a, b: row_dot(a, b))
    four = numba.njit(lambda Z, p: rows4_dot(Z[0], Z[1], Z[2], Z[3], p))
    rng = np.random.default_rng(3)
    for k in (1, 5, LANES, LANES + 1, 3 * LANES, 100):
        Z = rng.standard_normal((4, k)).astype(dtype)
        p = rng.standard_normal(k).astype(dtype)
        got = four(Z, p)
        assert got == tuple(one(Z[i], p) for i in range(4))
        tol = 1e-5 if dtype == np.float32 else 1e-12
        assert_allclose(got, Z.astype(np.float64) @ p, rtol=tol, atol=tol * k)
