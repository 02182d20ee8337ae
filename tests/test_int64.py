"""The int64 index paths, on small data forced to int64.

A matrix with more than 2³¹ − 1 entries (or rows, or columns) gets int64
indices; everything smaller gets int32, so a job compiles its kernels for one
index type. Lowering fastwals._validation.INT32_LIMIT sends small data down the
int64 paths: the canonical matrix, its transpose, the counting sorts of
read_interactions, every solver, the loss, fold-in and serving must give the
int32 results exactly (the same arithmetic on other index types).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal

from fastwals import WALS, _problem, _validation, read_interactions
from fastwals._validation import SOLVERS

from conftest import random_ratings


@pytest.fixture
def int64_everywhere(monkeypatch):
    monkeypatch.setattr(_validation, "INT32_LIMIT", 0)


def _fit(R, solver, **kw):
    return WALS(6, iterations=2, solver=solver, random_state=0, calculate_loss=True,
                unobserved_col_weights="popularity", **kw).fit(R)


def test_small_data_gets_int32_and_a_huge_count_int64():
    assert _validation.index_dtype(10, (3, 4)) == np.int32
    assert _validation.index_dtype(2**31 - 1, (3, 4)) == np.int32
    assert _validation.index_dtype(2**31, (3, 4)) == np.int64
    assert _validation.index_dtype(5, (2**31, 4)) == np.int64
    R = sp.csr_array(random_ratings(seed=1))
    R64 = sp.csr_array((R.data.astype(np.float32), R.indices.astype(np.int64),
                        R.indptr.astype(np.int64)), shape=R.shape)
    kept = _validation.as_csr(R64)  # canonical: used as it is, no copy to narrow it
    assert np.shares_memory(kept.indices, R64.indices) and kept.indptr.dtype == np.int64
    R64.data[0] = 0.0  # a stored zero: a copy is made, and it is narrowed
    assert _validation.as_csr(R64).indices.dtype == np.int32


@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_on_int64_indices_equals_int32(solver, monkeypatch):
    R = random_ratings(40, 25, density=0.3, seed=2)
    want = _fit(R, solver)
    monkeypatch.setattr(_validation, "INT32_LIMIT", 0)
    got = _fit(R, solver)
    assert_array_equal(got.user_factors_, want.user_factors_)
    assert_array_equal(got.item_factors_, want.item_factors_)
    assert got.loss_history_ == want.loss_history_


def test_both_orientations_are_int64(int64_everywhere):
    csr = _validation.as_csr(random_ratings(seed=3))
    assert csr.indices.dtype == csr.indptr.dtype == np.int64
    params = _validation.check_params(WALS(4).get_params())
    n = csr.shape[0]
    problem = _problem.build(csr, params, np.ones(n), np.ones(csr.shape[1]))
    for side in (problem.users, problem.items):
        assert side.indptr.dtype == side.indices.dtype == np.int64


def test_fold_in_and_serving_on_int64(monkeypatch):
    R = random_ratings(40, 25, density=0.3, seed=4)
    model = _fit(R, "cholesky")
    want = (model.transform(R[:5]), model.recommend(np.arange(40), R, N=5),
            model.explain(1, R, 2)[0])
    monkeypatch.setattr(_validation, "INT32_LIMIT", 0)
    got = (model.transform(R[:5]), model.recommend(np.arange(40), R, N=5),
           model.explain(1, R, 2)[0])
    assert_array_equal(got[0], want[0])
    assert_array_equal(got[1][0], want[1][0])
    assert got[2] == want[2]


def test_read_interactions_builds_int64(tmp_path, int64_everywhere):
    path = tmp_path / "e.csv"
    path.write_text("u,i,v\n" + "".join(f"{n % 7},{n % 5},{1 + n % 3}\n" for n in range(50)))
    data = read_interactions(path, user_col="u", item_col="i", value_col="v",
                             min_user_interactions=2)
    m = data.matrix
    assert m.indices.dtype == m.indptr.dtype == np.int64
    dense = np.zeros((7, 5))
    for n in range(50):
        dense[n % 7, n % 5] += 1 + n % 3
    assert_array_equal(m.toarray(), dense)
