"""implicit's training loss: the objective over the number of weighted entries.

implicit (cpu/_als.pyx calculate_loss) reports, for confidences c = alpha·r,

    (Σ_obs |c|·(t − x·y)² + Σ_unobs (x·y)² + λ(‖X‖² + ‖Y‖²) + Σ_{c<0} |c|)
    / (Σ|c| + users·items − nnz)

t = 1 where c > 0, else 0; the Σ_{c<0} |c| is a constant implicit's formula
adds for negative entries. The numerator less that constant is fastwals's
objective with confidence="total", computed without densifying.
"""

import numpy as np

from .. import WALS, _problem
from .._threads import compute_threads
from .._validation import as_csr, check_params
from ._compat import check_csr
from ._rows import confidences
from ._threads import n_threads


class Normaliser:
    """Turns fastwals's objective into implicit's loss, for confidences csr."""

    def __init__(self, csr):
        c = np.abs(csr.data.astype(np.float64))
        self.constant = float(c[csr.data < 0].sum())
        self.weights = float(c.sum()) + csr.shape[0] * csr.shape[1] - csr.nnz

    def __call__(self, objective):
        return (objective + self.constant) / self.weights


def calculate_loss(Cui, X, Y, regularization, num_threads=0):
    """implicit.cpu.als.calculate_loss: the normalised loss of factors X (users)
    and Y (items) for confidences Cui (users × items CSR; read as float32, and
    λ as a float32, as implicit reads them)."""
    X = np.ascontiguousarray(X)
    dtype = X.dtype
    Y = np.ascontiguousarray(Y, dtype=dtype)
    csr = as_csr(confidences(check_csr(Cui, "Cui"), 1.0), dtype=dtype, name="Cui",
                 allow_empty=True)
    if X.ndim != 2 or Y.ndim != 2 or (X.shape[0], Y.shape[0]) != csr.shape \
            or X.shape[1] != Y.shape[1]:
        raise ValueError(f"calculate_loss: factors {X.shape} (users) and {Y.shape} (items) do "
                         f"not fit Cui {csr.shape}")
    p = check_params(WALS(X.shape[1], regularization=float(np.float32(regularization)),
                          confidence="total", dtype=dtype).get_params())
    problem = _problem.build(csr, p, np.ones(csr.shape[0], dtype), np.ones(csr.shape[1], dtype))
    with compute_threads(n_threads(num_threads)):
        objective = _problem.objective(problem, X, Y)
    return Normaliser(csr)(objective)
