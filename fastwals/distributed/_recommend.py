"""recommend_all on the cluster: each user block ranks every item on its
worker (the estimator's own top-N kernel, its already-liked items excluded)
and writes one Parquet part: user, item, rank (1 = best), score.

Ids are the raw ids when the fit had id maps, else the row and column numbers
(as the ``fastwals recommend`` command writes them).
"""

import os

import numpy as np

from .. import serving
from .._atomic import atomic_file
from .._validation import check_bool, check_ids, check_int
from . import _blocks

COLUMNS = ("user", "item", "rank", "score")


def check_options(N, filter_already_liked_items, filter_items, items, n_items):
    N = check_int("N", N, 1)
    check_bool("filter_already_liked_items", filter_already_liked_items)
    if filter_items is not None:
        filter_items = check_ids("filter_items", filter_items, n_items, "item")[0]
    items = serving.item_subset(items, n_items)
    return N, filter_items, items


def output_directory(path, overwrite):
    """Create `path`, or empty its part files when overwrite; refuse to mix
    parts of two runs."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"path {path!r} is a file; recommend_all writes a directory of "
                         f"Parquet parts")
    os.makedirs(path, exist_ok=True)
    old = sorted(n for n in os.listdir(path) if n.startswith("part-") and n.endswith(".parquet"))
    if old and not overwrite:
        raise ValueError(f"{path!r} already holds {len(old)} part files ({old[0]}, ...); pass "
                         f"overwrite=True to replace them, or another path")
    for name in old:
        os.unlink(os.path.join(path, name))
    return path


def rank_block(block, X, kp, N, exclude_liked, filter_items, items, file, user_ids, item_ids,
               *Y):
    """Rank every item for the block's users; write their rows to `file` (a
    temporary name, then renamed). Returns (file, rows written)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    Y = np.concatenate(Y) if len(Y) > 1 else Y[0]
    n_items = Y.shape[0]
    liked = block.global_csr(n_items) if exclude_liked else None
    with _blocks._kernels(kp["n_threads"]):
        ids, scores = serving.recommend(X, Y, np.arange(block.n_rows), liked, N, exclude_liked,
                                        filter_items, items)
    users, items_out, rank, score = serving.ranked_rows(np.arange(block.lo, block.hi), ids,
                                                        scores)
    table = pa.table({
        "user": user_ids[users] if user_ids is not None else users,
        "item": item_ids[items_out] if item_ids is not None else items_out,
        "rank": rank.astype(np.int32),
        "score": score,
    })
    with atomic_file(file) as f:
        pq.write_table(table, f)
    return file, table.num_rows
