"""Loss of the CG solver (3 steps) against the exact solver after 15 iterations.

    python bench/cg_quality.py [--factors 64,128] [--iterations 15]

Same data (the synthetic set), seed and hyperparameters for both; the loss is
the full objective after the last iteration (calculate_loss=True).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import synthetic  # noqa: E402

from fastwals import WALS  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", default="64,128")
    ap.add_argument("--iterations", type=int, default=15)
    args = ap.parse_args(argv)
    X = synthetic()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} synthetic {X.shape[0]:,} x {X.shape[1]:,}, "
          f"nnz {X.nnz:,}, {args.iterations} iterations")
    print("| k | cholesky loss | cg (3 steps) loss | cg / cholesky − 1 |")
    print("|---|---|---|---|")
    for k in map(int, args.factors.split(",")):
        loss = {}
        for solver in ("cholesky", "cg"):
            m = WALS(k, iterations=args.iterations, solver=solver, cg_steps=3,
                     regularization=0.1, random_state=0, calculate_loss=True).fit(X)
            loss[solver] = m.loss_history_[-1]
        print(f"| {k} | {loss['cholesky']:.6g} | {loss['cg']:.6g} | "
              f"{loss['cg'] / loss['cholesky'] - 1:+.4%} |", flush=True)


if __name__ == "__main__":
    main()
