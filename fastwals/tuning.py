"""Hyperparameter search for WALS, done for the user (``fastwals.tune``).

The search is scored on a validation split carved from the training data (a
random share of its entries; the test data is never seen). It runs in three
phases within one wall-clock budget:

1. Optuna's TPE sampler over regularization, reg_exponent, unobserved_weight,
   the confidence transform (and epsilon), the popularity weights of unobserved
   items (and their exponent), with item_confidence per-item confidence weights
   col_weights = n_i^G (and G), and the small factor counts; each trial stops
   early when its validation metric stops improving, and a pruner (median or
   successive halving) stops trials that trail the earlier ones at the same
   iteration.
2. Successive halving over k: the best settings of phase 1 again at twice
   their k, the better half of them at twice that, ... up to the largest k
   allowed (the settings that win at small k are not those that win at large
   k, where the quality is and where a trial costs most).
3. A greedy coordinate search around the best (each scale halved and doubled,
   each exponent shifted) at its k, until the budget is spent.

The best parameters (with the iteration count that scored best) are refitted
on all of X, inside the budget: no trial starts unless the refit still fits.

alpha is not searched: scaling alpha, w0 and λ together leaves the minimiser
unchanged, so with w0 and λ searched, alpha = 1 loses nothing.
"""

import math
import re
import time
from dataclasses import dataclass, field

import numpy as np

from . import metrics
from ._validation import as_csr, check_int, check_random_state
from .model import WALS
from .weights import popularity_weights

# the searched hyperparameters: name -> (low, high, log scale); factors apart
SPACE = {
    "regularization": (1e-4, 1.0, True),
    "reg_exponent": (0.0, 1.0, False),
    "unobserved_weight": (1e-3, 1.0, True),
    "epsilon": (0.1, 100.0, True),
    "unobserved_exponent": (-1.0, 1.0, False),  # below 0: rare items weigh most
    # col_weights = n_i^G (mean 1): below 0 a popular item's observations weigh less
    "col_weight_exponent": (-0.6, 0.3, False),
}
PRUNERS = ("median", "halving", "none")
# the keys of a trial record that are not WALS parameters
_RECORD_KEYS = ("number", "phase", "state", "score", "iterations", "ran", "seconds", "elapsed")
_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(budget):
    """Seconds from a number of seconds or a text such as "15m", "90s", "1h",
    "1h30m"; must be > 0."""
    if isinstance(budget, (int, float)) and not isinstance(budget, bool):
        seconds = float(budget)
    elif isinstance(budget, str) and re.fullmatch(r"\s*(\d+(\.\d*)?\s*[smh]?\s*)+",
                                                   budget.strip() or "x"):
        parts = re.findall(r"(\d+(?:\.\d*)?)\s*([smh]?)", budget)
        seconds = sum(float(n) * _UNITS[u or "s"] for n, u in parts)
    else:
        raise ValueError(f"budget must be seconds (a number) or a duration such as '15m', "
                         f"'90s' or '1h30m', got {budget!r}")
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"budget must be more than 0 seconds, got {budget!r}")
    return seconds


def parse_metric(metric):
    """"ndcg@20" -> ("ndcg", 20)."""
    name, _, k = str(metric).partition("@")
    if name not in metrics.METRICS or name in ("coverage",) or not k.isdigit() \
            or int(k) < 1:
        raise ValueError(f"metric must be NAME@K with NAME one of "
                         f"{', '.join(m for m in metrics.METRICS if m != 'coverage')} and "
                         f"K >= 1, such as 'ndcg@20'; got {metric!r}")
    return name, int(k)


@dataclass
class TuneResult:
    """What :func:`tune` found.

    ``best_params``: the WALS parameters of the best trial (with ``iterations``
    the count that scored best; ``col_weights`` an array over X's items when
    the search chose them); ``best_settings``: the same as the search
    describes them (``col_weight_exponent`` G for col_weights = n_i^G);
    ``best_score``: its validation metric;
    ``model``: a WALS with best_params refitted on all of X (None with
    ``refit=False``); ``trials``: one dict per trial (number, phase, state,
    score, iterations, seconds, elapsed at its end, and its parameters);
    ``metric``, ``seconds`` (the whole search, refit included).
    """

    best_params: dict
    best_settings: dict
    best_score: float
    model: object
    trials: list
    metric: str
    seconds: float
    study: object = field(default=None, repr=False)

    def table(self):
        """The trials as aligned text, one line per trial."""
        cols = ["number", "phase", "state", "score", "iterations", "seconds", "factors",
                "regularization", "reg_exponent", "unobserved_weight", "confidence",
                "epsilon", "unobserved_col_weights", "unobserved_exponent",
                "col_weight_exponent"]
        rows = [[_cell(t.get(c)) for c in cols] for t in self.trials]
        widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
                  for i, c in enumerate(cols)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
        return "\n".join(lines)

    def to_csv(self, path):
        """Write the trials to a CSV file."""
        import csv
        keys = list(dict.fromkeys(k for t in self.trials for k in t))
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, keys)
            w.writeheader()
            w.writerows(self.trials)

    def plot(self, path):
        """Draw the metric against elapsed time and the main parameters to an
        image file (needs matplotlib: pip install 'fastwals[plot]')."""
        from ._tune_plot import plot_trials
        plot_trials(self, path)


def _cell(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def tune(X, *, metric="ndcg@20", budget="15m", n_trials=None, factors=(32, 1024),
         search_factors=128, grow_candidates=8, max_iterations=20, patience=3, solver="cg",
         validation_fraction=0.2, max_eval_users=10000, pruner="median", fixed=None,
         item_confidence=False,
         random_state=0, n_threads=None, refit=True, show_progress=False):
    """Search WALS hyperparameters for the best validation ``metric`` on X.

    X: users × items (a sparse matrix, or anything ``WALS.fit`` takes but raw-id
    Interactions, whose matrix is used). ``metric``: "NAME@K" (ndcg, recall,
    recall_all, precision, map, hit_rate, auc). ``budget``: wall-clock seconds or
    "15m"; the search, refit included, ends within it (a first trial longer
    than the budget is cut short). ``n_trials``: at most this many TPE trials
    (phase 1); with it the trials are the same at every run for the same
    ``random_state`` (the budget may only cut the list short).
    ``factors=(low, high)``: powers of two searched; phase 1 samples those up
    to ``search_factors``; phase 2 refits its ``grow_candidates`` best settings
    at twice the k, the better half of them at twice again, ... up to
    ``high``; phase 3 steps each parameter of the best up and down (a greedy
    coordinate search) at its k until the budget is spent.
    ``max_iterations``: per trial, each stopped after ``patience`` iterations
    without improvement. ``solver``: the WALS solver of every trial.
    ``validation_fraction``: the share of X's entries held out for scoring;
    ``max_eval_users``: the validation users scored (a fixed random subset, the
    same for every trial). ``pruner``: "median", "halving" (successive halving)
    or "none". ``fixed``: WALS parameters held fixed (not searched), e.g.
    ``{"confidence": "log"}``. ``item_confidence=True`` also searches per-item
    confidence weights col_weights = n_i^G (G in [-0.6, 0.3]): they won on
    Last.fm, and lost Gowalla's 15-minute search its best (fewer trials where
    they do not pay), so they are off by default.
    Needs Optuna (pip install 'fastwals[tune]').
    """
    optuna = _optuna()
    start = time.perf_counter()
    name, K = parse_metric(metric)
    seconds = parse_budget(budget)
    low, high = _factor_range(factors)
    search_factors = min(max(check_int("search_factors", search_factors, 1), low), high)
    max_iterations = check_int("max_iterations", max_iterations, 1)
    patience = check_int("patience", patience, 1)
    n_trials = None if n_trials is None else check_int("n_trials", n_trials, 1)
    max_eval_users = check_int("max_eval_users", max_eval_users, 1)
    grow_candidates = check_int("grow_candidates", grow_candidates, 1)
    if pruner not in PRUNERS:
        raise ValueError(f"pruner must be one of {', '.join(PRUNERS)}, got {pruner!r}")
    fixed = dict(fixed or {})
    bad = set(fixed) & {"callback", "iterations", "random_state", "n_threads"}
    if bad or not set(fixed) <= set(WALS().get_params()) | {"col_weight_exponent"}:
        raise ValueError(f"fixed must map WALS parameters other than iterations, "
                         f"random_state, n_threads and callback (or col_weight_exponent) "
                         f"to values; got {sorted(fixed)}")
    if not isinstance(random_state, (int, np.integer)) or isinstance(random_state, bool):
        raise TypeError(f"random_state must be an int (the search is seeded), "
                        f"got {random_state!r}")
    check_random_state(random_state)
    if hasattr(X, "matrix") and hasattr(X, "users"):
        X = X.matrix
    X = as_csr(X, dtype=np.float32, name="X")
    train, valid = metrics.split_random(X, validation_fraction, random_state=random_state)
    valid = _subset_users(valid, max_eval_users, random_state)
    scorer = metrics.validation_scorer(train, (valid, name, K))

    search = _Search(train, scorer, name, K, solver, fixed, max_iterations, patience,
                     random_state, n_threads, start, seconds, X.nnz / max(train.nnz, 1))
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=random_state),
                                pruner=_pruner(optuna, pruner))
    sizes = [f for f in _powers(low, high) if f <= search_factors]
    bar = _bar(show_progress, seconds)
    search.bar = bar
    try:
        # phase 1: TPE (trials stop themselves at the budget; no new one starts
        # once the refit of the best would not fit)
        done = 0
        while n_trials is None or done < n_trials:
            if search.trials and not search.time_for(search.trial_estimate(sizes)):
                break  # the first trial always runs (the budget cuts it short)
            trial = study.ask()
            params = _sample(trial, sizes, fixed, item_confidence)
            search.run(params, trial=trial, study=study, phase="search")
            done += 1
            if search.phase1_over(n_trials is None):
                break
        # phase 2: successive halving over k (the best settings at small k are
        # not those at large k): the top configurations at 2k, the better half
        # of them at 4k, ... up to the largest k
        pool = _top_configs(search.trials, grow_candidates)
        k = max((t["factors"] for t in pool), default=high) * 2
        while pool and k <= high:
            scored = []
            for params in pool:
                if not search.time_for(search.estimate_at(k, params)):
                    break
                trial = search.run({**params, "factors": k}, trial=None, study=None,
                                   phase="grow", score_from=search.score_from(params))
                scored.append(trial)
            pool = [_params_of(t) for t in sorted(scored, key=lambda t: -t["score"])
                    [:max(1, len(scored) // 2)] if t["state"] == "complete"]
            k *= 2
        # phase 3: coordinate steps around the best at its k while time is left
        for params in _neighbours(search):
            if not search.time_for(search.estimate_at(params["factors"], params)):
                break
            search.run(params, trial=None, study=None, phase="refine",
                       score_from=search.score_from(params))
    finally:
        if bar is not None:
            bar.close()
    best = search.best
    if best is None:
        raise RuntimeError(f"no trial finished within the budget of {seconds:g} s; give a "
                           f"larger budget or fewer factors")
    settings = {**best["params"], "iterations": best["iterations"],
                "random_state": random_state, "solver": solver, "n_threads": n_threads}
    best_params = _wals_params(settings, _item_counts(X))
    model = WALS(**best_params).fit(X) if refit else None
    return TuneResult(best_params=best_params, best_settings=settings,
                      best_score=best["score"], model=model,
                      trials=search.trials, metric=f"{name}@{K}",
                      seconds=time.perf_counter() - start, study=study)


class _Search:
    """The trials run so far, the clock, and one trial's fit."""

    def __init__(self, train, scorer, name, K, solver, fixed, max_iterations, patience,
                 random_state, n_threads, start, budget, refit_scale):
        self.train, self.scorer, self.name, self.K = train, scorer, name, K
        self.item_counts = _item_counts(train)  # for col_weight_exponent, once
        self.solver, self.fixed = solver, fixed
        self.max_iterations, self.patience = max_iterations, patience
        self.random_state, self.n_threads = random_state, n_threads
        self.start, self.budget, self.refit_scale = start, budget, refit_scale
        self.trials, self.best, self.bar = [], None, None
        self.per_iteration = {}  # factors -> a trial's seconds per iteration, scoring included

    def elapsed(self):
        return time.perf_counter() - self.start

    def refit_estimate(self):
        """The seconds of refitting the best on all of X (0 before any trial)."""
        if self.best is None:
            return 0.0
        return self.best["seconds_per_iteration"] * self.best["iterations"] * self.refit_scale

    def time_for(self, seconds):
        return self.elapsed() + seconds + self.refit_estimate() <= self.budget

    def trial_estimate(self, sizes):
        """A new phase-1 trial's likely cost: a few iterations at the largest size."""
        known = [self.per_iteration[f] for f in sizes if f in self.per_iteration]
        return 0.0 if not known else max(known) * min(self.max_iterations, 2 * self.patience)

    def estimate_at(self, k, params):
        """A trial at k: measured there, else from the largest smaller k measured
        at 3× per doubling (nnz·k and rows·k² terms); over the iterations its
        configuration took and the patience after them."""
        iterations = self.iterations_of(params) + self.patience
        if k in self.per_iteration:
            return self.per_iteration[k] * iterations
        below = [f for f in self.per_iteration if f < k]
        if not below:
            return 0.0
        f = max(below)
        return self.per_iteration[f] * 3 ** math.log2(k / f) * iterations

    def iterations_of(self, params):
        """The best iteration count seen for these settings (any k)."""
        same = [t["iterations"] for t in self.trials if t["state"] == "complete"
                and {k: v for k, v in _params_of(t).items() if k != "factors"}
                == {k: v for k, v in params.items() if k != "factors"}]
        return max(same) if same else self.max_iterations // 2

    def score_from(self, params):
        """Grown trials are ranked only from a few iterations before the best of
        the same settings at a smaller k: at large k a ranking costs about an
        iteration."""
        return max(1, self.iterations_of(params) - self.patience)

    def phase1_over(self, timed):
        """With only a budget, phase 1 ends at half of it (phase 2 gets the rest)."""
        return timed and self.elapsed() >= 0.5 * self.budget

    def run(self, params, trial, study, phase, score_from=1):
        import optuna
        scores, times = [], []
        state = "complete"
        model = WALS(**{**_wals_params(params, self.item_counts),
                        "iterations": self.max_iterations,
                        "solver": self.solver, "random_state": self.random_state,
                        "n_threads": self.n_threads})
        t0 = time.perf_counter()

        def callback(iteration, seconds, loss):
            nonlocal state
            times.append(seconds)
            if iteration + 1 < score_from:  # not scored yet
                scores.append(-math.inf)
                if self.elapsed() + self.refit_estimate() >= self.budget:
                    state = "cut"
                    return True
                return False
            score = self.scorer(model.user_factors_, model.item_factors_)
            scores.append(score if math.isfinite(score) else -math.inf)
            if trial is not None:
                trial.report(scores[-1], iteration)
                if trial.should_prune():
                    state = "pruned"
                    return True
            if iteration + 1 - (int(np.argmax(scores)) + 1) >= self.patience:
                return True
            if self.elapsed() + self.refit_estimate() >= self.budget:
                state = "cut"
                return True
            return False

        model.set_params(callback=callback)
        model.fit(self.train)
        best_at = int(np.argmax(scores))
        score = scores[best_at]
        record = {"number": len(self.trials), "phase": phase, "state": state,
                  "score": score, "iterations": best_at + 1, "ran": len(scores),
                  "seconds": time.perf_counter() - t0, "elapsed": self.elapsed(),
                  **params}
        self.trials.append(record)
        per_it = float(np.median(times))  # a fit's iteration (the refit's pace)
        trial_per_it = record["seconds"] / len(scores)  # with the scoring (a trial's)
        self.per_iteration[params["factors"]] = trial_per_it
        if trial is not None:
            if state == "pruned":
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(trial, score)
        if state != "pruned" and (self.best is None or score > self.best["score"]):
            self.best = {"score": score, "iterations": best_at + 1, "params": dict(params),
                         "seconds_per_iteration": per_it}
        if self.bar is not None:
            self.bar.n = min(self.elapsed(), self.budget)
            self.bar.set_postfix_str(f"trial {record['number']} {state} "
                                     f"best {self.name}@{self.K} {self.best['score']:.4f}"
                                     if self.best else state)
            self.bar.refresh()
        return record


def _sample(trial, sizes, fixed, item_confidence):
    """One phase-1 point: the space minus what is fixed."""
    p = dict(fixed)

    def num(n):
        if n not in p:
            lo, hi, log = SPACE[n]
            p[n] = trial.suggest_float(n, lo, hi, log=log)

    if "factors" not in p:
        p["factors"] = trial.suggest_categorical("factors", sizes)
    for n in ("regularization", "reg_exponent", "unobserved_weight"):
        num(n)
    if "confidence" not in p:
        p["confidence"] = trial.suggest_categorical("confidence", ["linear", "log"])
    if p["confidence"] == "log":
        num("epsilon")
    if "unobserved_col_weights" not in p:
        popular = trial.suggest_categorical("unobserved_col_weights", ["none", "popularity"])
        p["unobserved_col_weights"] = None if popular == "none" else popular
    if isinstance(p["unobserved_col_weights"], str):
        num("unobserved_exponent")
    if item_confidence and "col_weights" not in p and "col_weight_exponent" not in p:
        if trial.suggest_categorical("col_weights", ["none", "popularity"]) == "popularity":
            num("col_weight_exponent")
    return p


def _item_counts(X):
    """Each item's stored entries in CSR X."""
    return np.bincount(X.indices, minlength=X.shape[1])


def _wals_params(params, item_counts):
    """The search's settings as WALS parameters for a fit of the matrix whose
    items have these counts: a col_weight_exponent G becomes col_weights = n_i^G."""
    p = dict(params)
    if "col_weight_exponent" in p:
        p["col_weights"] = popularity_weights(item_counts, p.pop("col_weight_exponent"))
    return p


def _params_of(trial):
    """The WALS parameters of a trial record."""
    return {k: v for k, v in trial.items() if k not in _RECORD_KEYS}


def _top_configs(trials, n):
    """The parameters of the n best complete phase-1 trials, best first."""
    done = [t for t in trials if t["phase"] == "search" and t["state"] == "complete"
            and math.isfinite(t["score"])]
    return [_params_of(t) for t in sorted(done, key=lambda t: -t["score"])[:n]]


# one coordinate step each way: a factor for scales, a shift for exponents
_STEPS = [("regularization", 2.0, None), ("unobserved_weight", 2.0, None),
          ("regularization", 0.5, None), ("unobserved_weight", 0.5, None),
          ("reg_exponent", None, 0.15), ("reg_exponent", None, -0.15),
          ("unobserved_exponent", None, 0.2), ("unobserved_exponent", None, -0.2),
          ("col_weight_exponent", None, 0.1), ("col_weight_exponent", None, -0.1)]


def _neighbours(search):
    """Parameters next to the current best (re-read after every trial), each
    tried once: a greedy coordinate search."""
    def key(p):
        return tuple(sorted((k, repr(v)) for k, v in p.items()))

    tried = {key(_params_of(t)) for t in search.trials}  # nothing run twice
    while True:
        best = search.best
        if best is None:
            return
        fresh = None
        for name, factor, shift in _STEPS:
            p = dict(best["params"])
            if name not in p or name in search.fixed:
                continue
            lo, hi, _ = SPACE[name]
            p[name] = p[name] * factor if factor else min(hi, max(lo, p[name] + shift))
            if not lo <= p[name] <= hi:
                continue
            if key(p) not in tried:
                tried.add(key(p))
                fresh = p
                break
        if fresh is None:
            return
        yield fresh


def _subset_users(valid, n, seed):
    """valid with only n of its users (those with entries) kept: a fixed random subset."""
    counts = np.diff(valid.indptr)
    users = np.flatnonzero(counts)
    if users.size <= n:
        return valid
    keep = np.zeros(valid.shape[0], bool)
    keep[np.random.default_rng(seed).choice(users, n, replace=False)] = True
    mask = np.repeat(keep, counts)
    out = valid.copy()
    out.data = np.where(mask, out.data, 0).astype(out.data.dtype)
    out.eliminate_zeros()
    return out


def _factor_range(factors):
    try:
        low, high = (check_int("factors", int(f), 1) for f in factors)
    except (TypeError, ValueError):
        raise ValueError(f"factors must be a (low, high) pair of positive ints such as "
                         f"(32, 1024), got {factors!r}") from None
    if low > high:
        raise ValueError(f"factors must be (low, high) with low <= high, got {factors!r}")
    return low, high


def _powers(low, high):
    """Powers of two in [low, high] (low itself when none is)."""
    out = [2 ** e for e in range(0, 31) if low <= 2 ** e <= high]
    return out or [low]


def _pruner(optuna, name):
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=2, reduction_factor=3)
    return optuna.pruners.NopPruner()


def _bar(show, seconds):
    if not show:
        return None
    from tqdm import tqdm
    return tqdm(total=round(seconds), unit="s", desc="tune", leave=False,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total} s {postfix}")


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError("fastwals.tune needs Optuna: pip install 'fastwals[tune]' "
                          "(or pip install optuna)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna
