"""Benchmark data: the synthetic set named in the README, and loaders for the
real sets in ../shared/data (never copied into the repo: their licences forbid it).

The synthetic set: 100,000 users × 20,000 items, about 4.3M non-zeros, power-law
user activity and item popularity, integer values 1–9, fixed seed 42. It takes
about 17 s to generate, so it is cached as .npz under bench/.cache/.
"""

import os
import pathlib

import numpy as np
import scipy.sparse as sp

from fastwals.datasets import synthetic_implicit

HERE = pathlib.Path(__file__).resolve().parent
CACHE = HERE / ".cache"


def synthetic(n_users=100_000, n_items=20_000, n_draws=5_000_000, seed=42):
    """The benchmark matrix (CSR float32). n_draws=5M gives 4,317,373 non-zeros."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"synthetic-{n_users}x{n_items}-{n_draws}-{seed}.npz"
    if path.exists():
        return sp.load_npz(path).tocsr()
    X, _ = synthetic_implicit(n_users, n_items, n_draws, signal=1.0, random_state=seed)
    X = sp.csr_matrix(X.astype(np.float32))
    tmp = path.with_suffix(".tmp.npz")
    sp.save_npz(tmp, X)
    os.replace(tmp, path)
    return X


def shared_data_dir():
    """../shared/data beside the repo root, or $FASTWALS_DATA; None when absent."""
    env = os.environ.get("FASTWALS_DATA")
    candidates = [pathlib.Path(env)] if env else []
    candidates.append(HERE.parent.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def _read_pairs(path, skip_header, usecols=(0, 1, 2), weighted=False):
    """Integer (user, item[, weight]) columns of a tab-separated file -> CSR with
    ids re-indexed densely (sorted raw ids); unweighted pairs get value 1."""
    cols = usecols if weighted else usecols[:2]
    raw = np.loadtxt(path, delimiter="\t", skiprows=skip_header, usecols=cols, dtype=np.int64,
                     ndmin=2)
    users, u = np.unique(raw[:, 0], return_inverse=True)
    items, i = np.unique(raw[:, 1], return_inverse=True)
    vals = raw[:, 2].astype(np.float32) if weighted else np.ones(raw.shape[0], np.float32)
    X = sp.csr_matrix((vals, (u, i)), shape=(users.size, items.size))
    X.sum_duplicates()
    return X


def real(name):
    """A real dataset from ../shared/data as CSR float32, or None when absent.

    gowalla: the NGCF/LightGCN train split (29,858 × 40,981, binary);
    ml1m: MovieLens 1M user-movie pairs (binary); lastfm: HetRec 2011 play counts.
    """
    root = shared_data_dir()
    if root is None:
        return None
    if name == "gowalla":
        path = root / "gowalla" / "gowalla.train.inter"
        if not path.exists():
            return None
        raw = np.loadtxt(path, delimiter="\t", skiprows=1, dtype=np.int64)
        n_users, n_items = 29858, 40981  # the split's id ranges (test ids included)
        return sp.csr_matrix((np.ones(raw.shape[0], np.float32), (raw[:, 0], raw[:, 1])),
                             shape=(n_users, n_items))
    if name == "ml1m":
        path = root / "ml-1m" / "user_movie_pairs.tsv.gz"
        return _read_pairs(path, 0) if path.exists() else None
    if name == "lastfm":
        path = root / "hetrec2011-lastfm-2k" / "user_artists.dat"
        return _read_pairs(path, 1, weighted=True) if path.exists() else None
    raise ValueError(f"unknown dataset {name!r}; known: gowalla, ml1m, lastfm")


def each_dataset(names, table):
    """(name, matrix, params) for each of the comma-separated `names` of `table`
    ({name: (loader, params)}) whose data is present; for the others, a table
    row saying it is absent."""
    for name in names.split(","):
        loader, params = table[name]
        X = loader()
        if X is None:
            print(f"| {name} | (not found: ../shared/data absent) |")
            continue
        yield name, X, params
