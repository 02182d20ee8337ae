"""A dense, deliberately naive solver of the WALS objective, for testing.

It shares none of the kernels' algebra: full users × items weight and target
matrices, the normal equations of each row summed over every column (no YᵀY
trick), numpy.linalg.solve per row, the objective summed over every entry.
"""

import numpy as np


def confidence(r, kind, epsilon):
    if kind == "linear":
        return r
    if kind == "log":
        return np.log(1.0 + r / epsilon)
    if kind == "constant":
        return np.ones_like(r)
    raise ValueError(kind)


def unobserved_side_weights(R, axis, value, exponent):
    """The unobserved weights of the users (axis=1) or items (axis=0): ones for
    None, the array itself, or for "popularity" (count of non-zeros)**exponent
    divided by its mean over that side; a row without entries weighs 0 (1 when
    the exponent is 0, as 0**0 is)."""
    observed = np.asarray(R) != 0
    n = observed.shape[1 - axis]
    if value is None:
        return np.ones(n)
    if isinstance(value, str):
        assert value == "popularity"
        counts = [sum(1 for x in (observed[j] if axis == 1 else observed[:, j]) if x)
                  for j in range(n)]
        raw = np.array([float(c) ** exponent if c or exponent == 0 else 0.0
                        for c in counts])
        return raw / (sum(raw) / n)
    return np.asarray(value, dtype=np.float64)


def weights_and_targets(R, *, unobserved_weight=1.0, alpha=1.0, confidence_kind="linear",
                        epsilon=1.0, feedback="implicit", row_weights=None, col_weights=None,
                        unobserved_rows=None, unobserved_cols=None):
    """Full W and T for a dense R whose non-zero entries are the observations;
    unobserved_rows / unobserved_cols: a and b of the unobserved entries' weight
    w0·a_u·b_i (None: ones)."""
    R = np.asarray(R, dtype=np.float64)
    observed = R != 0
    rho = np.ones(R.shape[0]) if row_weights is None else np.asarray(row_weights, float)
    kappa = np.ones(R.shape[1]) if col_weights is None else np.asarray(col_weights, float)
    a = np.ones(R.shape[0]) if unobserved_rows is None else np.asarray(unobserved_rows, float)
    b = np.ones(R.shape[1]) if unobserved_cols is None else np.asarray(unobserved_cols, float)
    W = np.empty(R.shape)
    for u in range(R.shape[0]):
        for i in range(R.shape[1]):
            W[u, i] = float(unobserved_weight) * a[u] * b[i]
    T = np.zeros(R.shape)
    for u, i in zip(*np.nonzero(observed)):
        if confidence_kind == "total":  # the whole weight, replacing w0·a·b; target 0 for r < 0
            W[u, i] = alpha * abs(R[u, i]) * rho[u] * kappa[i]
            T[u, i] = 1.0 if R[u, i] > 0 else 0.0
            continue
        W[u, i] += alpha * confidence(R[u, i], confidence_kind, epsilon) * rho[u] * kappa[i]
        T[u, i] = 1.0 if feedback == "implicit" else R[u, i]
    return W, T, observed


def lambdas(observed, axis, regularization, unobserved_weight, reg_exponent, own=None,
            other=None):
    """λ per user (axis=1) or item (axis=0): regularization·(n + w0·a·Σb)^reg_exponent
    with a = own (this side's unobserved weights) and b = other (the other side's)."""
    n = observed.sum(axis=axis)
    n_other = observed.shape[axis]
    own = np.ones(n.size) if own is None else own
    mass = n_other if other is None else sum(other)
    return np.array([regularization * (c + unobserved_weight * own[j] * mass) ** reg_exponent
                     for j, c in enumerate(n)], dtype=np.float64)


def solve_rows(W, T, Y, lam):
    """argmin_x Σ_i W[u,i] (T[u,i] − x·y_i)² + λ_u‖x‖² for every row u."""
    Y = np.asarray(Y, dtype=np.float64)
    k = Y.shape[1]
    X = np.zeros((W.shape[0], k))
    for u in range(W.shape[0]):
        A = np.zeros((k, k))
        b = np.zeros(k)
        for i in range(W.shape[1]):
            A += W[u, i] * np.outer(Y[i], Y[i])
            b += W[u, i] * T[u, i] * Y[i]
        A += lam[u] * np.eye(k)
        try:
            X[u] = np.linalg.solve(A, b)
        except np.linalg.LinAlgError:  # singular (w0 = λ = 0, empty row): minimum norm
            X[u] = np.linalg.lstsq(A, b, rcond=None)[0]
    return X


def block_pass(W, T, Y, lam, X0, block_size, exact_rows):
    """One pass of exact block coordinate descent (iALS++) over every row, from X0:
    dimensions block_size at a time in order, each block set to the minimiser
    of the row objective with the others fixed; rows in exact_rows (a mask) are
    solved exactly instead, as the subspace solver does for short rows."""
    Y = np.asarray(Y, dtype=np.float64)
    X = np.array(X0, dtype=np.float64)
    k = Y.shape[1]
    exact = solve_rows(W, T, Y, lam)
    for u in range(W.shape[0]):
        if exact_rows[u]:
            X[u] = exact[u]
            continue
        A = (Y.T * W[u]) @ Y + lam[u] * np.eye(k)
        b = Y.T @ (W[u] * T[u])
        for b0 in range(0, k, block_size):
            B = slice(b0, min(k, b0 + block_size))
            rest = b[B] - A[B] @ X[u] + A[B, B] @ X[u, B]
            X[u, B] = np.linalg.solve(A[B, B], rest)
    return X


def objective(W, T, X, Y, lam_users, lam_items):
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    total = 0.0
    for u in range(W.shape[0]):
        for i in range(W.shape[1]):
            total += W[u, i] * (T[u, i] - X[u] @ Y[i]) ** 2
    total += sum(lam_users[u] * X[u] @ X[u] for u in range(X.shape[0]))
    total += sum(lam_items[i] * Y[i] @ Y[i] for i in range(Y.shape[0]))
    return total


class Reference:
    """Both half-sweeps and the objective of one problem, from a dense R and
    the estimator's hyperparameter names."""

    def __init__(self, R, *, regularization=0.01, alpha=1.0, unobserved_weight=1.0,
                 confidence="linear", epsilon=1.0, feedback="implicit", reg_exponent=0.0,
                 row_weights=None, col_weights=None, unobserved_row_weights=None,
                 unobserved_col_weights=None, unobserved_exponent=0.5):
        self.a = unobserved_side_weights(R, 1, unobserved_row_weights, unobserved_exponent)
        self.b = unobserved_side_weights(R, 0, unobserved_col_weights, unobserved_exponent)
        self.W, self.T, observed = weights_and_targets(
            R, unobserved_weight=unobserved_weight, alpha=alpha, confidence_kind=confidence,
            epsilon=epsilon, feedback=feedback, row_weights=row_weights, col_weights=col_weights,
            unobserved_rows=self.a, unobserved_cols=self.b)
        self.lam_users = lambdas(observed, 1, regularization, unobserved_weight, reg_exponent,
                                 self.a, self.b)
        self.lam_items = lambdas(observed, 0, regularization, unobserved_weight, reg_exponent,
                                 self.b, self.a)

    def solve_users(self, Y):
        return solve_rows(self.W, self.T, Y, self.lam_users)

    def block_pass_users(self, Y, X0, block_size, exact_rows):
        return block_pass(self.W, self.T, Y, self.lam_users, X0, block_size, exact_rows)

    def solve_items(self, X):
        return solve_rows(self.W.T, self.T.T, X, self.lam_items)

    def objective(self, X, Y):
        return objective(self.W, self.T, X, Y, self.lam_users, self.lam_items)
