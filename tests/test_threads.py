"""Threads, fork and process-wide state: every public method called from several
threads at once on every Numba threading layer, a fork-start Pool after a fit,
BLAS and Numba thread counts restored, serving while the same model refits.

A threading layer is chosen once per process, so each layer runs in a
subprocess (this file is its script: `python test_threads.py concurrent|fork`).
Threads meet on events, never on sleeps; every wait has a timeout.
"""

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import threading

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_info, threadpool_limits

from fastwals import WALS
from fastwals._threads import compute_threads

HERE = os.path.dirname(os.path.abspath(__file__))
WAIT = 120          # seconds any event or result may take before the test fails
SUBPROCESS = 600    # a cold Numba cache compiles every kernel first
BLAS_THREADS = 3    # a BLAS limit other than the cap's 1, to see it restored


def ratings(seed=0, n_users=120, n_items=90):
    rng = np.random.default_rng(seed)
    X = sp.random(n_users, n_items, density=0.08, random_state=rng, format="csr")
    X.data = np.ceil(X.data * 5)
    return sp.csr_array(X)


def fitted(X, seed=0, **params):
    return WALS(6, iterations=3, random_state=seed, regularization=0.1, **params).fit(X)


def operations(model, X):
    """name -> call returning arrays: every kind of computation the model offers."""
    return {
        "fit": lambda: _factors(fitted(X, seed=1)),
        "recommend": lambda: model.recommend(np.arange(25), X[:25], N=7),
        "recommend_all": lambda: model.recommend_all(5, X),
        "transform": lambda: (model.transform(X[:30]),),
        "similar_items": lambda: model.similar_items(np.arange(12), 4),
    }


def _factors(model):
    return model.user_factors_, model.item_factors_


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def in_threads(targets):
    """Run each callable in its own thread; re-raise the first exception."""
    errors = []

    def run(target):
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive(), "a thread did not finish"
    if errors:
        raise errors[0]


def wait(event):
    assert event.wait(WAIT), "timed out waiting for another thread"


def blas_threads():
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def process_state():
    """What a computation must leave as it found: this thread's Numba thread count
    and every BLAS library's thread limit."""
    blas = sorted((i["filepath"], i["num_threads"]) for i in threadpool_info()
                  if i["user_api"] == "blas")
    return numba.get_num_threads(), blas


def overlapping_fits(X):
    """Two computations (each a fit inside compute_threads, the entry of every
    computation) that overlap in a fixed order, A with n_threads=1: A enters,
    B enters, A leaves, B leaves. Returns the Numba thread counts seen inside A,
    inside B and in this thread while both were inside, and the BLAS thread
    counts seen inside A and inside B."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with compute_threads(1):
            fitted(X, n_threads=1)
            seen["a"], seen["blas a"] = numba.get_num_threads(), blas_threads()
            a_in.set()
            wait(b_in)

    def b():
        wait(a_in)
        with compute_threads(None):
            fitted(X)
            seen["b"], seen["blas b"] = numba.get_num_threads(), blas_threads()
            b_in.set()
            wait(a_out)

    def main():
        wait(b_in)
        seen["main"] = numba.get_num_threads()

    thread_b = threading.Thread(target=in_threads, args=([b],))
    thread_b.start()
    in_threads([a, main])
    a_out.set()
    thread_b.join(WAIT)
    return seen["a"], seen["b"], seen["main"], seen["blas a"], seen["blas b"]


# ---------------------------------------------------------------- subprocess scripts

def concurrent_script():
    """Sequential answers first, then the same calls from 4 threads at once (each
    call twice); all must be bit-identical, and the process state as before."""
    threadpool_limits(limits=BLAS_THREADS, user_api="blas")
    X = ratings()
    model = fitted(X)
    ops = operations(model, X)
    expected = {name: op() for name, op in ops.items()}
    before = process_state()
    if numba.threading_layer() != "workqueue":  # there one computation runs at a time
        assert overlapping_fits(X) == (1, before[0], before[0], {1}, {1})
        assert process_state() == before, (process_state(), before)
    results = []

    def worker(order):
        for name in order * 2:
            results.append((name, ops[name]()))

    names = list(ops)
    in_threads([lambda k=k: worker(names[k:] + names[:k]) for k in range(4)])
    for name, got in results:
        assert same(got, expected[name]), f"{name} differs from its sequential result"
    assert len(results) == 4 * 2 * len(ops)
    assert process_state() == before, (process_state(), before)
    print("layer", numba.threading_layer())


def _child_work(seed):
    X = ratings()
    model = fitted(X, seed=seed)
    return _factors(model) + model.recommend(np.arange(10), X[:10], N=5)


def fork_script():
    """A fork-start Pool created after the parent fitted and recommended, while
    another thread of the parent is inside a computation (holding, under
    workqueue, the layer's lock); its children fit and recommend. Prints what
    they returned or raised."""
    import multiprocessing

    expected = _child_work(0)
    inside, release = threading.Event(), threading.Event()

    def hold():
        with compute_threads():
            inside.set()
            wait(release)

    holder = threading.Thread(target=hold)
    holder.start()
    wait(inside)
    try:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            try:
                got = pool.map_async(_child_work, [0, 0, 0]).get(timeout=WAIT)
            except RuntimeError as exc:
                print("child raised:", exc)
                return
    finally:
        release.set()
        holder.join(WAIT)
    assert all(same(g, expected) for g in got), "a child's results differ from the parent's"
    print("children ok, layer", numba.threading_layer())


def run_script(name, layer):
    env = dict(os.environ, NUMBA_NUM_THREADS="3")
    env.pop("NUMBA_THREADING_LAYER", None)
    if layer != "default":
        env["NUMBA_THREADING_LAYER"] = layer
    env["PYTHONPATH"] = os.pathsep.join([HERE] + env.get("PYTHONPATH", "").split(os.pathsep))
    return subprocess.run([sys.executable, os.path.join(HERE, "test_threads.py"), name],
                          env=env, capture_output=True, text=True, timeout=SUBPROCESS)


def available(layer):
    if layer == "tbb":  # the wheel; fastwals makes its library loadable
        try:
            return importlib.metadata.distribution("tbb") is not None
        except importlib.metadata.PackageNotFoundError:
            return False
    if layer == "omp":
        return importlib.util.find_spec("numba.np.ufunc.omppool") is not None
    return True


LAYERS = [pytest.param(name, marks=pytest.mark.skipif(not available(name),
                                                      reason=f"Numba's {name} layer is absent"))
          for name in ("workqueue", "omp", "tbb")]


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("layer", LAYERS)
def test_every_method_from_many_threads_matches_sequential_calls(layer):
    out = run_script("concurrent", layer)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"layer {layer}" in out.stdout


@pytest.mark.parametrize("layer", ["default", *LAYERS])
def test_fork_pool_after_a_fit_works_in_the_children(layer):
    out = run_script("fork", layer)
    assert out.returncode == 0, out.stdout + out.stderr
    if layer == "omp":  # GNU OpenMP cannot run after fork(): an error, not a kill or a hang
        assert "child raised:" in out.stdout and "'spawn'" in out.stdout, out.stdout
    else:
        assert "children ok" in out.stdout, out.stdout + out.stderr
    if layer == "default" and available("tbb"):
        assert "layer tbb" in out.stdout


def test_process_state_is_restored_after_overlapping_calls():
    X = ratings()
    fitted(X)  # compiled and cached
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        before = process_state()
        if numba.threading_layer() == "workqueue":
            # one computation at a time: calls wait for each other, state is still restored
            in_threads([lambda n=n: fitted(X, n_threads=n) for n in (1, None, 1, None)])
        else:
            # Numba's count is each thread's own; BLAS is capped while either runs
            assert overlapping_fits(X) == (1, before[0], before[0], {1}, {1})
        assert process_state() == before


def test_serving_while_the_same_model_refits_answers_old_or_new():
    X, X_new = ratings(0), ratings(5)
    model = fitted(X)
    reader_ops = {name: op for name, op in operations(model, X).items() if name != "fit"}
    old = {name: op() for name, op in reader_ops.items()}
    new_model = fitted(X_new, seed=3)
    new = {name: op() for name, op in operations(new_model, X).items() if name != "fit"}

    # the refit stops after its first iteration until every reader has answered
    # once: its factors are then neither the old model's nor the new one's
    paused, answered = threading.Event(), [threading.Event() for _ in range(3)]

    def pause(iteration, seconds, loss):
        if iteration == 0:
            paused.set()
            for event in answered:
                wait(event)

    mixed = []

    def reader(k):
        wait(paused)
        for round_ in range(3):
            for name, op in reader_ops.items():
                got = op()
                if not (same(got, old[name]) or same(got, new[name])):
                    mixed.append(name)
            answered[k].set()

    refit = threading.Thread(
        target=lambda: model.set_params(random_state=3, callback=pause).fit(X_new))
    refit.start()
    in_threads([lambda k=k: reader(k) for k in range(3)])
    refit.join(WAIT)
    assert not mixed, f"answers of neither model: {mixed}"
    assert same(_factors(model), _factors(new_model))


def test_fitted_factors_stay_readable_settable_and_picklable():
    import pickle

    model = fitted(ratings())
    U, Y = _factors(model)
    state = model.__getstate__()
    assert state["user_factors_"] is U and state["item_factors_"] is Y
    copy = pickle.loads(pickle.dumps(model))
    assert same(_factors(copy), (U, Y))
    copy.user_factors_ = U[:10]
    assert copy.user_factors_.shape == (10, U.shape[1]) and copy.item_factors_ is not Y
    assert model.user_factors_ is U
    del copy.user_factors_
    assert not hasattr(copy, "user_factors_") and hasattr(copy, "item_factors_")
    with pytest.raises(ValueError, match="recommend needs a fitted model"):
        copy.recommend(0)


if __name__ == "__main__":
    {"concurrent": concurrent_script, "fork": fork_script}[sys.argv[1]]()


def test_run_kernel_runs_each_share_once_at_once_and_raises_their_errors():
    from fastwals._threads import run_kernel

    seen = []
    barrier = threading.Barrier(3, timeout=30)  # passes only if all three run at once

    def share(th, out):
        barrier.wait()
        seen.append((th, threading.get_ident()))
        out[th] = th + 1

    out = np.zeros(3)
    run_kernel(share, 3, out)
    assert sorted(th for th, _ in seen) == [0, 1, 2] and out.tolist() == [1, 2, 3]
    assert dict(seen)[0] == threading.get_ident()  # share 0 in the calling thread

    def fails(th):
        if th == 1:
            raise ValueError("share 1 failed")

    with pytest.raises(ValueError, match="share 1 failed"):
        run_kernel(fails, 2)


def test_run_kernel_in_a_forked_child_starts_its_own_helpers():
    # the parent's helper threads do not exist in a forked child: a pool carried
    # over would queue the child's shares for ever
    from fastwals._threads import run_kernel
    out = np.zeros(2)
    run_kernel(lambda th, o: o.__setitem__(th, th + 1), 2, out)  # the parent's helper starts
    assert out.tolist() == [1, 2]
    pid = os.fork()
    if pid == 0:  # child: exit status 0 only if the shares ran
        try:
            done = np.zeros(2)
            t = threading.Thread(target=run_kernel,
                                 args=(lambda th, o: o.__setitem__(th, th + 1), 2, done))
            t.start()
            t.join(30)
            os._exit(0 if not t.is_alive() and done.tolist() == [1, 2] else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
