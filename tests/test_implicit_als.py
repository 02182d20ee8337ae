"""fastwals.implicit.AlternatingLeastSquares side by side with implicit 0.7.3's.

The fits are compared on the same data and random_state (float64 and the
exact solver agree to rounding); serving, fold-in and explain on the same
factors (implicit's copied into ours), where ids must be equal and scores
equal to float32 rounding. The data have no ties between scores.
"""

import inspect
import io
import pickle

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("implicit", minversion="0.7.3")
import implicit  # noqa: E402
import implicit.als  # noqa: E402
import implicit.cpu.als  # noqa: E402
import implicit.evaluation as evaluation  # noqa: E402
import implicit.recommender_base  # noqa: E402
import implicit.utils  # noqa: E402

import fastwals.implicit  # noqa: E402
import fastwals.implicit.als as als  # noqa: E402
from fastwals.implicit import AlternatingLeastSquares  # noqa: E402

Theirs = implicit.cpu.als.AlternatingLeastSquares
# implicit's own warnings: its BLAS advice, overflow dividing -FLT_MAX by small norms
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning:implicit")


def interactions(n_users=40, n_items=30, seed=0, negatives=0, zeros=0):
    """Users × items counts (csr_matrix, float32) with power-law item popularity,
    every user and item observed; `negatives` entries made negative (dislikes),
    `zeros` stored zeros (implicit: entries of weight 0)."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    rows = np.concatenate([np.repeat(np.arange(n_users), 5), rng.integers(0, n_users, n_items)])
    cols = np.concatenate([rng.choice(n_items, 5 * n_users, p=popularity / popularity.sum()),
                           np.arange(n_items)])
    values = rng.integers(1, 5, rows.size).astype(np.float32)
    R = sp.coo_matrix((values, (rows, cols)), shape=(n_users, n_items)).tocsr()
    R.sum_duplicates()
    changed = rng.choice(R.nnz, negatives + zeros, replace=False)
    R.data[changed[:negatives]] *= -1
    R.data[changed[negatives:]] = 0
    return R


def fitted_pair(R, **params):
    """implicit's model fitted on R, and ours holding copies of its factors."""
    params = {"factors": 6, "iterations": 4, "regularization": 0.05, "random_state": 0,
              **params}
    theirs = Theirs(**params)
    theirs.fit(R, show_progress=False)
    ours = AlternatingLeastSquares(**params)
    ours.user_factors = theirs.user_factors.copy()
    ours.item_factors = theirs.item_factors.copy()
    return theirs, ours


@pytest.fixture(scope="module")
def R():
    return interactions()


@pytest.fixture(scope="module")
def pair(R):
    return fitted_pair(R, alpha=2.0)


def assert_same(theirs, ours, rtol=2e-5):
    """Results (ids, scores) equal: ids and dtypes exactly, scores to float32 rounding."""
    for a, b in zip(theirs, ours):
        assert a.dtype == b.dtype and a.shape == b.shape
        if a.dtype.kind in "iu":
            np.testing.assert_array_equal(b, a)
        else:
            np.testing.assert_allclose(b, a, rtol=rtol, atol=1e-6)


# ---------------------------------------------------------------- the estimator


def test_import_paths_and_signature():
    assert fastwals.implicit.AlternatingLeastSquares is als.AlternatingLeastSquares
    theirs = inspect.signature(implicit.als.AlternatingLeastSquares).parameters
    ours = inspect.signature(AlternatingLeastSquares).parameters
    assert list(ours) == list(theirs)
    assert {n: p.default for n, p in ours.items()} == \
        {n: p.default for n, p in theirs.items()} | {"use_gpu": False}
    public = {k for k in vars(Theirs()) if not k.startswith("_")}
    assert public == set(vars(AlternatingLeastSquares()))
    for name in public:
        assert getattr(AlternatingLeastSquares(), name) == getattr(Theirs(), name)


def test_gpu_is_a_clear_error(pair):
    with pytest.raises(ValueError, match="CPU only"):
        AlternatingLeastSquares(use_gpu=True)
    with pytest.raises(ValueError, match="CPU only"):
        pair[1].to_gpu()
    copy = pair[1].to_cpu()
    assert copy is not pair[1] and vars(copy).keys() == vars(pair[1]).keys()
    np.testing.assert_array_equal(copy.item_factors, pair[1].item_factors)
    assert copy.item_factors is not pair[1].item_factors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("random_state", [7, "generator"])
def test_initial_factors_are_implicits(R, dtype, random_state):
    models = []
    for cls in (Theirs, AlternatingLeastSquares):
        state = np.random.default_rng(3) if random_state == "generator" else random_state
        model = cls(factors=5, iterations=0, dtype=dtype, random_state=state)
        model.fit(R, show_progress=False)
        models.append(model)
    for name in ("user_factors", "item_factors"):
        a, b = getattr(models[0], name), getattr(models[1], name)
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("use_cg", [False, True])
@pytest.mark.parametrize("alpha", [3.0, 0.3])  # 0.3·r < 1: weights below the unobserved 1
def test_fit_gives_implicits_factors(use_cg, alpha):
    # float64: the confidences alpha·r are float32 in both, CG's λ too; the
    # exact solver agrees to 1e-11, CG (3 steps from the last factors, its
    # rounding carried over the iterations) to 1e-8. Negative entries and
    # stored zeros (weight 0 in implicit, not unobserved) included.
    R = interactions(negatives=12, zeros=15)
    params = dict(factors=6, iterations=5, regularization=0.1, alpha=alpha, use_cg=use_cg,
                  dtype=np.float64, random_state=1)
    theirs, ours = Theirs(**params), AlternatingLeastSquares(**params)
    theirs.fit(R, show_progress=False)
    ours.fit(R, show_progress=False)
    atol = 1e-8 if use_cg else 1e-11
    np.testing.assert_allclose(ours.user_factors, theirs.user_factors, rtol=0, atol=atol)
    np.testing.assert_allclose(ours.item_factors, theirs.item_factors, rtol=0, atol=atol)


@pytest.mark.parametrize("alpha", [2.0, 0.4])
def test_float32_fit_reaches_implicits_loss(R, alpha):
    losses = {}
    for cls in (Theirs, AlternatingLeastSquares):
        model = cls(factors=8, iterations=6, regularization=0.1, alpha=alpha, random_state=0,
                    calculate_training_loss=True)
        seen = []
        model.fit(R, show_progress=False, callback=lambda it, s, loss: seen.append(loss))
        losses[cls] = seen
    np.testing.assert_allclose(losses[AlternatingLeastSquares], losses[Theirs], rtol=1e-4)
    assert losses[Theirs][-1] < losses[Theirs][0]


def test_refit_continues_from_the_factors(R):
    params = dict(factors=4, iterations=2, use_cg=False, dtype=np.float64, random_state=2)
    models = [Theirs(**params), AlternatingLeastSquares(**params)]
    for model in models:
        model.fit(R, show_progress=False)
        model.alpha = 2.0  # a second fit with other settings starts where the first ended
        model.fit(R, show_progress=False)
    np.testing.assert_allclose(models[1].user_factors, models[0].user_factors, atol=1e-11)
    # the arrays are fitted in place, as implicit's are
    X = models[1].user_factors
    models[1].fit(R, show_progress=False)
    assert models[1].user_factors is X
    with pytest.raises(ValueError, match="start afresh"):
        models[1].fit(R[:10], show_progress=False)


def test_callback_sees_the_model_and_implicits_loss(R):
    model = AlternatingLeastSquares(factors=5, iterations=3, alpha=2.0, random_state=0,
                                    calculate_training_loss=True)
    calls, neighbours = [], []

    def callback(iteration, seconds, loss):
        # the factors are in implicit's basis (consistent) while the callback runs
        expected = implicit.cpu.als.calculate_loss(R * 2.0, model.user_factors,
                                                   model.item_factors, model.regularization)
        calls.append((iteration, seconds, loss, expected))
        neighbours.append(model.similar_items(0, N=5))  # sees this iteration's factors

    model.fit(R, show_progress=False, callback=callback)
    assert [c[0] for c in calls] == [0, 1, 2] and all(c[1] >= 0 for c in calls)
    np.testing.assert_allclose([c[2] for c in calls], [c[3] for c in calls], rtol=1e-5)
    fresh = pickle.loads(pickle.dumps(model))  # nothing derived is pickled
    assert_same(fresh.similar_items(0, N=5), model.similar_items(0, N=5), rtol=0)
    assert not np.array_equal(neighbours[0][1], neighbours[-1][1])

    model.fit_callback = lambda *args: calls.append(args)  # used when no callback is given
    model.calculate_training_loss = False
    model.fit(R, show_progress=False)
    assert len(calls) == 6 and calls[-1][2] is None


def test_calculate_loss_is_implicits():
    R = interactions(negatives=10, zeros=10)
    rng = np.random.default_rng(4)
    X = rng.standard_normal((R.shape[0], 5)).astype(np.float32)
    Y = rng.standard_normal((R.shape[1], 5)).astype(np.float32)
    for reg in (0.0, 0.7):
        np.testing.assert_allclose(als.calculate_loss(R, X, Y, reg),
                                   implicit.cpu.als.calculate_loss(R, X, Y, reg), rtol=1e-5)


def test_empty_users_and_items_get_zero_factors():
    R = interactions().tolil()
    R[3, :] = 0
    R[:, 5] = 0
    R = R.tocsr()
    R.eliminate_zeros()
    for cls in (Theirs, AlternatingLeastSquares):
        model = cls(factors=4, iterations=2, random_state=0)
        model.fit(R, show_progress=False)
        assert not model.user_factors[3].any() and not model.item_factors[5].any()
    # a zero factor scores every item 0: implicit's heap keeps the first N
    # columns, highest first
    theirs, ours = fitted_pair(R)
    for call in (lambda m: m.recommend(3, R[3], N=7), lambda m: m.similar_items(5, N=4),
                 lambda m: m.recommend(2, R[2], N=9, items=[5, 1, 8, 3])):
        assert_same(call(theirs), call(ours))


def test_threads_do_not_change_the_factors(R):
    runs = []
    for num_threads in (1, 0):
        model = AlternatingLeastSquares(factors=5, iterations=3, random_state=0,
                                        num_threads=num_threads)
        model.fit(R, show_progress=False)
        runs.append(model.user_factors)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_bad_dtype_is_implicits_error(R):
    with pytest.raises(ValueError, match="Invalid dtype"):
        AlternatingLeastSquares(dtype=np.float16).fit(R, show_progress=False)


# ---------------------------------------------------------------- serving


@pytest.mark.parametrize("N", [1, 5, 26, 30, 37])
@pytest.mark.parametrize("filter_liked", [True, False])
def test_recommend_is_implicits(R, pair, N, filter_liked):
    # N from 26 on reaches the filtered items (the users' liked ones), from 31
    # past the items: implicit's -FLT_MAX places and zero padding
    theirs, ours = pair
    for user in (0, 7, np.int64(39)):
        assert_same(theirs.recommend(user, R[user], N=N, filter_already_liked_items=filter_liked),
                    ours.recommend(user, R[user], N=N, filter_already_liked_items=filter_liked))
    users = np.array([3, 1, 3, 20], dtype=np.int32)
    kwargs = dict(N=N, filter_already_liked_items=filter_liked, filter_items=[0, 4, 29])
    assert_same(theirs.recommend(users, R[users], **kwargs),
                ours.recommend(users, R[users], **kwargs))


@pytest.mark.parametrize("items", [[17, 2, 9, 0, 25], np.array([5, 1, 3], np.int32)])
def test_recommend_among_items_is_implicits(R, pair, items):
    # liked items among them are ranked last, at -FLT_MAX; ids take items' dtype
    theirs, ours = pair
    for N in (2, 10):
        assert_same(theirs.recommend(4, R[4], N=N, items=items),
                    ours.recommend(4, R[4], N=N, items=items))
        users = np.arange(6)
        assert_same(theirs.recommend(users, R[users], N=N, items=items),
                    ours.recommend(users, R[users], N=N, items=items))


def test_recommend_recalculated_users_is_implicits(R, pair):
    theirs, ours = pair
    users = np.array([2, 11])
    assert_same(theirs.recommend(users, R[users], N=4, recalculate_user=True),
                ours.recommend(users, R[users], N=4, recalculate_user=True))
    assert_same(theirs.recommend(9, R[9], N=4, recalculate_user=True),
                ours.recommend(9, R[9], N=4, recalculate_user=True))


@pytest.mark.parametrize("N", [1, 8, 30, 33])
def test_similar_items_is_implicits(R, pair, N):
    # the query itself is included (first, at cosine 1)
    theirs, ours = pair
    for call in (lambda m: m.similar_items(3, N=N),
                 lambda m: m.similar_items(np.arange(5), N=N),
                 lambda m: m.similar_items(np.arange(5), N=N, filter_items=[1, 2, 8]),
                 lambda m: m.similar_items(6, N=N, items=[9, 4, 6, 27]),
                 lambda m: m.similar_items([1, 2], N=N, recalculate_item=True,
                                           item_users=R.T.tocsr()[[1, 2]])):
        assert_same(call(theirs), call(ours))


def test_similar_users_is_implicits(pair):
    theirs, ours = pair
    for call in (lambda m: m.similar_users(5, N=4),
                 lambda m: m.similar_users(np.arange(4), N=45, filter_users=[0, 9]),
                 lambda m: m.similar_users(np.arange(3), N=6, users=np.arange(20, 24))):
        assert_same(call(theirs), call(ours))


def test_explain_is_implicits(pair):
    R = interactions(negatives=8)  # a dislike adds no contribution
    theirs, ours = fitted_pair(R, alpha=1.5, dtype=np.float64)
    user = int(np.flatnonzero(np.diff(R.indptr) >= 6)[0])
    for N in (3, 10):
        a = theirs.explain(user, R, itemid=12, N=N)
        b = ours.explain(user, R, itemid=12, N=N)
        assert b[0] == pytest.approx(a[0], rel=1e-9)
        assert [i for i, _ in b[1]] == [i for i, _ in a[1]]
        np.testing.assert_allclose([s for _, s in b[1]], [s for _, s in a[1]], rtol=1e-9)
        np.testing.assert_allclose(b[2][0], a[2][0], rtol=1e-9)
    # the returned Cholesky factor is reused as implicit's user_weights
    again = ours.explain(user, R, itemid=3, user_weights=b[2], N=2)
    assert again[0] == pytest.approx(theirs.explain(user, R, itemid=3, N=2)[0], rel=1e-9)


def test_recalculate_and_partial_fit_are_implicits():
    R = interactions(zeros=20)  # stored zeros: weight-0 entries in the fold-in too
    theirs, ours = fitted_pair(R, dtype=np.float64, alpha=2.0)
    for call in (lambda m: m.recalculate_user(4, R[4]),
                 lambda m: m.recalculate_user([4, 9], R[[4, 9]]),
                 lambda m: m.recalculate_item(2, R.T.tocsr()[2])):
        np.testing.assert_allclose(call(ours), call(theirs), rtol=1e-9, atol=1e-12)
    # ids past the end grow the model, gaps as zero rows; a row narrower than
    # the grown model reads as padded. similar_* see the changed factors.
    for model in (theirs, ours):
        model.similar_items(3), model.similar_users(0)
        model.partial_fit_users([0, 45], R[[1, 2]])
        model.partial_fit_items([33], R.T.tocsr()[[5]])
        model.partial_fit_users([46], R[[3]])
    assert ours.user_factors.shape == (47, 6) and not ours.user_factors[40:45].any()
    np.testing.assert_allclose(ours.user_factors, theirs.user_factors, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.item_factors, theirs.item_factors, rtol=1e-9, atol=1e-12)
    assert_same(theirs.recommend(46, R[3], N=5), ours.recommend(46, R[3], N=5), rtol=1e-9)
    assert_same(theirs.similar_items(33, N=5), ours.similar_items(33, N=5), rtol=1e-9)
    assert_same(theirs.similar_users(0, N=5), ours.similar_users(0, N=5), rtol=1e-9)


def test_deprecated_methods_are_implicits(R, pair):
    theirs, ours = pair
    for call in (lambda m: m.recommend_all(R[:5], N=3),
                 lambda m: m.rank_items(1, R[1], [3, 4, 7])):
        with pytest.warns(DeprecationWarning):
            a = call(theirs)
        with pytest.warns(DeprecationWarning):
            b = call(ours)
        assert_same(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,))
    with pytest.warns(DeprecationWarning):
        offset = ours.recommend_all(R[3:5], N=3, users_items_offset=3)  # implicit's raises
    assert_same((theirs.recommend(np.arange(3, 5), R[3:5], N=3)[0],), (offset,))


def _error(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return type(e)
    return None


@pytest.mark.parametrize("call", [
    lambda m, R: m.recommend(40, R[0]),
    lambda m, R: m.recommend(0, R[0], items=[1, 30]),
    lambda m, R: m.recommend(0, R[0], items=[1, -2]),
    lambda m, R: m.recommend(0, R[0], items=[1, 2], filter_items=[3]),
    lambda m, R: m.recommend(0, R[0], filter_items=[31]),
    lambda m, R: m.recommend(0, R[:2]),
    lambda m, R: m.recommend([0, 1], R[0]),
    lambda m, R: m.recommend(0, R[0].tocsc()),
    lambda m, R: m.recommend(0, R[0].tocoo()),
    lambda m, R: m.recommend(0, R[0], N=0),
    lambda m, R: m.recommend(0, R[0], N=-1),
    lambda m, R: m.recalculate_user(0, R[:2]),
    lambda m, R: m.similar_items(30),
    lambda m, R: m.similar_items(0, items=[2, 3], filter_items=[4]),
    lambda m, R: m.similar_items(0, items=[2, 31]),
    lambda m, R: m.similar_users(0, users=[-41]),
    lambda m, R: m.similar_users(0, users=[1], filter_users=[2]),
    lambda m, R: m.partial_fit_users([1, 2], R[0]),
    lambda m, R: m.explain(0, R, itemid=30),
], ids=lambda call: inspect.getsource(call).split("m, R: ")[1].strip().rstrip(","))
def test_errors_are_implicits(R, pair, call):
    theirs, ours = pair
    expected = _error(lambda: call(theirs, R))
    assert expected is not None
    assert _error(lambda: call(ours, R)) is expected


# ---------------------------------------------------------------- evaluation


def test_implicit_evaluation_runs_on_ours():
    R = interactions(n_users=120, n_items=50, seed=3)
    train, test = evaluation.train_test_split(R, 0.75, random_state=0)
    theirs, ours = fitted_pair(train, alpha=2.0)
    for metric in (evaluation.precision_at_k, evaluation.mean_average_precision_at_k,
                   evaluation.ndcg_at_k, evaluation.AUC_at_k):
        assert metric(ours, train, test, K=5, show_progress=False) == pytest.approx(
            metric(theirs, train, test, K=5, show_progress=False), rel=1e-12)
    a = evaluation.ranking_metrics_at_k(theirs, train, test, K=40, show_progress=False)
    b = evaluation.ranking_metrics_at_k(ours, train, test, K=40, show_progress=False)
    assert b == pytest.approx(a, rel=1e-12)
    train, test = evaluation.leave_k_out_split(R, K=1, random_state=0)
    model = AlternatingLeastSquares(factors=8, iterations=5, random_state=0)
    model.fit(train, show_progress=False)
    assert evaluation.precision_at_k(model, train, test, K=10, show_progress=False) > 0.1


# ---------------------------------------------------------------- files and pickling


@pytest.mark.parametrize("target", ["path", "file"])
def test_files_move_both_ways(tmp_path, pair, target):
    theirs, ours = pair
    ours.random_state = 5
    for writer, reader in ((ours, Theirs), (theirs, AlternatingLeastSquares)):
        if target == "path":  # ".npz" appended, as np.savez does
            writer.save(str(tmp_path / "model"))
            loaded = reader.load(str(tmp_path / "model"))
        else:
            f = io.BytesIO()
            writer.save(f)
            f.seek(0)
            loaded = reader.load(f)
        assert type(loaded) is reader
        for name in ("factors", "regularization", "alpha", "dtype", "iterations", "use_cg",
                     "num_threads", "cg_steps", "calculate_training_loss", "use_native"):
            assert getattr(loaded, name) == getattr(writer, name)
        np.testing.assert_array_equal(loaded.user_factors, writer.user_factors)
        np.testing.assert_array_equal(loaded.item_factors, writer.item_factors)
    assert loaded.random_state == theirs.random_state


def test_unfitted_model_round_trips(tmp_path):
    model = AlternatingLeastSquares(factors=7, regularization=0.5)
    model.save(tmp_path / "unfitted.npz")
    assert vars(AlternatingLeastSquares.load(str(tmp_path / "unfitted.npz"))) == vars(model)
    assert vars(pickle.loads(pickle.dumps(model))) == vars(model)


def test_damaged_files_are_errors_naming_them(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ValueError, match="bad.npz"):
        AlternatingLeastSquares.load(str(bad))
    np.savez(tmp_path / "nan.npz", user_factors=np.full((2, 3), np.nan),
             item_factors=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="finite"):
        AlternatingLeastSquares.load(str(tmp_path / "nan.npz"))
    with pytest.raises(FileNotFoundError):
        AlternatingLeastSquares.load(str(tmp_path / "missing"))


def test_pickled_model_serves_the_same(R, pair):
    ours = pair[1]
    again = pickle.loads(pickle.dumps(ours))
    assert_same(ours.recommend(0, R[0]), again.recommend(0, R[0]), rtol=0)


# ---------------------------------------------------------------- warnings and exceptions


def test_non_csr_input_warns_with_implicits_class(R):
    for matrix in (R.tocoo(), R.tolil(), R.tocsc()):
        model = AlternatingLeastSquares(factors=3, iterations=1)
        with pytest.warns(implicit.utils.ParameterWarning, match="expects CSR"):
            model.fit(matrix, show_progress=False)
        with pytest.warns(fastwals.implicit.ParameterWarning):
            model.recalculate_user(0, matrix.tocsr()[0].tocoo())
    # a csr_array is CSR (implicit warns and converts it, or refuses it in recommend)
    model.fit(sp.csr_array(R), show_progress=False)
    model.recommend(0, sp.csr_array(R[0]))


def test_fit_errors_are_also_implicits_classes():
    assert issubclass(fastwals.implicit.ModelFitError, FloatingPointError)
    joined = fastwals.implicit._compat.flavoured(
        fastwals.implicit.ModelFitError, "implicit.recommender_base", "ModelFitError")
    assert issubclass(joined, implicit.recommender_base.ModelFitError)
    assert issubclass(joined, fastwals.implicit.ModelFitError)
