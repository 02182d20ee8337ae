"""The driver's side of a half-sweep: one eigenbasis for the whole Gramian,
the other side's factors sent to the blocks (whole, or only the rows each
block uses), and the solve of every block on its worker.

Solving the rows of side A given side B's factors Y (in blocks Y_c), as one
graph of tasks that the driver submits without waiting:

1. each worker computes its blocks' Y_cᵀY_c (k × k; Y_cᵀ B_c Y_c with the
   unobserved weights b of those rows); one task sums them in block order and
   diagonalises the sum: Q, w0·Λ (the basis);
2. meanwhile each worker holding A blocks receives the rows of Y they use
   (all of Y, or only those rows), so the transfer overlaps the basis: a
   small task placed on that worker reads them; it is not in the solves'
   lineage (a task naming a worker could not be recomputed elsewhere once
   every worker has died, see _cluster), and is dropped after the iteration;
3. each A block rotates the rows it received to Q and solves its rows with the
   estimator's own kernels in that basis (_problem.solve_in_basis).

The single-machine half-sweep also rotates Y to Q, in place. Here Y's blocks
stay as they are, with Q recorded as their pending rotation: whoever reads
them next applies it (the iterative solvers' warm start, the outputs), and
the next half-sweep, which solves B given A, replaces them anyway. A side's
factors are thus (stored blocks, pending rotation or None), and the side
whose Gramian is taken never has a rotation pending: it was just solved.

Every block of A uses the same Q, so the result is the single-machine
half-sweep's, up to the order of floating-point sums in the Gramian.
"""

import numpy as np

from . import _blocks, _cluster

EXCHANGES = ("auto", "broadcast", "needed")
# the other side's factors up to this size are sent whole to every block ...
BROADCAST_BYTES = 8 << 20
# ... and beyond it too, unless the blocks need less than this share of its rows
NEEDED_SHARE = 0.5
# at most this many pieces of rows per half-sweep moved early (beyond it the
# solves fetch what they need when they start)
PREFETCH_TASKS = 256
# Dask priorities (higher first): the basis is on every block's critical path
BASIS, EXCHANGE, SOLVE = 3, 2, 1


class Sweeps:
    """Half-sweeps and objective terms over the blocks of `data`."""

    def __init__(self, client, data, kp, exchange, timeout):
        self.client = client
        self.data = data
        self.kp = kp
        self.k = kp["factors"]
        self.dtype = np.dtype(kp["dtype"])
        self.timeout = timeout  # the fit's worker_timeout (see _cluster)
        self.mode = {name: choose_exchange(exchange, data, name, self.k, self.dtype.itemsize)
                     for name in ("user", "item")}
        self._wanted = {}
        self._prefetching = []  # the prefetch tasks of the iteration (see _prefetch)

    def half_sweep(self, name, X, pending, Y):
        """Solve the `name` side's blocks (stored factors X with their pending
        rotation; unused by the exact solver) given the other side's stored
        blocks Y (no rotation pending). Returns (new X, Y's pending rotation:
        the basis future, or None when w0 = 0 leaves nothing to rotate)."""
        c, kp = self.client, self.kp
        w0 = kp["unobserved_weight"]
        basis = None
        if w0 > 0:
            other = "item" if name == "user" else "user"
            weights, bounds = self._unobserved(other), self.data.bounds[other]
            grams = [c.submit(_blocks.gram, f, w0, kp["n_threads"], weights, int(bounds[j]),
                              pure=False, priority=BASIS) for j, f in enumerate(Y)]
            basis = c.submit(_blocks.basis, w0, kp["dtype"], *grams, pure=False,
                             priority=BASIS)
        iterative = kp["solver"] != "cholesky"
        parts, whole = self._exchange(name, Y)
        X_new = [c.submit(_blocks.solve, block, X[b] if iterative else None,
                          pending if iterative else None, basis, kp, whole, *parts[b],
                          pure=False, priority=SOLVE)
                 for b, block in enumerate(self.data.blocks[name])]
        return X_new, basis

    def objective(self, X, pending_X, Y):
        """The full objective (float64) of the user factors (stored blocks X with
        a pending rotation) and item factors Y (none pending); sends the item
        factors to the user blocks once more."""
        c, kp = self.client, self.kp
        parts, whole = self._exchange("user", Y)
        terms = [c.submit(_blocks.observed_loss, block, X[b], pending_X, kp, whole, *parts[b],
                          pure=False)
                 for b, block in enumerate(self.data.blocks["user"])]
        terms += [c.submit(_blocks.regularization_term, block, Y[j], kp, pure=False)
                  for j, block in enumerate(self.data.blocks["item"])]
        total = float(sum(_cluster.gather(c, terms, self.timeout)))
        w0 = kp["unobserved_weight"]
        if w0:
            grams = [_cluster.gather(c, [c.submit(_blocks.gram64, f, pend, kp["n_threads"],
                                                  self._unobserved(side),
                                                  int(self.data.bounds[side][j]), pure=False)
                                         for j, f in enumerate(F)], self.timeout)
                     for F, pend, side in ((X, pending_X, "user"), (Y, None, "item"))]
            total += w0 * float(np.sum(sum(grams[0]) * sum(grams[1])))
        return total

    def _unobserved(self, side):
        """The future of the side's unobserved weights as the kernels take them (None:
        all ones)."""
        futures = self.data.unobserved_futures
        return None if futures is None else futures[side]

    def _exchange(self, name, Y):
        """(per block of `name`, the futures of the other side's rows it uses;
        whole): all of Y's blocks (whole=True), or pieces of only the rows it
        uses. When there are few enough, they are prefetched where the blocks
        are, while the basis is computed."""
        c = self.client
        blocks = self.data.blocks[name]
        where = _workers(c, blocks)
        if self.mode[name] == "broadcast":
            if len(set(where)) * len(Y) <= PREFETCH_TASKS:
                for w in set(where):
                    self._prefetch(Y, w)
            return [Y] * len(blocks), True
        info = self.data.info[name]
        early = sum(int(np.count_nonzero(d["needs"])) for d in info) <= PREFETCH_TASKS
        parts = []
        for b, block in enumerate(blocks):
            needs = info[b]["needs"]
            pieces = []
            for j, f in enumerate(Y):
                if needs[j] == 0:
                    continue
                key = (name, b, j)
                if key not in self._wanted:  # the positions, computed once where the block is
                    self._wanted[key] = c.submit(_blocks.wanted, block, j, pure=False)
                pieces.append(c.submit(_blocks.take, f, self._wanted[key], pure=False,
                                       priority=EXCHANGE))
            if early:
                self._prefetch(pieces, where[b])
            parts.append(pieces)
        return parts, False

    def _prefetch(self, futures, worker):
        """Have `worker` fetch `futures` now: a task there that reads them (and
        returns nothing), held until `settled`; the solves, on the same worker,
        then find them there. Not a dependency of anything."""
        if worker is not None and futures:
            self._prefetching.append(self.client.submit(
                _blocks.touch, *futures, pure=False, priority=EXCHANGE, workers=[worker],
                allow_other_workers=True))

    def settled(self):
        """The iteration's results are in: drop its prefetch tasks."""
        self._prefetching = []


def _workers(client, futures):
    """The worker holding each future (None when none does right now)."""
    who = client.who_has(futures)
    return [next(iter(who.get(f.key, ())), None) for f in futures]


def exchange_rows(data, name):
    """(rows sent if every block gets the other side whole, rows if each gets
    only the rows it uses), counted as if every block were on its own worker."""
    n_other = data.n_rows("item" if name == "user" else "user")
    blocks = len(data.blocks[name])
    needed = int(sum(int(np.sum(d["needs"])) for d in data.info[name]))
    return blocks * n_other, needed


def choose_exchange(exchange, data, name, k, itemsize):
    """"broadcast" or "needed" for solving the `name` side's rows."""
    if exchange != "auto":
        return exchange
    n_other = data.n_rows("item" if name == "user" else "user")
    whole, needed = exchange_rows(data, name)
    if n_other * k * itemsize <= BROADCAST_BYTES or needed > NEEDED_SHARE * whole:
        return "broadcast"
    return "needed"
