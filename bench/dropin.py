"""implicit's AlternatingLeastSquares against fastwals.implicit's: one workload, two imports.

    python bench/dropin.py                              # Gowalla and Last.fm, k = 64
    python bench/dropin.py --datasets gowalla --factors 128 --repeats 3

`workload` is written against implicit's API only; it runs once with
`implicit.als.AlternatingLeastSquares` and once with
`fastwals.implicit.AlternatingLeastSquares`, alternating, in one process, on
the same matrix, parameters and random_state, BLAS limited to one thread (as
implicit asks). Reported per library and solver (use_cg True / False): the
median seconds per iteration (each library's own callback timing, both
half-sweeps, no loss), the seconds of one `recommend` call for every user
(N = 10, liked items filtered), and the final training loss, computed for both
models by implicit's own `calculate_loss` on their factors. Each side is
warmed up first (a 1-iteration fit and a small recommend) so no compilation is
timed. With --repeats N each side runs N times and the medians are reported.
"""

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import each_dataset, real  # noqa: E402

# name: (loader, implicit parameters); Last.fm's play counts BM25-weighted as in
# implicit's own lastfm example (so many confidences fall below 1)
DATASETS = {
    "gowalla": (lambda: real("gowalla"), dict(regularization=0.1, alpha=10.0)),
    "lastfm": (lambda: _bm25(real("lastfm")), dict(regularization=0.01, alpha=1.0)),
}


def _bm25(X):
    if X is None:
        return None
    from implicit.nearest_neighbours import bm25_weight
    return bm25_weight(X, K1=100, B=0.8).tocsr().astype(np.float32)


def workload(AlternatingLeastSquares, user_items, factors, iterations, use_cg, params):
    """What a user of implicit runs: fit, then recommend for every user.
    Returns (median s/iter, recommend s, user factors, item factors)."""
    warm = AlternatingLeastSquares(factors=factors, iterations=1, use_cg=use_cg,
                                   random_state=0, **params)
    warm.fit(user_items, show_progress=False)
    warm.recommend(np.arange(100), user_items[:100], N=10)

    times = []
    model = AlternatingLeastSquares(factors=factors, iterations=iterations, use_cg=use_cg,
                                    random_state=0, **params)
    model.fit(user_items, show_progress=False, callback=lambda it, s, loss: times.append(s))
    users = np.arange(user_items.shape[0])
    start = time.perf_counter()
    ids, scores = model.recommend(users, user_items, N=10, filter_already_liked_items=True)
    recommend_s = time.perf_counter() - start
    assert ids.shape == (users.size, 10)
    return float(np.median(times)), recommend_s, model.user_factors, model.item_factors


def training_loss(user_items, params, U, V):
    """implicit's own normalised loss of any factor pair (its calculate_loss)."""
    from implicit.cpu import _als
    Cui = (user_items * params["alpha"]).tocsr().astype(np.float32)
    return float(_als.calculate_loss(Cui, np.ascontiguousarray(U, np.float32),
                                     np.ascontiguousarray(V, np.float32),
                                     params["regularization"], num_threads=0))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="gowalla,lastfm")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)

    from implicit.als import AlternatingLeastSquares as Theirs

    from fastwals.implicit import AlternatingLeastSquares as Ours

    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {platform.processor() or platform.machine()}  "
          f"python {platform.python_version()}  k = {args.factors}, {args.iterations} iterations")
    print("| dataset | users × items | nnz | use_cg | implicit s/iter | fastwals s/iter | ratio "
          "| implicit recommend s | fastwals recommend s | ratio | implicit loss "
          "| fastwals loss | loss ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with threadpool_limits(1, "blas"):
        for name, X, params in each_dataset(args.datasets, DATASETS):
            for use_cg in (True, False):
                runs = {"implicit": [], "fastwals": []}
                for _ in range(args.repeats):
                    for lib, cls in (("implicit", Theirs), ("fastwals", Ours)):
                        runs[lib].append(workload(cls, X, args.factors, args.iterations,
                                                  use_cg, params))
                it = {lib: float(np.median([r[0] for r in rs])) for lib, rs in runs.items()}
                rec = {lib: float(np.median([r[1] for r in rs])) for lib, rs in runs.items()}
                loss = {lib: training_loss(X, params, rs[-1][2], rs[-1][3])
                        for lib, rs in runs.items()}
                print(f"| {name} | {X.shape[0]:,} × {X.shape[1]:,} | {X.nnz:,} | {use_cg} "
                      f"| {it['implicit']:.3f} | {it['fastwals']:.3f} "
                      f"| {it['fastwals'] / it['implicit']:.2f} "
                      f"| {rec['implicit']:.3f} | {rec['fastwals']:.3f} "
                      f"| {rec['fastwals'] / rec['implicit']:.2f} "
                      f"| {loss['implicit']:.6g} | {loss['fastwals']:.6g} "
                      f"| {loss['fastwals'] / loss['implicit']:.5f} |", flush=True)


if __name__ == "__main__":
    main()
