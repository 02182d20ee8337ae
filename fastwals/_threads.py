"""Thread settings for a computation: the layer's guard, Numba's pool sized as
asked, BLAS at one thread. Every computation enters through `compute_threads`.

The kernels call BLAS from each of their threads (per block of rows); a
multi-threaded BLAS would then start threads of its own in every call
(oversubscription: measured 2.5x slower here), so it is capped at one thread
while any computation runs. The cap is process-wide state shared by all threads:
the first computation to start caps it and the last to end restores what it
found (entering and leaving a threadpoolctl limit per call, out of order across
threads, left BLAS at one thread). threadpoolctl (>= 3.6) is used to find the
libraries only: it ignores OpenBLAS limits set from any thread but the first to
set one, and the count of holders here already orders the threads. Numba's
thread count is per thread (thread-local storage in every layer), so each call
sets and restores its own.

Every per-thread step of a half-sweep (the Gramian, the rotation, the row
sweeps) and of top-N serving (the passes of topk.py) is one nogil kernel per
thread, run on Python threads by `run_kernel`, not a Numba parallel loop:
Numba lowers a parallel loop into functions of its own and re-optimises and
re-emits every callee in each (four more copies of a sweep; a first subspace
fit compiled for 29.5 s with them, 11.1 s without). Called from Python, the
sweeps first ran 7-35% slower than inside a parallel loop, which passes its
body the arrays without their reference count: a function called from Python
counts every view it takes (an atomic increment and decrement per row and
step). The kernels now drop the count themselves (_common.borrowed).
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numba
from threadpoolctl import ThreadpoolController

from . import _layer

_controller = None
_state = threading.Lock()  # guards the three below
_holders = {}              # thread id -> computations of that thread holding the cap
_found = None              # [(library, its thread count before the cap)] while capped
_pool = None               # (pid, ThreadPoolExecutor): run_kernel's helper threads
_pool_lock = threading.Lock()


@contextmanager
def compute_threads(n_threads=None):
    """Run with n_threads Numba threads (None: leave as is) and single-threaded BLAS,
    under the threading layer's guard (see _layer)."""
    with _layer.guard():
        previous = numba.get_num_threads()
        _cap_blas()
        try:
            if n_threads is not None:
                numba.set_num_threads(n_threads)
            yield
        finally:
            numba.set_num_threads(previous)
            _release_blas()


def run_kernel(kernel, n_threads, *args):
    """kernel(th, *args) for th in range(n_threads) at once, th = 0 in the calling
    thread and the others on the process's helper threads (the kernel must be
    nogil, or they would take turns). An exception in any is raised here, after
    all have ended. The helpers are kept: starting and joining a thread per
    call cost 140 us here, which a serving call's dozen passes paid each time."""
    futures = [_helpers().submit(kernel, th, *args) for th in range(1, n_threads)]
    error = None
    try:
        kernel(0, *args)
    except BaseException as e:  # re-raised once the others have ended
        error = e
    for f in futures:
        e = f.exception()  # waits
        if error is None:
            error = e
    if error is not None:
        raise error


def _helpers():
    """This process's pool of helper threads (a forked child starts its own:
    threads do not survive fork). Threads start as calls need them, up to a
    bound that only limits many concurrent callers, which then queue."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(max(32, 4 * (os.cpu_count() or 1)),
                                                     thread_name_prefix="fastwals"))
        return _pool[1]


def _cap_blas():
    global _controller, _found
    me = threading.get_ident()
    with _state:
        if not _holders:
            if _controller is None:  # scanning the loaded libraries costs a millisecond: once
                _controller = ThreadpoolController()
            _found = [(lib, lib.num_threads) for lib in _controller.lib_controllers
                      if lib.user_api == "blas"]
            for lib, _ in _found:
                _set_threads(lib, 1)
        _holders[me] = _holders.get(me, 0) + 1


def _release_blas():
    me = threading.get_ident()
    with _state:
        _holders[me] -= 1
        if not _holders[me]:
            del _holders[me]
        _restore_if_unheld()


def _restore_if_unheld():
    global _found
    if not _holders and _found is not None:
        found, _found = _found, None
        for lib, n in found:
            _set_threads(lib, n)


def _set_threads(lib, n):
    # the library itself, past threadpoolctl's one-controlling-thread rule
    getattr(lib, "_real_set_num_threads", lib.set_num_threads)(n)


def _after_fork_in_child():
    global _state
    # only the forking thread lives on: the others' caps end here, and a lock
    # they held at fork time would never be released
    _state = threading.Lock()
    me = threading.get_ident()
    for ident in [i for i in _holders if i != me]:
        del _holders[ident]
    _restore_if_unheld()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
