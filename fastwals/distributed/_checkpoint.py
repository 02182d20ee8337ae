"""Checkpoints of a distributed fit: the factors every N iterations, so that a
fit can resume, and so that Dask's lineage (what it recomputes when a worker
is lost) reaches back only to the last checkpoint.

Layout under the checkpoint directory (on storage every worker can reach):

    manifest.json          written last, atomically: names the complete iteration
    iter-000010/user-00000.npy, ..., item-00000.npy, ...   one file per block
    iter-000010/pending-user.npy   a side's pending rotation (k × k), if it has one

Blocks are saved as the fit holds them, with their pending rotation (see
_sweep), so that a resumed fit is the uninterrupted one to the bit.

Workers write their own blocks (temporary name, then rename); the driver then
writes the manifest, continues from futures that read the new files, and only
then removes older iterations. A crash at any point leaves the previous
manifest and its files intact.
"""

import hashlib
import json
import os
import shutil

import numpy as np

from .._atomic import atomic_file
from . import _cluster

FORMAT = "fastwals-distributed-checkpoint"
VERSION = 1
MANIFEST = "manifest.json"
# what must match for a checkpoint to continue a fit (iterations may grow)
SETTINGS = ("factors", "regularization", "alpha", "unobserved_weight", "confidence", "epsilon",
            "feedback", "reg_exponent", "solver", "cg_steps", "block_size", "dtype")


def settings(p, data):
    """What a checkpoint records of the fit it belongs to."""
    out = {name: p[name] for name in SETTINGS}
    out["dtype"] = np.dtype(p["dtype"]).name
    for name in ("row_weights", "col_weights"):
        w = p[name]
        out[name] = None if w is None else hashlib.sha1(
            np.ascontiguousarray(w, np.float64).tobytes()).hexdigest()
    # the unobserved weights the fit uses (also those of "popularity"); a manifest
    # written before they existed has none, which reads as None (all ones) in `read`
    for name, side in (("unobserved_row_weights", "user"), ("unobserved_col_weights", "item")):
        w = (data.unobserved or {}).get(side)
        out[name] = None if w is None else hashlib.sha1(
            np.ascontiguousarray(w, np.float64).tobytes()).hexdigest()
    out.update(users=data.n_users, items=data.n_items, nnz=data.nnz)
    return out


def write(client, path, n_iter, factors, bounds, p, data, loss_history, timeout):
    """Save the factors ({"user": (block futures, pending), "item": ...}) of
    iteration n_iter; returns {"user": files, "item": files}. timeout: the
    fit's worker_timeout (see _cluster)."""
    name = f"iter-{n_iter:06d}"
    directory = os.path.join(path, name)
    os.makedirs(directory, exist_ok=True)
    files = {side: [os.path.join(directory, f"{side}-{b:05d}.npy") for b in range(len(fs))]
             for side, (fs, _) in factors.items()}
    _cluster.wait(client, [client.submit(save_block, f, file, pure=False)
                           for side, (fs, _) in factors.items()
                           for f, file in zip(fs, files[side])], timeout, "checkpointing")
    pending = {}
    for side, (_, P) in factors.items():
        pending[side] = P is not None
        if P is not None:
            P = _cluster.gather(client, [P], timeout, "checkpointing")[0] \
                if hasattr(P, "key") else P
            save_block(P["Q"] if isinstance(P, dict) else P,
                       os.path.join(directory, f"pending-{side}.npy"))
    manifest = {"format": FORMAT, "version": VERSION, "n_iter": n_iter, "directory": name,
                "pending": pending,
                "bounds": {side: [int(v) for v in b] for side, b in bounds.items()},
                "settings": settings(p, data), "value_sum": data.value_sum,
                "loss_history": list(loss_history)}
    _write_json(os.path.join(path, MANIFEST), manifest)
    return files


def prune(path, manifest):
    """Remove the iterations older than the manifest's (once nothing can need
    them: no future's lineage reaches them any more)."""
    for entry in os.listdir(path):
        if entry.startswith("iter-") and entry != manifest["directory"]:
            shutil.rmtree(os.path.join(path, entry), ignore_errors=True)


def read(path, p, data):
    """The manifest of the checkpoint at `path` if there is one (None if not),
    checked against this fit's settings and data."""
    file = os.path.join(path, MANIFEST)
    if not os.path.exists(file):
        return None
    try:
        with open(file) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{file!r} is not a readable checkpoint manifest "
                         f"({type(exc).__name__}: {exc}); remove the directory or pass "
                         f"resume=False") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(f"{file!r} is not a fastwals distributed checkpoint of version "
                         f"{VERSION}; remove it or pass resume=False")
    expected = settings(p, data)
    for key, value in expected.items():
        if manifest["settings"].get(key) != value:
            raise ValueError(f"the checkpoint at {path!r} is of another fit: its {key} is "
                             f"{manifest['settings'].get(key)!r}, this fit's {value!r}; "
                             f"remove it, use another checkpoint path, or pass resume=False")
    if not np.isclose(manifest["value_sum"], data.value_sum, rtol=1e-9):
        raise ValueError(f"the checkpoint at {path!r} is of other data (same shape and "
                         f"entries, different values); remove it or pass resume=False")
    return manifest


def load(client, path, manifest, side, bounds):
    """(futures of the `side` factor blocks for `bounds`, pending rotation or
    None) from a checkpoint; the blocks may differ from the checkpoint's (rows
    are cut from its files)."""
    directory = os.path.join(path, manifest["directory"])
    old = np.asarray(manifest["bounds"][side], np.int64)
    k, dtype = manifest["settings"]["factors"], np.dtype(manifest["settings"]["dtype"])
    files = [os.path.join(directory, f"{side}-{b:05d}.npy") for b in range(old.size - 1)]
    blocks = [client.submit(load_rows, files, old, int(bounds[b]), int(bounds[b + 1]), k, dtype,
                            pure=False)
              for b in range(len(bounds) - 1)]
    pending = None
    if manifest["pending"][side]:
        file = os.path.join(directory, f"pending-{side}.npy")
        pending = _checked(_read(file), (k, k), dtype, file)
    return blocks, pending


# ---------------------------------------------------------------- on the workers

def save_block(F, file):
    with atomic_file(file) as f:
        np.save(f, F)
    return file


def load_rows(files, old_bounds, lo, hi, k, dtype):
    """Rows lo..hi from block files split at old_bounds, each file checked to
    hold its block's rows × k finite values of `dtype`."""
    parts = []
    for b, file in enumerate(files):
        a, e = max(lo, old_bounds[b]), min(hi, old_bounds[b + 1])
        if a < e or (lo == hi and b == 0):
            block = _read(file, mmap_mode="r")
            _checked(block, (int(old_bounds[b + 1] - old_bounds[b]), k), dtype, file,
                     values=False)
            parts.append(_checked(np.array(block[a - old_bounds[b]:e - old_bounds[b]]),
                                  (e - a, k), dtype, file))
    return np.ascontiguousarray(np.concatenate(parts))


def _read(file, mmap_mode=None):
    try:
        return np.load(file, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"the checkpoint file {file!r} is damaged or missing "
                         f"({type(exc).__name__}: {exc}); remove the checkpoint directory or "
                         f"pass resume=False") from None


def _checked(array, shape, dtype, file, values=True):
    """array, if it has this shape and dtype (and, with values, only finite values);
    else the error of a damaged checkpoint naming the file."""
    problem = None
    if array.shape != shape or array.dtype != dtype:
        problem = f"holds a {array.dtype} array of shape {array.shape}, not {dtype} {shape}"
    elif values and not np.isfinite(array).all():
        problem = "holds NaN or infinite values"
    if problem is not None:
        raise ValueError(f"the checkpoint file {file!r} is damaged: it {problem}; remove the "
                         f"checkpoint directory or pass resume=False")
    return array


def _write_json(file, obj):
    with atomic_file(file, "w") as f:
        json.dump(obj, f)
