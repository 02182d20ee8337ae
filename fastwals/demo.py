"""The embedded default job: fit a synthetic implicit-feedback set with planted
structure, print the loss per iteration, and rank held-out items against a
popularity baseline. Needs no download and no data file."""

import sys
import time

import numpy as np

from .datasets import synthetic_implicit
from .metrics import ranking_metrics, split_random
from .model import WALS


def run(n_users=3000, n_items=1500, n_draws=60000, factors=32, iterations=10,
        regularization=10.0, alpha=5.0, K=10, random_state=0, n_threads=None, out=sys.stdout):
    """Returns {"wals": metrics, "popularity": metrics, "loss": [...]}."""
    def say(line):
        print(line, file=out, flush=True)

    X, _ = synthetic_implicit(n_users, n_items, n_draws, random_state=random_state)
    train, test = split_random(X, 0.2, random_state=random_state)
    say(f"synthetic data: {n_users} users x {n_items} items, {X.nnz} interactions "
        f"(planted rank 8); {train.nnz} train / {test.nnz} held out")

    def report(iteration, seconds, loss):
        say(f"  iteration {iteration + 1:3d}  loss {loss:14.6f}  {seconds:7.3f} s")

    model = WALS(factors, iterations=iterations, regularization=regularization, alpha=alpha,
                 random_state=random_state, n_threads=n_threads, calculate_loss=True)
    say(f"fitting {model!r} (the first run compiles the kernels; later runs use the cache)")
    model.set_params(callback=report)
    start = time.perf_counter()
    model.fit(train)
    say(f"fit: {time.perf_counter() - start:.2f} s")

    # popularity as a rank-1 model: every user scores an item by its training count
    popularity = np.asarray(train.sum(axis=0), dtype=np.float32).reshape(-1, 1)
    wals = ranking_metrics(model, train, test, K, n_threads=n_threads)
    pop = ranking_metrics((np.ones((n_users, 1), np.float32), popularity), train, test, K,
                          n_threads=n_threads)
    say(f"held-out ranking over {wals['users']} users (training items excluded):")
    say(f"  {'model':<12}{'recall@' + str(K):>12}{'ndcg@' + str(K):>12}")
    for name, m in (("WALS", wals), ("popularity", pop)):
        say(f"  {name:<12}{m['recall']:>12.4f}{m['ndcg']:>12.4f}")
    say(f"WALS / popularity recall@{K}: {wals['recall'] / max(pop['recall'], 1e-12):.2f}x")
    return {"wals": wals, "popularity": pop, "loss": list(model.loss_history_)}
