"""Confidence transforms, unobserved-entry weights and regularization scaling of
the WALS objective.

Unobserved weight  w0 · a_u · b_i        (a, b: unobserved_row_weights / unobserved_col_weights,
                   default all ones; eALS, He et al. 2016)
Observed weight    w_ui = w0·a_u·b_i + alpha · f(r_ui) · ρ_u · κ_i
                   (confidence "total": w_ui = alpha · |r_ui| · ρ_u · κ_i, target 1 if r_ui > 0
                   else 0; the observed weight may then be below the unobserved one)
Regularization     λ_u  = regularization · (n_u + w0 · a_u · Σ_i b_i)^reg_exponent
                   (n_u + w0 · n_other with the default weights)
"""

import numpy as np

from ._kernels._common import CONF_CONSTANT, CONF_LINEAR, CONF_LOG, CONF_TOTAL

CONFIDENCE = {
    "linear": CONF_LINEAR,      # f(r) = r                (Hu, Koren & Volinsky 2008)
    "log": CONF_LOG,            # f(r) = log(1 + r/epsilon)
    "constant": CONF_CONSTANT,  # f(r) = 1                (every observation alike)
    # the whole observed weight alpha·|r|·ρ·κ (replacing w0, not added to it), target 1 for
    # r > 0 and 0 for r < 0: implicit's ALS objective (confidence c = alpha·r) when w0 = 1
    "total": CONF_TOTAL,
}
FEEDBACK = ("implicit", "explicit")
# the named rules for unobserved_row_weights / unobserved_col_weights (besides an array)
UNOBSERVED_RULES = ("popularity",)


def regularization_per_row(counts, unobserved_mass, regularization, unobserved_weight,
                           reg_exponent):
    """λ for each row, given its number of observed entries and the sum of its
    unobserved weights over the other side before w0, a_u·Σ_i b_i: the size of
    the other side with the default weights (a scalar then), else one value per
    row. 0**0 is 1, so reg_exponent=0 gives plain λ even for empty rows."""
    base = counts.astype(np.float64) + unobserved_weight * unobserved_mass
    return regularization * np.power(base, reg_exponent)


def popularity_weights(counts, exponent):
    """The "popularity" unobserved weights of one side: n^exponent for each
    row's number of stored entries n, normalised to mean 1 (float64). A
    negative exponent makes the rarest rows weigh most. Rows without entries
    weigh 0 (exponent != 0; their weight is never used: their factors are 0)
    or 1 (exponent = 0: all ones)."""
    counts = counts.astype(np.float64)
    if exponent == 0:
        return np.ones_like(counts)
    raw = np.zeros_like(counts)
    np.power(counts, exponent, out=raw, where=counts > 0)
    return raw / raw.mean()
