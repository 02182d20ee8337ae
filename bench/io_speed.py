"""Reading speed and peak memory of fastwals.io.read_interactions on a 20M-row
synthetic interaction file, as Parquet and as CSV.

    nice -n 10 python bench/io_speed.py [--rows 20000000]

The files (int64 user ids, about 1M distinct, drawn with a power-law-like skew;
int64 item ids, about 100k distinct, more skewed; float32 values with two
decimals) are generated once under bench/.cache/. Each is then read in a fresh
subprocess, which first reads a tiny input (so the Numba kernels are loaded and
pyarrow is imported), records its resident set size (the baseline), then reads
the file into a CSR matrix and reports the wall time and the peak RSS
(ru_maxrss). The memory target is "about two copies of the columns": the
columns are rows × (8 + 8 + 4) bytes (user id, item id, float32 value), and
the table shows (peak - baseline) / that size.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
N_USERS = 1_000_000
N_ITEMS = 100_000


def generate(rows, seed=0):
    """bench/.cache/interactions-<rows>.parquet and .csv (written once)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    CACHE.mkdir(exist_ok=True)
    stem = CACHE / f"interactions-{rows}"
    paths = {"parquet": stem.with_suffix(".parquet"), "csv": stem.with_suffix(".csv")}
    if all(p.exists() for p in paths.values()):
        return paths
    rng = np.random.default_rng(seed)
    user_ids = rng.choice(2**62, size=N_USERS, replace=False).astype(np.int64)
    item_ids = rng.choice(2**40, size=N_ITEMS, replace=False).astype(np.int64)
    tmp = {k: p.with_name(p.name + ".tmp") for k, p in paths.items()}
    pw = cw = None
    for lo in range(0, rows, 1_000_000):
        m = min(1_000_000, rows - lo)
        users = user_ids[(N_USERS * rng.random(m) ** 2).astype(np.int64)]
        items = item_ids[(N_ITEMS * rng.random(m) ** 3).astype(np.int64)]
        values = np.round(rng.exponential(2.0, m), 2).astype(np.float32)
        table = pa.table({"user": users, "item": items, "value": values})
        if pw is None:
            pw = pq.ParquetWriter(tmp["parquet"], table.schema)
            cw = pcsv.CSVWriter(tmp["csv"], table.schema)
        pw.write_table(table)
        cw.write_table(table)
    pw.close()
    cw.close()
    for k in paths:
        os.replace(tmp[k], paths[k])
    return paths


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def child(path):
    """Runs in the subprocess: one read, results as JSON on stdout."""
    from fastwals.io import read_interactions

    cols = dict(user_col="user", item_col="item", value_col="value")
    tiny = {"user": np.array([1, 2]), "item": np.array([3, 4]), "value": np.ones(2)}
    read_interactions(tiny, **cols)  # load the kernels, import pyarrow
    base = rss_bytes()
    t = time.perf_counter()
    data = read_interactions(path, **cols)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(dict(seconds=seconds, base=base, peak=peak, shape=data.matrix.shape,
                          nnz=data.matrix.nnz, rows=data.report["rows_read"])))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child)
    paths = generate(args.rows)
    column_bytes = args.rows * (8 + 8 + 4)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus, python {platform.python_version()}")
    print(f"{args.rows:,} rows; columns: {column_bytes / 2**20:,.0f} MiB "
          f"(rows × (8 + 8 + 4) bytes)\n")
    print("| format | file MiB | seconds | rows/s | matrix | nnz | baseline RSS MiB | "
          "peak RSS MiB | (peak - baseline) / columns |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fmt, path in paths.items():
        out = subprocess.run([sys.executable, __file__, "--child", str(path)], check=True,
                             capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {fmt} | {path.stat().st_size / 2**20:,.0f} | {r['seconds']:.2f} | "
              f"{r['rows'] / r['seconds'] / 1e6:.2f}M | {r['shape'][0]:,} × {r['shape'][1]:,} | "
              f"{r['nnz']:,} | {r['base'] / 2**20:,.0f} | {r['peak'] / 2**20:,.0f} | "
              f"{(r['peak'] - r['base']) / column_bytes:.2f} |", flush=True)


if __name__ == "__main__":
    main()
