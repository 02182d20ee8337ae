"""The driver's waits for the workers: bounded when the cluster has none.

When workers die, Dask recomputes what they held from its lineage on the
workers that remain or join; when none remains, its tasks wait, without error
and for ever, for one to join. Every wait of the driver therefore watches the
cluster: once it has had no worker for `timeout` seconds in a row, the wait
raises (a worker joining restarts the clock).

Recovery needs tasks that any worker may run: Dask never gives a task that is
waiting for a worker and names one (``workers=``, even with
``allow_other_workers``) to a worker that joins at another address, as a
restarted one does. So no task of a fit's lineage names a worker; the few
that do (_sweep's prefetches) are outside it.
"""

import time

# how often a wait asks the scheduler whether the cluster still has workers
POLL_SECONDS = 0.5


def worker_count(client):
    """The number of workers the scheduler has now.

    Asked of the scheduler directly: ``client.scheduler_info()["workers"]`` may
    be empty with workers present, when the client's periodic refresh (which
    fetches no per-worker entries) lands between its fetch and its return.
    """
    return len(client.nthreads())


def wait(client, futures, timeout, doing="fitting"):
    """Wait for `futures` without fetching them; raise a task's error here, and
    TimeoutError once the cluster has had no worker for `timeout` seconds."""
    from distributed import wait as dask_wait
    futures = list(futures)
    alone_since = None
    while True:
        try:
            dask_wait(futures, timeout=min(POLL_SECONDS, timeout))
            break
        except TimeoutError:
            pass
        if worker_count(client):
            alone_since = None
        elif alone_since is None:
            alone_since = time.monotonic()
        elif time.monotonic() - alone_since >= timeout:
            raise TimeoutError(
                f"the Dask cluster has had no workers for {timeout:g} s "
                f"(worker_timeout={timeout:g}) while {doing}: start workers (the work "
                f"continues where it was if one joins within worker_timeout) or raise "
                f"worker_timeout") from None
    for f in futures:
        if f.status != "finished":
            f.result()  # raises the worker's exception (or the cancellation)


def gather(client, futures, timeout, doing="fitting"):
    """The results of `futures` (a list), waiting as `wait` does."""
    futures = list(futures)
    wait(client, futures, timeout, doing)
    return client.gather(futures)
