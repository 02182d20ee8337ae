"""implicit's num_threads as fastwals's n_threads."""

import numba

from .._validation import check_int


def n_threads(num_threads):
    """0 (implicit: every core) is None (fastwals: all of Numba's threads); more
    threads than Numba has are as many as it has (implicit's OpenMP takes any)."""
    n = check_int("num_threads", num_threads, 0)
    return None if n == 0 else min(n, numba.config.NUMBA_NUM_THREADS)
