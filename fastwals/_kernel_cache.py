"""Keeps Numba's on-disk cache of the kernels in step with all of their sources.

Numba judges a cached kernel fresh by the file that defines it alone (its
modification time and size; a hash of its contents in recent releases). The
kernels inline helpers and constants from the other files of fastwals/_kernels/
(_common.py, simd.py, blas.py...), so an edit there alone (a checkout or pull
in an editable install, a copy or an upgrade that keeps the other files and
their mtimes) left the machine code of solve.py, cg.py... compiled from the
old helpers, and Numba kept loading it.

`refresh`, run by fastwals/_kernels/__init__.py before any kernel module is
imported, hashes the contents of every .py file of fastwals/_kernels/ (about
100 KB) and compares the digest with a stamp file kept in each directory where
Numba would cache those files now, found by asking Numba's own locator
classes: NUMBA_CACHE_DIR, the package's __pycache__ when writable, the
user-wide cache directory otherwise, whatever NUMBA_CACHE_LOCATOR_CLASSES
names. Where the stamp differs (or is missing), the kernels' index and data
files there (<module>.*.nbi, <module>.*.nbc) are removed, and then the new
stamp is written (a temporary file renamed over it). A directory Numba does
not use now is checked when it is used.

Nothing here raises: a cache problem costs at worst a recompile. Concurrent
imports are safe: files that vanish meanwhile are skipped, Numba's temporary
files are left alone, the stamp is replaced atomically, and a process that
clears after another has compiled only costs a recompile. A directory that
cannot be written is one Numba does not use (its locators require a writable
one), and a failure to remove a file keeps the old stamp, so the next import
tries again.

Not covered: a process still running the old sources (a Jupyter kernel during
a pull) can write kernels compiled from them after a newer process has
cleared the cache; restart such processes after an update.
"""

import hashlib
import os

STAMP_NAME = "fastwals-kernels.stamp"
CACHE_SUFFIXES = (".nbi", ".nbc")


def refresh(directory, package=None):
    """Clear the cached kernels of `directory` (fastwals/_kernels) wherever
    Numba would cache them now, if its .py files changed since the stamp there
    was written. `package`: its import name, to read the files when they are not
    in a directory (a zip import). Never raises."""
    try:
        _refresh(directory, package)
    except Exception:  # noqa: BLE001 - a cache problem must never stop the import
        pass


def _refresh(directory, package):
    from numba.core import config

    if config.DISABLE_JIT:
        return
    sources = _read_sources(directory, package)
    if not sources:
        return
    digest = sources_digest(sources)
    modules = {name[:-3] for name in sources if name != "__init__.py"}
    for cache_dir in numba_cache_dirs(directory, sorted(modules)):
        _check(cache_dir, digest, modules)


def _read_sources(directory, package):
    """{file name: contents} of the .py files of `directory`."""
    try:
        names = [name for name in os.listdir(directory) if name.endswith(".py")]
    except OSError:
        if package is None:
            return {}
        from importlib.resources import files

        return {entry.name: entry.read_bytes() for entry in files(package).iterdir()
                if entry.name.endswith(".py")}
    sources = {}
    for name in names:
        with open(os.path.join(directory, name), "rb") as f:
            sources[name] = f.read()
    return sources


def sources_digest(sources):
    """Hex digest of the names and contents of `sources` ({name: bytes})."""
    h = hashlib.sha256()
    for name in sorted(sources):
        data = sources[name]
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def numba_cache_dirs(directory, modules):
    """{cache directory: None} of the modules (file stems in `directory`), as
    Numba's locator classes choose them now for a function of each file: the
    same choice, with the same side effect (the directory is created), that
    Numba makes when it decorates a `cache=True` function there. A file no
    locator takes is skipped (Numba cannot cache it). Numba's own locators
    derive the directory from the file's directory alone, so unless
    NUMBA_CACHE_LOCATOR_CLASSES names others, one file answers for all (each
    query costs ~0.13 ms: it creates a temporary file to test the directory)."""
    from numba.core import caching, config

    if not getattr(config, "CACHE_LOCATOR_CLASSES", None):
        modules = modules[:1]
    dirs = {}
    for module in modules:
        path = os.path.join(directory, module + ".py")
        try:
            impl = caching.CompileResultCacheImpl(_function_of(path))
            dirs[impl.locator.get_cache_path()] = None
        except Exception:  # noqa: BLE001 - no locator, or Numba changed: no cache to clear
            continue
    return dirs


def _function_of(path):
    """A function whose source file is `path`, for Numba's locators."""
    namespace = {}
    exec(compile("def kernel():\n    pass\n", path, "exec"), namespace)
    return namespace["kernel"]


def _check(cache_dir, digest, modules):
    stamp = os.path.join(cache_dir, STAMP_NAME)
    try:
        with open(stamp, "rb") as f:
            if f.read().strip() == digest.encode():
                return
    except OSError:
        pass
    if _clear(cache_dir, modules):
        _write_stamp(stamp, digest)


def _clear(cache_dir, modules):
    """Remove the index and data files of `modules` from `cache_dir`; whether
    every one is gone."""
    try:
        entries = os.listdir(cache_dir)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    cleared = True
    for name in entries:
        if name.endswith(CACHE_SUFFIXES) and name.split(".", 1)[0] in modules:
            try:
                os.unlink(os.path.join(cache_dir, name))
            except FileNotFoundError:  # another process removed it first
                pass
            except OSError:
                cleared = False
    return cleared


def _write_stamp(stamp, digest):
    temporary = f"{stamp}.tmp.{os.getpid()}.{os.urandom(4).hex()}"
    try:
        # as Numba does before it saves (its zip locator leaves the directory
        # to then)
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        with open(temporary, "wb") as f:
            f.write(digest.encode() + b"\n")
        os.replace(temporary, stamp)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
