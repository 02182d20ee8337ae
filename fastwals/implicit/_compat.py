"""The warning and exception classes implicit users catch.

Code moving from implicit may filter implicit.utils.ParameterWarning or catch
implicit.recommender_base.ModelFitError. fastwals.implicit never imports
implicit, but when the user's process has loaded those modules, what it raises
is also an instance of implicit's class (a subclass of both), so that code
keeps working; otherwise it is fastwals.implicit's own class.
"""

import functools
import sys
import time
import warnings

import scipy.sparse as sp


class ParameterWarning(Warning):
    """An input that works but is not what implicit's API expects (non-CSR input)."""

    __module__ = "fastwals.implicit"


class ModelFitError(FloatingPointError):
    """The fit produced factors that are NaN or infinite."""

    __module__ = "fastwals.implicit"


@functools.cache
def _joined(ours, theirs):
    return type(ours.__name__, (ours, theirs), {"__module__": ours.__module__})


def flavoured(ours, module, name):
    """`ours`, or a class deriving from it and implicit's `module.name` when
    the process has imported that module."""
    theirs = getattr(sys.modules.get(module), name, None)
    if not isinstance(theirs, type) or issubclass(ours, theirs):
        return ours
    return _joined(ours, theirs)


def is_csr(X):
    """implicit takes a csr_matrix; a csr_array is accepted alike."""
    return sp.issparse(X) and X.format == "csr"


def check_csr(X, name="user_items"):
    """X as CSR; any other sparse format is converted with implicit's
    ParameterWarning (as implicit.utils.check_csr does)."""
    if is_csr(X):
        return X
    if not sp.issparse(X):
        raise TypeError(f"{name} must be a scipy.sparse CSR matrix (implicit's API), got "
                        f"{type(X).__name__}")
    start = time.time()
    converted = X.tocsr()
    warnings.warn(f"Method expects CSR input, and was passed {type(X).__name__} instead. "
                  f"Converting to CSR took {time.time() - start} seconds",
                  flavoured(ParameterWarning, "implicit.utils", "ParameterWarning"),
                  stacklevel=3)
    return converted
