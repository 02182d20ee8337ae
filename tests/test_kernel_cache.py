"""Numba's on-disk cache of the kernels follows edits to the helpers they inline
from other files (fastwals/_kernel_cache.py): subprocesses on a copy of the
package, which compile one small kernel (loss.observed_loss_rows, which inlines
_common.observed_weight)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastwals
from fastwals import _kernel_cache

PACKAGE = Path(fastwals.__file__).parent

# one row, one entry r = 2, p = x·y = 0.5, w0 = alpha = 1, linear confidence,
# no regularisation: out = w (1 − p)² − w0 p² with w = w0 + extra
CHILD = """
import json, sys
import numpy as np
import fastwals
from fastwals._kernels import loss

f = loss.observed_loss_rows
out = np.zeros(1)
f(np.array([0, 1], np.int64), np.array([0], np.int32), np.array([2.0], np.float32),
  np.ones((1, 2), np.float32), np.full((1, 2), 0.25, np.float32), np.zeros(1), 1.0, 1.0,
  0, 1.0, False, np.ones(1, np.float32), np.ones(1, np.float32), np.ones(1, np.float32),
  np.ones(1, np.float32), out)
print(json.dumps({"file": fastwals.__file__, "out": out[0],
                  "hits": sum(f.stats.cache_hits.values()),
                  "misses": sum(f.stats.cache_misses.values())}))
"""


def expected(extra, w0=1.0, p=0.5):
    return (w0 + extra) * (1 - p) ** 2 - w0 * p * p


# appended to the copy's _common.py: observed_weight now doubles w − w0
# (r = 2: extra 4 instead of 2)
DOUBLED = '''

_single_observed_weight = observed_weight


@njit(cache=True, nogil=True, inline="always")
def observed_weight(r, w0, alpha, conf_kind, epsilon, row_weight, col_weight):
    extra, w = _single_observed_weight(r, w0, alpha, conf_kind, epsilon, row_weight,
                                       col_weight)
    return extra + extra, w + extra
'''


def copy_package(root):
    shutil.copytree(PACKAGE, root / "fastwals", ignore=shutil.ignore_patterns("__pycache__"))
    return root / "fastwals" / "_kernels"


def child_env(root, cache_dir=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT", "NUMBA_CACHE_LOCATOR_CLASSES")}
    env["PYTHONPATH"] = str(root)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    return env


def run_child(root, env):
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["file"]).parent == root / "fastwals"  # the copy, not the repo
    return result


def snapshot(directory):
    """{name: (inode, mtime_ns, size)} of the cache files and the stamp."""
    return {entry.name: (entry.stat().st_ino, entry.stat().st_mtime_ns, entry.stat().st_size)
            for entry in os.scandir(directory)
            if entry.name.endswith((".nbi", ".nbc", ".stamp"))}


@pytest.mark.parametrize("where", ["in-tree", "NUMBA_CACHE_DIR"])
def test_helper_edit_reaches_cached_kernel(tmp_path, where):
    kernels = copy_package(tmp_path)
    cache_root = tmp_path / "numba-cache" if where == "NUMBA_CACHE_DIR" else None
    env = child_env(tmp_path, cache_root)

    first = run_child(tmp_path, env)
    assert first["out"] == expected(2.0)
    assert first["misses"] == 1
    if cache_root is None:
        cache_dir = kernels / "__pycache__"
    else:
        (cache_dir,) = cache_root.iterdir()  # Numba's subdirectory for _kernels/
    files = snapshot(cache_dir)
    assert _kernel_cache.STAMP_NAME in files
    assert any(name.startswith("loss.observed_loss_rows") and name.endswith(".nbi")
               for name in files)

    # nothing changed: the cache is used as it is
    again = run_child(tmp_path, env)
    assert again["out"] == expected(2.0)
    assert (again["hits"], again["misses"]) == (1, 0)
    assert snapshot(cache_dir) == files

    # an edit to _common.py alone; loss.py keeps its contents and mtime
    loss_stat = os.stat(kernels / "loss.py")
    with open(kernels / "_common.py", "a") as f:
        f.write(DOUBLED)
    edited = run_child(tmp_path, env)
    assert edited["out"] == expected(4.0)
    assert edited["misses"] == 1
    assert os.stat(kernels / "loss.py").st_mtime_ns == loss_stat.st_mtime_ns
    stamp = (cache_dir / _kernel_cache.STAMP_NAME).read_text()
    assert stamp != ""
    assert snapshot(cache_dir)[_kernel_cache.STAMP_NAME] != files[_kernel_cache.STAMP_NAME]

    # and the recompiled kernel is cached in turn
    last = run_child(tmp_path, env)
    assert last["out"] == expected(4.0)
    assert (last["hits"], last["misses"]) == (1, 0)
    assert (cache_dir / _kernel_cache.STAMP_NAME).read_text() == stamp


def fake_cache(directory, stamp=b"old\n"):
    directory.mkdir(parents=True, exist_ok=True)
    names = ["solve.f-1.py311.nbi", "solve.f-1.py311.1.nbc", "_common.g-2.py311.nbi",
             "other.f-1.py311.nbi",                       # another module's: kept
             "solve.cpython-311.pyc",                     # Python's: kept
             "solve.f-1.py311.nbi.tmp.0123456789abcdef"]  # Numba writing one: kept
    for name in names:
        (directory / name).write_bytes(b"x")
    (directory / _kernel_cache.STAMP_NAME).write_bytes(stamp)
    return names


def test_clear_removes_only_the_kernels_cache_files(tmp_path, monkeypatch):
    kernels = copy_package(tmp_path)
    cache_dir = tmp_path / "cache"
    names = fake_cache(cache_dir)
    monkeypatch.setattr(_kernel_cache, "numba_cache_dirs",
                        lambda directory, modules: {str(cache_dir): None})
    _kernel_cache.refresh(str(kernels))
    left = sorted(os.listdir(cache_dir))
    assert left == sorted(names[3:] + [_kernel_cache.STAMP_NAME])
    digest = _kernel_cache.sources_digest(_kernel_cache._read_sources(str(kernels), None))
    assert (cache_dir / _kernel_cache.STAMP_NAME).read_text() == digest + "\n"

    # a current stamp: nothing is removed
    (cache_dir / "solve.f-1.py311.nbi").write_bytes(b"x")
    _kernel_cache.refresh(str(kernels))
    assert (cache_dir / "solve.f-1.py311.nbi").exists()


def test_failed_removal_keeps_the_old_stamp(tmp_path, monkeypatch):
    kernels = copy_package(tmp_path)
    cache_dir = tmp_path / "cache"
    fake_cache(cache_dir)
    (cache_dir / "solve.h-3.py311.nbi").mkdir()  # cannot be unlinked, even by root
    monkeypatch.setattr(_kernel_cache, "numba_cache_dirs",
                        lambda directory, modules: {str(cache_dir): None})
    _kernel_cache.refresh(str(kernels))
    assert not (cache_dir / "solve.f-1.py311.nbi").exists()
    assert (cache_dir / _kernel_cache.STAMP_NAME).read_bytes() == b"old\n"  # tried again next time


def test_never_raises(tmp_path, monkeypatch):
    kernels = copy_package(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    # a cache directory that cannot be made (under a file): nothing written, no error
    monkeypatch.setattr(_kernel_cache, "numba_cache_dirs",
                        lambda directory, modules: {str(blocker / "cache"): None})
    _kernel_cache.refresh(str(kernels))
    # Numba failing: no error either
    def broken(directory, modules):
        raise RuntimeError("no locator")

    monkeypatch.setattr(_kernel_cache, "numba_cache_dirs", broken)
    _kernel_cache.refresh(str(kernels))
    # no such package directory
    _kernel_cache.refresh(str(tmp_path / "missing"))


def test_numba_locates_the_kernels_cache():
    """The directory found is the one Numba's dispatchers use for the kernels."""
    from fastwals._kernels import loss

    dirs = _kernel_cache.numba_cache_dirs(str(PACKAGE / "_kernels"), ["loss"])
    assert list(dirs) == [loss.observed_loss_rows._cache.cache_path]


def test_disabled_jit_does_nothing(tmp_path, monkeypatch):
    from numba.core import config

    kernels = copy_package(tmp_path)
    monkeypatch.setattr(config, "DISABLE_JIT", True)

    def unexpected(directory, modules):
        raise AssertionError("looked for a cache with the JIT disabled")

    monkeypatch.setattr(_kernel_cache, "numba_cache_dirs", unexpected)
    _kernel_cache._refresh(str(kernels), None)


def test_concurrent_refreshes(tmp_path):
    """Processes clearing and stamping one directory at once: no error, and the
    stamp ends current."""
    kernels = copy_package(tmp_path)
    cache_dir = tmp_path / "cache"
    script = f"""
import importlib.util, os
spec = importlib.util.spec_from_file_location("kc", {str(kernels.parent / "_kernel_cache.py")!r})
kc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kc)
kc.numba_cache_dirs = lambda directory, modules: {{{str(cache_dir)!r}: None}}
for i in range(100):
    if i % 3 == 0:
        with open(os.path.join({str(cache_dir)!r}, kc.STAMP_NAME), "wb") as f:
            f.write(b"old\\n")
        for j in range(10):
            open(os.path.join({str(cache_dir)!r}, f"solve.f{{j}}-1.py311.nbi"), "wb").close()
    kc._refresh({str(kernels)!r}, None)  # raises on any problem
"""
    fake_cache(cache_dir)
    procs = [subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    for proc in procs:
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        proc.stderr.close()
    _kernel_cache.refresh(str(kernels))  # the last word: current
    digest = _kernel_cache.sources_digest(_kernel_cache._read_sources(str(kernels), None))
    assert (cache_dir / _kernel_cache.STAMP_NAME).read_text() == digest + "\n"
    assert not [name for name in os.listdir(cache_dir) if ".stamp.tmp." in name]
