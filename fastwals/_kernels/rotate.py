"""Rotating a factor matrix in place, M ← M R, in parallel row blocks.

One single-threaded BLAS gemm per block and thread (BLAS stays capped at one
thread during a fit: a multi-threaded BLAS's spinning threads would compete
with the kernel's own for the cores).
"""

from numba import njit

from .blas import matmul_rows


@njit(cache=True, nogil=True)
def rotate_rows(c, M, R, tmp, work, zero_one):
    """Thread c's share (of tmp.shape[0], run at once by _threads.run_kernel) of
    M ← M R in place. tmp[c] (block × k) and work[c] are thread c's scratch;
    blocks are dealt round-robin, so each row's result is the same whatever the
    thread count."""
    n, k = M.shape
    block = tmp.shape[1]
    n_blocks = (n + block - 1) // block
    n_chunks = tmp.shape[0]
    T = tmp[c]
    for blk in range(c, n_blocks, n_chunks):
        lo = blk * block
        rows = min(block, n - lo)
        matmul_rows(T, M[lo:lo + rows], R, rows, work[c], zero_one)
        for r in range(rows):
            for a in range(k):
                M[lo + r, a] = T[r, a]
