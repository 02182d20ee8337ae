"""Small inlined pieces shared by the kernels."""

from numba import njit
import numpy as np

# confidence transforms f(r); the public names live in fastwals/weights.py
CONF_LINEAR = 0    # f(r) = r
CONF_LOG = 1       # f(r) = log(1 + r/epsilon)
CONF_CONSTANT = 2  # f(r) = 1


@njit(cache=True, nogil=True, inline="always")
def observed_weight(r, alpha, conf_kind, epsilon, row_weight, col_weight):
    """w_ui − w0 = alpha·f(r)·ρ_u·κ_i, in the dtype of its arguments."""
    if conf_kind == CONF_CONSTANT:
        return alpha * row_weight * col_weight
    if conf_kind == CONF_LOG:
        return alpha * np.log1p(r / epsilon) * row_weight * col_weight
    return alpha * r * row_weight * col_weight
