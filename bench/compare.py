"""fastwals and implicit side by side, in one process, on the same data.

    python bench/compare.py                       # synthetic set, k = 64 and 128
    python bench/compare.py --datasets synthetic,gowalla,ml1m,lastfm --factors 64

Both sides fit the same objective: implicit is given the confidences
C = 1 + alpha·f(r) that fastwals computes itself (implicit's model is
A = YᵀY + Σ (C − 1) y yᵀ + λI, b = Σ C y), the same k, iterations,
regularization and float32, and BLAS is limited to one thread for both, as
implicit asks. Time per iteration is the median of the per-iteration times each
library reports to its callback (both half-sweeps, no loss); each side is
warmed up first so no compilation is timed. With --repeats N each side is fitted
N times, alternating, and the median of the N fits' times is reported. The loss of both final models is
the fastwals objective evaluated in float64 on their factors.

--busy N starts N processes that spin (`while True: pass`) for the whole
comparison, after the sgemm roof is measured: a host shared with other jobs.
"""

import argparse
import contextlib
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data import each_dataset, real, synthetic  # noqa: E402

from fastwals import WALS, _problem  # noqa: E402
from fastwals._validation import as_csr, check_params, check_weights  # noqa: E402

DATASETS = {
    # name: (loader, hyperparameters shared by both libraries)
    "synthetic": (synthetic, dict(regularization=0.1, alpha=1.0, confidence="linear")),
    "gowalla": (lambda: real("gowalla"), dict(regularization=0.1, alpha=10.0)),
    "ml1m": (lambda: real("ml1m"), dict(regularization=0.1, alpha=10.0)),
    "lastfm": (lambda: real("lastfm"), dict(regularization=0.1, alpha=2.0, confidence="log")),
}


def objective(X, params, user_factors, item_factors):
    """The fastwals objective (float64) of any pair of factors."""
    p = check_params(WALS(user_factors.shape[1], dtype=np.float64, **params).get_params())
    csr = as_csr(X, dtype=np.float64)
    ones = check_weights("row_weights", None, X.shape[0], "user", np.float64)
    onesi = check_weights("col_weights", None, X.shape[1], "item", np.float64)
    problem = _problem.build(csr, p, ones, onesi)
    return _problem.objective(problem, user_factors.astype(np.float64),
                              item_factors.astype(np.float64))


def implicit_confidence(X, params):
    C = X.copy().astype(np.float32)
    r = C.data.astype(np.float64)
    f = np.log1p(r) if params.get("confidence") == "log" else r
    C.data = (1.0 + params["alpha"] * f).astype(np.float32)
    return C


def time_fastwals(X, k, iterations, params, solver):
    WALS(k, iterations=1, solver=solver, **params).fit(X[:200])  # compile / load cache
    times = []
    model = WALS(k, iterations=iterations, solver=solver, random_state=0,
                 callback=lambda it, s, loss: times.append(s), **params).fit(X)
    return float(np.median(times)), model.user_factors_, model.item_factors_


def time_implicit(C, k, iterations, params, use_cg):
    from implicit.cpu.als import AlternatingLeastSquares

    def make(n):
        model = AlternatingLeastSquares(factors=k, regularization=params["regularization"],
                                        alpha=1.0, iterations=n, use_cg=use_cg,
                                        dtype=np.float32, random_state=0)
        model.cg_steps = 3  # its default, set explicitly: the comparison depends on it
        return model
    make(1).fit(C[:200], show_progress=False)
    times = []
    model = make(iterations)
    model.fit(C, show_progress=False, callback=lambda it, s, loss: times.append(s))
    return float(np.median(times)), model.user_factors, model.item_factors


@contextlib.contextmanager
def spinning(n):
    """n busy processes (a host shared with other jobs) while the block runs."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0)  # let them start spinning
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def sgemm_roof(n=4096, threads=None):
    """Measured float32 GEMM rate (GFLOP/s) with BLAS at `threads` threads."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    with threadpool_limits(threads, "blas"):
        a @ a
        best = min(_timed(lambda: a @ a) for _ in range(3))
    return 2 * n**3 / best / 1e9


def _timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def cholesky_flops(X, k):
    """The issue's nominal count for one exact iteration: 2·nnz·k² + (users+items)·k³/3."""
    return 2 * X.nnz * k * k + (X.shape[0] + X.shape[1]) * k**3 / 3


def executed_flops(X, k, direct=(None, None)):
    """What fastwals' exact solver performs: per row with m observations, the
    symmetric rank update m·k² + the factorisation k³/3, or m²k + m³/3 on the
    Woodbury path (m ≤ dual_rows_limit(k)); plus the per-half-sweep Gramian and
    basis rotation, 3·n·k² for n rows of the other side. direct: for the user
    and the item orientation, None or a boolean mask of the rows that took the
    direct path although short enough for Woodbury (its norm bound exceeded;
    see roofline.woodbury_fallbacks)."""
    limit = _problem.dual_rows_limit(k)
    total = 0.0
    for M, n_other, forced in ((X.tocsr(), X.shape[1], direct[0]),
                               (X.T.tocsr(), X.shape[0], direct[1])):
        m = np.diff(M.indptr).astype(np.float64)
        dual_path = m <= limit
        if forced is not None:
            dual_path &= ~forced
        dual_path, m = dual_path[m > 0], m[m > 0]
        d = m * k * k + k**3 / 3
        dual = m * m * k + m**3 / 3
        total += np.where(dual_path, dual, d).sum() + 3.0 * n_other * k * k
    return total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="synthetic")
    ap.add_argument("--factors", default="64,128")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--solvers", default="cholesky",
                    help="comma-separated fastwals solvers; cholesky is compared with "
                         "implicit's use_cg=False, cg with its use_cg=True")
    ap.add_argument("--no-implicit", action="store_true")
    ap.add_argument("--repeats", type=int, default=1,
                    help="fit each side this many times, alternating fastwals and implicit, "
                         "and report the median of the per-fit times (this machine is shared "
                         "and noisy)")
    ap.add_argument("--busy", type=int, default=0, metavar="N",
                    help="N processes spinning on the CPU during the comparison (default: 0)")
    args = ap.parse_args(argv)
    solvers = args.solvers.split(",")

    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {platform.processor() or platform.machine()}  "
          f"python {platform.python_version()}")
    roof2 = sgemm_roof(threads=2)
    roof1 = sgemm_roof(threads=1)
    libs = {(i["internal_api"], i.get("architecture")) for i in threadpool_info()}
    print(f"# sgemm roof: {roof2:.0f} GFLOP/s on 2 threads, {roof1:.0f} on 1; BLAS: {sorted(libs, key=str)}")
    print(f"# busy: {args.busy} spinning processes during the fits")
    print("| dataset | users × items | nnz | k | solver | implicit s/iter | fastwals s/iter "
          "| fastwals / implicit | implicit loss | fastwals loss | GFLOP/s nominal / executed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with threadpool_limits(1, "blas"), spinning(args.busy):
        for name, X, params in each_dataset(args.datasets, DATASETS):
            C = implicit_confidence(X, params)
            for k in map(int, args.factors.split(",")):
                for solver in solvers:
                    with_implicit = not args.no_implicit and solver in ("cholesky", "cg")
                    fw_times, im_times = [], []
                    for _ in range(args.repeats):
                        t, U, V = time_fastwals(X, k, args.iterations, params, solver)
                        fw_times.append(t)
                        if with_implicit:
                            t, Ui, Vi = time_implicit(C, k, args.iterations, params,
                                                      use_cg=solver == "cg")
                            im_times.append(t)
                    t_fw = float(np.median(fw_times))
                    loss_fw = objective(X, params, U, V)
                    t_im = float(np.median(im_times)) if with_implicit else float("nan")
                    loss_im = objective(X, params, Ui, Vi) if with_implicit else float("nan")
                    rate = "–"
                    if solver == "cholesky":
                        rate = (f"{cholesky_flops(X, k) / t_fw / 1e9:.0f} / "
                                f"{executed_flops(X, k) / t_fw / 1e9:.0f}")
                    print(f"| {name} | {X.shape[0]:,} × {X.shape[1]:,} | {X.nnz:,} | {k} | {solver} "
                          f"| {t_im:.3f} | {t_fw:.3f} | {t_fw / t_im:.2f} | {loss_im:.6g} "
                          f"| {loss_fw:.6g} | {rate} |", flush=True)


if __name__ == "__main__":
    main()
