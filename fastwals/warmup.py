"""Compile the kernels ahead of the job: `fastwals compile` / `python -m fastwals compile`.

Numba compiles a kernel at its first call for each combination of argument
types and keeps the machine code in its on-disk cache. A fresh environment
pays that at the first fit (about half a minute); a build step (a Docker
image, a CI cache) can pay it once instead by running the calls a job makes
on tiny data, for every float dtype and index type asked for. The cache is
written where Numba finds it: NUMBA_CACHE_DIR when set, else the package's
own __pycache__ when writable, else the user's cache directory.

Numba keys each cached kernel by the CPU it was compiled for (its name and
features): a cache built on one CPU model is recompiled, not reused, on another.
It also needs the cache directory to be writable by the process that reads it.
"""

import os
import tempfile
import time

import numpy as np
import scipy.sparse as sp

DTYPES = ("float32", "float64")
INDEX_TYPES = ("int32", "int64")


def compile_kernels(dtypes=DTYPES, index_types=INDEX_TYPES, progress=None):
    """Run every kernel once per (dtype, index type): fits with each solver and
    the loss, fold-in, partial fits, recommend (the sorted and the few-user
    path), similar items and users, explain, ranking metrics, and reading a
    file. Returns {"seconds": ..., "combinations": [...], "cache_dirs": [...]}.
    progress: a function of one line of text, called as each part starts."""
    from ._validation import check_choice
    dtypes = tuple(dtypes)
    index_types = tuple(index_types)
    for d in dtypes:
        check_choice("dtypes", d, DTYPES)
    for t in index_types:
        check_choice("index_types", t, INDEX_TYPES)
    start = time.perf_counter()
    done = []
    for dtype in dtypes:
        for index in index_types:
            if progress is not None:
                progress(f"compiling {dtype} factors with {index} indices")
            _exercise(np.dtype(dtype), np.dtype(index))
            done.append(f"{dtype}/{index}")
    if progress is not None:
        progress("compiling the input checks and the file readers")
    _check_inputs()
    _read_files()
    return {"seconds": time.perf_counter() - start, "combinations": done,
            "cache_dirs": cache_dirs()}


def _matrix(index, n_users=300, n_items=120, seed=0):
    """Counts 1..5 with every user and item present, indices of type `index`."""
    rng = np.random.default_rng(seed)
    X = sp.random_array((n_users, n_items), density=0.08, format="csr", rng=rng,
                        dtype=np.float32)
    X.data = np.floor(1 + 5 * X.data).astype(np.float32)
    X = X + sp.csr_array((np.ones(n_users, np.float32),
                          (np.arange(n_users), np.arange(n_users) % n_items)),
                         shape=(n_users, n_items))
    X = sp.csr_array(X)
    X.sum_duplicates()
    return sp.csr_array((X.data, X.indices.astype(index), X.indptr.astype(index)),
                        shape=X.shape)


def _exercise(dtype, index):
    from . import metrics
    from ._validation import SOLVERS
    from .model import WALS
    X = _matrix(index)
    test = _matrix(index, seed=1)
    for solver in SOLVERS:
        for weights in (None, "popularity"):
            model = WALS(8, iterations=1, solver=solver, dtype=dtype, calculate_loss=True,
                         random_state=0, unobserved_col_weights=weights).fit(X)
    from . import _problem
    saved = _problem.GATHER_ORDER_BYTES
    _problem.GATHER_ORDER_BYTES = 0  # the item orientation in order, as large cg fits take it
    try:
        WALS(8, iterations=1, solver="cg", dtype=dtype, random_state=0).fit(X)
    finally:
        _problem.GATHER_ORDER_BYTES = saved
    model = WALS(8, iterations=1, dtype=dtype, random_state=0, calculate_loss=True,
                 confidence="total").fit(X)
    model.fit(X, validation=(test, "ndcg", 5))
    users = np.arange(X.shape[0])
    model.recommend(users, X, N=5)
    model.recommend(users[:3], X, N=5)  # few users: the unsorted path
    model.recommend_all(5, X)
    model.similar_items(np.arange(10), N=3)
    model.similar_users(np.arange(10), N=3)
    model.transform(X[:5])
    model.partial_fit_users(np.arange(2), X[:2])
    model.partial_fit_items(np.arange(2), sp.csr_array(X.T)[:2])
    model.explain(0, X, 1)
    metrics.ranking_metrics(model, X, test, K=5)


def _check_inputs():
    """The checks of a caller's sparse matrices run on their own index types,
    whatever the kernels use: every layout with int32 and int64 indices."""
    from ._validation import as_csr
    for index in INDEX_TYPES:
        X = _matrix(np.dtype(index))
        for m in (X, sp.csc_array(X), sp.coo_array(X)):
            if hasattr(m, "indices"):
                m.indices, m.indptr = m.indices.astype(index), m.indptr.astype(index)
            else:
                m.row, m.col = m.row.astype(index), m.col.astype(index)
            as_csr(m)


def _read_files():
    from .io import read_interactions
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.csv")
        with open(path, "w") as f:
            f.write("user,item,value\n" + "".join(f"u{i % 7},i{i % 5},{1 + i % 3}\n"
                                                  for i in range(60)))
        for value_col in ("value", None):
            for aggregate in ("sum", "max", "last", "count"):
                read_interactions(path, user_col="user", item_col="item",
                                  value_col=value_col, aggregate=aggregate)


def cache_dirs():
    """The directories where Numba caches the kernels in this process."""
    from . import _kernels
    from ._kernel_cache import numba_cache_dirs
    directory = os.path.dirname(_kernels.__file__)
    names = sorted(n[:-3] for n in os.listdir(directory)
                   if n.endswith(".py") and n != "__init__.py")
    return [str(d) for d in numba_cache_dirs(directory, names)]
