"""The structural check of a sparse matrix's index arrays: one O(nnz) pass.

Row r of the pass is the entries starts[r]..stops[r]-1 of `indices`: for a
CSR (CSC, BSR) matrix starts = indptr[:-1] and stops = indptr[1:] (views, no
copy); for chosen rows, their entries of indptr; for COO coordinates,
consecutive pieces of one coordinate array. The pass finds

- the first row whose range is not within 0..len(indices) in order
  (start < 0, stop < start or stop > len(indices)): indptr is corrupt there;
- the first entry, in row order, of a well-formed row whose index is outside
  0..n-1;
- the first entry not above its predecessor in its row (unsorted or repeated
  indices: the matrix needs canonicalising, which is not an error).

Nothing else reads `indices`, so a corrupt matrix is safe to pass. The caller
checks what is O(1) (array lengths, indptr[0], indptr[-1]) and turns the
positions into messages; no validation happens here.

Threads take chunks of consecutive rows (equal row counts: a chunk is cheap
next to any use of the matrix) and record what they find first; the first
chunk with a finding holds the first in the whole (entries only up to the
first bad row). A chunk stops at its first bad row, and stops reading entries
at its first bad entry.
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, inline="always")
def _scan(starts, stops, indices, n, lo, hi, found):
    """Rows lo..hi-1: found = (first bad row, first bad entry, first unsorted
    entry), -1 where none."""
    size = indices.shape[0]
    for r in range(lo, hi):
        a, b = starts[r], stops[r]
        if a < 0 or b < a or b > size:
            found[0] = r
            return
        if found[1] >= 0:  # entries after a bad one are not reported
            continue
        previous = -1
        for p in range(a, b):
            j = indices[p]
            if j < 0 or j >= n:
                found[1] = p
                break
            if j <= previous and found[2] < 0:
                found[2] = p
            previous = j


@njit(parallel=True, cache=True, nogil=True)
def first_bad(starts, stops, indices, n, n_chunks):
    """(first bad row, first bad entry, first unsorted entry) of the rows
    starts[r]..stops[r] of `indices` against columns 0..n-1; -1 where none.
    n_chunks: how many chunks of rows the threads share."""
    n_rows = starts.shape[0]
    n_chunks = max(1, min(n_rows, n_chunks))
    found = np.full((n_chunks, 3), -1, np.int64)
    for c in prange(n_chunks):
        _scan(starts, stops, indices, n, c * n_rows // n_chunks, (c + 1) * n_rows // n_chunks,
              found[c])
    return _first(found)


@njit(cache=True, nogil=True)
def first_bad_serial(starts, stops, indices, n):
    """first_bad on the calling thread, for a few rows (no thread pool to wake)."""
    found = np.full((1, 3), -1, np.int64)
    _scan(starts, stops, indices, n, 0, starts.shape[0], found[0])
    return _first(found)


@njit(cache=True, nogil=True, inline="always")
def _first(found):
    """The chunks' findings in row order, up to the first bad row."""
    bad_row, bad_entry, unsorted = -1, -1, -1
    for c in range(found.shape[0]):
        if bad_entry < 0:
            bad_entry = found[c, 1]
        if unsorted < 0:
            unsorted = found[c, 2]
        if found[c, 0] >= 0:
            bad_row = found[c, 0]
            break
    return bad_row, bad_entry, unsorted
