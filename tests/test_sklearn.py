"""WALS in scikit-learn: its estimator checks, tags and fitted-state protocol,
fit_transform, and model selection over held-out users (UserSplit,
ranking_scorer) in GridSearchCV / RandomizedSearchCV against a hand-written
loop (dense reference fold-in, dense ranking)."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose

from fastwals import WALS
from fastwals._validation import ComplexDataError
from fastwals.datasets import synthetic_implicit
from fastwals.metrics import UserSplit, ranking_metrics, ranking_scorer, split_users
from conftest import random_ratings
from reference import Reference
from test_metrics import naive_metrics

sklearn = pytest.importorskip("sklearn")  # the test extra; fastwals itself never imports it
from scipy.stats import loguniform  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402


def test_importing_fastwals_does_not_import_sklearn():
    code = ("import sys, fastwals, fastwals.metrics, fastwals.selection\n"
            "from fastwals.metrics import UserSplit, ranking_scorer\n"
            "assert UserSplit is fastwals.selection.UserSplit\n"
            "assert 'sklearn' not in sys.modules, 'fastwals imported sklearn'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- check_estimator

# Each check WALS fails, and why. The checks on bad inputs pass: fastwals's
# messages (fastwals/_validation.py) name the argument and the fix and carry
# scikit-learn's phrase too (test_bad_inputs_raise_errors_in_both_wordings).
EXPECTED_FAILURES = {
    "check_dtype_object":
        "an object-dtype X is refused with TypeError by design (fastwals converts no "
        "Python objects element by element); scikit-learn expects object arrays of numbers "
        "to be accepted",
    "check_transformer_general":
        "fit_transform returns the fitted user_factors_ (what recommend scores with), which "
        "fit(X).transform(X), a fresh exact fold-in against the final item factors, equals "
        "only at convergence (documented; test_fit_transform_is_the_fitted_user_factors)",
    "check_transformer_data_not_an_array":
        "the same fit_transform-versus-transform comparison as check_transformer_general",
}
# the checks whose bad inputs fastwals refuses in its wording and scikit-learn's both
# (check_positive_only_tag_during_fit: linear confidence refuses negative values,
# constant confidence takes them)
BOTH_WORDINGS = ("check_n_features_in_after_fitting", "check_estimators_empty_data_messages",
                 "check_fit2d_predict1d", "check_positive_only_tag_during_fit",
                 "check_complex_data")

ESTIMATORS = {
    "linear": (WALS(4, iterations=2, random_state=0), EXPECTED_FAILURES),
    "constant-explicit-float64": (WALS(3, iterations=2, regularization=0.1,
                                       confidence="constant", feedback="explicit",
                                       dtype=np.float64, random_state=0), EXPECTED_FAILURES),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_check_estimator(name):
    estimator, expected = ESTIMATORS[name]
    with warnings.catch_warnings():
        # WALS cannot inherit from BaseEstimator (fastwals does not import sklearn)
        warnings.filterwarnings("ignore", message=".*does not inherit from.*BaseEstimator")
        warnings.filterwarnings("ignore", category=sklearn.exceptions.SkipTestWarning)
        results = check_estimator(estimator, expected_failed_checks=expected, on_fail=None)
    failed = {r["check_name"]: repr(r["exception"]) for r in results if r["status"] == "failed"}
    assert not failed, failed
    statuses = {}
    for r in results:
        statuses.setdefault(r["check_name"], set()).add(r["status"])
    # strict: every expected failure still fails (a fixed one must leave the list)
    for check in expected:
        assert statuses.get(check) == {"xfail"}, (check, statuses.get(check))
    for check in BOTH_WORDINGS:
        assert statuses.get(check) == {"passed"}, (check, statuses.get(check))
    skipped = {c for c, s in statuses.items() if "skipped" in s}
    assert skipped <= {"check_array_api_input"}, skipped  # needs SCIPY_ARRAY_API
    assert sum("passed" in s for s in statuses.values()) >= 30


def test_bad_inputs_raise_errors_in_both_wordings():
    """The errors behind check_n_features_in_after_fitting, check_fit2d_predict1d,
    check_estimators_empty_data_messages, check_positive_only_tag_during_fit and
    check_complex_data: fastwals's message (the argument, what it got, the fix)
    holding scikit-learn's phrase, with the exception type each check expects."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(15, 4))
    model = WALS(3, iterations=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"^user_items must have shape \(15, 4\), got \(15, 1\): "
                                         r"one row per id, one column per item of the model "
                                         r"\(in scikit-learn's words, X has 1 features, but WALS "
                                         r"is expecting 4 features as input\)$"):
        model.transform(X[:, [1]])
    with pytest.raises(ValueError, match=r"X has 3 features, but WALS is expecting 4 features"):
        model.recalculate_user(X[0, :3])
    with pytest.raises(ValueError, match=r"X has 3 features, but WALS is expecting 4 features"):
        model.partial_fit_users([0], X[:1, :3])
    # the phrase is about n_features_in_ (the items): not for rows over users, nor for a
    # wrong number of rows
    for call in (lambda: model.recalculate_item(X[:3, 0]),
                 lambda: model.partial_fit_users([0, 1], X[:3])):
        with pytest.raises(ValueError, match="must have shape") as info:
            call()
        assert "features" not in str(info.value)
    with pytest.raises(ValueError, match=r"^user_items must be 2-D \(users x items\), got shape "
                                         r"\(4,\)\. Reshape your data: user_items\.reshape\(1, "
                                         r"-1\) is a single row$"):
        model.transform(X[0])
    for empty, what in ((np.empty((0, 3)), r"0 sample\(s\) \(shape=\(0, 3\)\)"),
                        (np.empty((12, 0)), r"0 feature\(s\) \(shape=\(12, 0\)\)")):
        with pytest.raises(ValueError, match=rf"^X is empty: {what} while a minimum of 1 is "
                                             rf"required; X needs at least one row and one "
                                             rf"column$"):
            WALS(3).fit(empty)
    with pytest.raises(ValueError, match=r"^Negative values in data: X has 28 values < 0 \(the "
                                         r"first -0\.23\d* at row 0, column 1\); "
                                         r"confidence='linear' needs values >= 0\. Use "
                                         r"confidence='constant' for signed ratings$"):
        WALS(3).fit(X - 0.5)
    WALS(3, iterations=1, confidence="constant").fit(X - 0.5)  # signed values: accepted
    for complex_X, source in ((X + 1j, r" \(from ndarray\)"), (sp.csr_array(X + 1j), "")):
        for error in (ComplexDataError, TypeError, ValueError):
            with pytest.raises(error, match=rf"^X must hold real numbers, got dtype "
                                            rf"complex128{source}\. Complex data not supported: "
                                            rf"pass numpy\.real\(X\) if the imaginary parts "
                                            rf"are all zero$"):
                WALS(3).fit(complex_X)
    with pytest.raises(TypeError, match="real numbers, got dtype object") as info:
        WALS(3).fit(X.astype(object))
    assert not isinstance(info.value, ValueError)
    X_nan = X.copy()
    X_nan[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        WALS(3).fit(X_nan)


# ---------------------------------------------------------------- tags, fitted state

def test_tags_say_sparse_transformer_positive_only_where_confidence_needs_it():
    tags = get_tags(WALS())
    assert tags.estimator_type == "transformer"
    assert not sklearn.base.is_classifier(WALS()) and not sklearn.base.is_regressor(WALS())
    assert tags.input_tags.sparse and tags.input_tags.two_d_array
    assert not tags.input_tags.allow_nan
    assert tags.requires_fit and not tags.target_tags.required
    assert tags.transformer_tags.preserves_dtype == ["float32"]
    assert get_tags(WALS(dtype=np.float64)).transformer_tags.preserves_dtype == ["float64"]
    for confidence, positive in (("linear", True), ("log", True), ("constant", False)):
        assert get_tags(WALS(confidence=confidence)).input_tags.positive_only is positive


def test_fitted_state_and_n_features_in(tmp_path):
    R = random_ratings()
    model = WALS(4, iterations=2, random_state=0)
    assert not model.__sklearn_is_fitted__()
    assert not hasattr(model, "n_features_in_")
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    model.fit(R)
    check_is_fitted(model)
    assert model.n_features_in_ == R.shape[1]
    model.partial_fit_items([R.shape[1]], np.ones((1, R.shape[0])))  # one new item
    assert model.n_features_in_ == R.shape[1] + 1
    model.save(tmp_path / "m.npz")
    assert WALS.load(tmp_path / "m.npz").n_features_in_ == R.shape[1] + 1
    assert pickle.loads(pickle.dumps(model)).n_features_in_ == R.shape[1] + 1
    assert "n_features_in_" not in model.__dict__  # derived from the item factors
    del model.item_factors_
    assert not model.__sklearn_is_fitted__() and not hasattr(model, "n_features_in_")


def test_fit_takes_y_and_ignores_it_keeping_its_keywords():
    R = random_ratings()
    base = WALS(4, iterations=2, random_state=0).fit(R)
    for y in (None, np.arange(R.shape[0])):
        other = WALS(4, iterations=2, random_state=0).fit(R, y)
        assert np.array_equal(other.user_factors_, base.user_factors_)
    rows, cols = np.nonzero(R)
    triplet = (rows, cols, R[rows, cols])
    model = WALS(4, iterations=2, random_state=0).fit(triplet, None, shape=R.shape)
    assert np.array_equal(model.user_factors_, base.user_factors_)
    model.fit(R, warm_start=True)
    assert model.n_iter_ == 4


def test_fit_transform_is_the_fitted_user_factors():
    R = random_ratings()
    model = WALS(4, iterations=2, regularization=1.0, dtype=np.float64, random_state=0)
    F = model.fit_transform(R)
    assert F is model.user_factors_
    assert np.array_equal(F, WALS(**model.get_params()).fit(R).user_factors_)
    assert np.array_equal(model.fit_transform(R), F)  # refit: same random_state, same factors
    assert not np.allclose(model.transform(R), F, atol=1e-2)  # a fresh fold-in differs...
    model.set_params(iterations=300)
    converged = model.fit_transform(R, None)
    assert_allclose(model.transform(R), converged, atol=1e-10)  # ...until convergence
    rows, cols = np.nonzero(R)
    F = WALS(4, iterations=2, random_state=0).fit_transform((rows, cols, R[rows, cols]),
                                                            shape=R.shape)
    assert F.shape == (R.shape[0], 4)


def test_in_a_pipeline():
    R = random_ratings(60, 20, density=0.4, empty_rows=(), empty_cols=())
    pipe = make_pipeline(WALS(4, iterations=3, random_state=0),
                         KMeans(3, n_init=2, random_state=0))
    labels = pipe.fit_predict(R)
    assert labels.shape == (60,)
    assert np.array_equal(pipe[0].user_factors_, WALS(4, iterations=3, random_state=0)
                          .fit(R).user_factors_)


# ---------------------------------------------------------------- UserSplit

def test_user_split_kfold_holds_every_user_out_once():
    X = sp.random_array((23, 5), density=0.5, random_state=0, format="csr")
    cv = UserSplit(4, random_state=0)
    assert cv.get_n_splits() == 4
    splits = list(cv.split(X))
    assert len(splits) == 4
    held = np.concatenate([test for _, test in splits])
    assert np.array_equal(np.sort(held), np.arange(23))
    for train, test in splits:
        assert test.size in (5, 6)
        assert np.array_equal(np.union1d(train, test), np.arange(23))
        assert np.intersect1d(train, test).size == 0
        assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
    again = list(cv.split(X))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    assert not np.array_equal(splits[0][1], list(UserSplit(4, random_state=1).split(X))[0][1])


def test_user_split_shuffle_draws_the_users_split_users_holds_out():
    X, _ = synthetic_implicit(50, 20, 400, random_state=0)
    splits = list(UserSplit(3, test_users=0.2, random_state=7).split(X))
    assert len(splits) == 3
    for train, test in splits:
        assert test.size == 10 and train.size == 40
        assert np.intersect1d(train, test).size == 0
    assert not np.array_equal(splits[0][1], splits[1][1])
    train, fold_in, test = split_users(X, test_users=0.2, random_state=7)
    trained = np.flatnonzero(np.diff(train.indptr))
    held = np.flatnonzero(np.diff((fold_in + test).indptr))
    assert trained.size + held.size == 50  # every user has entries: both sides are known
    assert np.array_equal(trained, splits[0][0]) and np.array_equal(held, splits[0][1])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_splits=1), ValueError, "n_splits must be >= 2"),
    (dict(n_splits=1.5), TypeError, "n_splits must be an integer"),
    (dict(test_users=1.0), ValueError, "test_users must be between 0 and 1"),
    (dict(random_state="x"), TypeError, "random_state"),
])
def test_user_split_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        UserSplit(**kwargs)


def test_user_split_rejects_too_few_users_and_triplets():
    with pytest.raises(ValueError, match="n_splits=5 folds need at least as many users"):
        list(UserSplit(5).split(np.ones((3, 2))))
    with pytest.raises(ValueError, match="holds out 0"):
        list(UserSplit(2, test_users=0.1).split(np.ones((3, 2))))
    with pytest.raises(TypeError, match="triplet"):
        list(UserSplit(2).split((np.array([0]), np.array([0]), np.array([1.0]))))


# ---------------------------------------------------------------- ranking_scorer

def test_scorer_split_is_exact_seeded_and_leaves_one_each_side():
    X, _ = synthetic_implicit(40, 30, 500, random_state=1)
    X = sp.csr_array(X)
    scorer = ranking_scorer("recall", K=5, test_fraction=0.3, random_state=3)
    fold_in, test = scorer.split(X)
    assert (fold_in + test != X).nnz == 0 and fold_in.multiply(test).nnz == 0
    counts, n_test = np.diff(X.indptr), np.diff(test.indptr)
    many = counts >= 2
    assert np.all(n_test[many] >= 1) and np.all(n_test[many] <= counts[many] - 1)
    assert np.all(n_test[~many] == 0)
    assert_allclose(n_test[many], np.clip(np.rint(0.3 * counts[many]), 1, counts[many] - 1))
    again = scorer.split(X)
    assert (again[1] != test).nnz == 0
    drawn = ranking_scorer(random_state=None)  # a seed drawn once: the same split every call
    assert (drawn.split(X)[1] != drawn.split(X)[1]).nnz == 0


def test_scorer_is_ranking_metrics_on_the_folded_in_users_and_skips_singletons():
    X, _ = synthetic_implicit(80, 30, 900, random_state=2)
    X = sp.csr_array(X)
    model = WALS(4, iterations=3, random_state=0).fit(X[:60])
    held = X[60:]
    scorer = ranking_scorer("ndcg", K=5, random_state=0)
    fold_in, test = scorer.split(held)
    U = model.transform(fold_in)
    expected = ranking_metrics((U, model.item_factors_), fold_in, test, K=5)
    assert scorer(model, held) == pytest.approx(expected["ndcg"], rel=1e-12)
    # a user with one entry has no test part: skipped
    single = sp.csr_array(([3.0], ([0], [4])), shape=(1, 30))
    assert scorer(model, sp.vstack([held, single], format="csr")) == scorer(model, held)
    assert np.isnan(scorer(model, single))


def test_scorer_rejects_bad_arguments_and_unfitted_models():
    with pytest.raises(ValueError, match="metric must be one of"):
        ranking_scorer("accuracy")
    with pytest.raises(ValueError, match="K must be >= 1"):
        ranking_scorer(K=0)
    with pytest.raises(ValueError, match="test_fraction must be between 0 and 1"):
        ranking_scorer(test_fraction=1.0)
    with pytest.raises(ValueError, match="ranking_scorer needs a fitted model"):
        ranking_scorer()(WALS(), np.ones((3, 2)))
    model = WALS(2, iterations=1).fit(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"must have shape \(2, 3\)"):
        ranking_scorer()(model, np.ones((2, 5)))


# ---------------------------------------------------------------- searches

BASE = dict(factors=4, iterations=4, dtype=np.float64, random_state=0)
GRID = {"regularization": [0.05, 5.0], "alpha": [1.0, 8.0]}
K = 5


def by_hand(X, cv, scorer, params):
    """One candidate's score on each fold: fit on the training users; the held-out
    users' fold-in and test parts (scorer.split); fold-in by the dense reference
    solver; dense ranking and NDCG (test_metrics.naive_metrics)."""
    scores = []
    for train, test in cv.split(X):
        model = WALS(**BASE, **params).fit(X[train])
        fold_in, test_part = scorer.split(X[test])
        Y = model.item_factors_
        U = Reference(fold_in.toarray(), regularization=params["regularization"],
                      alpha=params["alpha"]).solve_users(Y)
        scores.append(naive_metrics(U, Y, fold_in, test_part, K)["ndcg"])
    return np.array(scores)


def test_grid_search_scores_are_the_hand_written_loop():
    X, _ = synthetic_implicit(90, 25, 1500, random_state=4)
    X = sp.csr_array(X)
    cv = UserSplit(3, random_state=0)
    scorer = ranking_scorer("ndcg", K=K, random_state=1)
    search = GridSearchCV(WALS(**BASE), GRID, cv=cv, scoring=scorer).fit(X)
    results = search.cv_results_
    hand = np.array([by_hand(X, cv, scorer, params) for params in results["params"]])
    for s in range(3):
        assert_allclose(results[f"split{s}_test_score"], hand[:, s], rtol=1e-9)
    best = int(np.argmax(hand.mean(axis=1)))
    assert search.best_index_ == best
    assert search.best_params_ == results["params"][best]
    assert len(set(hand.mean(axis=1))) == len(hand)  # no tie: the arg-max is the one
    refit = WALS(**BASE, **search.best_params_).fit(X)  # refit on all the users
    assert np.array_equal(search.best_estimator_.user_factors_, refit.user_factors_)


def test_randomized_search_runs():
    X, _ = synthetic_implicit(60, 20, 800, random_state=5)
    search = RandomizedSearchCV(WALS(4, iterations=2, random_state=0),
                                {"regularization": loguniform(0.01, 10.0),
                                 "unobserved_weight": [0.1, 1.0]},
                                n_iter=3, random_state=0,
                                cv=UserSplit(2, test_users=0.25, random_state=0),
                                scoring={"ndcg": ranking_scorer("ndcg", K=5),
                                         "recall": ranking_scorer("recall", K=10)},
                                refit="ndcg").fit(sp.csr_array(X))
    assert len(search.cv_results_["params"]) == 3
    assert np.isfinite(search.cv_results_["mean_test_ndcg"]).all()
    assert np.isfinite(search.cv_results_["mean_test_recall"]).all()
    assert search.best_estimator_.n_features_in_ == 20
