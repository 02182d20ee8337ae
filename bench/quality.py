"""Ranking quality (recall@20, NDCG@20) on real data: fastwals against implicit.

    python bench/quality.py --dataset gowalla --library fastwals --factors 64 \\
        --iterations 15 --regularization 0.001 --reg-exponent 1 --alpha 1 \\
        --unobserved-weight 0.01
    python bench/quality.py --dataset ml1m --library implicit --factors 64 \\
        --regularization 1,10 --alpha 2,5 --use-cg 0,1

Every hyperparameter takes a comma-separated list and all combinations are run
(the grid). One line per run goes to stdout and is appended to
bench/quality_log.txt.

Data (../shared/data, see data.py): gowalla is the NGCF/LightGCN split (its own
train and test files); ml1m and lastfm are split 80/20 at random
(fastwals.metrics.split_random, seed 0). Both libraries are scored by the same
fastwals.metrics.ranking_metrics (all items ranked, training items excluded,
recall normalised by min(K, #test items)). recall_all is recall normalised by
the number of test items, as LightGCN reports it (0.1830 on gowalla).

implicit is fitted under one BLAS thread, as it asks. Its confidence is
alpha·f(r) in total (unobserved entries weigh 1): it adds (C − 1) to the
unobserved weight, so it matches fastwals with unobserved_weight=1 and
alpha·f(r) − 1. For --confidence log/constant implicit gets f(r) as its matrix.
--row-popularity 1 / --col-popularity 1 weigh unobserved entries by the user's /
item's popularity^unobserved_exponent (eALS; fastwals only; a negative exponent
weighs the rare ones most). --col-weight-exponent G gives each item's observed
entries the confidence weight col_weights = n_i^G (normalised to mean 1).
Fit seconds exclude Numba compilation (a 1-iteration warm-up fit on a slice).
"""

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from data import real, shared_data_dir  # noqa: E402

from fastwals import WALS  # noqa: E402
from fastwals.metrics import ranking_metrics, split_random  # noqa: E402
from fastwals.weights import popularity_weights  # noqa: E402

K = 20


def load(name):
    """(train, test) CSR float32 of the same shape."""
    train = real(name)
    if train is None:
        sys.exit(f"dataset {name} not found under ../shared/data")
    if name == "gowalla":
        raw = np.loadtxt(shared_data_dir() / "gowalla" / "gowalla.test.inter", delimiter="\t",
                         skiprows=1, dtype=np.int64)
        test = sp.csr_matrix((np.ones(raw.shape[0], np.float32), (raw[:, 0], raw[:, 1])),
                             shape=train.shape)
        return sp.csr_matrix(train), test
    train, test = split_random(train, test_fraction=0.2, random_state=0)
    return sp.csr_matrix(train, dtype=np.float32), sp.csr_matrix(test, dtype=np.float32)


def fit_fastwals(train, p):
    col_weights = None
    if p["col_weight_exponent"] != 0:
        # n_i^G normalised to mean 1, as the "popularity" rule computes it
        col_weights = popularity_weights(np.diff(train.tocsc().indptr), p["col_weight_exponent"])
    kw = dict(factors=p["factors"], iterations=p["iterations"],
              regularization=p["regularization"], alpha=p["alpha"],
              unobserved_weight=p["unobserved_weight"], confidence=p["confidence"],
              epsilon=p["epsilon"], reg_exponent=p["reg_exponent"], solver=p["solver"],
              block_size=p["block_size"], dtype=np.float32, random_state=0,
              unobserved_row_weights="popularity" if p["row_popularity"] else None,
              unobserved_col_weights="popularity" if p["col_popularity"] else None,
              unobserved_exponent=p["unobserved_exponent"], cg_steps=p["cg_steps"],
              col_weights=col_weights)
    WALS(**{**kw, "iterations": 1, "col_weights": None}).fit(train[:500])  # compile outside the timing
    start = time.perf_counter()
    model = WALS(**kw).fit(train)
    return time.perf_counter() - start, model.user_factors_, model.item_factors_


def fit_implicit(train, p):
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    X = train.copy()
    if p["confidence"] == "log":
        X.data = np.log1p(X.data / p["epsilon"]).astype(np.float32)
    elif p["confidence"] == "constant":
        X.data[:] = 1
    with threadpool_limits(1, "blas"):  # also around the constructor, which checks it
        model = AlternatingLeastSquares(factors=p["factors"], regularization=p["regularization"],
                                        alpha=p["alpha"], iterations=p["iterations"],
                                        use_cg=bool(p["use_cg"]), dtype=np.float32,
                                        random_state=0)
        start = time.perf_counter()
        model.fit(X, show_progress=False)
        seconds = time.perf_counter() - start
    return seconds, model.user_factors, model.item_factors


def run(dataset, train, test, library, p):
    fit = fit_fastwals if library == "fastwals" else fit_implicit
    seconds, U, V = fit(train, p)
    U, V = np.asarray(U), np.asarray(V)
    finite = bool(np.isfinite(U).all() and np.isfinite(V).all())
    m = ranking_metrics((U, V), train, test, K=K, metrics=("recall", "ndcg", "recall_all"))
    keys = ["factors", "iterations", "regularization", "alpha", "confidence", "epsilon"]
    keys += (["unobserved_weight", "reg_exponent", "solver", "block_size", "cg_steps",
              "row_popularity", "col_popularity", "unobserved_exponent",
              "col_weight_exponent"] if library == "fastwals" else ["use_cg"])
    if p["confidence"] != "log":
        keys.remove("epsilon")
    if library == "fastwals" and p["solver"] != "subspace":
        keys.remove("block_size")
    if library == "fastwals" and p["solver"] != "cg":
        keys.remove("cg_steps")
    if library == "fastwals" and not (p["row_popularity"] or p["col_popularity"]):
        keys = [k for k in keys if k not in ("row_popularity", "col_popularity",
                                             "unobserved_exponent")]
    if library == "fastwals" and p["col_weight_exponent"] == 0:
        keys.remove("col_weight_exponent")
    line = (f"{dataset} {library} " + " ".join(f"{k}={p[k]}" for k in keys)
            + f" | fit {seconds:.1f}s recall@{K} {m['recall']:.4f} ndcg@{K} {m['ndcg']:.4f}")
    if dataset == "gowalla":
        line += f" recall_all@{K} {m['recall_all']:.4f}"
    if not finite:
        line += " NON-FINITE FACTORS"
    print(line, flush=True)
    with open(HERE / "quality_log.txt", "a") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M')} {line}\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["gowalla", "ml1m", "lastfm"], default="gowalla")
    ap.add_argument("--library", choices=["fastwals", "implicit"], default="fastwals")
    grid = {  # name: (type, default); each accepts a comma-separated list
        "factors": (int, "64"), "iterations": (int, "15"), "regularization": (float, "0.01"),
        "alpha": (float, "1"), "confidence": (str, "linear"), "epsilon": (float, "1"),
        "unobserved_weight": (float, "1"), "reg_exponent": (float, "0"),
        "solver": (str, "cholesky"), "block_size": (int, "16"), "use_cg": (int, "0"),
        "cg_steps": (int, "3"), "row_popularity": (int, "0"), "col_popularity": (int, "0"),
        "unobserved_exponent": (float, "0.5"), "col_weight_exponent": (float, "0"),
    }
    for name, (_, default) in grid.items():
        ap.add_argument("--" + name.replace("_", "-"), default=default)
    args = ap.parse_args(argv)
    train, test = load(args.dataset)
    values = {n: [t(v) for v in str(getattr(args, n)).split(",")] for n, (t, _) in grid.items()}
    for combo in itertools.product(*values.values()):
        run(args.dataset, train, test, args.library, dict(zip(values, combo)))


if __name__ == "__main__":
    main()
