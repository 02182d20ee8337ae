"""implicit's AlternatingLeastSquares on fastwals's kernels: a one-line change,

    from implicit.als import AlternatingLeastSquares     # before
    from fastwals.implicit import AlternatingLeastSquares  # after

gives the same model (implicit 0.7.3's CPU model: objective, solvers,
initialisation, results, files) fitted and served by fastwals.
"""

from . import als
from ._compat import ModelFitError, ParameterWarning
from .als import AlternatingLeastSquares, calculate_loss

__all__ = ["AlternatingLeastSquares", "ModelFitError", "ParameterWarning", "als",
           "calculate_loss"]
