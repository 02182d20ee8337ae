"""A complete scikit-learn grid search over WALS hyperparameters on a real data set.

    python bench/search.py [--dataset ml1m] [--factors 64] [--iterations 10] [--folds 5]

The strong-generalization protocol (iALS, VAE-CF): fastwals.metrics.UserSplit
holds each of --folds folds of the users out once (K-fold over users),
GridSearchCV fits every candidate on the other users, and
fastwals.metrics.ranking_scorer folds the held-out users in from 80% of their
entries (``transform``) and scores the other 20%: NDCG@20 (which picks the best) and recall@20, all items ranked, the
fold-in items excluded. Then the best candidate is refitted on every user.

The grid: unobserved_weight × regularization (with reg_exponent=1, alpha=1),
the region where bench/RESULTS.md found the best ML-1M models. Data from
../shared/data (bench/data.py); the script says so and stops when it is absent.
Prints each candidate's scores (mean ± std over the folds), the best params
and the wall time of the search (Numba compilation excluded: a warm-up first).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import real  # noqa: E402

from fastwals import WALS  # noqa: E402
from fastwals.metrics import UserSplit, ranking_scorer  # noqa: E402

GRID = {"unobserved_weight": [0.3, 1.0, 3.0], "regularization": [0.001, 0.003, 0.01]}
K = 20


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="ml1m", choices=["ml1m", "lastfm", "gowalla"])
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--solver", default="cg")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    try:
        from sklearn.model_selection import GridSearchCV
    except ImportError:
        sys.exit("bench/search.py needs scikit-learn (pip install -e .[test])")
    X = real(args.dataset)
    if X is None:
        sys.exit(f"dataset {args.dataset} not found under ../shared/data (or $FASTWALS_DATA); "
                 f"nothing to search")

    estimator = WALS(args.factors, iterations=args.iterations, solver=args.solver, alpha=1.0,
                     reg_exponent=1.0, random_state=0)
    cv = UserSplit(args.folds, random_state=0)
    scoring = {f"ndcg@{K}": ranking_scorer("ndcg", K=K, random_state=0),
               f"recall@{K}": ranking_scorer("recall", K=K, random_state=0)}
    search = GridSearchCV(estimator, GRID, cv=cv, scoring=scoring, refit=f"ndcg@{K}")

    warm = WALS(**{**estimator.get_params(), "iterations": 1}).fit(X[:500])  # compile
    scoring[f"ndcg@{K}"](warm, X[500:1000])

    n_fits = int(np.prod([len(values) for values in GRID.values()])) * args.folds
    print(f"{args.dataset}: {X.shape[0]:,} users x {X.shape[1]:,} items, {X.nnz:,} entries")
    print(f"{estimator!r}")
    print(f"grid {GRID}, {cv!r}: {n_fits} fits and the refit")
    start = time.perf_counter()
    search.fit(X)
    seconds = time.perf_counter() - start

    r = search.cv_results_
    print(f"\n{'rank':>4}  {'unobserved_weight':>17}  {'regularization':>14}  "
          f"{f'NDCG@{K}':>15}  {f'recall@{K}':>15}  fit s")
    for i in np.argsort(r[f"rank_test_ndcg@{K}"], kind="stable"):
        p = r["params"][i]
        print(f"{r[f'rank_test_ndcg@{K}'][i]:>4}  {p['unobserved_weight']:>17g}  "
              f"{p['regularization']:>14g}  "
              f"{r[f'mean_test_ndcg@{K}'][i]:.4f} ± {r[f'std_test_ndcg@{K}'][i]:.4f}  "
              f"{r[f'mean_test_recall@{K}'][i]:.4f} ± {r[f'std_test_recall@{K}'][i]:.4f}  "
              f"{r['mean_fit_time'][i]:5.2f}")
    print(f"\nbest params: {search.best_params_}")
    print(f"best NDCG@{K}: {search.best_score_:.4f} (mean over {args.folds} folds of held-out "
          f"users), recall@{K}: {r[f'mean_test_recall@{K}'][search.best_index_]:.4f}")
    print(f"wall time: {seconds:.1f} s for the search: {n_fits} fits and their scoring, then "
          f"the refit on all users ({search.refit_time_:.1f} s)")


if __name__ == "__main__":
    main()
