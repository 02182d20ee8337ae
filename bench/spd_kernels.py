"""One row's exact solve, fastwals' tile kernels against BLAS syrk + LAPACK posv.

    python bench/spd_kernels.py                    # k = 64 … 1024, m = 64, 165, 400
    python bench/spd_kernels.py --factors 128 --rows 165 --dtype float64

For each order k and m gathered observations, both sides form
A = d·I + ZᵀZ (Z: m × k) and solve A x = b, many times in one @njit loop on one
thread (BLAS capped at one thread, as inside the solver): the kernels the
exact solver now runs (fastwals/_kernels/spd.py) against the per-row BLAS ssyrk +
LAPACK sposv calls it ran before (SciPy's bundled OpenBLAS, bound here as the
solver bound them). Prints GFLOP/s of m·k² + k³/3 for each, the best of 3, and
both solutions' largest error against numpy's float64 solve.
"""

import argparse
import time

import llvmlite.binding as ll
import numpy as np
from numba import njit, types
from numba.extending import get_cython_function_address
from threadpoolctl import threadpool_limits

from fastwals._kernels.spd import (cholesky_solve, cholesky_upper, gram_set,
                                   leading_dimension, padded_order)


def _bind(name, module, n_args):
    symbol = f"bench_{name}"
    ll.add_symbol(symbol, get_cython_function_address(f"scipy.linalg.{module}", name))
    return types.ExternalFunction(symbol, types.void(*[types.voidptr] * n_args))


_ssyrk, _dsyrk = _bind("ssyrk", "cython_blas", 10), _bind("dsyrk", "cython_blas", 10)
_sposv, _dposv = _bind("sposv", "cython_lapack", 8), _bind("dposv", "cython_lapack", 8)


@njit
def blas_rows(A, Z, d, b, b0, dims, ones, reps):
    """dims: [uplo 'U', trans 'N', k, m, one, info] as int32 (BLAS takes pointers)."""
    k = A.shape[0]
    for _ in range(reps):
        for a in range(k):
            for j in range(a + 1):
                A[a, j] = 0.0
            A[a, a] = d[a]
            b[a] = b0[a]
        # column-major: A's upper triangle (row-major lower) += Zᵀ Z with Z (k × m)
        if A.itemsize == 4:
            _ssyrk(dims[0:].ctypes, dims[1:].ctypes, dims[2:].ctypes, dims[3:].ctypes,
                   ones.ctypes, Z.ctypes, dims[2:].ctypes, ones.ctypes, A.ctypes,
                   dims[2:].ctypes)
            _sposv(dims[0:].ctypes, dims[2:].ctypes, dims[4:].ctypes, A.ctypes,
                   dims[2:].ctypes, b.ctypes, dims[2:].ctypes, dims[5:].ctypes)
        else:
            _dsyrk(dims[0:].ctypes, dims[1:].ctypes, dims[2:].ctypes, dims[3:].ctypes,
                   ones.ctypes, Z.ctypes, dims[2:].ctypes, ones.ctypes, A.ctypes,
                   dims[2:].ctypes)
            _dposv(dims[0:].ctypes, dims[2:].ctypes, dims[4:].ctypes, A.ctypes,
                   dims[2:].ctypes, b.ctypes, dims[2:].ctypes, dims[5:].ctypes)


@njit
def tile_rows(A, Z, d, k, b, b0, w, reps):
    for _ in range(reps):
        for a in range(k):
            b[a] = b0[a]
        gram_set(A, Z, 0, Z.shape[0], d, k)
        cholesky_upper(A)
        cholesky_solve(A, b, w)


def best_of(f, n=3):
    f()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factors", default="64,128,256,512,1024")
    ap.add_argument("--rows", default="64,165,400")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args()
    dt = np.dtype(args.dtype).type
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  one thread, {args.dtype}")
    print("| k | m | BLAS syrk + LAPACK posv, GFLOP/s | fastwals tiles, GFLOP/s | ratio "
          "| error (BLAS, tiles) |")
    print("|---|---|---|---|---|---|")
    with threadpool_limits(1, "blas"):
        for k in map(int, args.factors.split(",")):
            kp, rng = padded_order(k), np.random.default_rng(k)
            ld = leading_dimension(kp)
            for m in map(int, args.rows.split(",")):
                Z = rng.standard_normal((m, k)).astype(dt)
                Zt = np.zeros((m, ld), dt)
                Zt[:, :k] = Z
                d = np.full(ld, 10.0, dt)
                b0 = np.zeros(ld, dt)
                b0[:k] = rng.standard_normal(k)
                A, b = np.empty((k, k), dt), np.empty(k, dt)
                At, bt = np.empty((kp, ld), dt), np.zeros(ld, dt)
                dims = np.array([ord("U"), ord("N"), k, m, 1, 0], np.int32)
                reps = max(3, int(3e8 / (m * k * k + k**3 / 3)))
                flops = (m * k * k + k**3 / 3) * reps
                blas = flops / best_of(lambda: blas_rows(A, Z, d, b, b0, dims, np.ones(1, dt),
                                                         reps)) / 1e9
                tiles = flops / best_of(lambda: tile_rows(At, Zt, d, k, bt, b0, np.zeros(16, dt),
                                                          reps)) / 1e9
                M = Z.astype(np.float64).T @ Z + 10.0 * np.eye(k)
                x = np.linalg.solve(M, b0[:k].astype(np.float64))
                errors = [np.abs(y[:k] - x).max() / np.abs(x).max() for y in (b, bt)]
                print(f"| {k} | {m} | {blas:.1f} | {tiles:.1f} | {tiles / blas:.2f} | "
                      f"{errors[0]:.1e}, {errors[1]:.1e} |", flush=True)


if __name__ == "__main__":
    main()
