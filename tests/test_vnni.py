"""The int8 gate of recommend: the VNNI kernel against integer arithmetic in
numpy, and its bound against exact scores (it must never hide an item that
reaches the threshold, and should flag few that do not)."""

import numpy as np
import pytest
from numba import njit

from fastwals import WALS, _int8, serving
from fastwals._kernels import vnni
from fastwals._kernels.vnni import BLOCKS, LANES, ROWS, flag_tile

pytestmark = pytest.mark.skipif(not vnni.available(), reason="needs AVX-512 VNNI")


@njit(cache=False)
def _flag_all(Uq, Q, Yq, kq, cs, P, npad):
    """Masks (users × npad / LANES) of every user against every item block."""
    m = Uq.shape[0]
    kp = 4 * kq
    out = np.zeros((m, npad // LANES), np.uint16)
    M = np.zeros(ROWS * BLOCKS, np.uint16)
    A = Uq.ravel()
    for g in range(0, m, ROWS):
        for p0 in range(0, npad, BLOCKS * LANES):
            flag_tile(M, 0, BLOCKS, A, g * kp, kp, Yq, p0 * kq * 4, kq, cs, P, npad, p0, Q, 4 * g)
            for r in range(ROWS):
                for b in range(BLOCKS):
                    out[g + r, p0 // LANES + b] = M[r * BLOCKS + b]
    return out


def flags(U, Y, thresholds):
    """Which items each user's gate lets through at the given thresholds
    (users × items bool), from the real kernel on the real quantization."""
    m, n = U.shape[0], Y.shape[0]
    Uq, Ubound = _int8.users(U)
    ynorm = np.linalg.norm(Y.astype(np.float64), axis=1)
    Yq, cs, P, npad = _int8.items(Y, ynorm, LANES, BLOCKS)
    rows = -(-m // ROWS) * ROWS
    Uq = np.vstack([Uq, np.full((rows - m, Uq.shape[1]), 128, np.uint8)])
    Q = np.zeros((rows, 4), np.float32)
    Q[:m, :3] = Ubound
    Q[:m, 3] = thresholds
    masks = _flag_all(Uq, Q.ravel(), Yq, Uq.shape[1] // 4, cs, P, npad)
    bits = np.unpackbits(masks.view(np.uint8), axis=1, bitorder="little").astype(bool)
    return bits[:m, :n]


def test_kernel_matches_integer_arithmetic():
    """Random bytes and constants: the kernel's bits are those of the bound
    evaluated in float64 from the same integers, wherever the two are not
    within float32 rounding of the threshold."""
    rng = np.random.default_rng(0)
    m, n, kq = 19, 70, 9
    kp = 4 * kq
    Uq = rng.integers(0, 256, (-(-m // ROWS) * ROWS, kp), dtype=np.uint8)
    qy = rng.integers(-127, 128, (n, kp), dtype=np.int8)
    npad = -(-n // (BLOCKS * LANES)) * (BLOCKS * LANES)
    qp = np.zeros((npad, kp), np.int8)
    qp[:n] = qy
    Yq = np.ascontiguousarray(qp.reshape(npad // LANES, LANES, kq, 4).transpose(0, 2, 1, 3)).ravel()
    cs = (128 * qp.astype(np.int32).sum(axis=1)).astype(np.int32)
    P = rng.random((3, npad)).astype(np.float32)
    Q = rng.random((Uq.shape[0], 4)).astype(np.float32)
    dots = (Uq.astype(np.int64) - 128) @ qp.astype(np.int64).T
    ub = (dots * (Q[:, :1].astype(np.float64) * P[0]) + Q[:, 1:2] * P[1].astype(np.float64)
          + Q[:, 2:3] * P[2].astype(np.float64))
    Q[:, 3] = np.median(ub, axis=1)  # half the items either side
    want = ub >= Q[:, 3:4]
    got = _flag_all(Uq, Q.ravel(), Yq, kq, cs, P.ravel(), npad)
    got = np.unpackbits(got.view(np.uint8), axis=1, bitorder="little").astype(bool)
    clear = np.abs(ub - Q[:, 3:4]) > 1e-5 * (np.abs(ub) + 1)
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(got[clear], want[clear])


def _factors(kind, n, k, rng):
    if kind == "normal":
        return rng.standard_normal((n, k))
    if kind == "heavy-tailed":  # a few huge entries: coarse quantization steps
        return rng.standard_t(1.5, (n, k))
    if kind == "scales":  # norms over eight decades, some rows zero, some tiny
        F = rng.standard_normal((n, k)) * np.logspace(-4, 4, n)[rng.permutation(n), None]
        F[::7] = 0
        F[3::11, 1:] = 0
        return F
    if kind == "aligned":  # where each Cauchy-Schwarz term of the bound is tight (k ≥ 2)
        # half the rows: c·e_0 (exact in int8); half: entry A on an axis m > 0,
        # entry 0 at (q + 0.49)·A/127 (just under half a step of rounding error, all
        # of it on axis 0), the rest exact multiples of A/127. An exact row
        # against an aligned one errs by exactly |ũ|·|e_y| (or |e_u|·|y|).
        F = np.zeros((n, k))
        half = n // 2
        F[:half, 0] = rng.uniform(1, 2, half)
        A = rng.uniform(1, 2, n - half)
        step = A / 127
        F[half:, 1:] = rng.integers(-100, 101, (n - half, k - 1)) * step[:, None]
        F[half:, 0] = (rng.integers(0, 101, n - half) + 0.49) * step
        F[np.arange(half, n), rng.integers(1, k, n - half)] = A
        return F
    raise ValueError(kind)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,k", [(kind, k) for kind in ["normal", "heavy-tailed", "scales",
                                                             "aligned"]
                                    for k in [1, 7, 64, 130] if (kind, k) != ("aligned", 1)])
def test_gate_never_hides_an_item_at_the_threshold(kind, k, dtype):
    """For each user, the threshold is one item's exact score (rounded down to
    float32): every item scoring at least that, in float64 or float32 sums,
    must be flagged."""
    rng = np.random.default_rng(k)
    U = _factors(kind, 37, k, rng).astype(dtype)
    Y = _factors(kind, 90, k, rng).astype(dtype)
    S64 = U.astype(np.float64) @ Y.astype(np.float64).T
    S32 = (U.astype(np.float32) @ Y.astype(np.float32).T).astype(np.float64)
    S = np.maximum(S64, S32)
    ranked = np.sort(S, axis=1)[:, ::-1]
    # each user's best, 5th and median scores, and the scores of fixed items
    # (of both halves of the "aligned" rows)
    for thr in [ranked[:, 0], ranked[:, 4], ranked[:, 45]] + [S[:, j] for j in (0, 1, 45, 46, 89)]:
        thr32 = thr.astype(np.float32)
        thr32 = np.where(thr32 > thr, np.nextafter(thr32, np.float32(-np.inf)), thr32)
        got = flags(U, Y, thr32)
        assert np.all(got[S >= thr[:, None]])


def test_gate_is_tight():
    """At k = 64 on normal factors, with the threshold at each user's 10th best
    score, the gate lets through about the items that reach it and few more."""
    rng = np.random.default_rng(1)
    U = rng.standard_normal((64, 64)).astype(np.float32)
    Y = rng.standard_normal((2000, 64)).astype(np.float32)
    S = U.astype(np.float64) @ Y.astype(np.float64).T
    thr = np.sort(S, axis=1)[:, -10]
    got = flags(U, Y, thr.astype(np.float32) * np.float32(1 - 1e-6))
    assert np.all(got.sum(axis=1) >= 10)
    assert got.sum(axis=1).mean() < 40  # of 2,000


@pytest.mark.parametrize("F", [np.zeros((3, 0)), np.array([[np.nan, 1.0]]),
                               np.array([[np.inf, 1.0]]), np.array([[1e-13, 0.0]]),
                               np.array([[1e12, 0.0]])],
                         ids=["k=0", "nan", "inf", "tiny", "huge"])
def test_factors_outside_the_safe_range_are_not_gated(F):
    for dtype in (np.float32, np.float64):
        F = F.astype(dtype)
        assert _int8.users(F) is None
        assert _int8.items(F, np.ones(len(F)), LANES, BLOCKS) is None
    ok = np.array([[1e-11, 0.0], [1e11, 1.0], [0.0, 0.0]])
    assert _int8.users(ok) is not None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_duplicated_items_score_the_same_bits(dtype, monkeypatch):
    """Through the gate every exact score comes from one dot product, so a copy
    of an item scores the same bits as its original wherever it sits (k = 37:
    the copies sit at different alignments), and the lower id comes first.
    (gemm does not promise this: its edge kernels may sum in another order.)"""
    monkeypatch.setattr(serving, "GATED", True)
    monkeypatch.setattr(serving, "FEW_USERS", 0)
    rng = np.random.default_rng(8)
    model = WALS(37, dtype=dtype)
    model.user_factors_ = rng.standard_normal((40, 37)).astype(dtype)
    V = rng.standard_normal((300, 37)).astype(dtype)
    copies = {2: 151, 7: 299, 40: 41, 100: 3}
    for a, b in copies.items():
        V[b] = V[a]
    model.item_factors_ = V
    ids, scores = model.recommend(np.arange(40), None, N=300, filter_already_liked_items=False)
    for row_ids, row_scores in zip(ids, scores):
        where = {item: place for place, item in enumerate(row_ids)}
        for a, b in copies.items():
            first, second = sorted((a, b))
            assert row_scores[where[a]] == row_scores[where[b]]
            assert where[first] < where[second]
