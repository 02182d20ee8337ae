"""No input can crash the process: corrupt sparse matrices (index arrays set
freely, which scipy does not check) are a ValueError naming the argument and
the first bad position at every entry point; values that overflow the factor
dtype, N beyond the items, and ids as given in their messages."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_array_equal

from fastwals import WALS, metrics
from fastwals import _validation
from fastwals._validation import as_csr
from fastwals.idmap import IdMap
from fastwals.io import Interactions

N_USERS, N_ITEMS = 6, 5


def valid():
    """6 users × 5 items, every row and column with entries; row 2 holds
    entries 4..6 of the 12."""
    dense = np.array([[1, 0, 2, 0, 0],
                      [0, 3, 0, 0, 1],
                      [4, 0, 0, 5, 6],
                      [0, 0, 7, 0, 0],
                      [0, 8, 0, 9, 0],
                      [1, 0, 0, 0, 2]], dtype=np.float32)
    return sp.csr_array(dense)


@pytest.fixture(params=["calling-thread", "threads"])
def check_pass(request, monkeypatch):
    """The structural pass both ways: on the calling thread (few rows, as
    here) and on the thread pool (which larger matrices take)."""
    if request.param == "threads":
        monkeypatch.setattr(_validation, "SERIAL_ROWS", 0)
    return request.param


@pytest.fixture(scope="module")
def model():
    return WALS(3, iterations=2, random_state=0).fit(valid())


# defect -> (corrupt a copy of a CSR in place, the message after "<argument>.").
# Every defect touches row 2, the row that single-user calls read.
def _set(attr, position, value):
    def corrupt(M):
        getattr(M, attr)[position] = value
    return corrupt


def _replace(attr, make):
    def corrupt(M):
        setattr(M, attr, make(getattr(M, attr)))
    return corrupt


DEFECTS = {
    "index-too-large": (_set("indices", 6, 5),
                        r"indices\[6\] = 5 is outside 0\.\.4 \(the matrix has 5 columns\)"),
    "index-negative": (_set("indices", 5, -1), r"indices\[5\] = -1 is outside 0\.\.4"),
    "index-uint64": (_replace("indices", lambda a: np.where(np.arange(a.size) == 6,
                                                            np.uint64(2**64 - 1),
                                                            a.astype(np.uint64))),
                     r"indices\[6\] = 18446744073709551615 is outside 0\.\.4"),
    "indptr-decreases": (_set("indptr", 3, 3),
                         r"indptr\[3\] = 3 is less than .+\.indptr\[2\] = 4: indptr must "
                         r"not decrease"),
    "indptr-beyond-entries": (_set("indptr", 3, 40), r"indptr\[3\] = 40 is outside 0\.\.12"),
    "indptr-start": (_set("indptr", 0, 1), r"indptr\[0\] = 1 must be 0"),
    "indptr-end": (_replace("indptr", lambda a: np.r_[a[:-1], a[-1] + 2]),
                   r"indptr\[6\] = 14 must equal the number of stored entries, 12"),
    "indptr-length": (_replace("indptr", lambda a: np.r_[a[:-1], a[-1], a[-1]]),
                      r"indptr has 8 entries; a CSR matrix with 6 rows needs 7"),
    "data-length": (_replace("data", lambda a: a[:-1]),
                    r"data has 11 entries and .+\.indices 12; they must be equal"),
}


def corrupt(defect, fmt="csr"):
    M = valid() if fmt == "csr" else valid().tocsc()
    M = M.copy()
    DEFECTS[defect][0](M)
    return M


# entry point -> call with a matrix M as the argument named second
ENTRY_POINTS = {
    "fit": (lambda m, M: WALS(3, iterations=1).fit(M), "X"),
    "fit-interactions": (lambda m, M: WALS(3, iterations=1).fit(Interactions(
        M, IdMap(np.arange(N_USERS)), IdMap(np.arange(N_ITEMS)))), "X"),
    "fit-validation": (lambda m, M: WALS(3, iterations=1).fit(
        valid(), validation=(M, "ndcg", 3)), "validation test matrix"),
    "transform": (lambda m, M: m.transform(M), "user_items"),
    "partial_fit_users": (lambda m, M: m.partial_fit_users(np.arange(N_USERS), M),
                          "user_items"),
    "recalculate_user": (lambda m, M: m.recalculate_user(M), "user_items"),
    # the structure is checked before the shape: a users × items matrix will do
    "recalculate_item": (lambda m, M: m.recalculate_item(M), "item_users"),
    "partial_fit_items": (lambda m, M: m.partial_fit_items(np.arange(N_USERS), M),
                          "item_users"),
    "recommend-one-user": (lambda m, M: m.recommend(2, M), "user_items"),
    "recommend-batch": (lambda m, M: m.recommend([2, 0], M), "user_items"),
    "recommend_all": (lambda m, M: m.recommend_all(user_items=M), "user_items"),
    "explain": (lambda m, M: m.explain(2, M, 1), "user_items"),
    "ranking_metrics-train": (lambda m, M: metrics.ranking_metrics(m, M, valid()), "train"),
    "ranking_metrics-test": (lambda m, M: metrics.ranking_metrics(m, valid(), M), "test"),
    "split_random": (lambda m, M: metrics.split_random(M), "X"),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_corrupt_csr_is_an_error_naming_the_argument(model, entry, defect, check_pass):
    call, name = ENTRY_POINTS[entry]
    with pytest.raises(ValueError, match=rf"^{name}\.{DEFECTS[defect][1]}"):
        call(model, corrupt(defect))


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_corrupt_csc_is_an_error_naming_the_argument(model, entry, check_pass):
    call, name = ENTRY_POINTS[entry]
    M = valid().tocsc()
    M.indices[4] = 6  # CSC indices are rows
    with pytest.raises(ValueError, match=rf"^{name}\.indices\[4\] = 6 is outside 0\.\.5 "
                                         rf"\(the matrix has 6 rows\)"):
        call(model, M)
    M = valid().tocsc()
    M.indptr[2] = M.indptr[3] + 1
    with pytest.raises(ValueError, match=rf"^{name}\.indptr\[3\] = \d+ is less than"):
        call(model, M)


@pytest.mark.parametrize("entry", ["fit", "transform", "recommend-one-user", "recommend_all"])
def test_corrupt_coo_bsr_and_index_dtypes(model, entry, check_pass):
    call, name = ENTRY_POINTS[entry]
    M = valid().tocoo()
    M.coords[1][3] = 9
    with pytest.raises(ValueError, match=rf"^{name}\.col\[3\] = 9 is outside 0\.\.4"):
        call(model, M)
    M = valid().tocoo()
    M.coords[0][0] = -2
    with pytest.raises(ValueError, match=rf"^{name}\.row\[0\] = -2 is outside 0\.\.5"):
        call(model, M)
    B = sp.bsr_array(valid().toarray(), blocksize=(2, 1))
    B.indices[1] = 7
    with pytest.raises(ValueError, match=rf"^{name}\.indices\[1\] = 7 is outside 0\.\.4 "
                                         rf"\(the matrix has 5 block columns\)"):
        call(model, B)
    M = valid()
    M.indices = M.indices.astype(np.float64)
    with pytest.raises(TypeError, match=rf"^{name}\.indices must be a 1-D array of integers, "
                                        rf"got shape \(12,\), dtype float64"):
        call(model, M)


def test_single_user_calls_read_only_the_rows_they_use(model):
    """recommend(u, whole matrix) checks and takes the user's row alone
    (O(its entries)); a defect in another row is not read, so not reported."""
    M = corrupt("index-too-large")  # in row 2
    got = model.recommend(0, M, N=3)
    assert_array_equal(got[0], model.recommend(0, valid()[[0]], N=3)[0])
    with pytest.raises(ValueError, match=r"user_items\.indices\[6\]"):
        model.recommend(2, M)


def test_matrices_of_other_index_dtypes_pass(model):
    """Valid matrices with uint32 / int16 / int64 index arrays are accepted and
    give the answers of the plain int32 matrix."""
    want = model.recommend_all(N=3, user_items=valid())
    for dtype in (np.uint32, np.int16, np.int64, np.uint64):
        M = valid()
        M.indices, M.indptr = M.indices.astype(dtype), M.indptr.astype(dtype)
        assert_array_equal(model.recommend_all(N=3, user_items=M)[0], want[0])
        assert_array_equal(model.recommend(2, M, N=3)[0], model.recommend(2, valid(), N=3)[0])


# ------------------------------------------------------------------ random matrices

@st.composite
def matrices(draw):
    """(a CSR or CSC matrix, the defect put in, the expected message): valid
    matrices (defect None) of random shape and sparsity, with unsorted and
    repeated indices, or one random defect at a random place."""
    n_rows, n_cols = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    counts = draw(st.lists(st.integers(0, 6), min_size=n_rows, max_size=n_rows))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    nnz = int(indptr[-1])
    indices = np.array(draw(st.lists(st.integers(0, n_cols - 1), min_size=nnz, max_size=nnz)),
                       dtype=np.int32)
    data = np.array(draw(st.lists(st.integers(1, 5), min_size=nnz, max_size=nnz)),
                    dtype=np.float64)
    fmt = draw(st.sampled_from(["csr", "csc"]))
    # csc: the same arrays read as columns, so n_rows columns over n_cols rows
    minor = n_cols
    shape = (n_rows, n_cols) if fmt == "csr" else (n_cols, n_rows)
    kinds = ["none", "indptr-decreases", "indptr-end"]
    if nnz:
        kinds += ["index-too-large", "index-negative"]
    kind = draw(st.sampled_from(kinds))
    match = None
    if kind in ("index-too-large", "index-negative"):
        p = draw(st.integers(0, nnz - 1))
        value = draw(st.integers(minor, 2**31 - 1) if kind == "index-too-large"
                     else st.integers(-2**31, -1))
        first = min([p] + [q for q in range(nnz) if not 0 <= indices[q] < minor])
        indices[p] = value
        match = rf"indices\[{first}\] = {indices[first]} is outside 0\.\.{minor - 1}"
    elif kind == "indptr-decreases" and n_rows > 1:
        # an inner entry above the next one (or above the number of entries)
        r = draw(st.integers(1, n_rows - 1))
        indptr[r] = int(indptr[r + 1]) + draw(st.integers(1, 4))
        match = r"indptr\[\d+\] = -?\d+ (is less than|is outside)"
    elif kind == "indptr-end":
        indptr[-1] += draw(st.sampled_from([-1, 1, 7]))
        match = rf"indptr\[{n_rows}\] = {indptr[-1]} must equal the number of stored entries"
    if match is None:
        kind = "none"
    cls = sp.csr_array if fmt == "csr" else sp.csc_array
    M = cls((np.ones(3), np.zeros(3, np.int32), np.array([0] + [3] * n_rows)),
            shape=shape)
    M.indptr, M.indices, M.data = indptr, indices, data  # as a user may set them
    dense = None
    if kind == "none":  # what it holds, duplicates summed
        dense = np.zeros((n_rows, n_cols))
        rows = np.repeat(np.arange(n_rows), counts)
        np.add.at(dense, (rows, indices), data)
        dense = dense if fmt == "csr" else dense.T
    return M, kind, match, dense


@settings(max_examples=50, deadline=None)
@given(case=matrices())
def test_random_matrices_valid_pass_and_corrupt_fail(case):
    M, kind, match, dense = case
    n_users, n_items = M.shape
    fitted = WALS(2, iterations=1, random_state=0)
    fitted.user_factors_ = np.ones((n_users, 2), np.float32)
    fitted.item_factors_ = np.ones((n_items, 2), np.float32)
    calls = {"X": lambda: WALS(2, iterations=1, random_state=0).fit(M),
             "user_items": lambda: fitted.transform(M),
             "test": lambda: metrics.ranking_metrics(fitted, np.zeros(M.shape), M)}
    if kind == "none":
        if dense.any():
            a = WALS(2, iterations=1, random_state=0).fit(M)
            b = WALS(2, iterations=1, random_state=0).fit(dense)
            assert_array_equal(a.user_factors_, b.user_factors_)
        assert_array_equal(fitted.transform(M), fitted.transform(dense))
        got = fitted.recommend_all(N=3, user_items=M)
        assert_array_equal(got[0], fitted.recommend_all(N=3, user_items=dense)[0])
        return
    for name, call in calls.items():
        with pytest.raises(ValueError, match=rf"^{name}\.{match}"):
            call()


# ------------------------------------------------------------------ the kernel

def naive_first_bad(starts, stops, indices, n):
    """The kernel's answer by plain loops: (first bad range, first bad entry
    in row order, first entry not above its predecessor in its row)."""
    bad_row = bad_entry = unsorted = -1
    for r, (a, b) in enumerate(zip(starts, stops)):
        if a < 0 or b < a or b > len(indices):
            return r, bad_entry, unsorted
        for p in range(a, b):
            if not 0 <= indices[p] < n:
                bad_entry = p if bad_entry < 0 else bad_entry
            elif unsorted < 0 and p > a and indices[p] <= indices[p - 1]:
                unsorted = p
    return bad_row, bad_entry, unsorted


@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 6), size=st.integers(0, 12), n_rows=st.integers(0, 40),
       chunks=st.integers(1, 9), seed=st.integers(0, 2**16))
def test_kernel_matches_naive_loops(n, size, n_rows, chunks, seed):
    from fastwals._kernels.structure import first_bad, first_bad_serial
    rng = np.random.default_rng(seed)
    indices = rng.integers(-1, n + 2, size)
    indices[rng.random(size) < 0.7] = rng.integers(0, max(n, 1))  # mostly valid
    starts = rng.integers(-1, size + 2, n_rows)
    stops = starts + rng.integers(-1, 4, n_rows)
    ok = rng.random(n_rows) < 0.9  # mostly valid ranges
    starts[ok] = np.clip(starts[ok], 0, size)
    stops[ok] = np.clip(stops[ok], starts[ok], size)
    want = naive_first_bad(starts, stops, indices, n)
    if want[0] >= 0:  # entries and order are reported only before the first bad row
        cut = want[0]
        want = (want[0], *naive_first_bad(starts[:cut], stops[:cut], indices, n)[1:])
    for got in (first_bad(starts, stops, indices, n, chunks),
                first_bad_serial(starts, stops, indices, n)):
        assert got[0] == want[0] and got[1] == want[1]
        if want[0] < 0 and want[1] < 0:
            assert got[2] == want[2]


# ------------------------------------------------------------------ values and N

def test_values_beyond_the_factor_dtype_are_an_error_naming_the_position(model):
    X = valid().toarray().astype(np.float64)
    X[3, 2] = 1e39  # finite in float64, inf in float32
    with pytest.raises(ValueError, match=r"^X has 1 values beyond float32's largest "
                                         r"\(3\.40282e\+38\); the first is 1e\+39 at \(row 3, "
                                         r"column 2\)\. Scale the values down or use "
                                         r"dtype=numpy\.float64"):
        WALS(2, iterations=1).fit(X)
    assert as_csr(X, dtype=np.float64)[[3], [2]] == 1e39  # fine in float64
    with pytest.raises(ValueError, match=r"^user_items has 1 values beyond float32's largest"):
        model.transform(X)
    # duplicates each finite in float32 whose sum is not
    twice = sp.csr_array((np.array([3e38, 3e38, 1.0], np.float32), np.array([1, 1, 0]),
                          np.array([0, 2, 3])), shape=(2, 2))
    with pytest.raises(ValueError, match=r"the first is 6e\+38 \(duplicates summed\) at "
                                         r"\(row 0, column 1\)"):
        WALS(2, iterations=1).fit(twice)
    triplet = (np.array([0, 0, 1]), np.array([1, 1, 0]), np.array([3e38, 3e38, 1.0]))
    with pytest.raises(ValueError, match=r"the first is 6e\+38 at \(row 0, column 1\)"):
        WALS(2, iterations=1).fit(triplet)
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"^X contains 1 NaN or infinite values; the first is "
                                         r"nan at \(row 3, column 2\)"):
        WALS(2, iterations=1).fit(X)


def test_n_beyond_the_items_allocates_only_the_items(model):
    huge = 10**10  # N-sized padding would need 80 GB
    ids, scores = model.recommend_all(N=huge, user_items=valid())
    assert ids.shape == scores.shape == (N_USERS, N_ITEMS)
    assert_array_equal(ids[:, :2], model.recommend_all(N=2, user_items=valid())[0])
    assert ((ids == -1) == np.isneginf(scores)).all()
    assert_array_equal((ids == -1).sum(axis=1), np.diff(valid().indptr))  # liked ones left out
    ids, _ = model.recommend([0, 3], valid(), N=huge, items=[4, 1, 2])
    assert ids.shape == (2, 3)  # min(N, ranked items)
    ids, _ = model.recommend(0, valid(), N=huge)
    assert ids.shape == (3,)
    ids, _ = model.similar_items([0, 1], N=huge)
    assert ids.shape == (2, N_ITEMS) and (ids == -1).sum() == 2  # the queries themselves
    ids, _ = model.similar_users(1, N=huge, users=[0, 1, 2])
    assert ids.shape == (2,)
    # nothing in train: every item ranked, so every test item found
    got = metrics.ranking_metrics(model, np.zeros((N_USERS, N_ITEMS)), valid(), K=huge,
                                  metrics=("recall", "coverage"))
    assert got["recall"] == 1.0 and got["coverage"] == 1.0


# ------------------------------------------------------------------ ids

def test_ids_are_reported_as_given(model):
    with pytest.raises(ValueError, match=r"^user_ids: id 18446744073709551615 is outside "
                                         r"0\.\.5 \(the model has 6 users\)"):
        model.recommend(np.uint64(2**64 - 1), valid())
    with pytest.raises(ValueError, match=r"^item_ids: id 18446744073709551615 is outside"):
        model.similar_items(np.array([1, 2**64 - 1], dtype=np.uint64))
    with pytest.raises(ValueError, match=r"^filter_items: id -3 is outside 0\.\.4"):
        model.recommend(0, valid(), filter_items=np.array([-3], np.int8))
    with pytest.raises(ValueError, match=r"^user_ids: id -1 is outside 0\.\.9223372036854775807;"
                                         r" ids are >= 0"):
        model.partial_fit_users([-1], valid()[[0]])
    with pytest.raises(ValueError, match=r"^item_ids: id 18446744073709551615 is outside "
                                         r"0\.\.9223372036854775807"):
        model.partial_fit_items(np.array([2**64 - 1], np.uint64), valid().T[[0]])
    ids, _ = model.recommend(np.array([5, 0], np.uint8), valid(), N=2)  # small dtypes pass
    assert_array_equal(ids, model.recommend([5, 0], valid(), N=2)[0])


# ------------------------------------------------------------------ Dask

def test_distributed_inputs_and_n(tmp_path):
    """DistributedWALS takes matrices through the same check, and its
    recommend_all writes at most the items per user whatever N."""
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    from fastwals.distributed import DistributedWALS

    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=":0") as client:
        with pytest.raises(ValueError, match=r"^X\.indices\[6\] = 5 is outside 0\.\.4"):
            DistributedWALS(client, 2, iterations=1).fit(corrupt("index-too-large"))
        model = DistributedWALS(client, 2, iterations=1, random_state=0).fit(valid())
        parts = model.recommend_all(tmp_path / "out", N=10**10)
        table = pq.read_table(parts).to_pandas()
        assert table.groupby("user").size().tolist() == (N_ITEMS - np.diff(valid().indptr)).tolist()
