"""Interaction rows as implicit's methods accept them.

implicit reads the stored entries of a CSR matrix as they are: a stored zero
is a liked item for the filters, and a row narrower than the model (say, a
row from before partial_fit_items added items) is read as if padded.
"""

import numpy as np
import scipy.sparse as sp

from .._validation import _check_compressed


def _checked(X, n_cols, name):
    """X's (indptr, indices), checked (scipy trusts them, the kernels would read
    out of bounds); an entry at a column >= n_cols is an IndexError, as in implicit."""
    indptr, indices, _ = _check_compressed(X, name)
    if indices.size and indices.max() >= n_cols:
        raise IndexError(f"{name}: index {int(indices.max())} is out of bounds for axis 1 "
                         f"with size {n_cols}")
    return indptr, indices


def structure(X, n_cols, name="user_items"):
    """The stored entries of CSR X, stored zeros included, as a 0/1 CSR array
    of n_cols columns: the items filtered as already liked."""
    indptr, indices = _checked(X, n_cols, name)
    return sp.csr_array((np.ones(indices.size, np.int8), indices, indptr),
                        shape=(X.shape[0], n_cols))


def widened(X, n_cols, name):
    """CSR X with n_cols columns (narrower rows padded), its values kept."""
    if X.shape[1] == n_cols:
        return X
    indptr, indices = _checked(X, n_cols, name)
    return sp.csr_array((np.asarray(X.data), indices, indptr), shape=(X.shape[0], n_cols))


def restricted(liked, columns):
    """liked (CSR over all items) in positions of the sorted `columns`, items
    outside them dropped (implicit's _filter_items_from_sparse_matrix)."""
    coo = liked.tocoo()
    pos = np.clip(np.searchsorted(columns, coo.col), 0, columns.size - 1)
    keep = columns[pos] == coo.col
    return sp.csr_array((coo.data[keep], (coo.row[keep], pos[keep])),
                        shape=(liked.shape[0], columns.size))


def one_row_each(X, ids, name, what):
    """implicit's check that X (CSR) has one row per id; its message."""
    count = 1 if np.isscalar(ids) else len(ids)
    if X.shape[0] != count:
        raise ValueError(f"{name} must contain 1 row for every {what} in {what}ids "
                         f"(got {X.shape[0]} rows for {count} ids)")


def confidences(X, alpha):
    """implicit's confidences C = alpha·X of CSR X, as a new CSR array.

    As implicit: the values are read as float32 and multiplied by alpha in
    float32 (so that float64 models see the same confidences). A stored
    zero, or a zero product, is an entry of confidence 0 to implicit: weight
    0, the pair left out of the objective; fastwals would drop it as
    unobserved (weight 1, target 0). The smallest negative subnormal survives
    that, and confidence "total" gives it weight |c| ≈ 0 and target 0."""
    data = (np.asarray(X.data, dtype=np.float32) * alpha).astype(np.float32, copy=False)
    data[data == 0] = -np.finfo(np.float32).smallest_subnormal
    return sp.csr_array((data, X.indices, X.indptr), shape=X.shape)
