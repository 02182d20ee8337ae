"""The WALS estimator: hyperparameters, the alternating fit loop, fitted state."""

import inspect
import threading
from contextlib import contextmanager
import time

import numpy as np

from . import _problem, foldin, metrics, persistence, serving
from ._threads import compute_threads
from ._validation import as_csr, check_bool, check_ids, check_int, check_n_threads, \
    check_nonnegative, check_params, check_random_state, check_unique, check_weights, \
    unobserved_weights


class WALS:
    """Weighted Alternating Least Squares for implicit or explicit feedback.

    Minimises, over user factors x_u and item factors y_i (``factors`` each)::

        Σ_obs w_ui (t_ui − x_u·y_i)² + w0 Σ_unobs a_u·b_i (x_u·y_i)²
            + Σ_u λ_u‖x_u‖² + Σ_i λ_i‖y_i‖²

    with w0 = ``unobserved_weight``, w_ui = w0·a_u·b_i + alpha·f(r_ui)·ρ_u·κ_i
    (f from ``confidence``: "linear" r, "log" log(1 + r/epsilon), "constant" 1;
    ρ, κ = ``row_weights``, ``col_weights``), t_ui = 1 for ``feedback="implicit"``
    or r_ui for ``"explicit"``, and λ_u = regularization·(n_u + w0·a_u·Σ_i b_i)^reg_exponent
    (n_u + w0·n_items with the default a = b = 1).
    ``confidence="total"`` (implicit feedback only) makes alpha·|r_ui|·ρ_u·κ_i the whole
    observed weight, replacing w0·a_u·b_i rather than added to it (it may be below it),
    with t_ui = 1 for r_ui > 0 and 0 for r_ui < 0: with w0 = 1 this is implicit's ALS
    objective (confidence alpha·r, λ unscaled when reg_exponent = 0).

    Unobserved entries weigh w0·a_u·b_i (eALS, He et al. SIGIR 2016: popular items
    weigh more as negatives): a = ``unobserved_row_weights`` (one per user) and
    b = ``unobserved_col_weights`` (one per item), each None (all ones: the model
    with one weight w0 for every unobserved entry), an array of finite values ≥ 0,
    or "popularity": n^``unobserved_exponent`` for each user's (item's) number n of
    stored entries in X, normalised to mean 1 over the users (items); a negative
    exponent makes the rarest weigh most, rows without entries weigh 0. An observed
    entry's weight replaces its unobserved weight, w − w0·a_u·b_i = alpha·f·ρκ.
    The weights used by the last fit are kept as ``unobserved_row_weights_`` /
    ``unobserved_col_weights_`` (float64, None for all ones) and serve every
    fold-in; rows folded in (``transform``, ``recalculate_*``, new rows of
    ``partial_fit_*``) weigh 1, refreshed rows of ``partial_fit_*`` keep theirs.

    ``solver``: "cholesky" solves each row exactly; "cg" takes ``cg_steps``
    conjugate-gradient steps per row from the current factors; "subspace" is
    iALS++ (Rendle et al. 2021), exact solves on blocks of ``block_size``
    dimensions at a time (block_size >= factors is the exact solver).

    Parameters are stored unchanged and validated by :meth:`fit`. After fitting:
    ``user_factors_`` (users × factors), ``item_factors_`` (items × factors),
    ``n_iter_`` and ``loss_history_`` (one objective value per iteration when
    ``calculate_loss``, else empty).

    ``callback(iteration, seconds, loss)`` is called after every iteration
    (``loss`` is None unless ``calculate_loss``); in the fitting thread the
    current factors are readable from the model while it runs (other threads
    see the previous model until the fit returns), and returning True stops it.

    Threads: every method may be called from many threads at once. Fitting
    (``fit``, ``partial_fit_*``) works on private arrays and publishes the
    factor pair in one assignment when it ends, so that a call served while the
    same model refits answers from the old model or the new one, never a mix;
    concurrent fits of one model run one after the other.
    """

    def __init__(self, factors=64, *, iterations=15, regularization=0.01, alpha=1.0,
                 unobserved_weight=1.0, confidence="linear", epsilon=1.0, feedback="implicit",
                 reg_exponent=0.0, row_weights=None, col_weights=None,
                 unobserved_row_weights=None, unobserved_col_weights=None,
                 unobserved_exponent=0.5, solver="cholesky", cg_steps=3, block_size=16,
                 dtype=np.float32, random_state=None, n_threads=None, calculate_loss=False,
                 show_progress=False, callback=None):
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
        self.unobserved_row_weights = unobserved_row_weights
        self.unobserved_col_weights = unobserved_col_weights
        self.unobserved_exponent = unobserved_exponent
        self.solver = solver
        self.cg_steps = cg_steps
        self.block_size = block_size
        self.dtype = dtype
        self.random_state = random_state
        self.n_threads = n_threads
        self.calculate_loss = calculate_loss
        self.show_progress = show_progress
        self.callback = callback

    # ------------------------------------------------------------ fitted factors

    # The factors are published as one (users, items) pair, replaced whole and
    # never changed in place: a reader that takes the pair once (_fitted_pair)
    # cannot see one side of a model with the other side of the next.

    user_factors_ = property(lambda self: self._side(0, "user_factors_"),
                             lambda self, F: self._set_side(0, F),
                             lambda self: self._set_side(0, None), doc="users × factors")
    item_factors_ = property(lambda self: self._side(1, "item_factors_"),
                             lambda self, F: self._set_side(1, F),
                             lambda self: self._set_side(1, None), doc="items × factors")

    def _pair(self):
        """The published (users, items) pair, (None, None) before any fit; in a
        thread that is fitting, the factors it is working on."""
        working = self.__dict__.get("_working")
        if working is not None and working[0] == threading.get_ident():
            return working[1]
        return self.__dict__.get("_factors", (None, None))

    def _side(self, i, name):
        F = self._pair()[i]
        if F is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return F

    def _set_side(self, i, value):
        with self._write_lock():
            pair = list(self.__dict__.get("_factors", (None, None)))
            pair[i] = value
            if pair[0] is None and pair[1] is None:
                self.__dict__.pop("_factors", None)
            else:
                self._factors = tuple(pair)

    def _fitted_pair(self, what):
        """(users, items) factors, read once, or the error of an unfitted model."""
        U, Y = self._pair()
        if U is None or Y is None:
            raise ValueError(f"{what} needs a fitted model; call fit(X) first")
        return U, Y

    def _write_lock(self):
        """The model's lock for writers (fits, partial fits, setting factors)."""
        return self.__dict__.setdefault("_lock", threading.RLock())  # atomic

    def __getstate__(self):
        # the factors pickle as two attributes, as before the pair existed
        state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_working")}
        for name, F in zip(("user_factors_", "item_factors_"), state.pop("_factors", ())):
            if F is not None:
                state[name] = F
        return state

    def __setstate__(self, state):
        state = dict(state)
        # a model pickled before a parameter existed gets its default
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if param.default is not inspect.Parameter.empty:
                state.setdefault(name, param.default)
        pair = (state.pop("user_factors_", None), state.pop("item_factors_", None))
        self.__dict__.update(state)
        if pair[0] is not None or pair[1] is not None:
            self._factors = pair

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

    # scikit-learn finds the rest of its protocol here without fastwals importing
    # it: WALS is a transformer (users × items in, user factors out) whose input
    # may be sparse and, with "linear" or "log" confidence, must be >= 0.

    def __sklearn_tags__(self):
        # imported here: only scikit-learn calls this, and fastwals does not depend on it
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        try:  # the output is in the factor dtype whatever the input's
            preserves = [np.dtype(self.dtype).name]
        except TypeError:
            preserves = []
        return Tags(estimator_type="transformer", target_tags=TargetTags(required=False),
                    transformer_tags=TransformerTags(preserves_dtype=preserves),
                    input_tags=InputTags(sparse=True,
                                         positive_only=self.confidence in ("linear", "log")),
                    requires_fit=True, non_deterministic=False)

    def __sklearn_is_fitted__(self):
        U, Y = self._pair()
        return U is not None and Y is not None

    n_features_in_ = property(lambda self: self._side(1, "n_features_in_").shape[0],
                              doc="number of items (columns of X) of the fitted model, as the "
                                  "item factors have rows: set by fit, load and "
                                  "partial_fit_items")

    def fit_transform(self, X, y=None, **fit_params):
        """Fit to X and return the fitted user factors, ``user_factors_`` (the
        ones :meth:`recommend` scores with); ``y`` is ignored and ``fit_params``
        go to :meth:`fit`.

        These are not ``fit(X).transform(X)`` in general: :meth:`transform` is
        a fresh exact fold-in of X's rows against the final item factors (row
        weights 1 unless given), whereas the fit's user factors come from its
        last half-sweep over the users, which saw the item factors of before the
        last half-sweep over the items (and with "cg" or "subspace" is not an
        exact solve); the two agree as the fit converges."""
        with self._write_lock():  # the factors of this fit, not of a concurrent one
            self.fit(X, **fit_params)
            return self._fitted_pair("fit_transform")[0]

    # ------------------------------------------------------------ fitting

    def fit(self, X, y=None, *, shape=None, warm_start=False, validation=None,
            patience=None):
        """Fit to X, users × items: a scipy.sparse matrix or array, a dense 2-D
        array, or a ``(rows, cols, values)`` triplet (with ``shape=``, else
        inferred). Duplicates are summed; entries equal to zero count as
        unobserved. X is never modified. X may also be an ``Interactions`` from
        :func:`fastwals.io.read_interactions`: its raw id maps are then kept as
        ``user_ids_`` / ``item_ids_`` (``IdMap``: ``.index(raw)``, ``.raw(indices)``)
        and saved with the model.
        ``y`` is ignored (scikit-learn's signature: WALS is unsupervised).

        ``warm_start=True`` continues from the current factors (the model must
        already be fitted on a matrix of the same shape and with the same
        ``factors`` and ``dtype``); ``n_iter_`` and ``loss_history_`` then
        accumulate.

        ``validation=(test, metric, K)``: after every iteration, rank the items
        of ``test`` (users × items like X; X's items excluded) and record
        ``metric`` at K (a name from ``fastwals.metrics.METRICS``, e.g. "ndcg")
        in ``validation_history_``; at the end the model keeps the factors of the
        best iteration (``best_iteration_``, counted like ``n_iter_``), which costs
        a copy of both factor matrices. ``patience=n`` stops after n iterations
        without improvement. Returns self.
        """
        p = check_params(self.get_params())
        dtype = p["dtype"]
        id_maps = None
        if _is_interactions(X):  # from fastwals.io: a matrix with its raw ids
            id_maps, X = (X.users, X.items), X.matrix
        csr = as_csr(X, shape=shape, dtype=dtype)
        if p["confidence"] in ("linear", "log"):
            check_nonnegative(csr, p["confidence"])
        n_users, n_items = csr.shape
        rw = check_weights("row_weights", p["row_weights"], n_users, "user (row of X)", dtype)
        cw = check_weights("col_weights", p["col_weights"], n_items, "item (column of X)", dtype)
        unobserved = _unobserved_weights(p, csr)
        problem = _problem.build(csr, p, rw, cw, unobserved)
        if patience is not None:
            patience = check_int("patience", patience, 1)
            if validation is None:
                raise ValueError("patience needs validation=(test_matrix, metric, K)")
        scorer = None if validation is None else metrics.validation_scorer(csr, validation)

        with self._write_lock():
            return self._fit(p, csr, problem, id_maps, scorer, patience, warm_start,
                             unobserved)

    def _fit(self, p, csr, problem, id_maps, scorer, patience, warm_start, unobserved):
        dtype = p["dtype"]
        n_users, n_items = csr.shape
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

        fitted = ("_factors", "n_iter_", "loss_history_", "validation_history_",
                  "best_iteration_", "user_ids_", "item_ids_", "unobserved_row_weights_",
                  "unobserved_col_weights_")
        # half-updated factors are not a model: X_f, Y_f stay private (visible to
        # this thread only, for the callback) and are published at the end; a
        # failure puts back what was there
        with _fitting(self, fitted, p["iterations"], p["show_progress"]) as progress:
            self.n_iter_, self.loss_history_ = done, history
            for name in ("validation_history_", "best_iteration_"):  # only a validated fit has them
                self.__dict__.pop(name, None)
            best = None  # (score, n_iter_, user factors, item factors)
            scores = []
            with _working(self, X_f, Y_f):
                for it in range(p["iterations"]):
                    # one computation per iteration, so that the callback runs outside
                    # it and, under workqueue, other threads' calls between iterations
                    with compute_threads(p["n_threads"]):
                        start = time.perf_counter()
                        _problem.half_sweep(problem, problem.users, Y_f, X_f)
                        _problem.half_sweep(problem, problem.items, X_f, Y_f)
                        loss = (_problem.objective(problem, X_f, Y_f) if p["calculate_loss"]
                                else None)
                        seconds = time.perf_counter() - start
                        score = None if scorer is None else scorer(X_f, Y_f)
                    self.n_iter_ += 1
                    if loss is not None:
                        history.append(loss)
                    if scorer is not None:
                        scores.append(score)
                        if best is None or scores[-1] > best[0]:
                            best = (scores[-1], self.n_iter_, X_f.copy(), Y_f.copy())
                    if progress is not None:
                        progress.update(1)
                        if loss is not None:
                            progress.set_postfix(loss=f"{loss:.6g}")
                    if p["callback"] is not None and p["callback"](it, seconds, loss) is True:
                        break
                    if patience is not None and self.n_iter_ - best[1] >= patience:
                        break
            if best is not None:
                _, self.best_iteration_, X_f, Y_f = best
                self.validation_history_ = scores
            if id_maps is not None:
                self.user_ids_, self.item_ids_ = id_maps
            elif not warm_start:  # a plain matrix has no raw ids; a warm start keeps the maps
                self.__dict__.pop("user_ids_", None)
                self.__dict__.pop("item_ids_", None)
            self.unobserved_row_weights_, self.unobserved_col_weights_ = unobserved
            self._factors = (X_f, Y_f)  # published: one assignment
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

    # ------------------------------------------------------------ serving

    def recommend(self, user_ids, user_items=None, N=10, filter_already_liked_items=True,
                  filter_items=None, items=None):
        """The N best items for one user id or an array of them, as ``(ids, scores)``,
        best first (ties: lower item id first).

        ``user_items``: the users' interactions, one row per requested user (as
        implicit takes it) or the whole users × items matrix; needed when
        ``filter_already_liked_items`` (their items are never returned).
        ``filter_items``: item ids never returned; ``items``: rank only among
        these ids. One user gives 1-D arrays holding only the places that could be
        filled; a batch gives (len(user_ids), min(N, ranked items)) arrays
        padded with id -1 and score -inf where the filters leave fewer items.
        """
        U, Y = self._fitted_pair("recommend")
        if np.ndim(user_ids) == 0 and user_items is not None:
            user_items = _one_row(user_items)  # one user's row as a 1-D array
        with compute_threads(check_n_threads(self.n_threads)):
            return serving.recommend(U, Y, user_ids, user_items, N, filter_already_liked_items,
                                     filter_items, items)

    def recommend_all(self, N=10, user_items=None, filter_already_liked_items=True,
                      filter_items=None, items=None):
        """:meth:`recommend` for every user, as (users × min(N, ranked items)) arrays
        (a large N allocates nothing beyond the items); ``user_items`` is
        then the whole users × items matrix. Memory: the output, per thread one
        tile of scores, and int8 copies of both factor matrices where the int8
        gate is used (see the README); never a users × items score matrix."""
        U, Y = self._fitted_pair("recommend_all")
        with compute_threads(check_n_threads(self.n_threads)):
            return serving.recommend(U, Y, np.arange(U.shape[0]), user_items, N,
                                     filter_already_liked_items, filter_items, items)

    def recommend_batches(self, user_ids=None, N=10, user_items=None,
                          filter_already_liked_items=True, filter_items=None, items=None,
                          batch_size=65536):
        """:meth:`recommend` for many users as a stream: yields ``(user_ids, ids,
        scores)`` for consecutive batches of at most ``batch_size`` of ``user_ids``
        (default: every user, in order), each as :meth:`recommend` answers it;
        ``user_items`` is then the whole users × items matrix (only each batch's
        rows are read). The items' side of the ranking (sorted by norm, and its
        int8 copy) is made once for the stream, not once per batch. Memory beyond
        the model: one batch and that item side, whatever the number of users.
        The arguments are checked and the factors read when this is called (a
        later fit does not change the stream)."""
        U, Y = self._fitted_pair("recommend_batches")
        n_users, n_items = U.shape[0], Y.shape[0]
        check_int("N", N, 1)
        batch_size = check_int("batch_size", batch_size, 1)
        check_bool("filter_already_liked_items", filter_already_liked_items)
        threads = check_n_threads(self.n_threads)
        queries = range(n_users) if user_ids is None else \
            check_ids("user_ids", np.atleast_1d(user_ids), n_users, "user")[0]
        liked = None
        if filter_already_liked_items:
            if user_items is None:
                raise ValueError("filter_already_liked_items=True needs user_items, the whole "
                                 "users × items matrix; pass it, or "
                                 "filter_already_liked_items=False")
            liked = serving.whole_matrix(user_items, n_users, n_items)
        subset = serving.item_subset(items, n_items)
        serving.banned_positions(filter_items, n_items, subset)  # its errors now
        ranked = None
        if min(batch_size, len(queries)) >= serving.FEW_USERS:
            ranked = serving.RankedItems(Y if subset is None else Y[subset], U.dtype)

        def stream():
            for batch in serving.query_batches(queries, batch_size):
                rows = None if liked is None else as_csr(liked, name="user_items",
                                                         allow_empty=True, rows=batch)
                with compute_threads(threads):
                    ids, scores = serving.recommend(U, Y, batch, rows, N,
                                                    filter_already_liked_items, filter_items,
                                                    items, ranked)
                yield batch, ids, scores
        return stream()

    def similar_items(self, item_ids, N=10, filter_items=None, items=None):
        """The N items most similar to each given item by cosine of their factors,
        the item itself excluded; ``(ids, scores)`` shaped as in :meth:`recommend`."""
        _, Y = self._fitted_pair("similar_items")
        with compute_threads(check_n_threads(self.n_threads)):
            return serving.similar(Y, item_ids, N, filter_items, items, "item")

    def similar_users(self, user_ids, N=10, filter_users=None, users=None):
        """The N users most similar to each given user by cosine (see similar_items)."""
        U, _ = self._fitted_pair("similar_users")
        with compute_threads(check_n_threads(self.n_threads)):
            return serving.similar(U, user_ids, N, filter_users, users, "user")

    # ------------------------------------------------------------ fold-in

    def transform(self, user_items, row_weights=None):
        """Factors for new (or updated) users, rows × items, by an exact solve of
        the same objective with the item factors fixed (they are not changed).
        ``row_weights``: one weight per row (default 1). With unobserved weights,
        the items' are the fit's and the rows' own (a_u) are 1. Returns
        (rows × factors)."""
        self._check_fitted("transform")
        return foldin.solve_rows(self, "user", user_items, row_weights, name="user_items")

    def recalculate_user(self, user_items, row_weight=None):
        """One user's factors from their row of interactions (a 1-D array over
        items or a 1-row matrix): :meth:`transform` for one user."""
        self._check_fitted("recalculate_user")
        rows = _one_row(user_items)
        weights = None if row_weight is None else [row_weight]
        return foldin.solve_rows(self, "user", rows, weights, name="user_items")[0]

    def recalculate_item(self, item_users, col_weight=None):
        """One item's factors from its column of interactions over users."""
        self._check_fitted("recalculate_item")
        rows = _one_row(item_users)
        weights = None if col_weight is None else [col_weight]
        return foldin.solve_rows(self, "item", rows, weights, name="item_users")[0]

    def partial_fit_users(self, user_ids, user_items):
        """Refresh the given users' factors from their rows of interactions
        (one row per id, over items) with the item factors fixed. Ids beyond the
        fitted users add users: they must continue the range (n_users, n_users+1, …).
        With per-user ``row_weights`` or ``unobserved_row_weights``, new users get
        weight 1 (the unobserved weights of the fit's users stay theirs, also with
        "popularity"). Returns self."""
        return self._partial_fit("user", user_ids, user_items)

    def partial_fit_items(self, item_ids, item_users):
        """:meth:`partial_fit_users` for items: one row per id, over users."""
        return self._partial_fit("item", item_ids, item_users)

    def explain(self, user_id, user_items, item_id, N=10):
        """Why ``item_id`` scores as it does for a user: ``(score, items,
        contributions)``, the score of the user folded in from ``user_items``
        (their row, or the whole matrix) as a sum over their observed items, with
        the N largest contributions, largest first (as implicit's explain)."""
        U, Y = self._fitted_pair("explain")
        n_users, n_items = U.shape[0], Y.shape[0]
        user_id = int(check_ids("user_id", user_id, n_users, "user")[0][0])
        item_id = int(check_ids("item_id", item_id, n_items, "item")[0][0])
        return foldin.explain(self, (U, Y), user_id, _one_row(user_items), item_id,
                              check_int("N", N, 1))

    def _partial_fit(self, side, ids, rows):
        with self._write_lock():  # writers one at a time: each starts from the last's pair
            pair = self._fitted_pair(f"partial_fit_{side}s")
            return self._partial_fit_locked(side, ids, rows, pair)

    def _partial_fit_locked(self, side, ids, rows, pair):
        name = "user" if side == "user" else "item"
        at, weights_param = (0, "row_weights") if side == "user" else (1, "col_weights")
        F = pair[at]
        n = F.shape[0]
        ids, _ = check_ids(f"{name}_ids", ids, None, name)
        check_unique(f"{name}_ids", ids)
        new = np.sort(ids[ids >= n])
        if new.size and not np.array_equal(new, np.arange(n, n + new.size)):
            raise ValueError(f"{name}_ids: new ids must continue the range of the {n} fitted "
                             f"{name}s ({n}, {n + 1}, ...); got {new[:5].tolist()}")
        id_map = getattr(self, f"{name}_ids_", None)
        if id_map is not None and new.size and len(id_map) < n + new.size:
            raise ValueError(f"{name}_ids: the model maps raw {name} ids ({name}_ids_, "
                             f"{len(id_map)} of them); give the new {name}s raw ids first: "
                             f"model.{name}_ids_ = model.{name}_ids_.extend(new_raw_ids)")
        weights = getattr(self, weights_param)
        row_w = None
        if weights is not None:
            full = np.concatenate([np.asarray(weights, dtype=np.float64), np.ones(new.size)])
            row_w = full[ids]
        # the rows' unobserved weights: those of the fit, 1 for new rows
        unobserved = foldin.fitted_unobserved(self, side)
        if unobserved is not None:
            unobserved = np.concatenate([unobserved, np.ones(new.size)])
        solved = foldin.solve_rows(self, side, rows, row_w,
                                   name="user_items" if side == "user" else "item_users",
                                   n_rows=ids.size,
                                   unobserved=None if unobserved is None else unobserved[ids])
        grown = np.concatenate([F, np.zeros((new.size, F.shape[1]), F.dtype)]) if new.size \
            else F.copy()
        grown[ids] = solved
        self._factors = (grown, pair[1]) if at == 0 else (pair[0], grown)  # published whole
        if weights is not None and new.size:
            setattr(self, weights_param, full)
        if unobserved is not None and new.size:
            setattr(self, f"unobserved_{'row' if at == 0 else 'col'}_weights_", unobserved)
            param = f"unobserved_{'row' if at == 0 else 'col'}_weights"
            if not isinstance(getattr(self, param), str):  # an array: grown likewise
                setattr(self, param, unobserved.copy())
        return self

    def _check_fitted(self, what):
        self._fitted_pair(what)

    def _warm_factors(self, n_users, n_items, k, dtype):
        X_f, Y_f = self._fitted_pair("warm_start=True")
        if X_f.shape != (n_users, k) or Y_f.shape != (n_items, k) or X_f.dtype != dtype:
            raise ValueError(
                f"warm_start=True: the fitted factors are users {X_f.shape}, items {Y_f.shape}, "
                f"{X_f.dtype}; expected ({n_users}, {k}), ({n_items}, {k}), {dtype}. "
                f"Refit with warm_start=False")
        # copies, so that a failed warm fit leaves the previous model intact
        return X_f.copy(), Y_f.copy()


def _unobserved_weights(p, csr):
    """(a, b): the users' and items' unobserved weights (float64) of validated
    params for the canonical CSR X, None for all ones."""
    n_users, n_items = csr.shape
    return unobserved_weights(p, n_users, n_items, lambda: np.diff(csr.indptr),
                              lambda: np.bincount(csr.indices, minlength=n_items))


def _is_interactions(X):
    return all(hasattr(X, name) for name in ("matrix", "users", "items", "report"))


def _one_row(row):
    """A 1-D array over the other side (dense, or sparse as a csr_array's row
    X[u] is) becomes a 1-row matrix; matrices pass."""
    if hasattr(row, "tocsr"):
        return row.reshape(1, -1) if row.ndim == 1 else row
    if np.ndim(row) == 1:
        return np.asarray(row)[None, :]
    return row


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


@contextmanager
def _working(model, X, Y):
    """While a fit runs, its thread (and so its callback) reads the factors it is
    working on from `model`; other threads read the published pair."""
    model._working = (threading.get_ident(), (X, Y))
    try:
        yield
    finally:
        model.__dict__.pop("_working", None)


@contextmanager
def _fitting(model, names, total, show, done=0):
    """The body of a fit: yields its progress bar (tqdm on stderr, or None when
    not `show`), closed at the end; if the body raises, the attributes `names`
    of `model` are put back as they were on entry (and those it lacked removed)."""
    previous = {name: model.__dict__[name] for name in names if name in model.__dict__}
    progress = None
    if show:
        from tqdm import tqdm
        progress = tqdm(total=total, initial=done, desc="fastwals", unit="it", leave=False)
    try:
        yield progress
    except BaseException:
        for name in names:
            model.__dict__.pop(name, None)
        model.__dict__.update(previous)
        raise
    finally:
        if progress is not None:
            progress.close()
