"""implicit's model files: numpy .npz archives of the factors and parameters.

The same keys, values and naming as implicit 0.7.3 (RecommenderBase.load,
cpu AlternatingLeastSquares.save), so that files move both ways. Unlike
implicit, a file written to a path goes through a temporary file renamed
into place (a crash never leaves half a model), and loading checks the
factors (2-D, finite, agreeing in their number of factors).
"""

import os
import zipfile

import numpy as np

from .._atomic import atomic_file

KEYS = ("user_factors", "item_factors", "regularization", "factors", "num_threads",
        "iterations", "use_native", "use_cg", "cg_steps", "calculate_training_loss", "dtype",
        "random_state", "alpha")


def save(model, fileobj_or_path):
    args = {key: getattr(model, key) for key in KEYS}
    args["dtype"] = np.dtype(model.dtype).name
    # implicit leaves out what is None (np.load cannot read it without pickle)
    args = {key: value for key, value in args.items() if value is not None}
    if hasattr(fileobj_or_path, "write"):
        np.savez(fileobj_or_path, **args)
        return
    path = os.fspath(fileobj_or_path)
    if not path.endswith(".npz"):  # as np.savez names it
        path += ".npz"
    with atomic_file(path) as f:
        np.savez(f, **args)


def load(cls, fileobj_or_path):
    if isinstance(fileobj_or_path, str) and not fileobj_or_path.endswith(".npz"):
        fileobj_or_path += ".npz"
    name = getattr(fileobj_or_path, "name", fileobj_or_path)
    try:
        with np.load(fileobj_or_path, allow_pickle=False) as data:
            values = {key: data[key] for key in data.files if key in KEYS}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ValueError(f"{name}: not a readable model file ({type(e).__name__}: {e})") from e
    model = cls()
    for key, value in values.items():
        if key == "dtype":
            value = np.dtype(str(value))
        elif value.shape == ():
            value = value.item()
        setattr(model, key, value)
    _check_factors(model, name)
    return model


def _check_factors(model, name):
    k = None
    for key in ("user_factors", "item_factors"):
        F = getattr(model, key)
        if F is None:
            continue
        if F.ndim != 2 or F.dtype.kind != "f" or not np.isfinite(F).all():
            raise ValueError(f"{name}: {key} must be a 2-D array of finite floats, got "
                             f"shape {F.shape}, dtype {F.dtype}")
        if k is not None and F.shape[1] != k:
            raise ValueError(f"{name}: user_factors has {k} factors, item_factors "
                             f"{F.shape[1]}")
        k = F.shape[1]
