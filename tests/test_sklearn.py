"""WALS in scikit-learn: its estimator checks, tags and fitted-state protocol,
fit_transform."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastwals import WALS
from conftest import random_ratings

sklearn = pytest.importorskip("sklearn")  # the test extra; fastwals itself never imports it
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402


def test_importing_fastwals_does_not_import_sklearn():
    code = ("import sys, fastwals, fastwals.metrics\n"
            "assert 'sklearn' not in sys.modules, 'fastwals imported sklearn'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- check_estimator

# Each check WALS fails, and why. The bad inputs behind the first six are tested
# below (test_bad_inputs_raise_the_documented_errors): WALS refuses each one with
# an error naming the argument and the problem; the checks fail only on the
# wording or the type scikit-learn's own validation uses.
WORDING = ("WALS raises ValueError as scikit-learn expects, in fastwals's wording (its "
           "input checks, fastwals/_validation.py), not scikit-learn's phrase ")
EXPECTED_FAILURES = {
    "check_n_features_in_after_fitting":
        WORDING + "'X has 1 features, but WALS is expecting 4 features as input' (transform "
        "says 'user_items must have shape (15, 4), got (15, 1)')",
    "check_estimators_empty_data_messages":
        WORDING + "'0 feature(s) (shape=(12, 0)) while a minimum of 1 is required' "
        "(fit says 'X is empty: shape (12, 0)')",
    "check_fit2d_predict1d":
        WORDING + "'Reshape your data' (transform says 'user_items must be 2-D')",
    "check_positive_only_tag_during_fit":
        WORDING + "'Negative values in data' (fit says 'X has N negative values ...; "
        "confidence='linear' needs values >= 0')",
    "check_complex_data":
        "complex X raises TypeError (a dtype problem, as for every non-real dtype in fastwals), "
        "not scikit-learn's ValueError 'Complex data not supported'",
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
# confidence="constant" takes signed values, so the positive-only check applies and passes
CONSTANT_EXPECTED = {k: v for k, v in EXPECTED_FAILURES.items()
                     if k != "check_positive_only_tag_during_fit"}

ESTIMATORS = {
    "linear": (WALS(4, iterations=2, random_state=0), EXPECTED_FAILURES),
    "constant-explicit-float64": (WALS(3, iterations=2, regularization=0.1,
                                       confidence="constant", feedback="explicit",
                                       dtype=np.float64, random_state=0), CONSTANT_EXPECTED),
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
    skipped = {c for c, s in statuses.items() if "skipped" in s}
    assert skipped <= {"check_array_api_input"}, skipped  # needs SCIPY_ARRAY_API
    assert sum("passed" in s for s in statuses.values()) >= 30


def test_bad_inputs_raise_the_documented_errors():
    """The behaviour behind the expected failures above: refused, with fastwals's errors."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(15, 4))
    model = WALS(3, iterations=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"user_items must have shape \(15, 4\)"):
        model.transform(X[:, [1]])
    with pytest.raises(ValueError, match="must be 2-D"):
        model.transform(X[0])
    for empty in (np.empty((0, 3)), np.empty((12, 0))):
        with pytest.raises(ValueError, match="X is empty"):
            WALS(3).fit(empty)
    with pytest.raises(ValueError, match="negative values"):
        WALS(3).fit(X - 0.5)
    with pytest.raises(TypeError, match="real numbers, got dtype complex128"):
        WALS(3).fit(X + 1j)
    with pytest.raises(TypeError, match="real numbers, got dtype object"):
        WALS(3).fit(X.astype(object))
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
