"""The WALS estimator: hyperparameters, the alternating fit loop, fitted state."""

import inspect
import time

import numpy as np

from . import _problem, persistence
from ._threads import compute_threads
from ._validation import as_csr, check_nonnegative, check_params, check_random_state, \
    check_weights


class WALS:
    """Weighted Alternating Least Squares for implicit or explicit feedback.

    Minimises, over user factors x_u and item factors y_i (``factors`` each)::

        Σ_obs w_ui (t_ui − x_u·y_i)² + w0 Σ_unobs (x_u·y_i)² + Σ_u λ_u‖x_u‖² + Σ_i λ_i‖y_i‖²

    with w0 = ``unobserved_weight``, w_ui = w0 + alpha·f(r_ui)·ρ_u·κ_i
    (f from ``confidence``: "linear" r, "log" log(1 + r/epsilon), "constant" 1;
    ρ, κ = ``row_weights``, ``col_weights``), t_ui = 1 for ``feedback="implicit"``
    or r_ui for ``"explicit"``, and λ_u = regularization·(n_u + w0·n_items)^reg_exponent.

    ``solver``: "cholesky" solves each row exactly; "cg" takes ``cg_steps``
    conjugate-gradient steps per row from the current factors; "subspace" is
    iALS++ (Rendle et al. 2021), exact solves on blocks of ``block_size``
    dimensions at a time (block_size >= factors is the exact solver).

    Parameters are stored unchanged and validated by :meth:`fit`. After fitting:
    ``user_factors_`` (users × factors), ``item_factors_`` (items × factors),
    ``n_iter_`` and ``loss_history_`` (one objective value per iteration when
    ``calculate_loss``, else empty).

    ``callback(iteration, seconds, loss)`` is called after every iteration
    (``loss`` is None unless ``calculate_loss``); the current factors are
    readable from the model while it runs, and returning True stops the fit.
    """

    def __init__(self, factors=64, *, iterations=15, regularization=0.01, alpha=1.0,
                 unobserved_weight=1.0, confidence="linear", epsilon=1.0, feedback="implicit",
                 reg_exponent=0.0, row_weights=None, col_weights=None, solver="cholesky",
                 cg_steps=3, block_size=32, dtype=np.float32, random_state=None, n_threads=None,
                 calculate_loss=False, show_progress=False, callback=None):
        self.factors = factors
        self.iterations = iterations
        self.regularization = regularization
        self.alpha = alpha
        self.unobserved_weight = unobserved_weight
        self.confidence = confidence
        self.epsilon = epsilon
        self.feedback = feedback
        self.reg_exponent = reg_exponent
        self.row_weights = row_weights
        self.col_weights = col_weights
        self.solver = solver
        self.cg_steps = cg_steps
        self.block_size = block_size
        self.dtype = dtype
        self.random_state = random_state
        self.n_threads = n_threads
        self.calculate_loss = calculate_loss
        self.show_progress = show_progress
        self.callback = callback

    # ------------------------------------------------------------ scikit-learn protocol

    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"set_params: unknown parameter {name!r}; valid parameters "
                                 f"are {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        signature = inspect.signature(type(self).__init__)
        defaults = {n: p.default for n, p in signature.parameters.items()}
        changed = []
        for name, value in self.get_params().items():
            default = defaults[name]
            same = value is default or (not isinstance(value, np.ndarray) and value == default)
            if not same:
                shown = "<array>" if isinstance(value, np.ndarray) else repr(value)
                changed.append(f"{name}={shown}")
        return f"{type(self).__name__}({', '.join(changed)})"

    # ------------------------------------------------------------ fitting

    def fit(self, X, *, shape=None, warm_start=False):
        """Fit to X, users × items: a scipy.sparse matrix or array, a dense 2-D
        array, or a ``(rows, cols, values)`` triplet (with ``shape=``, else
        inferred). Duplicates are summed; entries equal to zero count as
        unobserved. X is never modified.

        ``warm_start=True`` continues from the current factors (the model must
        already be fitted on a matrix of the same shape and with the same
        ``factors`` and ``dtype``); ``n_iter_`` and ``loss_history_`` then
        accumulate. Returns self.
        """
        p = check_params(self.get_params())
        dtype = p["dtype"]
        csr = as_csr(X, shape=shape, dtype=dtype)
        if p["confidence"] in ("linear", "log"):
            check_nonnegative(csr, p["confidence"])
        n_users, n_items = csr.shape
        rw = check_weights("row_weights", p["row_weights"], n_users, "user (row of X)", dtype)
        cw = check_weights("col_weights", p["col_weights"], n_items, "item (column of X)", dtype)
        problem = _problem.build(csr, p, rw, cw)

        k = p["factors"]
        if warm_start:
            X_f, Y_f = self._warm_factors(n_users, n_items, k, dtype)
            history = list(self.loss_history_)  # a new list: the old one stays intact
            done = self.n_iter_
        else:
            rng = check_random_state(p["random_state"])
            # small random start (the exact solver's first half-sweep uses only Y;
            # CG and subspace also start from X)
            X_f = _small_normal(rng, (n_users, k), dtype)
            Y_f = _small_normal(rng, (n_items, k), dtype)
            history, done = [], 0

        fitted = ("user_factors_", "item_factors_", "n_iter_", "loss_history_")
        previous = {name: self.__dict__[name] for name in fitted if name in self.__dict__}
        progress = _progress(p["iterations"], p["show_progress"])
        self.user_factors_, self.item_factors_ = X_f, Y_f
        self.n_iter_, self.loss_history_ = done, history
        try:
            with compute_threads(p["n_threads"]):
                for it in range(p["iterations"]):
                    start = time.perf_counter()
                    _problem.half_sweep(problem, problem.users, Y_f, X_f)
                    _problem.half_sweep(problem, problem.items, X_f, Y_f)
                    loss = _problem.objective(problem, X_f, Y_f) if p["calculate_loss"] else None
                    seconds = time.perf_counter() - start
                    self.n_iter_ += 1
                    if loss is not None:
                        history.append(loss)
                    if progress is not None:
                        progress.update(1)
                        if loss is not None:
                            progress.set_postfix(loss=f"{loss:.6g}")
                    if p["callback"] is not None and p["callback"](it, seconds, loss) is True:
                        break
        except BaseException:
            # half-updated factors are not a model: put back what was there before
            for name in fitted:
                self.__dict__.pop(name, None)
            self.__dict__.update(previous)
            raise
        finally:
            if progress is not None:
                progress.close()
        return self

    # ------------------------------------------------------------ persistence

    def save(self, path):
        """Write the model (hyperparameters and fitted state) to `path` as a
        versioned .npz archive, atomically: a temporary file, then a rename."""
        persistence.save(self, path)

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`. A missing, truncated, corrupt,
        foreign or newer-version file raises an error naming the file."""
        return persistence.load(cls, path)

    def _warm_factors(self, n_users, n_items, k, dtype):
        if not hasattr(self, "user_factors_"):
            raise ValueError("warm_start=True needs a fitted model; call fit(X) first")
        X_f, Y_f = self.user_factors_, self.item_factors_
        if X_f.shape != (n_users, k) or Y_f.shape != (n_items, k) or X_f.dtype != dtype:
            raise ValueError(
                f"warm_start=True: the fitted factors are users {X_f.shape}, items {Y_f.shape}, "
                f"{X_f.dtype}; expected ({n_users}, {k}), ({n_items}, {k}), {dtype}. "
                f"Refit with warm_start=False")
        # copies, so that a failed warm fit leaves the previous model intact
        return X_f.copy(), Y_f.copy()


def _small_normal(rng, shape, dtype):
    """N(0, 0.01²) draws, the same values for float32 and float64 (drawn in float64),
    a block of rows at a time so that no float64 copy of a whole factor matrix is held."""
    out = np.empty(shape, dtype=dtype)
    for start in range(0, shape[0], 4096):
        block = out[start:start + 4096]
        draw = rng.standard_normal(block.shape)
        draw *= 0.01
        block[...] = draw
    return out


def _progress(total, show):
    if not show:
        return None
    from tqdm import tqdm  # writes to stderr
    return tqdm(total=total, desc="fastwals", unit="it", leave=False)
