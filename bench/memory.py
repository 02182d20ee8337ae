"""Peak memory of a fit against the sizes of what it must hold.

    python bench/memory.py [--factors 64] [--solver cholesky]

Runs in a fresh process: loads the synthetic set as canonical float32 CSR,
compiles the kernels on a slice, then records the resident set size (RSS)
before the fit and its peak during the fit (sampled every 2 ms by a thread,
plus the kernel's ru_maxrss). The increase is compared with what a fit must
hold beyond the input: its transpose and both factor matrices (the input CSR is
already resident before the fit, and used without a copy).
"""

import argparse
import resource
import sys
import threading
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import synthetic  # noqa: E402

from fastwals import WALS  # noqa: E402


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--solver", default="cholesky")
    ap.add_argument("--iterations", type=int, default=2)
    args = ap.parse_args(argv)
    k = args.factors
    X = synthetic()
    X.sort_indices()
    WALS(k, iterations=1, solver=args.solver).fit(X[:2000])  # compile, allocate pools
    csr_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    transpose_bytes = X.data.nbytes + X.indices.nbytes + (X.shape[1] + 1) * X.indptr.itemsize
    factor_bytes = (X.shape[0] + X.shape[1]) * k * 4
    before = rss_bytes()
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    WALS(k, iterations=args.iterations, solver=args.solver, regularization=0.1,
         random_state=0).fit(X)
    stop.set()
    sampler.join()
    peak_max = max(peak[0], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    increase = peak_max - before
    budget = transpose_bytes + factor_bytes
    mb = 1 / 2**20
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} synthetic {X.shape[0]:,} x {X.shape[1]:,}, "
          f"nnz {X.nnz:,}, k={k}, solver={args.solver}")
    print(f"input CSR {csr_bytes * mb:.1f} MiB, its transpose {transpose_bytes * mb:.1f} MiB, "
          f"both factor matrices {factor_bytes * mb:.1f} MiB")
    print(f"RSS before fit {before * mb:.1f} MiB, peak during fit {peak_max * mb:.1f} MiB: "
          f"increase {increase * mb:.1f} MiB")
    print(f"target: peak <= CSR + transpose + factors + 10% = "
          f"{(before + 1.1 * budget) * mb:.1f} MiB (the CSR being part of 'before'); "
          f"increase / (transpose + factors) = {increase / budget:.2f}")


if __name__ == "__main__":
    main()
