"""IdMap: raw user or item ids (64-bit integers or strings) <-> contiguous
indices 0..n-1, the rows and columns of an interaction matrix.

Plain numpy (no pyarrow). Integer ids are an int64 array. String ids are a
variable-length string array (numpy's StringDType), never fixed-width unicode:
a ``<U`` array gives every id the width of the longest (one 10,000-character
id among 20,000 made 763 MB) and drops trailing NUL characters. On disk (an
.npz read with allow_pickle=False) a map is plain arrays: id_map_arrays /
id_map_from_arrays.
"""

import numpy as np

from ._validation import check_choice

__all__ = ["IdMap", "UnknownIdError", "id_map_arrays", "id_map_from_arrays"]

TEXT = np.dtype(np.dtypes.StringDType())  # variable-length UTF-8


class UnknownIdError(KeyError, ValueError):
    """IdMap.index met ids that are not in the map (both a KeyError and a ValueError)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class IdMap:
    """Raw ids <-> contiguous indices 0..n-1.

    ``ids`` is a 1-D read-only numpy array of the raw ids in index order: int64
    for integer ids, variable-length strings (``numpy.dtypes.StringDType``) for
    string ids; any character, NUL included, is kept. Ids are unique. Maps built
    by read_interactions are sorted (integers numerically, strings by code point).
    """

    def __init__(self, ids):
        arr = _id_array(ids, "ids")
        if arr.ndim != 1:
            raise ValueError(f"ids must be a 1-D array, got shape {arr.shape}")
        if arr.size:
            s = np.sort(arr)
            rep = s[1:] == s[:-1]
            if rep.any():
                raise ValueError(f"ids must be unique; {int(rep.sum())} repeat, the first "
                                 f"{first_id(s[1:][rep])!r}")
        self._set(arr.copy())

    @classmethod
    def _sorted(cls, ids):
        """A map over ids already known to be unique and sorted (no checks)."""
        self = cls.__new__(cls)
        self._set(ids)
        self._sorted_ids = self.ids
        return self

    @classmethod
    def _unchecked(cls, ids):
        """A map over ids already known to be unique (no checks)."""
        self = cls.__new__(cls)
        self._set(np.array(ids))
        return self

    def _set(self, ids):
        if ids.dtype.kind in "UO":  # from callers holding fixed-width or object text
            ids = ids.astype(TEXT)
        ids.flags.writeable = False  # ids is the map's own array
        self.ids = ids
        # made on the first lookup: string ids in a dict (numpy's searchsorted copies
        # a StringDType array on every call), integer ids sorted for searchsorted
        self._positions = None  # {id: index}
        self._order = None  # argsort of ids (None: the identity, or not made yet)
        self._sorted_ids = None  # ids[order]

    def __len__(self):
        return self.ids.size

    def __repr__(self):
        head = ", ".join(repr(x) for x in self.ids[:3].tolist())
        more = ", ..." if len(self) > 3 else ""
        return f"IdMap({len(self)} {'str' if self.is_str else 'int'} ids: [{head}{more}])"

    def __eq__(self, other):
        if not isinstance(other, IdMap):
            return NotImplemented
        return self.is_str == other.is_str and np.array_equal(self.ids, other.ids)

    __hash__ = None

    def __getstate__(self):
        return {"ids": self.ids}

    def __setstate__(self, state):
        self._set(np.array(state["ids"]))

    @property
    def is_str(self):
        """True for string ids, False for integer ids."""
        return self.ids.dtype != np.int64

    def _lookup(self, q):
        """Positions of q's ids in the map, -1 for unknown ones."""
        if self.is_str:
            if self._positions is None:
                self._positions = {s: k for k, s in enumerate(self.ids.tolist())}
            get = self._positions.get
            return np.fromiter((get(s, -1) for s in q.tolist()), np.int64, q.size)
        if self._sorted_ids is None:
            self._order = np.argsort(self.ids, kind="stable")
            self._sorted_ids = self.ids[self._order]
        out = np.full(q.shape, -1, dtype=np.int64)
        if not len(self) or not q.size:
            return out
        pos = np.searchsorted(self._sorted_ids, q)
        np.minimum(pos, len(self) - 1, out=pos)
        found = self._sorted_ids[pos] == q
        out[found] = pos[found] if self._order is None else self._order[pos[found]]
        return out

    def _query(self, raw, name):
        """raw -> (1-D id array comparable with self.ids, scalar input?, shape)."""
        arr = _id_array(raw, name, allow_empty_type=True)
        scalar, shape = arr.ndim == 0, arr.shape
        q = arr.reshape(-1)
        if q.size and len(self) and is_text(q) != self.is_str:
            kind, other = ("string", "integers") if self.is_str else ("integer", "strings")
            raise TypeError(f"{name} must be {kind} ids: this map holds {kind} ids, got "
                            f"{other} such as {first_id(q)!r}")
        if self.is_str and not is_text(q):  # an empty query: any type
            q = q.astype(TEXT)
        return q, scalar, shape

    def index(self, raw, missing="error"):
        """Indices of raw ids: a scalar gives an int, an array-like an int64 array of
        the same shape. missing="error": unknown ids raise UnknownIdError (a
        ValueError and KeyError) naming the first and how many; "ignore": they get -1."""
        check_choice("missing", missing, ("error", "ignore"))
        q, scalar, shape = self._query(raw, "raw")
        idx = self._lookup(q)
        if missing == "error" and (idx < 0).any():
            bad = np.flatnonzero(idx < 0)
            raise UnknownIdError(f"id {first_id(q[bad])!r} is not in the map ({bad.size} of "
                                 f"{q.size} ids are unknown; the map has {len(self)}); pass "
                                 f"missing='ignore' to get -1 for unknown ids")
        return int(idx[0]) if scalar else idx.reshape(shape)

    def raw(self, indices, fill=None):
        """Raw ids at indices: a scalar gives the id (int or str), an array-like an
        array of ids of the same shape. An index -1 (an unknown id from
        index(..., missing='ignore')) needs ``fill``, the id to put there (an int
        for integer maps, a str for string maps); without it -1 is an error."""
        scalar = np.ndim(indices) == 0
        idx = np.asarray(indices)
        if idx.size and (idx.dtype.kind not in "iu"):
            raise TypeError(f"indices must be integers, got dtype {idx.dtype}")
        idx = idx.astype(np.int64)
        n = len(self)
        if idx.size and (idx.min() < -1 or idx.max() >= n):
            bad = idx[(idx < -1) | (idx >= n)][0]
            raise ValueError(f"indices: {bad} is outside 0..{n - 1} (the map has {n} ids)")
        unknown = idx == -1
        if not unknown.any():
            out = self.ids[idx.reshape(-1)].reshape(idx.shape)
            return first_id(out) if scalar else out
        if fill is None:
            raise ValueError(f"indices holds -1 ({int(unknown.sum())} times): pass fill= "
                             f"(the id to return there) to accept it")
        if self.is_str != isinstance(fill, str) or not isinstance(fill, (str, int, np.integer)):
            raise TypeError(f"fill must be a single {'str' if self.is_str else 'int'} id "
                            f"like the map's, got {fill!r}")
        if self.is_str:
            out = np.empty(idx.shape, TEXT)
        else:
            out = np.empty(idx.shape, np.result_type(np.int64, np.asarray(fill).dtype))
        out[~unknown] = self.ids[idx[~unknown]]
        out[unknown] = fill
        return first_id(out) if scalar else out

    def extend(self, raw_new):
        """A new map: this one, then the ids of raw_new it does not hold, in order of
        first appearance (the indices of known ids do not change)."""
        q, _, _ = self._query(raw_new, "raw_new")
        new = q[self._lookup(q) < 0]
        if new.size:
            _, first = np.unique(new, return_index=True)
            new = new[np.sort(first)]
        if not len(self):
            return IdMap(new)
        if not new.size:
            return IdMap._unchecked(self.ids)
        return IdMap._unchecked(np.concatenate([self.ids, new]))


def first_id(arr):
    """The first id of an id array as a Python int or str (indexing a StringDType
    array gives a str, which has no .item())."""
    return arr.reshape(-1)[:1].tolist()[0]


def is_text(arr):
    """True for an array of string ids (TEXT, or <U / object from elsewhere)."""
    return arr.dtype.kind in "TUO"


def _id_array(ids, name, allow_empty_type=False):
    """Raw ids -> int64 or TEXT numpy array (any shape), or TypeError/ValueError."""
    if isinstance(ids, IdMap):
        return ids.ids
    if isinstance(ids, str):
        return np.array(ids, TEXT)
    arr = np.asarray(ids)
    if arr.dtype.kind == "U" and not isinstance(ids, np.ndarray):
        arr = np.array(ids, dtype=object)  # from Python strs: "<U" would drop trailing NULs
    kind = arr.dtype.kind
    if kind == "O":
        items = arr.reshape(-1).tolist()
        if all(isinstance(x, str) for x in items) and items:
            return arr.astype(TEXT)
        if all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in items):
            arr = np.array(items, dtype=object).reshape(arr.shape)
            kind = "i"
        else:
            if isinstance(items[0], str):
                bad = next(x for x in items if not isinstance(x, str))
            else:
                bad = next(x for x in items if not isinstance(x, (int, np.integer))
                           or isinstance(x, bool))
            raise TypeError(f"{name} must all be integers or all be strings, got "
                            f"{bad!r} ({type(bad).__name__}) among them")
    if kind in "iu":
        try:
            big = arr.size and np.any(np.asarray(arr.max()) > np.iinfo(np.int64).max)
        except TypeError:
            big = False
        if big:
            raise ValueError(f"{name}: integer ids must fit in int64, got {arr.max()!r}")
        return arr.astype(np.int64)
    if kind in "UT":
        return arr.astype(TEXT, copy=False)
    if arr.size == 0 and (allow_empty_type or kind == "f"):
        return arr.astype(np.int64)
    if kind == "S":
        raise TypeError(f"{name} must be int or str ids, got bytes (dtype {arr.dtype}); decode "
                        f"them to str first")
    raise TypeError(f"{name} must be integer or string ids, got dtype {arr.dtype}")


# ---------------------------------------------------------------- storage

def id_map_arrays(id_map, prefix):
    """An IdMap -> plain arrays for an .npz read with allow_pickle=False, every
    key starting with `prefix`: integer ids as one int64 array ``prefix``;
    string ids as their UTF-8 bytes, ``prefix + "_utf8"`` (uint8), and
    ``prefix + "_offsets"`` (int64, n + 1: id j is bytes offsets[j]:offsets[j+1]),
    so a long id costs its own length only and any character survives."""
    if not id_map.is_str:
        return {prefix: np.ascontiguousarray(id_map.ids, dtype=np.int64)}
    encoded = [s.encode("utf-8") for s in id_map.ids.tolist()]
    offsets = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return {f"{prefix}_utf8": np.frombuffer(b"".join(encoded), np.uint8),
            f"{prefix}_offsets": offsets}


def id_map_from_arrays(data, prefix):
    """The IdMap stored by id_map_arrays under `prefix` in the mapping `data` (also
    the old layout: one int64 or unicode array under ``prefix``), or None when
    `data` holds none. Inconsistent or invalid arrays are a ValueError naming
    the key (the caller adds the file's name)."""
    utf8, offsets = f"{prefix}_utf8", f"{prefix}_offsets"
    if utf8 in data or offsets in data:
        if prefix in data:
            raise ValueError(f"{prefix!r} is stored twice: as {prefix!r} and as "
                             f"{utf8!r}/{offsets!r}")
        for key in (utf8, offsets):
            if key not in data:
                raise ValueError(f"{key!r} is missing: string ids need both {utf8!r} and "
                                 f"{offsets!r}")
        return IdMap(_decode_utf8(np.asarray(data[utf8]), np.asarray(data[offsets]), prefix))
    if prefix not in data:
        return None
    arr = np.asarray(data[prefix])
    if arr.ndim != 1 or arr.dtype.kind not in "iuU":
        raise ValueError(f"{prefix!r} must be a 1-D array of int64 or unicode ids, got "
                         f"dtype {arr.dtype} and shape {arr.shape}")
    try:
        return IdMap(arr)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{prefix!r}: {e}") from None


def _decode_utf8(buf, offsets, prefix):
    """UTF-8 bytes + offsets -> the array of strings, or ValueError naming the key."""
    if buf.ndim != 1 or buf.dtype != np.uint8:
        raise ValueError(f"{prefix + '_utf8'!r} must be a 1-D uint8 array, got dtype "
                         f"{buf.dtype} and shape {buf.shape}")
    name = repr(prefix + "_offsets")
    if offsets.ndim != 1 or offsets.dtype.kind not in "iu" or offsets.size < 1:
        raise ValueError(f"{name} must be a 1-D integer array of n + 1 offsets, got dtype "
                         f"{offsets.dtype} and shape {offsets.shape}")
    offsets = offsets.astype(np.int64)
    if offsets[0] != 0 or offsets[-1] != buf.size or (np.diff(offsets) < 0).any():
        raise ValueError(f"{name} must rise from 0 to the {buf.size} bytes of "
                         f"{prefix + '_utf8'!r}, got {offsets[0]} .. {offsets[-1]}"
                         f"{' (decreasing somewhere)' if (np.diff(offsets) < 0).any() else ''}")
    data = buf.tobytes()
    bounds = offsets.tolist()
    try:
        ids = [data[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:])]
    except UnicodeDecodeError as e:
        raise ValueError(f"{prefix + '_utf8'!r} is not valid UTF-8: {e}") from None
    return np.array(ids, dtype=TEXT)
