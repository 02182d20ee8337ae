import numpy as np
import pytest

from fastwals._partition import balanced_chunks


@pytest.mark.parametrize("n_chunks", [1, 2, 3, 8])
def test_chunks_cover_rows_in_order_with_balanced_cost(n_chunks):
    rng = np.random.default_rng(0)
    nnz = (rng.pareto(1.2, 500) * 5).astype(np.int64)  # power-law rows, some empty
    indptr = np.concatenate(([0], np.cumsum(nnz)))
    k = 16
    starts = balanced_chunks(indptr, n_chunks, k)
    assert starts[0] == 0 and starts[-1] == 500 and starts.size == n_chunks + 1
    assert np.all(np.diff(starts) >= 0)
    row_cost = nnz * k * k + (nnz > 0) * (k**3 / 3 + k * k)
    chunk_cost = np.add.reduceat(np.r_[row_cost, 0], starts[:-1]) if n_chunks > 1 else [row_cost.sum()]
    # each chunk is within one row's cost of the ideal share
    assert max(chunk_cost) <= row_cost.sum() / n_chunks + row_cost.max()


def test_more_chunks_than_rows():
    starts = balanced_chunks(np.array([0, 3, 5]), 4, 8)
    assert starts[0] == 0 and starts[-1] == 2 and np.all(np.diff(starts) >= 0)
