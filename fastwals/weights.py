"""Confidence transforms and regularization scaling of the WALS objective.

Observed weight  w_ui = w0 + alpha · f(r_ui) · ρ_u · κ_i
                 (confidence "total": w_ui = alpha · |r_ui| · ρ_u · κ_i, target 1 if r_ui > 0
                 else 0; the observed weight may then be below w0)
Regularization   λ_u  = regularization · (n_u + w0 · n_other)^reg_exponent
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


def regularization_per_row(counts, n_other, regularization, unobserved_weight, reg_exponent):
    """λ for each row, given its number of observed entries and the size of the
    other side. 0**0 is 1, so reg_exponent=0 gives plain λ even for empty rows."""
    base = counts.astype(np.float64) + unobserved_weight * n_other
    return regularization * np.power(base, reg_exponent)
