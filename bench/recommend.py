"""recommend_all against implicit's batch recommend, same factors, one process.

    python bench/recommend.py                      # Gowalla, k = 64 and 256, N = 20
    python bench/recommend.py --factors 64 --repeats 5

Every user of the Gowalla train split (29,858 × 40,981) gets N = 20 items, its
training items filtered. Both libraries rank with the same factors: by
default a fastwals fit on that split (FIT below, 10 iterations; float32), as a
user would serve them; fastwals' pruning by item norm depends on them, so
``--random`` shows the case without structure (normal draws), where it cannot
prune. The results are checked to agree (share of identical ids). implicit
runs with BLAS at one thread (as it asks for its fit) and with BLAS at its
default threads (its recommend is a BLAS product, so this is its best case);
fastwals always runs single-threaded BLAS calls in its own threads. fastwals
runs twice: as it ships (through the int8 gate where the CPU has AVX-512 VNNI)
and with every item scored in floats (serving.GATED = False: what a CPU without
VNNI runs). Times are the median of --repeats runs, all alternating, each
warmed up once first.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import real  # noqa: E402

from fastwals import WALS, serving  # noqa: E402


# the hyperparameters of the fitted factors (iALS-style, as in bench/quality.py)
FIT = dict(iterations=10, regularization=0.003, reg_exponent=1.0, unobserved_weight=0.01,
           alpha=1.0, random_state=0)


def _timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", default="64,256")
    ap.add_argument("-N", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--random", action="store_true", help="random factors instead of fitted")
    args = ap.parse_args(argv)
    from implicit.cpu.als import AlternatingLeastSquares

    X = real("gowalla")
    if X is None:
        print("Gowalla not found (../shared/data or $FASTWALS_DATA); nothing to measure")
        return
    n_users, n_items = X.shape
    users = np.arange(n_users)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {platform.processor() or platform.machine()}  "
          f"gowalla train {n_users:,} × {n_items:,}, {X.nnz:,} nnz, N = {args.N}, factors "
          f"{'random normal' if args.random else 'fitted: ' + str(FIT)}")
    gate = serving.GATED
    print(f"int8 gate: {'on' if gate else 'not available on this CPU'}")
    print("| k | GFLOP (2·users·items·k) | implicit, BLAS 1 thread (s) | implicit, BLAS default (s) "
          "| fastwals (s) | fastwals / best implicit | fastwals, float scores (s) "
          "| float scores / best implicit | ids agree (fastwals, float scores) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in map(int, args.factors.split(",")):
        if args.random:
            rng = np.random.default_rng(0)
            ours = WALS(k)
            ours.user_factors_ = rng.standard_normal((n_users, k)).astype(np.float32)
            ours.item_factors_ = rng.standard_normal((n_items, k)).astype(np.float32)
        else:
            ours = WALS(k, solver="cholesky" if k <= 128 else "subspace", **FIT).fit(X)
        U, V = ours.user_factors_, ours.item_factors_
        theirs = AlternatingLeastSquares(factors=k, dtype=np.float32)
        theirs.user_factors, theirs.item_factors = U, V

        def run_ours(gated=gate):
            serving.GATED = gated
            try:
                return ours.recommend_all(args.N, X)
            finally:
                serving.GATED = gate

        def run_theirs():
            return theirs.recommend(users, X, N=args.N, filter_already_liked_items=True)

        run_ours(), run_ours(False)  # compile / load the cache
        theirs.recommend(users[:100], X[:100], N=args.N)
        t_ours, t_float, t_one, t_default = [], [], [], []
        for _ in range(args.repeats):
            # implicit with BLAS threads first: OpenBLAS's threads keep spinning
            # for a while after a multi-threaded call, which would slow whatever
            # runs next
            t, _ = _timed(run_theirs)
            t_default.append(t)
            with threadpool_limits(1, "blas"):
                t, (ids_i, _) = _timed(run_theirs)
            t_one.append(t)
            t, (ids, _) = _timed(run_ours)
            t_ours.append(t)
            t, (ids_f, _) = _timed(lambda: run_ours(False))
            t_float.append(t)
        a, b, c, f = (float(np.median(t)) for t in (t_one, t_default, t_ours, t_float))
        gflop = 2 * n_users * n_items * k / 1e9
        print(f"| {k} | {gflop:.0f} | {a:.3f} | {b:.3f} | {c:.3f} | {c / min(a, b):.2f} "
              f"| {f:.3f} | {f / min(a, b):.2f} | {np.mean(ids == ids_i):.5f}, "
              f"{np.mean(ids_f == ids_i):.5f} |", flush=True)


if __name__ == "__main__":
    main()
