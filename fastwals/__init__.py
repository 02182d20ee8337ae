"""fastwals: Weighted Alternating Least Squares on Numba kernels."""

from .idmap import IdMap
from .io import Interactions, read_interactions
from .model import WALS

__version__ = "0.1.0"
__all__ = ["WALS", "IdMap", "Interactions", "read_interactions", "__version__"]
