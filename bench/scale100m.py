"""The README's whole path at 100M interactions on one machine (issue 16).

    python bench/scale100m.py                      # every stage, 2M users × 500k items
    python bench/scale100m.py --stages fit --solvers cg --factors 64
    python bench/scale100m.py --users 80000 --items 20000 --draws 4400000   # the 4M point

Stages, each in a fresh process (its peak memory is its own): generate (the
matrix, cached under bench/.cache), parquet (writes it as Parquet parts of
user, item, value), read (read_interactions of the parts), fit (per solver and
k: median seconds per iteration, peak RSS against the fit's floor: both
orientations of the matrix and both factor matrices), implicit (its CG and
Cholesky at k = 64 on the same matrix, BLAS at one thread), recommend
(`fastwals recommend --all` streaming every user's top 10 to Parquet), save
(save + load of the fitted model).

The generator is O(draws), not the dense one of fastwals.datasets (that one
computes every user × item logit): each user has one of 64 planted clusters
and draws half of its items from its cluster's Zipf-like distribution, half
from the global popularity (Zipf, exponent 0.6); activity is a power law.
Duplicate draws are summed, values capped at 9.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
CLUSTERS = 64


def peak_rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


class Sampler:
    """The peak RSS while the block runs, sampled every 2 ms by a thread:
    ru_maxrss is the process's lifetime peak (loading the matrix included)."""

    def __enter__(self):
        import threading
        self.peak, self.stop = rss(), False

        def run():
            while not self.stop:
                self.peak = max(self.peak, rss())
                time.sleep(0.002)
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()
        self.peak = max(self.peak, rss())


def matrix_path(a):
    return CACHE / f"scale-{a.users}x{a.items}-{a.draws}.npz"


def generate(a):
    rng = np.random.default_rng(0)
    n_users, n_items = a.users, a.items
    pop = (1.0 + rng.permutation(n_items)) ** -0.6
    item_cluster = rng.integers(0, CLUSTERS, n_items)
    order = np.argsort(item_cluster, kind="stable")  # items grouped by cluster
    bounds = np.searchsorted(item_cluster[order], np.arange(CLUSTERS + 1))
    within = pop[order] ** 1.5  # steeper inside a cluster
    cdf_c = [np.cumsum(within[bounds[c]:bounds[c + 1]]) for c in range(CLUSTERS)]
    cdf_g = np.cumsum(pop)
    activity = (1.0 + rng.permutation(n_users)) ** -0.8
    counts = np.maximum(1, np.round(a.draws * activity / activity.sum())).astype(np.int64)
    user_cluster = rng.integers(0, CLUSTERS, n_users)
    parts = []
    step = 100_000
    for lo in range(0, n_users, step):
        hi = min(n_users, lo + step)
        owner = np.repeat(np.arange(lo, hi), counts[lo:hi])
        local = rng.random(owner.size) < 0.5
        cols = np.searchsorted(cdf_g, rng.random(owner.size) * cdf_g[-1])
        cl = user_cluster[owner[local]]
        picked = np.empty(cl.size, np.int64)
        for c in np.unique(cl):
            m = cl == c
            cdf = cdf_c[c]
            pos = np.searchsorted(cdf, rng.random(int(m.sum())) * cdf[-1])
            picked[m] = order[bounds[c] + np.minimum(pos, cdf.size - 1)]
        cols[local] = picked
        cols = np.minimum(cols, n_items - 1)
        part = sp.csr_array((np.ones(owner.size, np.float32), (owner - lo, cols)),
                            shape=(hi - lo, n_items))
        part.sum_duplicates()
        np.minimum(part.data, 9, out=part.data)
        parts.append(part)
    X = sp.vstack(parts, format="csr", dtype=np.float32)
    CACHE.mkdir(exist_ok=True)
    tmp = matrix_path(a).with_suffix(".tmp.npz")
    sp.save_npz(tmp, X, compressed=False)
    os.replace(tmp, matrix_path(a))
    return {"nnz": int(X.nnz), "users": n_users, "items": n_items}


def load(a):
    X = sp.load_npz(matrix_path(a))
    return sp.csr_array(X)


def parts_dir(a):
    return CACHE / f"scale-{a.users}x{a.items}-{a.draws}-parquet"


def parquet(a):
    import pyarrow as pa
    import pyarrow.parquet as pq
    X = load(a)
    out = parts_dir(a)
    out.mkdir(exist_ok=True)
    rows_per = 10_000_000
    users = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))
    for n, lo in enumerate(range(0, X.nnz, rows_per)):
        hi = min(X.nnz, lo + rows_per)
        pq.write_table(pa.table({"user": users[lo:hi], "item": X.indices[lo:hi].astype(np.int64),
                                 "value": X.data[lo:hi]}), out / f"part-{n:03d}.parquet")
    return {"parts": len(list(out.glob("*.parquet")))}


def read(a):
    from fastwals import read_interactions
    base = rss()
    t = time.perf_counter()
    data = read_interactions(parts_dir(a), user_col="user", item_col="item", value_col="value")
    seconds = time.perf_counter() - t
    m = data.matrix
    columns = m.nnz * (8 + 8 + 4)  # the int64 ids and float32 values read
    return {"seconds": seconds, "nnz": int(m.nnz), "peak_over_base_bytes": peak_rss() - base,
            "columns_bytes": columns, "peak_per_columns": (peak_rss() - base) / columns}


def fit(a, solver, k):
    from fastwals import WALS
    X = load(a)
    WALS(k, iterations=1, solver=solver).fit(X[:2000])  # compile / load
    base = rss()
    times = []
    t = time.perf_counter()
    with Sampler() as sampled:
        model = WALS(k, iterations=a.iterations, solver=solver, regularization=0.1,
                     random_state=0, callback=lambda it, s, loss: times.append(s)).fit(X)
    total = time.perf_counter() - t
    matrix = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes      # the input CSR
    floor = X.data.nbytes + X.indices.nbytes + (X.shape[1] + 1) * X.indptr.itemsize  # transpose
    floor += (X.shape[0] + X.shape[1]) * k * 4                         # both factor matrices
    out = {"solver": solver, "k": k, "nnz": int(X.nnz), "index": str(X.indices.dtype), "per_iteration": float(np.median(times)),
           "times": times, "fit_seconds": total, "peak_over_base_bytes": sampled.peak - base,
           "input_bytes": matrix,
           "transpose_and_factors_bytes": floor,
           "both_orientations_and_factors_bytes": floor + matrix}
    if a.keep_model:
        model.save(CACHE / f"scale-model-{a.users}x{a.items}-{solver}-{k}.npz")
    return out


def implicit_fit(a, use_cg, k):
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits
    X = load(a)
    C = X.copy()
    C.data = 1.0 + C.data
    C = sp.csr_matrix(C)
    times = []
    with threadpool_limits(1, "blas"):
        warm = AlternatingLeastSquares(factors=k, iterations=1, use_cg=use_cg, random_state=0)
        warm.fit(C[:2000], show_progress=False)
        model = AlternatingLeastSquares(factors=k, regularization=0.1, alpha=1.0,
                                        iterations=a.iterations, use_cg=use_cg,
                                        dtype=np.float32, random_state=0)
        model.fit(C, show_progress=False, callback=lambda it, s, loss: times.append(s))
    return {"library": "implicit", "use_cg": use_cg, "k": k,
            "per_iteration": float(np.median(times)), "times": times}


def recommend(a, solver, k):
    from fastwals.cli import main
    model = CACHE / f"scale-model-{a.users}x{a.items}-{solver}-{k}.npz"
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        base = rss()
        t = time.perf_counter()
        with Sampler() as sampled:
            code = main(["recommend", str(model), "--all", "-N", "10", "--quiet",
                         "-o", os.path.join(tmp, "recs.parquet")])
        seconds = time.perf_counter() - t
        size = os.path.getsize(os.path.join(tmp, "recs.parquet"))
    return {"code": code, "seconds": seconds, "peak_over_base_bytes": sampled.peak - base,
            "output_bytes": size}


def save_load(a, solver, k):
    from fastwals import WALS
    model = WALS.load(CACHE / f"scale-model-{a.users}x{a.items}-{solver}-{k}.npz")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        path = os.path.join(tmp, "m.npz")
        t = time.perf_counter()
        model.save(path)
        saved = time.perf_counter() - t
        t = time.perf_counter()
        WALS.load(path)
        loaded = time.perf_counter() - t
        size = os.path.getsize(path)
    return {"save_seconds": saved, "load_seconds": loaded, "bytes": size}


def child(a):
    stage = a.child
    if stage == "generate":
        r = generate(a)
    elif stage == "parquet":
        r = parquet(a)
    elif stage == "read":
        r = read(a)
    elif stage.startswith("fit:"):
        _, solver, k = stage.split(":")
        r = fit(a, solver, int(k))
    elif stage.startswith("implicit:"):
        _, cg, k = stage.split(":")
        r = implicit_fit(a, cg == "cg", int(k))
    elif stage.startswith("recommend:"):
        _, solver, k = stage.split(":")
        r = recommend(a, solver, int(k))
    elif stage.startswith("save:"):
        _, solver, k = stage.split(":")
        r = save_load(a, solver, int(k))
    else:
        raise SystemExit(f"unknown stage {stage}")
    r["stage"] = stage
    r["peak_rss_bytes"] = peak_rss()
    print(json.dumps(r), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=2_000_000)
    ap.add_argument("--items", type=int, default=500_000)
    ap.add_argument("--draws", type=int, default=110_000_000)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--stages", default="generate,parquet,read,fit,implicit,recommend,save")
    ap.add_argument("--solvers", default="cholesky,cg,subspace")
    ap.add_argument("--factors", default="64,256")
    ap.add_argument("--implicit-solvers", default="cg,cholesky")
    ap.add_argument("--keep-model", action="store_true")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a)
    stages = a.stages.split(",")
    plan = []
    if "generate" in stages and not matrix_path(a).exists():
        plan.append("generate")
    if "parquet" in stages and not parts_dir(a).exists():
        plan.append("parquet")
    if "read" in stages:
        plan.append("read")
    for k in a.factors.split(","):
        for solver in a.solvers.split(","):
            if "fit" in stages:
                plan.append(f"fit:{solver}:{k}")
        if "implicit" in stages and k == "64":
            plan += [f"implicit:{s}:64" for s in a.implicit_solvers.split(",")]
    if "recommend" in stages:
        plan.append("recommend:cg:64")
    if "save" in stages:
        plan.append("save:cg:64")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} scale100m {a.users} × {a.items}, "
          f"{a.draws} draws, {a.iterations} iterations", flush=True)
    for stage in plan:
        extra = ["--keep-model"] if stage == "fit:cg:64" else []
        done = subprocess.run([sys.executable, __file__, "--child", stage,
                               "--users", str(a.users), "--items", str(a.items),
                               "--draws", str(a.draws), "--iterations", str(a.iterations),
                               *extra], capture_output=True, text=True)
        if done.returncode != 0:
            print(json.dumps({"stage": stage, "error": done.stderr[-2000:]}), flush=True)
            continue
        print(done.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
