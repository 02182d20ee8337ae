"""Model selection over held-out users: the strong-generalization protocol of
the VAE-CF and iALS benchmarks, for scikit-learn's GridSearchCV and kin.

``UserSplit`` cuts the users (rows of X) into training and held-out users;
the search fits each candidate on the training users' rows. ``ranking_scorer``
then scores a fitted model on the held-out users' rows: each user's entries
are split at random into a fold-in part and a test part, the users are folded
in from the fold-in part (``transform``: an exact solve against the model's
item factors), every item is ranked with the fold-in items excluded, and the
metric is taken on the test part::

    from sklearn.model_selection import GridSearchCV
    from fastwals.metrics import UserSplit, ranking_scorer
    search = GridSearchCV(WALS(64, random_state=0), {"regularization": [0.1, 1, 10]},
                          cv=UserSplit(5, random_state=0),
                          scoring=ranking_scorer("ndcg", K=20, random_state=0))
    search.fit(X)  # X: users × items, sparse

Neither imports scikit-learn: they follow its protocols (``split`` /
``get_n_splits``, ``scorer(estimator, X, y)``). Both names are also in
``fastwals.metrics``.
"""

import numbers

import numpy as np

from ._validation import check_int, check_random_state
from .metrics import METRICS, _canonical, _evaluated, _factors, _fraction, _parts, _ranked, \
    _test_entries


class UserSplit:
    """Cross-validation over users: yields ``(train_users, test_users)``, sorted
    row indices of X, ``n_splits`` times.

    ``test_users=None``: the users are shuffled and cut into ``n_splits`` folds
    of (nearly) equal size, each held out once (K-fold over users; n_splits >= 2).
    ``test_users`` a fraction in (0, 1): each split holds out that fraction of
    the users (rounded), drawn afresh for each split (shuffle-split), the way
    :func:`fastwals.metrics.split_users` draws them (its held-out users are
    those of the first split for the same ``random_state``).

    ``random_state``: an int gives the same splits at every call of ``split``;
    None, a Generator or a RandomState draw new ones each call (as
    scikit-learn's splitters do). Every row counts as a user, empty or not.
    """

    def __init__(self, n_splits=5, test_users=None, random_state=None):
        kfold = test_users is None
        self.n_splits = check_int("n_splits", n_splits, 2 if kfold else 1)
        self.test_users = None if kfold else _fraction("test_users", test_users)
        check_random_state(random_state)  # an error now rather than at split
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """The number of splits (X, y and groups are ignored)."""
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """``(train_users, test_users)`` index arrays over the rows of X (users ×
        items); y and groups are ignored."""
        n = _n_rows(X)
        rng = check_random_state(self.random_state)
        if self.test_users is None:
            if self.n_splits > n:
                raise ValueError(f"UserSplit: n_splits={self.n_splits} folds need at least "
                                 f"as many users; X has {n}")
            folds = np.array_split(rng.permutation(n), self.n_splits)
            for fold in folds:
                yield _complement(fold, n), np.sort(fold)
            return
        n_test = int(round(self.test_users * n))
        if not 0 < n_test < n:
            raise ValueError(f"UserSplit: test_users={self.test_users} of {n} users holds out "
                             f"{n_test}; the training and the test users must both be "
                             f"non-empty")
        for _ in range(self.n_splits):
            test = rng.permutation(n)[:n_test]
            yield _complement(test, n), np.sort(test)

    def __repr__(self):
        return (f"UserSplit(n_splits={self.n_splits}, test_users={self.test_users!r}, "
                f"random_state={self.random_state!r})")


def ranking_scorer(metric="ndcg", K=20, test_fraction=0.2, random_state=0):
    """A scorer for held-out users, called as ``scorer(estimator, X, y=None)``
    (scikit-learn's ``scoring=``) with a fitted model (``transform`` and item
    factors, as WALS) and X, the held-out users' rows over the model's items.

    Each user's stored entries are split at random into a fold-in part and a
    test part (about ``test_fraction`` to test, at least one entry in each; a
    user with a single entry has no test part), the users are folded in from
    the fold-in part with ``estimator.transform``, every item is ranked with
    the fold-in items excluded, and ``metric`` at K (a name from
    ``fastwals.metrics.METRICS``) is returned, averaged over the users with a
    test part; the others (fewer than two entries) are skipped, as
    :func:`fastwals.metrics.ranking_metrics` skips users without test items.
    NaN when no user has a test part. Ranking and metrics are those of
    ranking_metrics (recall, NDCG, MAP normalised by min(K, test items)).

    The split depends only on X and ``random_state``, drawn once (an int or
    SeedSequence is used as is; None, a Generator or a RandomState gives a seed
    drawn here): every call on the same users splits them the same way, so
    every candidate of a search is scored on the same fold-in and test parts.
    ``scorer.split(X)`` returns those parts, ``(fold_in, test)`` CSR arrays of
    X's shape.
    """
    return _RankingScorer(metric, K, test_fraction, random_state)


class _RankingScorer:
    """What ranking_scorer returns (see there)."""

    def __init__(self, metric, K, test_fraction, random_state):
        if not isinstance(metric, str) or metric not in METRICS:
            raise ValueError(f"ranking_scorer: metric must be one of {', '.join(METRICS)}; "
                             f"got {metric!r}")
        self.metric = metric
        self.K = check_int("K", K, 1)
        self.test_fraction = _fraction("test_fraction", test_fraction)
        self.random_state = random_state
        fixed = isinstance(random_state, (numbers.Integral, np.random.SeedSequence))
        rng = check_random_state(random_state)  # validates it
        self._seed = random_state if fixed else int(rng.integers(2**63 - 1))

    def split(self, X):
        """(fold_in, test) CSR arrays of X's shape: every stored entry of X in
        exactly one of them."""
        X = _canonical(X)
        held = np.ones(X.shape[0], dtype=bool)
        mask = _test_entries(X, held, self.test_fraction, np.random.default_rng(self._seed))
        return _parts(X, mask)

    def __call__(self, estimator, X, y=None):
        fold_in, test = self.split(X)
        if hasattr(estimator, "_fitted_pair"):  # a WALS: its error names the scorer
            estimator._fitted_pair("ranking_scorer")
        V = _factors(estimator)[1]
        users, excluded, positives = _evaluated(fold_in, test, fold_in.shape[0], V.shape[0],
                                                ("X's fold-in part", "X's test part"))
        if users.size == 0:
            return float("nan")
        U = estimator.transform(fold_in[users])  # only the users that are scored
        U, V = _factors((U, V))
        rows = (np.arange(users.size), excluded, positives)
        return _ranked(U, V, rows, self.K, (self.metric,),
                       getattr(estimator, "n_threads", None))[self.metric]

    def __repr__(self):
        return (f"ranking_scorer({self.metric!r}, K={self.K}, "
                f"test_fraction={self.test_fraction!r}, random_state={self.random_state!r})")


def _n_rows(X):
    if isinstance(X, tuple):
        raise TypeError("UserSplit: X must be a matrix (sparse or dense) whose rows are the "
                        "users, not a (rows, cols, values) triplet: the search indexes its rows")
    shape = getattr(X, "shape", None)
    if shape is None:
        shape = np.shape(X)
    if len(shape) != 2:
        raise ValueError(f"UserSplit: X must be 2-D (users × items), got shape {tuple(shape)}")
    return int(shape[0])


def _complement(indices, n):
    keep = np.ones(n, dtype=bool)
    keep[indices] = False
    return np.flatnonzero(keep)
