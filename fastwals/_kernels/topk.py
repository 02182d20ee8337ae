"""Top-N selection over the scores U Yᵀ, a tile at a time, with exclusions.

Threads take tiles of users; for each tile the items are walked in blocks:
one single-threaded BLAS gemm gives the block's scores, excluded items are
masked, and whatever beats the worst of a user's kept N enters that user's
heap. No users × items matrix is ever formed: per thread, one tile of scores.

Pruning: the caller sorts the items by decreasing norm, so no item after
position i can score above |u|·|y_i|. A user is done once that bound (widened
by the dot product's worst rounding) falls below the worst score it keeps; a
tile stops walking items when all its users are done. The result is the same
as the full scan's.

Order: by score descending, ties by item id ascending (the order of a stable
sort of -score), whatever the tiles, blocks or threads.
"""

import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

from ._common import borrowed
from .blas import scores_tile
from .vnni import BLOCKS, LANES, ROWS, flag_tile

# the gated pass checks whether a group of users is done every this many steps
DONE_EVERY = 8


@njit(cache=True, nogil=True, inline="always")
def _worse(s1, i1, s2, i2):
    return s1 < s2 or (s1 == s2 and i1 > i2)


@njit(cache=True, nogil=True, inline="always")
def _sift_down(hs, hi, pos, n):
    """Restore the heap (worst at the root) below `pos`, within hs[:n], hi[:n]."""
    s, i = hs[pos], hi[pos]
    while True:
        c = 2 * pos + 1
        if c >= n:
            break
        if c + 1 < n and _worse(hs[c + 1], hi[c + 1], hs[c], hi[c]):
            c += 1
        if not _worse(hs[c], hi[c], s, i):
            break
        hs[pos] = hs[c]
        hi[pos] = hi[c]
        pos = c
    hs[pos] = s
    hi[pos] = i


@njit(cache=True, nogil=True, inline="always")
def _done(worst, bound_u, next_norm):
    """Whether a user whose heap is full (worst kept score > -inf) can skip the
    items from here on: none scores above bound_u·next_norm = |u|·|y| (widened)."""
    return worst > -np.inf and bound_u * next_norm < worst


@njit(cache=True, nogil=True, inline="always")
def _count_below(sorted_scores, n, s):
    """How many of sorted_scores[:n] are below s, ties counted one half."""
    lo, hi = 0, n
    while lo < hi:  # first >= s
        mid = (lo + hi) >> 1
        if sorted_scores[mid] < s:
            lo = mid + 1
        else:
            hi = mid
    eq = lo
    while eq < n and sorted_scores[eq] == s:
        eq += 1
    return lo + 0.5 * (eq - lo)


@njit(cache=True, nogil=True, inline="always")
def _gather(U, users, t0, m, G, excl_indptr, excl_indices, start, cur):
    """A tile's user rows into G, and each user's first exclusion at or after start."""
    for r in range(m):
        u = users[t0 + r]
        G[r, :] = U[u]
        lo, hi = excl_indptr[u], excl_indptr[u + 1]
        cur[r] = lo + np.searchsorted(excl_indices[lo:hi], start)


@njit(cache=True, nogil=True)
def top_n_pass(c, U, unorm, users, Y, ynorm, item_ids, start, stop, slack, excl_indptr,
               excl_indices, banned, pos_indptr, pos_indices, heap_s, heap_i, pairs_below,
               tile_items, scratch, gathered, cursor, pos_scores, work, zero_one):
    """Continue the heaps heap_s/heap_i[u] (N = heap_s.shape[1] each, worst at
    the root; start them at -inf / -1) of the users `users`, in that order and
    in tiles of gathered.shape[1], over the items start..stop-1 of Y.

    Y's rows are sorted by decreasing norm ynorm (length len(Y) + 1, ending in
    0); item_ids[i] is row i's id, the one kept and used to break ties.
    unorm: norms of U's rows; slack: the bound's rounding factor (np.inf turns
    pruning off). Exclusions are given per user in row positions of Y: sorted
    excl_indices[excl_indptr[u]:excl_indptr[u+1]], and `banned` for every user.

    With pos_indptr of length len(U) + 1 (else length 0) the pass must cover
    every item in one block (start = 0, stop = tile_items = len(Y)), and counts
    for AUC: pairs_below[u] = the (negative, positive) pairs of u whose negative
    scores above its positive (ties one half), positives being pos_indices'
    items, negatives every other item not excluded.

    This is thread c's share, c < scratch.shape[0] (the threads of
    _threads.run_kernel): the tiles c, c + scratch.shape[0], ... (round-robin,
    so the result is the same for any thread count), in scratch[c] (tile ×
    tile_items scores), gathered[c] (tile × k rows of U), cursor[c],
    pos_scores[c] (longest positive row) and work[c]. Its views skip reference
    counting (_common.borrowed).
    """
    U, unorm, users, Y, ynorm, item_ids, excl_indptr, excl_indices, banned = borrowed(
        (U, unorm, users, Y, ynorm, item_ids, excl_indptr, excl_indices, banned))
    pos_indptr, pos_indices, heap_s, heap_i, pairs_below = borrowed(
        (pos_indptr, pos_indices, heap_s, heap_i, pairs_below))
    scratch, gathered, cursor, pos_scores, work, zero_one = borrowed(
        (scratch, gathered, cursor, pos_scores, work, zero_one))
    n_users = users.size
    N = heap_s.shape[1]
    tile_users = gathered.shape[1]
    n_tiles = (n_users + tile_users - 1) // tile_users
    n_chunks = scratch.shape[0]
    auc = pos_indptr.size > 0
    S = scratch[c]
    G = gathered[c]
    cur = cursor[c]
    for t in range(c, n_tiles, n_chunks):
        t0 = t * tile_users
        m = min(tile_users, n_users - t0)
        _gather(U, users, t0, m, G, excl_indptr, excl_indices, start, cur)
        for i0 in range(start, stop, tile_items):
            i1 = min(i0 + tile_items, stop)
            n = i1 - i0
            scores_tile(S, G[:m], Y[i0:i1], work[c], zero_one)
            b0 = np.searchsorted(banned, i0)
            b1 = np.searchsorted(banned, i1)
            active = False
            for r in range(m):
                u = users[t0 + r]
                hs = heap_s[u]
                hi = heap_i[u]
                if _done(hs[0], slack * unorm[u], ynorm[i0]):
                    continue  # nothing from i0 on can enter
                row = S[r * n:(r + 1) * n]
                p = cur[r]
                end = excl_indptr[u + 1]
                while p < end and excl_indices[p] < i1:
                    row[excl_indices[p] - i0] = -np.inf
                    p += 1
                cur[r] = p
                for b in range(b0, b1):
                    row[banned[b] - i0] = -np.inf
                if auc:
                    q0 = pos_indptr[u]
                    T = pos_indptr[u + 1] - q0
                    if T > 0:
                        ps = pos_scores[c]
                        for q in range(T):
                            ps[q] = row[pos_indices[q0 + q]]
                        ps[:T].sort()
                        total = 0.0
                        for j in range(n):
                            s = row[j]
                            if s > -np.inf:
                                total += _count_below(ps, T, s)
                        # the positives among "every item" add T²/2 (each
                        # pair once, each one against itself one half)
                        pairs_below[u] = total - 0.5 * T * T
                worst = hs[0]
                for j in range(n):
                    s = row[j]
                    if s >= worst and s > -np.inf:
                        item = item_ids[i0 + j]
                        if s > worst or item < hi[0]:
                            hs[0] = s
                            hi[0] = item
                            _sift_down(hs, hi, 0, N)
                            worst = hs[0]
                if not _done(hs[0], slack * unorm[u], ynorm[i1]):
                    active = True
            if not active:
                break


@njit(parallel=True, cache=True, nogil=True)
def sort_heaps(heap_s, heap_i):
    """Each row's heap (worst at the root) in place into best-first order."""
    N = heap_s.shape[1]
    for u in prange(heap_s.shape[0]):
        hs = heap_s[u]
        hi = heap_i[u]
        for end in range(N - 1, 0, -1):
            s, i = hs[0], hi[0]
            hs[0] = hs[end]
            hi[0] = hi[end]
            hs[end] = s
            hi[end] = i
            _sift_down(hs, hi, 0, end)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _dot(a, b):
    """a·b in their dtype: every exact score of the gated pass comes from here,
    so equal rows score equal bits."""
    s = a[0] * b[0]
    for t in range(1, a.size):
        s += a[t] * b[t]
    return s


@njit(cache=True, nogil=True, inline="always")
def _contains(sorted_values, v):
    j = np.searchsorted(sorted_values, v)
    return j < sorted_values.size and sorted_values[j] == v


@njit(cache=True, nogil=True, inline="always")
def _threshold(worst):
    """A float32 no larger than worst (the gate compares in float32)."""
    t = np.float32(worst)
    if t > worst:
        t = np.nextafter(t, np.float32(-np.inf))
    return t


@njit(cache=True, nogil=True)
def gated_pass(c, U, unorm, users, Y, ynorm, item_ids, start, stop, slack, excl_indptr,
               excl_indices, banned, heap_s, heap_i, tile_items, Uq, Ubound, Yq, kq, cs, P,
               npad, gathered, gathered_q, bounds, cursor, masks):
    """top_n_pass's contract (without AUC), scoring only the items that the int8
    gate (vnni.flag_tile) lets through: an item is scored exactly (_dot) when
    its upper bound reaches the user's current worst kept score.

    Uq: users' quantized rows (uint8, len(U) × 4·kq), Ubound: their gate
    constants (float32, len(U) × 3: scale, coefficients of |y| and of |y - ỹ|);
    Yq, cs, P: the items' packed blocks, + 128 corrections and (scale, |y|,
    |y - ỹ|) rows of length npad (see _int8.py). Thread c's share, as in
    top_n_pass, in gathered[c] (tile × k), gathered_q[c] (tile × 4·kq bytes),
    bounds[c] (tile × 4), cursor[c] and masks[c] (ROWS × BLOCKS at the start of a
    longer row); the tile is a multiple of ROWS users and tile_items a multiple
    of BLOCKS·LANES items.

    Each group of ROWS users walks the items in steps of BLOCKS·LANES: flag,
    then score the flagged and raise the thresholds at once, so the gate
    tightens within a tile as the heaps fill.
    """
    U, unorm, users, Y, ynorm, item_ids, excl_indptr, excl_indices, banned = borrowed(
        (U, unorm, users, Y, ynorm, item_ids, excl_indptr, excl_indices, banned))
    heap_s, heap_i, Uq, Ubound, Yq, cs, P = borrowed((heap_s, heap_i, Uq, Ubound, Yq, cs, P))
    gathered, gathered_q, bounds, cursor, masks = borrowed(
        (gathered, gathered_q, bounds, cursor, masks))
    n_users = users.size
    N = heap_s.shape[1]
    tile_users = gathered.shape[1]
    kp = 4 * kq
    step = BLOCKS * LANES
    n_tiles = (n_users + tile_users - 1) // tile_users
    n_chunks = gathered.shape[0]
    G = gathered[c]
    G8 = gathered_q[c]
    Q = bounds[c]
    cur = cursor[c]
    M = masks[c]
    M64 = M.view(np.uint64)
    for t in range(c, n_tiles, n_chunks):
        t0 = t * tile_users
        m = min(tile_users, n_users - t0)
        _gather(U, users, t0, m, G, excl_indptr, excl_indices, start, cur)
        for r in range(m):
            u = users[t0 + r]
            G8[r * kp:(r + 1) * kp] = Uq[u]
            Q[4 * r:4 * r + 3] = Ubound[u]
            Q[4 * r + 3] = _threshold(heap_s[u, 0])
        for i0 in range(start, stop, tile_items):
            i1 = min(i0 + tile_items, stop)
            active = False
            first = i0 - i0 % step
            for g in range(0, m, ROWS):
                rows = min(ROWS, m - g)
                for p0 in range(first, i1, step):
                    if (p0 - first) % (DONE_EVERY * step) == 0:
                        done = True
                        for r in range(rows):
                            u = users[t0 + g + r]
                            if not _done(heap_s[u, 0], slack * unorm[u], ynorm[max(p0, i0)]):
                                done = False
                        if done:
                            break
                    flag_tile(M, 0, BLOCKS, G8, g * kp, kp, Yq, p0 * kq * 4, kq, cs, P, npad,
                              p0, Q, 4 * g)
                    if not (M64[0] | M64[1] | M64[2] | M64[3]):
                        continue  # the usual case: nothing flagged
                    for r in range(rows):
                        bits = np.int64(0)  # the row's flags: bit j for item p0 + j
                        for b in range(BLOCKS):
                            bits |= np.int64(M[r * BLOCKS + b]) << (b * LANES)
                        if bits == 0:
                            continue
                        u = users[t0 + g + r]
                        hs = heap_s[u]
                        hi = heap_i[u]
                        end = excl_indptr[u + 1]
                        while bits:
                            p = p0 + trailing_zeros(bits)
                            bits &= bits - 1
                            if p < i0 or p >= i1:
                                continue
                            q = cur[g + r]
                            while q < end and excl_indices[q] < p:
                                q += 1
                            cur[g + r] = q
                            if (q < end and excl_indices[q] == p) or _contains(banned, p):
                                continue
                            s = _dot(G[g + r], Y[p])
                            if s >= hs[0]:
                                item = item_ids[p]
                                if s > hs[0] or item < hi[0]:
                                    hs[0] = s
                                    hi[0] = item
                                    _sift_down(hs, hi, 0, N)
                                    Q[4 * (g + r) + 3] = _threshold(hs[0])
                for r in range(rows):
                    u = users[t0 + g + r]
                    if not _done(heap_s[u, 0], slack * unorm[u], ynorm[i1]):
                        active = True
            if not active:
                break
