"""Top-N recommendations and cosine neighbours against a naive reference: dense
scores, excluded items at -inf, a full stable sort (score descending, ties by
the lower id), on small tiles as well as the default ones, through the int8
gate and without it."""

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings, strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from fastwals import WALS, serving
from fastwals._kernels import vnni
from conftest import random_ratings

DTYPES = [np.float64, np.float32]
TOL = {np.float64: 1e-12, np.float32: 2e-6}

two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                 reason="needs 2 Numba threads")


@pytest.fixture(autouse=True, params=["int8-gate", "float-scores", "few-users"])
def scoring(request, monkeypatch):
    """Every test three ways: items sorted by norm and pruned, through the int8
    gate (where the CPU has VNNI) or scored in floats (the path of other CPUs);
    and as a call with too few users to sort the items (every item scored)."""
    if request.param == "int8-gate" and not vnni.available():
        pytest.skip("needs AVX-512 VNNI")
    monkeypatch.setattr(serving, "GATED", request.param == "int8-gate")
    monkeypatch.setattr(serving, "FEW_USERS", 10**9 if request.param == "few-users" else 0)
    return request.param


@pytest.fixture(params=["default-tiles", "tiles-3x7"])
def tiles(request, monkeypatch):
    """Run once with the module's tile sizes, once with tiny ones (3 users × 7
    items) so that every heap and tile edge is crossed on small data."""
    if request.param == "tiles-3x7":
        monkeypatch.setattr(serving, "TILE_USERS", 3)
        monkeypatch.setattr(serving, "TILE_ITEMS", 7)
    return request.param


def fitted(U, V):
    """An estimator holding the given factors, as fit would leave them."""
    model = WALS(U.shape[1], dtype=U.dtype)
    model.user_factors_, model.item_factors_ = U, V
    return model


def random_model(n_users=30, n_items=20, k=5, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return fitted(rng.standard_normal((n_users, k)).astype(dtype),
                  rng.standard_normal((n_items, k)).astype(dtype))


def naive_ranking(scores, N, excluded=None, ranked=None):
    """One row: (ids, scores) of the N best by a stable sort of -score, among
    `ranked` (None: all) minus `excluded`, in min(N, len(ranked)) places padded
    with -1 / -inf."""
    s = np.array(scores, dtype=np.float64)
    allowed = np.zeros(s.size, bool)
    allowed[slice(None) if ranked is None else np.asarray(ranked)] = True
    if excluded is not None:
        allowed[np.asarray(excluded, dtype=np.int64)] = False
    s[~allowed] = -np.inf
    order = np.argsort(-s, kind="stable")
    order = order[allowed[order]][:N]
    width = min(N, s.size if ranked is None else len(ranked))
    ids, best = np.full(width, -1), np.full(width, -np.inf)
    ids[:order.size], best[:order.size] = order, s[order]
    return ids, best


def naive_recommend(model, user_ids, liked=None, N=10, filter_items=None, items=None):
    """liked: dense, one row per requested user (None: nothing filtered)."""
    U = model.user_factors_[user_ids].astype(np.float64)
    S = U @ model.item_factors_.astype(np.float64).T
    rows = [naive_ranking(S[r], N, np.concatenate([
        [] if liked is None else np.flatnonzero(liked[r]),
        [] if filter_items is None else filter_items]), items) for r in range(len(user_ids))]
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def naive_similar(F, query_ids, N, filter_ids=None, subset=None):
    F = F.astype(np.float64)
    norms = np.linalg.norm(F, axis=1)
    Fn = F / np.where(norms == 0, 1.0, norms)[:, None]
    rows = [naive_ranking(Fn @ Fn[q], N, np.concatenate([
        [q], [] if filter_ids is None else filter_ids]), subset) for q in query_ids]
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def assert_same_ranking(got, want, dtype):
    (ids, scores), (want_ids, want_scores) = got, want
    assert ids.dtype == np.int64 and scores.dtype == dtype
    assert ids.shape == scores.shape == want_ids.shape
    assert_array_equal(ids, want_ids)
    filled = want_ids >= 0
    assert np.all(np.isneginf(scores[~filled]))
    tol = TOL[dtype]
    assert_allclose(scores[filled], want_scores[filled], rtol=tol, atol=tol)


# ------------------------------------------------------------------ recommend

RESTRICT = {
    "all-items": dict(),
    "filter-items": dict(filter_items=np.array([9, 2, 14])),
    # unsorted subset; filter_items partly outside it (4 and 17 are not ranked)
    "item-subset": dict(items=np.array([13, 2, 19, 5, 0, 11, 6, 8, 3, 16, 1])),
    "subset-and-filter": dict(items=np.array([13, 2, 19, 5, 0, 11, 6, 8, 3, 16, 1]),
                              filter_items=np.array([4, 19, 17, 0])),
}


@pytest.mark.parametrize("restrict", list(RESTRICT))
@pytest.mark.parametrize("liked_as", ["rows-per-user", "whole-matrix"])
@pytest.mark.parametrize("filter_liked", [True, False], ids=["filter-liked", "keep-liked"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_recommend_matches_naive(dtype, filter_liked, liked_as, restrict, tiles):
    R = random_ratings(30, 20, density=0.3, seed=1)  # users 0 and 7 have no items
    model = random_model(dtype=dtype)
    user_ids = np.array([5, 0, 29, 7, 12, 5, 3, 21, 8, 14])  # a repeat, unsorted
    user_items = R[user_ids] if liked_as == "rows-per-user" else sp.csr_array(R)
    extra = RESTRICT[restrict]
    got = model.recommend(user_ids, user_items, N=6, filter_already_liked_items=filter_liked,
                          **extra)
    want = naive_recommend(model, user_ids, R[user_ids] if filter_liked else None, N=6, **extra)
    assert_same_ranking(got, want, dtype)
    if "items" in extra:
        assert np.isin(got[0], extra["items"]).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_fewer_items_left_than_n(dtype, tiles):
    R = random_ratings(30, 20, density=0.3, seed=1)
    model = random_model(dtype=dtype)
    items = np.array([6, 2, 17, 9])
    user_ids = np.array([1, 2, 0])
    assert R[1, items].any() and not R[0].any()  # user 1 loses some of the four
    got = model.recommend(user_ids, R, N=8, items=items, filter_items=[9])
    want = naive_recommend(model, user_ids, R[user_ids], N=8, items=items, filter_items=[9])
    assert got[0].shape == (3, 4)  # N = 8 beyond the 4 ranked items: 4 places
    assert_same_ranking(got, want, dtype)
    assert (got[0][2] == -1).sum() == 1  # user 0 keeps 2, 6, 17
    # N beyond the number of items: (users, items), padded where liked items are left out
    ids, scores = model.recommend(user_ids, R, N=25)
    assert ids.shape == scores.shape == (3, 20)
    assert_same_ranking((ids, scores), naive_recommend(model, user_ids, R[user_ids], N=25),
                        dtype)
    # one user: 1-D, only the places that could be filled
    ids, scores = model.recommend(1, R[[1]], N=8, items=items, filter_items=[9])
    n_left = int((R[1, [6, 2, 17]] == 0).sum())
    assert ids.shape == scores.shape == (n_left,)
    assert_same_ranking((ids, scores), tuple(a[0][:n_left] for a in want), dtype)
    ids, scores = model.recommend(0, R, N=30, filter_already_liked_items=True)
    assert ids.shape == (20,) and np.isfinite(scores).all()


def test_more_than_one_default_tile():
    """Bigger than TILE_USERS × TILE_ITEMS, with the defaults."""
    n_users, n_items = serving.TILE_USERS * 2 + 5, serving.TILE_ITEMS * 2 + 100
    model = random_model(n_users, n_items, k=8, dtype=np.float32, seed=3)
    liked = sp.random_array((n_users, n_items), density=0.02, format="csr",
                            rng=np.random.default_rng(4))
    user_ids = np.arange(n_users)
    got = model.recommend(user_ids, liked, N=15, filter_items=np.arange(0, n_items, 97))
    want = naive_recommend(model, user_ids, liked.toarray(), N=15,
                           filter_items=np.arange(0, n_items, 97))
    assert_same_ranking(got, want, np.float32)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_exact_ties_put_the_lower_id_first(dtype, tiles):
    # small integer factors: every score is exact in either dtype, ties abound,
    # and item 15 duplicates item 2, item 11 duplicates item 4
    rng = np.random.default_rng(7)
    U = rng.integers(-2, 3, (12, 3)).astype(dtype)
    V = rng.integers(-2, 3, (18, 3)).astype(dtype)
    V[15], V[11] = V[2], V[4]
    model = fitted(U, V)
    user_ids = np.arange(12)
    for N in (1, 4, 9, 18):  # N cuts through groups of tied items
        ids, scores = model.recommend(user_ids, None, N=N, filter_already_liked_items=False)
        want_ids, want_scores = naive_recommend(model, user_ids, N=N)
        assert_array_equal(ids, want_ids)
        assert_array_equal(scores, want_scores)
    ids, _ = model.recommend(user_ids, None, N=18, filter_already_liked_items=False)
    for row in ids:
        where = {item: place for place, item in enumerate(row)}
        assert where[2] < where[15] and where[4] < where[11]
    # the order of `items` does not matter: still the lower id first
    items = np.array([15, 11, 9, 4, 2, 0])
    got = model.recommend(user_ids, None, N=5, filter_already_liked_items=False, items=items)
    assert_array_equal(got[0], naive_recommend(model, user_ids, N=5, items=items)[0])


def test_recommend_all_equals_recommend(tiles):
    R = random_ratings(30, 20, density=0.3, seed=2)
    model = random_model(dtype=np.float32, seed=5)
    everyone = model.recommend_all(N=7, user_items=R, filter_items=[3, 8])
    assert_array_equal(everyone[0], model.recommend(np.arange(30), R, N=7,
                                                    filter_items=[3, 8])[0])
    some = model.recommend([17, 4], R[[17, 4]], N=7, filter_items=[3, 8])
    assert_array_equal(some[0], everyone[0][[17, 4]])
    assert_array_equal(some[1], everyone[1][[17, 4]])
    assert_same_ranking(everyone, naive_recommend(model, np.arange(30), R, N=7,
                                                  filter_items=[3, 8]), np.float32)


@two_threads
def test_results_do_not_depend_on_threads(tiles):
    R = random_ratings(30, 20, density=0.3, seed=2)
    model = random_model(dtype=np.float32, seed=6)
    results = []
    for n_threads in (1, 2):
        model.n_threads = n_threads
        results.append((model.recommend_all(N=9, user_items=R),
                        model.similar_items(np.arange(20), N=5)))
    (rec1, sim1), (rec2, sim2) = results
    for a, b in zip(rec1 + sim1, rec2 + sim2):
        assert_array_equal(a, b)


# ------------------------------------------------------------------ similar

@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_similar_items_and_users_match_naive_cosine(dtype, tiles):
    model = random_model(25, 20, dtype=dtype, seed=8)
    model.item_factors_[4] = 0  # a zero row: cosine 0 with everything
    V, U = model.item_factors_, model.user_factors_
    queries = np.array([0, 4, 19, 7, 4])
    assert_same_ranking(model.similar_items(queries, N=6), naive_similar(V, queries, 6), dtype)
    # the zero item: every score 0, so the lowest ids, itself left out
    ids, scores = model.similar_items(4, N=5)
    assert_array_equal(ids, [0, 1, 2, 3, 5])
    assert_array_equal(scores, 0)
    subset = np.array([18, 3, 7, 0, 11, 4])
    got = model.similar_items(queries, N=4, filter_items=[11, 12], items=subset)
    assert_same_ranking(got, naive_similar(V, queries, 4, [11, 12], subset), dtype)
    ids, scores = model.similar_items(7, N=30, items=subset)  # 1-D, itself excluded
    assert ids.shape == (5,) and 7 not in ids
    ids, _ = model.similar_items(queries, N=30)  # 20 items: 20 places, the query's empty
    assert ids.shape == (5, 20) and (ids == -1).sum(axis=1).tolist() == [1] * 5
    users = np.array([3, 24, 0])
    assert_same_ranking(model.similar_users(users, N=5, filter_users=[1]),
                        naive_similar(U, users, 5, [1]), dtype)
    got = model.similar_users(users, N=3, users=[24, 9, 3, 15])
    assert_same_ranking(got, naive_similar(U, users, 3, None, [24, 9, 3, 15]), dtype)


# ------------------------------------------------------------------ errors

def test_errors():
    R = random_ratings(30, 20, seed=1)
    model = random_model()
    with pytest.raises(ValueError, match=r"recommend needs a fitted model; call fit"):
        WALS().recommend(0, R)
    with pytest.raises(ValueError, match=r"filter_already_liked_items=True needs user_items"):
        model.recommend([0, 1])
    with pytest.raises(ValueError, match=r"user_items must have shape \(2, 20\) or \(30, 20\), "
                                         r"got \(3, 20\)"):
        model.recommend([0, 1], R[:3])
    with pytest.raises(ValueError, match=r"user_items must have shape .*got \(2, 19\)"):
        model.recommend([0, 1], R[:2, :19])
    with pytest.raises(ValueError, match=r"user_ids: id 30 is outside 0\.\.29 \(the model has "
                                         r"30 users\)"):
        model.recommend([0, 30], R)
    with pytest.raises(ValueError, match=r"filter_items: id -1 is outside 0\.\.19"):
        model.recommend(0, R, filter_items=[-1])
    with pytest.raises(TypeError, match=r"user_ids must be an integer id or a 1-D array of "
                                        r"integer ids, got float"):
        model.recommend(1.0, R)
    with pytest.raises(ValueError, match=r"items must not repeat an id; 1 repeats"):
        model.recommend(0, R, items=[3, 5, 3])
    with pytest.raises(ValueError, match=r"N must be >= 1, got 0"):
        model.recommend(0, R, N=0)
    with pytest.raises(ValueError, match=r"item_ids: id 20 is outside 0\.\.19"):
        model.similar_items(20)
    with pytest.raises(ValueError, match=r"filter_users: id 30 is outside 0\.\.29 \(the model "
                                         r"has 30 users\)"):
        model.similar_users(0, filter_users=[30])
    with pytest.raises(ValueError, match=r"users must not repeat an id"):
        model.similar_users(0, users=[1, 1])


# ------------------------------------------------------------------ random shapes

@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_users=st.integers(1, 12), n_items=st.integers(1, 25), k=st.integers(1, 4),
       N=st.integers(1, 30), tile_users=st.integers(1, 5), tile_items=st.integers(1, 9),
       density=st.floats(0.0, 1.0), subset=st.booleans(), n_filter=st.integers(0, 5),
       seed=st.integers(0, 2**16))
def test_recommend_matches_naive_on_random_shapes(n_users, n_items, k, N, tile_users,
                                                  tile_items, density, subset, n_filter, seed):
    rng = np.random.default_rng(seed)
    model = random_model(n_users, n_items, k, seed=seed)
    liked = (rng.random((n_users, n_items)) < density).astype(np.float64)
    items = rng.permutation(n_items)[:rng.integers(1, n_items + 1)] if subset else None
    filter_items = rng.integers(0, n_items, n_filter) if n_filter else None
    user_ids = rng.integers(0, n_users, rng.integers(1, 2 * n_users + 1))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(serving, "TILE_USERS", tile_users)
        mp.setattr(serving, "TILE_ITEMS", tile_items)
        got = model.recommend(user_ids, sp.csr_array(liked[user_ids]), N=N,
                              filter_items=filter_items, items=items)
    want = naive_recommend(model, user_ids, liked[user_ids], N=N, filter_items=filter_items,
                           items=items)
    assert_same_ranking(got, want, np.float64)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_pruning_by_item_norm_keeps_the_exact_answer(dtype, tiles):
    """Item norms spread over six decades, as popularity spreads fitted factors:
    most users are done after the first block of large-norm items, and the
    others continue in the second pass; the answer must still be the full scan's."""
    rng = np.random.default_rng(11)
    n_users, n_items = 150, 5000
    U = rng.standard_normal((n_users, 6)).astype(dtype)
    V = rng.standard_normal((n_items, 6)) * np.logspace(-3, 3, n_items)[rng.permutation(n_items),
                                                                        None]
    V[17] = V[4000]  # a tie between a large-norm pair of items
    model = fitted(U, V.astype(dtype))
    liked = sp.random_array((n_users, n_items), density=0.01, format="csr",
                            rng=np.random.default_rng(12))
    got = model.recommend(np.arange(n_users), liked, N=10)
    want = naive_recommend(model, np.arange(n_users), liked.toarray(), N=10)
    assert_same_ranking(got, want, dtype)


def test_recommend_one_user_from_a_one_dimensional_row():
    R = random_ratings(30, 20, density=0.3, seed=2)
    model = random_model(seed=5)
    want = model.recommend(4, R[[4]], N=6)
    for row in (R[4], sp.csr_array(R)[4]):
        got = model.recommend(4, row, N=6)
        assert_array_equal(got[0], want[0])


def test_few_users_are_neither_sorted_nor_gated(monkeypatch):
    """Below FEW_USERS users a call scores every item in order (sorting and
    quantizing all the items would cost more than they save); from there on it
    sorts, and gates where the CPU allows; both give the naive answer."""
    calls = []
    gated = serving._gated

    def spy(*args):
        calls.append(1)
        return gated(*args)

    monkeypatch.setattr(serving, "_gated", spy)
    monkeypatch.setattr(serving, "FEW_USERS", 12)
    model = random_model(n_users=30)
    for n_users, want_calls in ((11, 0), (12, 1)):
        got = model.recommend(np.arange(n_users), N=5, filter_already_liked_items=False)
        assert_same_ranking(got, naive_recommend(model, np.arange(n_users), N=5), np.float64)
        assert len(calls) == want_calls * serving.GATED


@pytest.mark.parametrize("restrict", ["all-items", "filter-items", "subset-and-filter"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_recommend_batches_equal_recommend(dtype, restrict, tiles, monkeypatch):
    """Each batch is recommend's answer for its users (the whole matrix of liked
    items given once), the last batch short; the item side is made once for the
    stream, and only where the batches are large enough to sort the items."""
    made = []

    class Counted(serving.RankedItems):
        def __init__(self, *args):
            made.append(1)
            super().__init__(*args)
    monkeypatch.setattr(serving, "RankedItems", Counted)
    dense = random_ratings(30, 20, density=0.3, seed=3)
    R = sp.csr_array(dense)
    model = random_model(dtype=dtype, seed=6)
    extra = RESTRICT[restrict]
    user_ids = np.array([5, 0, 29, 7, 12, 5, 3, 21, 8, 14, 2])  # a repeat, unsorted
    for asked, want_ids in ((None, np.arange(30)), (user_ids, user_ids)):
        made.clear()
        batches = list(model.recommend_batches(asked, N=6, user_items=R, batch_size=4, **extra))
        assert len(made) == (serving.FEW_USERS <= 4)  # once, or never for small batches
        assert [b[0].size for b in batches] == [4] * (want_ids.size // 4) + [want_ids.size % 4]
        assert_array_equal(np.concatenate([b[0] for b in batches]), want_ids)
        for users, ids, scores in batches:
            want = model.recommend(users, R, N=6, **extra)
            assert_array_equal(ids, want[0])
            assert_array_equal(scores, want[1])
    assert_same_ranking((np.concatenate([b[1] for b in batches]),
                         np.concatenate([b[2] for b in batches])),
                        naive_recommend(model, user_ids, dense[user_ids], N=6, **extra), dtype)


def test_recommend_batches_check_everything_before_the_first_batch():
    model = random_model(n_users=30, n_items=20)
    R = sp.csr_array(random_ratings(30, 20, density=0.3, seed=3))
    bad = [
        (dict(N=0, user_items=R), ValueError, "N must be >= 1"),
        (dict(batch_size=0, user_items=R), ValueError, "batch_size must be >= 1"),
        (dict(user_ids=[3, 30], user_items=R), ValueError, "id 30 is outside 0..29"),
        (dict(), ValueError, "needs user_items, the whole users × items matrix"),
        (dict(user_items=R[:4]), ValueError, r"user_items must have shape \(30, 20\)"),
        (dict(user_items=R[:, :4]), ValueError, r"user_items must have shape \(30, 20\)"),
        (dict(user_items=R, filter_items=[20]), ValueError, "id 20 is outside 0..19"),
        (dict(user_items=R, items=[1, 1]), ValueError, "items must not repeat an id"),
        (dict(filter_already_liked_items=1), TypeError, "filter_already_liked_items"),
    ]
    for kwargs, kind, message in bad:
        with pytest.raises(kind, match=message):
            model.recommend_batches(**kwargs)  # raised by the call, not by a first next()
    with pytest.raises(ValueError, match="needs a fitted model"):
        WALS(4).recommend_batches(filter_already_liked_items=False)


def test_ranked_items_of_other_factors_are_an_error(monkeypatch):
    monkeypatch.setattr(serving, "FEW_USERS", 0)  # the item side is used from here on
    model = random_model(n_users=30, n_items=20)
    U, Y = model.user_factors_, model.item_factors_
    for other in (Y[:19], Y.astype(np.float32)):
        with pytest.raises(ValueError, match="make it with RankedItems"):
            serving.top_n(U, Y, 5, items=serving.RankedItems(other, other.dtype))


def test_recommend_batches_take_the_whole_matrix_in_any_form():
    dense = random_ratings(30, 20, density=0.3, seed=4)
    model = random_model(seed=7)
    want = model.recommend_all(N=5, user_items=dense)
    for form in (sp.csr_array(dense), sp.coo_matrix(dense), sp.csc_array(dense), dense):
        got = list(model.recommend_batches(N=5, user_items=form, batch_size=8))
        assert_array_equal(np.concatenate([b[1] for b in got]), want[0])
        assert_array_equal(np.concatenate([b[2] for b in got]), want[1])
