"""Our own dense SPD kernels for the exact solver: the Gram update and the
Cholesky solve of one row's k × k system, in vector tiles.

At the orders WALS uses (k = 32…1024) a BLAS syrk call plus LAPACK posv per row
ran at 20–45% of the machine's sgemm rate (measured here at k = 64…128: posv
alone at about 6 GFLOP/s, its call and blocking overheads larger than its
work); these run the same arithmetic in register tiles (simd.py,
simd_cholesky.py).

These are called, not inlined: compiled once per dtype and shared by every
sweep that uses them (inlined, they doubled the exact solver's compile time).

Layout: the system is a row-major kp × ld array of which only the upper
triangle of the leading kp × kp block (column ≥ row) is meaningful, kp = k
rounded up to a whole number of tiles (LANES), ld = leading_dimension(kp).
The padding is the identity (see gram_set), so the padded system is
block-diagonal and its solution is the row's, followed by zeros. Inside the
diagonal blocks, the tiles leave scratch below the diagonal (its first 8 rows
written, the rest stale); nothing reads there.
"""

from numba import njit

from .simd import HALF, LANES, rows_dot_add, tile8, tile8h, tile_acc1, tile_sub8
from .simd_cholesky import potrf_tile, trsm_tile, trsv_tile, trsv_tile_t

TILE_ROWS = HALF  # rows of one tile8 / tile_sub8 block (8)
# The tile loops run over the rank-update rows in chunks of about this many bytes,
# which then stay in the L2 cache while every tile of the output reads them
CHUNK_BYTES = 256 << 10


@njit(cache=True, nogil=True, inline="always")
def padded_order(k):
    """k rounded up to a whole number of LANES tiles (also the subspace solver's
    padded block size)."""
    return -(-k // LANES) * LANES


@njit(cache=True, nogil=True, inline="always")
def leading_dimension(kp):
    """Row length (elements) of the arrays the tiles walk down: one tile more than
    kp, so that a column's elements are not a power of two of bytes apart (at
    kp = 1024, 4 KB apart, all in one L1 set: the exact solver ran at 19% of the
    sgemm rate)."""
    return kp + LANES


@njit(cache=True, nogil=True, inline="always")
def _chunk_rows(ld, itemsize):
    return max(LANES, CHUNK_BYTES // (ld * itemsize))


@njit(cache=True, nogil=True, inline="always")
def _gram_tiles(Af, lda, kp, Zf, off, ldz, n, mode):
    """The tiles of A's upper triangle += Zᵀ Z for the n rows of Z from flat offset
    off (mode 0; −= with 1; = with 2): each LANES-wide column of tiles down to its
    diagonal block, whose lower 8 rows take only their right half (HALF lanes;
    the left half lies below the diagonal)."""
    for b0 in range(0, kp, LANES):
        for a0 in range(0, b0 + LANES, TILE_ROWS):
            if a0 == b0 + HALF:  # columns from a0 on
                tile8h(mode, Af, a0 * lda + a0, lda, Zf, off + a0, ldz, Zf, off + a0, ldz, n)
            else:
                tile8(mode, Af, a0 * lda + b0, lda, Zf, off + a0, ldz, Zf, off + b0, ldz, n)


@njit(cache=True, nogil=True)
def _gram(A, Z, zoff, m, mode):
    """A's upper triangle += Zᵀ Z (mode 0), −= (1), or = (2: the first chunk of rows
    stores its tiles, the rest add) for the m rows of Z from flat offset zoff; the
    one compiled copy of the tile loops."""
    kp, lda = A.shape
    ldz = Z.shape[1]
    Af = A.ravel()
    Zf = Z.ravel()
    chunk = _chunk_rows(ldz, Z.itemsize)
    rows = max(m, 1) if mode == 2 else m  # storing writes A even from no rows
    for q0 in range(0, rows, chunk):
        _gram_tiles(Af, lda, kp, Zf, zoff + q0 * ldz, ldz, min(chunk, m - q0), mode)
        if mode == 2:  # the later chunks add
            mode = 0


@njit(cache=True, nogil=True)
def gram_update(A, Z, zoff, m, subtract):
    """A's upper triangle += Zᵀ Z (−= with subtract) for the m rows of Z that
    start at flat offset zoff: Z is C-contiguous with rows of at least kp =
    A.shape[0] elements, zero beyond k."""
    _gram(A, Z, zoff, m, 1 if subtract else 0)


@njit(cache=True, nogil=True)
def gram_set(A, Z, zoff, m, d, k):
    """A ← D + Zᵀ Z for the m rows of Z from flat offset zoff (m may be 0), D =
    diag(d[:k]) with ones on the padding's diagonal (k = 0: the identity). Every
    entry of the upper triangle is written: the first chunk of rows stores its
    tiles instead of adding them, so no pass clears A first (that pass cost
    10-13% of a row's solve at k = 64…128)."""
    _gram(A, Z, zoff, m, 2)
    one = A.dtype.type(1)
    for a in range(A.shape[0]):
        A[a, a] += d[a] if a < k else one


@njit(cache=True, nogil=True)
def cholesky_upper(A):
    """A = UᵀU in place (U upper, row-major, in A's upper triangle), left-looking
    by panels of LANES rows: each panel takes the update from every row above it
    (tile loops down the rows, a chunk at a time), then its diagonal tile is
    factored and the tiles to its right solved against it, in registers. False
    when A is not numerically positive definite."""
    kp, ld = A.shape
    Af = A.ravel()
    chunk = _chunk_rows(ld, A.itemsize)
    for p0 in range(0, kp, LANES):
        for q0 in range(0, p0, chunk):  # panel rows −= U[:p0, panel]ᵀ U[:p0, p0:]
            n = min(chunk, p0 - q0)
            for b0 in range(p0, kp, LANES):
                for a0 in range(p0, p0 + LANES, TILE_ROWS):
                    tile_sub8(Af, a0 * ld + b0, ld, Af, q0 * ld + a0, ld, Af, q0 * ld + b0, ld,
                              n)
        diagonal = p0 * ld + p0
        if not potrf_tile(Af, diagonal, ld):
            return False
        for t in range(p0 + LANES, kp, LANES):
            trsm_tile(Af, diagonal, p0 * ld + t, ld)
    return True


@njit(cache=True, nogil=True)
def cholesky_solve(A, b, w):
    """Solve UᵀU x = b in place for b[:kp], U from cholesky_upper, by panels:
    within a panel in registers (trsv_tile_t, trsv_tile), across panels the
    vector tiles (w: scratch of LANES elements)."""
    kp, ld = A.shape
    Af = A.ravel()
    for p0 in range(0, kp, LANES):  # Uᵀ z = b
        trsv_tile_t(Af, p0 * ld + p0, ld, b, p0)
        for q in range(LANES):
            w[q] = -b[p0 + q]
        for t in range(p0 + LANES, kp, LANES):  # b[t:] −= U[panel, t:]ᵀ z[panel]
            tile_acc1(b, t, 0, w, 0, 1, Af, p0 * ld + t, ld, LANES)
    for p0 in range(kp - LANES, -1, -LANES):  # U x = z
        for q in range(LANES):
            w[q] = 0.0
        rest = kp - p0 - LANES
        if rest > 0:  # w = U[panel, rest] x[rest], in rows_dot_add's fixed order
            rows_dot_add(w, Af, p0 * ld + p0 + LANES, ld, LANES, b[p0 + LANES:], rest // LANES)
        trsv_tile(Af, p0 * ld + p0, ld, b, p0, w)
