import numpy as np
import pytest

from fastwals._partition import balanced_chunks


@pytest.mark.parametrize("n_chunks", [1, 2, 3, 8])
def test_chunks_cover_rows_in_order_with_balanced_cost(n_chunks):
    rng = np.random.default_rng(0)
    cost = rng.pareto(1.2, 500) * 5  # power-law row costs
    starts = balanced_chunks(cost, n_chunks)
    assert starts[0] == 0 and starts[-1] == 500 and starts.size == n_chunks + 1
    assert np.all(np.diff(starts) >= 0)
    chunk_cost = [cost[a:b].sum() for a, b in zip(starts[:-1], starts[1:])]
    # each chunk is within one row's cost of the ideal share
    assert max(chunk_cost) <= cost.sum() / n_chunks + cost.max()


def test_more_chunks_than_rows():
    starts = balanced_chunks(np.array([3.0, 2.0]), 4)
    assert starts[0] == 0 and starts[-1] == 2 and np.all(np.diff(starts) >= 0)
