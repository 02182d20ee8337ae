"""The tuner against the test set: fastwals.tune sees only the training part,
then its refitted model is scored on the held-out test part.

    python bench/tune_quality.py --dataset gowalla --budget 15m --metric recall@20
    python bench/tune_quality.py --dataset ml1m --budget 5m --plot /tmp/ml1m.png

Data and metrics as bench/quality.py (gowalla: LightGCN's split, recall_all is
LightGCN's hits/|test|; ml1m, lastfm: random 80/20, seed 0). The tuner carves
its own validation split from the training part. One line per run goes to
stdout and to bench/quality_log.txt; --trials-csv keeps the trials.
"""

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from quality import K, load  # noqa: E402

import fastwals  # noqa: E402
from fastwals.metrics import ranking_metrics  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["gowalla", "ml1m", "lastfm"], default="gowalla")
    ap.add_argument("--budget", default="15m")
    ap.add_argument("--metric", default="ndcg@20")
    ap.add_argument("--max-factors", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trials-csv", default=None)
    ap.add_argument("--plot", default=None)
    ap.add_argument("--item-confidence", action="store_true")
    args = ap.parse_args(argv)
    train, test = load(args.dataset)
    start = time.perf_counter()
    result = fastwals.tune(train, metric=args.metric, budget=args.budget,
                           factors=(32, args.max_factors), random_state=args.seed,
                           item_confidence=args.item_confidence,
                           show_progress=sys.stderr.isatty())
    seconds = time.perf_counter() - start
    m = ranking_metrics(result.model, train, test, K=K, metrics=("recall", "ndcg", "recall_all"))
    if args.trials_csv:
        result.to_csv(args.trials_csv)
    if args.plot:
        result.plot(args.plot)
    states = [t["state"] for t in result.trials]
    p = {k: v for k, v in result.best_settings.items() if k not in ("n_threads", "random_state")}
    line = (f"{args.dataset} tune budget={args.budget} metric={args.metric} seed={args.seed} "
            f"item_confidence={int(args.item_confidence)} "
            f"trials={len(states)} pruned={states.count('pruned')} best "
            + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in p.items())
            + f" | tune+refit {seconds:.0f}s validation {result.metric} {result.best_score:.4f}"
            f" recall@{K} {m['recall']:.4f} ndcg@{K} {m['ndcg']:.4f}")
    if args.dataset == "gowalla":
        line += f" recall_all@{K} {m['recall_all']:.4f}"
    print(line, flush=True)
    with open(HERE / "quality_log.txt", "a") as f:
        f.write(f"{time.strftime('%Y-%m-%d %H:%M')} {line}\n")


if __name__ == "__main__":
    main()
