import numpy as np
import pytest
import scipy.sparse as sp

from fastwals import WALS, _problem
from fastwals.model import _unobserved_weights
from fastwals._validation import as_csr, check_params, check_weights


def random_ratings(n_users=30, n_items=20, density=0.25, seed=0, empty_rows=(0, 7),
                   empty_cols=(3,), low=1, high=6):
    """Dense users × items integer ratings with some empty rows and columns."""
    rng = np.random.default_rng(seed)
    R = rng.integers(low, high, size=(n_users, n_items)).astype(np.float64)
    R *= rng.random((n_users, n_items)) < density
    R[list(empty_rows), :] = 0
    R[:, list(empty_cols)] = 0
    return R


def prepare(R, dtype=np.float64, **params):
    """The kernels' prepared problem for a dense R and estimator params."""
    p = check_params(WALS(dtype=dtype, **params).get_params())
    csr = as_csr(R, dtype=p["dtype"])
    rw = check_weights("row_weights", p["row_weights"], R.shape[0], "user", p["dtype"])
    cw = check_weights("col_weights", p["col_weights"], R.shape[1], "item", p["dtype"])
    return _problem.build(csr, p, rw, cw, _unobserved_weights(p, csr))


@pytest.fixture
def ratings():
    return random_ratings()


@pytest.fixture
def ratings_csr(ratings):
    return sp.csr_array(ratings)


def solve_side(problem, side, Y, X0=None):
    """One half-sweep on copies, its result mapped back to the original basis
    (half_sweep leaves both sides in the eigenbasis it worked in)."""
    Y = np.array(Y, dtype=problem.dtype)
    X = (np.zeros((side.n_rows, Y.shape[1]), problem.dtype) if X0 is None
         else np.array(X0, dtype=problem.dtype))
    Q = _problem.half_sweep(problem, side, Y, X)
    return X if Q is None else X @ Q.T
