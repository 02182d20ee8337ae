"""fastwals: Weighted Alternating Least Squares on Numba kernels."""

# first: the threading-layer policy must act before any Numba parallel code runs
from . import _layer

_layer.configure()

from .idmap import IdMap  # noqa: E402
from .io import Interactions, read_interactions  # noqa: E402
from .model import WALS  # noqa: E402

__version__ = "0.1.0"
__all__ = ["WALS", "IdMap", "Interactions", "read_interactions", "tune", "__version__"]


def __getattr__(name):
    # fastwals.tune (in fastwals.tuning) is loaded on first use: it needs Optuna,
    # an optional extra, which `import fastwals` must not
    if name == "tune":
        from .tuning import tune
        return tune
    raise AttributeError(f"module 'fastwals' has no attribute {name!r}")
