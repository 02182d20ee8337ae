"""Input coercion and every user-facing error message.

Each message names the argument, what was received and what is allowed.
"""

import numbers
import operator

import numba
import numpy as np
import scipy.sparse as sp

from ._kernels import structure
from ._threads import compute_threads
from .weights import CONFIDENCE, FEEDBACK, UNOBSERVED_RULES, popularity_weights

SOLVERS = ("cholesky", "cg", "subspace")
DTYPES = (np.float32, np.float64)


class ComplexDataError(TypeError, ValueError):
    """Complex input where real numbers are needed: a TypeError, as every other
    non-real dtype raises, and a ValueError, as scikit-learn expects ("Complex
    data not supported")."""


def _not_real(message, dtype, name):
    """The error (`message`) for an argument holding values of dtype `dtype`,
    which is not real: ComplexDataError for complex values, else TypeError.
    `name` is how the fix for complex values refers to the argument."""
    if dtype.kind == "c":
        return ComplexDataError(f"{message}. Complex data not supported: pass "
                                f"numpy.real({name}) if the imaginary parts are all zero")
    return TypeError(message)


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
        relation = "" if low == -np.inf else f" {'>' if strict else '>='} {low:g}"
        raise ValueError(f"{name} must be a finite number{relation}, got {value!r}")
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
    # any sign: a negative exponent weighs the rare rows most
    out["unobserved_exponent"] = check_real("unobserved_exponent", p["unobserved_exponent"],
                                            low=-np.inf)
    for name in ("unobserved_row_weights", "unobserved_col_weights"):
        check_unobserved_rule(name, p[name])
    out["epsilon"] = check_real("epsilon", p["epsilon"], strict=True)
    check_choice("confidence", p["confidence"], tuple(CONFIDENCE))
    check_choice("feedback", p["feedback"], FEEDBACK)
    if p["confidence"] == "total" and p["feedback"] == "explicit":
        raise ValueError("confidence='total' is for implicit feedback (its targets are 1 for "
                         "positive values, 0 for negative ones), got feedback='explicit'. Use "
                         "feedback='implicit' with confidence='total', or another confidence "
                         "('linear', 'log', 'constant') with feedback='explicit'")
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
        raise _not_real(f"{name} must be a 1-D array of real numbers, got dtype {arr.dtype}",
                        arr.dtype, name)
    if arr.ndim != 1 or arr.shape[0] != length:
        raise ValueError(f"{name} must have one entry per {what}: expected shape ({length},), "
                         f"got {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite and >= 0; {int(bad.sum())} entries are not, "
                         f"the first at index {first} ({arr[first]!r})")
    return arr.astype(dtype)


_UNOBSERVED_ALLOWED = ("None (all ones), 'popularity' (n^unobserved_exponent for each one's "
                       "number n of stored entries, normalised to mean 1) or a 1-D array of "
                       "one finite weight >= 0 per {}")


def check_unobserved_rule(name, value):
    """unobserved_row_weights / unobserved_col_weights: None, a rule name, or
    something array-like (its length and values are checked by resolve_unobserved)."""
    what = "user (row of X)" if name == "unobserved_row_weights" else "item (column of X)"
    if isinstance(value, str):
        if value not in UNOBSERVED_RULES:
            raise ValueError(f"{name} must be {_UNOBSERVED_ALLOWED.format(what)}; got "
                             f"{value!r}")
    elif value is not None and np.ndim(value) != 1:
        got = repr(value) if np.ndim(value) == 0 else f"an array of shape {np.shape(value)}"
        raise ValueError(f"{name} must be {_UNOBSERVED_ALLOWED.format(what)}; got {got}")


def resolve_unobserved(name, value, n, exponent, what, counts):
    """The unobserved weights of one side (float64, one per each of its n rows)
    from the parameter `value` (validated by check_unobserved_rule); None for
    the default (all ones). counts: a function giving the side's stored entries
    per row, called only for "popularity"."""
    if value is None:
        return None
    if isinstance(value, str):  # "popularity"
        counts = counts()
        with np.errstate(over="ignore", invalid="ignore"):
            weights = popularity_weights(counts, exponent)
        if not np.isfinite(weights).all():
            raise ValueError(f"{name}='popularity' with unobserved_exponent={exponent:g} "
                             f"overflows float64 (the largest count is {int(counts.max())}); "
                             f"use a smaller unobserved_exponent")
        return weights
    return check_weights(name, value, n, what, np.float64)


def unobserved_weights(p, n_users, n_items, user_counts, item_counts):
    """(a, b): the users' and items' unobserved weights (float64) of validated
    params, None for the default (all ones); user_counts / item_counts give
    each side's stored entries per row, called only for "popularity"."""
    exponent = p["unobserved_exponent"]
    return (resolve_unobserved("unobserved_row_weights", p["unobserved_row_weights"], n_users,
                               exponent, "user (row of X)", user_counts),
            resolve_unobserved("unobserved_col_weights", p["unobserved_col_weights"], n_items,
                               exponent, "item (column of X)", item_counts))


# ---------------------------------------------------------------- the interaction matrix

# A matrix built here gets int32 indices whenever its entries and both of its
# dimensions fit (so a job compiles each kernel for one index type), int64 beyond;
# a canonical input with int64 indices is used as it is (no copy). Tests lower
# the limit to run the int64 paths on small data.
INT32_LIMIT = np.iinfo(np.int32).max


def index_dtype(nnz, shape):
    """The index type of a canonical matrix of nnz entries and this shape."""
    return np.dtype(np.int32 if max(nnz, *shape) <= INT32_LIMIT else np.int64)


def as_csr(X, shape=None, dtype=np.float32, name="X", allow_empty=False, rows=None):
    """Any accepted input -> canonical scipy CSR array (sorted indices, duplicates
    summed, stored zeros dropped) with `dtype` values and int32 indices (int64
    past INT32_LIMIT entries or rows or columns, or when X is canonical with
    int64 indices: it is then used without a copy).
    allow_empty: accept a matrix without non-zero entries (rows to fold in, items
    to exclude), else that is an error: there would be nothing to factorize.
    rows: only these rows of X (int64 ids within X's rows), in this order; of a
    CSR matrix only they are then checked and copied (O(their entries)).

    A sparse X's index arrays are checked before anything reads them (scipy
    trusts them: a bad index would crash or corrupt the process), and its values
    are checked finite after the cast to `dtype`.
    Never modifies X; returns X's own arrays only when they already are canonical.
    """
    dtype = np.dtype(dtype)
    ordered = None  # whether every row's indices are known to increase strictly
    if isinstance(X, tuple):
        csr = _from_triplet(X, shape, name)
        if rows is not None:
            csr = sp.csr_array(csr[rows])
    else:
        if shape is not None:
            raise ValueError(f"shape is only for a (rows, cols, values) triplet; got "
                             f"shape={shape!r} with {name} of type {type(X).__name__}")
        if sp.issparse(X):
            csr, ordered = _from_sparse(X, name, rows)
        else:
            csr = _from_dense(X, name, rows)
    n_rows, n_cols = csr.shape
    if n_rows == 0 or n_cols == 0:  # scikit-learn's words: rows are samples, columns features
        what = "sample(s)" if n_rows == 0 else "feature(s)"
        raise ValueError(f"{name} is empty: 0 {what} (shape={csr.shape}) while a minimum of 1 "
                         f"is required; {name} needs at least one row and one column")
    if not allow_empty and (csr.nnz == 0 or not np.any(csr.data)):
        raise ValueError(f"{name} has no non-zero entries (shape {csr.shape}); "
                         f"there is nothing to factorize")

    index = index_dtype(csr.nnz, csr.shape)
    if ordered is None:  # a matrix scipy has just built: its flag is current
        ordered = csr.has_canonical_format
    # a canonical input keeps its own index type, int64 included: narrowing it
    # would cost a copy of the whole matrix (a fit of 91M entries held 0.7 GB more)
    same_index = csr.indices.dtype == csr.indptr.dtype and (
        csr.indices.dtype == index or csr.indices.dtype == np.int64)
    canonical = ordered and csr.data.dtype == dtype and same_index and np.all(csr.data != 0)
    if canonical:
        _check_values(csr, csr, name)
        csr.has_canonical_format = True  # checked above: spare scipy its own pass
        return csr
    given = csr
    with np.errstate(over="ignore", invalid="ignore"):  # found by _check_values
        csr = sp.csr_array((csr.data.astype(dtype), csr.indices.astype(index),
                            csr.indptr.astype(index)), shape=csr.shape, copy=True)
        csr.sum_duplicates()
    csr.eliminate_zeros()
    _check_values(csr, given, name)
    if csr.nnz == 0 and not allow_empty:
        raise ValueError(f"{name} has no non-zero entries once duplicates are summed "
                         f"(shape {csr.shape}); there is nothing to factorize")
    return csr


def rows_of(X, ids, n_rows, n_cols, name, hint, dtype=np.float32):
    """The rows of X for `ids` (validated ids of the model's n_rows rows), as
    canonical CSR (empty rows allowed). X holds one row per id, in the order
    of ids, or one row per row of the model (only the rows of `ids` are then
    checked and taken); with as many ids as rows, rows follow the ids."""
    declared = _declared_shape(X)
    if declared is not None:
        check_shape(name, declared, (ids.size, n_rows), n_cols, hint)
    pick = ids if declared is not None and declared[0] != ids.size else None
    csr = as_csr(X, dtype=dtype, name=name, allow_empty=True, rows=pick)
    if declared is None:
        check_shape(name, csr.shape, (ids.size, n_rows), n_cols, hint)
        if csr.shape[0] != ids.size:
            csr = as_csr(csr, dtype=dtype, name=name, allow_empty=True, rows=ids)
    return csr


def _declared_shape(X):
    """X's shape when it has one without converting it (sparse, numpy), else None."""
    if sp.issparse(X) or isinstance(X, np.ndarray):
        return X.shape if X.ndim == 2 else None
    return None


def check_shape(name, shape, rows, cols, hint="", estimator=None):
    """shape (a pair) must be (r, cols) for an r in `rows`. estimator: the
    class name of a model whose n_features_in_ is `cols` (the message then says
    so in scikit-learn's words too when the number of columns is wrong)."""
    if shape[0] not in rows or shape[1] != cols:
        expected = " or ".join(f"({r}, {cols})" for r in rows)
        sklearn = ""
        if estimator is not None and shape[1] != cols:
            sklearn = (f" (in scikit-learn's words, X has {shape[1]} features, but {estimator} "
                       f"is expecting {cols} features as input)")
        raise ValueError(f"{name} must have shape {expected}, got {tuple(shape)}{hint}{sklearn}")


def check_ids(name, ids, n, what):
    """One id or a 1-D array of ids in 0..n-1 (n None: any id >= 0 that fits in
    int64) -> (int64 array, given as a scalar?). Ids are compared in their own
    dtype, so an error shows the id as given."""
    scalar = np.ndim(ids) == 0
    arr = np.atleast_1d(np.asarray(ids))
    if arr.ndim != 1 or (arr.size and (arr.dtype.kind not in "iu" or arr.dtype == bool)):
        raise TypeError(f"{name} must be an integer id or a 1-D array of integer ids, got "
                        f"{type(ids).__name__} of shape {arr.shape}, dtype {arr.dtype}")
    high = np.iinfo(np.int64).max if n is None else n - 1
    wide = arr.astype(np.uint64 if arr.dtype.kind == "u" else np.int64)  # no value changes
    bad = (wide > high) if high >= 0 else np.ones(arr.shape, bool)
    if arr.dtype.kind == "i":
        bad |= wide < 0
    if bad.any():
        first = arr[np.flatnonzero(bad)[0]].item()
        if n is None:
            raise ValueError(f"{name}: id {first} is outside 0..{high}; ids are >= 0 (and "
                             f"fit in int64)")
        raise ValueError(f"{name}: id {first} is outside 0..{n - 1} (the model has {n} "
                         f"{what}s)")
    return wide.astype(np.int64), scalar


def check_unique(name, ids):
    if np.unique(ids).size != ids.size:
        raise ValueError(f"{name} must not repeat an id; {ids.size - np.unique(ids).size} "
                         f"repeats")


def _from_sparse(X, name, rows):
    """(CSR of X's rows `rows` (None: all), whether its rows' indices are known to
    increase strictly (None: ask scipy)). X's index arrays are checked first."""
    if X.dtype.kind not in "biuf":
        raise _not_real(f"{name} must hold real numbers, got dtype {X.dtype}", X.dtype, name)
    if X.ndim != 2:
        raise _not_2d(name, X.shape)
    if X.format == "csr":
        if rows is not None:
            return _csr_rows(X, name, rows)
        indptr, indices, ordered = _check_compressed(X, name)
        # X's own arrays (unless of other index dtypes); never written into here
        return sp.csr_array((X.data, indices, indptr), shape=X.shape), ordered
    if X.format in ("csc", "bsr"):
        _check_compressed(X, name)
    else:
        if X.format != "coo":  # dok, lil, dia: coordinates built by numpy code
            X = X.tocoo()
        _check_coo(X, name)
    csr = sp.csr_array(X.tocsr())
    return (csr, None) if rows is None else (sp.csr_array(csr[rows]), None)


def _from_dense(X, name, rows):
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be a scipy.sparse matrix, a 2-D numpy array or a "
                        f"(rows, cols, values) tuple, got {type(X).__name__}")
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        raise _not_real(f"{name} must hold real numbers, got dtype {arr.dtype} "
                        f"(from {type(X).__name__})", arr.dtype, name)
    if arr.ndim != 2:
        raise _not_2d(name, arr.shape)
    return sp.csr_array(arr if rows is None else arr[rows])


def _not_2d(name, shape):
    """The error for a matrix argument of another dimension (scikit-learn's
    "Reshape your data" included)."""
    fix = f": {name}.reshape(1, -1) is a single row" if len(shape) == 1 else " to 2-D"
    return ValueError(f"{name} must be 2-D (users x items), got shape {tuple(shape)}. "
                      f"Reshape your data{fix}")


# ---------------------------------------------------------------- sparse structure
#
# scipy trusts the index arrays of a sparse matrix (they may be set freely,
# X.indices = ...): an index out of range or an indptr that decreases crashes
# or corrupts the process in scipy's C++ (tocsr, transpose) or in our kernels.
# So they are checked, by one pass in a kernel, before anything reads them.

SERIAL_ROWS = 256  # up to this many rows: checked on the calling thread
COO_PIECE = 1 << 16  # coordinates per row of the pass (so that threads share them)


def _first_bad(starts, stops, indices, n):
    if starts.size <= SERIAL_ROWS:
        return structure.first_bad_serial(starts, stops, indices, n)
    with compute_threads():  # chunks enough to even out rows of very different lengths
        return structure.first_bad(starts, stops, indices, n, 8 * numba.get_num_threads())


def _index_array(label, arr):
    """A sparse matrix's index array as int32/int64, contiguous (a copy only
    when it is not); values outside int64 become negative, so they fail."""
    arr = np.asarray(arr)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise TypeError(f"{label} must be a 1-D array of integers, got shape {arr.shape}, "
                        f"dtype {arr.dtype}; the sparse matrix is corrupt: build it from "
                        f"valid arrays")
    if arr.dtype not in (np.int32, np.int64):
        arr = arr.astype(np.int64)
    return np.ascontiguousarray(arr)


def _corrupt(message):
    return ValueError(f"{message}; the sparse matrix is corrupt: build it from valid arrays")


def _layout(X, name):
    """(indptr, indices, major, minor, what each counts, entries per stored
    block) of a CSR/CSC/BSR X, after the O(1) checks."""
    fmt = X.format
    n_rows, n_cols = X.shape
    data = np.asarray(X.data)
    if fmt == "bsr":
        if data.ndim != 3 or 0 in data.shape[1:]:
            raise _corrupt(f"{name}.data must be 3-D (blocks, R, C), got shape {data.shape}")
        R, C = data.shape[1:]
        if n_rows % R or n_cols % C:
            raise _corrupt(f"{name}'s blocks of {R} x {C} do not tile its shape {X.shape}")
        major, minor, what = (n_rows // R, n_cols // C, ("block rows", "block columns"))
    elif data.ndim != 1:
        raise _corrupt(f"{name}.data must be 1-D, got shape {data.shape}")
    elif fmt == "csr":
        major, minor, what = n_rows, n_cols, ("rows", "columns")
    else:
        major, minor, what = n_cols, n_rows, ("columns", "rows")
    indptr = _index_array(f"{name}.indptr", X.indptr)
    indices = _index_array(f"{name}.indices", X.indices)
    if indptr.size != major + 1:
        raise _corrupt(f"{name}.indptr has {indptr.size} entries; a {fmt.upper()} matrix with "
                       f"{major} {what[0]} needs {major + 1}")
    if data.shape[0] != indices.size:
        raise _corrupt(f"{name}.data has {data.shape[0]} entries and {name}.indices "
                       f"{indices.size}; they must be equal")
    if indptr[0] != 0:
        raise _corrupt(f"{name}.indptr[0] = {X.indptr[0]} must be 0")
    if indptr[-1] != indices.size:
        raise _corrupt(f"{name}.indptr[{major}] = {X.indptr[-1]} must equal the number of "
                       f"stored entries, {indices.size} (the length of {name}.indices)")
    return indptr, indices, minor, what


def _check_found(X, name, found, rows, minor, what):
    """Raise for the first bad row or entry of a pass over `rows` of X (None:
    all rows). Returns whether every row's indices increase strictly."""
    bad_row, bad_entry, unsorted = found
    if bad_row >= 0:
        r = bad_row if rows is None else int(rows[bad_row])
        size = np.asarray(X.indices).shape[0]
        a, b = X.indptr[r], X.indptr[r + 1]
        if not 0 <= a <= size:
            raise _corrupt(f"{name}.indptr[{r}] = {a} is outside 0..{size} (the number of "
                           f"stored entries)")
        if not 0 <= b <= size:
            raise _corrupt(f"{name}.indptr[{r + 1}] = {b} is outside 0..{size} (the number of "
                           f"stored entries)")
        raise _corrupt(f"{name}.indptr[{r + 1}] = {b} is less than {name}.indptr[{r}] = {a}: "
                       f"indptr must not decrease")
    if bad_entry >= 0:
        raise _corrupt(f"{name}.indices[{bad_entry}] = {X.indices[bad_entry]} is outside "
                       f"0..{minor - 1} (the matrix has {minor} {what[1]})")
    return unsorted < 0


def _check_compressed(X, name):
    """Check a CSR/CSC/BSR X's index arrays against its shape; returns them
    (as int32/int64) and whether every row's (column's) indices increase strictly."""
    indptr, indices, minor, what = _layout(X, name)
    found = _first_bad(indptr[:-1], indptr[1:], indices, minor)
    return indptr, indices, _check_found(X, name, found, None, minor, what)


def _csr_rows(X, name, rows):
    """(rows `rows` of CSR X as a new CSR, whether their indices increase
    strictly), checking only those rows: O(their entries), whatever X's size."""
    indptr, indices, minor, what = _layout(X, name)
    starts, stops = indptr[rows], indptr[rows + 1]
    ordered = _check_found(X, name, _first_bad(starts, stops, indices, minor), rows, minor,
                           what)
    lengths = stops - starts
    sub_indptr = np.zeros(rows.size + 1, np.int64)
    np.cumsum(lengths, out=sub_indptr[1:])
    take = np.repeat(starts - sub_indptr[:-1], lengths) + np.arange(sub_indptr[-1])
    data = np.asarray(X.data)
    csr = sp.csr_array((data[take], indices[take], sub_indptr), shape=(rows.size, X.shape[1]))
    return csr, ordered


def _check_coo(X, name):
    """Check a COO X's coordinates against its shape."""
    data = np.asarray(X.data)
    if data.ndim != 1:
        raise _corrupt(f"{name}.data must be 1-D, got shape {data.shape}")
    for label, given, n, what in (("row", X.row, X.shape[0], "rows"),
                                  ("col", X.col, X.shape[1], "columns")):
        coords = _index_array(f"{name}.{label}", given)
        if coords.size != data.size:
            raise _corrupt(f"{name}.{label} has {coords.size} entries and {name}.data "
                           f"{data.size}; they must be equal")
        starts = np.arange(0, coords.size, COO_PIECE)
        stops = np.minimum(starts + COO_PIECE, coords.size)
        bad = _first_bad(starts, stops, coords, n)[1]
        if bad >= 0:
            raise _corrupt(f"{name}.{label}[{bad}] = {given[bad]} is outside 0..{n - 1} (the "
                           f"matrix has {n} {what})")


def _from_triplet(X, shape, name):
    if len(X) != 3:
        raise ValueError(f"{name} as a tuple must be (rows, cols, values), got {len(X)} items")
    rows, cols, vals = (np.asarray(a) for a in X)
    for what, a in (("rows", rows), ("cols", cols)):
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise TypeError(f"{name}: {what} must be a 1-D integer array, "
                            f"got shape {a.shape} dtype {a.dtype}")
    if vals.ndim != 1 or vals.dtype.kind not in "biuf":
        raise _not_real(f"{name}: values must be a 1-D array of real numbers, "
                        f"got shape {vals.shape} dtype {vals.dtype}", vals.dtype, "values")
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


def _check_values(csr, given, name):
    """Every value of csr (cast to its final dtype) finite; `given` holds the
    values before the cast (and before duplicates were summed), for the message."""
    finite = np.isfinite(csr.data)
    if finite.all():
        return
    bad = np.flatnonzero(~finite)
    row, col = _position(csr, bad[0])
    start, stop = given.indptr[row], given.indptr[row + 1]
    held = given.data[start:stop][given.indices[start:stop] == col]
    value = held.sum(dtype=np.float64)
    if not np.isfinite(held).all():
        raise ValueError(f"{name} contains {bad.size} NaN or infinite values; the first is "
                         f"{held[~np.isfinite(held)][0]} at (row {row}, column {col}). "
                         f"Remove or fill them")
    dtype = csr.data.dtype
    summed = " (duplicates summed)" if held.size > 1 else ""
    raise ValueError(f"{name} has {bad.size} values beyond {dtype.name}'s largest "
                     f"({np.finfo(dtype).max:g}); the first is {value:g}{summed} at (row {row}, "
                     f"column {col}). Scale the values down or use dtype=numpy.float64")


def _position(csr, k):
    row = int(np.searchsorted(csr.indptr, k, side="right") - 1)
    return row, int(csr.indices[k])


def check_nonnegative(csr, confidence, name="X"):
    """linear and log confidence need r >= 0, or the weights could turn negative."""
    neg = csr.data < 0
    if neg.any():
        bad = np.flatnonzero(neg)
        row, col = _position(csr, bad[0])
        values = "value" if bad.size == 1 else "values"
        raise ValueError(f"Negative values in data: {name} has {bad.size} {values} < 0 (the "
                         f"first {csr.data[bad[0]]} at row {row}, column {col}); "
                         f"confidence={confidence!r} needs values >= 0. Use "
                         f"confidence='constant' for signed ratings")
