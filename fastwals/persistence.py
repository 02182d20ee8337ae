"""Saving and loading a model: a versioned .npz archive, written atomically.

The archive holds plain arrays only (read with allow_pickle=False): the format
name and version, the hyperparameters as JSON, the fitted state. Writing goes
to a temporary file in the target's directory, then renames it over the final
name, so a crash never leaves a half-written model under that name.
"""

import json
import os
import zipfile
import zlib

import numpy as np

from ._atomic import atomic_file

FORMAT = "fastwals-model"
FORMAT_VERSION = 1


def save(model, path):
    """Write `model` (fitted or not) to `path` (".npz" is not appended)."""
    from . import __version__

    params = model.get_params()
    arrays = {}
    for name in ("row_weights", "col_weights"):
        if params[name] is not None:
            arrays[f"param_{name}"] = np.asarray(params[name])
            params[name] = "<array>"
    params["dtype"] = np.dtype(params["dtype"]).name
    if not (params["random_state"] is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a Generator's state is not part of the model
    params["callback"] = None  # code is not data
    arrays.update(format=np.array(FORMAT), format_version=np.array(FORMAT_VERSION),
                  fastwals_version=np.array(__version__),
                  params=np.array(json.dumps(params, default=_plain)))
    if hasattr(model, "user_factors_"):
        arrays.update(user_factors=model.user_factors_, item_factors=model.item_factors_,
                      n_iter=np.array(model.n_iter_),
                      loss_history=np.array(model.loss_history_, dtype=np.float64))
    if hasattr(model, "user_ids_"):  # raw ids from fastwals.io
        arrays.update(user_ids=model.user_ids_.ids, item_ids=model.item_ids_.ids)
    if hasattr(model, "best_iteration_"):  # fitted with validation
        arrays.update(best_iteration=np.array(model.best_iteration_),
                      validation_history=np.array(model.validation_history_, np.float64))

    with atomic_file(path) as f:
        np.savez(f, **arrays)


def _plain(value):
    if isinstance(value, np.generic):  # numpy scalars among the hyperparameters
        return value.item()
    raise TypeError(f"cannot save the parameter value {value!r} ({type(value).__name__})")


def load(cls, path):
    """Read a model written by `save`; every problem is an error naming the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError) as exc:
        raise ValueError(f"{path!r} is not a readable fastwals model: truncated, corrupt or "
                         f"not an .npz archive ({type(exc).__name__}: {exc})") from None
    if "format" not in data or str(data["format"]) != FORMAT:
        raise ValueError(f"{path!r} is not a fastwals model file (an .npz archive without "
                         f"the format tag {FORMAT!r})")
    version = int(data.get("format_version", -1))
    if version != FORMAT_VERSION:
        newer = "a newer" if version > FORMAT_VERSION else "an unknown"
        raise ValueError(f"{path!r} has model format version {version}, written by {newer} "
                         f"fastwals; this version reads format {FORMAT_VERSION}")
    try:
        params = json.loads(str(data["params"]))
        for name in ("row_weights", "col_weights"):
            if params[name] == "<array>":
                params[name] = data[f"param_{name}"]
        params["dtype"] = np.dtype(params["dtype"]).type
        model = cls(**params)
        if "user_factors" in data:
            model.user_factors_ = np.ascontiguousarray(data["user_factors"])
            model.item_factors_ = np.ascontiguousarray(data["item_factors"])
            model.n_iter_ = int(data["n_iter"])
            model.loss_history_ = [float(v) for v in data["loss_history"]]
        if "user_ids" in data:
            from .idmap import IdMap
            model.user_ids_, model.item_ids_ = IdMap(data["user_ids"]), IdMap(data["item_ids"])
        if "best_iteration" in data:
            model.best_iteration_ = int(data["best_iteration"])
            model.validation_history_ = [float(v) for v in data["validation_history"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path!r} is a damaged fastwals model file: {type(exc).__name__}: "
                         f"{exc}") from None
    return model
