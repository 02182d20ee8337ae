"""Input coercion and every user-facing error message.

Each message names the argument, what was received and what is allowed.
"""

import numbers
import operator

import numba
import numpy as np
import scipy.sparse as sp

from .weights import CONFIDENCE, FEEDBACK

SOLVERS = ("cholesky", "cg", "subspace")
DTYPES = (np.float32, np.float64)


# ---------------------------------------------------------------- hyperparameters

def check_int(name, value, low, high=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = operator.index(value)
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return value


def check_real(name, value, low=0.0, strict=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value) or value < low or (strict and value == low):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {relation} {low:g}, got {value!r}")
    return value


def check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    return value


def check_dtype(value):
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.type not in DTYPES:
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {value!r}")
    return dtype


def check_random_state(value):
    """A numpy Generator from None, an int seed, a Generator or a RandomState."""
    if value is None or isinstance(value, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(value, (bool, np.bool_)):
            raise TypeError(f"random_state must be None, an int, a numpy Generator or "
                            f"RandomState, got {value!r}")
        if isinstance(value, numbers.Integral) and value < 0:
            raise ValueError(f"random_state must be a non-negative seed, got {value}")
        return np.random.default_rng(value)
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, np.random.RandomState):
        # draw a seed from it so that the RandomState's stream advances as users expect
        return np.random.default_rng(value.randint(0, 2**63 - 1, dtype=np.int64))
    raise TypeError(f"random_state must be None, an int, a numpy Generator or RandomState, "
                    f"got {type(value).__name__}")


def check_n_threads(value):
    if value is None:
        return None
    return check_int("n_threads", value, 1, numba.config.NUMBA_NUM_THREADS)


def check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_params(p):
    """Validate the estimator's hyperparameters (a dict from get_params) and
    return them normalised. Row/column weights are checked against the matrix
    later, by check_weights."""
    out = dict(p)
    out["factors"] = check_int("factors", p["factors"], 1)
    out["iterations"] = check_int("iterations", p["iterations"], 0)
    for name in ("regularization", "alpha", "unobserved_weight", "reg_exponent"):
        out[name] = check_real(name, p[name])
    out["epsilon"] = check_real("epsilon", p["epsilon"], strict=True)
    check_choice("confidence", p["confidence"], tuple(CONFIDENCE))
    check_choice("feedback", p["feedback"], FEEDBACK)
    check_choice("solver", p["solver"], SOLVERS)
    out["cg_steps"] = check_int("cg_steps", p["cg_steps"], 1)
    out["block_size"] = check_int("block_size", p["block_size"], 1)
    out["dtype"] = check_dtype(p["dtype"])
    out["n_threads"] = check_n_threads(p["n_threads"])
    out["calculate_loss"] = check_bool("calculate_loss", p["calculate_loss"])
    out["show_progress"] = check_bool("show_progress", p["show_progress"])
    if p["callback"] is not None and not callable(p["callback"]):
        raise TypeError(f"callback must be callable(iteration, seconds, loss) or None, "
                        f"got {type(p['callback']).__name__}")
    return out


def check_weights(name, value, length, what, dtype):
    """A row/column weight vector: None (all ones) or `length` finite values >= 0."""
    if value is None:
        return np.ones(length, dtype=dtype)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a 1-D array of real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != length:
        raise ValueError(f"{name} must have one entry per {what}: expected shape ({length},), "
                         f"got {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite and >= 0; {int(bad.sum())} entries are not, "
                         f"the first at index {first} ({arr[first]!r})")
    return arr.astype(dtype)


# ---------------------------------------------------------------- the interaction matrix

def _index_dtype(indptr, indices):
    if indptr.dtype == indices.dtype and indptr.dtype in (np.int32, np.int64):
        return indptr.dtype
    return np.dtype(np.int64)


def as_csr(X, shape=None, dtype=np.float32, name="X", allow_empty=False):
    """Any accepted input -> canonical scipy CSR array (sorted indices, duplicates
    summed, stored zeros dropped) with `dtype` values and int32/int64 indices.
    allow_empty: accept a matrix without non-zero entries (rows to fold in, items
    to exclude), else that is an error: there would be nothing to factorize.

    Never modifies X; returns X's own arrays only when they already are canonical.
    """
    dtype = np.dtype(dtype)
    if isinstance(X, tuple):
        csr = _from_triplet(X, shape, name)
    else:
        if shape is not None:
            raise ValueError(f"shape is only for a (rows, cols, values) triplet; got "
                             f"shape={shape!r} with {name} of type {type(X).__name__}")
        if sp.issparse(X):
            csr = _from_sparse(X, name)
        else:
            csr = _from_dense(X, name)
    n_rows, n_cols = csr.shape
    if n_rows == 0 or n_cols == 0:
        raise ValueError(f"{name} is empty: shape {csr.shape}; need at least one row and column")
    _check_values(csr, name)
    if not allow_empty and (csr.nnz == 0 or not np.any(csr.data)):
        raise ValueError(f"{name} has no non-zero entries (shape {csr.shape}); "
                         f"there is nothing to factorize")

    index_dtype = _index_dtype(csr.indptr, csr.indices)
    canonical = (csr.has_canonical_format and csr.data.dtype == dtype
                 and csr.indices.dtype == index_dtype and csr.indptr.dtype == index_dtype
                 and np.all(csr.data != 0))
    if canonical:
        return csr
    csr = sp.csr_array((csr.data.astype(dtype), csr.indices.astype(index_dtype),
                        csr.indptr.astype(index_dtype)), shape=csr.shape, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    if csr.nnz == 0 and not allow_empty:
        raise ValueError(f"{name} has no non-zero entries once duplicates are summed "
                         f"(shape {csr.shape}); there is nothing to factorize")
    return csr


def check_shape(name, csr, rows, cols, hint=""):
    if csr.shape[0] not in rows or csr.shape[1] != cols:
        expected = " or ".join(f"({r}, {cols})" for r in rows)
        raise ValueError(f"{name} must have shape {expected}, got {csr.shape}{hint}")


def check_ids(name, ids, n, what):
    """One id or a 1-D array of ids in 0..n-1 -> (int64 array, given as a scalar?)."""
    scalar = np.ndim(ids) == 0
    arr = np.atleast_1d(np.asarray(ids))
    if arr.ndim != 1 or (arr.size and (arr.dtype.kind not in "iu" or arr.dtype == bool)):
        raise TypeError(f"{name} must be an integer id or a 1-D array of integer ids, got "
                        f"{type(ids).__name__} of shape {arr.shape}, dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= n)
    if bad.any():
        raise ValueError(f"{name}: id {arr[bad][0]} is outside 0..{n - 1} (the model has {n} "
                         f"{what}s)")
    return arr, scalar


def check_unique(name, ids):
    if np.unique(ids).size != ids.size:
        raise ValueError(f"{name} must not repeat an id; {ids.size - np.unique(ids).size} "
                         f"repeats")


def _from_sparse(X, name):
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (users x items), got {X.ndim}-D")
    # tocsr may return X itself; we never write into it (copies happen in as_csr)
    return sp.csr_array(X.tocsr())


def _from_dense(X, name):
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be a scipy.sparse matrix, a 2-D numpy array or a "
                        f"(rows, cols, values) tuple, got {type(X).__name__}")
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype} "
                        f"(from {type(X).__name__})")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (users x items), got shape {arr.shape}")
    return sp.csr_array(arr)


def _from_triplet(X, shape, name):
    if len(X) != 3:
        raise ValueError(f"{name} as a tuple must be (rows, cols, values), got {len(X)} items")
    rows, cols, vals = (np.asarray(a) for a in X)
    for what, a in (("rows", rows), ("cols", cols)):
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise TypeError(f"{name}: {what} must be a 1-D integer array, "
                            f"got shape {a.shape} dtype {a.dtype}")
    if vals.ndim != 1 or vals.dtype.kind not in "biuf":
        raise TypeError(f"{name}: values must be a 1-D array of real numbers, "
                        f"got shape {vals.shape} dtype {vals.dtype}")
    if not rows.size == cols.size == vals.size:
        raise ValueError(f"{name}: rows, cols and values must have equal lengths, "
                         f"got {rows.size}, {cols.size}, {vals.size}")
    if shape is None:
        shape = (int(rows.max()) + 1 if rows.size else 0, int(cols.max()) + 1 if cols.size else 0)
    else:
        try:
            shape = tuple(operator.index(s) for s in shape)
        except TypeError:
            raise TypeError(f"shape must be a pair of ints, got {shape!r}") from None
        if len(shape) != 2 or min(shape) < 0:
            raise ValueError(f"shape must be a pair of non-negative ints, got {shape!r}")
    for what, a, n in (("rows", rows, shape[0]), ("cols", cols, shape[1])):
        if a.size and (a.min() < 0 or a.max() >= n):
            bad = int(np.flatnonzero((a < 0) | (a >= n))[0])
            raise ValueError(f"{name}: {what}[{bad}] = {a[bad]} is outside 0..{n - 1} "
                             f"for shape {shape}")
    return sp.coo_array((vals, (rows, cols)), shape=shape).tocsr()


def _check_values(csr, name):
    finite = np.isfinite(csr.data)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        row, col = _position(csr, bad[0])
        raise ValueError(f"{name} contains {bad.size} NaN or infinite values; the first is "
                         f"{csr.data[bad[0]]} at (row {row}, column {col}). Remove or fill them")


def _position(csr, k):
    row = int(np.searchsorted(csr.indptr, k, side="right") - 1)
    return row, int(csr.indices[k])


def check_nonnegative(csr, confidence, name="X"):
    """linear and log confidence need r >= 0, or the weights could turn negative."""
    neg = csr.data < 0
    if neg.any():
        bad = np.flatnonzero(neg)
        row, col = _position(csr, bad[0])
        raise ValueError(f"{name} has {bad.size} negative values (the first {csr.data[bad[0]]} "
                         f"at row {row}, column {col}); confidence={confidence!r} needs values "
                         f">= 0. Use confidence='constant' for signed ratings")
