"""The prepared factorization problem: both orientations of the interaction
matrix with their weights and regularization, the half-sweep that solves one
side given the other, and the objective.

One kernel serves both half-sweeps: the item side is the transposed matrix,
with row and column weights swapped.
"""

from dataclasses import dataclass

import numba
import numpy as np

from ._kernels.lapack import make_work
from ._kernels.loss import gramian64, observed_loss_rows, weighted_sq_norms
from ._kernels.solve import cholesky_sweep
from ._partition import balanced_chunks
from .weights import CONFIDENCE, regularization_per_row

# observed rows gathered per BLAS syrk call: large enough to amortise the call,
# small enough that the per-thread gather block stays in cache
GATHER_BATCH = 256


@dataclass
class Side:
    """One orientation: rows are the factors being solved for."""
    name: str            # "user" or "item", for messages
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    row_weights: np.ndarray
    col_weights: np.ndarray
    reg: np.ndarray      # λ per row

    @property
    def n_rows(self):
        return self.indptr.size - 1


@dataclass
class Problem:
    users: Side
    items: Side
    dtype: np.dtype
    w0: float
    alpha: float
    conf_kind: int
    epsilon: float
    explicit: bool

    def scalars(self):
        """Kernel scalars in the factor dtype, so float32 loops stay float32."""
        t = self.dtype.type
        return t(self.w0), t(self.alpha), self.conf_kind, t(self.epsilon), self.explicit


def build(csr, params, row_weights, col_weights):
    """csr: canonical CSR from _validation.as_csr; weights already validated."""
    dtype = np.dtype(params["dtype"])
    n_users, n_items = csr.shape
    w0 = params["unobserved_weight"]
    csc = csr.T.tocsr()  # the item orientation
    if csc.indptr.dtype != csc.indices.dtype:
        csc.indices = csc.indices.astype(np.int64)
        csc.indptr = csc.indptr.astype(np.int64)

    def side(name, m, rw, cw, n_other):
        reg = regularization_per_row(np.diff(m.indptr), n_other, params["regularization"], w0,
                                     params["reg_exponent"])
        return Side(name, m.indptr, m.indices, m.data, rw, cw, reg.astype(dtype))

    return Problem(
        users=side("user", csr, row_weights, col_weights, n_items),
        items=side("item", csc, col_weights, row_weights, n_users),
        dtype=dtype, w0=w0, alpha=params["alpha"],
        conf_kind=CONFIDENCE[params["confidence"]], epsilon=params["epsilon"],
        explicit=params["feedback"] == "explicit",
    )


def gramian(Y, w0):
    """YᵀY for the solve (BLAS, in the factor dtype); zeros when w0 = 0 makes it unused."""
    if w0 == 0:
        return np.zeros((Y.shape[1], Y.shape[1]), dtype=Y.dtype)
    return np.ascontiguousarray(Y.T @ Y)


def half_sweep(problem, side, Y, X):
    """Solve every row of X (in place) given the other side's factors Y."""
    k = Y.shape[1]
    n_chunks = max(1, min(numba.get_num_threads(), side.n_rows))
    starts = balanced_chunks(side.indptr, n_chunks, k)
    A = np.empty((n_chunks, k, k), dtype=problem.dtype)
    b = np.empty((n_chunks, k), dtype=problem.dtype)
    Z = np.empty((n_chunks, GATHER_BATCH, k), dtype=problem.dtype)
    failed = np.empty(n_chunks, dtype=np.int64)
    cholesky_sweep(side.indptr, side.indices, side.values, Y, gramian(Y, problem.w0),
                   side.reg, *problem.scalars(), side.row_weights, side.col_weights,
                   starts, X, A, b, Z, make_work(n_chunks, k), np.ones(1, problem.dtype), failed)
    if (failed >= 0).any():
        row = int(failed[failed >= 0].min())
        raise np.linalg.LinAlgError(
            f"Cholesky failed for {side.name} row {row}: its system is not positive definite "
            f"(λ = {side.reg[row]:g}, {side.indptr[row + 1] - side.indptr[row]} observations). "
            f"Raise `regularization` (or use float64 / a positive `unobserved_weight`)")
    if not np.isfinite(X).all():
        row = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise FloatingPointError(
            f"{side.name} factors became NaN or infinite (first at row {row}); the problem is "
            f"badly scaled or ill-conditioned. Raise `regularization`, lower `alpha`, or use "
            f"dtype=numpy.float64")


def objective(problem, X, Y):
    """The full objective (float64) by the Gramian trick, never densifying."""
    u, i = problem.users, problem.items
    w0, alpha, kind, eps, explicit = problem.w0, problem.alpha, problem.conf_kind, \
        problem.epsilon, problem.explicit
    rows = np.empty(X.shape[0])
    observed_loss_rows(u.indptr, u.indices, u.values, X, Y, u.reg.astype(np.float64), w0,
                       alpha, kind, eps, explicit, u.row_weights, u.col_weights, rows)
    item_reg = np.empty(Y.shape[0])
    weighted_sq_norms(Y, i.reg.astype(np.float64), item_reg)
    total = rows.sum() + item_reg.sum()
    if w0:
        total += w0 * float(np.sum(_gram_blocked(X) * _gram_blocked(Y)))
    return float(total)


def _gram_blocked(X):
    # block size depends only on the shape (never on threads), and bounds the
    # kernel's per-block scratch to about 128 MB
    n, k = X.shape
    block = max(1024, -(-n // max(1, (1 << 24) // (k * k))))
    return gramian64(X, block)
