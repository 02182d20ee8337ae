"""fastwals: Weighted Alternating Least Squares on Numba kernels."""

from .model import WALS

__version__ = "0.1.0"
__all__ = ["WALS", "__version__"]
