"""Where interaction rows come from, for fastwals.io.

A source (a CSV/TSV or Parquet file, an Arrow table or stream, a data frame, a
dict of arrays) yields pyarrow RecordBatches holding the wanted columns, in
order, and names a row for error messages (``where``). Files are read by
pyarrow in batches; nothing here parses CSV by hand.

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

FORMATS = ("csv", "tsv", "parquet")
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet",
              ".pq": "parquet"}
COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".lz4": "lz4",
               ".br": "brotli"}
BATCH_ROWS = 1 << 20      # rows per batch from Parquet files and in-memory tables
CSV_BLOCK = 1 << 24       # bytes per CSV block
SCAN_BLOCK = 1 << 22      # bytes per read when counting lines to name a bad row
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
        where = f"{source}, {row}" + (f", column {column!r}" if column is not None else "")
        super().__init__(f"{where}: {reason}. Fix or remove the row, or pass "
                         f"on_bad_rows='skip' to skip bad rows and count them")


class MissingColumnError(ValueError):
    """A requested column is not in the file or table; ``available`` lists those that are."""

    def __init__(self, source, column, role, available):
        self.source, self.column, self.available = source, column, list(available)
        shown = ", ".join(repr(c) for c in self.available[:50])
        more = f" and {len(self.available) - 50} more" if len(self.available) > 50 else ""
        super().__init__(f"{source} has no column {column!r} (given as {role}); its columns "
                         f"are: {shown}{more}")


class Retry(Exception):
    """Internal: read the current source again (its column types changed)."""


for _cls in (BadRowError, MissingColumnError):
    _cls.__module__ = "fastwals.io"


# ---------------------------------------------------------------- opening a source

def open_sources(source, format, delimiter, skip):
    """The list of sources behind `source` (see read_interactions)."""
    pa = import_pyarrow()
    if isinstance(source, (str, os.PathLike)):
        return [_file_source(p, format, delimiter, skip) for p in _expand(Path(source), format)]
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("source is an empty list; give at least one file")
        for s in source:
            if not isinstance(s, (str, os.PathLike)):
                raise TypeError(f"source as a list must hold file or directory paths, got an "
                                f"item of type {type(s).__name__}")
        paths = [p for s in source for p in _expand(Path(s), format)]
        return [_file_source(p, format, delimiter, skip) for p in paths]
    if format is not None or delimiter is not None:
        raise ValueError(f"format and delimiter apply to files; source is a "
                         f"{type(source).__name__}")
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


def _file_source(path, format, delimiter, skip):
    fmt, compression = file_format(path)
    if format is not None:
        fmt = format
    elif fmt is None:
        raise ValueError(f"cannot tell the format of {path.name} from its extension (known: "
                         f".csv, .tsv, .tab, .parquet, .pq, and .csv/.tsv with .gz, .bz2, .zst, "
                         f".lz4); pass format='csv', 'tsv' or 'parquet'")
    if fmt == "parquet":
        return ParquetSource(path)
    if delimiter is None:
        delimiter = "\t" if fmt == "tsv" else ","
    return CsvSource(path, delimiter, compression, skip)


# ---------------------------------------------------------------- sources

class _Source:
    name = ""
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
    """A CSV/TSV file with a header line, read by pyarrow's streaming reader on
    one thread (so that it numbers the rows it reports: the header is row 1,
    blank lines are skipped; messages turn these numbers into lines)."""

    unit = "B"

    def __init__(self, path, delimiter, compression, skip):
        self.path = path
        self.name = str(path)
        self.delimiter = delimiter
        self.kind = "TSV" if delimiter == "\t" else "CSV"
        self.compression = compression
        self.skip = skip
        self.total = os.path.getsize(path)
        if compression is None:
            _check_not_binary(path, self.kind)
        self.as_text = set()   # columns read as text (see the module docstring)
        self._names = None
        self._raw = None
        self._pos = 0

    # -- pyarrow plumbing
    def _stream(self):
        pa = import_pyarrow()
        raw = pa.OSFile(str(self.path), "rb")
        if self.compression is None:
            return raw, raw
        return raw, pa.CompressedInputStream(raw, self.compression)

    def _open(self, convert_options, handler, block_size=None):
        import pyarrow.csv as pcsv

        raw, stream = self._stream()
        try:
            reader = pcsv.open_csv(
                stream,
                read_options=pcsv.ReadOptions(use_threads=False,
                                              block_size=block_size or CSV_BLOCK),
                parse_options=pcsv.ParseOptions(delimiter=self.delimiter,
                                                invalid_row_handler=handler),
                convert_options=convert_options)
        except BaseException:
            stream.close()
            raw.close()
            raise
        return raw, stream, reader

    def columns(self):
        if self._names is None:
            pa = import_pyarrow()
            import pyarrow.csv as pcsv

            try:
                raw, stream, reader = self._open(pcsv.ConvertOptions(), lambda row: "skip",
                                                 block_size=1 << 20)
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
            text = row.text if len(row.text) <= 80 else row.text[:77] + "..."
            self.first_invalid = (row.number,
                                  f"the row has {row.actual_columns} fields where the header "
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
                                  f"the value {m[3]!r} is not a number", col) from None
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
        number = record + 2
        for skipped in sorted(self.invalid_rows):
            if skipped > number:
                break
            number += 1
        return self._line_text(number)

    def _line_text(self, number):
        line = self._line_of(number)
        return f"line {line}" if line is not None else f"row {number} (the header is row 1)"

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
