"""pytest-benchmark suite: recommend_all on the synthetic set, gated and not.

    python -m pytest bench/test_recommend_speed.py --benchmark-only

Each benchmark times `model.recommend_all(20, X)` for the first 20,000 users
of the 100,000 × 20,000 synthetic set (their interactions filtered), with
random normal factors (nothing for norm pruning to use): through the int8 gate
where the CPU has AVX-512 VNNI ("int8-gate"), and with every item scored by
gemm ("float-scores", serving.GATED off, the path of other CPUs). A warm-up
call compiles or loads the kernels first. bench/recommend.py compares with
implicit on Gowalla.
"""

import numpy as np
import pytest

from fastwals import WALS, serving
from fastwals._kernels import vnni

USERS = 20_000


@pytest.mark.parametrize("factors", [64, 256])
@pytest.mark.parametrize("scoring", ["int8-gate", "float-scores"])
def test_recommend_all(benchmark, synthetic_set, monkeypatch, scoring, factors):
    if scoring == "int8-gate" and not vnni.available():
        pytest.skip("needs AVX-512 VNNI")
    monkeypatch.setattr(serving, "GATED", scoring == "int8-gate")
    X = synthetic_set[:USERS]
    rng = np.random.default_rng(0)
    model = WALS(factors)
    model.user_factors_ = rng.standard_normal((X.shape[0], factors)).astype(np.float32)
    model.item_factors_ = rng.standard_normal((X.shape[1], factors)).astype(np.float32)
    model.recommend(np.arange(1000), X[:1000], N=20)  # compile or load the cache
    benchmark.extra_info.update(users=X.shape[0], items=X.shape[1])
    ids, _ = benchmark.pedantic(model.recommend_all, args=(20, X), rounds=3, iterations=1)
    assert ids.shape == (X.shape[0], 20) and np.all(ids >= 0)
