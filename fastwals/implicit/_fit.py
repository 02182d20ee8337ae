"""implicit's ALS fit, on fastwals's half-sweeps.

As implicit's fit: confidences C = alpha·R in float32; factors drawn
uniform in [0, 0.01) from numpy's default_rng(random_state), users then items,
and only where the model has none (a refit continues from the current
factors); each iteration solves the users, then the items; after each,
callback(iteration, seconds, loss), loss being implicit's normalised training
loss with calculate_training_loss, else None.

fastwals's half-sweeps work in the eigenbasis of the fixed side's Gramian and
leave both sides there. The rotations are accumulated and undone at the end
(and before each callback, which may read the model), so the factors come out
in implicit's basis: the numbers implicit's solver gives, up to rounding.
"""

import logging
import time

import numpy as np
from tqdm.auto import tqdm

from .. import _problem
from .._threads import compute_threads
from .._validation import as_csr
from ._compat import ModelFitError, check_csr, flavoured
from ._loss import Normaliser
from ._rows import confidences

log = logging.getLogger("fastwals.implicit")


def generator(random_state):
    """implicit.utils.check_random_state: numpy's default_rng of it (a Generator
    passes through). implicit means a RandomState to seed one with a draw of
    randint(2**31) (its code misspells the call and fails); that is done here."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    return np.random.default_rng(random_state)


def fit(model, user_items, params, show_progress, callback):
    """Fit `model` (fastwals.implicit's ALS) in place; params: its validated
    fastwals parameters (confidence "total", alpha 1 on the confidences
    computed here, solver, threads)."""
    rng = generator(model.random_state)
    dtype = params["dtype"]
    csr = as_csr(confidences(check_csr(user_items), model.alpha), dtype=np.float32,
                 name="user_items", allow_empty=True)
    if dtype != np.float32:
        csr = csr.astype(dtype)
    n_users, n_items = csr.shape
    k = params["factors"]
    if model.user_factors is None:
        model.user_factors = rng.random((n_users, k), dtype=dtype) * 0.01
    if model.item_factors is None:
        model.item_factors = rng.random((n_items, k), dtype=dtype) * 0.01
    X = model.user_factors = _continued(model.user_factors, (n_users, k), dtype, "user_factors")
    Y = model.item_factors = _continued(model.item_factors, (n_items, k), dtype, "item_factors")

    problem = _problem.build(csr, params, np.ones(n_users, dtype), np.ones(n_items, dtype))
    normalise = Normaliser(csr) if model.calculate_training_loss else None
    basis = _Basis(X, Y)
    loss = None
    threads = params["n_threads"]
    with tqdm(total=params["iterations"], disable=not show_progress) as progress:
        try:
            for iteration in range(params["iterations"]):
                start = time.time()
                # one computation per iteration: the callback runs outside it
                with compute_threads(threads):
                    basis.turn(_problem.half_sweep(problem, problem.users, Y, X))
                    basis.turn(_problem.half_sweep(problem, problem.items, X, Y))
                    if normalise is not None:
                        loss = normalise(_problem.objective(problem, X, Y))
                progress.update(1)
                if loss is not None:
                    progress.set_postfix({"loss": loss})
                    if not show_progress:
                        log.info("loss %.4f", loss)
                callback = callback or model.fit_callback
                if callback:
                    basis.undo(threads)
                    model._changed()
                    callback(iteration, time.time() - start, loss)
        except FloatingPointError as e:
            raise flavoured(ModelFitError, "implicit.recommender_base", "ModelFitError")(
                f"NaN encountered in factors: {e}") from e
        finally:
            basis.undo(threads)
            model._changed()  # the factors changed in place: forget what was derived
    if loss is not None:
        log.info("Final training loss %.4f", loss)


def _continued(F, shape, dtype, name):
    """The model's factors to fit in place: they must fit the matrix (implicit
    would read out of bounds); another dtype or layout is converted."""
    F = np.asarray(F)
    if F.shape != shape:
        raise ValueError(f"{name} has shape {F.shape}, but this matrix needs {shape}: fit "
                         f"continues from the model's factors, as implicit's does. Set "
                         f"model.user_factors = model.item_factors = None to start afresh")
    if F.dtype != dtype or not F.flags.c_contiguous or not F.flags.writeable:
        F = np.array(F, dtype=dtype, order="C")
    return F


class _Basis:
    """The rotation R the half-sweeps have applied to both factor matrices
    (each is F·R, F in the model's basis), undone on request."""

    def __init__(self, X, Y):
        self.X, self.Y = X, Y
        self.R = None

    def turn(self, Q):
        if Q is not None:
            Q = Q.astype(np.float64)
            self.R = Q if self.R is None else self.R @ Q

    def undo(self, threads):
        if self.R is None:
            return
        # the nearest orthogonal matrix (products of float32 rotations drift from
        # orthogonality), so that X·Yᵀ is kept whatever the drift
        u, _, vt = np.linalg.svd(self.R)
        back = np.ascontiguousarray((u @ vt).T)
        with compute_threads(threads):
            _problem.rotate_rows(self.X, back)
            _problem.rotate_rows(self.Y, back)
        self.R = None
