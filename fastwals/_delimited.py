"""Delimited text under pyarrow's CSV reader, for fastwals._sources.

- ``sniff``: the delimiter of a text file from its first lines (files whose
  extension does not say: .dat, .txt, none).
- ``Substituted``: a file whose delimiter is several characters ("::", as in
  MovieLens 1M/10M) read by pyarrow's one-character parser: the stream is read
  in blocks cut at line ends (a delimiter holds no line break, so none straddles
  two blocks: the result is that of one replace over the whole file), each
  occurrence of the delimiter is replaced by one control byte that does not
  occur in the file (bytes.replace: C speed, no Python per line), and pyarrow
  splits on that byte with quoting off. A block that holds the
  byte raises ``Collision``; the reader then picks another byte and starts over.
"""

import re

CANDIDATES = ("\t", "::", ",", ";", "|")  # what sniff tries, in this order
SNIFF_BYTES = 1 << 16   # sniff looks at the first 64 KiB ...
SNIFF_LINES = 20        # ... and at most this many non-blank lines of them
_QUOTED = re.compile(rb'"[^"\n]*"')
# control bytes that may stand in for a multi-character delimiter (not tab, CR, LF)
SUBSTITUTES = bytes([0x1F, 0x1E, 0x1D, 0x1C, *range(0x01, 0x09), 0x0B, 0x0C,
                     *range(0x0E, 0x1C), 0x7F])


def shown(delimiter):
    return "tab" if delimiter == "\t" else repr(delimiter)


def sniff(head, complete):
    """(delimiter, None), or (None, why none can be told: text for a message).

    head: the first bytes of the (decompressed) file; complete: head is the whole
    file. A candidate is taken when it occurs the same number of times (at least
    once) on each of the first non-blank lines, and it alone does; single-character
    candidates are counted outside double-quoted fields."""
    lines = head.split(b"\n")
    if not complete:
        lines.pop()  # cut by the sample
    lines = [line.rstrip(b"\r") for line in lines]
    lines = [line for line in lines if line.strip()][:SNIFF_LINES]
    if not lines:
        return None, ("it is empty" if complete and not head.strip() else
                      f"its first {SNIFF_BYTES // 1024} KiB hold no complete line")
    counts = {}
    unquoted = [_QUOTED.sub(b"", line) for line in lines]
    for d in CANDIDATES:
        sep = d.encode()
        counts[d] = [line.count(sep) for line in (lines if len(d) > 1 else unquoted)]
    fits = [d for d, c in counts.items() if c[0] > 0 and len(set(c)) == 1]
    what = "its first line" if len(lines) == 1 else f"its first {len(lines)} lines"
    if len(fits) == 1:
        return fits[0], None
    tried = ", ".join(shown(d) for d in CANDIDATES)
    if fits:
        alike = " and ".join(shown(d) for d in fits)
        return None, (f"{what} could be split by {alike} alike (each occurs as often on every "
                      f"line; tried {tried})")
    seen = [f"{shown(d)} {min(c)}" + (f" to {max(c)}" if max(c) > min(c) else "")
            for d, c in counts.items() if max(c) > 0]
    found = ("found " + ", ".join(seen) + " time(s) per line") if seen else "found none of them"
    spaces = {line.count(b" ") for line in unquoted}
    hint = ("; spaces occur as often on every line: pass delimiter=' ' if they separate the "
            "fields" if len(spaces) == 1 and 0 not in spaces else "")
    return None, (f"no delimiter occurs the same number of times on each of {what} (tried "
                  f"{tried}; {found}){hint}")


def substitute(head, excluded=()):
    """A byte of SUBSTITUTES that is neither in `head` nor excluded, or None."""
    for b in SUBSTITUTES:
        byte = bytes([b])
        if byte not in head and byte not in excluded:
            return byte
    return None


class Collision(Exception):
    """Internal: the substitute byte occurs in the file."""


def _first_end(data):
    """The index just after the first line end (LF or CR) of data, 0 if none."""
    lf, cr = data.find(b"\n"), data.find(b"\r")
    return (lf if cr < 0 else cr if lf < 0 else min(lf, cr)) + 1


def _last_end(data):
    """The index just after the last line end (LF or CR) of data, 0 if none."""
    return max(data.rfind(b"\n"), data.rfind(b"\r")) + 1


class Substituted:
    """A read-only binary file over `stream` (anything with read(n) -> bytes) in
    which every `delimiter` (bytes) reads as the byte `sub`. Closing it leaves
    `stream` open (its owner closes it).

    Each chunk read is replaced whole; what precedes its first line end (the
    rest of a line begun in the previous chunk) is replaced again joined to that
    beginning, and what follows its last line end waits for the next chunk. The
    parts are handed out as memoryviews of the replaced chunks, so that a byte is
    copied only by the read and the replace; read(n) returns at most n bytes,
    fewer at a part's end (a short read, which Arrow's streams allow)."""

    closed = False

    def __init__(self, stream, delimiter, sub, block=1 << 20):
        self.stream, self.delimiter, self.sub, self.block = stream, delimiter, sub, block
        self._parts = []   # replaced bytes not yet returned, in order
        self._carry = b""  # the last, unfinished line read (not replaced)
        self._eof = False
        self._told = 0

    def readable(self):
        return True

    def seekable(self):
        return False

    def writable(self):
        return False

    def tell(self):
        return self._told

    def close(self):
        self.closed = True

    def read(self, n=-1):
        if n is None or n < 0:
            while not self._eof:
                self._fill(self.block)
            out = b"".join(self._parts)
            self._parts = []
        else:
            while not self._parts and not self._eof:
                self._fill(n)
            if not self._parts:
                return b""
            part = self._parts[0]  # never empty: b"" would end the file for the reader
            if len(part) <= n:
                out = self._parts.pop(0)
            else:
                out, self._parts[0] = part[:n], part[n:]
        self._told += len(out)
        return out

    def _fill(self, want):
        chunk = self.stream.read(max(want, self.block))
        if not chunk:
            self._eof = True
            if self._carry:
                self._parts.append(self._carry.replace(self.delimiter, self.sub))
            self._carry = b""
            return
        if self.sub in chunk:
            raise Collision
        last = _last_end(chunk)
        if last == 0:  # no line end yet
            self._carry += chunk
            return
        first = 0
        if self._carry:  # the line begun before, replaced joined to its end
            first = _first_end(chunk)
            self._parts.append((self._carry + chunk[:first]).replace(self.delimiter, self.sub))
        if first < last:
            out = chunk.replace(self.delimiter, self.sub)
            # line ends are not replaced: the same lines end the replaced chunk
            self._parts.append(memoryview(out)[_first_end(out) if first else 0:_last_end(out)])
        self._carry = chunk[last:]
