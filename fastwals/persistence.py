"""Saving and loading a model: a versioned .npz archive, written atomically.

The archive holds plain arrays only (read with allow_pickle=False): the format
name and version, the hyperparameters as JSON, the fitted state and the raw-id
maps (stored by fastwals.idmap). Writing goes through _atomic.atomic_file, so a
crash never leaves a half-written model under the final name.

Loading trusts nothing in the file: each member's .npy header is read and its
declared size compared with the bytes the member can hold before any array is
allocated; then every array is checked against the others and against the
hyperparameters (shapes, dtypes, finite factors, unique ids), so a damaged file
is a ValueError naming it and the problem, never a model that serves garbage.

Format versions: 1 stores string ids as one numpy unicode array, 2 as UTF-8
bytes and offsets (idmap.id_map_arrays). Both are read; a model is written in
version 1 unless it has string ids, so older fastwals still read the others.
"""

import json
import os
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy

from ._atomic import atomic_file
from ._validation import check_dtype, check_int, check_params, check_random_state, \
    check_weights
from .idmap import id_map_arrays, id_map_from_arrays

FORMAT = "fastwals-model"
FORMAT_VERSION = 2
READS = (1, 2)
# deflate cannot expand data more than 1032-fold: a bound on what a compressed
# member can really hold, whatever its header claims
_DEFLATE_RATIO = 1032
# hyperparameters that may be arrays: stored as members "param_<name>"
ARRAY_PARAMS = ("row_weights", "col_weights", "unobserved_row_weights", "unobserved_col_weights")
# the unobserved weights of the fit (members named so; attributes with a trailing "_"),
# stored whenever the hyperparameter is not None, for the (user, item) factors
FITTED_UNOBSERVED = ("unobserved_row_weights", "unobserved_col_weights")


def save(model, path):
    """Write `model` (fitted or not) to `path` (".npz" is not appended)."""
    from . import __version__

    params = model.get_params()
    arrays = {}
    for name in ARRAY_PARAMS:
        if params[name] is not None and not isinstance(params[name], str):
            arrays[f"param_{name}"] = np.asarray(params[name])
            params[name] = "<array>"
    params["dtype"] = np.dtype(params["dtype"]).name
    if not (params["random_state"] is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a Generator's state is not part of the model
    params["callback"] = None  # code is not data
    arrays.update(format=np.array(FORMAT), fastwals_version=np.array(__version__),
                  params=np.array(json.dumps(params, default=_plain)))
    if hasattr(model, "user_factors_"):
        arrays.update(user_factors=model.user_factors_, item_factors=model.item_factors_,
                      n_iter=np.array(model.n_iter_),
                      loss_history=np.array(model.loss_history_, dtype=np.float64))
        for name in FITTED_UNOBSERVED:  # the weights of the fit ("popularity": of its X)
            if model.__dict__.get(name + "_") is not None:
                arrays[name] = np.asarray(model.__dict__[name + "_"], np.float64)
    if hasattr(model, "user_ids_"):  # raw ids from fastwals.io
        arrays.update(id_map_arrays(model.user_ids_, "user_ids"))
        arrays.update(id_map_arrays(model.item_ids_, "item_ids"))
    if hasattr(model, "best_iteration_"):  # fitted with validation
        arrays.update(best_iteration=np.array(model.best_iteration_),
                      validation_history=np.array(model.validation_history_, np.float64))

    # the oldest version that holds it, so older readers still load integer-id models
    version = 2 if any(key.endswith("_utf8") for key in arrays) else 1
    arrays["format_version"] = np.array(version)
    _check_loadable(model, arrays, path)
    with atomic_file(path) as f:
        np.savez(f, **arrays)


def _check_loadable(model, arrays, path):
    """Refuse to write what load would refuse (say, factors changed by set_params
    after the fit): the checks of load, but the id maps, which are checked
    by their lengths (IdMap holds unique ids)."""
    try:
        _model(type(model), {key: value for key, value in arrays.items()
                             if not key.startswith(("user_ids", "item_ids"))})
        if hasattr(model, "user_ids_"):
            _check_id_lengths(model, (model.user_ids_, model.item_ids_), "{}_ids_",
                              "{}_factors_")
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"cannot save to {os.fspath(path)!r}: the model would not load back: "
                         f"{exc}. Refit it, or set back the hyperparameters it was fitted "
                         f"with") from None


def _plain(value):
    if isinstance(value, np.generic):  # numpy scalars among the hyperparameters
        return value.item()
    raise TypeError(f"cannot save the parameter value {value!r} ({type(value).__name__})")


class _Damaged(ValueError):
    """A readable archive whose contents are wrong (the caller names the file)."""


class _NotModel(ValueError):
    """A readable archive that is not a fastwals model (no format tag)."""


# what a file that is not a zip archive at all may be, by its first bytes
_FOREIGN = [(b"\x93NUMPY", "a single .npy array"), (b"\x80", "a Python pickle"),
            (b"PAR1", "a Parquet file"), (b"\x1f\x8b", "a gzip-compressed file")]


def _not_a_zip(path):
    """What to say of a file that is not a zip archive (a model is one), or None
    when it starts like one (then it is a truncated or corrupt archive)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head.startswith(b"PK"):
        return None
    kind = next((what for magic, what in _FOREIGN if head.startswith(magic)), None)
    if not head:
        described = "it is empty"
    else:
        described = f"it starts with {head!r}" + (f", like {kind}" if kind else "")
    return (f"not a model file at all ({described}; a model is the .npz archive that "
            f"`fastwals fit` or WALS.save writes)")


def load(cls, path):
    """Read a model written by `save`; every problem is a ValueError naming the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        data = _read_archive(path)
    except _NotModel as exc:
        raise ValueError(f"{path!r} is not a fastwals model file: {exc}") from None
    except _Damaged as exc:
        raise ValueError(f"{path!r} is a damaged fastwals model file: {exc}") from None
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError, ValueError,
            NotImplementedError) as exc:
        foreign = _not_a_zip(path)
        if foreign is not None:
            raise ValueError(f"{path!r} is not a readable fastwals model: {foreign}") from None
        raise ValueError(f"{path!r} is not a readable fastwals model: truncated, corrupt or "
                         f"not an .npz archive ({type(exc).__name__}: {exc})") from None
    _check_format(path, data)
    try:
        return _model(cls, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path!r} is a damaged fastwals model file: {exc}") from None


# ---------------------------------------------------------------- the archive

def _read_archive(path):
    """{key: array} for the .npy members of the zip archive at path, each one's
    header checked against the member's size before its array is allocated."""
    size = os.path.getsize(path)
    with zipfile.ZipFile(path) as archive:
        data = {}
        members = [info.filename for info in archive.infolist()]
        try:  # the format tag first: another archive is not a damaged model
            tag = _read_member(archive, archive.getinfo("format.npy"), size)
        except (KeyError, _Damaged):
            tag = None
        if not _is_tag(tag):
            shown = ", ".join(repr(m) for m in members[:10]) + (", ..." if len(members) > 10
                                                                 else "")
            raise _NotModel(f"an .npz archive without the format tag {FORMAT!r} (it holds "
                            f"{shown or 'nothing'})")
        for info in archive.infolist():
            if info.filename.endswith(".npy"):
                data[info.filename[:-4]] = _read_member(archive, info, size)
        return data


def _read_member(archive, info, archive_size):
    key = info.filename[:-4]
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Damaged(f"{key!r} is compressed with zip method {info.compress_type}; "
                       f"fastwals writes stored or deflated members only")
    if info.compress_size > archive_size:
        raise _Damaged(f"{key!r} claims {info.compress_size:,} bytes in a file of "
                       f"{archive_size:,} bytes (truncated?)")
    with archive.open(info) as f:
        version = npy.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(f)
        else:
            raise _Damaged(f"{key!r} is in .npy format {version}, not 1.0 or 2.0")
        header = f.tell()
    if any(n < 0 for n in shape):
        raise _Damaged(f"{key!r} declares the shape {shape}")
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise _Damaged(f"{key!r} has dtype {dtype}: fastwals stores plain arrays only")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    room = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED
                                 else _DEFLATE_RATIO)
    held = min(info.file_size, room) - header
    if declared > held:
        raise _Damaged(f"{key!r} declares shape {shape} of {dtype} ({declared:,} bytes) but "
                       f"its member holds at most {max(held, 0):,} bytes (truncated or forged)")
    with archive.open(info) as f:
        return npy.read_array(f, allow_pickle=False)


def _describe(arr):
    if arr.ndim == 0:
        return f"{arr.item()!r} (dtype {arr.dtype})"
    return f"dtype {arr.dtype} and shape {arr.shape}"


def _is_tag(tag):
    return tag is not None and tag.ndim == 0 and tag.dtype.kind == "U" and tag.item() == FORMAT


def _check_format(path, data):
    """The format version (_read_archive has checked the tag)."""
    version = data.get("format_version")
    if version is None or version.ndim != 0 or version.dtype.kind not in "iu":
        got = "none" if version is None else _describe(version)
        raise ValueError(f"{path!r} has an unreadable model format version: 'format_version' "
                         f"must be one integer, got {got}; the file is damaged")
    version = int(version)
    if version not in READS:
        newer = "a newer" if version > FORMAT_VERSION else "an unknown"
        raise ValueError(f"{path!r} has model format version {version}, written by {newer} "
                         f"fastwals; this version reads formats {', '.join(map(str, READS))}")


# ---------------------------------------------------------------- the model

def _get(data, key, ndim, kinds, what):
    """data[key], checked to have `ndim` dimensions and a dtype kind in `kinds`."""
    if key not in data:
        raise ValueError(f"{key!r} is missing")
    arr = data[key]
    if arr.ndim != ndim or arr.dtype.kind not in kinds:
        raise ValueError(f"{key!r} must be {what}, got {_describe(arr)}")
    return arr


def _together(data, keys):
    """True if all of keys are in data, False if none is; otherwise an error."""
    present = [key in data for key in keys]
    if any(present) and not all(present):
        have = [k for k, p in zip(keys, present) if p]
        lack = [k for k, p in zip(keys, present) if not p]
        raise ValueError(f"it holds {', '.join(map(repr, have))} without "
                         f"{', '.join(map(repr, lack))}")
    return all(present)


def _model(cls, data):
    params = json.loads(_get(data, "params", 0, "U", "a JSON text").item())
    if not isinstance(params, dict):
        raise ValueError(f"'params' must be a JSON object, got {type(params).__name__}")
    unknown = sorted(set(params) - set(cls._param_names()))
    if unknown:
        raise ValueError(f"'params' has unknown hyperparameters {unknown}")
    for name in ARRAY_PARAMS:
        if params.get(name) == "<array>":
            params[name] = _get(data, f"param_{name}", 1, "biuf", "a 1-D array of weights")
    params["dtype"] = check_dtype(params.get("dtype", "float32")).type
    model = cls(**params)
    p = model.get_params()
    # n_threads may come from a larger machine: checked against this one when used
    check_params(dict(p, n_threads=None))
    if p["n_threads"] is not None:
        check_int("n_threads", p["n_threads"], 1)
    check_random_state(p["random_state"])

    fitted = _together(data, ("user_factors", "item_factors", "n_iter", "loss_history"))
    if fitted:
        _fitted_state(model, data, p)
    for name, side, what in (("row_weights", "user_factors", "user"),
                             ("col_weights", "item_factors", "item"),
                             ("unobserved_row_weights", "user_factors", "user"),
                             ("unobserved_col_weights", "item_factors", "item")):
        weights = p[name]
        if weights is not None and not isinstance(weights, str):
            n = getattr(model, side + "_").shape[0] if fitted else np.size(weights)
            check_weights(name, weights, n, f"{what} (row of {side!r})", np.float64)
    _fitted_unobserved(model, data, p, fitted)
    users, items = id_map_from_arrays(data, "user_ids"), id_map_from_arrays(data, "item_ids")
    if (users is None) != (items is None) or (users is not None and not fitted):
        raise ValueError("raw-id maps need both 'user_ids' and 'item_ids' and the fitted "
                         "factors they name")
    if users is not None:
        _check_id_lengths(model, (users, items), "'{}_ids'", "'{}_factors'")
        model.user_ids_, model.item_ids_ = users, items
    if _together(data, ("best_iteration", "validation_history")):
        if not fitted:
            raise ValueError("'best_iteration' needs the fitted factors")
        _validation_state(model, data)
    return model


def _fitted_unobserved(model, data, p, fitted):
    """The unobserved weights of the fit: a member for each of them whose
    hyperparameter is not None (and only then), as long as its side's factors."""
    for name, side in zip(FITTED_UNOBSERVED, ("user_factors", "item_factors")):
        if not fitted or p[name] is None:
            if name in data:
                raise ValueError(f"{name!r} is stored but the model "
                                 f"{'is not fitted' if not fitted else f'has {name}=None'}")
            if fitted:
                setattr(model, name + "_", None)
            continue
        if name not in data:
            raise ValueError(f"{name!r} is missing: the model was fitted with {name}="
                             f"{'<array>' if not isinstance(p[name], str) else repr(p[name])}")
        weights = _get(data, name, 1, "f", "a 1-D array of weights")
        n = getattr(model, side + "_").shape[0]
        setattr(model, name + "_",
                check_weights(repr(name), weights, n, f"row of {side!r}", np.float64))


def _check_id_lengths(model, maps, ids_name, factors_name):
    """The (user, item) id maps each as long as the model's factor rows of that
    side; the names (formats of the side) say what the message calls them."""
    for ids, side in zip(maps, ("user", "item")):
        n = getattr(model, f"{side}_factors_").shape[0]
        if len(ids) != n:
            raise ValueError(f"{ids_name.format(side)} holds {len(ids)} ids for the {n} rows "
                             f"of {factors_name.format(side)}")


def _fitted_state(model, data, p):
    k, dtype = p["factors"], np.dtype(p["dtype"])
    for side in ("user_factors", "item_factors"):
        arr = _get(data, side, 2, "f", f"a 2-D array of {dtype.name} factors")
        if arr.shape[1] != k:
            raise ValueError(f"{side!r} has {arr.shape[1]} factors per row (shape "
                             f"{arr.shape}), the hyperparameters say factors={k}")
        if arr.dtype.newbyteorder("=") != dtype:
            raise ValueError(f"{side!r} holds {arr.dtype} values, the hyperparameters say "
                             f"dtype={dtype.name}")
        _check_finite(side, arr)
        setattr(model, side + "_", np.ascontiguousarray(arr, dtype=dtype))
    n_iter = int(_get(data, "n_iter", 0, "iu", "one integer"))
    if n_iter < 0:
        raise ValueError(f"'n_iter' must be >= 0, got {n_iter}")
    loss = _get(data, "loss_history", 1, "f", "a 1-D array of floats")
    if loss.size > n_iter:
        raise ValueError(f"'loss_history' has {loss.size} values for n_iter={n_iter} iterations")
    _check_finite("loss_history", loss)
    model.n_iter_, model.loss_history_ = n_iter, [float(v) for v in loss]


def _validation_state(model, data):
    best = int(_get(data, "best_iteration", 0, "iu", "one integer"))
    history = _get(data, "validation_history", 1, "f", "a 1-D array of floats")
    n_iter = model.n_iter_
    # the last fit validated its len(history) iterations, the last n_iter of them
    if not (1 <= history.size <= n_iter and n_iter - history.size < best <= n_iter):
        raise ValueError(f"'best_iteration' {best} and the {history.size} values of "
                         f"'validation_history' do not fit n_iter={n_iter}")
    model.best_iteration_ = best
    model.validation_history_ = [float(v) for v in history]


def _check_finite(key, arr):
    # one float64 sum finds NaN or inf without a mask the size of the array
    if arr.size and not np.isfinite(arr.sum(dtype=np.float64)):
        bad = ~np.isfinite(arr)
        if bad.any():
            where = np.unravel_index(int(np.flatnonzero(bad)[0]), arr.shape)
            raise ValueError(f"{key!r} holds {int(bad.sum())} NaN or infinite values, the "
                             f"first at index {tuple(int(i) for i in where)} "
                             f"({float(arr[where])})")
