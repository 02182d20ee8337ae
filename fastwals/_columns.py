"""One batch's id, value and time columns -> checked arrays, for fastwals.io.

Each function takes a pyarrow Array and returns the converted column, a boolean
mask of its bad rows (None when there are none) and ``reason(i)``, the text
naming what is wrong with bad row i. Column-level problems (a type that can
never hold ids, values or times) raise TypeError.

- ids, as the id type says: "auto": int64 (any integer type, floats that hold
  whole numbers) or text (any string type), unsigned ids above 2**63-1 become
  text so they stay exact; "str": always text (numbers as their decimal text);
  "int": always int64 (text parsed; a text id that is not a 64-bit integer is
  a bad row). Missing: null, NaN or the empty string.
- values: float64 from numbers or numeric text; bad: missing, not a number,
  NaN or infinite.
- times: int64 (integer types; date-times as seconds since the Unix epoch) or
  float64; text is parsed as a number or an ISO 8601 date-time.
"""

import calendar
import datetime
import re

import numpy as np

from ._sources import import_pyarrow

_FLOAT = r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|[nN][aA][nN]|[iI][nN][fF]([iI][nN][iI][tT][yY])?)$"  # noqa: E501


def _mask(arr):
    """Nulls of an Arrow array as a numpy bool array, or None."""
    if arr.null_count == 0:
        return None
    return arr.is_null().to_numpy(zero_copy_only=False)


def _or(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a | b


def _type_error(what, name, source, t):
    return TypeError(f"{name} in {source} must hold {what}, got Arrow type {t}")


def _decode(arr):
    pa = import_pyarrow()
    if pa.types.is_dictionary(arr.type):
        return arr.dictionary_decode()
    return arr


def _is_text(pa, t):
    return (pa.types.is_string(t) or pa.types.is_large_string(t)
            or getattr(pa.types, "is_string_view", lambda t: False)(t))


def ids(arr, name, source, id_type="auto"):
    """-> (int64 or string Arrow array, bad mask or None, reason)."""
    pa = import_pyarrow()
    import pyarrow.compute as pc

    arr = _decode(arr)
    t = arr.type
    missing = _mask(arr)
    whole = None       # floats: False where the value is not a whole number
    big = None         # unsigned integers beyond int64 (id_type "int")
    unparsed = None    # text that is not an integer (id_type "int")
    if pa.types.is_null(t):
        arr = pa.array(np.zeros(len(arr), np.int64))
        missing = np.ones(len(arr), bool)
    elif pa.types.is_integer(t):
        if not pa.types.is_int64(t):
            try:
                arr = arr.cast(pa.int64())
            except pa.ArrowInvalid:  # uint64 beyond int64: exact as text, or bad rows
                if id_type == "int":
                    x = arr.fill_null(0).to_numpy()
                    big = x > np.iinfo(np.int64).max
                    arr = pa.array(np.where(big, 0, x).astype(np.int64))
                else:
                    arr = arr.cast(pa.string())
    elif pa.types.is_floating(t):
        x = arr.to_numpy(zero_copy_only=False).astype(np.float64)
        nan = np.isnan(x)
        missing = _or(missing, nan if nan.any() else None)
        bad = ~nan & ((x != np.floor(x)) | (np.abs(x) >= 2.0**63))
        whole = bad if bad.any() else None
        arr = pa.array(np.where(nan | bad, 0, x).astype(np.int64))
        values = x
    elif _is_text(pa, t) or pa.types.is_binary(t) or pa.types.is_large_binary(t):
        if not pa.types.is_string(t):
            try:
                arr = arr.cast(pa.string())
            except pa.ArrowInvalid as e:
                raise TypeError(f"{name} in {source} holds bytes that are not UTF-8 text: "
                                f"{e}") from None
        empty = pc.equal(arr, "")
        if pc.any(empty).as_py():
            missing = _or(missing, empty.to_numpy(zero_copy_only=False).astype(bool))
        if id_type == "int":
            text = arr
            arr, unparsed = _parse_ints(pa, arr, missing)
    else:
        raise _type_error("integer or text ids", name, source, t)
    if id_type == "str" and not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())

    bad = _or(_or(missing, whole), _or(big, unparsed))

    def reason(i):
        if missing is not None and missing[i]:
            return "the id is missing"
        if whole is not None and whole[i]:
            return f"the id {values[i].item()!r} is not a whole number"
        if big is not None and big[i]:
            return "the id is beyond 2**63-1 (id_type='int' needs 64-bit signed integers)"
        return (f"the id {text[i].as_py()!r} is not a 64-bit integer (id_type='int'; "
                f"id_type='str' reads text ids)")

    return arr, bad, reason


_INT = r"^[+-]?[0-9]+$"


def _parse_ints(pa, arr, missing):
    """Text ids -> (int64 Arrow array, mask of those that are not decimal 64-bit
    integers, or None). Arrow's cast alone would also take "0x10"."""
    import pyarrow.compute as pc

    if missing is None and pc.all(pc.match_substring_regex(arr, _INT)).as_py():
        try:
            return pc.replace_substring_regex(arr, r"^\+", "").cast(pa.int64()), None
        except pa.ArrowInvalid:  # beyond int64
            pass
    # bad text in this batch: one by one
    x = np.zeros(len(arr), np.int64)
    unparsed = np.zeros(len(arr), bool)
    for k, s in enumerate(arr.to_pylist()):
        if not s:
            continue  # missing
        v = int(s) if re.fullmatch(_INT, s) else None
        if v is None or not -2**63 <= v < 2**63:
            unparsed[k] = True
        else:
            x[k] = v
    if missing is not None:
        unparsed &= ~missing
    return pa.array(x), (unparsed if unparsed.any() else None)


def values(arr, name, source, dtype):
    """-> (numpy array of dtype, bad mask or None, reason)."""
    pa = import_pyarrow()

    arr = _decode(arr)
    t = arr.type
    text = None
    unparsed = None
    missing = _mask(arr)
    if pa.types.is_null(t):
        x = np.full(len(arr), np.nan)
        missing = np.ones(len(arr), bool)
    elif (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
          or pa.types.is_boolean(t)):
        x = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
    elif _is_text(pa, t):
        text = arr
        x, unparsed = _parse_floats(arr)
    else:
        raise _type_error("numbers", name, source, t)
    x = np.asarray(x, dtype=np.float64)
    nonfinite = ~np.isfinite(x)
    with np.errstate(over="ignore"):  # overflows are found just below
        out = x.astype(dtype, copy=False)
    overflow = None
    if np.dtype(dtype) != np.float64:
        over = ~nonfinite & ~np.isfinite(out)
        overflow = over if over.any() else None
    bad = _or(_or(missing, unparsed), _or(nonfinite if nonfinite.any() else None, overflow))

    def reason(i):
        if missing is not None and missing[i]:
            return "the value is missing"
        if unparsed is not None and unparsed[i]:
            return f"the value {text[i].as_py()!r} is not a number"
        if np.isnan(x[i]):
            return "the value is NaN"
        if np.isinf(x[i]):
            return f"the value is {x[i]} (not finite)"
        return f"the value {x[i].item()!r} is too large for {np.dtype(dtype).name}"

    return out, bad, reason


def _parse_floats(arr):
    """Text -> (float64 numpy with NaN where missing/unparsed, unparsed mask or None)."""
    pa = import_pyarrow()
    import pyarrow.compute as pc

    try:
        return arr.cast(pa.float64()).to_numpy(zero_copy_only=False), None
    except pa.ArrowInvalid:
        pass
    ok = pc.match_substring_regex(arr, _FLOAT)
    unparsed = ~pc.fill_null(ok, True).to_numpy(zero_copy_only=False).astype(bool)
    try:
        x = pc.if_else(ok, arr, pa.scalar(None, arr.type)).cast(pa.float64())
        x = x.to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # the pattern let through what the cast refuses
        x = np.full(len(arr), np.nan)
        for i, s in enumerate(arr.to_pylist()):
            if s is None:
                continue
            try:
                x[i] = float(s)
            except ValueError:
                unparsed[i] = True
            else:
                unparsed[i] = False
    return x, (unparsed if unparsed.any() else None)


def times(arr, name, source):
    """-> (int64 or float64 numpy array, bad mask or None, reason)."""
    pa = import_pyarrow()

    arr = _decode(arr)
    t = arr.type
    missing = _mask(arr)
    text = None
    unparsed = None
    if pa.types.is_null(t):
        x = np.zeros(len(arr), np.int64)
        missing = np.ones(len(arr), bool)
    elif pa.types.is_integer(t):
        try:
            x = arr.cast(pa.int64())
        except pa.ArrowInvalid:
            x = arr.cast(pa.float64())
        x = x.fill_null(0).to_numpy()
    elif pa.types.is_floating(t):
        x = arr.cast(pa.float64()).to_numpy(zero_copy_only=False)
    elif pa.types.is_timestamp(t) or pa.types.is_date(t):
        x = _seconds(pa, arr)
    elif _is_text(pa, t):
        text = arr
        x, unparsed = _parse_times(pa, arr)
    else:
        raise _type_error("numbers or date-times", name, source, t)
    nonfinite = None
    if x.dtype.kind == "f":
        nf = ~np.isfinite(x)
        if missing is not None:
            nf &= ~missing
        if unparsed is not None:
            nf &= ~unparsed
        nonfinite = nf if nf.any() else None
    bad = _or(_or(missing, unparsed), nonfinite)

    def reason(i):
        if missing is not None and missing[i]:
            return "the time is missing"
        if unparsed is not None and unparsed[i]:
            return (f"the time {text[i].as_py()!r} is neither a number nor an ISO 8601 "
                    f"date-time")
        return f"the time is {x[i].item()!r} (not finite)"

    return x, bad, reason


def _seconds(pa, arr):
    """Date-times -> int64 seconds since the Unix epoch (sub-seconds truncated)."""
    import pyarrow.compute as pc

    tz = getattr(arr.type, "tz", None)
    target = pa.timestamp("s", tz=tz) if tz else pa.timestamp("s")
    s = pc.cast(arr, target, safe=False)
    return s.cast(pa.int64()).fill_null(0).to_numpy()


def _parse_times(pa, arr):
    """Text times: integers, decimals or ISO 8601 date-times (UTC unless they carry
    an offset) -> (int64/float64 numpy, unparsed mask or None)."""
    for target in (pa.int64(), pa.float64()):
        try:
            x = arr.cast(target)
        except pa.ArrowInvalid:
            continue
        x = x.fill_null(0) if target == pa.int64() else x
        return x.to_numpy(zero_copy_only=False), None
    for target in (pa.timestamp("s"), pa.timestamp("s", tz="UTC")):
        try:
            return _seconds(pa, arr.cast(target)), None
        except pa.ArrowInvalid:
            continue
    # mixed or bad text: one by one (only for a batch that holds bad times)
    x = np.zeros(len(arr), np.float64)
    unparsed = np.zeros(len(arr), bool)
    integral = True
    for i, s in enumerate(arr.to_pylist()):
        if s is None:
            continue
        v = _parse_time(s)
        if v is None:
            unparsed[i] = True
        else:
            x[i] = v
            integral &= isinstance(v, int)
    if integral:
        x = x.astype(np.int64)
    return x, (unparsed if unparsed.any() else None)


def _parse_time(s):
    s = s.strip()
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    try:
        d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
    except ValueError:
        return None
    if d.tzinfo is None:
        return calendar.timegm(d.timetuple())
    return int(d.timestamp())
