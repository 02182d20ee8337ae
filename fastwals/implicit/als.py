"""implicit 0.7.3's AlternatingLeastSquares (its CPU model) on fastwals's kernels.

The same constructor, methods, results and files as implicit's, and the same
objective: confidence c = alpha·r on the stored entries (weight |c|, target 1
where c > 0, else 0), weight 1 with target 0 elsewhere, λ(‖X‖² + ‖Y‖²); that is
fastwals's WALS(confidence="total", unobserved_weight=1, reg_exponent=0).
use_cg=True is fastwals's CG solver (cg_steps=3), use_cg=False its exact one.
"""

import warnings

import numpy as np

from .. import WALS, foldin
from .._threads import compute_threads
from .._validation import check_params
from . import _explain, _fit, _persist, _rows, _topk
from ._compat import check_csr, is_csr
from ._loss import calculate_loss
from ._threads import n_threads

__all__ = ["AlternatingLeastSquares", "calculate_loss"]


class AlternatingLeastSquares:
    """Alternating Least Squares for implicit feedback, implicit's API.

    Parameters are implicit's: ``factors``, ``regularization``, ``alpha`` (the
    confidence is alpha times the input), ``dtype`` (float32 or float64),
    ``use_native`` (kept for compatibility; fastwals's kernels always run),
    ``use_cg`` (conjugate gradient, else the exact solve), ``use_gpu`` (only
    False: fastwals runs on the CPU), ``iterations``,
    ``calculate_training_loss``, ``num_threads`` (0: all threads) and
    ``random_state``. After ``fit``: ``user_factors`` and ``item_factors``.
    """

    def __init__(self, factors=100, regularization=0.01, alpha=1.0, dtype=np.float32,
                 use_native=True, use_cg=True, use_gpu=False, iterations=15,
                 calculate_training_loss=False, num_threads=0, random_state=None):
        if use_gpu:
            raise ValueError("use_gpu=True: fastwals runs on the CPU only (there is no GPU "
                             "model); use use_gpu=False, or implicit itself for the GPU")
        self.item_factors = None
        self.user_factors = None
        self.num_threads = num_threads
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.dtype = np.dtype(dtype)
        self.use_native = use_native
        self.use_cg = use_cg
        self.iterations = iterations
        self.calculate_training_loss = calculate_training_loss
        self.fit_callback = None
        self.cg_steps = 3
        self.random_state = random_state

    # ------------------------------------------------------------ fitting

    def fit(self, user_items, show_progress=True, callback=None):
        """Factorize user_items (users × items CSR of values r, confidence
        alpha·r; a negative value is a dislike). A model with factors continues
        from them. callback(iteration, seconds, loss) runs after each iteration."""
        _fit.fit(self, user_items, self._params(), show_progress, callback)

    def _params(self):
        """The fastwals parameters of implicit's objective and solver, validated."""
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"Invalid dtype {self.dtype} for cpu ALS model. Allowed dtypes "
                             f"are: (numpy.float32, numpy.float64)")
        return check_params(self._wals().get_params())

    def _wals(self, pair=None, solver=None):
        """A fastwals WALS with this model's objective on confidences alpha·r
        computed beforehand (_rows.confidences: its alpha is 1), holding `pair`
        (users, items) as its factors: fastwals's fold-in reads them there."""
        solver = solver or ("cg" if self.use_cg else "cholesky")
        # implicit's CG reads λ as a float32
        reg = float(np.float32(self.regularization)) if solver == "cg" else self.regularization
        model = WALS(self.factors, iterations=self.iterations, regularization=reg, alpha=1.0,
                     unobserved_weight=1.0, confidence="total", reg_exponent=0.0,
                     solver=solver, cg_steps=self.cg_steps,
                     dtype=self.dtype, n_threads=n_threads(self.num_threads))
        if pair is not None:
            model.user_factors_, model.item_factors_ = pair
        return model

    # ------------------------------------------------------------ fold-in

    def recalculate_user(self, userid, user_items):
        """Factors for one user (1-D) or an array of them, from user_items (one
        CSR row each), by the exact solve; the model is not changed."""
        user_items = check_csr(user_items)
        _rows.one_row_each(user_items, userid, "user_items", "user")
        return self._fold_in("user", userid, user_items)

    def recalculate_item(self, itemid, item_users):
        """:meth:`recalculate_user` for items: item_users has one row per item."""
        item_users = check_csr(item_users)
        _rows.one_row_each(item_users, itemid, "item_users", "item")
        return self._fold_in("item", itemid, item_users)

    def _fold_in(self, side, ids, rows):
        if self.user_factors is None or self.item_factors is None:
            raise ValueError(f"recalculate_{side} needs a fitted model; call fit first")
        self._params()  # implicit's errors for a bad dtype first
        wals = self._wals((self.user_factors, self.item_factors), "cholesky")
        other = self.item_factors if side == "user" else self.user_factors
        name = "user_items" if side == "user" else "item_users"
        rows = _rows.confidences(_rows.widened(rows, other.shape[0], name), self.alpha)
        solved = foldin.solve_rows(wals, side, rows, name=name)
        return solved[0] if np.isscalar(ids) else solved

    def partial_fit_users(self, userids, user_items):
        """Recompute the factors of these users from their rows (one per id),
        item factors fixed; ids past the end grow the model (gaps get zero rows)."""
        self.user_factors = self._partial_fit("user", userids, user_items, self.user_factors)

    def partial_fit_items(self, itemids, item_users):
        """:meth:`partial_fit_users` for items: one row over users per item id."""
        self.item_factors = self._partial_fit("item", itemids, item_users, self.item_factors)

    def _partial_fit(self, side, ids, rows, F):
        self._changed()
        name = "user_items" if side == "user" else "item_users"
        if len(ids) != rows.shape[0]:
            raise ValueError(f"{name} must contain 1 row for every {side} in {side}ids")
        solved = self._fold_in(side, ids, check_csr(rows, name))
        n, k = F.shape
        top = max(ids)
        if top >= n:
            F = np.concatenate([F, np.zeros((top - n + 1, k), dtype=F.dtype)])
        F[ids] = solved
        return F

    # ------------------------------------------------------------ serving

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True,
                  filter_items=None, recalculate_user=False, items=None):
        """The N best items for a user id or an array of them: (ids, scores),
        N wide as implicit gives them (see fastwals/implicit/_topk.py)."""
        if filter_already_liked_items or recalculate_user:
            if not is_csr(user_items):
                raise ValueError("user_items needs to be a CSR sparse matrix")
            _rows.one_row_each(user_items, userid, "user_items", "user")
        if recalculate_user:
            user = self.recalculate_user(userid, user_items)
        else:
            user = self.user_factors[userid]
        Y = self.item_factors
        n_items = Y.shape[0]
        if items is not None:
            N = min(N, len(items))
            if filter_items:
                raise ValueError("Can't set both items and filter_items in recommend call")
            items = np.array(items)
            items.sort()
            Y = Y[items]
            if items.max() >= n_items or items.min() < 0:
                raise IndexError("Some itemids in the items parameter in are not in the model")
        exclude = None
        if filter_already_liked_items:
            exclude = _rows.structure(user_items, n_items)
            if items is not None:
                exclude = _rows.restricted(exclude, items)
        ids, scores = self._topk(user, Y, N, exclude, filter_items)
        if items is not None:
            ids = items[ids]
        return ids, scores

    def similar_items(self, itemid, N=10, recalculate_item=False, item_users=None,
                      filter_items=None, items=None):
        """The N items closest to an item (or to each of an array of them) by
        cosine, the item itself included, as implicit gives them."""
        if recalculate_item:
            factor = self.recalculate_item(itemid, item_users)
        else:
            factor = self.item_factors[itemid]
        return self._similar(factor, self.item_factors, N, filter_items, items, "item")

    def similar_users(self, userid, N=10, filter_users=None, users=None):
        """:meth:`similar_items` for users."""
        return self._similar(self.user_factors[userid], self.user_factors, N, filter_users,
                             users, "user")

    def _similar(self, factor, F, N, filter_ids, subset, what):
        unit = self._unit_rows(F, what)
        norm = _norms(factor)
        if subset is not None:
            if filter_ids:
                raise ValueError(f"Can't set both {what}s and filter_{what}s in "
                                 f"similar_{what}s call")
            subset = np.array(subset)
            unit = unit[subset]
            if subset.max() >= F.shape[0] or subset.min() < 0:
                raise IndexError(f"Some {what}ids in the {what}s parameter are not in the model")
        ids, scores = self._topk(factor / norm[..., None], unit, N, None, filter_ids)
        # implicit divides the filtered items' -FLT_MAX by the query's norm too
        filtered = scores == _topk.neg_max(scores.dtype)
        with np.errstate(over="ignore"):
            scores[filtered] = (scores / norm[..., None])[filtered]
        if subset is not None:
            ids = subset[ids]
        return ids, scores

    def _unit_rows(self, F, what):
        """F's rows over their norms (zero rows stay zero), kept while F is the
        model's array and no fit changes it: a loop of similar_items calls
        normalises once (implicit likewise keeps its norms)."""
        cache = self.__dict__.setdefault("_unit", {})
        if what not in cache or cache[what][0] is not F:
            cache[what] = (F, F / _norms(F)[:, None])
        return cache[what][1]

    def _changed(self):
        """Forget what was derived from the factors (fit and partial_fit change them)."""
        self.__dict__.pop("_unit", None)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_unit", None)  # derived data, not pickled
        return state

    def _topk(self, query, Y, N, exclude, banned):
        """implicit's topk of the query factors (one row or a matrix) against Y."""
        single = query.ndim == 1
        Q = np.atleast_2d(query)
        if banned is not None:  # numpy's indexing rules, as implicit indexes with them
            banned = np.asarray(banned)
            banned = np.unique(np.arange(Y.shape[0])[banned]) if banned.size else None
        with compute_threads(n_threads(self.num_threads)):
            ids, scores = _topk.topk(Q, Y, N, exclude, banned)
        return (ids[0], scores[0]) if single else (ids, scores)

    def explain(self, userid, user_items, itemid, user_weights=None, N=10):
        """Why the user scores the item as they do: (total score, [(item id,
        contribution)] the N largest first, user_weights: the Cholesky factor of
        the user's system, to pass back for speed), as implicit's explain."""
        user_items = check_csr(user_items)
        row = slice(user_items.indptr[userid], user_items.indptr[userid + 1])
        confidences = self.alpha * user_items.data[row]
        return _explain.explain(self.item_factors, self.regularization,
                                user_items.indices[row], confidences, itemid, user_weights, N)

    # ------------------------------------------------------------ implicit's other methods

    def recommend_all(self, user_items, N=10, recalculate_user=False,
                      filter_already_liked_items=True, filter_items=None, users_items_offset=0):
        """Deprecated in implicit: the ids of :meth:`recommend` for every row of
        user_items, row i being user users_items_offset + i (implicit's own
        offset path raises: it pads the rows it then counts)."""
        warnings.warn("recommend_all is deprecated. Use recommend with an array of userids "
                      "instead", DeprecationWarning, stacklevel=2)
        userids = np.arange(user_items.shape[0]) + users_items_offset
        ids, _ = self.recommend(userids, user_items, N=N,
                                filter_already_liked_items=filter_already_liked_items,
                                filter_items=filter_items, recalculate_user=recalculate_user)
        return ids

    def rank_items(self, userid, user_items, selected_items, recalculate_user=False):
        """Deprecated in implicit: :meth:`recommend` over the given items."""
        warnings.warn("rank_items is deprecated. Use recommend with the 'items' parameter "
                      "instead", DeprecationWarning, stacklevel=2)
        return self.recommend(userid, user_items, recalculate_user=recalculate_user,
                              items=selected_items, filter_already_liked_items=False)

    @property
    def user_norms(self):
        """Each user's factor norm, 1e-10 for zero (as implicit's)."""
        return _norms(self.user_factors)

    @property
    def item_norms(self):
        """Each item's factor norm, 1e-10 for zero (as implicit's)."""
        return _norms(self.item_factors)

    def save(self, fileobj_or_path):
        """Write implicit's .npz model file (a path gets ".npz" appended, as np.savez does)."""
        _persist.save(self, fileobj_or_path)

    @classmethod
    def load(cls, fileobj_or_path):
        """Read a model file written by this class or by implicit's."""
        return _persist.load(cls, fileobj_or_path)

    def to_cpu(self):
        """A copy of this model (it already runs on the CPU)."""
        copy = type(self)(self.factors, self.regularization, self.alpha, self.dtype,
                          self.use_native, self.use_cg, False, self.iterations,
                          self.calculate_training_loss, self.num_threads, self.random_state)
        copy.cg_steps = self.cg_steps
        for name in ("user_factors", "item_factors"):
            F = getattr(self, name)
            setattr(copy, name, None if F is None else F.copy())
        return copy

    def to_gpu(self):
        raise ValueError("to_gpu: fastwals runs on the CPU only (there is no GPU model); "
                         "use implicit's own AlternatingLeastSquares for the GPU")


def _norms(F):
    """Row norms in F's dtype, zeros replaced by 1e-10 (implicit's guard against 0/0)."""
    norms = np.linalg.norm(F, axis=-1)
    if np.ndim(norms) == 0:
        return norms if norms != 0 else norms.dtype.type(1e-10)
    norms[norms == 0] = 1e-10
    return norms
