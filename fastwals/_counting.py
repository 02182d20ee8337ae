"""Stable counting sorts on several threads: each thread counts its run of the
input per bucket, each thread's first slot in every bucket follows from all the
counts, then each thread writes its run in place. Runs are in input order, so
ties keep their input order, as one thread writing everything would. The part
kernels (reorder.transpose_part, coo.group_by_item_part, coo.group_by_user_part)
take (th, scatter, ..., bounds, fill, ...) and run once to count, once to write.
"""

import numba
import numpy as np

from ._threads import run_kernel

# elements per thread below which fewer threads sort (a thread's start and its
# counts per bucket cost about as much as sorting this many)
MIN_PER_THREAD = 1 << 16


def threads_for(n, n_threads=None):
    """Threads for sorting n elements: n_threads (None: Numba's count), fewer for
    small inputs."""
    return max(1, min(n_threads or numba.get_num_threads(), n // MIN_PER_THREAD))


def runs(total, n_threads, ends=None):
    """Bounds (n_threads + 1, int64) of runs of about total / n_threads work each:
    of the elements themselves, or with `ends` (each element's cumulative work,
    the last being total) of elements of unequal work."""
    cuts = np.arange(1, n_threads) * (total / n_threads)
    inner = cuts.astype(np.int64) if ends is None else np.searchsorted(ends, cuts)
    return np.concatenate(([0], inner, [total if ends is None else ends.size])).astype(np.int64)


def sort(kernel, n_buckets, inputs, make_outputs, total, ends=None, n_threads=None):
    """kernel(th, scatter, *inputs, bounds, fill, *outputs) on threads_for(total,
    n_threads) threads, each over a run of about equal work (runs(total, ., ends)):
    the counting pass (fill: threads × buckets, zero; the outputs empty), then
    the writing pass from each thread's first slots into make_outputs(n), n the
    number of elements counted. Returns (bucket pointers, n_buckets + 1 int64;
    the outputs)."""
    threads = threads_for(total, n_threads)
    bounds = runs(total, threads, ends)
    fill = np.zeros((threads, n_buckets), np.int64)
    run_kernel(kernel, threads, False, *inputs, bounds, fill, *make_outputs(0))
    ptr = np.zeros(n_buckets + 1, np.int64)
    np.cumsum(fill.sum(axis=0), out=ptr[1:])
    fill[:] = np.cumsum(fill, axis=0) - fill + ptr[:-1]
    outputs = make_outputs(int(ptr[-1]))
    run_kernel(kernel, threads, True, *inputs, bounds, fill, *outputs)
    return ptr, outputs
