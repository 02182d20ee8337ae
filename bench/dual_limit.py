"""Where the exact solver's Woodbury path stops paying, by time: one row's solve
both ways, at each order k, over row lengths m.

    python bench/dual_limit.py                     # k = 32 … 512, float32
    python bench/dual_limit.py --factors 64,128 --dtype float64

For each k and m, on one thread: the Woodbury solve (solve.dual_row, from the
gathered rows to x̂) against the direct one (spd.gram_set + cholesky_upper +
cholesky_solve on the same rows), microseconds per row, best of --repeat runs of
many rows each; the copy of the rows that dual_row scales in place is timed
alone and subtracted. Prints each pair and, per k, the crossover: the first m
from which the direct solve was faster at two grid points in a row, against
_problem.dual_rows_limit(k), the limit the solver uses.
"""

import argparse
import time

import numpy as np
from numba import njit

from fastwals import _problem
from fastwals._kernels.solve import dual_row
from fastwals._kernels.spd import cholesky_solve, cholesky_upper, gram_set, leading_dimension, padded_order


@njit(nogil=True)
def _dual(m, kp, d, dinv, W, W0, b, b0, bound, A, v, T, reps):
    for _ in range(reps):
        W[:m] = W0[:m]
        b[:] = b0
        if dual_row(m, kp, d, dinv, W, b, bound, A, v, T) != 1:
            return False
    return True


@njit(nogil=True)
def _copy(m, kp, d, dinv, W, W0, b, b0, bound, A, v, T, reps):
    for _ in range(reps):
        W[:m] = W0[:m]
        b[:] = b0
    return True


@njit(nogil=True)
def _direct(m, kp, d, dinv, W, W0, b, b0, bound, A, v, T, reps):
    for _ in range(reps):
        b[:] = b0
        gram_set(A, W0, 0, m, d, kp)
        if not cholesky_upper(A):
            return False
        cholesky_solve(A, b, v)
    return True


def per_row(f, args, reps, repeat):
    assert f(*args, 1), "the solve failed"
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        f(*args, reps)
        best = min(best, time.perf_counter() - t)
    return best / reps * 1e6


def crossover(k, dtype, repeat, rng):
    kp = padded_order(k)
    ld = leading_dimension(kp)
    grid = sorted({m for m in range(1, k + 1, max(1, k // 32))} | {k})
    W0 = np.zeros((k + 1, ld), dtype)
    # small entries: ‖W‖² stays under the float32 bound at every m, as in a row that
    # takes the Woodbury path
    W0[:, :k] = rng.standard_normal((k + 1, k)) / (4 * k)
    d = np.ones(ld, dtype)
    b0 = np.zeros(ld, dtype)
    b0[:k] = rng.standard_normal(k)
    scratch = (np.zeros(ld, dtype), W0.copy(), W0, b0.copy(), b0,
               dtype(_problem.DUAL_NORM_BOUND[dtype]), np.empty((kp, ld), dtype),
               np.zeros(ld, dtype), np.zeros(kp * leading_dimension(kp), dtype))
    wins = []
    for m in grid:
        args = (m, kp, d, *scratch)
        reps = max(20, int(2e8 / (m * k * k + k**3)))
        copy = per_row(_copy, args, reps, repeat)
        dual = per_row(_dual, args, reps, repeat) - copy
        direct = per_row(_direct, args, reps, repeat)
        wins.append((m, dual, direct))
        print(f"| {k} | {m} | {dual:.2f} | {direct:.2f} |", flush=True)
    for (m, du, di), (_, du2, di2) in zip(wins, wins[1:]):
        if di < du and di2 < du2:
            return m
    return k + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", default="32,48,64,96,128,192,256,384,512")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    dtype = np.dtype(args.dtype).type
    rng = np.random.default_rng(0)
    print("| k | m | Woodbury µs/row | direct µs/row |")
    print("|---|---|---|---|")
    found = {}
    for k in map(int, args.factors.split(",")):
        found[k] = crossover(k, dtype, args.repeat, rng)
    print("\n| k | direct faster from m = | as a share of k | dual_rows_limit(k) |")
    print("|---|---|---|---|")
    for k, m in found.items():
        print(f"| {k} | {m} | {m / k:.2f} | {_problem.dual_rows_limit(k)} |")


if __name__ == "__main__":
    main()
