"""The driver's side of loading: a source (an in-memory matrix, a Dask
DataFrame, or Parquet parts) becomes row blocks of both orientations held on
the workers, split where the estimated solve work is balanced.

Every block is the result of a task (never scattered data), so Dask can
rebuild a block lost with its worker from its lineage: the Parquet part or
data-frame partition it came from, or for an in-memory matrix the rows, which
then travel inside the task (the scheduler keeps them while the blocks live).
No task names a worker: the scheduler spreads them (see _cluster for why).
"""

import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .. import _problem
from .._partition import balanced_chunks
from .._validation import as_csr, check_nonnegative, check_weights, unobserved_weights
from ..idmap import IdMap, is_text
from . import _blocks, _cluster, _tables


@dataclass
class Data:
    """The interaction matrix as the workers hold it, and what the driver knows
    of it: shapes, block boundaries and, per block, how many rows of each of
    the other side's blocks it uses (Block.describe)."""
    n_users: int
    n_items: int
    nnz: int
    value_sum: float
    bounds: dict          # "user"/"item" -> block boundaries (int64)
    blocks: dict          # "user"/"item" -> futures of Blocks
    info: dict            # "user"/"item" -> list of Block.describe() dicts
    user_ids: IdMap | None = None
    item_ids: IdMap | None = None
    # "user"/"item" -> the unobserved weights of the fit (float64, None: all ones), as
    # the estimator keeps them, and a future of those the kernels use (None: ones)
    unobserved: dict | None = None
    unobserved_futures: dict | None = None

    def n_rows(self, name):
        return self.n_users if name == "user" else self.n_items


def load(client, source, p, kp, *, shape=None, user_col=None, item_col=None, value_col=None,
         users=None, items=None, blocks=None, timeout):
    """Data for `source` (validated), with `blocks` row blocks per side (None:
    one per worker). p: checked estimator parameters; kp: the kernels' scalars;
    timeout: the fit's worker_timeout (see _cluster)."""
    n_workers = _cluster.worker_count(client)
    if not n_workers:
        raise ValueError("the Dask client has no workers; start some (or wait for them: "
                         "client.wait_for_workers(n))")
    n_blocks = n_workers if blocks is None else blocks
    table_args = {"user_col": user_col, "item_col": item_col, "value_col": value_col}
    maps = {"users": users, "items": items}
    if _is_dask_frame(source) or _is_paths(source):
        if user_col is None or item_col is None:
            raise ValueError("user_col and item_col (the id columns) are needed for a Dask "
                             "DataFrame or Parquet source")
        for name, m in maps.items():
            if m is not None and not isinstance(m, IdMap):
                raise TypeError(f"{name} must be a fastwals IdMap or None, got "
                                f"{type(m).__name__}")
        return _from_table(client, source, p, kp, table_args, users, items, n_blocks, timeout)
    given = [name for name, v in {**table_args, **maps}.items() if v is not None]
    if given:
        raise ValueError(f"{given[0]} applies to a Dask DataFrame or Parquet source, not to "
                         f"{type(source).__name__}")
    return _from_matrix(client, source, p, kp, shape, n_blocks, timeout)


# ---------------------------------------------------------------- in memory

def _from_matrix(client, X, p, kp, shape, n_blocks, timeout):
    dtype = p["dtype"]
    id_maps = None
    if all(hasattr(X, a) for a in ("matrix", "users", "items", "report")):  # Interactions
        id_maps, X = (X.users, X.items), X.matrix
    csr = as_csr(X, shape=shape, dtype=dtype)
    if p["confidence"] in ("linear", "log"):
        check_nonnegative(csr, p["confidence"])
    n_users, n_items = csr.shape
    rw, cw = _weights(p, n_users, n_items)
    csc = csr.T.tocsr()
    counts = {"user": np.diff(csr.indptr), "item": np.diff(csc.indptr)}
    unobserved = unobserved_weights(p, n_users, n_items, lambda: counts["user"],
                                    lambda: counts["item"])
    bounds = {"user": _bounds(counts["user"], n_blocks, p),
              "item": _bounds(counts["item"], n_blocks, p)}
    with _quiet_large_graphs():
        weights = {"user": rw, "item": cw}
        whole = {name: None if w is None else put(client, w) for name, w in weights.items()}
        kernel_a, kernel_b, whole_unobserved = _kernel_unobserved(client, unobserved, p)
        own_unobserved = {"user": kernel_a, "item": kernel_b}
        futures = {}
        for name, m, other in (("user", csr, "item"), ("item", csc, "user")):
            b = bounds[name]
            futures[name] = []
            for j in range(b.size - 1):
                lo, hi = int(b[j]), int(b[j + 1])
                a, e = m.indptr[lo], m.indptr[hi]
                own = None if weights[name] is None else weights[name][lo:hi]
                a_own = None if own_unobserved[name] is None else own_unobserved[name][lo:hi]
                futures[name].append(client.submit(
                    _blocks.from_csr, name, lo, hi, (m.indptr[lo:hi + 1] - a).astype(np.int64),
                    m.indices[a:e], m.data[a:e], bounds[other], own, whole[other], kp,
                    a_own, whole_unobserved[other], pure=False))
    data = _describe(client, n_users, n_items, bounds, futures, timeout)
    data.unobserved = dict(zip(("user", "item"), unobserved))
    data.unobserved_futures = whole_unobserved
    if id_maps is not None:
        data.user_ids, data.item_ids = id_maps
    return data


def _kernel_unobserved(client, unobserved, p):
    """(a, b) as the kernels take them (factor dtype; None: all ones) and
    {"user": future of a, "item": future of b} (None for all ones)."""
    dtype = np.dtype(p["dtype"])
    kernel = [None if w is None else w.astype(dtype)
              for w in map(_problem.unobserved_or_none, unobserved)]
    futures = {name: None if w is None else put(client, w)
               for name, w in zip(("user", "item"), kernel)}
    return kernel[0], kernel[1], futures


def _weights(p, n_users, n_items):
    rw = None if p["row_weights"] is None else check_weights(
        "row_weights", p["row_weights"], n_users, "user (row of X)", p["dtype"])
    cw = None if p["col_weights"] is None else check_weights(
        "col_weights", p["col_weights"], n_items, "item (column of X)", p["dtype"])
    return rw, cw


# ---------------------------------------------------------------- tables

def _from_table(client, source, p, kp, cols, users, items, n_blocks, timeout):
    check = "nonnegative" if p["confidence"] in ("linear", "log") else None
    uc, ic, vc = cols["user_col"], cols["item_col"], cols["value_col"]
    if _is_dask_frame(source):
        wanted = [c for c in (uc, ic, vc) if c is not None]
        missing = [c for c in wanted if c not in source.columns]
        if missing:
            raise ValueError(f"the Dask DataFrame has no column {missing[0]!r} (columns: "
                             f"{', '.join(map(str, source.columns))})")
        parts = client.compute(source[wanted].to_delayed())
        origins = [f"partition {j} of the Dask DataFrame" for j in range(len(parts))]
        rows = [client.submit(_tables.from_frame, part, uc, ic, vc, check, origin, pure=False)
                for part, origin in zip(parts, origins)]
    else:
        origins = _parquet_files(source)
        rows = [client.submit(_tables.read_parquet, path, uc, ic, vc, check, pure=False)
                for path in origins]
    if not rows:
        raise ValueError("the source has no partitions or Parquet files: nothing to factorize")
    maps = {}
    for which, given, what in ((0, users, "user"), (1, items, "item")):
        if given is None:
            found = _cluster.gather(client, [client.submit(_tables.unique_ids, r, which,
                                                           pure=False) for r in rows],
                                    timeout, "loading")
            given = _merge_ids(found, what)
        maps[what] = given
    n_users, n_items = len(maps["user"]), len(maps["item"])
    if n_users == 0 or n_items == 0:
        raise ValueError("the source has no rows: nothing to factorize")
    rw, cw = _weights(p, n_users, n_items)
    if (rw is not None and users is None) or (cw is not None and items is None):
        raise ValueError("row_weights / col_weights with a Dask DataFrame or Parquet source "
                         "need the id maps that fix their order: pass users= (and items=) "
                         "as fastwals IdMaps")
    for name, given in (("unobserved_row_weights", users), ("unobserved_col_weights", items)):
        value = p[name]
        if value is not None and not isinstance(value, str) and given is None:
            raise ValueError(f"{name} as an array with a Dask DataFrame or Parquet source "
                             f"needs the id maps that fix its order: pass users= (and items=) "
                             f"as fastwals IdMaps, or {name}='popularity'")
    with _quiet_large_graphs():
        ids = {what: put(client, m.ids) for what, m in maps.items()}
        encoded = [client.submit(_tables.encode, r, ids["user"], ids["item"], origin,
                                 pure=False) for r, origin in zip(rows, origins)]
        counted = client.submit(_tables.total, *[
            client.submit(_tables.counts, e, n_users, n_items, pure=False) for e in encoded],
            pure=False)
        user_counts, item_counts = _cluster.gather(client, [counted], timeout, "loading")[0]
        unobserved = unobserved_weights(p, n_users, n_items, lambda: user_counts,
                                        lambda: item_counts)
        bounds = {"user": _bounds(user_counts, n_blocks, p),
                  "item": _bounds(item_counts, n_blocks, p)}
        pieces = [client.submit(_tables.split, e, bounds["user"], bounds["item"], pure=False)
                  for e in encoded]
        weights = {"user": None if rw is None else put(client, rw),
                   "item": None if cw is None else put(client, cw)}
        whole_unobserved = _kernel_unobserved(client, unobserved, p)[2]
        futures = {}
        for name, other in (("user", "item"), ("item", "user")):
            b = bounds[name]
            futures[name] = [client.submit(
                _blocks.from_pieces, name, int(b[j]), int(b[j + 1]), bounds[other],
                weights[name], weights[other], kp, whole_unobserved[name],
                whole_unobserved[other],
                *[client.submit(_tables.piece, s, (name, j), pure=False) for s in pieces],
                pure=False)
                for j in range(b.size - 1)]
    data = _describe(client, n_users, n_items, bounds, futures, timeout)
    data.user_ids, data.item_ids = maps["user"], maps["item"]
    data.unobserved = dict(zip(("user", "item"), unobserved))
    data.unobserved_futures = whole_unobserved
    return data


def _merge_ids(found, what):
    kinds = {is_text(a) for a in found if a.size}
    if len(kinds) > 1:
        raise TypeError(f"{what} ids are integers in some parts and strings in others; "
                        f"make them one type")
    nonempty = [a for a in found if a.size]
    ids = np.unique(np.concatenate(nonempty)) if nonempty else np.zeros(0, np.int64)
    return IdMap._sorted(ids)


def _parquet_files(source):
    paths = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    files = []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path)
                           if n.endswith((".parquet", ".pq")) and not n.startswith((".", "_")))
            if not names:
                raise ValueError(f"{path!r} holds no Parquet parts (visible *.parquet or *.pq "
                                 f"files)")
            files += [os.path.join(path, n) for n in names]
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise FileNotFoundError(f"no file or directory at {path!r}")
    return files


# ---------------------------------------------------------------- shared

def _bounds(counts, n_blocks, p):
    """Block boundaries with about equal solve work (the estimator's own cost
    model of a row, from its number of entries)."""
    n = counts.size
    k = p["factors"]
    problem = _problem.from_params(_blocks_params(p))
    if p["solver"] == "cholesky":
        dual = _problem.dual_rows_limit(k)
    elif p["solver"] == "subspace":
        dual = _problem.subspace_exact_limit(k, problem.block_size)
    else:
        dual = -1
    cost = _problem.row_costs(p["solver"], counts.astype(np.float64), k, problem, dual)
    return balanced_chunks(np.asarray(cost, np.float64), max(1, min(n_blocks, n)))


def _blocks_params(p):
    return {name: p[name] for name in KERNEL_PARAMS}


KERNEL_PARAMS = ("factors", "regularization", "alpha", "unobserved_weight", "confidence",
                 "epsilon", "feedback", "reg_exponent", "solver", "cg_steps", "block_size",
                 "dtype", "n_threads")


def kernel_params(p):
    """The scalars the worker tasks need (no arrays, no callables)."""
    kp = _blocks_params(p)
    kp["dtype"] = np.dtype(p["dtype"]).name
    return kp


def _describe(client, n_users, n_items, bounds, futures, timeout):
    info = {name: _cluster.gather(client, [client.submit(_blocks.describe, f, pure=False)
                                           for f in fs], timeout, "loading")
            for name, fs in futures.items()}
    nnz = sum(d["nnz"] for d in info["user"])
    if nnz == 0:
        raise ValueError(f"the source has no non-zero entries ({n_users} users × {n_items} "
                         f"items): there is nothing to factorize")
    value_sum = float(sum(d["value_sum"] for d in info["user"]))
    return Data(n_users, n_items, nnz, value_sum, bounds, futures, info)


def put(client, value):
    """A future of `value` that Dask can recompute if its worker is lost (the
    value travels in the task, unlike client.scatter's)."""
    with _quiet_large_graphs():
        return client.submit(_same, value, pure=False)


def _same(value):
    return value


@contextmanager
def _quiet_large_graphs():
    # rows and maps travel inside tasks on purpose (see the module docstring)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sending large graph")
        yield


def _is_dask_frame(source):
    return all(hasattr(source, a) for a in ("to_delayed", "npartitions", "columns"))


def _is_paths(source):
    if isinstance(source, (str, os.PathLike)):
        return True
    return (isinstance(source, (list, tuple)) and len(source) > 0
            and all(isinstance(s, (str, os.PathLike)) for s in source))
