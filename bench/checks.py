"""The cost of the input checks: whole-matrix check against a fit iteration,
and serving one user from the whole training matrix.

    python bench/checks.py                     # Gowalla, k = 64, cholesky
    python bench/checks.py --synthetic         # also the 4.3M-nnz synthetic set
    cd /tmp && PYTHONPATH=/tmp/fastwals-before python /work/main/bench/checks.py  # old code

Prints, for the fastwals it imports (run it once per version to compare):
- as_csr(X): the coercion every fit pays (after the change: including the
  structural pass over the index arrays), and that pass alone where it exists;
- the seconds of one fit iteration (cholesky, k = 64, float32), the median of
  --iterations;
- recommend(u, X) with X the whole matrix, and recommend(u, X[[u]]) with the
  user's row, median over --calls random users (N = 20, liked items filtered).
Times are medians of repeated runs after one warm-up call.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import real, synthetic  # noqa: E402

import fastwals  # noqa: E402
from fastwals import WALS, _validation  # noqa: E402


def _median_time(f, repeats):
    f()  # warm-up (compiles)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def measure(name, X, args):
    X = X.tocsr().astype(np.float32)
    X.sum_duplicates()
    print(f"\n{name}: {X.shape[0]:,} x {X.shape[1]:,}, nnz {X.nnz:,}")
    t = _median_time(lambda: _validation.as_csr(X, dtype=np.float32), args.repeats)
    print(f"  as_csr(X) whole matrix:          {t * 1e3:8.2f} ms")
    if hasattr(_validation, "_check_compressed"):
        t = _median_time(lambda: _validation._check_compressed(X, "X"), args.repeats)
        print(f"  structural check alone:          {t * 1e3:8.2f} ms")

    seconds = []
    model = WALS(args.factors, iterations=args.iterations, solver="cholesky", random_state=0,
                 callback=lambda it, s, loss: seconds.append(s))
    model.fit(X)
    print(f"  fit iteration (cholesky, k={args.factors}): {np.median(seconds) * 1e3:8.1f} ms "
          f"(median of {len(seconds)})")

    rng = np.random.default_rng(0)
    users = rng.integers(0, X.shape[0], args.calls)
    for label, rows in (("whole matrix", lambda u: X), ("the user's row", lambda u: X[[u]])):
        model.recommend(int(users[0]), rows(int(users[0])), N=20)  # warm-up
        times = []
        for u in users:
            u = int(u)
            liked = rows(u)
            t = time.perf_counter()
            model.recommend(u, liked, N=20)
            times.append(time.perf_counter() - t)
        print(f"  recommend(u, {label}):{' ' * (17 - len(label))}{np.median(times) * 1e3:8.2f} ms"
              f" (median of {len(times)} users)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--synthetic", action="store_true", help="also the 4.3M-nnz synthetic set")
    args = ap.parse_args(argv)
    print(f"fastwals from {Path(fastwals.__file__).parent}; {platform.processor() or ''} "
          f"python {platform.python_version()}")
    X = real("gowalla")
    if X is None:
        print("Gowalla not found (../shared/data or $FASTWALS_DATA)")
    else:
        measure("Gowalla train", X, args)
    if args.synthetic:
        measure("synthetic", synthetic(), args)


if __name__ == "__main__":
    main()
