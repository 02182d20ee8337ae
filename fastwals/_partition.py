"""Split rows into contiguous chunks of about equal work, one per thread."""

import numpy as np


def balanced_chunks(row_cost, n_chunks):
    """Row boundaries (int64, length n_chunks + 1) such that each chunk holds
    about the same total of `row_cost` (one estimate per row, from the solver).
    Power-law data makes splitting by row count badly unbalanced."""
    n_rows = row_cost.size
    cost = np.cumsum(row_cost, dtype=np.float64)
    total = cost[-1] if n_rows else 0.0
    targets = total * np.arange(1, n_chunks) / n_chunks
    inner = np.searchsorted(cost, targets, side="left") + 1
    return np.concatenate(([0], np.minimum(inner, n_rows), [n_rows])).astype(np.int64)
