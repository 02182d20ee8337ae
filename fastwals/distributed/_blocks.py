"""What runs on the workers: row blocks of the interaction matrix and the
tasks on them (Gramian, rotation, row exchange, solve, objective terms).

A Block holds rows lo..hi of one orientation (users × items, or items × users)
as CSR whose column indices are local: they point into ``cols``, the sorted
global ids of the other side's rows that the block touches. A solve then needs
only those rows of the other side's factors, ``Y[cols]``, in that order: either
cut from whole blocks of Y (broadcast) or received already cut (needed rows).
Every function here is plain numpy in and out and never changes its inputs
(Dask may hold them for other tasks, or recompute from them).
"""

import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

from .. import _problem
from .._kernels.dense import gramian64
from .._kernels.loss import observed_loss_rows, weighted_sq_norms
from .._threads import compute_threads
from .._validation import _position
from ..weights import CONFIDENCE

# Numba's default (workqueue) threading layer must not be entered by two threads
# of one process at once: a worker with several threads runs one kernel task at
# a time, each on all of the worker's Numba threads
_KERNEL_LOCK = threading.Lock()


@dataclass
class Block:
    """Rows lo..hi of one orientation, as a worker holds them."""
    name: str                 # "user" or "item": what the rows are
    lo: int
    hi: int
    indptr: np.ndarray
    indices: np.ndarray       # local: positions in cols
    values: np.ndarray
    cols: np.ndarray          # int64, sorted: global ids of the other side's rows used
    splits: np.ndarray        # cols[splits[c]:splits[c + 1]] lie in the other side's block c
    other_bounds: np.ndarray  # the other side's block boundaries
    row_weights: np.ndarray   # one per row of the block
    col_weights: np.ndarray   # one per entry of cols
    reg: np.ndarray           # λ per row
    row_unobserved: np.ndarray = None  # unobserved weights a: one per row (None: ones)
    col_unobserved: np.ndarray = None  # ... and b: one per entry of cols (None: ones)

    @property
    def n_rows(self):
        return self.hi - self.lo

    def side(self):
        return _problem.Side(self.name, self.indptr, self.indices, self.values,
                             self.row_weights, self.col_weights, self.reg, self.row_unobserved,
                             self.col_unobserved)

    def describe(self):
        """What the driver needs to plan the exchange: rows, stored entries, and
        how many rows of each of the other side's blocks this block uses."""
        return {"rows": self.n_rows, "nnz": int(self.indptr[-1]),
                "value_sum": float(self.values.sum(dtype=np.float64)),
                "needs": np.diff(self.splits)}

    def global_csr(self, n_other):
        """The block's rows with global column ids (for the serving filters)."""
        return sp.csr_array((self.values, self.cols[self.indices], self.indptr),
                            shape=(self.n_rows, n_other))


# ---------------------------------------------------------------- building blocks

def from_csr(name, lo, hi, indptr, indices, values, other_bounds, row_weights, col_weights,
             p, row_unobserved=None, col_unobserved=None):
    """A Block from canonical CSR rows lo..hi (indptr from 0, global column ids).
    row_weights: the block's own weights (None: ones); col_weights: the other
    side's whole weight vector (None: ones); row_unobserved, col_unobserved: the
    unobserved weights likewise (the block's own, the other side's whole; None:
    ones)."""
    dtype = np.dtype(p["dtype"])
    cols, local = np.unique(indices, return_inverse=True)
    cols = cols.astype(np.int64)
    index_dtype = np.int32 if max(indptr[-1], cols.size) < 2**31 - 1 else np.int64
    n_rows = hi - lo
    rw = np.ones(n_rows, dtype) if row_weights is None else np.asarray(row_weights, dtype)
    cw = np.ones(cols.size, dtype) if col_weights is None else \
        np.asarray(col_weights)[cols].astype(dtype)
    n_other = int(other_bounds[-1])
    au = None if row_unobserved is None else np.asarray(row_unobserved, dtype)
    bu = None if col_unobserved is None else np.asarray(col_unobserved)[cols].astype(dtype)
    reg = _problem.row_regularization(
        indptr, _problem.unobserved_mass(au, col_unobserved, n_other), p, dtype)
    return Block(name, lo, hi, np.ascontiguousarray(indptr, index_dtype),
                 local.reshape(-1).astype(index_dtype), np.ascontiguousarray(values, dtype),
                 cols, np.searchsorted(cols, other_bounds).astype(np.int64),
                 np.asarray(other_bounds, np.int64), rw, cw, reg, au, bu)


def from_pieces(name, lo, hi, other_bounds, row_weights, col_weights, p, row_unobserved,
                col_unobserved, *pieces):
    """A Block from (row, col, value) pieces with global ids whose rows lie in
    lo..hi; pairs that repeat are summed, entries that sum to zero dropped (as
    the estimator's own input coercion does). A piece may be None (no rows)."""
    pieces = [pc for pc in pieces if pc is not None]
    rows = np.concatenate([pc[0] for pc in pieces]) - lo if pieces else np.zeros(0, np.int64)
    cols = np.concatenate([pc[1] for pc in pieces]) if pieces else np.zeros(0, np.int64)
    vals = np.concatenate([pc[2] for pc in pieces]) if pieces else np.zeros(0)
    n_other = int(other_bounds[-1])
    m = sp.coo_array((vals.astype(np.float64), (rows, cols)), shape=(hi - lo, n_other)).tocsr()
    m.sum_duplicates()  # in float64, then to the factor dtype
    m.sort_indices()
    m.eliminate_zeros()
    rw = None if row_weights is None else np.asarray(row_weights)[lo:hi]
    au = None if row_unobserved is None else np.asarray(row_unobserved)[lo:hi]
    values = m.data.astype(np.dtype(p["dtype"]))
    _check_cast(values, m, name, lo)
    return from_csr(name, lo, hi, m.indptr.astype(np.int64), m.indices.astype(np.int64),
                    values, other_bounds, rw, col_weights, p, au, col_unobserved)


def _check_cast(values, m, name, lo):
    """Values finite in float64 (the readers check) but not in the factor dtype
    (1e39 in float32, or duplicates whose sum overflows) are an input error."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    k = int(np.flatnonzero(bad)[0])
    row, col = _position(m, k)
    other = "item" if name == "user" else "user"
    raise ValueError(f"the interactions have {int(bad.sum())} values beyond {values.dtype.name}'s "
                     f"largest ({np.finfo(values.dtype).max:g}) in the {name} blocks; the first "
                     f"is {m.data[k]:g} at {name} {lo + row}, {other} {col} (indices "
                     f"into the id maps; repeated pairs summed). Scale the values down or use "
                     f"dtype=numpy.float64")


def describe(block):
    return block.describe()


# ---------------------------------------------------------------- half-sweep tasks
#
# A side's factors are held as stored blocks F and a pending rotation P (None,
# or the basis of a half-sweep in which that side was the one given): its
# factors are F·Q_P. Rotating is thus left to the tasks that read the rows
# anyway, and never done to whole blocks during the fit.

def gram(F, w0, n_threads, weights=None, lo=0):
    """FᵀF of one block of factors (stored, no rotation pending), or Fᵀ diag(b) F
    with b = weights[lo:lo + len(F)] (weights: the side's whole unobserved weights)."""
    with _kernels(n_threads):
        return _problem.gramian(F, w0, _slice(weights, lo, F.shape[0]))


def _slice(weights, lo, n):
    return None if weights is None else weights[lo:lo + n]


def basis(w0, dtype, *grams):
    """{"Q", "lam"}: the eigenbasis Q and w0·Λ of the sum of the blocks'
    Gramians, summed in block order (a recomputation gives the same basis)."""
    G = np.zeros(grams[0].shape)
    for g in grams:
        G += g
    Q, lam = _problem.eigenbasis(G, w0, np.dtype(dtype))
    return {"Q": Q, "lam": lam}


def wanted(block, c):
    """Positions, within the other side's block c, of the rows `block` uses."""
    s, e = block.splits[c], block.splits[c + 1]
    return block.cols[s:e] - block.other_bounds[c]


def take(F, rows):
    """The rows of F a block wants (from `wanted`), in its order."""
    return F[rows]


def touch(*values):
    """Nothing: a task placed on a worker makes it fetch `values` early."""


def true_factors(F, pending, n_threads):
    """F with its pending rotation applied (a new array), or F itself."""
    Q = _rotation(pending)
    if Q is None:
        return F
    out = np.array(F, copy=True)
    with _kernels(n_threads):
        _problem.rotate_rows(out, Q.astype(F.dtype))
    return out


def solve(block, X, pending, basis, p, whole, *parts):
    """New factors for the block's rows, in the basis Q of the other side's
    Gramian: the estimator's own per-row solve. parts: the other side's stored
    blocks, all of them (whole) or only the rows this block uses, cut from each
    block that has some (see `take`); the rows are rotated to Q here. X (with
    its pending rotation) is the iterative solvers' warm start, else unused."""
    problem = _problem.from_params(p)
    Q, lam = (None, np.zeros(p["factors"], problem.dtype)) if basis is None else \
        (basis["Q"], basis["lam"])
    if problem.solver == "cholesky" or X is None:
        X = np.zeros((block.n_rows, lam.shape[0]), problem.dtype)
    else:
        X = np.array(X, dtype=problem.dtype, copy=True)
    if block.n_rows == 0:
        return X
    Y = _rows(block, whole, parts, lam.shape[0], problem.dtype)
    with _kernels(p["n_threads"]):
        if Q is not None and Y.shape[0]:
            _problem.rotate_rows(Y, Q)
        if problem.solver != "cholesky":
            R = _compose(_rotation(pending), Q)
            if R is not None:
                _problem.rotate_rows(X, R.astype(problem.dtype))
        _problem.solve_in_basis(problem, block.side(), Y, X, lam)
    return X


def observed_loss(block, X, pending, p, whole, *parts):
    """Σ over the block's rows of Σ_obs [w (t − p)² − w0 p²] + λ‖x‖² (float64);
    the other side's parts have no rotation pending, X may."""
    if block.n_rows == 0:
        return 0.0
    X = true_factors(X, pending, p["n_threads"])
    Y = _rows(block, whole, parts, X.shape[1], X.dtype)
    out = np.empty(block.n_rows)
    conf = CONFIDENCE[p["confidence"]]
    with _kernels(p["n_threads"]):
        observed_loss_rows(block.indptr, block.indices, block.values, X, Y,
                           block.reg.astype(np.float64), p["unobserved_weight"], p["alpha"],
                           conf, p["epsilon"], p["feedback"] == "explicit", block.row_weights,
                           block.col_weights,
                           _problem.kernel_unobserved(block.row_unobserved, X.dtype),
                           _problem.kernel_unobserved(block.col_unobserved, Y.dtype), out)
    return float(out.sum())


def regularization_term(block, F, p):
    """Σ λ‖f‖² over the block's rows (float64; rotations do not change it)."""
    out = np.empty(block.n_rows)
    with _kernels(p["n_threads"]):
        weighted_sq_norms(F, block.reg.astype(np.float64), out)
    return float(out.sum())


def gram64(F, pending, n_threads, weights=None, lo=0):
    """Fᵀ diag(b) F in float64 of the factors (pending rotation applied; b as in
    `gram`, None: ones), for the objective's w0 term."""
    F = true_factors(F, pending, n_threads)
    b = _slice(weights, lo, F.shape[0])
    with _kernels(n_threads):
        return gramian64(F, _problem.kernel_unobserved(b, F.dtype), max(1024, F.shape[0]))


def _rows(block, whole, parts, k, dtype):
    """A new array of the other side's rows the block uses, Y[block.cols]."""
    out = np.empty((block.cols.size, k), dtype)
    if whole:
        for c, part in enumerate(parts):
            s, e = block.splits[c], block.splits[c + 1]
            if e > s:
                out[s:e] = part[block.cols[s:e] - block.other_bounds[c]]
    else:
        s = 0
        for part in parts:
            out[s:s + part.shape[0]] = part
            s += part.shape[0]
    return out


def _rotation(pending):
    """The pending rotation's matrix: None, a basis dict, or a matrix."""
    if pending is None:
        return None
    return pending["Q"] if isinstance(pending, dict) else pending


def _compose(P, Q):
    """P·Q (either may be None: the identity), in float64."""
    if P is None:
        return Q
    if Q is None:
        return P
    return P.astype(np.float64) @ Q.astype(np.float64)


# ---------------------------------------------------------------- helpers

@contextmanager
def _kernels(n_threads):
    """Hold the process's kernel lock and run on `n_threads` Numba threads (None:
    the worker's own thread count, within what Numba was started with)."""
    n = _worker_threads() if n_threads is None else n_threads
    with _KERNEL_LOCK, compute_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS))):
        yield


def _worker_threads():
    try:
        from distributed import get_worker
        return get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return numba.get_num_threads()
