"""DistributedWALS: the WALS fit on a dask.distributed cluster."""

import os
import time

import numpy as np

from .._validation import check_bool, check_choice, check_int, check_params, \
    check_random_state, check_real
from ..model import WALS, _fitting
from . import _blocks, _checkpoint, _cluster, _inputs, _recommend, _sweep


class DistributedWALS:
    """:class:`fastwals.WALS` fitted on the workers of a ``distributed.Client``.

    Same objective, hyperparameters and kernels as ``WALS`` (every solver and
    weighting mode, unobserved weights included; ``wals_params`` are WALS's).
    For the same data, seed and hyperparameters the factors are the
    single-machine fit's up to rounding
    (the Gramian is summed over blocks) and the common rotation the fit leaves
    both sides in: scores ``X Yᵀ`` agree within 1e-5 relative in float64 (the
    tests see about 1e-14). Not supported here: ``warm_start``, ``validation``
    / ``patience``.

    Users and items are split into ``blocks`` row blocks each (default: one per
    worker), balanced by solve work, and held on the workers as CSR in both
    orientations; the driver holds only shapes, block boundaries and k × k
    matrices. Each half-sweep ships every block the other side's factors:
    whole (``exchange="broadcast"``), or only the rows the block uses
    (``"needed"``); ``"auto"`` broadcasts when the other side's factors are
    small or most of them are needed anyway. Factors stay on the workers.

    ``n_threads`` is the number of Numba threads of each worker task (default:
    the worker's own thread count); a worker runs one kernel task at a time.

    ``checkpoint``: a directory on storage every worker and the driver can reach;
    every ``checkpoint_every`` iterations the workers write their factor blocks
    there. ``fit(..., resume=True)`` then continues from it (the iterations done
    count towards ``iterations``).

    A worker lost mid-fit is recovered by Dask: every block and factor block
    is a task result, so the scheduler recomputes what the worker held from its
    lineage (the same deterministic tasks: the fit's result does not change,
    to the bit when every worker runs the same compiled kernels).
    Without a checkpoint that lineage reaches back to the start of the fit
    (the scheduler keeps every task of it, small ones, and a late loss
    recomputes every iteration); with one, it starts again at the last
    checkpoint, whose files the factors are then read back from. No task of
    the lineage is tied to a worker, so this holds when every worker dies at
    once: the fit continues when workers join again (a nanny restarting them,
    new ones). ``worker_timeout`` (seconds, default 300) bounds that wait: once
    the cluster has had no worker for that long, ``fit`` (and ``to_wals``,
    ``recommend_all``) raises ``TimeoutError``, the model left as it was.

    After :meth:`fit`: ``user_factors_``, ``item_factors_`` (Dask arrays, one
    chunk per block), ``n_iter_``, ``loss_history_``, ``user_ids_`` /
    ``item_ids_`` (IdMaps, or None for a plain matrix), ``exchange_`` (the mode
    used for each side). :meth:`to_wals` gathers a fitted ``WALS``;
    :meth:`recommend_all` ranks on the workers and writes Parquet parts.
    """

    def __init__(self, client, factors=64, *, blocks=None, exchange="auto", checkpoint=None,
                 checkpoint_every=5, worker_timeout=300.0, **wals_params):
        self.client = client
        self.blocks = blocks
        self.exchange = exchange
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.worker_timeout = worker_timeout
        self.wals = WALS(factors, **wals_params)  # a TypeError names an unknown parameter

    # ------------------------------------------------------------ fitting

    def fit(self, source, *, shape=None, user_col=None, item_col=None, value_col=None,
            users=None, items=None, resume=True):
        """Fit to `source`:

        - a matrix, users × items, as ``WALS.fit`` takes it (scipy.sparse, dense,
          a ``(rows, cols, values)`` triplet with ``shape=``, or an
          ``Interactions`` from ``fastwals.read_interactions``): the driver cuts it
          into blocks and sends them;
        - a Dask DataFrame, or a Parquet file, directory of Parquet parts or list
          of such paths (read by the workers with pyarrow: on storage they all
          reach), with ``user_col``, ``item_col`` and optionally ``value_col``
          (default: every row counts 1); ids are raw ids (integers or strings),
          mapped to rows and columns in sorted order unless ``users=`` /
          ``items=`` (IdMaps) fix them. Rows of the same pair are summed.

        ``resume``: continue from the checkpoint, when there is one. Returns self.
        """
        client = self._check_client()
        p = check_params(self.wals.get_params())
        if self.blocks is not None:
            check_int("blocks", self.blocks, 1)
        check_choice("exchange", self.exchange, _sweep.EXCHANGES)
        check_bool("resume", resume)
        timeout = self._worker_timeout()
        every = None
        if self.checkpoint is not None:
            if not isinstance(self.checkpoint, (str, os.PathLike)):
                raise TypeError(f"checkpoint must be a directory path or None, got "
                                f"{type(self.checkpoint).__name__}")
            every = check_int("checkpoint_every", self.checkpoint_every, 1)
        kp = _inputs.kernel_params(p)
        data = _inputs.load(client, source, p, kp, shape=shape, user_col=user_col,
                            item_col=item_col, value_col=value_col, users=users, items=items,
                            blocks=self.blocks, timeout=timeout)
        sweeps = _sweep.Sweeps(client, data, kp, self.exchange, timeout)

        manifest = None
        if self.checkpoint is not None and resume:
            manifest = _checkpoint.read(os.fspath(self.checkpoint), p, data)
        # each side: stored blocks and a pending rotation (see _sweep)
        if manifest is not None:
            (X, PX), (Y, PY) = (_checkpoint.load(client, os.fspath(self.checkpoint), manifest,
                                                 side, data.bounds[side])
                                for side in ("user", "item"))
            done, history = manifest["n_iter"], list(manifest["loss_history"])
        else:
            (X, Y), PX, PY = _initial_factors(client, data, p), None, None
            done, history = 0, []

        fitted = ("user_factors_", "item_factors_", "n_iter_", "loss_history_", "user_ids_",
                  "item_ids_", "exchange_", "_data", "_factors")
        with _fitting(self, fitted, p["iterations"], p["show_progress"], done) as progress:
            self._data, self.exchange_ = data, dict(sweeps.mode)
            self.user_ids_, self.item_ids_ = data.user_ids, data.item_ids
            self.n_iter_, self.loss_history_ = done, history
            self._set_factors(X, PX, Y, PY)
            for it in range(done, p["iterations"]):
                start = time.perf_counter()
                (X, PY), PX = sweeps.half_sweep("user", X, PX, Y), None
                (Y, PX), PY = sweeps.half_sweep("item", Y, PY, X), None
                loss = sweeps.objective(X, PX, Y) if p["calculate_loss"] else None
                _cluster.wait(client, X + Y, timeout)
                sweeps.settled()
                seconds = time.perf_counter() - start
                self.n_iter_ += 1
                if loss is not None:
                    history.append(loss)
                manifest = None
                if every is not None and self.n_iter_ % every == 0:
                    (X, PX), (Y, PY), manifest = self._write_checkpoint(X, PX, Y, p, data)
                self._set_factors(X, PX, Y, PY)
                if manifest is not None:  # no future reaches the older files any more
                    _checkpoint.prune(os.fspath(self.checkpoint), manifest)
                if progress is not None:
                    progress.update(1)
                if p["callback"] is not None and p["callback"](it, seconds, loss) is True:
                    break
        return self

    def _write_checkpoint(self, X, PX, Y, p, data):
        """Save the factors, then continue from futures that read them back: the
        lineage Dask keeps (and would recompute after a lost worker) restarts here."""
        path = os.fspath(self.checkpoint)
        os.makedirs(path, exist_ok=True)
        timeout = self._worker_timeout()
        _checkpoint.write(self.client, path, self.n_iter_, {"user": (X, PX), "item": (Y, None)},
                          data.bounds, p, data, self.loss_history_, timeout)
        manifest = _checkpoint.read(path, p, data)
        loaded = [_checkpoint.load(self.client, path, manifest, side, data.bounds[side])
                  for side in ("user", "item")]
        _cluster.wait(self.client, loaded[0][0] + loaded[1][0], timeout)
        return loaded[0], loaded[1], manifest

    def _set_factors(self, X, PX, Y, PY):
        self._factors = {"user": (X, PX), "item": (Y, PY)}
        k = self.wals.factors
        dtype = np.dtype(self.wals.dtype)
        threads = self.wals.n_threads
        self.user_factors_ = _dask_array(X, PX, self._data.bounds["user"], k, dtype, threads)
        self.item_factors_ = _dask_array(Y, PY, self._data.bounds["item"], k, dtype, threads)

    def _true_factors(self, side):
        """Futures of the side's factor blocks, their pending rotation applied."""
        F, P = self._factors[side]
        return [self.client.submit(_blocks.true_factors, f, P, self.wals.n_threads, pure=False)
                for f in F]

    def _worker_timeout(self):
        return check_real("worker_timeout", self.worker_timeout, 0.0, strict=True)

    def _check_client(self):
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - the extra is missing
            raise ImportError("fastwals.distributed needs Dask: pip install "
                              "'fastwals[dask]'") from None
        if not isinstance(self.client, Client):
            raise TypeError(f"client must be a distributed.Client, got "
                            f"{type(self.client).__name__}")
        return self.client

    def _check_fitted(self, what):
        if not hasattr(self, "_factors"):
            raise ValueError(f"{what} needs a fitted model; call fit(source) first")

    # ------------------------------------------------------------ outputs

    def to_wals(self):
        """A fitted :class:`fastwals.WALS` with the factors gathered on the driver
        (users × factors and items × factors must fit in its memory)."""
        self._check_fitted("to_wals")
        model = WALS(**self.wals.get_params())
        X, Y = (_cluster.gather(self.client, self._true_factors(side), self._worker_timeout(),
                                "gathering the factors") for side in ("user", "item"))
        model.user_factors_ = np.ascontiguousarray(np.concatenate(X))
        model.item_factors_ = np.ascontiguousarray(np.concatenate(Y))
        model.n_iter_, model.loss_history_ = self.n_iter_, list(self.loss_history_)
        unobserved = self._data.unobserved or {}
        model.unobserved_row_weights_ = unobserved.get("user")
        model.unobserved_col_weights_ = unobserved.get("item")
        if self.user_ids_ is not None:
            model.user_ids_, model.item_ids_ = self.user_ids_, self.item_ids_
        return model

    def recommend_all(self, path, N=10, filter_already_liked_items=True, filter_items=None,
                      items=None, overwrite=False):
        """Rank items for every user on the workers and write one Parquet part per
        user block to the directory `path` (on storage the workers reach):
        columns user, item, rank (1 = best), score; users' own items excluded
        when ``filter_already_liked_items``, ``filter_items`` never returned,
        ``items`` the only ones ranked (as ``WALS.recommend_all``). Returns the
        part files in user order."""
        self._check_fitted("recommend_all")
        data, c = self._data, self.client
        N, banned, subset = _recommend.check_options(N, filter_already_liked_items,
                                                     filter_items, items, data.n_items)
        check_bool("overwrite", overwrite)
        path = _recommend.output_directory(path, overwrite)
        kp = _inputs.kernel_params(check_params(self.wals.get_params()))
        ids = [None if m is None else _inputs.put(c, m.ids)
               for m in (self.user_ids_, self.item_ids_)]
        X, Y = self._true_factors("user"), self._true_factors("item")
        tasks = [c.submit(_recommend.rank_block, block, X[b], kp, N, filter_already_liked_items,
                          banned, subset, os.path.join(path, f"part-{b:05d}.parquet"), *ids,
                          *Y, pure=False)
                 for b, block in enumerate(data.blocks["user"])]
        return [file for file, _ in _cluster.gather(c, tasks, self._worker_timeout(),
                                                    "ranking")]


# ---------------------------------------------------------------- helpers

def _initial_factors(client, data, p):
    """The single-machine fit's start: N(0, 0.01²) drawn in float64 from the
    same generator, users then items, one block at a time on the driver (the
    same stream, whatever the blocks)."""
    rng = check_random_state(p["random_state"])
    k, dtype = p["factors"], p["dtype"]
    out = {}
    for side in ("user", "item"):
        bounds = data.bounds[side]
        blocks = []
        for b in range(bounds.size - 1):
            draw = rng.standard_normal((int(bounds[b + 1] - bounds[b]), k))
            draw *= 0.01
            blocks.append(_inputs.put(client, draw.astype(dtype)))
        out[side] = blocks
    return out["user"], out["item"]


def _dask_array(futures, pending, bounds, k, dtype, n_threads):
    """The factors as a Dask array whose chunks are the blocks with their pending
    rotation applied (computed only if the array is)."""
    import dask
    import dask.array as da
    rotated = dask.delayed(_blocks.true_factors, pure=True)
    chunks = [da.from_delayed(rotated(f, pending, n_threads),
                              shape=(int(bounds[b + 1] - bounds[b]), k), dtype=dtype)
              for b, f in enumerate(futures)]
    return da.concatenate(chunks) if len(chunks) > 1 else chunks[0]


