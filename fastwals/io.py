"""Interactions in: CSV, TSV and Parquet files, Arrow tables and streams, data
frames and dicts of numpy arrays -> a users × items CSR matrix and id maps.

    from fastwals.io import read_interactions
    data = read_interactions("events/", user_col="user", item_col="item",
                             value_col="plays", aggregate="sum")
    model = WALS().fit(data.matrix)
    data.users.raw(u), data.items.index(["a17", "b3"])

Files are read by pyarrow in batches (pip install 'fastwals[io]'); each batch is
checked, reduced to the id, value and time columns and kept; ids are encoded
once at the end and the matrix is built by two counting sorts, so the peak
memory is about two copies of those columns. Every error is a ValueError (or
TypeError) naming the file or table, the row and the column.
"""

import numbers
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp

from . import _columns, _counting
from ._validation import index_dtype
from .idmap import TEXT, IdMap, UnknownIdError
from ._kernels import coo
from ._sources import (BadRowError, MissingColumnError, Retry, column_text, import_pyarrow,
                       open_sources, to_arrow, unreadable)
from ._validation import check_bool, check_choice, check_dtype, check_int

__all__ = ["IdMap", "Interactions", "read_interactions", "check_read_options", "BadRowError",
           "MissingColumnError", "UnknownIdError"]

AGGREGATES = {"sum": coo.SUM, "max": coo.MAX, "last": coo.LAST, "count": coo.COUNT}


# ---------------------------------------------------------------- the result

@dataclass(eq=False)
class Interactions:
    """What read_interactions returns.

    matrix: users × items canonical CSR (sorted indices, one entry per pair, no
        stored zeros: a pair whose aggregate is 0 is dropped and counted in
        report["zeros_dropped"]), float32 unless dtype=float64 was asked.
    users, items: the id maps of the rows and columns.
    timestamps: with time_col, one per stored entry (aligned with matrix.data):
        the latest time of the pair's rows; int64 (integers, or date-times as
        seconds since the Unix epoch) or float64. None without time_col.
    report: counts, see read_interactions.
    """

    matrix: sp.csr_array
    users: IdMap
    items: IdMap
    timestamps: np.ndarray | None = None
    report: dict = field(default_factory=dict)


# ---------------------------------------------------------------- reading

ROLES = ("user_col", "item_col", "value_col", "time_col")


class _Columns:
    """The id, value and time columns: as given (names or 0-based positions), or
    resolved in one source (its column names, see ``resolve``)."""

    def __init__(self, user, item, value, time):
        self.user, self.item, self.value, self.time = user, item, value, time
        self.ids = [user, item]
        self.wanted = [c for c in (user, item, value, time) if c is not None]
        self.roles = {c: r for c, r in zip((user, item, value, time), ROLES) if c is not None}
        self.id_types = {}  # id column -> "auto", "str" or "int"
        self.shown = {c: c for c in self.wanted}  # column -> as BadRowError names it
        self.labels = {c: f"{self.roles[c]} {c!r}" for c in self.wanted}  # for TypeErrors

    def resolve(self, src):
        """The columns in source `src`, by the names it gives them; a position is
        the column at that index (for a file without a header, its field)."""
        names = src.columns()
        if all(isinstance(c, str) and c in names for c in self.wanted):
            return self
        found = {}
        delimiter = getattr(src, "delimiter", None)
        for c in self.wanted:
            role = self.roles[c]
            if isinstance(c, str):
                if c not in names:
                    raise MissingColumnError(src.name, c, role, names, delimiter=delimiter)
                found[c] = c
                continue
            if c >= len(names):
                raise MissingColumnError(src.name, c, role, names, src.named, delimiter)
            found[c] = names[c]
            if names.count(names[c]) > 1:
                at = [k for k, n in enumerate(names) if n == names[c]]
                raise ValueError(f"{src.name} has {len(at)} columns named {names[c]!r} (at "
                                 f"positions {', '.join(map(str, at))}): {role}={c} cannot "
                                 f"tell them apart when reading; rename them")
        for k, c in enumerate(self.wanted):
            for c2 in self.wanted[k + 1:]:
                if found[c] == found[c2]:
                    raise ValueError(f"{self.roles[c]}={c!r} and {self.roles[c2]}={c2!r} are "
                                     f"the same column of {src.name} ({found[c]!r}); they "
                                     f"must name different columns")
        out = _Columns(*(found.get(c) for c in (self.user, self.item, self.value, self.time)))
        out.id_types = {found[c]: t for c, t in self.id_types.items()}
        for c in self.wanted:
            name, role = found[c], self.roles[c]
            if isinstance(c, str):
                out.shown[name], out.labels[name] = name, f"{role} {c!r}"
            elif src.named:
                out.shown[name], out.labels[name] = name, f"{role} {c} ({name!r})"
            else:
                out.shown[name], out.labels[name] = c, f"{role} {c}"
        return out


ID_TYPES = ("auto", "str", "int")


def read_interactions(source, *, user_col, item_col, value_col=None, time_col=None,
                      format=None, delimiter=None, header=True, aggregate="sum", min_value=None,
                      min_user_interactions=1, min_item_interactions=1, on_bad_rows="error",
                      users=None, items=None, id_type="auto", dtype=np.float32,
                      progress=False):
    """Read (user, item[, value][, time]) rows into a users × items CSR matrix.

    source: a path to a CSV/TSV/Parquet file or to a directory of part files (its
        visible files with a known extension, by name; with format= all its
        visible files), a list of such paths, a pyarrow Table, RecordBatch or
        RecordBatchReader, a pandas DataFrame, any object with
        ``__arrow_c_stream__`` (polars...), or a dict {column: 1-D numpy array}.
        .gz/.bz2/.zst/.lz4 files are decompressed.
    user_col, item_col: the id columns: integers (kept as int64, never through
        text) or text, as id_type says. Every *_col is a column name (a str:
        the header's, or the table's) or a 0-based position (an int: the
        column's index in the header or table; in a file without a header, the
        field's index in each line).
    id_type: "auto" (the default): integer columns give integer ids, text columns
        text ids; in CSV files a column whose values all parse as integers is an
        integer column ("007" and "7" are then the same id); if some files or
        parts hold text ids and others integers, all ids become text. "str":
        every id is text, exactly as written ("007" and "7" are two ids; integer
        columns become their decimal text). "int": every id is a 64-bit integer;
        a text id that is not one is a bad row. With users= or items= maps of
        string ids, "auto" reads those ids as "str".
    value_col: the value column (numbers or numeric text); None: every row has value 1.
    time_col: optional time column (numbers, date-times or ISO 8601 text); the
        result's timestamps hold each pair's latest time.
    format: "csv", "tsv" or "parquet" for every file; None: from each file's
        extension (.csv, .tsv, .tab, .parquet, .pq; text ones also compressed);
        a file with another extension (.dat, .txt, none) is Parquet if it starts
        like one, else text whose delimiter is told from its first lines (after
        decompression): the one of tab, "::", ",", ";", "|" that occurs as
        often (at least once) on each line, counted outside double quotes; none
        or several is a ValueError asking for format= or delimiter=.
    delimiter: the field delimiter, overriding "," (csv), tab (tsv) or the one
        told from the file. One character: CSV quoting applies ("a,b" is one
        field). Several characters ("::", as MovieLens's ratings.dat): no
        quoting, every occurrence splits (pyarrow parses one byte standing in
        for it). Given without format, a file of unknown extension is read as
        text split by it.
    header: True (the default): the first line of each CSV/TSV file names the
        columns. False: there is no header line, data starts at line 1, and
        columns can only be given by position. Parquet files and tables always
        name their columns.
    aggregate: how rows of the same (user, item) pair combine: "sum", "max",
        "last" (the last row in reading order: files in order, rows in file order)
        or "count" (the number of rows; values only serve min_value).
    min_value: drop rows whose value is below it, before aggregating.
    min_user_interactions, min_item_interactions: after aggregating, drop users
        (items) with fewer stored entries; both counts are taken once, on the
        aggregated matrix (one pass, not repeated to a fixed point: a user kept
        may end with fewer entries, even none, once items are dropped).
    on_bad_rows: "error" stops at a bad row (a missing id, a value that is missing,
        not a number, NaN or infinite, a bad time, a wrong number of fields) with a
        BadRowError naming the file, the row (CSV: its line, counting the header
        and blank lines) and the column (its name, or its 0-based position in a
        file without a header); "skip" drops such rows and counts them.
    users, items: existing IdMaps (e.g. a fitted model's): the matrix has exactly
        their rows/columns, rows with ids outside them are dropped and counted,
        and filtered users/items keep their (then empty) row or column. None: the
        map is built from the data, sorted (integers numerically, strings by code
        point), holding the users/items that keep at least one entry.
    dtype: numpy.float32 or numpy.float64, the matrix values (rows are converted
        on reading; sums accumulate in float64).
    progress: show a tqdm bar (file bytes or rows) on stderr.

    Every argument but source is checked before anything is read
    (check_read_options does those checks alone). Returns
    Interactions(matrix, users, items, timestamps, report) where report
    counts: files, rows_read (data rows, bad ones included), bad_rows_skipped,
    rows_below_min_value, rows_unknown_ids (outside given maps),
    duplicates_aggregated (rows merged into an earlier row of their pair),
    zeros_dropped (pairs aggregating to 0), users_filtered / items_filtered
    (users/items with rows whose entry count is below the minimum),
    rows_filtered (entries removed with them), users, items, nnz; and
    first_bad_row, the description of the first skipped row (or None). The
    counts add up: rows_read - bad_rows_skipped - rows_below_min_value -
    rows_unknown_ids - duplicates_aggregated - zeros_dropped - rows_filtered == nnz.
    """
    o = check_read_options(
        user_col=user_col, item_col=item_col, value_col=value_col, time_col=time_col,
        format=format, delimiter=delimiter, header=header, aggregate=aggregate,
        min_value=min_value, min_user_interactions=min_user_interactions,
        min_item_interactions=min_item_interactions, on_bad_rows=on_bad_rows, users=users,
        items=items, id_type=id_type, dtype=dtype, progress=progress)
    pa = import_pyarrow()

    sources = open_sources(source, o.format, o.delimiter, o.skip, o.header)
    keep_values = o.cols.value is not None and o.rule != coo.COUNT
    acc = _Accumulator(o.cols, o.dtype, keep_values, min_value=o.min_value, skip=o.skip)
    bar = _progress_bar(sources, o.progress)
    try:
        for k, src in enumerate(sources):
            try:
                acc.read(src, bar)
            except (pa.ArrowException, OSError) as e:  # a corrupt page, a truncated file...
                raise unreadable(src, e) from None
            sources[k] = None  # closes the file
            _release()
    finally:
        if bar is not None:
            bar.close()
    return _build(acc, o.rule, o.users, o.items, o.min_u, o.min_i, o.dtype, len(sources))


def check_read_options(*, user_col, item_col, value_col=None, time_col=None, format=None,
                       delimiter=None, header=True, aggregate="sum", min_value=None,
                       min_user_interactions=1, min_item_interactions=1, on_bad_rows="error",
                       users=None, items=None, id_type="auto", dtype=np.float32,
                       progress=False):
    """The checks read_interactions makes of its arguments (all but the source),
    alone: a TypeError or ValueError naming the argument, before any reading.
    Returns them normalised."""
    o = SimpleNamespace()
    o.header = check_bool("header", header)
    o.cols = _check_columns(user_col, item_col, value_col, time_col, o.header)
    o.format = format if format is None else check_choice("format", format,
                                                          ("csv", "tsv", "parquet"))
    if delimiter is not None:
        if not isinstance(delimiter, str) or not delimiter:
            raise TypeError(f"delimiter must be None or a non-empty str, got {delimiter!r}")
        if "\r" in delimiter or "\n" in delimiter or delimiter == '"':
            raise ValueError(f"delimiter must not be a quote or hold a line break, got "
                             f"{delimiter!r}")
        if format == "parquet":
            raise ValueError("delimiter applies to csv/tsv files, not format='parquet'")
    o.delimiter = delimiter
    if not o.header and format == "parquet":
        raise ValueError("header=False applies to csv/tsv files, not format='parquet' "
                         "(Parquet names its columns; positions work without it)")
    o.rule = AGGREGATES[check_choice("aggregate", aggregate, tuple(AGGREGATES))]
    if min_value is not None:
        if isinstance(min_value, (bool, np.bool_)) or not isinstance(min_value, numbers.Real):
            raise TypeError(f"min_value must be None or a number, got {min_value!r}")
        if not np.isfinite(min_value):
            raise ValueError(f"min_value must be a finite number, got {min_value!r}")
    o.min_value = min_value
    o.min_u = check_int("min_user_interactions", min_user_interactions, 1)
    o.min_i = check_int("min_item_interactions", min_item_interactions, 1)
    o.skip = check_choice("on_bad_rows", on_bad_rows, ("error", "skip")) == "skip"
    o.users = _check_map("users", users)
    o.items = _check_map("items", items)
    check_choice("id_type", id_type, ID_TYPES)
    for col, name, given in ((o.cols.user, "users", o.users), (o.cols.item, "items", o.items)):
        o.cols.id_types[col] = _id_type(id_type, name, given)
    o.dtype = check_dtype(dtype)
    o.progress = check_bool("progress", progress)
    return o


def _id_type(id_type, name, given):
    """The id type of one column: id_type, agreeing with the given map's ids."""
    if given is None or not len(given):
        return id_type
    kind = "str" if given.is_str else "int"
    if id_type == "auto":
        return "str" if given.is_str else "auto"
    if id_type != kind:
        raise ValueError(f"id_type={id_type!r} but {name} holds {kind} ids; pass "
                         f"id_type={kind!r} or 'auto'")
    return id_type


def _check_columns(user_col, item_col, value_col, time_col, header=True):
    """Each column: a name (a non-empty str) or a 0-based position (an int >= 0);
    names need header=True."""
    named = dict(zip(ROLES, (user_col, item_col, value_col, time_col)))
    for name, c in named.items():
        if c is None and name in ("user_col", "item_col"):
            raise TypeError(f"{name} must be a column name or a 0-based position, got None")
        if c is None:
            continue
        if isinstance(c, numbers.Integral) and not isinstance(c, (bool, np.bool_)):
            c = named[name] = int(c)
            if c < 0:
                raise ValueError(f"{name} must be a column name or a 0-based position (an int "
                                 f">= 0), got {c}")
        elif not isinstance(c, str) or not c:
            raise TypeError(f"{name} must be a column name (a non-empty str) or a 0-based "
                            f"position (an int), got {c!r}")
    given = [(n, c) for n, c in named.items() if c is not None]
    for k, (n, c) in enumerate(given):
        for n2, c2 in given[k + 1:]:
            if c == c2:
                raise ValueError(f"{n} and {n2} must name different columns, both are {c!r}")
    if not header:
        names = [(n, c) for n, c in given if isinstance(c, str)]
        if names:
            shown = ", ".join(f"{n}={c!r}" for n, c in names)
            fix = ", ".join(f"{n}={k}" for k, (n, _) in enumerate(names))
            raise ValueError(f"{shown}: header=False means the file has no header line to name "
                             f"columns; give {'them' if len(names) > 1 else 'it'} as 0-based "
                             f"positions (e.g. {fix}), or pass header=True if the first line "
                             f"names the columns")
    return _Columns(*(named[r] for r in ROLES))


def _check_map(name, value):
    if value is None or isinstance(value, IdMap):
        return value
    try:
        return IdMap(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be None, an IdMap or an array of unique ids: {e}") from None


def _progress_bar(sources, show):
    if not show:
        return None
    from tqdm import tqdm

    unit = sources[0].unit
    totals = [s.total for s in sources]
    total = sum(totals) if all(t is not None for t in totals) else None
    return tqdm(total=total, unit=unit, unit_scale=True, desc="reading", file=sys.stderr,
                leave=False)


class _Accumulator:
    """The checked columns of every batch read so far, and the counts."""

    def __init__(self, cols, dtype, keep_values, min_value, skip):
        self.cols, self.dtype, self.keep_values = cols, dtype, keep_values
        self.min_value, self.skip = min_value, skip
        self.users, self.items, self.values, self.times = [], [], [], []
        self.counts = dict(rows_read=0, bad_rows_skipped=0, rows_below_min_value=0)
        self.first_bad = None

    def read(self, src, bar):
        cols = self.cols.resolve(src)
        while True:
            mark = ([len(x) for x in (self.users, self.items, self.values, self.times)],
                    dict(self.counts), self.first_bad)
            try:
                self._read(src, bar, cols)
                break
            except Retry:
                for lst, n in zip((self.users, self.items, self.values, self.times), mark[0]):
                    del lst[n:]
                self.counts, self.first_bad = mark[1], mark[2]
        self.counts["rows_read"] += src.n_invalid
        self.counts["bad_rows_skipped"] += src.n_invalid
        if src.first_invalid is not None and self.first_bad is None:
            where, reason = src.invalid_where()
            self.first_bad = f"{src.name}, {where}: {reason}"

    def _read(self, src, bar, cols):
        offset = 0
        for batch in src.batches(cols.wanted, cols):
            n = batch.num_rows
            self._add(batch, src, offset, cols)
            del batch
            _release()
            offset += n
            if bar is not None:
                bar.update(src.progress(n))

    def _add(self, batch, src, offset, cols):
        n = batch.num_rows
        self.counts["rows_read"] += n
        if n == 0:
            return
        checks = []
        label, shown = cols.labels, cols.shown
        u, bad, why = _columns.ids(batch.column(cols.user), label[cols.user], src.name,
                                   cols.id_types[cols.user])
        checks.append((shown[cols.user], bad, why))
        i, bad, why = _columns.ids(batch.column(cols.item), label[cols.item], src.name,
                                   cols.id_types[cols.item])
        checks.append((shown[cols.item], bad, why))
        v = t = None
        if cols.value is not None:
            v, bad, why = _columns.values(batch.column(cols.value), label[cols.value],
                                          src.name, self.dtype)
            checks.append((shown[cols.value], bad, why))
        if cols.time is not None:
            t, bad, why = _columns.times(batch.column(cols.time), label[cols.time], src.name)
            checks.append((shown[cols.time], bad, why))
        bad = None
        for _, b, _ in checks:
            if b is not None:
                bad = b.copy() if bad is None else bad | b
        keep = None
        if bad is not None and bad.any():
            first = int(np.argmax(bad))
            col, why = next((c, w) for c, b, w in checks if b is not None and b[first])
            if not self.skip:
                raise BadRowError(src.name, src.where(offset + first), why(first), col)
            if self.first_bad is None:
                self.first_bad = f"{src.name}, {src.where(offset + first)}, " \
                                 f"{column_text(col)}: {why(first)}"
            self.counts["bad_rows_skipped"] += int(bad.sum())
            keep = ~bad
        if self.min_value is not None:
            low = (v if v is not None else np.ones(n, self.dtype)) < self.min_value
            if keep is not None:
                low &= keep
            if low.any():
                self.counts["rows_below_min_value"] += int(low.sum())
                keep = ~low if keep is None else keep & ~low
        if keep is not None:
            if not keep.any():
                return
            mask = import_pyarrow().array(keep)
            u, i = u.filter(mask), i.filter(mask)
            v = v[keep] if v is not None else None
            t = t[keep] if t is not None else None
        self.users.append(u)
        self.items.append(i)
        if self.keep_values:
            self.values.append(np.ascontiguousarray(v))
        if t is not None:
            self.times.append(np.ascontiguousarray(t))


# ---------------------------------------------------------------- ids and the matrix

def _encode(chunks, given):
    """Arrow id chunks (consumed) -> (int32 codes with -1 for ids outside `given`,
    the IdMap). Without `given` the map holds the ids seen, sorted."""
    pa = import_pyarrow()
    import pyarrow.compute as pc

    n = sum(len(c) for c in chunks)
    # text ids in some chunks, or a map of text ids: compare everything as text
    text = any(pa.types.is_string(c.type) for c in chunks) or (given is not None and
                                                               given.is_str)
    typ = pa.string() if text else pa.int64()
    ids = pa.chunked_array([c.cast(typ) if c.type != typ else c for c in chunks], type=typ)
    del chunks[:]
    mapping = None
    if given is not None:
        value_set = given.ids.astype(TEXT) if text and not given.is_str else given.ids
        # one lookup over all chunks: the hash table of the map is built once
        positions = pc.index_in(ids, value_set=to_arrow(value_set, typ))
        parts = [pc.fill_null(c, -1) for c in positions.chunks]
        idmap = given
    else:
        encoded = pc.dictionary_encode(ids)
        if len({len(c.dictionary) for c in encoded.chunks}) > 1:  # pragma: no cover
            dictionary = pc.unique(ids)  # (pyarrow gives all chunks one dictionary)
            parts = pc.index_in(ids, value_set=dictionary).chunks
        else:
            dictionary = encoded.chunk(0).dictionary if encoded.num_chunks else pa.array([], typ)
            parts = [c.indices for c in encoded.chunks]
        del encoded
        # Arrow sorts text by its UTF-8 bytes, which is code point order
        order = pc.array_sort_indices(dictionary).to_numpy()
        raw = dictionary.take(order).to_numpy(zero_copy_only=False)
        mapping = np.empty(order.size, np.int32)  # dictionary position -> sorted index
        mapping[order] = np.arange(order.size, dtype=np.int32)
        idmap = IdMap._sorted(raw.astype(TEXT) if text else raw.astype(np.int64))
    del ids
    _release()
    codes = np.empty(n, np.int32)
    lo = 0
    parts.reverse()
    while parts:
        part = parts.pop().to_numpy()
        part = mapping[part] if mapping is not None else part
        codes[lo:lo + part.size] = part
        lo += part.size
    _release()
    return codes, idmap


def _release():
    """Hand the memory pyarrow freed back to the system (its allocator keeps it)."""
    import_pyarrow().default_memory_pool().release_unused()


def _concat(chunks, dtype=None):
    """np.concatenate that frees the chunks as it goes."""
    n = sum(c.size for c in chunks)
    if dtype is None:
        dtype = np.result_type(*chunks) if chunks else np.float64
    out = np.empty(n, dtype)
    lo = 0
    while chunks:
        c = chunks.pop(0)
        out[lo:lo + c.size] = c
        lo += c.size
    return out


def _grouped_columns(has_v, v_dtype, has_t, t_dtype):
    """The grouping passes' outputs for n rows: int32 codes, values and times
    (empty where the rows have none)."""
    return lambda n: (np.empty(n, np.int32), np.empty(n if has_v else 0, v_dtype),
                      np.empty(n if has_t else 0, t_dtype))


def _build(acc, rule, users, items, min_u, min_i, dtype, n_files):
    report = dict(files=n_files, **acc.counts, rows_unknown_ids=0, duplicates_aggregated=0,
                  zeros_dropped=0, users_filtered=0, items_filtered=0, rows_filtered=0)
    built_u, built_i = users is None, items is None
    with ThreadPoolExecutor(2) as pool:  # pyarrow and numpy release the GIL
        fu = pool.submit(_encode, acc.users, users)
        fi = pool.submit(_encode, acc.items, items)
        u, users = fu.result()
        i, items = fi.result()
    has_v = acc.keep_values
    v = _concat(acc.values, dtype) if has_v else np.empty(0, dtype)
    has_t = acc.cols.time is not None
    t = _concat(acc.times) if acc.times else np.empty(0, np.int64)
    n_users, n_items = len(users), len(items)

    item_ptr, (u1, v1, t1) = _counting.sort(
        coo.group_by_item_part, n_items, (u, i, v, t, has_v, has_t),
        _grouped_columns(has_v, v.dtype, has_t, t.dtype), u.size)
    dropped = u.size - item_ptr[-1]
    del u, i, v, t
    seen_i = np.diff(item_ptr) > 0
    ptr, (cols, v2, t2) = _counting.sort(
        coo.group_by_user_part, n_users, (item_ptr, u1, v1, t1, has_v, has_t),
        _grouped_columns(has_v, v1.dtype, has_t, t1.dtype), u1.size)
    del item_ptr, u1, v1, t1
    seen_u = np.diff(ptr) > 0
    data = v2 if has_v else np.empty(cols.size, dtype)
    indptr, nnz, dups, zeros = coo.aggregate(ptr, cols, v2, t2, data, rule, has_v, has_t)
    del ptr, v2
    report.update(rows_unknown_ids=int(dropped), duplicates_aggregated=int(dups),
                  zeros_dropped=int(zeros))

    # the min-interaction filters, one pass on the aggregated counts
    cnt_u = np.diff(indptr)
    cnt_i = np.bincount(cols[:nnz], minlength=n_items)
    fail_u = seen_u & (cnt_u < min_u)
    fail_i = seen_i & (cnt_i < min_i)
    report.update(users_filtered=int(fail_u.sum()), items_filtered=int(fail_i.sum()))
    keep_u = (cnt_u >= min_u) if built_u else ~fail_u
    keep_i = (cnt_i >= min_i) if built_i else ~fail_i
    if not keep_u.all() or not keep_i.all():
        col_map = np.where(keep_i, np.cumsum(keep_i) - 1 if built_i else np.arange(n_items), -1)
        new_ptr, new_nnz = coo.filter_entries(indptr, cols, data, t2, keep_u,
                                              col_map.astype(np.int32), built_u, has_t)
        report["rows_filtered"] = int(nnz - new_nnz)
        indptr, nnz = new_ptr, new_nnz
        if built_u:
            users = IdMap._sorted(users.ids[keep_u])
        if built_i:
            items = IdMap._sorted(items.ids[keep_i])

    shape = (len(users), len(items))
    index = index_dtype(nnz, shape)
    matrix = sp.csr_array((data[:nnz].copy(), cols[:nnz].astype(index),
                           indptr.astype(index)), shape=shape)
    matrix.has_sorted_indices = True
    matrix.has_canonical_format = True
    timestamps = t2[:nnz].copy() if has_t else None
    report.update(users=shape[0], items=shape[1], nnz=int(nnz), first_bad_row=acc.first_bad)
    return Interactions(matrix, users, items, timestamps, report)
