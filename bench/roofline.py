"""Roofline: every solver at k = 32 … 1024 against the machine's measured roofs.

    python bench/roofline.py                       # MovieLens 1M pairs (../shared/data)
    python bench/roofline.py --dataset synthetic --factors 32,64,128 --out roof.png

Roofs measured in the same run: compute, float32 sgemm (n = 4096) on all
threads; memory, a streaming copy of 1 GiB (read + write bytes per second).
Each point is one solver at one k over --iterations (after a warm-up fit): its
executed flops per second (flops per iteration / the median iteration; for the
exact solver, whose iterations differ, all iterations' flops / their time)
against its arithmetic intensity (executed flops / bytes the iteration must
move at least). Counts,
per half-sweep over n rows with m observations each, N rows on the other side:

- cholesky: compare.executed_flops (m·k² + k³/3 per row, or m²k + m³/3 on the
  Woodbury path, plus 3·N·k² for the Gramian and the rotation), the rows whose
  Woodbury norm bound was exceeded counted on the direct path they took
  (woodbury_fallbacks replays the kernel's test; the table gives the most rows
  that fell back in one iteration, as a share of all rows);
- cg: (cg_steps + 1)·4·m·k per row + 3·N·k² + 2·n·k² (the shared diagonal
  term is applied in the eigenbasis: k per row; the rotation of X: n·k²);
- subspace: per pass over the k/b blocks of b dimensions, m·k·b + k·b² per row
  (the README's count), plus 3·N·k² + 2·n·k².

Bytes: every observation's index and value (8 B) and its factor row (4·k B)
read once, both factor matrices read and written once (the least any solver
moves; gathers that miss the cache move more).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from compare import executed_flops, sgemm_roof  # noqa: E402
from data import real, synthetic  # noqa: E402

from fastwals import WALS, _problem  # noqa: E402

REG = 0.1


def stream_bandwidth(n_bytes=1 << 30):
    """Bytes per second of a large copy (read + write), best of 5."""
    a = np.ones(n_bytes // 8)
    b = np.empty_like(a)
    best = min(_timed(lambda: np.copyto(b, a)) for _ in range(5))
    return 2 * a.nbytes / best


def _timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def woodbury_fallbacks(X, k, iterations):
    """For each iteration of the exact solver's fit (as per_iteration runs it:
    same seed, so the same factors), the user and the item rows short enough
    for the Woodbury path whose ‖W‖²_F exceeded the float32 bound, so that they
    took the direct path: the kernel's test (solve.py) replayed in float64 on
    the factors each half-sweep receives, by wrapping _problem.half_sweep in an
    untimed second fit. With this script's weights: w0 = alpha = 1, linear
    confidence, one λ per row."""
    bound = _problem.DUAL_NORM_BOUND[np.float32]
    half_sweep = _problem.half_sweep
    masks = []

    def replay(problem, side, Y, X_side):
        M = sp.csr_matrix((side.values, side.indices, side.indptr),
                          shape=(side.n_rows, Y.shape[0]))
        Y64 = Y.astype(np.float64)
        lam, Q = np.linalg.eigh(Y64.T @ Y64)
        Yh2 = (Y64 @ Q) ** 2
        # ‖W‖² of row u = Σ_i r_ui Σ_a ŷ_ia² / d_a with d = Λ + λ, one λ here (REG)
        d = np.clip(lam, 0, None) + float(side.reg[0])
        norms = M @ (Yh2 / d).sum(axis=1)
        masks.append(norms > bound)
        return half_sweep(problem, side, Y, X_side)

    _problem.half_sweep = replay
    try:
        WALS(k, iterations=iterations, regularization=REG, random_state=0).fit(X)
    finally:
        _problem.half_sweep = half_sweep
    return list(zip(masks[0::2], masks[1::2]))


def flops(X, k, solver, direct=(None, None), cg_steps=3, block=16):
    if solver == "cholesky":
        return executed_flops(X, k, direct)
    total = 0.0
    for M, n_other in ((X.tocsr(), X.shape[1]), (X.T.tocsr(), X.shape[0])):
        m = np.diff(M.indptr).astype(np.float64)
        n = M.shape[0]
        shared = 3.0 * n_other * k * k + 2.0 * n * k * k
        if solver == "cg":
            total += ((cg_steps + 1) * 4 * m * k).sum() + shared
        else:
            b = min(block, k)
            total += (m * k * b + k * b * b).sum() + shared
    return total


def bytes_moved(X, k):
    return 2 * (X.nnz * (8 + 4 * k)) + 2 * 2 * (X.shape[0] + X.shape[1]) * k * 4


def per_iteration(X, k, solver, iterations):
    """Seconds of each iteration of a fit (after a warm-up fit)."""
    WALS(k, iterations=1, solver=solver).fit(X[:300])
    times = []
    WALS(k, iterations=iterations, solver=solver, regularization=REG, random_state=0,
         callback=lambda it, s, loss: times.append(s)).fit(X)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["ml1m", "synthetic"], default="ml1m")
    ap.add_argument("--factors", default="32,64,128,256,512,1024")
    ap.add_argument("--solvers", default="cholesky,cg,subspace")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "roofline.png"))
    args = ap.parse_args()
    X = real("ml1m") if args.dataset == "ml1m" else synthetic(20_000, 5_000, 1_000_000)
    if X is None:
        sys.exit("ml1m not found under ../shared/data; use --dataset synthetic")
    peak = sgemm_roof() * 1e9
    bw = stream_bandwidth()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {args.dataset} {X.shape[0]} × {X.shape[1]}, "
          f"nnz {X.nnz}; sgemm roof {peak / 1e9:.0f} GFLOP/s, copy bandwidth "
          f"{bw / 1e9:.1f} GB/s", flush=True)
    print("| solver | k | s/iteration | executed GFLOP/s | % of sgemm roof | flops/byte "
          "| Woodbury fallbacks |")
    print("|---|---|---|---|---|---|---|")
    points = []
    with threadpool_limits(1, "blas"):
        for solver in args.solvers.split(","):
            for k in map(int, args.factors.split(",")):
                times = per_iteration(X, k, solver, args.iterations)
                t = float(np.median(times))
                fallbacks = 0
                if solver == "cholesky":  # flops of each iteration, by the path each row took
                    directs = woodbury_fallbacks(X, k, args.iterations)
                    each = [flops(X, k, solver, d) for d in directs]
                    fallbacks = max(int(u.sum() + i.sum()) for u, i in directs)
                    rate = sum(each) / sum(times)  # the iterations' flops differ
                    f = float(np.mean(each))
                else:
                    f = flops(X, k, solver)
                    rate = f / t
                intensity = f / bytes_moved(X, k)
                points.append({"solver": solver, "k": k, "seconds": t, "rate": rate,
                               "intensity": intensity, "woodbury_fallbacks": fallbacks})
                share = f"{fallbacks / sum(X.shape):.1%}" if solver == "cholesky" else "–"
                print(f"| {solver} | {k} | {t:.3f} | {rate / 1e9:.1f} | "
                      f"{100 * rate / peak:.0f}% | {intensity:.1f} | {share} |", flush=True)
    print(json.dumps({"peak": peak, "bandwidth": bw, "points": points}))
    plot(points, peak, bw, args.out, args.dataset)


def plot(points, peak, bw, out, name):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5.5), constrained_layout=True)
    xs = np.logspace(-1, 4, 200)
    ax.plot(xs, np.minimum(peak, bw * xs) / 1e9, "k-", lw=1.5, label="roof: min(sgemm, bandwidth × I)")
    for solver, marker in (("cholesky", "o"), ("cg", "s"), ("subspace", "^")):
        pts = [p for p in points if p["solver"] == solver]
        if not pts:
            continue
        ax.plot([p["intensity"] for p in pts], [p["rate"] / 1e9 for p in pts], marker=marker,
                label=solver)
        for p in pts:
            ax.annotate(str(p["k"]), (p["intensity"], p["rate"] / 1e9), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (executed flops / least bytes moved)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(f"fastwals solvers on {name}, k = 32…1024 (labels), 2 threads")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
