"""Roofline: every solver at k = 32 … 1024 against the machine's measured roofs.

    python bench/roofline.py                       # MovieLens 1M pairs (../shared/data)
    python bench/roofline.py --dataset synthetic --factors 32,64,128 --out roof.png

Roofs measured in the same run: compute, float32 sgemm (n = 4096) on all
threads; memory, a streaming copy of 1 GiB (read + write bytes per second).
Each point is one iteration (the median of --iterations after a warm-up fit)
of one solver at one k: its executed flops per second against its arithmetic
intensity (executed flops / bytes the iteration must move at least). Counts,
per half-sweep over n rows with m observations each, N rows on the other side:

- cholesky: compare.executed_flops (m·k² + k³/3 per row, or m²k + m³/3 on the
  Woodbury path, plus 3·N·k² for the Gramian and the rotation), the rows whose
  Woodbury norm bound was exceeded counted on the direct path
  (woodbury_fallbacks: at k = 1024 about 30% of the short rows here);
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


def woodbury_fallbacks(model, X, k, regularization):
    """For the user and the item orientation, the rows short enough for the
    Woodbury path whose ‖W‖²_F (solve.py) exceeds the float32 bound, so that the
    exact solver took the direct path: judged from the fitted model's factors
    (the state of the last iteration), with this script's weights (w0 = alpha
    = 1, linear confidence, one λ per row)."""
    bound = _problem.DUAL_NORM_BOUND[np.float32]
    masks = []
    for M, Y in ((X.tocsr(), model.item_factors_), (X.T.tocsr(), model.user_factors_)):
        Y = Y.astype(np.float64)
        lam, Q = np.linalg.eigh(Y.T @ Y)
        per_col = ((Y @ Q) ** 2 / (np.clip(lam, 0, None) + regularization)).sum(axis=1)
        norms = M @ per_col  # Σ_i c_ui Σ_a ŷ_ia² / d_a, with c_ui = r_ui
        masks.append(norms > bound)
    return masks


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
    """(median seconds per iteration, the fitted model)."""
    WALS(k, iterations=1, solver=solver).fit(X[:300])
    times = []
    model = WALS(k, iterations=iterations, solver=solver, regularization=REG, random_state=0,
                 callback=lambda it, s, loss: times.append(s)).fit(X)
    return float(np.median(times)), model


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
                t, model = per_iteration(X, k, solver, args.iterations)
                direct = (None, None)
                if solver == "cholesky":
                    direct = woodbury_fallbacks(model, X, k, REG)
                fallbacks = sum(int(d.sum()) for d in direct if d is not None)
                f = flops(X, k, solver, direct)
                rate, intensity = f / t, f / bytes_moved(X, k)
                points.append({"solver": solver, "k": k, "seconds": t, "rate": rate,
                               "intensity": intensity, "woodbury_fallbacks": fallbacks})
                share = f"{fallbacks / sum(X.shape):.0%}" if solver == "cholesky" else "–"
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
