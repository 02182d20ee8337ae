"""iALS++ subspace solver against the exact Cholesky solver at large k.

    python bench/subspace.py [--factors 256] [--iterations 5] [--block-sizes 16,32]

On the synthetic set: seconds per iteration of each (median of the callback's
per-iteration times, compilation excluded), and the objective after
`iterations` exact iterations against the subspace solver after twice as many
(the target: within 1%).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import objective  # noqa: E402
from data import synthetic  # noqa: E402

from fastwals import WALS  # noqa: E402


def run(X, k, iterations, **kw):
    WALS(k, iterations=1, **kw).fit(X[:300])  # compile or load the cache
    times = []
    params = dict(regularization=0.1, alpha=1.0)
    m = WALS(k, iterations=iterations, random_state=0, callback=lambda it, s, loss: times.append(s),
             **params, **kw).fit(X)
    return float(np.median(times)), objective(X, params, m.user_factors_, m.item_factors_)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--block-sizes", default="16,32")
    args = ap.parse_args(argv)
    X = synthetic()
    k, n = args.factors, args.iterations
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} synthetic {X.shape[0]:,} x {X.shape[1]:,}, "
          f"nnz {X.nnz:,}, k={k}")
    t_c, loss_c = run(X, k, n, solver="cholesky")
    print("| solver | iterations | s/iter | cholesky s/iter ÷ this | loss | loss / cholesky loss |")
    print("|---|---|---|---|---|---|")
    print(f"| cholesky | {n} | {t_c:.3f} | 1.00 | {loss_c:.6g} | 1.0000 |", flush=True)
    for b in map(int, args.block_sizes.split(",")):
        t_s, loss_s = run(X, k, 2 * n, solver="subspace", block_size=b)
        print(f"| subspace, block_size={b} | {2 * n} | {t_s:.3f} | {t_c / t_s:.2f} | {loss_s:.6g} "
              f"| {loss_s / loss_c:.4f} |", flush=True)


if __name__ == "__main__":
    main()
