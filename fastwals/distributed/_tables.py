"""Worker tasks that turn rows of (user, item[, value]) into block pieces:
read a Parquet part or take a data-frame partition, check it, encode raw ids
to indices, count, and split by block. Errors name the part they come from.
"""

import numpy as np

from ..idmap import IdMap, _id_array, first_id, is_text


def read_parquet(path, user_col, item_col, value_col, check):
    """(users, items, values) of one Parquet file, read with pyarrow."""
    from .._sources import import_pyarrow
    import_pyarrow()
    import pyarrow.parquet as pq

    columns = [c for c in (user_col, item_col, value_col) if c is not None]
    schema = pq.read_schema(path)
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise ValueError(f"{path}: no column {missing[0]!r} (columns: "
                         f"{', '.join(schema.names)})")
    table = pq.read_table(path, columns=columns)
    data = {c: table.column(c).to_numpy() if table.column(c).null_count == 0 else None
            for c in columns}
    for c in columns:
        if data[c] is None:
            raise ValueError(f"{path}: column {c!r} has {table.column(c).null_count} missing "
                             f"values")
    return _rows(data, user_col, item_col, value_col, check, path)


def from_frame(frame, user_col, item_col, value_col, check, origin):
    """(users, items, values) of one pandas partition of a Dask DataFrame."""
    columns = [c for c in (user_col, item_col, value_col) if c is not None]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{origin}: no column {missing[0]!r} (columns: "
                         f"{', '.join(map(str, frame.columns))})")
    data = {}
    for c in columns:
        col = frame[c]
        if col.isna().any():
            raise ValueError(f"{origin}: column {c!r} has {int(col.isna().sum())} missing "
                             f"values")
        data[c] = col.to_numpy()
    return _rows(data, user_col, item_col, value_col, check, origin)


def _rows(data, user_col, item_col, value_col, check, origin):
    users = _ids(data[user_col], user_col, origin)
    items = _ids(data[item_col], item_col, origin)
    if value_col is None:
        values = np.ones(users.size)
    else:
        raw = np.asarray(data[value_col])
        if raw.dtype.kind not in "biuf":
            raise TypeError(f"{origin}: value column {value_col!r} must hold numbers, got "
                            f"dtype {raw.dtype}")
        values = raw.astype(np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{origin}: value column {value_col!r} has {int(bad.sum())} NaN "
                             f"or infinite values; the first is {values[j]} (user "
                             f"{first_id(users[j:])!r}, item {first_id(items[j:])!r})")
        if check == "nonnegative" and (values < 0).any():
            j = int(np.flatnonzero(values < 0)[0])
            raise ValueError(f"{origin}: value column {value_col!r} has "
                             f"{int((values < 0).sum())} negative values (the first "
                             f"{values[j]} for user {first_id(users[j:])!r}, item "
                             f"{first_id(items[j:])!r}); confidence 'linear' and 'log' need "
                             f"values >= 0. Use confidence='constant' for signed ratings")
    return users, items, values


def _ids(col, name, origin):
    try:
        return _id_array(np.asarray(col), f"{origin}: column {name!r}")
    except TypeError as exc:
        raise TypeError(str(exc)) from None


def unique_ids(rows, which):
    return np.unique(rows[which])


def encode(rows, user_ids, item_ids, origin):
    """Raw ids -> indices in the maps; an id outside a map is an error."""
    out = []
    for raw, ids, what in ((rows[0], user_ids, "user"), (rows[1], item_ids, "item")):
        idmap = IdMap._unchecked(ids)
        if raw.size and is_text(raw) != idmap.is_str and len(idmap):
            kind = "strings" if is_text(raw) else "integers"
            raise TypeError(f"{origin}: {what} ids are {kind}, the {what} map's are not")
        idx = idmap.index(raw, missing="ignore")
        if (idx < 0).any():
            first = first_id(raw[idx < 0])
            raise ValueError(f"{origin}: {what} id {first!r} is not in the given {what}s map "
                             f"({int((idx < 0).sum())} rows have unknown {what} ids)")
        out.append(idx)
    return out[0], out[1], rows[2]


def counts(encoded, n_users, n_items):
    return (np.bincount(encoded[0], minlength=n_users),
            np.bincount(encoded[1], minlength=n_items))


def total(*pairs):
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)


def split(encoded, user_bounds, item_bounds):
    """{("user", b): (user, item, value) rows in user block b, ("item", c): (item,
    user, value) rows in item block c}; blocks without rows are left out."""
    u, i, v = encoded
    out = {}
    for name, rows, cols, bounds in (("user", u, i, user_bounds), ("item", i, u, item_bounds)):
        block = np.searchsorted(bounds, rows, side="right") - 1
        order = np.argsort(block, kind="stable")
        edges = np.searchsorted(block[order], np.arange(bounds.size))
        for b in range(bounds.size - 1):
            sel = order[edges[b]:edges[b + 1]]
            if sel.size:
                out[(name, b)] = (rows[sel], cols[sel], v[sel])
    return out


def piece(pieces, key):
    return pieces.get(key)
