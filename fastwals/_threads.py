"""Thread settings for a computation: Numba's pool sized as asked, BLAS at one thread.

The kernels call BLAS/LAPACK once per row from inside their parallel loops; a
multi-threaded BLAS would then start threads of its own in every call
(oversubscription: measured 2.5x slower here), so it is capped at one thread
for the duration and restored afterwards.
"""

from contextlib import contextmanager

import numba
from threadpoolctl import ThreadpoolController

_controller = None


def _blas():
    global _controller
    if _controller is None:  # scanning the loaded libraries costs a millisecond: once
        _controller = ThreadpoolController()
    return _controller


@contextmanager
def compute_threads(n_threads=None):
    """Run with n_threads Numba threads (None: leave as is) and single-threaded BLAS."""
    previous = numba.get_num_threads()
    if n_threads is not None:
        numba.set_num_threads(n_threads)
    try:
        with _blas().limit(limits=1, user_api="blas"):
            yield
    finally:
        numba.set_num_threads(previous)

