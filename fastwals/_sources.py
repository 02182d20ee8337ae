"""Where interaction rows come from, for fastwals.io.

A source (a CSV/TSV or Parquet file, an Arrow table or stream, a data frame, a
dict of arrays) yields pyarrow RecordBatches holding the wanted columns, in
order, and names a row for error messages (``where``). Files are read by
pyarrow in batches; nothing here parses CSV by hand. A file whose extension
does not tell its format is sniffed (_delimited.sniff); a delimiter of several
characters is replaced by one byte before pyarrow parses (_delimited.Substituted).

CSV type handling: the value column is read as float64, ids and times are
typed by pyarrow's inference on the first block. When a later block does not
fit the inferred type (an id column that looked like integers holds text, a
time column that looked like integers holds decimals) or, in skip mode, a value
is not a number, the file is read again with that column as text and the text
is converted batch by batch, so the bad rows can be found and skipped
(``Retry``: the caller drops what it took from this file and reads it again).
"""

import os
import re
from pathlib import Path

from . import _delimited

FORMATS = ("csv", "tsv", "parquet")
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet",
              ".pq": "parquet"}
COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".lz4": "lz4",
               ".br": "brotli"}
BATCH_ROWS = 1 << 20      # rows per batch from Parquet files and in-memory tables
CSV_BLOCK = 1 << 24       # bytes per CSV block
SCAN_BLOCK = 1 << 22      # bytes per read when counting lines to name a bad row
SUB_HEAD = 1 << 20        # bytes looked at to choose a stand-in for a multi-character delimiter
SUB_BLOCK = 1 << 20       # bytes per read, at least, under such a stand-in (_delimited.Substituted)
_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_CONVERSION = re.compile(r"column #(\d+): Row #(\d+): CSV conversion error to [^:]*: "
                         r"invalid value '(.*)'$", re.S)


def to_arrow(arr, type=None):
    """pa.array of a numpy array; variable-length strings (StringDType, which
    pyarrow before 19 does not take) go as Python strs."""
    pa = import_pyarrow()
    return pa.array(arr.astype(object) if arr.dtype.kind == "T" else arr, type=type)


def import_pyarrow():
    try:
        import pyarrow  # noqa: F401
    except ImportError as e:  # pragma: no cover - pyarrow is installed in the test env
        raise ImportError("fastwals.io needs pyarrow >= 14 to read files and tables; "
                          "install it with: pip install 'fastwals[io]'") from e
    import pyarrow as pa
    return pa


# ---------------------------------------------------------------- errors

class BadRowError(ValueError):
    """A row that cannot be used: a missing id, a value that is missing, not a
    number, NaN or infinite, or a wrong number of fields. ``source`` names the
    file or table, ``row`` the line or row (as text: "line 12", "row 12"),
    ``column`` the column (None for a wrong field count), ``reason`` what is wrong."""

    def __init__(self, source, row, reason, column=None):
        self.source, self.row, self.column, self.reason = source, row, column, reason
        where = f"{source}, {row}" + (f", {column_text(column)}" if column is not None else "")
        super().__init__(f"{where}: {reason}. Fix or remove the row, or pass "
                         f"on_bad_rows='skip' to skip bad rows and count them")


class MissingColumnError(ValueError):
    """A requested column is not in the file or table; ``available`` lists those that are
    (for a file without a header: pyarrow's names f0, f1..., one per field of its
    first row). ``column`` is the name or the 0-based position given; ``delimiter``,
    for a text file, the one it was split by (named when it gave one column only)."""

    def __init__(self, source, column, role, available, named=True, delimiter=None):
        self.source, self.column, self.available = source, column, list(available)
        n = len(self.available)
        hint = ""
        if delimiter is not None and n == 1:
            hint = (f"; one column only: if its fields are not split by "
                    f"{_delimited.shown(delimiter)}, pass delimiter=")
        if isinstance(column, str):
            shown = ", ".join(repr(c) for c in self.available[:50])
            more = f" and {n - 50} more" if n > 50 else ""
            if delimiter is not None and all(_NUMBER.match(c) for c in self.available):
                hint += ("; its first line looks like data: if the file has no header, pass "
                         "header=False and the columns as 0-based positions")
            super().__init__(f"{source} has no column {column!r} (given as {role}); its "
                             f"columns are: {shown}{more}{hint}")
            return
        if named:
            shown = ", ".join(f"{k} {c!r}" for k, c in enumerate(self.available[:50]))
            more = f" and {n - 50} more" if n > 50 else ""
            has = f"it has {n} column(s), by position: {shown}{more}"
        else:
            has = f"its first row has {n} field(s), positions 0 to {n - 1}"
        super().__init__(f"{source} has no column {column} (given as {role}={column}, a 0-based "
                         f"position); {has}{hint}")


def column_text(column):
    """A column in messages: "column 'plays'" (a name) or "column 2 (0-based)" (a position)."""
    return f"column {column!r}" if isinstance(column, str) else f"column {column} (0-based)"


class Retry(Exception):
    """Internal: read the current source again (its column types changed)."""


for _cls in (BadRowError, MissingColumnError):
    _cls.__module__ = "fastwals.io"


# ---------------------------------------------------------------- opening a source

def open_sources(source, format, delimiter, skip, header=True):
    """The list of sources behind `source` (see read_interactions)."""
    pa = import_pyarrow()
    if isinstance(source, (str, os.PathLike)):
        return [_file_source(p, format, delimiter, skip, header)
                for p in _expand(Path(source), format)]
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("source is an empty list; give at least one file")
        for s in source:
            if not isinstance(s, (str, os.PathLike)):
                raise TypeError(f"source as a list must hold file or directory paths, got an "
                                f"item of type {type(s).__name__}")
        paths = [p for s in source for p in _expand(Path(s), format)]
        return [_file_source(p, format, delimiter, skip, header) for p in paths]
    given = [f"{k}={v!r}" for k, v, default in (("format", format, None),
                                                  ("delimiter", delimiter, None),
                                                  ("header", header, True)) if v != default]
    if given:
        one = len(given) == 1
        raise ValueError(f"{' and '.join(given)} appl{'ies' if one else 'y'} to files; source "
                         f"is a {type(source).__name__}, whose columns have names (and "
                         f"positions): leave {'it' if one else 'them'} out")
    if isinstance(source, dict):
        return [DictSource(source)]
    if isinstance(source, pa.Table):
        return [ArrowSource("the pyarrow Table", source)]
    if isinstance(source, pa.RecordBatch):
        return [ArrowSource("the pyarrow RecordBatch", pa.Table.from_batches([source]))]
    if isinstance(source, pa.RecordBatchReader):
        return [ArrowSource("the pyarrow RecordBatchReader", source)]
    if _is_pandas(source):
        return [PandasSource(source)]
    if hasattr(source, "__arrow_c_stream__"):
        name = f"the {type(source).__module__.split('.')[0]}.{type(source).__name__}"
        if hasattr(pa.RecordBatchReader, "from_stream"):
            return [ArrowSource(name, pa.RecordBatchReader.from_stream(source))]
        return [ArrowSource(name, pa.table(source))]  # pragma: no cover - pyarrow < 15
    raise TypeError(f"source must be a file or directory path, a list of paths, a pyarrow "
                    f"Table or RecordBatchReader, a data frame (pandas, polars or any object "
                    f"with __arrow_c_stream__) or a dict of arrays; got {type(source).__name__}")


def _is_pandas(obj):
    return type(obj).__module__.split(".")[0] == "pandas" and hasattr(obj, "columns")


def file_format(path):
    """(format, compression) from a file name: data.csv, part-0.parquet, x.tsv.gz."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = None
    if suffixes and suffixes[-1] in COMPRESSION:
        compression = COMPRESSION[suffixes.pop()]
    fmt = EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt == "parquet" and compression is not None:
        fmt = None
    return fmt, compression


def _expand(path, format):
    """A file -> [it]; a directory -> its visible files (sorted by name) that have a
    supported extension, or all of them when the format is given."""
    if path.is_dir():
        visible = sorted(p for p in path.iterdir()
                         if p.is_file() and not p.name.startswith((".", "_")))
        files = visible if format is not None else [p for p in visible if file_format(p)[0]]
        if not files:
            names = ", ".join(p.name for p in visible[:10]) or "no visible files"
            raise ValueError(f"directory {path} has no .csv, .tsv, .tab, .parquet or .pq files "
                             f"(it has: {names}); pass format= to read files with other names")
        return files
    if not path.exists():
        raise FileNotFoundError(f"source {str(path)!r}: no such file or directory")
    return [path]


def part_files(directory, format=None):
    """The files read from a directory of parts (none when it has no such file)."""
    try:
        return [str(p) for p in _expand(Path(directory), format)]
    except ValueError:
        return []


def _file_source(path, format, delimiter, skip, header=True):
    fmt, compression = file_format(path)
    if format is not None:
        fmt = format
    elif fmt is None and delimiter is not None:
        fmt = "tsv" if delimiter == "\t" else "csv"
    elif fmt is None:
        fmt, delimiter = _sniff(path, compression)
    if fmt == "parquet":
        return ParquetSource(path)
    if delimiter is None:
        delimiter = "\t" if fmt == "tsv" else ","
    return CsvSource(path, delimiter, compression, skip, header)


_KNOWN = ".csv, .tsv, .tab, .parquet, .pq (text ones also with .gz, .bz2, .zst, .lz4)"


def _sniff(path, compression):
    """(format, delimiter) of a file whose extension does not tell: Parquet by its
    first bytes, else text split by the delimiter _delimited.sniff finds in its
    first lines (after decompression)."""
    if compression is None:
        with open(path, "rb") as f:
            if f.read(4) == b"PAR1":
                return "parquet", None
        _check_not_binary(path, "text")
    pa = import_pyarrow()
    try:
        head, complete = read_head(path, compression, _delimited.SNIFF_BYTES)
    except (pa.ArrowException, OSError) as e:
        raise ValueError(f"{path} cannot be read to tell its format: {e}") from None
    if compression is not None and head.startswith(b"PAR1"):
        raise ValueError(f"{path} is a compressed Parquet file; Parquet compresses its "
                         f"columns itself: decompress the file and name it .parquet")
    delimiter, why = _delimited.sniff(head, complete)
    if delimiter is None:
        raise ValueError(f"cannot tell the format of {path.name}: its extension is none of "
                         f"{_KNOWN} and {why}; pass format='csv' or 'tsv' (with "
                         f"delimiter= for another separator, e.g. delimiter='::') or "
                         f"format='parquet'")
    return ("tsv" if delimiter == "\t" else "csv"), delimiter


def read_head(path, compression, size):
    """(the first `size` bytes of the file, decompressed; True when that is all of it)."""
    pa = import_pyarrow()
    with pa.OSFile(str(path), "rb") as raw:
        stream = raw if compression is None else pa.CompressedInputStream(raw, compression)
        try:
            parts, got = [], 0
            while got < size:
                part = stream.read(size - got)
                if not part:
                    return b"".join(parts), True
                parts.append(part)
                got += len(part)
            return b"".join(parts), not stream.read(1)
        finally:
            if stream is not raw:
                stream.close()


# ---------------------------------------------------------------- sources

class _Source:
    name = ""
    named = True          # columns have names (False: a CSV/TSV file without a header)
    kind = "Arrow data"   # what the source holds, for "cannot be read as ..." messages
    unit = "rows"         # progress unit: "B" (file bytes) or "rows"
    total = None          # progress total in that unit, when known
    n_invalid = 0         # rows skipped by the reader itself (CSV: wrong field count)
    first_invalid = None  # (row, reason) of the first such row

    def columns(self):
        raise NotImplementedError

    def batches(self, wanted, cols):
        raise NotImplementedError

    def where(self, record):
        """The record-th row yielded (0-based), as text for messages."""
        return f"row {record} (0-based)"

    def progress(self, rows):
        """Progress units consumed by the last batch of `rows` rows."""
        return rows


class ArrowSource(_Source):
    def __init__(self, name, data):
        self.name = name
        self.data = data
        self.total = data.num_rows if hasattr(data, "num_rows") else None

    def columns(self):
        return self.data.schema.names

    def batches(self, wanted, cols):
        pa = import_pyarrow()
        if isinstance(self.data, pa.Table):
            yield from self.data.select(wanted).to_batches(max_chunksize=BATCH_ROWS)
            return
        if getattr(self, "_used", False):
            raise RuntimeError(f"{self.name} is a stream and was read already")  # pragma: no cover
        self._used = True
        for batch in self.data:
            yield batch


class PandasSource(ArrowSource):
    def __init__(self, df):
        self.name = "the DataFrame"
        self.df = df
        self.total = len(df)

    def columns(self):
        return [str(c) for c in self.df.columns]

    def batches(self, wanted, cols):
        pa = import_pyarrow()
        names = self.columns()
        arrays = []
        for c in wanted:
            try:
                arrays.append(pa.Array.from_pandas(self.df.iloc[:, names.index(c)]))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise _conversion_error(self.name, c, e) from None
        table = pa.Table.from_arrays(arrays, names=wanted)
        yield from table.to_batches(max_chunksize=BATCH_ROWS)


class DictSource(ArrowSource):
    def __init__(self, data):
        import numpy as np

        self.name = "the dict of arrays"
        self.arrays = {}
        for key, value in data.items():
            if not isinstance(key, str):
                raise TypeError(f"source as a dict must map column names (str) to 1-D arrays; "
                                f"got a key {key!r}")
            arr = np.asarray(value)
            if arr.ndim != 1:
                raise ValueError(f"source column {key!r} must be a 1-D array, got shape "
                                 f"{arr.shape}")
            self.arrays[key] = arr
        self.total = None

    def columns(self):
        return list(self.arrays)

    def batches(self, wanted, cols):
        pa = import_pyarrow()
        lengths = {c: self.arrays[c].shape[0] for c in wanted}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{c!r} has {n}" for c, n in lengths.items())
            raise ValueError(f"the columns of the dict of arrays must have equal lengths: "
                             f"{shown}")
        self.total = next(iter(lengths.values()))
        for lo in range(0, self.total, BATCH_ROWS):
            arrays = []
            for c in wanted:
                try:
                    arrays.append(to_arrow(self.arrays[c][lo:lo + BATCH_ROWS]))
                except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                    raise _conversion_error(self.name, c, e) from None
            yield pa.record_batch(arrays, names=wanted)


class ParquetSource(_Source):
    unit = "B"
    kind = "Parquet"

    def __init__(self, path):
        import pyarrow.parquet as pq

        self.path = path
        self.name = str(path)
        try:
            # pre_buffer would keep the whole file in memory until the end
            self.file = pq.ParquetFile(path, pre_buffer=False)
        except Exception as e:  # ArrowInvalid, OSError: not a Parquet file
            raise unreadable(self, e) from None
        self.total = os.path.getsize(path)
        self.n_rows = self.file.metadata.num_rows

    def columns(self):
        return self.file.schema_arrow.names

    def batches(self, wanted, cols):
        yield from self.file.iter_batches(batch_size=BATCH_ROWS, columns=wanted)

    def where(self, record):
        return f"row {record + 1}"

    def progress(self, rows):
        return self.total * rows / max(self.n_rows, 1)


class CsvSource(_Source):
    """A CSV/TSV file, read by pyarrow's streaming reader on one thread (so that
    it numbers the rows it reports: the header, if any, is row 1, blank lines are
    skipped; messages turn these numbers into lines). Without a header (header
    False) the columns are pyarrow's f0, f1... A delimiter of several characters
    goes through _delimited.Substituted, with quoting off."""

    unit = "B"

    def __init__(self, path, delimiter, compression, skip, header=True):
        self.path = path
        self.name = str(path)
        self.delimiter = delimiter
        self.multi = len(delimiter) > 1
        self.kind = ("TSV" if delimiter == "\t" else f"text split by {delimiter!r}" if self.multi
                     else "CSV")
        self.compression = compression
        self.skip = skip
        self.header = self.named = header
        self.total = os.path.getsize(path)
        if compression is None:
            _check_not_binary(path, self.kind)
        self.as_text = set()   # columns read as text (see the module docstring)
        self._names = None
        self._raw = None
        self._pos = 0
        self._sub = None       # the byte standing in for a multi-character delimiter
        self._excluded = b""   # bytes found in the file: never again a substitute

    # -- pyarrow plumbing
    def _stream(self):
        pa = import_pyarrow()
        raw = pa.OSFile(str(self.path), "rb")
        if self.compression is None:
            return raw, raw
        return raw, pa.CompressedInputStream(raw, self.compression)

    def _open(self, convert_options, handler, block_size=None):
        pa = import_pyarrow()
        import pyarrow.csv as pcsv

        delimiter, quote, source = self.delimiter, '"', None
        if self.multi:
            delimiter, quote = self._substitute().decode(), False
        raw, stream = self._stream()
        try:
            if self.multi:
                source = _delimited.Substituted(stream, self.delimiter.encode(), self._sub,
                                                SUB_BLOCK)
            reader = pcsv.open_csv(
                pa.PythonFile(source, mode="r") if source is not None else stream,
                read_options=pcsv.ReadOptions(use_threads=False,
                                              block_size=block_size or CSV_BLOCK,
                                              autogenerate_column_names=not self.header),
                parse_options=pcsv.ParseOptions(delimiter=delimiter, quote_char=quote,
                                                invalid_row_handler=handler),
                convert_options=convert_options)
        except BaseException as e:
            stream.close()
            raw.close()
            if isinstance(e, _delimited.Collision):
                self._collided()
            raise
        return raw, stream, reader

    def _substitute(self):
        """The byte standing in for the delimiter: one found in neither the first
        bytes of the file nor, earlier, in the file (a collision)."""
        if self._sub is None:
            head, _ = read_head(self.path, self.compression, SUB_HEAD)
            self._sub = _delimited.substitute(head, self._excluded)
            if self._sub is None:
                raise ValueError(f"{self.name} cannot be read with delimiter "
                                 f"{self.delimiter!r}: each of the control bytes that could "
                                 f"stand in for it occurs in the file; pass a one-character "
                                 f"delimiter")
        return self._sub

    def _collided(self):
        self._excluded += self._sub
        self._sub = None

    def columns(self):
        pa = import_pyarrow()
        import pyarrow.csv as pcsv

        while self._names is None:
            try:
                raw, stream, reader = self._open(pcsv.ConvertOptions(), lambda row: "skip",
                                                 block_size=1 << 20)
            except _delimited.Collision:
                continue  # another substitute
            except (pa.ArrowInvalid, OSError) as e:
                raise unreadable(self, e) from None
            self._names = reader.schema.names
            stream.close()
            raw.close()
        return self._names

    def _on_invalid(self, row):
        self.invalid_rows.append(row.number)
        self.n_invalid += 1
        if self.first_invalid is None:
            text = row.text
            if self.multi:
                text = text.replace(self._sub.decode(), self.delimiter)
            text = text if len(text) <= 80 else text[:77] + "..."
            first = "the header" if self.header else "the first row"
            self.first_invalid = (row.number,
                                  f"the row has {row.actual_columns} fields where {first} "
                                  f"has {row.expected_columns} ({text!r})")
        return "skip" if self.skip else "error"

    def invalid_where(self):
        """(where, reason) of the first row skipped for a wrong field count."""
        number, reason = self.first_invalid
        return self._line_text(number), reason

    # -- reading
    def batches(self, wanted, cols):
        pa = import_pyarrow()
        import pyarrow.csv as pcsv

        self.invalid_rows = []  # pyarrow's row numbers: the header is 1, blank lines skipped
        self.n_invalid = 0
        self.first_invalid = None
        text = self.as_text | {c for c in cols.ids if cols.id_types[c] == "str"}
        types = {c: pa.string() for c in text}
        if cols.value is not None and cols.value not in self.as_text:
            types[cols.value] = pa.float64()
        options = pcsv.ConvertOptions(include_columns=wanted, column_types=types,
                                      null_values=[""], strings_can_be_null=True,
                                      quoted_strings_can_be_null=True)
        try:
            raw, stream, reader = self._open(options, self._on_invalid)
        except pa.ArrowInvalid as e:
            self._failed(e, cols)
        except _delimited.Collision:
            raise Retry from None
        self._raw, self._pos = raw, 0
        try:
            # ids typed as neither int64 nor text (double for ids beyond int64, a
            # date...) are read as text so that they stay exact
            odd = [c for c in cols.ids if c not in text
                   and not _int_or_text(pa, reader.schema.field(c).type)]
            if odd:
                self.as_text.update(odd)
                raise Retry
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except pa.ArrowInvalid as e:
                    self._failed(e, cols)
                except _delimited.Collision:
                    self._collided()
                    raise Retry from None
                yield batch
        finally:
            stream.close()
            raw.close()
            self._raw = None

    def _failed(self, error, cols):
        """A read error: a wrong field count (error mode), or a value that does not
        convert to its column's type (-> Retry with the column as text, or a bad row)."""
        if self.first_invalid is not None and not self.skip:
            raise BadRowError(self.name, *self.invalid_where(), column=None) from None
        message = str(error)
        m = _CONVERSION.search(message)
        if m is not None:
            names = self.columns()
            col = names[int(m[1])] if int(m[1]) < len(names) else None
            if col == cols.value and not self.skip:
                raise BadRowError(self.name, self._line_text(int(m[2])),
                                  f"the value {m[3]!r} is not a number",
                                  cols.shown[col]) from None
            if col is not None and col in cols.wanted and col not in self.as_text:
                self.as_text.add(col)
                raise Retry
        elif "conversion error" in message:
            typed = [c for c in cols.wanted if c not in self.as_text]
            if typed:
                self.as_text.update(typed)
                raise Retry
        raise unreadable(self, error) from None

    def progress(self, rows):
        if self._raw is None:
            return 0
        pos = self._raw.tell()
        step, self._pos = pos - self._pos, pos
        return step

    def where(self, record):
        # pyarrow's number of the record-th row yielded: the header and the rows
        # skipped before it come first
        number = record + (2 if self.header else 1)
        for skipped in sorted(self.invalid_rows):
            if skipped > number:
                break
            number += 1
        return self._line_text(number)

    def _line_text(self, number):
        line = self._line_of(number)
        if line is not None:
            return f"line {line}"
        return f"row {number}" + (" (the header is row 1)" if self.header else "")

    def _line_of(self, number):
        """The line (1-based) of pyarrow's row `number`: the number-th line that is
        not blank (pyarrow skips blank lines and, by default, does not allow line
        breaks inside values). Only called to name a bad row."""
        raw, stream = self._stream()
        line = 0
        count = 0
        carry = b""
        try:
            while True:
                chunk = stream.read(SCAN_BLOCK)
                buf = carry + chunk
                k = buf.count(b"\n")
                if (chunk and count + k < number and b"\n\n" not in buf
                        and b"\n\r\n" not in buf and not buf.startswith((b"\n", b"\r\n"))):
                    # no blank line in these k lines: count them at once
                    line += k
                    count += k
                    carry = buf[buf.rfind(b"\n") + 1:]
                    continue
                lines = buf.split(b"\n")
                carry = lines.pop() if chunk else b""
                for text in lines:
                    line += 1
                    if text not in (b"", b"\r"):
                        count += 1
                        if count == number:
                            return line
                if not chunk:
                    return None
        finally:
            stream.close()
            raw.close()


def unreadable(source, error):
    """The error for a source that pyarrow cannot read (corrupt, truncated...)."""
    return ValueError(f"{source.name} cannot be read as {source.kind}: {error}")


# the first bytes of files that are not text: compressed or Parquet
_MAGIC = [(b"\x1f\x8b", "gzip-compressed", ".gz"), (b"BZh", "bzip2-compressed", ".bz2"),
          (b"\x28\xb5\x2f\xfd", "zstd-compressed", ".zst"),
          (b"\x04\x22\x4d\x18", "lz4-compressed", ".lz4"), (b"PAR1", "a Parquet file", None)]


def _check_not_binary(path, kind):
    """A file read as plain CSV/TSV that starts like a compressed or Parquet file
    is an error saying so (pyarrow would report a confusing parse error)."""
    with open(path, "rb") as f:
        head = f.read(4)
    for magic, what, suffix in _MAGIC:
        if head.startswith(magic):
            fix = (f"rename it to {path.name}{suffix} so that it is decompressed" if suffix
                   else "name it .parquet or pass format='parquet'")
            raise ValueError(f"{path} cannot be read as {kind}: it is {what} (its first bytes "
                             f"are {head!r}); {fix}")


def _conversion_error(source, column, error):
    return TypeError(f"column {column!r} of {source} cannot be converted to Arrow ({error}); "
                     f"ids must be all integers or all strings (convert them, e.g. with "
                     f".astype(str)), values numbers")


def _int_or_text(pa, t):
    return (pa.types.is_int64(t) or pa.types.is_string(t) or pa.types.is_large_string(t)
            or pa.types.is_null(t))
