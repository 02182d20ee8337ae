"""Answers from fitted factors: top-N recommendations and similar items or users.

Everything ranks with one kernel (_kernels/topk.py): scores U Yᵀ a tile at a
time, exclusions applied inside, a heap per user; never a users × items matrix.
"""

import numba
import numpy as np
import scipy.sparse as sp

from . import _int8
from ._kernels import vnni
from ._kernels.blas import make_work
from ._kernels.topk import gated_pass, sort_heaps, top_n_pass
from ._threads import run_kernel
from ._validation import (_declared_shape, as_csr, check_bool, check_ids, check_int, check_shape,
                          check_unique, rows_of)

# each thread's gate flags (ROWS·BLOCKS uint16, 32 bytes) in a row of 128 bytes, so
# that two threads never write one cache line: the gated passes of a batch
# recommend on 2 threads took 4-10% less time on Gowalla, 0-8% on MovieLens 1M
MASK_ROW = 64
assert MASK_ROW >= vnni.ROWS * vnni.BLOCKS and MASK_ROW * 2 >= 128

# users per tile and items per block of scores: 128 × 1024 float32 scores (512 KB)
# stay in this machine's L2 between the gemm that writes them and the selection
# (measured on Gowalla against 64 × 2048: 6% faster at k = 64, 11% at k = 256)
TILE_USERS = 128
TILE_ITEMS = 1024
# with AUC every tile holds whole rows: at most this many scores per thread
WHOLE_ROW_SCORES = 1 << 20
# score through the int8 gate (_kernels/vnni.py) where the CPU has VNNI
GATED = vnni.available()
# calls with fewer users score every item in the items' own order: sorting the
# items by norm (for pruning) and quantizing them (for the gate) cost more than
# they save (measured on Gowalla, see bench/RESULTS.md)
FEW_USERS = 256


class RankedItems:
    """The item side of top_n's pruned passes, made once for many calls:
    the items sorted by decreasing norm, and their int8 copy for the gate, made on
    the first gated call. top_n makes it afresh otherwise: at 500k items and k = 64,
    0.26 s, two thirds of the time of ranking 65,536 users."""

    def __init__(self, Y, dtype):
        norms = _norms(Y)
        self.shape = Y.shape
        self.order = np.argsort(-norms, kind="stable")
        self.Ys = np.ascontiguousarray(Y[self.order], dtype=dtype)
        self.ynorm = np.concatenate((norms[self.order], [0.0]))  # by position, 0 past the end
        self.gate = None  # (_int8.items of Ys,) once made


def top_n(U, Y, N, exclude=None, banned=None, positives=None, items=None):
    """The N best rows of Y for each row of U by U·Yᵀ, as (ids int64, scores) of
    shape (len(U), min(N, len(Y))), best first; unfilled places hold -1 / -inf.

    exclude: CSR (len(U) × len(Y)) of items never returned per user (any
    column order: they are renumbered and sorted here); banned:
    item ids never returned to anyone. positives: CSR as exclude, disjoint from
    it; then also returns, per user, the (negative, positive) pairs ranked the
    wrong way, for AUC (see the kernel). items: RankedItems(Y, U.dtype), to reuse
    over calls (None: made here when needed).

    In rounds (see _kernels/topk.py): every user over the TILE_ITEMS items of
    largest norm, then the users not yet done over twice as many, and so on
    (from FEW_USERS users on; fewer score every item, unsorted).
    Runs on the current Numba threads; BLAS must be capped at one thread.
    """
    m, k = U.shape
    n = Y.shape[0]
    N = min(N, n)
    dtype = U.dtype
    heap_s = np.full((m, N), -np.inf, dtype=dtype)
    heap_i = np.full((m, N), -1, dtype=np.int64)
    pairs_below = np.zeros(m, dtype=np.float64)
    if m == 0 or N == 0:
        return (heap_i, heap_s, pairs_below) if positives is not None else (heap_i, heap_s)
    U = np.ascontiguousarray(U)
    unorm = _norms(U)
    prepared = positives is None and m >= FEW_USERS
    if prepared:
        if items is None:
            items = RankedItems(Y, dtype)
        elif items.shape != Y.shape or items.Ys.dtype != dtype:
            raise ValueError(f"items was prepared for {items.shape} {items.Ys.dtype} factors, "
                             f"not these {Y.shape} {dtype}; make it with RankedItems(Y, dtype)")
        order, Ys, ynorm = items.order, items.Ys, items.ynorm
        # a dot product's worst rounding (a Python float, as np.inf below: one
        # compiled kernel for both paths)
        slack = float(1.0 + 2.0 * k * np.finfo(dtype).eps)
    else:  # AUC (whole rows), or too few users to repay sorting: no pruning
        order = np.arange(n)
        slack = np.inf
        Ys = np.ascontiguousarray(Y, dtype=dtype)
        ynorm = np.zeros(n + 1)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    excl = _remapped(exclude, position, m)
    banned = np.zeros(0, np.int64) if banned is None else np.unique(position[banned])
    if positives is None:
        pos_indptr = pos_indices = np.zeros(0, np.int64)
        longest = 1
        tile_users, first = min(TILE_USERS, m), min(TILE_ITEMS, n)
    else:
        pos_indptr, pos_indices = _remapped(positives, position, m)
        longest = max(1, int(np.diff(pos_indptr).max()))
        tile_users, first = max(1, min(TILE_USERS, m, WHOLE_ROW_SCORES // n)), n
    tile_items = first
    n_chunks = max(1, min(numba.get_num_threads(), -(-m // tile_users)))
    run = None
    if prepared and GATED:
        run = _gated(U, unorm, items, slack, excl, banned, heap_s, heap_i, tile_users,
                     tile_items, n_chunks)
    if run is None:
        run = _scored(U, unorm, Ys, ynorm, order, slack, excl, banned, pos_indptr, pos_indices,
                      heap_s, heap_i, pairs_below, tile_users, tile_items, n_chunks, longest)

    # rounds over doubling item ranges: users done after a round drop out, and
    # the rest are re-sorted by how many items their bound says they may still
    # need, so that the users of a tile tend to finish together
    # unsorted items (few users, or AUC) leave no bound to stop early by: one
    # round over every item instead of log2(n / first) rounds
    users, start, stop = np.arange(m), 0, (first if prepared else n)
    while users.size:
        run(users, start, stop)
        if stop == n:
            break
        worst = heap_s[users, 0].astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            threshold = worst / (slack * unorm[users])
        need = np.searchsorted(-ynorm[:n], -threshold, side="right")
        need[~(worst > -np.inf) | ~(unorm[users] > 0)] = n
        users = users[need > stop][np.argsort(need[need > stop], kind="stable")]
        start, stop = stop, min(n, 2 * stop)
    sort_heaps(heap_s, heap_i)
    return (heap_i, heap_s, pairs_below) if positives is not None else (heap_i, heap_s)


def _scored(U, unorm, Ys, ynorm, order, slack, excl, banned, pos_indptr, pos_indices, heap_s,
            heap_i, pairs_below, tile_users, tile_items, n_chunks, longest):
    """top_n's pass scoring every item (top_n_pass): run(users, start, stop)."""
    dtype, k = U.dtype, U.shape[1]
    scratch = (np.empty((n_chunks, tile_users * tile_items), dtype),
               np.empty((n_chunks, tile_users, k), dtype),
               np.empty((n_chunks, tile_users), np.int64),
               np.empty((n_chunks, longest), dtype), make_work(n_chunks, k),
               np.array([0, 1], dtype=dtype))

    def run(users, start, stop):
        run_kernel(top_n_pass, n_chunks, U, unorm, users, Ys, ynorm, order, start, stop, slack,
                   *excl, banned, pos_indptr, pos_indices, heap_s, heap_i, pairs_below,
                   tile_items, *scratch)

    return run


def _gated(U, unorm, items, slack, excl, banned, heap_s, heap_i, tile_users, tile_items,
           n_chunks):
    """top_n's pass through the int8 gate (tiles rounded up to whole kernel
    calls), or None where the factors do not allow it (see _int8.py)."""
    k = U.shape[1]
    Ys, ynorm, order = items.Ys, items.ynorm, items.order
    tile_users = -(-tile_users // vnni.ROWS) * vnni.ROWS
    step = vnni.BLOCKS * vnni.LANES
    tile_items = -(-tile_items // step) * step
    user_side = _int8.users(U)
    if user_side is None:
        return None
    if items.gate is None:
        items.gate = (_int8.items(Ys, ynorm[:-1], vnni.LANES, vnni.BLOCKS),)
    item_side, = items.gate
    if item_side is None:
        return None
    (Uq, Ubound), (Yq, cs, P, npad) = user_side, item_side
    kq = Uq.shape[1] // 4
    scratch = (np.empty((n_chunks, tile_users, k), U.dtype),
               np.empty((n_chunks, tile_users * 4 * kq), np.uint8),
               np.empty((n_chunks, tile_users * 4), np.float32),
               np.empty((n_chunks, tile_users), np.int64),
               np.empty((n_chunks, MASK_ROW), np.uint16))

    def run(users, start, stop):
        run_kernel(gated_pass, n_chunks, U, unorm, users, Ys, ynorm, order, start, stop, slack,
                   *excl, banned, heap_s, heap_i, tile_items, Uq, Ubound, Yq, kq, cs, P, npad,
                   *scratch)

    return run


def _norms(F):
    return np.sqrt(np.einsum("ij,ij->i", F, F, dtype=np.float64))


def _remapped(M, position, m):
    """(indptr, indices) int64 of CSR M with columns renumbered by `position`,
    sorted within rows; empty rows when M is None."""
    if M is None:
        return np.zeros(m + 1, np.int64), np.zeros(0, np.int64)
    R = sp.csr_array((np.ones(M.nnz, np.int8), position[M.indices], M.indptr), shape=M.shape)
    R.sort_indices()
    return R.indptr.astype(np.int64), R.indices.astype(np.int64)


def item_subset(items, n_items, name="items", what="item"):
    """Validated unique ids of the items to rank among (None: all), sorted so that
    ties between ranked positions still go to the lower id."""
    if items is None:
        return None
    items, _ = check_ids(name, items, n_items, what)
    check_unique(name, items)
    return np.sort(items)


def banned_positions(filter_items, n_items, subset, name="filter_items", what="item"):
    """filter_items as sorted unique positions among the ranked items."""
    if filter_items is None:
        return None
    banned, _ = check_ids(name, filter_items, n_items, what)
    if subset is not None:
        banned = _positions(subset, n_items)[banned]
        banned = banned[banned >= 0]
    return np.unique(banned)


def query_batches(queries, size):
    """queries (an index array, or a range: no array of them all is made) as
    arrays of at most `size`, in order."""
    for lo in range(0, len(queries), size):
        batch = queries[lo:lo + size]
        yield np.arange(batch.start, batch.stop) if isinstance(batch, range) else batch


def whole_matrix(user_items, n_users, n_items, name="user_items"):
    """user_items as one row per user of the model, for batches to take their rows
    from: a CSR matrix or numpy array as it is (its shape checked; each batch
    checks its rows), anything else converted to CSR once (taking rows from
    another format converts all of it)."""
    declared = _declared_shape(user_items)
    if declared is None or (sp.issparse(user_items) and user_items.format != "csr"):
        user_items = as_csr(user_items, name=name, allow_empty=True)
        declared = user_items.shape
    check_shape(name, declared, (n_users,), n_items, ": the whole users × items matrix")
    return user_items


def liked_rows(user_items, ids, n_users, n_items, subset, name="user_items"):
    """The rows of user_items for `ids`, as CSR in ranked-item positions.

    user_items holds either one row per id (in the order of ids, as implicit
    takes it) or one row per user of the model (rows are then picked by id,
    and only those are read); with as many ids as users, rows are taken to
    follow the ids.
    """
    liked = rows_of(user_items, ids, n_users, n_items, name,
                    f": one row per requested user ({ids.size}) or per user of the model "
                    f"({n_users}), one column per item")
    if subset is not None:
        liked = liked[:, subset]
    return sp.csr_array(liked)  # top_n renumbers and sorts the columns itself


def rank(U, Y, N, exclude, banned, subset, items=None):
    """top_n over the ranked items, with ids mapped back to the model's:
    min(N, number of ranked items) places per row, so that a large N costs no
    memory (-1 / -inf where the filters leave fewer). items: the RankedItems of
    the ranked rows of Y (Y[subset]), or None."""
    ids, scores = top_n(U, Y if subset is None else Y[subset], N, exclude, banned, items=items)
    if subset is not None:
        ids = np.where(ids >= 0, subset[np.maximum(ids, 0)], -1)
    return ids, scores


def recommend(X_f, Y_f, user_ids, user_items, N, filter_already_liked_items, filter_items,
              items, ranked=None):
    n_users, n_items = X_f.shape[0], Y_f.shape[0]
    N = check_int("N", N, 1)
    check_bool("filter_already_liked_items", filter_already_liked_items)
    ids, scalar = check_ids("user_ids", user_ids, n_users, "user")
    subset = item_subset(items, n_items)
    exclude = None
    if filter_already_liked_items:
        if user_items is None:
            raise ValueError("filter_already_liked_items=True needs user_items, the users' "
                             "interactions (one row per requested user, or the whole "
                             "training matrix); pass it, or filter_already_liked_items=False")
        exclude = liked_rows(user_items, ids, n_users, n_items, subset)
    banned = banned_positions(filter_items, n_items, subset)
    out_ids, out_scores = rank(X_f[ids], Y_f, N, exclude, banned, subset, ranked)
    if scalar:  # one user: only the places that could be filled
        keep = out_ids[0] >= 0
        return out_ids[0][keep], out_scores[0][keep]
    return out_ids, out_scores


def ranked_rows(queries, ids, scores):
    """Results (ids, scores: one row per query, -1 where unfilled) as long-format
    columns, one per filled place: (query, item id, rank from 1, score)."""
    keep = ids >= 0
    N = ids.shape[1]
    return (np.repeat(queries, N)[keep.ravel()], ids[keep],
            np.tile(np.arange(1, N + 1), ids.shape[0])[keep.ravel()], scores[keep])


def normalized(F):
    """Rows scaled to unit length (zero rows stay zero), in F's dtype."""
    norms = _norms(F)
    norms[norms == 0] = 1.0
    return (F / norms[:, None]).astype(F.dtype)


def similar(F, ids, N, filter_ids, subset_ids, what):
    """Cosine neighbours of rows `ids` of F, each query excluded from its own list."""
    n = F.shape[0]
    N = check_int("N", N, 1)
    ids, scalar = check_ids(f"{what}_ids", ids, n, what)
    subset = item_subset(subset_ids, n, f"{what}s", what)
    banned = banned_positions(filter_ids, n, subset, f"filter_{what}s", what)
    Fn = normalized(F)
    own = ids if subset is None else _positions(subset, n)[ids]
    has = own >= 0
    exclude = sp.csr_array((np.ones(int(has.sum()), np.float32), own[has],
                            np.concatenate(([0], np.cumsum(has)))),
                           shape=(ids.size, n if subset is None else subset.size))
    out_ids, out_scores = rank(Fn[ids], Fn, N, exclude, banned, subset)
    if scalar:
        keep = out_ids[0] >= 0
        return out_ids[0][keep], out_scores[0][keep]
    return out_ids, out_scores


def _positions(subset, n):
    position = np.full(n, -1, dtype=np.int64)
    position[subset] = np.arange(subset.size)
    return position
