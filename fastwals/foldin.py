"""Fold-in: exact factors for given rows with the other side held fixed.

The same objective and the same kernel as a half-sweep of the fit (the exact
Cholesky solver), on a problem made of just those rows: TF WALS's project_row,
implicit's recalculate_user. The result is in the basis of the fixed factors.

Unobserved weights (w0·a_u·b_i): the other side's b are those of the last fit
(the model's unobserved_{row,col}_weights_); the rows' own a are given by the
caller (None: ones).
"""

import numpy as np

from . import _problem
from ._threads import compute_threads
from ._validation import as_csr, check_nonnegative, check_params, check_shape, \
    check_weights, rows_of
from .weights import regularization_per_row


def fitted_unobserved(model, side):
    """The unobserved weights (float64) of `side` ("user" or "item") of the model's
    last fit, None for all ones (or a model fitted before they existed)."""
    return model.__dict__.get("unobserved_row_weights_" if side == "user"
                              else "unobserved_col_weights_")


def solve_rows(model, side, rows, row_weights=None, name="rows", n_rows=None,
               unobserved=None):
    """Factors (len(rows) × k) for the rows of interactions `rows` of `side`
    ("user": rows over items; "item": rows over users), given the model's
    factors of the other side. row_weights: one per row (None: 1); n_rows: the
    number of rows expected (None: any); unobserved: the rows' own unobserved
    weights a (float64, one per row; None: 1)."""
    p = check_params(model.get_params())
    dtype = np.dtype(p["dtype"])
    other = model._fitted_pair(f"fold-in of {side}s")[1 if side == "user" else 0]
    n_other, k = other.shape
    csr = as_csr(rows, dtype=dtype, name=name, allow_empty=True)
    check_shape(name, csr.shape, (csr.shape[0] if n_rows is None else n_rows,), n_other,
                f": one row per id, one column per {'item' if side == 'user' else 'user'} "
                f"of the model",
                estimator=type(model).__name__ if side == "user" else None)  # n_features_in_
    if p["confidence"] in ("linear", "log"):
        check_nonnegative(csr, p["confidence"], name=name)
    other_weights = p["col_weights"] if side == "user" else p["row_weights"]
    cw = check_weights("col_weights" if side == "user" else "row_weights", other_weights,
                       n_other, "item" if side == "user" else "user", dtype)
    rw = check_weights("row_weights", row_weights, csr.shape[0], f"row of {name}", dtype)
    if csr.shape[0] == 0:
        return np.zeros((0, k), dtype=dtype)
    own = _problem.unobserved_or_none(unobserved)
    other_side = _problem.unobserved_or_none(
        fitted_unobserved(model, "item" if side == "user" else "user"))
    rows_side = _problem.Side(
        side, csr.indptr, csr.indices, csr.data, rw, cw,
        _problem.row_regularization(
            csr.indptr, _problem.unobserved_mass(own, other_side, n_other), p, dtype),
        None if own is None else own.astype(dtype),
        None if other_side is None else other_side.astype(dtype))
    problem = _problem.from_params(p, rows_side, solver="cholesky")
    Y = other.astype(dtype, copy=True)  # half_sweep rotates it in place
    X = np.zeros((csr.shape[0], k), dtype=dtype)
    with compute_threads(p["n_threads"]):
        Q = _problem.half_sweep(problem, rows_side, Y, X)
        if Q is not None:  # back from the eigenbasis to the model's basis
            _problem.rotate_rows(X, np.ascontiguousarray(Q.T))
    return X


def explain(model, pair, user_id, user_items, item_id, N):
    """(score, items, contributions): the folded-in user's score for item_id as a
    sum over the user's observed items j of w_uj·t_uj·y_jᵀA⁻¹y_i, where A is the
    user's system matrix (with the user's own row weight and unobserved weight
    a_u, and the items' b, of the fit); the N largest contributions, largest
    first. `pair`:
    the model's (user, item) factors as the caller read them (once: a refit may
    publish another pair meanwhile), against which the ids were checked."""
    p = check_params(model.get_params())
    U, Y = pair
    Y = Y.astype(np.float64)
    n_users, n_items = U.shape[0], Y.shape[0]
    row = rows_of(user_items, np.array([user_id]), n_users, n_items, "user_items",
                  ": the user's row, or one row per user of the model; one column per item",
                  dtype=np.float64)
    if p["confidence"] in ("linear", "log"):
        check_nonnegative(row, p["confidence"], name="user_items")
    idx, r = row.indices, row.data
    rho = 1.0 if p["row_weights"] is None else float(p["row_weights"][user_id])
    kappa = np.ones(idx.size) if p["col_weights"] is None else \
        np.asarray(p["col_weights"], np.float64)[idx]
    a, b = fitted_unobserved(model, "user"), fitted_unobserved(model, "item")
    a_u = 1.0 if a is None else float(a[user_id])
    G = Y.T @ Y if b is None else (Y.T * b) @ Y  # Yᵀ diag(b) Y
    b = np.ones(n_items) if b is None else np.asarray(b, np.float64)
    w0 = p["unobserved_weight"] * a_u  # the user's unobserved weights: w0·a_u·b_j
    if p["confidence"] == "total":  # the whole weight alpha·|r|·ρκ; target 0 for r < 0
        w = p["alpha"] * np.abs(r) * rho * kappa
        extra = w - w0 * b[idx]
        wt = np.where(r > 0, w, 0.0)
    else:
        f = (np.log1p(r / p["epsilon"]) if p["confidence"] == "log" else
             np.ones_like(r) if p["confidence"] == "constant" else r)
        extra = p["alpha"] * f * rho * kappa
        wt = (w0 * b[idx] + extra) * (r if p["feedback"] == "explicit" else 1.0)
    lam = regularization_per_row(np.array([idx.size]), a_u * b.sum(), p["regularization"],
                                 p["unobserved_weight"], p["reg_exponent"])[0]
    Yo = Y[idx]
    A = w0 * G + (Yo.T * extra) @ Yo + lam * np.eye(Y.shape[1])
    try:
        v = np.linalg.solve(A, Y[item_id])  # A⁻¹ y_i
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(
            f"explain: user {user_id}'s system is singular ({idx.size} observations, "
            f"λ = {lam:g}); raise `regularization`") from None
    contributions = wt * (Yo @ v)
    order = np.argsort(-contributions, kind="stable")[:N]
    return float(contributions.sum()), idx[order].astype(np.int64), contributions[order]
