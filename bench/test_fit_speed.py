"""pytest-benchmark suite: one fit iteration per solver and k on the synthetic set.

    python -m pytest bench/test_fit_speed.py --benchmark-only

Each benchmark times `WALS(k, iterations=1, solver=...).fit(X)` on the
100,000 × 20,000 synthetic set (4.3M non-zeros): one iteration plus the
per-fit setup (validation, transpose, initialisation). Kernels are compiled by
a warm-up fit on a slice first, so no compilation is timed (see
bench/compile_time.py for that). BLAS is capped at one thread by fastwals itself.
"""

import pytest

from fastwals import WALS

CASES = [("cholesky", 64), ("cholesky", 128), ("cg", 64), ("cg", 128), ("subspace", 256),
         ("cholesky", 256)]


@pytest.mark.parametrize("solver,factors", CASES, ids=[f"solver={s}-factors={k}" for s, k in CASES])
def test_fit_one_iteration(benchmark, synthetic_set, solver, factors):
    X = synthetic_set
    WALS(factors, iterations=1, solver=solver).fit(X[:500])  # compile or load the cache
    model = WALS(factors, iterations=1, solver=solver, regularization=0.1, random_state=0)
    benchmark.extra_info.update(nnz=X.nnz, users=X.shape[0], items=X.shape[1])
    benchmark.pedantic(model.fit, args=(X,), rounds=3, iterations=1)
    assert model.n_iter_ == 1


@pytest.fixture
def one_spinning_process():
    """A host shared with another job: one process spinning on a core."""
    import subprocess
    import sys
    import time
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)
    yield
    proc.kill()
    proc.wait()


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_fit_one_iteration_busy_host(benchmark, synthetic_set, solver, one_spinning_process):
    """As above at k = 64, with one process spinning (issue 16: a busy host)."""
    X = synthetic_set
    WALS(64, iterations=1, solver=solver).fit(X[:500])
    model = WALS(64, iterations=1, solver=solver, regularization=0.1, random_state=0)
    benchmark.extra_info.update(nnz=X.nnz, busy=1)
    benchmark.pedantic(model.fit, args=(X,), rounds=3, iterations=1)
    assert model.n_iter_ == 1
