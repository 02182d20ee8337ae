"""fastwals.io: files, tables and arrays in; id maps; aggregation, filters and
bad rows, each error message checked for the file, the row and the column."""

import os
import pickle
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

pa = pytest.importorskip("pyarrow")
import pyarrow.csv as pcsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from fastwals import _counting, _sources  # noqa: E402
from fastwals.idmap import TEXT, id_map_arrays, id_map_from_arrays  # noqa: E402
from fastwals.io import (BadRowError, IdMap, Interactions, MissingColumnError,  # noqa: E402
                         UnknownIdError, read_interactions)

COLS = dict(user_col="user", item_col="item", value_col="value")


# ---------------------------------------------------------------- helpers

def random_rows(n=300, n_users=25, n_items=15, seed=0, str_ids=False):
    """Rows with many duplicate pairs: (users, items, values, times) arrays."""
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n_users, n)
    i = rng.integers(0, n_items, n)
    if str_ids:
        users = np.array([f"user-{k:03d}" for k in u])
        items = np.array([f"é{k}" for k in i])  # non-ASCII text ids
    else:
        users = (u * 1_000_003 + 2**40).astype(np.int64)  # sparse 64-bit ids
        items = (i * 7 - 50).astype(np.int64)  # negative ids too
    values = rng.integers(1, 9, n) / 4.0
    times = rng.integers(1_600_000_000, 1_700_000_000, n)
    return users, items, values, times


def reference(users, items, values, times=None, rule="sum"):
    """{(user, item): (value, latest time)} the obvious way."""
    agg, latest = {}, {}
    for k, key in enumerate(zip(users.tolist(), items.tolist())):
        v = values[k]
        if key not in agg:
            agg[key] = 1.0 if rule == "count" else v
        elif rule == "sum":
            agg[key] += v
        elif rule == "max":
            agg[key] = max(agg[key], v)
        elif rule == "last":
            agg[key] = v
        else:
            agg[key] += 1
        if times is not None:
            latest[key] = max(latest.get(key, times[k]), times[k])
    return {k: (v, latest.get(k)) for k, v in agg.items() if v != 0}


def triples(data):
    """{(raw user, raw item): (value, time)} from an Interactions, via the id maps."""
    coo = data.matrix.tocoo()
    order = np.lexsort((coo.col, coo.row))
    rows, cols, vals = coo.row[order], coo.col[order], coo.data[order]
    u = data.users.raw(rows).tolist()
    i = data.items.raw(cols).tolist()
    t = data.timestamps.tolist() if data.timestamps is not None else [None] * len(u)
    return {(a, b): (float(v), tt) for a, b, v, tt in zip(u, i, vals, t)}


def write(path, users, items, values=None, times=None, fmt=None):
    cols = {"user": users, "item": items}
    if values is not None:
        cols["value"] = values
    if times is not None:
        cols["time"] = times
    table = pa.table(cols)
    fmt = fmt or path.suffix.lstrip(".")
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        opts = pcsv.WriteOptions(delimiter="\t" if fmt == "tsv" else ",",
                                 quoting_style="none" if fmt == "tsv" else "needed")
        pcsv.write_csv(table, path, write_options=opts)
    return path


def check_canonical(data, dtype=np.float32):
    m = data.matrix
    assert isinstance(m, sp.csr_array) and m.dtype == dtype
    assert m.shape == (len(data.users), len(data.items))
    copy = m.copy()
    copy.sum_duplicates()
    copy.eliminate_zeros()
    assert copy.nnz == m.nnz and np.all(m.data != 0)
    for r in range(m.shape[0]):
        assert np.all(np.diff(m.indices[m.indptr[r]:m.indptr[r + 1]]) > 0)
    rep = data.report
    assert (rep["rows_read"] - rep["bad_rows_skipped"] - rep["rows_below_min_value"]
            - rep["rows_unknown_ids"] - rep["duplicates_aggregated"] - rep["zeros_dropped"]
            - rep["rows_filtered"]) == rep["nnz"] == m.nnz
    assert rep["users"] == m.shape[0] and rep["items"] == m.shape[1]


# ---------------------------------------------------------------- formats and sources

@pytest.mark.parametrize("str_ids", [False, True], ids=["int-ids", "str-ids"])
@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet"])
def test_files_round_trip(tmp_path, fmt, str_ids):
    users, items, values, times = random_rows(str_ids=str_ids)
    path = write(tmp_path / f"x.{fmt}", users, items, values, times)
    data = read_interactions(path, **COLS, time_col="time")
    check_canonical(data)
    assert data.users.ids.dtype == (TEXT if str_ids else np.int64)
    assert list(data.users.ids) == sorted(set(users.tolist()))
    assert list(data.items.ids) == sorted(set(items.tolist()))
    assert triples(data) == reference(users, items, values, times)
    assert data.timestamps.dtype == np.int64
    assert data.report["rows_read"] == len(users) and data.report["files"] == 1


def test_format_from_extension_and_override(tmp_path):
    users, items, values, _ = random_rows(50)
    expected = reference(users, items, values)
    tab = write(tmp_path / "x.tab", users, items, values, fmt="tsv")
    dat = write(tmp_path / "x.dat", users, items, values, fmt="tsv")
    semi = tmp_path / "x.txt"
    semi.write_text(write(tmp_path / "y.csv", users, items, values).read_text().replace(",", ";"))
    assert triples(read_interactions(tab, **COLS)) == expected
    assert triples(read_interactions(dat, **COLS, format="tsv")) == expected
    assert triples(read_interactions(semi, **COLS, format="csv", delimiter=";")) == expected


def test_compressed_csv(tmp_path):
    import gzip

    users, items, values, _ = random_rows(80, str_ids=True)
    plain = write(tmp_path / "x.csv", users, items, values)
    gz = tmp_path / "x.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert triples(read_interactions(gz, **COLS)) == reference(users, items, values)


def test_directory_of_parts_and_list(tmp_path):
    users, items, values, _ = random_rows(400)
    parts = tmp_path / "parts"
    parts.mkdir()
    cut = [0, 90, 250, 400]
    for k in range(3):
        sl = slice(cut[k], cut[k + 1])
        write(parts / f"part-{k}.{['csv', 'parquet', 'tsv'][k]}", users[sl], items[sl],
              values[sl])
    (parts / "_SUCCESS").write_text("")
    (parts / ".part-0.csv.crc").write_text("junk")
    expected = reference(users, items, values, rule="last")
    data = read_interactions(parts, **COLS, aggregate="last")
    assert data.report["files"] == 3
    assert triples(data) == expected  # "last" follows file order, then row order
    files = sorted(parts.glob("part-*"))
    assert triples(read_interactions([str(f) for f in files], **COLS, aggregate="last")) \
        == expected
    shuffled = read_interactions(files[::-1], **COLS, aggregate="last")
    assert triples(shuffled) != expected  # the list order is the reading order


def test_directory_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"no \.csv, \.tsv.*notes\.txt.*format="):
        read_interactions(tmp_path, **COLS)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_interactions(tmp_path / "nope.csv", **COLS)
    with pytest.raises(ValueError, match="empty list"):
        read_interactions([], **COLS)
    with pytest.raises(TypeError, match="list must hold file or directory paths"):
        read_interactions([tmp_path / "a.csv", 3], **COLS)


def test_tables_frames_and_dicts():
    pd = pytest.importorskip("pandas")
    users, items, values, times = random_rows(200, str_ids=True)
    expected = reference(users, items, values, times)
    df = pd.DataFrame({"user": users, "item": items, "value": values, "time": times,
                       "other": 1})
    table = pa.Table.from_pandas(df)
    sources = {
        "DataFrame": df,
        "Table": table,
        "RecordBatchReader": pa.RecordBatchReader.from_batches(table.schema,
                                                               table.to_batches(50)),
        "RecordBatch": table.combine_chunks().to_batches()[0],
        "arrow stream": _Stream(table),
        "dict": {"user": users, "item": items, "value": values, "time": times},
    }
    for name, src in sources.items():
        data = read_interactions(src, **COLS, time_col="time")
        check_canonical(data)
        assert triples(data) == expected, name


class _Stream:
    """Any object speaking the Arrow C stream interface (polars, duckdb...)."""

    def __init__(self, table):
        self.table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self.table.__arrow_c_stream__(requested_schema)


def test_pandas_nullable_and_float_ids():
    pd = pytest.importorskip("pandas")
    # a NaN somewhere makes pandas store integer ids as floats: they stay integers
    df = pd.DataFrame({"user": [10.0, 11.0, 10.0], "item": pd.array([5, 6, 7], dtype="Int64"),
                       "value": [1, 2, 3]})
    data = read_interactions(df, **COLS)
    assert data.users.ids.dtype == np.int64 and data.users.ids.tolist() == [10, 11]
    assert triples(data) == {(10, 5): (1.0, None), (11, 6): (2.0, None), (10, 7): (3.0, None)}
    df.loc[1, "user"] = 11.5
    with pytest.raises(BadRowError, match=r"DataFrame, row 1 \(0-based\), column 'user': "
                                          r"the id 11.5 is not a whole number"):
        read_interactions(df, **COLS)


def test_mixed_python_objects_in_a_column():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": [1, "a"], "item": [1, 2]})
    with pytest.raises(TypeError, match=r"column 'user' of the DataFrame cannot be converted to "
                                        r"Arrow .*all integers or all strings"):
        read_interactions(df, user_col="user", item_col="item")
    with pytest.raises(TypeError, match=r"column 'user' of the dict of arrays cannot be"):
        read_interactions({"user": np.array([1, "a"], dtype=object), "item": np.array([1, 2])},
                          user_col="user", item_col="item")


def test_without_value_column_every_row_counts_one():
    data = read_interactions({"u": np.array([1, 1, 2]), "i": np.array(["a", "a", "b"])},
                             user_col="u", item_col="i")
    assert triples(data) == {(1, "a"): (2.0, None), (2, "b"): (1.0, None)}
    data = read_interactions({"u": np.array([1, 1, 2]), "i": np.array(["a", "a", "b"])},
                             user_col="u", item_col="i", aggregate="max")
    assert triples(data) == {(1, "a"): (1.0, None), (2, "b"): (1.0, None)}


def test_dtype_float64_and_float32_sums():
    u, i = np.zeros(3, np.int64), np.zeros(3, np.int64)
    v = np.array([1e8, 1.0, 1.0])
    d64 = read_interactions({"u": u, "i": i, "v": v}, user_col="u", item_col="i", value_col="v",
                            dtype=np.float64)
    assert d64.matrix.dtype == np.float64 and d64.matrix.data.tolist() == [1e8 + 2]
    d32 = read_interactions({"u": u, "i": i, "v": v}, user_col="u", item_col="i", value_col="v")
    # summed in float64, rounded once (float32 sums in order would give 1e8)
    assert d32.matrix.data[0] == np.float32(1e8 + 2)


def test_mixed_int_and_text_ids_become_text(tmp_path):
    a = write(tmp_path / "a.parquet", np.array([1, 2]), np.array([5, 6]), np.array([1.0, 2.0]))
    b = write(tmp_path / "b.parquet", np.array(["x", "1"]), np.array([5, 7]),
              np.array([3.0, 4.0]))
    data = read_interactions([a, b], **COLS)
    assert data.users.ids.tolist() == ["1", "2", "x"]
    assert triples(data) == {("1", 5): (1.0, None), ("2", 6): (2.0, None),
                             ("x", 5): (3.0, None), ("1", 7): (4.0, None)}


def test_ids_beyond_int64_stay_exact(tmp_path):
    big = np.array([2**64 - 1, 2**63 + 5], dtype=np.uint64)
    path = write(tmp_path / "x.parquet", big, np.array([1, 2]), np.array([1.0, 2.0]))
    as_text = sorted([str(2**64 - 1), str(2**63 + 5)])  # text ids sort as text
    assert read_interactions(path, **COLS).users.ids.tolist() == as_text
    path = tmp_path / "x.csv"
    path.write_text(f"user,item,value\n{2**64 - 1},1,1\n{2**63 + 5},2,2\n")
    assert read_interactions(path, **COLS).users.ids.tolist() == as_text


def test_id_type_str_keeps_ids_as_written(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("user,item,value\n007,1,1\n7,01,2\n07,1,3\n")
    assert read_interactions(path, **COLS).users.ids.tolist() == [7]  # auto: integers
    data = read_interactions(path, **COLS, id_type="str")
    assert data.users.ids.tolist() == ["007", "07", "7"] and data.items.ids.tolist() == ["01", "1"]
    assert triples(data) == {("007", "1"): (1.0, None), ("7", "01"): (2.0, None),
                             ("07", "1"): (3.0, None)}
    # integer columns become their decimal text
    table = pa.table({"user": [7, 8], "item": [1, 1]})
    assert read_interactions(table, user_col="user", item_col="item",
                             id_type="str").users.ids.tolist() == ["7", "8"]
    # a map of text ids (a model's) reads the file's ids as text: "007" is not "7"
    known = read_interactions(path, **COLS, users=IdMap(["7", "007"]))
    assert known.matrix.toarray().tolist() == [[2.0], [1.0]]  # items: 01 and 1 are 1
    assert known.report["rows_unknown_ids"] == 1


def test_id_type_int_refuses_text_ids_with_the_row(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("user,item,value\n007,1,1\n+7,2,2\nu-1,1,1\n0x10,1,1\n")
    with pytest.raises(BadRowError, match=rf"^{path}, line 4, column 'user': the id 'u-1' is not "
                                          rf"a 64-bit integer \(id_type='int'"):
        read_interactions(path, **COLS, id_type="int")
    data = read_interactions(path, **COLS, id_type="int", on_bad_rows="skip")
    assert data.users.ids.tolist() == [7] and data.report["bad_rows_skipped"] == 2
    big = pa.table({"user": pa.array([2**64 - 1, 3], pa.uint64()), "item": [1, 2]})
    with pytest.raises(BadRowError, match=r"row 0 \(0-based\), column 'user': the id is "
                                          r"beyond 2\*\*63-1"):
        read_interactions(big, user_col="user", item_col="item", id_type="int")
    with pytest.raises(ValueError, match=r"id_type must be one of 'auto', 'str', 'int'; got 'x'"):
        read_interactions(path, **COLS, id_type="x")
    with pytest.raises(ValueError, match=r"id_type='int' but users holds str ids; pass "
                                         r"id_type='str' or 'auto'"):
        read_interactions(path, **COLS, id_type="int", users=IdMap(["a"]))


def test_text_after_integer_looking_block_rereads_as_text(tmp_path, monkeypatch):
    # the first CSV block types the ids as integers; a later block holds text ids
    monkeypatch.setattr(_sources, "CSV_BLOCK", 64)
    rows = [f"{k},{k % 3},1" for k in range(20)] + ["u-x,1,2", "7,0,1"]
    path = tmp_path / "x.csv"
    path.write_text("user,item,value\n" + "\n".join(rows) + "\n")
    data = read_interactions(path, **COLS)
    assert data.users.is_str and "u-x" in data.users.ids.tolist()
    assert data.report["rows_read"] == 22 and data.report["nnz"] == 22
    assert triples(data)[("7", 1)] == (1.0, None) and triples(data)[("u-x", 1)] == (2.0, None)


def test_time_column_changing_type_in_a_later_block(tmp_path, monkeypatch):
    monkeypatch.setattr(_sources, "CSV_BLOCK", 64)
    rows = [f"{k},1,1,{1000 + k}" for k in range(20)] + ["20,1,1,1020.5", "21,1,1,later"]
    path = tmp_path / "x.csv"
    path.write_text("user,item,value,time\n" + "\n".join(rows) + "\n")
    with pytest.raises(BadRowError, match=rf"^{path}, line 23, column 'time': the time 'later' "
                                          rf"is neither a number nor an ISO 8601 date-time"):
        read_interactions(path, **COLS, time_col="time")
    data = read_interactions(path, **COLS, time_col="time", on_bad_rows="skip")
    assert data.timestamps.dtype == np.float64
    assert data.timestamps.tolist() == [1000.0 + k for k in range(20)] + [1020.5]
    assert data.report["bad_rows_skipped"] == 1


def test_empty_file(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("user,item,value\n")
    data = read_interactions(path, **COLS)
    assert data.matrix.shape == (0, 0) and data.report["rows_read"] == 0
    path.write_text("user,item,value,time\n1,2,,5\n")
    data = read_interactions(path, **COLS, time_col="time", on_bad_rows="skip")
    assert data.matrix.shape == (0, 0) and data.timestamps.size == 0
    assert data.report["bad_rows_skipped"] == 1 and data.report["first_bad_row"] == \
        f"{path}, line 2, column 'value': the value is missing"


def test_times_from_dates_and_text(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("user,item,value,time\n1,1,1,2020-01-01T00:00:10\n1,1,1,2020-01-01T00:00:05\n"
                    "2,1,1,2021-06-01T00:00:00\n")
    data = read_interactions(path, **COLS, time_col="time")
    assert data.timestamps.tolist() == [1577836810, 1622505600]
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": [1, 2], "item": [1, 1], "value": [1, 1],
                       "time": pd.to_datetime(["2020-01-01 00:00:10", "2021-06-01 00:00:00"])})
    assert read_interactions(df, **COLS, time_col="time").timestamps.tolist() == \
        [1577836810, 1622505600]
    floats = {"user": np.array([1, 1]), "item": np.array([1, 2]), "value": np.ones(2),
              "time": np.array([1.5, 2.25])}
    assert read_interactions(floats, **COLS, time_col="time").timestamps.tolist() == [1.5, 2.25]


# ---------------------------------------------------------------- aggregation and filters

@pytest.mark.parametrize("rule", ["sum", "max", "last", "count"])
def test_aggregate_rules(tmp_path, rule):
    users, items, values, times = random_rows(500, n_users=10, n_items=6, seed=3)
    values[::7] *= -1  # max and last must see the order and the sign
    path = write(tmp_path / "x.parquet", users, items, values, times)
    data = read_interactions(path, **COLS, time_col="time", aggregate=rule)
    check_canonical(data)
    assert triples(data) == reference(users, items, values, times, rule)
    assert data.report["duplicates_aggregated"] == len(users) - len(set(zip(users, items)))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 60), n_users=st.integers(1, 6), n_items=st.integers(1, 6),
       rule=st.sampled_from(["sum", "max", "last", "count"]), min_u=st.integers(1, 3),
       min_i=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_aggregation_and_filters_match_a_reference(n, n_users, n_items, rule, min_u, min_i,
                                                   seed):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n) * 10
    items = rng.choice(np.array(["a", "b", "c", "d", "e", "f"])[:n_items], n)
    values = rng.integers(-2, 3, n).astype(float)  # zeros and cancelling sums happen
    times = rng.integers(0, 100, n)
    data = read_interactions({"u": users, "i": items, "v": values, "t": times},
                             user_col="u", item_col="i", value_col="v", time_col="t",
                             aggregate=rule, min_user_interactions=min_u,
                             min_item_interactions=min_i)
    check_canonical(data)
    ref = reference(users, items, values, times, rule)
    count_u, count_i = defaultdict(int), defaultdict(int)
    for u, i in ref:
        count_u[u] += 1
        count_i[i] += 1
    kept = {(u, i): v for (u, i), v in ref.items() if count_u[u] >= min_u and count_i[i] >= min_i}
    assert triples(data) == kept
    assert data.users.ids.tolist() == sorted(u for u in count_u if count_u[u] >= min_u)
    assert data.items.ids.tolist() == sorted(i for i in count_i if count_i[i] >= min_i)
    assert data.report["users_filtered"] == sum(1 for u in set(users.tolist())
                                                if count_u[u] < min_u)


def test_zero_after_aggregation_is_dropped():
    data = read_interactions({"u": np.array(["a", "a", "b", "c"]), "i": np.array([1, 1, 1, 2]),
                              "v": np.array([2.0, -2.0, 3.0, 0.0])},
                             user_col="u", item_col="i", value_col="v")
    check_canonical(data)
    assert triples(data) == {("b", 1): (3.0, None)}
    assert data.report["zeros_dropped"] == 2
    # users and items left with no entries are not in the built maps
    assert data.users.ids.tolist() == ["b"] and data.items.ids.tolist() == [1]
    assert data.report["users_filtered"] == 2 and data.report["items_filtered"] == 1


def test_min_value_and_min_interactions():
    u = np.array([1, 1, 1, 2, 2, 3, 4, 4, 4, 4])
    i = np.array([1, 2, 3, 1, 2, 1, 1, 2, 3, 3])
    v = np.array([5, 5, 5, 5, 0.5, 5, 5, 5, 5, 5.0])
    src = {"u": u, "i": i, "v": v}
    data = read_interactions(src, user_col="u", item_col="i", value_col="v", min_value=1,
                             min_user_interactions=2, min_item_interactions=3)
    check_canonical(data)
    rep = data.report
    assert rep["rows_below_min_value"] == 1  # (2, 2, 0.5)
    assert rep["duplicates_aggregated"] == 1  # (4, 3) twice
    # aggregated: user 1: items 1,2,3; user 2: item 1; user 3: item 1; user 4: 1,2,3
    # users 2 and 3 have 1 < 2 entries; items 2 and 3 have 2 < 3 entries; one pass
    assert rep["users_filtered"] == 2 and rep["items_filtered"] == 2
    assert rep["rows_filtered"] == 6
    assert data.users.ids.tolist() == [1, 4] and data.items.ids.tolist() == [1]
    assert triples(data) == {(1, 1): (5.0, None), (4, 1): (5.0, None)}
    count = read_interactions(src, user_col="u", item_col="i", value_col="v", min_value=1,
                              aggregate="count")
    assert triples(count)[(4, 3)] == (2.0, None) and (2, 2) not in triples(count)


def test_given_maps_drop_unknown_ids_and_keep_shape():
    users, items, values, _ = random_rows(300, str_ids=True)
    full = read_interactions({"user": users, "item": items, "value": values}, **COLS)
    umap = IdMap(np.array(["user-001", "nobody", "user-000", "user-007"]))
    imap = full.items
    data = read_interactions({"user": users, "item": items, "value": values}, **COLS,
                             users=umap, items=imap, min_item_interactions=2)
    check_canonical(data)
    assert data.users is umap and data.items is imap
    assert data.matrix.shape == (4, len(imap))
    known = np.isin(users, umap.ids)
    assert data.report["rows_unknown_ids"] == int((~known).sum())
    ref = reference(users[known], items[known], values[known])
    per_item = defaultdict(int)
    for _, it in ref:
        per_item[it] += 1
    ref = {k: v for k, v in ref.items() if per_item[k[1]] >= 2}
    assert triples(data) == ref
    assert data.matrix[[1]].nnz == 0  # "nobody": an empty row
    # filtered users of a given map keep their row, emptied
    counts = np.diff(full.matrix.indptr)[full.users.index(umap.ids, missing="ignore")[[0, 2, 3]]]
    few = int(np.sort(counts)[1])  # the middle count: one user below, two at or above
    data = read_interactions({"user": users, "item": items, "value": values}, **COLS,
                             users=umap, min_user_interactions=few)
    check_canonical(data)
    per_user = np.diff(data.matrix.indptr)
    assert data.matrix.shape[0] == 4 and per_user[1] == 0
    assert data.report["users_filtered"] == int((counts < few).sum())
    assert all(c == 0 or c >= few for c in per_user)
    # a map of ints against text ids compares as text
    data = read_interactions({"u": np.array(["1", "2", "x"]), "i": np.array([0, 0, 0])},
                             user_col="u", item_col="i", users=IdMap([2, 1, 3]))
    assert data.matrix.toarray().ravel().tolist() == [1, 1, 0]
    assert data.report["rows_unknown_ids"] == 1
    # and a map of text ids against integer ids too
    data = read_interactions({"u": np.array([1, 2, 3]), "i": np.array([0, 0, 0])},
                             user_col="u", item_col="i", users=IdMap(["2", "x", "1"]))
    assert data.matrix.toarray().ravel().tolist() == [1, 0, 1]
    with pytest.raises(TypeError, match="users must be None, an IdMap or an array of unique ids"):
        read_interactions({"u": np.array([1]), "i": np.array([1])}, user_col="u",
                          item_col="i", users=[1, 1])


# ---------------------------------------------------------------- bad rows

BAD_CSV = [
    # (the row, column named, reason)
    ("user-2,,1.5", "item", "the id is missing"),
    (",i,1.5", "user", "the id is missing"),
    ("user-2,i,abc", "value", "the value 'abc' is not a number"),
    ("user-2,i,NaN", "value", "the value is NaN"),
    ("user-2,i,", "value", "the value is missing"),
    ("user-2,i,-inf", "value", "the value is -inf (not finite)"),
]


@pytest.mark.parametrize("row,column,reason", BAD_CSV, ids=[r[2] for r in BAD_CSV])
def test_bad_csv_rows(tmp_path, row, column, reason):
    path = tmp_path / "bad.csv"
    # a blank line before the bad row: line numbers count it
    path.write_text("user,item,value\nuser-1,i,1\n\nuser-1,j,2\n" + row + "\nuser-3,k,1\n")
    with pytest.raises(BadRowError) as err:
        read_interactions(path, **COLS)
    msg = str(err.value)
    assert msg.startswith(f"{path}, line 5, column '{column}': {reason}.")
    assert "on_bad_rows='skip'" in msg
    assert (err.value.source, err.value.row, err.value.column) == (str(path), "line 5", column)
    assert isinstance(err.value, ValueError)
    data = read_interactions(path, **COLS, on_bad_rows="skip")
    check_canonical(data)
    assert data.report["bad_rows_skipped"] == 1 and data.report["rows_read"] == 4
    assert data.report["first_bad_row"] == f"{path}, line 5, column '{column}': {reason}"
    assert triples(data) == {("user-1", "i"): (1.0, None), ("user-1", "j"): (2.0, None),
                             ("user-3", "k"): (1.0, None)}


@pytest.mark.parametrize("scan", [5, 64, 1 << 22])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_line_numbers_count_blank_lines(tmp_path, monkeypatch, scan, newline):
    monkeypatch.setattr(_sources, "SCAN_BLOCK", scan)
    lines = ["", "user,item,value"] + [f"{k},{k},1" for k in range(40)]
    for at in (5, 6, 20, 33):
        lines.insert(at, "")
    bad = lines.index("30,30,1")
    lines[bad] = "30,30,NaN"
    path = tmp_path / "x.csv"
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    with pytest.raises(BadRowError, match=rf"^{path}, line {bad + 1}, column 'value': the value "
                                          rf"is NaN"):
        read_interactions(path, **COLS)
    lines[bad] = "30,30"
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    with pytest.raises(BadRowError, match=rf"^{path}, line {bad + 1}: the row has 2 fields"):
        read_interactions(path, **COLS)
    assert read_interactions(path, **COLS, on_bad_rows="skip").report["first_bad_row"] \
        .startswith(f"{path}, line {bad + 1}: the row has 2 fields")


def test_wrong_field_count(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("user\titem\tvalue\n1\t2\t3\n1\t3\n\n2\t2\t1\t9\n4\t4\t4\n")
    with pytest.raises(BadRowError, match=rf"^{path}, line 3: the row has 2 fields where the "
                                          rf"header has 3 \('1\\t3'\)\. Fix or remove"):
        read_interactions(path, **COLS)
    data = read_interactions(path, **COLS, on_bad_rows="skip")
    check_canonical(data)
    assert data.report["bad_rows_skipped"] == 2 and data.report["rows_read"] == 4
    assert triples(data) == {(1, 2): (3.0, None), (4, 4): (4.0, None)}


def test_bad_row_after_skipped_rows_and_later_blocks(tmp_path, monkeypatch):
    # small blocks: the bad value sits in a later block, after a skipped short row;
    # skip mode re-reads the value column as text
    monkeypatch.setattr(_sources, "CSV_BLOCK", 64)
    lines = ["user,item,value"] + [f"{k},{k},1" for k in range(30)]
    lines[10] = "9,9"
    lines[25] = "24,24,x1"
    lines[28] = "27,,1"
    path = tmp_path / "x.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadRowError, match=rf"^{path}, line 11: the row has 2 fields"):
        read_interactions(path, **COLS)
    data = read_interactions(path, **COLS, on_bad_rows="skip")
    check_canonical(data)
    assert data.report["bad_rows_skipped"] == 3 and data.report["nnz"] == 27
    lines[10] = "9,9,1"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadRowError, match=rf"^{path}, line 26, column 'value': the value 'x1' "
                                          rf"is not a number"):
        read_interactions(path, **COLS)
    data = read_interactions(path, **COLS, on_bad_rows="skip")
    assert data.report["first_bad_row"] == f"{path}, line 26, column 'value': the value 'x1' " \
                                           f"is not a number"
    lines[25] = "24,24,1"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadRowError, match=rf"^{path}, line 29, column 'item': the id is missing"):
        read_interactions(path, **COLS)


def test_bad_rows_in_parquet_and_tables(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"user": [1, 2, None, 4], "item": [1, 1, 1, 1],
                             "value": [1.0, float("nan"), 1.0, 2.0]}), path)
    with pytest.raises(BadRowError, match=rf"^{path}, row 2, column 'value': the value is NaN"):
        read_interactions(path, **COLS)
    data = read_interactions(path, **COLS, on_bad_rows="skip")
    assert data.report["bad_rows_skipped"] == 2 and triples(data) == {(1, 1): (1.0, None),
                                                                     (4, 1): (2.0, None)}
    table = pa.table({"user": ["a", "b", ""], "item": [1, 1, 1], "value": ["1", "2.5", "3"]})
    with pytest.raises(BadRowError, match=r"^the pyarrow Table, row 2 \(0-based\), column "
                                          r"'user': the id is missing"):
        read_interactions(table, **COLS)
    table = pa.table({"user": ["a", "b"], "item": [1, 1], "value": ["1", "2,5"]})
    with pytest.raises(BadRowError, match=r"row 1 \(0-based\), column 'value': the value '2,5' "
                                          r"is not a number"):
        read_interactions(table, **COLS)
    with pytest.raises(BadRowError, match=r"the dict of arrays, row 1 \(0-based\), column "
                                          r"'time': the time 'soon' is neither a number nor"):
        read_interactions({"user": np.array([1, 2]), "item": np.array([1, 1]),
                           "time": np.array(["2020-01-01", "soon"])},
                          user_col="user", item_col="item", time_col="time")


def test_value_too_large_for_float32():
    src = {"user": np.array([1, 2]), "item": np.array([1, 1]), "value": np.array([1.0, 1e39])}
    with pytest.raises(BadRowError, match=r"row 1 \(0-based\), column 'value': the value 1e\+39 "
                                          r"is too large for float32"):
        read_interactions(src, **COLS)
    assert read_interactions(src, **COLS, dtype=np.float64).matrix.data.tolist() == [1.0, 1e39]


def test_missing_column_lists_the_existing_ones(tmp_path):
    users, items, values, _ = random_rows(10)
    for fmt in ("csv", "parquet"):
        path = write(tmp_path / f"x.{fmt}", users, items, values)
        with pytest.raises(MissingColumnError,
                           match=rf"^{path} has no column 'rating' \(given as value_col\); its "
                                 rf"columns are: 'user', 'item', 'value'$"):
            read_interactions(path, user_col="user", item_col="item", value_col="rating")
    with pytest.raises(MissingColumnError, match=r"^the pyarrow Table has no column 'uid' "
                                                 r"\(given as user_col\); its columns are: 'a'"):
        read_interactions(pa.table({"a": [1]}), user_col="uid", item_col="a")


def test_unknown_format_and_bad_arguments(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_text("")
    with pytest.raises(ValueError, match=r"cannot tell the format of x\.xlsx: its extension is "
                                         r"none of .* and it is empty; pass format='csv' or "
                                         r"'tsv' \(with delimiter= .*\) or format='parquet'"):
        read_interactions(path, **COLS)
    with pytest.raises(ValueError, match=r"format must be one of 'csv', 'tsv', 'parquet'; "
                                         r"got 'xlsx'"):
        read_interactions(path, **COLS, format="xlsx")
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("user,item\n1,2\n")
    with pytest.raises(ValueError, match=r"x\.parquet cannot be read as Parquet"):
        read_interactions(not_parquet, **COLS)
    src = {"user": np.array([1]), "item": np.array([1]), "value": np.array([1.0])}
    cases = [
        (dict(aggregate="mean"), ValueError, r"aggregate must be one of 'sum', 'max', 'last', "
                                             r"'count'; got 'mean'"),
        (dict(on_bad_rows="warn"), ValueError, r"on_bad_rows must be one of 'error', 'skip'"),
        (dict(min_user_interactions=0), ValueError, r"min_user_interactions must be >= 1, got 0"),
        (dict(min_value="1"), TypeError, r"min_value must be None or a number, got '1'"),
        (dict(min_value=float("nan")), ValueError, r"min_value must be a finite number, got nan"),
        (dict(item_col="user"), ValueError, r"user_col and item_col must name different "
                                            r"columns, both are 'user'"),
        (dict(user_col=None), TypeError, r"user_col must be a column name or a 0-based "
                                                  r"position, got None"),
        (dict(dtype=np.int32), TypeError, r"dtype must be numpy.float32 or numpy.float64"),
        (dict(delimiter=","), ValueError, r"delimiter=',' applies to files; source is a dict"),
    ]
    for extra, exc, match in cases:
        with pytest.raises(exc, match=match):
            read_interactions(src, **{**COLS, **extra})
    with pytest.raises(TypeError, match=r"source must be a file or directory path"):
        read_interactions(3.5, **COLS)
    with pytest.raises(TypeError, match=r"value_col 'value' in the pyarrow Table must hold "
                                        r"numbers, got Arrow type list<item: double>"):
        read_interactions(pa.table({"user": [1], "item": [1], "value": [[1.0]]}), **COLS)
    with pytest.raises(ValueError, match=r"equal lengths: 'user' has 2, 'item' has 1"):
        read_interactions({"user": np.array([1, 2]), "item": np.array([1])},
                          user_col="user", item_col="item")


# ---------------------------------------------------------------- IdMap

def test_idmap_lookups():
    m = IdMap(np.array([30, 10, 20]))
    assert len(m) == 3 and m.ids.dtype == np.int64 and not m.is_str
    assert m.index(10) == 1 and isinstance(m.index(10), int)
    assert m.index([20, 30, 20]).tolist() == [2, 0, 2]
    assert m.index(np.array([[10], [30]])).shape == (2, 1)
    assert m.index([10, 99, 98], missing="ignore").tolist() == [1, -1, -1]
    with pytest.raises(UnknownIdError, match=r"id 99 is not in the map \(2 of 3 ids are "
                                             r"unknown; the map has 3\); pass missing='ignore'"):
        m.index([10, 99, 98])
    with pytest.raises(KeyError):
        m.index(99)
    assert m.raw(2) == 20 and isinstance(m.raw(2), int)
    assert m.raw([0, 2]).tolist() == [30, 20]
    assert m.raw([0, -1], fill=0).tolist() == [30, 0]
    with pytest.raises(ValueError, match=r"indices holds -1 \(1 times\): pass fill="):
        m.raw([0, -1])
    with pytest.raises(ValueError, match=r"indices: 3 is outside 0..2 \(the map has 3 ids\)"):
        m.raw([3])
    with pytest.raises(TypeError, match=r"raw must be integer ids: this map holds integer ids"):
        m.index("a")
    s = IdMap(["b", "a", "ć"])
    assert s.is_str and s.ids.dtype == TEXT
    assert s.index("ć") == 2 and s.raw(0) == "b" and s.raw([1, -1], fill="").tolist() == ["a", ""]
    with pytest.raises(TypeError, match=r"fill must be a single str id"):
        s.raw([-1], fill=0)
    with pytest.raises(TypeError, match=r"raw must be string ids"):
        s.index(np.array([1, 2]))
    assert IdMap([]).index([1, 2], missing="ignore").tolist() == [-1, -1]


def test_idmap_errors():
    with pytest.raises(ValueError, match=r"ids must be unique; 2 repeat, the first 'a'"):
        IdMap(["a", "b", "a", "a"])
    with pytest.raises(ValueError, match=r"ids must be a 1-D array, got shape \(1, 2\)"):
        IdMap([[1, 2]])
    with pytest.raises(TypeError, match=r"ids must be integer or string ids, got dtype float64"):
        IdMap([1.5, 2.0])
    with pytest.raises(TypeError, match=r"got bytes"):
        IdMap(np.array([b"a"]))
    with pytest.raises(TypeError, match=r"ids must all be integers or all be strings, got 'a' "
                                        r"\(str\) among them"):
        IdMap(np.array([1, "a"], dtype=object))
    with pytest.raises(ValueError, match=r"integer ids must fit in int64"):
        IdMap(np.array([2**64 - 1], dtype=np.uint64))
    with pytest.raises(ValueError, match=r"missing must be one of 'error', 'ignore'"):
        IdMap([1]).index(1, missing="skip")


def test_idmap_extend_eq_pickle_npz(tmp_path):
    m = IdMap([5, 3])
    e = m.extend([3, 9, 7, 9])
    assert e.ids.tolist() == [5, 3, 9, 7] and m.ids.tolist() == [5, 3]
    assert m.extend([3]) == m and m.extend([3]) is not m
    assert IdMap([]).extend(["x", "y"]).ids.tolist() == ["x", "y"]
    with pytest.raises(TypeError, match="raw_new must be integer ids"):
        m.extend(["x"])
    assert IdMap(["a"]) != IdMap([1]) and IdMap([1, 2]) == IdMap(np.array([1, 2], np.int32))
    assert pickle.loads(pickle.dumps(e)) == e
    s = IdMap(["ab", "c"])
    np.savez(tmp_path / "m.npz", **id_map_arrays(s, "users"), **id_map_arrays(m, "items"))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        assert id_map_from_arrays(f, "users") == s and id_map_from_arrays(f, "items") == m
    ids = np.array([3, 1])
    IdMap(ids)
    ids[0] = 2  # the caller's array stays writable and the map keeps its own copy
    with pytest.raises(ValueError):
        m.ids[0] = 1


# ---------------------------------------------------------------- plumbing

def test_progress_bar_on_stderr(tmp_path, capsys):
    users, items, values, _ = random_rows(50)
    path = write(tmp_path / "x.csv", users, items, values)
    read_interactions(path, **COLS, progress=True)
    assert "reading" in capsys.readouterr().err


def test_import_fastwals_does_not_import_pyarrow():
    code = "import sys, fastwals, fastwals.io; assert 'pyarrow' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True,
                   cwd=Path(__file__).resolve().parents[1])


def test_interactions_is_a_dataclass():
    data = read_interactions({"u": np.array([1]), "i": np.array([2])}, user_col="u",
                             item_col="i")
    assert isinstance(data, Interactions) and data.timestamps is None
    assert set(data.report) >= {"rows_read", "bad_rows_skipped", "duplicates_aggregated",
                                "rows_below_min_value", "users_filtered", "items_filtered",
                                "rows_filtered", "users", "items", "nnz"}


def _data_dir():
    env = os.environ.get("FASTWALS_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.data
def test_lastfm_user_artists():
    path = _data_dir() / "hetrec2011-lastfm-2k" / "user_artists.dat"
    if not path.exists():
        pytest.skip(f"{path} not found")
    # .dat: the tab is told from the first lines (CRLF line ends)
    data = read_interactions(path, user_col="userID", item_col="artistID", value_col="weight")
    check_canonical(data)
    assert data.matrix.shape == (1892, 17632) and data.matrix.nnz == 92834
    assert data.users.ids.dtype == np.int64
    u, i = data.users.index(2), data.items.index(51)
    assert data.matrix[u, i] == 13883
    by_position = read_interactions(path, user_col=0, item_col=1, value_col=2, format="tsv")
    assert by_position.users == data.users and by_position.items == data.items
    assert (by_position.matrix != data.matrix).nnz == 0


@pytest.mark.data
def test_movielens_1m_ratings_dat():
    """ratings.dat as GroupLens ships it: "::", no header, sniffed. The copy in the
    shared data is ratings.dat.gz, the first 487,650 lines (users 1-2999, see its
    SOURCES.md); the whole file has 1,000,209 rows."""
    directory = _data_dir() / "ml-1m"
    paths = [directory / n for n in ("ratings.dat", "ratings.dat.gz") if (directory / n).exists()]
    if not paths:
        pytest.skip(f"no ratings.dat(.gz) in {directory}")
    data = read_interactions(paths[0], user_col=0, item_col=1, value_col=2, time_col=3,
                             header=False)
    check_canonical(data)
    shape = {1_000_209: (6040, 3706), 487_650: (2999, 3615)}[data.report["rows_read"]]
    assert data.matrix.shape == shape and data.matrix.nnz == data.report["rows_read"]
    assert data.report["duplicates_aggregated"] == 0 and data.report["bad_rows_skipped"] == 0
    assert data.users.ids.dtype == data.items.ids.dtype == np.int64
    u, i = data.users.index(1), data.items.index(1193)  # its first line: 1::1193::5::978300760
    assert data.matrix[u, i] == 5
    lo, hi = data.matrix.indptr[u], data.matrix.indptr[u + 1]
    assert data.timestamps[lo + np.searchsorted(data.matrix.indices[lo:hi], i)] == 978300760
    assert set(np.unique(data.matrix.data).tolist()) == {1, 2, 3, 4, 5}


@pytest.mark.data
def test_movielens_1m_pairs_without_header():
    """All 1,000,209 (user, movie) pairs of ML-1M, a headerless TSV: columns by position."""
    path = _data_dir() / "ml-1m" / "user_movie_pairs.tsv.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    data = read_interactions(path, user_col=0, item_col=1, header=False)
    check_canonical(data)
    assert data.report["rows_read"] == data.matrix.nnz == 1_000_209
    assert data.matrix.shape == (6040, 3706)


# ---------------------------------------------------------------- delimited text (_delimited)

@pytest.mark.parametrize("text, delimiter", [
    ("user\titem\tplays\r\n1\t2\t3\r\n", "\t"),
    ("1::1193::5::978300760\n1::661::3::978302109\n", "::"),
    ("u,i,v\n1,2,3\n", ","),
    ('u,i,v\n1,"a,b",3\n2,"c;d|e",4\n', ","),  # commas inside quotes are not counted
    ("u;i;v\n1;2;3,5\n", ";"),  # decimal commas: not on every line
    ("u|i|v\n1|2|3\n", "|"),
    # "|" inside the genres (not as often on every line), "::" twice on every line
    ("1::Toy Story (1995)::Animation|Children's|Comedy\n2::Heat (1995)::Action|Crime\n", "::"),
])
def test_sniff_finds_the_delimiter(text, delimiter):
    from fastwals._delimited import sniff

    assert sniff(text.encode(), True) == (delimiter, None)
    # a sample cut in the middle of a line: the cut line is not counted
    assert sniff(text.encode() + b"9,9", False) == (delimiter, None)


def test_sniff_says_why_it_cannot_tell():
    from fastwals._delimited import sniff

    assert sniff(b"", True) == (None, "it is empty")
    assert sniff(b"  \n\n", True) == (None, "it is empty")
    assert sniff(b"x" * 100, False) == (None, "its first 64 KiB hold no complete line")
    delimiter, why = sniff(b"u\ti,v\n1\t2,3\n", True)
    assert delimiter is None and why.startswith("its first 2 lines could be split by tab and ','")
    delimiter, why = sniff(b"a,b\nc,d,e\n", True)
    assert delimiter is None and why == (
        "no delimiter occurs the same number of times on each of its first 2 lines (tried "
        "tab, '::', ',', ';', '|'; found ',' 1 to 2 time(s) per line)")
    delimiter, why = sniff(b"1 2\n3 4\n", True)
    assert why.endswith("found none of them); spaces occur as often on every line: pass "
                        "delimiter=' ' if they separate the fields")


@pytest.mark.parametrize("block", [1, 3, 7, 1 << 20])
def test_substituted_stream_replaces_like_one_replace(block):
    from fastwals._delimited import Substituted

    text = b"1::2::3\r\n:::a::::b:\n\n\"q::r\"::5\n6::7\r8::9\r" * 5 + b"last::line"
    for n in (1, 2, 5, 64, -1):
        stream = Substituted(pa.BufferReader(text), b"::", b"\x1f", block=block)
        parts = []
        while True:
            part = stream.read(n)
            assert len(part) <= n or n < 0
            if not part:
                break
            parts.append(bytes(part))
        assert b"".join(parts) == text.replace(b"::", b"\x1f")
        assert stream.tell() == len(b"".join(parts))


def test_substituted_stream_collision():
    from fastwals._delimited import Collision, Substituted, substitute

    assert substitute(b"a::b") == b"\x1f"
    assert substitute(b"a\x1fb", b"\x1e") == b"\x1d"
    stream = Substituted(pa.BufferReader(b"1::2\n" * 10 + b"3\x1f4\n"), b"::", b"\x1f", block=8)
    stream.read(8)
    with pytest.raises(Collision):
        stream.read(-1)


# ---------------------------------------------------------------- headerless files, "::", sniffing

def write_lines(path, lines, newline="\n"):
    """Text lines to path (gzip-compressed when it ends with .gz)."""
    import gzip

    data = (newline.join(lines) + newline).encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.mark.parametrize("str_ids", [False, True], ids=["int-ids", "str-ids"])
@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_headerless_files_by_position(tmp_path, fmt, str_ids):
    users, items, values, times = random_rows(str_ids=str_ids)
    table = pa.table({"time": times, "user": users, "x": np.zeros(len(users)), "value": values,
                      "item": items})
    path = tmp_path / f"x.{fmt}"
    pcsv.write_csv(table, path, write_options=pcsv.WriteOptions(
        include_header=False, delimiter="\t" if fmt == "tsv" else ",",
        quoting_style="none" if fmt == "tsv" else "needed"))
    data = read_interactions(path, user_col=1, item_col=4, value_col=3, time_col=0,
                             header=False)
    check_canonical(data)
    assert data.users.ids.dtype == (TEXT if str_ids else np.int64)
    assert triples(data) == reference(users, items, values, times)
    assert data.report["rows_read"] == len(users)  # the first line is data
    assert data.timestamps.dtype == np.int64
    # numpy integers are positions too; without a value column every row counts 1
    counted = read_interactions(path, user_col=np.int64(1), item_col=np.int32(4), header=False)
    assert counted.matrix.sum() == len(users)


def test_positions_in_a_file_with_a_header(tmp_path):
    path = write_lines(tmp_path / "x.tsv", ["userID\tartistID\tweight", "2\t51\t13883",
                                            "2\t52\t11690", "3\t51\tmany"])
    with pytest.raises(BadRowError, match=rf"^{path}, line 4, column 'weight': the value "
                                          rf"'many' is not a number"):
        read_interactions(path, user_col=0, item_col="artistID", value_col=2)
    data = read_interactions(path, user_col=0, item_col="artistID", value_col=2,
                             on_bad_rows="skip")
    assert triples(data) == {(2, 51): (13883.0, None), (2, 52): (11690.0, None)}
    with pytest.raises(ValueError, match=r"user_col=0 and item_col='userID' are the same column "
                                         r"of .*x\.tsv \('userID'\); they must name different"):
        read_interactions(path, user_col=0, item_col="userID")
    with pytest.raises(MissingColumnError, match=r"x\.tsv has no column 3 \(given as value_col=3, "
                                                 r"a 0-based position\); it has 3 column\(s\), "
                                                 r"by position: 0 'userID', 1 'artistID', "
                                                 r"2 'weight'$"):
        read_interactions(path, user_col=0, item_col=1, value_col=3)
    table = pa.table({"a": [1, 2], "b": ["x", "y"], "c": [1.0, 2.0]})
    assert triples(read_interactions(table, user_col=1, item_col=0, value_col=2)) == \
        {("x", 1): (1.0, None), ("y", 2): (2.0, None)}
    with pytest.raises(TypeError, match=r"value_col 2 \('b'\) in the pyarrow Table must hold "
                                        r"numbers"):
        read_interactions(pa.table({"a": [1], "c": [1], "b": [[1.0]]}), user_col=0,
                          item_col=1, value_col=2)
    dup = write_lines(tmp_path / "dup.csv", ["u,i,u", "1,2,3"])
    with pytest.raises(ValueError, match=r"dup\.csv has 2 columns named 'u' \(at positions 0, "
                                         r"2\): user_col=2 cannot tell them apart"):
        read_interactions(dup, user_col=2, item_col=1)


def test_headerless_bad_rows_and_line_numbers(tmp_path):
    lines = [f"{k},{k % 4},1,{100 + k}" for k in range(12)]
    lines[3] = ""
    lines[7] = "7,3,x,107"
    path = write_lines(tmp_path / "x.csv", lines)
    with pytest.raises(BadRowError) as err:
        read_interactions(path, user_col=0, item_col=1, value_col=2, header=False)
    assert str(err.value).startswith(f"{path}, line 8, column 2 (0-based): the value 'x' is not "
                                     f"a number.")
    assert (err.value.row, err.value.column) == ("line 8", 2)
    data = read_interactions(path, user_col=0, item_col=1, value_col=2, header=False,
                             on_bad_rows="skip")
    assert data.report["first_bad_row"] == \
        f"{path}, line 8, column 2 (0-based): the value 'x' is not a number"
    assert data.report["rows_read"] == 11 and data.report["nnz"] == 10
    lines[7] = "7,3"
    write_lines(path, lines)
    with pytest.raises(BadRowError, match=rf"^{path}, line 8: the row has 2 fields where the "
                                          rf"first row has 4 \('7,3'\)"):
        read_interactions(path, user_col=0, item_col=1, header=False)
    with pytest.raises(MissingColumnError, match=r"has no column 4 \(given as time_col=4, a "
                                                 r"0-based position\); its first row has 4 "
                                                 r"field\(s\), positions 0 to 3$"):
        read_interactions(path, user_col=0, item_col=1, time_col=4, header=False)


def test_header_false_needs_positions():
    cases = [
        (dict(user_col="u", item_col=1), r"^user_col='u': header=False means the file has no "
                                         r"header line to name columns; give it as 0-based "
                                         r"positions \(e\.g\. user_col=0\), or pass header=True"),
        (dict(user_col=0, item_col="i", value_col="v"),
         r"^item_col='i', value_col='v': header=False .* give them as 0-based positions "
         r"\(e\.g\. item_col=0, value_col=1\)"),
    ]
    src = {"u": np.array([1]), "i": np.array([1])}
    for cols, match in cases:
        with pytest.raises(ValueError, match=match):
            read_interactions(src, **cols, header=False)
    with pytest.raises(ValueError, match=r"^header=False applies to files; source is a dict"):
        read_interactions(src, user_col=0, item_col=1, header=False)
    with pytest.raises(ValueError, match=r"^format='csv' and header=False apply to files"):
        read_interactions(src, user_col=0, item_col=1, format="csv", header=False)
    with pytest.raises(ValueError, match=r"header=False applies to csv/tsv files, not "
                                         r"format='parquet'"):
        read_interactions(src, user_col=0, item_col=1, format="parquet", header=False)
    with pytest.raises(TypeError, match=r"header must be True or False, got 0"):
        read_interactions(src, user_col=0, item_col=1, header=0)
    with pytest.raises(ValueError, match=r"user_col must be a column name or a 0-based position "
                                         r"\(an int >= 0\), got -1"):
        read_interactions(src, user_col=-1, item_col=1)
    with pytest.raises(TypeError, match=r"item_col must be a column name \(a non-empty str\) or "
                                        r"a 0-based position \(an int\), got True"):
        read_interactions(src, user_col=0, item_col=True)
    with pytest.raises(ValueError, match=r"user_col and item_col must name different columns, "
                                         r"both are 1"):
        read_interactions(src, user_col=1, item_col=1)


MOVIELENS = ["1::1193::5::978300760", "1::661::3::978302109", "2::1193::4::978298413",
             "2::3105::5::978298673", "3::661::2::978297018"]
ML_TRIPLES = {(1, 1193): (5.0, 978300760), (1, 661): (3.0, 978302109),
              (2, 1193): (4.0, 978298413), (2, 3105): (5.0, 978298673), (3, 661): (2.0, 978297018)}
ML_COLS = dict(user_col=0, item_col=1, value_col=2, time_col=3, header=False)


@pytest.mark.parametrize("name", ["ratings.dat", "ratings.dat.gz", "ratings", "ratings.csv"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_double_colon_files(tmp_path, name, newline):
    path = write_lines(tmp_path / name, MOVIELENS + [""], newline)  # and a blank last line
    delimiter = "::" if name == "ratings.csv" else None  # .csv says ",": given here
    data = read_interactions(path, **ML_COLS, delimiter=delimiter)
    check_canonical(data)
    assert triples(data) == ML_TRIPLES and data.report["rows_read"] == 5
    assert read_interactions(path, **ML_COLS, format="csv", delimiter="::").report["nnz"] == 5


def test_double_colon_fields_are_not_quoted(tmp_path):
    # with a multi-character delimiter quotes are text, and every "::" splits
    path = write_lines(tmp_path / "movies.dat", ['1::"Heat" (1995)::4', '2::Heat, "The"::5',
                                                 '3::"a::b"::1', "4::a:b:::2"])
    data = read_interactions(path, user_col=0, item_col=1, value_col=2, header=False,
                             delimiter="::", on_bad_rows="skip")
    assert triples(data) == {(1, '"Heat" (1995)'): (4.0, None), (2, 'Heat, "The"'): (5.0, None)}
    # 3::"a::b"::1 has 4 fields; 4::a:b:::2 is split left to right: "4", "a:b", ":2"
    assert data.report["bad_rows_skipped"] == 2
    with pytest.raises(BadRowError, match=r"line 3: the row has 4 fields where the first row "
                                          r"has 3 \('3::\"a::b\"::1'\)"):
        read_interactions(path, user_col=0, item_col=1, value_col=2, header=False,
                          delimiter="::")


def test_double_colon_bad_rows_and_header(tmp_path):
    lines = ["UserID::MovieID::Rating::Timestamp"] + MOVIELENS
    lines[4] = "2::3105::five::978298673"
    lines.insert(2, "")
    path = write_lines(tmp_path / "ratings.txt", lines, "\r\n")
    with pytest.raises(BadRowError, match=rf"^{path}, line 6, column 'Rating': the value 'five' "
                                          rf"is not a number"):
        read_interactions(path, user_col="UserID", item_col="MovieID", value_col="Rating")
    with pytest.raises(BadRowError, match=rf"^{path}, line 6, column 'Rating': the value 'five'"):
        read_interactions(path, user_col=0, item_col=1, value_col=2, delimiter="::")
    data = read_interactions(path, user_col="UserID", item_col=1, value_col="Rating",
                             time_col=3, on_bad_rows="skip")
    assert triples(data) == {k: v for k, v in ML_TRIPLES.items() if k != (2, 3105)}
    lines[5] = "3::661"
    write_lines(path, lines)
    with pytest.raises(BadRowError, match=rf"^{path}, line 6: the row has 2 fields where the "
                                          rf"header has 4 \('3::661'\)"):
        read_interactions(path, user_col=0, item_col=1, delimiter="::")


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_double_colon_in_small_blocks_reads_as_tsv(tmp_path, monkeypatch, block):
    monkeypatch.setattr(_sources, "SUB_BLOCK", block)
    monkeypatch.setattr(_sources, "CSV_BLOCK", max(block, 64))
    users, items, values, times = random_rows(200, str_ids=True)
    lines = [f"{u}\t{i}\t{v}\t{t}" for u, i, v, t in zip(users, items, values, times)]
    tsv = write_lines(tmp_path / "x.tsv", lines, "\r\n")
    dat = write_lines(tmp_path / "x.dat", [x.replace("\t", "::") for x in lines], "\r\n")
    assert triples(read_interactions(dat, **ML_COLS)) == \
        triples(read_interactions(tsv, **ML_COLS)) == reference(users, items, values, times)


def test_header_that_looks_like_data(tmp_path):
    path = write_lines(tmp_path / "ratings.dat", MOVIELENS)
    with pytest.raises(MissingColumnError, match=r"no column 'user' \(given as user_col\); its "
                                                 r"columns are: '1', '1193', '5', '978300760'; "
                                                 r"its first line looks like data: if the file "
                                                 r"has no header, pass header=False and the "
                                                 r"columns as 0-based positions$"):
        read_interactions(path, user_col="user", item_col="item")


def test_double_colon_substitute_found_later_in_the_file(tmp_path, monkeypatch):
    # the byte first chosen to stand in for "::" turns up after the first block:
    # the file is read again with another one, and the byte stays in its field
    monkeypatch.setattr(_sources, "SUB_HEAD", 64)
    monkeypatch.setattr(_sources, "CSV_BLOCK", 64)
    lines = [f"{k}::{k % 3}::1" for k in range(40)] + ["40::a\x1fb::2", "41::\x1e::3"]
    path = write_lines(tmp_path / "x.dat", lines)
    data = read_interactions(path, user_col=0, item_col=1, value_col=2, header=False)
    assert data.report["rows_read"] == 42 and data.report["nnz"] == 42
    assert triples(data)[(40, "a\x1fb")] == (2.0, None) and triples(data)[(41, "\x1e")] == \
        (3.0, None)


def test_sniffing_unknown_extensions(tmp_path):
    users, items, values, _ = random_rows(60, str_ids=True)
    expected = reference(users, items, values)
    text = write(tmp_path / "x.csv", users, items, values).read_text()
    for name, sep in [("x.dat", "\t"), ("x.txt", ";"), ("x", "|"), ("x.data", ","),
                      ("x.dat.gz", "\t"), ("x.txt.bz2", "::")]:
        lines = text.replace('"', "").replace(",", sep).splitlines()  # "::" does not unquote
        path = tmp_path / name
        data = "\n".join(lines).encode() + b"\n"
        if name.endswith(".gz"):
            import gzip
            data = gzip.compress(data)
        elif name.endswith(".bz2"):
            import bz2
            data = bz2.compress(data)
        path.write_bytes(data)
        assert triples(read_interactions(path, **COLS)) == expected, name
    # Parquet without its extension: by its first bytes
    pq.write_table(pa.table({"user": users, "item": items, "value": values}), tmp_path / "part")
    assert triples(read_interactions(tmp_path / "part", **COLS)) == expected
    # known extensions keep their meaning: a .csv is split by ","
    tsv_named_csv = write_lines(tmp_path / "y.csv", ["user\titem", "1\t2"])
    with pytest.raises(MissingColumnError, match=r"its columns are: 'user\\titem'; one column "
                                                 r"only: if its fields are not split by ',', "
                                                 r"pass delimiter=$"):
        read_interactions(tsv_named_csv, user_col="user", item_col="item")
    with pytest.raises(MissingColumnError, match=r"no column 1 \(given as item_col=1, a 0-based "
                                                 r"position\); its first row has 1 field\(s\), "
                                                 r"positions 0 to 0; one column only: if its "
                                                 r"fields are not split by tab, pass delimiter=$"):
        read_interactions(write_lines(tmp_path / "z.tsv", ["1::2"]), user_col=0, item_col=1,
                          header=False)


def test_sniffing_errors(tmp_path):
    cases = [
        (["u\ti,v", "1\t2,3"], r"its first 2 lines could be split by tab and ',' alike"),
        (["a,b", "c,d,e", "f"], r"no delimiter occurs the same number of times on each of its "
                                r"first 3 lines \(tried tab, '::', ',', ';', '\|'; found ',' 0 to "
                                r"2 time\(s\) per line\)"),
        (["1 2", "3 4"], r"found none of them\); spaces occur as often on every line: pass "
                         r"delimiter=' '"),
        ([], "it is empty"),
    ]
    for lines, why in cases:
        path = write_lines(tmp_path / "x.dat", lines) if lines else tmp_path / "x.dat"
        if not lines:
            path.write_bytes(b"")
        with pytest.raises(ValueError, match=rf"^cannot tell the format of x\.dat: its extension "
                                             rf"is none of \.csv, \.tsv, .* and .*{why}.*; pass "
                                             rf"format='csv' or 'tsv' \(with delimiter= for "
                                             rf"another separator, e\.g\. delimiter='::'\) or "
                                             rf"format='parquet'$"):
            read_interactions(path, user_col=0, item_col=1, header=False)
    # a delimiter or format given: no sniffing
    path = write_lines(tmp_path / "x.dat", ["1 2", "3 4"])
    assert read_interactions(path, user_col=0, item_col=1, header=False,
                             delimiter=" ").report["nnz"] == 2
    import gzip
    (tmp_path / "y.dat").write_bytes(gzip.compress(b"1,2\n"))
    with pytest.raises(ValueError, match=r"y\.dat cannot be read as text: it is gzip-compressed "
                                         r".*rename it to y\.dat\.gz"):
        read_interactions(tmp_path / "y.dat", user_col=0, item_col=1, header=False)
    (tmp_path / "y.dat.gz").write_bytes(b"not gzip at all\n")
    with pytest.raises(ValueError, match=r"y\.dat\.gz cannot be read to tell its format"):
        read_interactions(tmp_path / "y.dat.gz", user_col=0, item_col=1, header=False)


def test_delimiter_argument_checks(tmp_path):
    path = write_lines(tmp_path / "x.csv", ["1,2"])
    for bad, exc, match in [("", TypeError, r"delimiter must be None or a non-empty str, got ''"),
                            (3, TypeError, r"delimiter must be None or a non-empty str, got 3"),
                            ("\n", ValueError, r"delimiter must not be a quote or hold a line "
                                               r"break, got '\\n'"),
                            (":\r:", ValueError, r"hold a line break"),
                            ('"', ValueError, r"must not be a quote")]:
        with pytest.raises(exc, match=match):
            read_interactions(path, user_col=0, item_col=1, header=False, delimiter=bad)


@pytest.mark.parametrize("rule", ["sum", "last"])
def test_the_grouping_sorts_on_several_threads_give_the_one_thread_result(monkeypatch, rule):
    """The counting sorts cut the rows into runs, one per thread: any number of
    runs (empty ones too) gives the one-run matrix, times and report, "last"
    included (pairs keep their rows' input order), with rows of unknown ids dropped."""
    rng = np.random.default_rng(5)
    n = 3000
    src = {"u": rng.integers(0, 40, n), "i": rng.integers(0, 25, n),
           "v": rng.integers(1, 5, n).astype(float), "t": rng.permutation(n)}
    known = dict(users=IdMap(np.arange(0, 40, 2)), items=IdMap(np.arange(23)))

    def read(parts):
        monkeypatch.setattr(_counting, "threads_for",
                            lambda n, n_threads=None: max(1, min(parts, n)))
        return read_interactions(src, user_col="u", item_col="i", value_col="v",
                                 time_col="t", aggregate=rule, **known)
    one = read(1)
    assert one.report["rows_unknown_ids"] > 0
    for parts in (2, 3, 7):
        got = read(parts)
        for name in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(got.matrix, name), getattr(one.matrix, name))
        np.testing.assert_array_equal(got.timestamps, one.timestamps)
        assert got.report == one.report
