"""Atomic file writes: a temporary file beside the target, fsynced, then renamed
over it, so a crash never leaves a half-written file under the final name."""

import os
import tempfile
from contextlib import contextmanager


@contextmanager
def atomic_file(path, mode="wb"):
    """Yield a file object open on a temporary file in path's directory; on a
    clean exit it is flushed, fsynced and renamed to `path`, on an error removed."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastwals-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
