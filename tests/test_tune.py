"""fastwals.tune and `fastwals tune`: the seeded search on a validation split."""

import json
import sys

import numpy as np
import pytest

pytest.importorskip("optuna")

import fastwals  # noqa: E402
from fastwals import WALS  # noqa: E402
from fastwals.cli import main  # noqa: E402
from fastwals.datasets import synthetic_implicit  # noqa: E402
from fastwals.metrics import ranking_metrics, split_random  # noqa: E402
from fastwals.tuning import parse_budget, parse_metric  # noqa: E402

SMALL = dict(factors=(4, 16), search_factors=8, max_iterations=4, patience=2,
             budget=600, random_state=3)


@pytest.fixture(scope="module")
def X():
    return synthetic_implicit(400, 150, 12000, random_state=1)[0]


@pytest.fixture(scope="module")
def result(X):
    return fastwals.tune(X, n_trials=6, **SMALL)


@pytest.mark.parametrize("text, seconds", [("15m", 900), ("90s", 90), ("1h30m", 5400),
                                           ("2.5m", 150), (30, 30), ("45", 45)])
def test_budget_texts(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("bad", ["abc", "15x", "", 0, -5, "0m", float("inf"), True, None])
def test_bad_budgets_say_the_form(bad):
    with pytest.raises(ValueError, match="budget"):
        parse_budget(bad)


@pytest.mark.parametrize("bad", ["ndcg", "ndcg@0", "foo@20", "coverage@10", "ndcg@x"])
def test_bad_metrics_say_the_form(bad):
    with pytest.raises(ValueError, match="NAME@K"):
        parse_metric(bad)


def test_the_best_trial_is_what_a_plain_fit_scores_on_the_same_split(X, result):
    # the search scores a WALS fit of the training part on the held-out part:
    # redoing that by hand with the best parameters gives the same number
    from fastwals.tuning import _item_counts, _wals_params
    train, valid = split_random(X, 0.2, random_state=3)
    p = {k: v for k, v in result.best_settings.items() if k != "n_threads"}
    model = WALS(**_wals_params(p, _item_counts(train))).fit(train)  # col_weights from train's counts
    name, K = parse_metric(result.metric)
    found = ranking_metrics(model, train, valid, K=K, metrics=(name,))[name]
    assert found == pytest.approx(result.best_score, abs=1e-6)
    scored = [t["score"] for t in result.trials if t["state"] != "pruned"]
    assert result.best_score == max(scored)


def test_result_holds_the_refitted_model_and_the_trials(X, result):
    assert result.model.user_factors_.shape == (X.shape[0], result.best_params["factors"])
    assert result.model.n_iter_ == result.best_params["iterations"]
    assert sum(t["phase"] == "search" for t in result.trials) == 6
    for t in result.trials:
        assert 4 <= t["factors"] <= 16 and 1 <= t["iterations"] <= t["ran"] <= 4
        assert t["state"] in ("complete", "pruned", "cut")
        assert 1e-4 <= t["regularization"] <= 1 and 0 <= t["reg_exponent"] <= 1
    grown = [t for t in result.trials if t["phase"] == "grow"]
    assert all(t["factors"] == 16 for t in grown)
    text = result.table()
    assert len(text.splitlines()) == len(result.trials) + 1 and "regularization" in text


def test_same_seed_same_trials(X, result):
    again = fastwals.tune(X, n_trials=6, **SMALL)
    keep = lambda t: {k: v for k, v in t.items() if k not in ("seconds", "elapsed")}  # noqa: E731
    assert [keep(t) for t in again.trials] == [keep(t) for t in result.trials]
    np.testing.assert_array_equal(again.model.item_factors_, result.model.item_factors_)


def test_fixed_parameters_are_not_searched(X):
    res = fastwals.tune(X, n_trials=3, **{**SMALL, "factors": (8, 8)}, refit=False,
                        fixed={"confidence": "log", "unobserved_col_weights": None})
    assert res.model is None
    assert all(t["confidence"] == "log" and t["factors"] == 8 and "epsilon" in t
               and t["unobserved_col_weights"] is None for t in res.trials)


def test_item_confidence_weights_are_counts_to_the_exponent(X):
    from fastwals.tuning import _item_counts, _wals_params
    from fastwals.weights import popularity_weights
    plain = fastwals.tune(X, n_trials=4, **{**SMALL, "factors": (8, 8)}, refit=False)
    assert all("col_weight_exponent" not in t for t in plain.trials)  # off by default
    res = fastwals.tune(X, n_trials=3, **{**SMALL, "factors": (8, 8)}, item_confidence=True,
                        fixed={"col_weight_exponent": -0.25})
    assert all(t["col_weight_exponent"] == -0.25 for t in res.trials)
    counts = np.diff(X.tocsc().indptr)
    np.testing.assert_allclose(res.best_params["col_weights"], popularity_weights(counts, -0.25))
    assert res.best_settings["col_weight_exponent"] == -0.25
    assert "col_weights" not in res.best_settings
    # the score is that of a plain fit of the split's training part with those weights
    train, valid = split_random(X, 0.2, random_state=3)
    p = {k: v for k, v in res.best_settings.items() if k != "n_threads"}
    model = WALS(**_wals_params(p, _item_counts(train))).fit(train)
    name, K = parse_metric(res.metric)
    found = ranking_metrics(model, train, valid, K=K, metrics=(name,))[name]
    assert found == pytest.approx(res.best_score, abs=1e-6)


def test_a_tiny_budget_cuts_the_first_trial_and_still_returns_a_model(X):
    res = fastwals.tune(X, **{**SMALL, "budget": 1e-3})
    assert [t["state"] for t in res.trials] == ["cut"]
    assert res.trials[0]["ran"] == 1 and res.model is not None


def test_csv_and_plot(tmp_path, result):
    result.to_csv(tmp_path / "trials.csv")
    lines = (tmp_path / "trials.csv").read_text().splitlines()
    assert len(lines) == len(result.trials) + 1 and lines[0].startswith("number,phase,state")
    pytest.importorskip("matplotlib")
    result.plot(tmp_path / "trials.png")
    assert (tmp_path / "trials.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("kwargs, match", [
    ({"pruner": "best"}, "pruner must be one of"),
    ({"factors": (64, 8)}, "low <= high"),
    ({"factors": 64}, r"\(low, high\) pair"),
    ({"fixed": {"iterations": 5}}, "fixed must map"),
    ({"fixed": {"speed": 5}}, "fixed must map"),
    ({"max_iterations": 0}, "max_iterations"),
    ({"validation_fraction": 1.5}, "validation_fraction|test_fraction"),
])
def test_bad_arguments_name_themselves(X, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        fastwals.tune(X, **{**SMALL, **kwargs})


def test_without_optuna_the_error_says_what_to_install(X, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"fastwals\[tune\]"):
        fastwals.tune(X, **SMALL)


def test_cli_tune_writes_the_best_model_the_trials_and_the_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    X = synthetic_implicit(200, 80, 4000, random_state=2)[0].tocoo()
    path = tmp_path / "events.csv"
    path.write_text("user,item\n" + "".join(f"u{u},i{i}\n" for u, i in zip(X.row, X.col)))
    out, csv, png = tmp_path / "best.npz", tmp_path / "t.csv", tmp_path / "t.png"
    argv = ["tune", str(path), "--user-col", "user", "--item-col", "item", "--trials", "3",
            "--min-factors", "4", "--max-factors", "8", "--max-iterations", "3",
            "--budget", "10m", "--json", "--quiet", "-o", str(out), "--trials-csv", str(csv),
            "--plot", str(png)]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trials"] >= 3 and summary["metric"] == "ndcg@20"
    model = WALS.load(out)
    assert model.user_ids_.ids.size == np.unique(X.row).size
    assert model.get_params()["factors"] == summary["best_params"]["factors"]
    assert csv.exists() and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("flags, says", [
    (["--budget", "soon"], "budget"), (["--metric", "ndcg"], "NAME@K"),
    (["--min-factors", "64", "--max-factors", "8"], "--min-factors 64 is above"),
    (["--validation-fraction", "2"], "--validation-fraction"),
])
def test_cli_usage_errors(tmp_path, capsys, flags, says):
    path = tmp_path / "e.csv"
    path.write_text("user,item\na,b\n")
    code = main(["tune", str(path), "--user-col", "user", "--item-col", "item",
                 "-o", str(tmp_path / "m.npz"), *flags])
    assert code == 2 and says in capsys.readouterr().err
