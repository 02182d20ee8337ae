"""Seconds per iteration on the synthetic set: fastwals in one process, fastwals
on a 2-worker Dask LocalCluster, and Spark ALS on local[2], in one run.

    nice -n 10 python bench/scaleout.py                 # k = 64, 5 iterations
    python bench/scaleout.py --solvers cholesky,cg --spark-blocks 2,10
    python bench/scaleout.py --worker-malloc heap   # workers keep freed memory (README)

Same data (bench/data.py::synthetic, 4,317,373 non-zeros), k, regularization
(0.1), alpha (1.0, linear confidence), float32 everywhere.

- fastwals single process: WALS(n_threads=2); the median of the per-iteration
  times passed to its callback (both half-sweeps), after a warm-up fit. With
  --repeats N, single-process and distributed fits alternate N times and the
  median of the N medians is reported.
- fastwals distributed: DistributedWALS on LocalCluster(n_workers=2,
  threads_per_worker=1, processes=True), one Numba thread per worker; the same
  callback times (both half-sweeps, including the driver's Gramian round trips
  and the exchange of factors between the workers), after a warm-up fit that
  loads the kernels in the workers. Loading (cutting the matrix into blocks and
  sending them) is timed separately, as "setup". Bytes moved between workers
  per iteration are read from Dask's own counters.
- Spark ALS (pyspark, implicitPrefs=True, rank 64, regParam 0.1, alpha 1.0,
  local[2], float32 factors internally): Spark only reports the time of a whole
  fit, which includes partitioning the ratings into its in/out blocks and
  materialising the factors. The per-iteration figure is the marginal cost
  (T(maxIter=n) − T(maxIter=1)) / (n − 1), after a warm-up fit; T(n) / n is shown
  too. The ratings DataFrame is built and cached before any timing. Spark's
  objective differs slightly (its λ is scaled by each row's count), which does
  not change the work per iteration.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import synthetic  # noqa: E402

from fastwals import WALS  # noqa: E402

PARAMS = dict(regularization=0.1, alpha=1.0, confidence="linear")
# the workers' malloc settings the README suggests for throughput
HEAP_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "134217728", "MALLOC_TRIM_THRESHOLD_": "268435456"}


def time_local(X, k, iterations, solver):
    WALS(k, iterations=1, solver=solver, n_threads=2, **PARAMS).fit(X[:2000])  # compile / cache
    times = []
    WALS(k, iterations=iterations, solver=solver, n_threads=2, random_state=0,
         callback=lambda it, s, loss: times.append(s), **PARAMS).fit(X)
    return float(np.median(times))


def transferred(client):
    return sum(client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total)
               .values())


def time_distributed(client, X, k, iterations, solver, exchange):
    from fastwals.distributed import DistributedWALS
    DistributedWALS(client, k, iterations=1, solver=solver, **PARAMS).fit(X[:2000])  # warm-up
    times, moved = [], []
    before = [transferred(client)]

    def record(it, seconds, loss):
        times.append(seconds)
        now = transferred(client)
        moved.append(now - before[0])
        before[0] = now

    start = time.perf_counter()
    model = DistributedWALS(client, k, iterations=0, solver=solver, exchange=exchange,
                            random_state=0, **PARAMS).fit(X)
    setup = time.perf_counter() - start
    before[0] = transferred(client)
    model = DistributedWALS(client, k, iterations=iterations, solver=solver, exchange=exchange,
                            random_state=0, callback=record, **PARAMS).fit(X)
    return float(np.median(times)), setup, float(np.median(moved)), model.exchange_


def spark_session(partitions):
    from pyspark.sql import SparkSession
    return (SparkSession.builder.master("local[2]").appName("fastwals-bench")
            .config("spark.driver.memory", "12g")
            .config("spark.sql.shuffle.partitions", str(partitions))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate())


def spark_blas(spark):
    """The BLAS implementation Spark's ALS runs on (native only if the JVM finds
    libblas.so.3; else a Java one)."""
    try:
        netlib = spark.sparkContext._jvm.dev.ludovic.netlib.blas
        return (f"native: {netlib.NativeBLAS.getInstance().getClass().getSimpleName()}"
                if _has_native(netlib) else
                f"Java: {netlib.JavaBLAS.getInstance().getClass().getSimpleName()}")
    except Exception as exc:  # py4j errors: report, do not fail the run
        return f"unknown ({type(exc).__name__})"


def _has_native(netlib):
    try:
        netlib.NativeBLAS.getInstance()
        return True
    except Exception:
        return False


def time_spark(spark, X, k, iterations, blocks):
    import pandas as pd
    from pyspark.ml.recommendation import ALS

    coo = X.tocoo()
    frame = pd.DataFrame({"user": coo.row.astype(np.int32), "item": coo.col.astype(np.int32),
                          "rating": coo.data.astype(np.float32)})
    ratings = spark.createDataFrame(frame).repartition(2).cache()
    ratings.count()

    def fit(n):
        als = ALS(rank=k, maxIter=n, regParam=PARAMS["regularization"], alpha=PARAMS["alpha"],
                  implicitPrefs=True, userCol="user", itemCol="item", ratingCol="rating",
                  numUserBlocks=blocks, numItemBlocks=blocks, seed=0)
        start = time.perf_counter()
        als.fit(ratings)
        return time.perf_counter() - start

    fit(1)  # warm-up: JIT, shuffle code paths
    one = fit(1)
    many = fit(iterations)
    ratings.unpersist()
    return (many - one) / (iterations - 1), many / iterations, one


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--solvers", default="cholesky,cg")
    ap.add_argument("--exchange", default="auto")
    ap.add_argument("--repeats", type=int, default=3,
                    help="fastwals fits per side, alternating; medians are reported")
    ap.add_argument("--worker-malloc", choices=("dask", "heap"), default="dask",
                    help="dask: the workers' default environment (MALLOC_TRIM_THRESHOLD_="
                         "65536, which also turns off glibc's adaptive mmap threshold: every "
                         "large array is a fresh mapping); heap: " + ", ".join(
                             f"{k}={v}" for k, v in HEAP_MALLOC.items()))
    ap.add_argument("--spark-blocks", default="2,10",
                    help="numUserBlocks = numItemBlocks values to try ('' skips Spark)")
    args = ap.parse_args(argv)
    k, iters = args.factors, args.iterations
    X = synthetic()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"# synthetic {X.shape[0]:,} × {X.shape[1]:,}, {X.nnz:,} non-zeros, k = {k}, "
          f"{iters} iterations")
    rows = []
    import dask
    from distributed import Client, LocalCluster
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    if args.worker_malloc == "heap":
        environ.update(HEAP_MALLOC)
    print(f"# workers' environment: {environ}")
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         dashboard_address=None) as cluster, Client(cluster) as client:
        for solver in args.solvers.split(","):
            locals_, dists = [], []
            for r in range(args.repeats):  # alternating, so that load from elsewhere is shared
                locals_.append(time_local(X, k, iters, solver))
                dists.append(time_distributed(client, X, k, iters, solver, args.exchange))
                print(f"# {solver} repeat {r}: local {locals_[-1]:.3f} s/iter, distributed "
                      f"{dists[-1][0]:.3f} s/iter (setup {dists[-1][1]:.1f} s, "
                      f"{dists[-1][2] / 1e6:.1f} MB between workers per iteration, "
                      f"{dists[-1][3]})", flush=True)
            local = float(np.median(locals_))
            dist, setup, moved = (float(np.median([d[j] for d in dists])) for j in range(3))
            rows.append((solver, local, dist, setup, moved, dists[0][3]))
    spark = []
    if args.spark_blocks:
        session = spark_session(2)
        session.sparkContext.setLogLevel("ERROR")
        print(f"# Spark {session.version}, BLAS {spark_blas(session)}", flush=True)
        try:
            for blocks in map(int, args.spark_blocks.split(",")):
                marginal, average, one = time_spark(session, X, k, iters, blocks)
                spark.append((blocks, marginal, average, one))
                print(f"# spark blocks={blocks}: {marginal:.2f} s/iter marginal, "
                      f"{average:.2f} s/iter T(n)/n, T(1) = {one:.1f} s", flush=True)
        finally:
            session.stop()
    best = min(spark, key=lambda r: r[1]) if spark else None
    print()
    print("| solver | fastwals 1 process, 2 threads (s/iter) | fastwals Dask, 2 workers × 1 "
          "thread (s/iter) | distributed / single | MB between workers per iter | "
          "Spark ALS local[2] (s/iter) | Spark / distributed |")
    print("|---|---|---|---|---|---|---|")
    for solver, local, dist, setup, moved, modes in rows:
        sp = f"{best[1]:.2f} (blocks={best[0]})" if best and solver == "cholesky" else "–"
        ratio = f"{best[1] / dist:.1f}" if best and solver == "cholesky" else "–"
        print(f"| {solver} | {local:.3f} | {dist:.3f} | {dist / local:.2f} | "
              f"{moved / 1e6:.1f} | {sp} | {ratio} |")


if __name__ == "__main__":
    main()
