"""Every bad input raises an error that names the argument, the value and the fix."""

import numpy as np
import pytest
import scipy.sparse as sp

from fastwals import WALS
from fastwals._validation import ComplexDataError


@pytest.fixture
def R():
    return sp.csr_array(np.array([[1.0, 0, 2], [0, 3, 0], [4, 0, 0], [0, 0, 5]]))


BAD_PARAMS = [
    (dict(factors=0), ValueError, r"factors must be >= 1, got 0"),
    (dict(factors=2.5), TypeError, r"factors must be an integer, got 2\.5"),
    (dict(factors=True), TypeError, r"factors must be an integer"),
    (dict(iterations=-1), ValueError, r"iterations must be >= 0, got -1"),
    (dict(regularization=-1.0), ValueError, r"regularization must be a finite number >= 0, got -1\.0"),
    (dict(regularization=np.nan), ValueError, r"regularization must be a finite number"),
    (dict(regularization="0.1"), TypeError, r"regularization must be a real number, got '0\.1'"),
    (dict(alpha=-0.5), ValueError, r"alpha must be a finite number >= 0, got -0\.5"),
    (dict(unobserved_weight=-1), ValueError, r"unobserved_weight must be a finite number >= 0"),
    (dict(reg_exponent=-1), ValueError, r"reg_exponent must be a finite number >= 0"),
    (dict(epsilon=0.0), ValueError, r"epsilon must be a finite number > 0, got 0\.0"),
    (dict(confidence="sqrt"), ValueError, r"confidence must be one of 'linear', 'log', 'constant', 'total'; got 'sqrt'"),
    (dict(feedback="ratings"), ValueError, r"feedback must be one of 'implicit', 'explicit'; got 'ratings'"),
    (dict(solver="lu"), ValueError, r"solver must be one of 'cholesky', 'cg', 'subspace'; got 'lu'"),
    (dict(cg_steps=0), ValueError, r"cg_steps must be >= 1, got 0"),
    (dict(block_size=0), ValueError, r"block_size must be >= 1, got 0"),
    (dict(dtype=np.float16), TypeError, r"dtype must be numpy\.float32 or numpy\.float64"),
    (dict(dtype=int), TypeError, r"dtype must be numpy\.float32 or numpy\.float64"),
    (dict(dtype="bogus"), TypeError, r"dtype must be numpy\.float32 or numpy\.float64, got 'bogus'"),
    (dict(n_threads=0), ValueError, r"n_threads must be between 1 and \d+, got 0"),
    (dict(n_threads=10_000), ValueError, r"n_threads must be between 1 and \d+, got 10000"),
    (dict(random_state=-3), ValueError, r"random_state must be a non-negative seed, got -3"),
    (dict(random_state="seed"), TypeError, r"random_state must be None, an int, a numpy Generator"),
    (dict(calculate_loss="yes"), TypeError, r"calculate_loss must be True or False"),
    (dict(show_progress=1), TypeError, r"show_progress must be True or False"),
    (dict(callback=42), TypeError, r"callback must be callable"),
    (dict(row_weights=np.ones(3)), ValueError, r"row_weights must have one entry per user .*expected shape \(4,\), got \(3,\)"),
    (dict(col_weights=np.ones(4)), ValueError, r"col_weights must have one entry per item .*expected shape \(3,\), got \(4,\)"),
    (dict(row_weights=[1, 1, -1, 1]), ValueError, r"row_weights must be finite and >= 0; 1 entries are not, the first at index 2"),
    (dict(col_weights=[1, np.nan, 1]), ValueError, r"col_weights must be finite and >= 0; 1 entries are not, the first at index 1"),
    (dict(col_weights=["a", "b", "c"]), TypeError, r"col_weights must be a 1-D array of real numbers"),
    (dict(col_weights=[1, 1j, 1]), ComplexDataError, r"col_weights must be a 1-D array of real numbers, got dtype complex128\. Complex data not supported: pass numpy\.real\(col_weights\)"),
]


@pytest.mark.parametrize("params,error,match", BAD_PARAMS,
                         ids=[next(iter(p[0])) + "=" + repr(next(iter(p[0].values())))[:20]
                              for p in BAD_PARAMS])
def test_bad_hyperparameters(R, params, error, match):
    model = WALS(2, iterations=1)
    model.set_params(**params)  # stored unchanged, validated in fit
    assert model.get_params()[next(iter(params))] is next(iter(params.values()))
    with pytest.raises(error, match=match):
        model.fit(R)
    assert not hasattr(model, "user_factors_")


def test_nan_and_inf_values_are_counted_and_located():
    X = np.array([[1.0, 0, 0], [0, np.nan, 2], [np.inf, 0, np.nan]])
    with pytest.raises(ValueError, match=r"X contains 3 NaN or infinite values; the first is nan "
                                         r"at \(row 1, column 1\)"):
        WALS(2).fit(X)
    with pytest.raises(ValueError, match=r"contains 1 NaN or infinite values.*row 2, column 0"):
        WALS(2).fit(sp.coo_matrix(([1.0, np.inf], ([0, 2], [1, 0])), shape=(3, 3)))


@pytest.mark.parametrize("confidence", ["linear", "log"])
def test_negative_values_rejected_where_confidence_needs_them(confidence):
    X = np.array([[1.0, 0], [0, -2.0], [-1.0, 3]])
    with pytest.raises(ValueError, match=rf"^Negative values in data: X has 2 values < 0 \(the "
                                         rf"first -2\.0 at row 1, column 1\); "
                                         rf"confidence='{confidence}' needs values >= 0\. Use "
                                         rf"confidence='constant'"):
        WALS(2, confidence=confidence).fit(X)


def test_negative_ratings_allowed_with_constant_confidence():
    X = np.array([[1.0, 0], [0, -2.0], [-1.0, 3]])
    m = WALS(2, confidence="constant", feedback="explicit", regularization=0.1).fit(X)
    assert np.isfinite(m.user_factors_).all()


@pytest.mark.parametrize("X,match", [
    (np.zeros((0, 5)), r"X is empty: 0 sample\(s\) \(shape=\(0, 5\)\) while a minimum of 1 is "
                       r"required; X needs at least one row and one column"),
    (sp.csr_matrix((4, 0)), r"X is empty: 0 feature\(s\) \(shape=\(4, 0\)\) while a minimum of 1 "
                            r"is required"),
    (np.zeros((0, 0)), r"X is empty: 0 sample\(s\) \(shape=\(0, 0\)\)"),
    (np.zeros((3, 4)), r"X has no non-zero entries \(shape \(3, 4\)\)"),
    (sp.csr_matrix(([0.0, 0.0], ([0, 1], [1, 2])), shape=(2, 3)), r"X has no non-zero entries"),
    (sp.coo_matrix(([1.0, -1.0], ([0, 0], [1, 1])), shape=(2, 3)), r"X has no non-zero entries"),
    (sp.csr_matrix((np.array([1.0, -1.0]), np.array([1, 1]), np.array([0, 2, 2])), shape=(2, 3)),
     r"no non-zero entries once duplicates are summed"),
    (np.ones(5), r"X must be 2-D \(users x items\), got shape \(5,\)\. Reshape your data: "
                 r"X\.reshape\(1, -1\) is a single row"),
    (sp.coo_array(np.ones(5)), r"X must be 2-D \(users x items\), got shape \(5,\)\. Reshape your "
                               r"data: X\.reshape\(1, -1\)"),
    (np.ones((2, 2, 2)), r"X must be 2-D \(users x items\), got shape \(2, 2, 2\)\. Reshape your "
                         r"data to 2-D"),
])
def test_bad_matrices(X, match):
    with pytest.raises(ValueError, match=match):
        WALS(2, confidence="constant").fit(X)


@pytest.mark.parametrize("X,error,match", [
    ("ratings.csv", TypeError, r"X must be a scipy\.sparse matrix, a 2-D numpy array or a \(rows, cols, values\) tuple, got str"),
    (None, TypeError, r"got NoneType"),
    (np.array([["a", "b"]]), TypeError, r"X must hold real numbers, got dtype <U1"),
    (np.ones((2, 2), dtype=complex), ComplexDataError, r"X must hold real numbers, got dtype complex128 \(from ndarray\)\. Complex data not supported: pass numpy\.real\(X\) if the imaginary parts are all zero"),
    (sp.csr_matrix(np.ones((2, 2), dtype=complex)), ComplexDataError, r"X must hold real numbers, got dtype complex128\. Complex data not supported"),
])
def test_bad_matrix_types(X, error, match):
    with pytest.raises(error, match=match):
        WALS(2).fit(X)


def test_complex_data_error_is_both_a_type_error_and_a_value_error():
    """Code catching TypeError (every non-real dtype) and scikit-learn's ValueError
    ("Complex data not supported") both catch complex input."""
    assert issubclass(ComplexDataError, TypeError) and issubclass(ComplexDataError, ValueError)
    for error in (TypeError, ValueError):
        with pytest.raises(error, match="Complex data not supported"):
            WALS(2).fit(np.ones((2, 2)) + 1j)
    with pytest.raises(TypeError) as info:  # other dtypes: TypeError only
        WALS(2).fit(np.ones((2, 2), dtype=object))
    assert not isinstance(info.value, ValueError)


@pytest.mark.parametrize("X,shape,error,match", [
    ((np.array([0, 1]), np.array([0, 1])), None, ValueError, r"X as a tuple must be \(rows, cols, values\), got 2 items"),
    ((np.array([0, 1]), np.array([0]), np.array([1.0, 2.0])), None, ValueError, r"equal lengths, got 2, 1, 2"),
    ((np.array([0.5, 1]), np.array([0, 1]), np.array([1.0, 2.0])), None, TypeError, r"X: rows must be a 1-D integer array"),
    ((np.array([0, 5]), np.array([0, 1]), np.array([1.0, 2.0])), (3, 3), ValueError, r"X: rows\[1\] = 5 is outside 0\.\.2 for shape \(3, 3\)"),
    ((np.array([0, 1]), np.array([-1, 1]), np.array([1.0, 2.0])), (3, 3), ValueError, r"X: cols\[0\] = -1 is outside"),
    ((np.array([0, 1]), np.array([0, 1]), np.array(["a", "b"])), None, TypeError, r"values must be a 1-D array of real numbers"),
    ((np.array([0, 1]), np.array([0, 1]), np.array([1j, 2])), None, ComplexDataError, r"X: values must be a 1-D array of real numbers, got shape \(2,\) dtype complex128\. Complex data not supported: pass numpy\.real\(values\)"),
    ((np.array([0, 1]), np.array([0, 1]), np.array([1.0, 2.0])), (3,), ValueError, r"shape must be a pair of non-negative ints"),
    ((np.array([0, 1]), np.array([0, 1]), np.array([1.0, 2.0])), "3x3", TypeError, r"shape must be a pair of ints"),
])
def test_bad_triplets(X, shape, error, match):
    with pytest.raises(error, match=match):
        WALS(2).fit(X, shape=shape)


def test_shape_only_for_triplets(R):
    with pytest.raises(ValueError, match=r"shape is only for a \(rows, cols, values\) triplet"):
        WALS(2).fit(R, shape=(4, 3))
