"""The threading-layer policy: which Numba layer runs the kernels, and what keeps
each one safe under Python threads and fork().

Numba picks one layer per process, when its thread pool starts (the first
parallel call): NUMBA_THREADING_LAYER / numba.config.THREADING_LAYER if set,
else the first that loads of tbb, omp, workqueue. They differ (Numba 0.68):

    tbb        thread-safe and fork-safe.
    omp        thread-safe; with GNU OpenMP (Linux) not fork-safe: a child forked
               after the pool started is killed by Numba (SIGTERM) at its first
               parallel region, and a multiprocessing Pool then hangs.
    workqueue  fork-safe; not thread-safe: two threads in parallel regions at once
               abort the process.

So, when fastwals is imported before Numba's pool starts and the user has not
chosen a layer (`configure`):
  * tbb is made loadable: the `tbb` wheel (a dependency where one exists) puts
    libtbb.so.12 in <prefix>/lib, which the dynamic loader does not search; it is
    loaded here by path, so that Numba's own dlopen("libtbb.so.12") finds it;
  * on Linux the order becomes tbb, workqueue, omp: fork-safe layers first
    (elsewhere OpenMP is fork-safe and Numba's order stays).
Whatever the layer, every computation runs inside `guard()`: under workqueue
one at a time per process (a lock); in a child forked from a process whose GNU
OpenMP pool had started, a RuntimeError that names the fixes instead of the kill.
"""

import ctypes
import os
import sys
import threading
from contextlib import contextmanager

import numba
from numba.np.ufunc import parallel as _parallel

SAFE_ORDER = ["tbb", "workqueue", "omp"]
NUMBA_ORDER = ["tbb", "omp", "workqueue"]  # Numba's default
TBB_SONAME = "libtbb.so.12"  # the name Numba loads (Linux)

_exclusive = threading.RLock()  # workqueue: one computation at a time (re-entrant: nested)
_layer = None                   # the running layer's name, once the pool has started
_omp_forked = False             # a fork() happened after a GNU OpenMP pool started


def configure():
    """Apply the policy (see the module docstring) if Numba's pool has not started
    and the user chose nothing; returns the path of the libtbb loaded, or None."""
    if _parallel._is_initialized:
        return None
    config = numba.config
    user_layer = str(config.THREADING_LAYER).lower()
    user_order = ("NUMBA_THREADING_LAYER_PRIORITY" in os.environ
                  or list(config.THREADING_LAYER_PRIORITY) not in (NUMBA_ORDER, SAFE_ORDER))
    loaded = None
    if user_layer not in ("omp", "workqueue"):  # tbb may be chosen: make it loadable
        loaded = _load_tbb()
    if user_layer == "default" and not user_order and sys.platform.startswith("linux"):
        config.THREADING_LAYER_PRIORITY = list(SAFE_ORDER)  # GNU OpenMP is the unsafe one
    return loaded


def _load_tbb():
    """Load the libtbb of the `tbb` wheel by path (Linux); None when absent."""
    if not sys.platform.startswith("linux"):
        return None
    for path in _tbb_candidates():
        try:
            ctypes.CDLL(path)
            return path
        except OSError:  # wrong architecture, damaged: Numba falls back by itself
            continue
    return None


def _tbb_candidates():
    # the wheel's data files land in <prefix>/lib (a venv, a plain install), or
    # elsewhere for a --user install: ask its metadata only then (a few ms)
    path = os.path.join(sys.prefix, "lib", TBB_SONAME)
    if os.path.exists(path):
        yield path
        return
    from importlib import metadata
    try:
        dist = metadata.distribution("tbb")
    except metadata.PackageNotFoundError:
        return
    for file in dist.files or ():
        if file.name == TBB_SONAME:
            located = str(dist.locate_file(file))
            if os.path.exists(located):
                yield located


def layer():
    """The running layer's name ("tbb", "omp" or "workqueue"); starts Numba's pool
    (under the policy) if it has not started."""
    global _layer
    if _layer is None:
        configure()  # again: numba.config may have been reloaded since import
        _parallel._launch_threads()
        _layer = numba.threading_layer()
    return _layer


@contextmanager
def guard():
    """Around every computation that enters Numba's parallel regions."""
    name = layer()
    if name == "omp" and _omp_forked:
        raise RuntimeError(
            "fastwals cannot run in this process: it was forked from a process whose "
            "Numba GNU OpenMP threading layer had started, which cannot run parallel "
            "code after fork(). Start the workers with multiprocessing's 'spawn' or "
            "'forkserver' method, or run with NUMBA_THREADING_LAYER=tbb (pip install "
            "tbb) or NUMBA_THREADING_LAYER=workqueue, or import fastwals before the "
            "first parallel Numba call so that it can choose a fork-safe layer")
    if name == "workqueue":
        with _exclusive:
            yield
    else:
        yield


def _after_fork_in_child():
    global _exclusive, _omp_forked
    # a lock held by a thread of the parent at fork time would never be released here
    _exclusive = threading.RLock()
    if _parallel._is_initialized and _parallel._threading_layer == "omp":
        from numba.np.ufunc import omppool
        if getattr(omppool, "openmp_vendor", "GNU") == "GNU":
            _omp_forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
