"""The prepared factorization problem: both orientations of the interaction
matrix with their weights and regularization, the half-sweep that solves one
side given the other, and the objective.

One kernel serves both half-sweeps: the item side is the transposed matrix,
with row and column weights (and the unobserved entries' a and b) swapped.
"""

from dataclasses import dataclass

import numba
import numpy as np

from . import _counting, _validation
from ._kernels.cg import cg_sweep
from ._kernels.dense import (first_nonfinite_row, gramian64, gramian_blocks, symmetric_sum,
                             weighted_gramian_blocks)
from ._kernels.blas import make_work
from ._kernels.loss import observed_loss_rows, weighted_sq_norms
from ._kernels.reorder import permute_rows, transpose_part
from ._kernels.rotate import rotate_rows as _rotate_kernel
from ._kernels.simd import LANES
from ._kernels.solve import SMALL_ORDER, cholesky_sweep
from ._kernels.spd import leading_dimension, padded_order
from ._kernels.subspace import subspace_sweep
from ._partition import balanced_chunks
from ._threads import run_kernel
from .weights import CONFIDENCE, regularization_per_row

# observed rows gathered per Gram update (exact solver): large enough to amortise
# the tiles' loads and stores of A, small enough that the gather block stays in cache
GATHER_BATCH = 256
# The Woodbury shortcut's rounding grows with ‖W‖²_F (see _kernels/solve.py);
# beyond these bounds a row takes the direct Cholesky path.
DUAL_NORM_BOUND = {np.float32: 1e2, np.float64: 1e8}
# CG gathers a row's factors into a block of at most this size per thread; longer
# rows are read in place (slower: random reads at every step), so that scratch
# never grows with the longest row
CG_GATHER_BYTES = 4 << 20
# the subspace solver gathers rows of up to this size per thread (longer rows are
# read in place, one block's columns at a time: measured 9% slower per iteration
# at k = 256 than gathering every row, which needed 32 MB per thread)
SUBSPACE_GATHER_BYTES = 4 << 20
# ... and solves rows of at most this many observations exactly (Woodbury), per
# unit of block size: a pass over every block costs about m·k·b plus a fixed
# cost per block, the exact solve m²k (measured best at k = 256: 2, up to the
# order where the Woodbury system moves to BLAS, whose call overhead dominates)
SUBSPACE_EXACT_FACTOR = 2.0
# chunks of rows per thread in a sweep (see solve_in_basis)
CHUNKS_PER_THREAD = 8
# rows per block of the parallel Gramian (the blocks depend on the shape only)
GRAM_BLOCK = 4096
# rows per BLAS gemm when rotating factors in place (bounds each thread's temporary)
ROTATE_BLOCK = 1024
# Past this size of the user factors (about the L3 cache), the item orientation
# labels users by decreasing activity and the item half-sweep gathers from the user
# factors moved into that order (_kernels/reorder.py). Measured at 102M
# interactions (2M users, k = 64; bench/RESULTS.md): cg 0.875x per iteration (its
# item half-sweep 0.82x, less the two moves of the user factors, 0.35 s each); the
# exact solver's item half-sweep gained about what the moves cost (1.02x per
# iteration), so only these solvers take the order
GATHER_ORDER_BYTES = 32 << 20
GATHER_ORDER_SOLVERS = ("cg",)


def dual_rows_limit(k):
    """Largest row length m for which the Woodbury shortcut's m²k + m³/3 + 4k²
    flops undercut the direct m·k² + k³/3 (about 0.9·k)."""
    m = np.arange(k + 1, dtype=np.float64)
    cheaper = m * m * k + m**3 / 3 + 4.0 * k * k < m * k * k + k**3 / 3
    return int(np.flatnonzero(cheaper).max()) if cheaper.any() else 0


def subspace_exact_limit(k, block_size):
    """Rows of at most this many observations take the exact (Woodbury) solve in
    the subspace solver; never beyond where Woodbury stops paying (dual_rows_limit)."""
    return min(dual_rows_limit(k), SMALL_ORDER, int(SUBSPACE_EXACT_FACTOR * min(block_size, k)))


def row_costs(solver, nnz, k, problem, dual_max):
    """Estimated flops per row, to balance threads."""
    if solver == "cg":
        return (problem.cg_steps + 1) * 4 * nnz * k + k + 1.0
    if solver == "subspace":
        b = problem.block_size
        bp = padded_order(b)
        # the gather (random reads) weighs about 30 multiply-adds of the vector
        # tiles per element, the exact path's own-loop products about 2
        blocks = nnz * k * (bp + 30) + k * b * bp
        dual = 2 * nnz * nnz * k + 30 * nnz * k + 4.0 * k * k
        return np.where(nnz == 0, 0.0, np.where(nnz <= dual_max, dual, blocks)) + 1.0
    direct = nnz * k * k + k**3 / 3 + k * k
    dual = nnz * nnz * k + nnz**3 / 3 + 4.0 * k * k
    return np.where(nnz == 0, 0.0, np.where(nnz <= dual_max, dual, direct)) + 1.0


def rotate_rows(M, R):
    """M ← M R in place (R orthogonal, k × k), in parallel row blocks."""
    k = R.shape[0]
    n_chunks = max(1, min(numba.get_num_threads(), -(-M.shape[0] // ROTATE_BLOCK)))
    tmp = np.empty((n_chunks, min(ROTATE_BLOCK, M.shape[0]), k), dtype=M.dtype)
    run_kernel(_rotate_kernel, n_chunks, M, np.ascontiguousarray(R, dtype=M.dtype), tmp,
               make_work(n_chunks, k), np.array([0, 1], dtype=M.dtype))


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
    # the unobserved entries' weights w0·a_u·b_i: a per row and b per column, in
    # the factor dtype, or None for all ones (then the Gramian is the plain YᵀY)
    row_unobserved: np.ndarray = None
    col_unobserved: np.ndarray = None
    # the other side's factors are gathered with their rows in this order (row p is
    # their row gather_order[p]; the indices and col_* arrays use p), None: as they are
    gather_order: np.ndarray = None

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
    solver: str = "cholesky"
    cg_steps: int = 3
    block_size: int = 16

    def scalars(self):
        """Kernel scalars in the factor dtype, so float32 loops stay float32."""
        t = self.dtype.type
        return t(self.w0), t(self.alpha), self.conf_kind, t(self.epsilon), self.explicit


def build(csr, params, row_weights, col_weights, unobserved=(None, None)):
    """csr: canonical CSR from _validation.as_csr; weights already validated;
    unobserved: the (users', items') unobserved weights a and b (float64, from
    _validation.resolve_unobserved), None for all ones."""
    dtype = np.dtype(params["dtype"])
    n_users, n_items = csr.shape
    order = gather_order(np.diff(csr.indptr), params["factors"], dtype.itemsize,
                         params["solver"])
    item_rows = item_orientation(csr, order, params["n_threads"])
    a, b = (unobserved_or_none(w) for w in unobserved)

    def side(name, rows, rw, cw, own, other, n_other, reorder=None):
        indptr, indices, values = rows
        reg = row_regularization(indptr, unobserved_mass(own, other, n_other), params, dtype)
        if reorder is not None:  # the other side's per-row arrays, by position
            cw = cw[reorder]
            other = None if other is None else other[reorder]
        return Side(name, indptr, indices, values, rw, cw, reg,
                    None if own is None else own.astype(dtype),
                    None if other is None else other.astype(dtype), reorder)

    users = side("user", (csr.indptr, csr.indices, csr.data), row_weights, col_weights, a, b,
                 n_items)
    items = side("item", item_rows, col_weights, row_weights, b, a, n_users, order)
    return from_params(params, users, items)


def item_orientation(csr, order, n_threads=None):
    """The transpose's (indptr, indices, values), in the index type of the canonical
    form (at least csr's), its users labeled by their place in order (None: as
    they are)."""
    n_users, n_items = csr.shape
    index = np.result_type(csr.indices.dtype, csr.indptr.dtype,
                           _validation.index_dtype(csr.nnz, (n_items, n_users)))
    return transpose(csr, order, index, n_threads)


def transpose(csr, order, index, n_threads=None):
    """csr's transpose as (indptr, indices, values) with `index` indices, its
    rows' entries in increasing order; with `order`, row order[p] of csr becomes
    column p. A counting sort by column (_counting) on n_threads threads (None:
    Numba's count), each visiting a run of rows with about equal entries."""
    visit = np.zeros(0, np.int64) if order is None else order
    ends = csr.indptr[1:] if order is None else np.cumsum(np.diff(csr.indptr)[order])
    ptr, (t_indices, t_values) = _counting.sort(
        transpose_part, csr.shape[1], (csr.indptr, csr.indices, csr.data, visit),
        lambda n: (np.empty(n, index), np.empty(n, csr.data.dtype)), csr.nnz, ends, n_threads)
    return ptr.astype(index, copy=False), t_indices, t_values


def gather_order(counts, k, itemsize, solver):
    """Users by decreasing number of observations (counts), the order in which
    the item half-sweep gathers the user factors, or None (as they are) while
    those fit in about the cache (GATHER_ORDER_BYTES), or for a solver that does
    not gain by it."""
    if counts.size * k * itemsize <= GATHER_ORDER_BYTES or solver not in GATHER_ORDER_SOLVERS:
        return None
    return np.argsort(-counts, kind="stable")


def unobserved_or_none(weights):
    """The unobserved weights of one side, or None when there are none or all are
    one (the default's exact arithmetic, and its plain Gramian)."""
    if weights is None or np.all(weights == 1):
        return None
    return weights


def unobserved_mass(own, other, n_other):
    """a_u·Σ_i b_i per row (float64): the sum of a row's unobserved weights over
    the other side before w0 (own: a, other: b, None for ones), for λ; n_other
    itself when both are ones."""
    if own is None and other is None:
        return n_other
    total = n_other if other is None else float(np.sum(other, dtype=np.float64))
    return total if own is None else np.asarray(own, np.float64) * total


def row_regularization(indptr, mass, params, dtype):
    """λ per row of CSR rows with these row pointers, given each row's unobserved
    mass a_u·Σb (unobserved_mass; the number of columns with the default weights)."""
    return regularization_per_row(np.diff(indptr), mass, params["regularization"],
                                  params["unobserved_weight"],
                                  params["reg_exponent"]).astype(dtype)


def from_params(params, users=None, items=None, **overrides):
    """The Problem of validated estimator params around the given sides;
    overrides replace settings (e.g. solver="cholesky" for a fold-in)."""
    settings = dict(
        dtype=np.dtype(params["dtype"]), w0=params["unobserved_weight"], alpha=params["alpha"],
        conf_kind=CONFIDENCE[params["confidence"]], epsilon=params["epsilon"],
        explicit=params["feedback"] == "explicit", solver=params["solver"],
        cg_steps=params["cg_steps"], block_size=min(params["block_size"], params["factors"]))
    settings.update(overrides)
    return Problem(users=users, items=items, **settings)


def gramian(Y, w0, weights=None):
    """YᵀY, or Yᵀ diag(weights) Y, for the solve (in the factor dtype, BLAS syrk on
    fixed row blocks in parallel); zeros when w0 = 0 makes it unused."""
    k = Y.shape[1]
    if w0 == 0:
        return np.zeros((k, k), dtype=Y.dtype)
    # blocks of at least GRAM_BLOCK rows, and at most 64 of them (each holds a k×k part)
    n_blocks = max(1, min(64, Y.shape[0] // GRAM_BLOCK))
    parts = np.zeros((n_blocks, k, k), dtype=Y.dtype)
    work, ones = make_work(n_blocks, k), np.ones(1, Y.dtype)
    n_threads = min(numba.get_num_threads(), n_blocks)
    if weights is None:
        run_kernel(gramian_blocks, n_threads, n_threads, Y, parts, work, ones)
    else:
        scratch = np.empty((n_blocks, min(GATHER_BATCH, max(1, Y.shape[0])), k), Y.dtype)
        run_kernel(weighted_gramian_blocks, n_threads, n_threads, Y,
                   np.asarray(weights, Y.dtype), parts, scratch, work, ones)
    return symmetric_sum(parts)


def eigenbasis(G, w0, dtype):
    """(Q, w0·Λ) for G = Q Λ Qᵀ in `dtype`, or (None, zeros) when w0 = 0 leaves no
    shared term to diagonalise."""
    k = G.shape[0]
    if w0 == 0:
        return None, np.zeros(k, dtype=dtype)
    lam, Q = np.linalg.eigh(G.astype(np.float64))
    return np.ascontiguousarray(Q, dtype=dtype), (w0 * np.clip(lam, 0.0, None)).astype(dtype)


def half_sweep(problem, side, Y, X):
    """Solve every row of X (in place) given the other side's factors Y; the
    iterative solvers start from X's current values.

    Every solver works in the eigenbasis Q of Yᵀ diag(b) Y (b: the unobserved
    weights of Y's rows, side.col_unobserved; YᵀY by default), and leaves both
    sides there:
    Y is rotated in place to Y Q (as is X first, for the warm start of CG and
    subspace) and X receives its solution in the same basis, X Q. The model X Yᵀ
    and the objective are unchanged by a common rotation, so the fit never
    rotates back (one rotation per half-sweep, and no rotated copy held).
    Returns Q, or None when nothing was rotated (w0 = 0).

    With side.gather_order, Y's rows are moved into that order for the solve and
    back after it, in place."""
    if side.gather_order is not None:
        permute_rows(Y, side.gather_order, False)
    try:
        Q, lam_eig = eigenbasis(gramian(Y, problem.w0, side.col_unobserved), problem.w0,
                                problem.dtype)
        if Q is not None:
            rotate_rows(Y, Q)
            if problem.solver != "cholesky":  # the iterative solvers warm-start from X
                rotate_rows(X, Q)
        solve_in_basis(problem, side, Y, X, lam_eig)
    finally:
        if side.gather_order is not None:
            permute_rows(Y, side.gather_order, True)
    return Q


def solve_in_basis(problem, side, Y, X, lam_eig):
    """The solve of half_sweep, with Y (and, for CG and subspace, X) already in
    the eigenbasis of the Gramian and lam_eig = w0·Λ from eigenbasis: X receives
    its rows' solutions in that basis. Split from half_sweep so that
    fastwals.distributed can take the basis of the whole Gramian while each
    worker holds only some rows of X (and only the rows of Y they need)."""
    k = Y.shape[1]
    dtype = problem.dtype
    # threads take chunks of about equal estimated cost as they finish the last
    # (next_chunk): several per thread, so that one slowed by anything else on
    # its core (a shared machine) hands the rest of its share to the others
    n_threads = max(1, min(numba.get_num_threads(), side.n_rows))
    n_chunks = max(1, min(CHUNKS_PER_THREAD * n_threads, side.n_rows))
    nnz = np.diff(side.indptr).astype(np.float64)
    longest = max(1, int(nnz.max()))
    if problem.solver == "cholesky":
        dual_max = dual_rows_limit(k)
    elif problem.solver == "subspace":
        dual_max = subspace_exact_limit(k, problem.block_size)
    else:
        dual_max = -1
    starts = balanced_chunks(row_costs(problem.solver, nnz, k, problem, dual_max), n_chunks)
    failed = np.full(n_chunks, -1, dtype=np.int64)
    counter = np.zeros(1, dtype=np.int64)
    rows = (side.indptr, side.indices, side.values)
    weights = (side.reg, *problem.scalars(), side.row_weights, side.col_weights,
               kernel_unobserved(side.row_unobserved, dtype),
               kernel_unobserved(side.col_unobserved, dtype), starts, X)
    if problem.solver == "cholesky":
        kp = padded_order(k)
        ld = leading_dimension(kp)
        scratch = (np.empty((n_threads, kp, ld), dtype), np.empty((n_threads, ld), dtype),
                   np.zeros((n_threads, max(GATHER_BATCH, dual_max), ld), dtype),
                   np.empty((n_threads, 3, ld), dtype),
                   np.empty((n_threads, kp * leading_dimension(padded_order(dual_max))), dtype))
        run_kernel(cholesky_sweep, n_threads, *rows, Y, lam_eig, *weights, *scratch, dual_max,
                   dtype.type(DUAL_NORM_BOUND[dtype.type]), failed, counter)
    elif problem.solver == "subspace":
        b = problem.block_size
        bp = padded_order(b)
        cap = min(longest, max(GATHER_BATCH, SUBSPACE_GATHER_BYTES // (k * dtype.itemsize)))
        long_rows = longest if longest > cap else 1
        scratch = (np.zeros((n_threads, cap * k + 2 * LANES), dtype),
                   np.zeros((n_threads, long_rows * bp), dtype),
                   np.empty((n_threads, 2, longest), dtype),
                   np.empty((n_threads, -(-k // b) * bp * bp), dtype),
                   np.empty((n_threads, max(1, dual_max) ** 2), dtype),
                   np.empty((n_threads, 7, k + bp), dtype))
        run_kernel(subspace_sweep, n_threads, *rows, Y, lam_eig, *weights, b, dual_max,
                   dtype.type(DUAL_NORM_BOUND[dtype.type]), *scratch, failed, counter)
    elif problem.solver == "cg":
        cap = min(longest, max(GATHER_BATCH, CG_GATHER_BYTES // (k * dtype.itemsize)))
        run_kernel(cg_sweep, n_threads, *rows, Y, lam_eig, *weights, problem.cg_steps,
                   np.empty((n_threads, cap, k), dtype), np.arange(cap, dtype=side.indices.dtype),
                   np.empty((n_threads, longest), dtype), np.empty((n_threads, 4, k), dtype),
                   counter)
    else:
        raise AssertionError(problem.solver)  # validated in _validation.check_params
    if (failed >= 0).any():
        row = int(failed[failed >= 0].min())
        raise np.linalg.LinAlgError(
            f"Cholesky failed for {side.name} row {row}: its system is not positive definite "
            f"(λ = {side.reg[row]:g}, {side.indptr[row + 1] - side.indptr[row]} observations). "
            f"Raise `regularization` (or use float64 / a positive `unobserved_weight`)")
    row = first_nonfinite_row(X)
    if row >= 0:
        raise FloatingPointError(
            f"{side.name} factors became NaN or infinite (first at row {row}); the problem is "
            f"badly scaled or ill-conditioned. Raise `regularization`, lower `alpha`, or use "
            f"dtype=numpy.float64")


def kernel_unobserved(weights, dtype):
    """Unobserved weights as the kernels take them: the array, or an empty one for
    all ones (None)."""
    return np.empty(0, dtype) if weights is None else weights


def objective(problem, X, Y):
    """The full objective (float64) by the Gramian trick, never densifying:
    the unobserved entries' term is w0·⟨Xᵀ diag(a) X, Yᵀ diag(b) Y⟩ (see
    _kernels/loss.py)."""
    u, i = problem.users, problem.items
    w0, alpha, kind, eps, explicit = problem.w0, problem.alpha, problem.conf_kind, \
        problem.epsilon, problem.explicit
    a = kernel_unobserved(u.row_unobserved, problem.dtype)
    b = kernel_unobserved(u.col_unobserved, problem.dtype)
    rows = np.empty(X.shape[0])
    observed_loss_rows(u.indptr, u.indices, u.values, X, Y, u.reg.astype(np.float64), w0,
                       alpha, kind, eps, explicit, u.row_weights, u.col_weights, a, b, rows)
    item_reg = np.empty(Y.shape[0])
    weighted_sq_norms(Y, i.reg.astype(np.float64), item_reg)
    total = rows.sum() + item_reg.sum()
    if w0:
        total += w0 * float(np.sum(gram_blocked(X, a) * gram_blocked(Y, b)))
    return float(total)


def gram_blocked(X, weights):
    """Xᵀ diag(weights) X in float64 (weights empty: XᵀX), for the objective."""
    # block size depends only on the shape (never on threads), and bounds the
    # kernel's per-block scratch to about 128 MB
    n, k = X.shape
    block = max(1024, -(-n // max(1, (1 << 24) // (k * k))))
    return gramian64(X, weights, block)
