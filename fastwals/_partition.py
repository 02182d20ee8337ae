"""Split rows into contiguous chunks of about equal work, one per thread."""

import numpy as np


def balanced_chunks(indptr, n_chunks, k):
    """Row boundaries (int64, length n_chunks + 1) such that each chunk holds
    about the same cost, a row costing nnz·k² (rank updates) + k³/3 (factorisation).
    Power-law data makes splitting by row count badly unbalanced."""
    n_rows = indptr.size - 1
    nnz = np.diff(indptr).astype(np.float64)
    cost = np.cumsum(nnz * (k * k) + (nnz > 0) * (k ** 3 / 3.0 + k * k))
    total = cost[-1] if n_rows else 0.0
    targets = total * np.arange(1, n_chunks) / n_chunks
    inner = np.searchsorted(cost, targets, side="left") + 1
    return np.concatenate(([0], np.minimum(inner, n_rows), [n_rows])).astype(np.int64)
