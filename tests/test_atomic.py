"""Atomic writes: file modes from the umask, and no temporary left behind by a
writer killed mid-save (real processes killed with SIGKILL)."""

import os
import signal
import stat
import subprocess
import sys
import threading

import pytest

import fastwals
from fastwals import WALS, _atomic
from fastwals._atomic import atomic_file

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes and signals")


@pytest.fixture(params=["anonymous", "named"])
def how(request, monkeypatch):
    """Both ways to make the temporary: O_TMPFILE, and the portable named file."""
    if request.param == "named":
        monkeypatch.setattr(_atomic, "_anonymous", lambda directory: (None, None),
                            raising=False)  # (raising=False: also runs on older code)
    return request.param


@pytest.fixture(params=[0o022, 0o077, 0o002], ids=lambda m: f"umask={m:03o}")
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _debris(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def test_new_files_get_the_mode_open_gives(tmp_path, umask, how):
    with atomic_file(tmp_path / "out.json", "w") as f:
        f.write("{}")
    WALS(3).save(tmp_path / "model.npz")
    with open(tmp_path / "plain", "w"):
        pass
    assert _mode(tmp_path / "out.json") == _mode(tmp_path / "plain") == 0o666 & ~umask
    assert _mode(tmp_path / "model.npz") == 0o666 & ~umask
    assert (tmp_path / "out.json").read_text() == "{}" and not _debris(tmp_path)


def test_a_replaced_file_keeps_its_mode(tmp_path, how):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    WALS(3).save(path)
    assert _mode(path) == 0o640 and WALS.load(path).factors == 3


def test_an_error_leaves_the_old_file_and_nothing_else(tmp_path, how):
    path = tmp_path / "out"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_file(path) as f:
            f.write(b"new")
            raise RuntimeError
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["out"]


# ---------------------------------------------------------------- killed writers

# Saves a model with WALS.save and blocks at `where` (after the archive is written
# to the temporary file, or just before the rename) until a line arrives on stdin.
CHILD = """
import os, sys
import numpy as np
from fastwals import WALS, _atomic
path, where, how = sys.argv[1:]
if how == "named":
    _atomic._anonymous = lambda directory: (None, None)

def blocking(real):
    def call(*args, **kwargs):
        if where == "rename":
            print("blocked", flush=True)
            sys.stdin.readline()
        result = real(*args, **kwargs)
        if where == "write":
            print("blocked", flush=True)
            sys.stdin.readline()
        return result
    return call

if where == "write":
    np.savez = blocking(np.savez)
else:
    os.replace = blocking(os.replace)
rng = np.random.default_rng(0)
model = WALS(8, dtype=np.float64)
model.user_factors_ = rng.standard_normal((20000, 8))
model.item_factors_ = rng.standard_normal((5000, 8))
model.n_iter_, model.loss_history_ = 1, []
model.save(path)
"""


def _blocked_saver(path, where, how):
    """A child process blocked in the middle of saving a model to path."""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fastwals.__file__)))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), where, how],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            cwd=os.path.dirname(path))
    watchdog = threading.Timer(120, proc.kill)  # nothing below can hang the run
    watchdog.start()
    line = proc.stdout.readline()
    watchdog.cancel()
    if line != "blocked\n":
        proc.kill()
        raise AssertionError(f"the child did not block: {proc.communicate()[1]}")
    return proc


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)  # reaped: a zombie still holds its pid


@pytest.mark.parametrize("where", ["write", "rename"])
def test_a_killed_save_leaves_the_old_file_and_no_debris(tmp_path, how, where):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old model")
    _kill(_blocked_saver(path, where, how))
    assert path.read_bytes() == b"old model"
    if how == "anonymous" and where == "write":
        assert _debris(tmp_path) == []  # an anonymous file had no name to leave
    else:
        assert len(_debris(tmp_path)) == 1  # named: the next write removes it
    WALS(3).save(tmp_path / "other.npz")
    assert sorted(os.listdir(tmp_path)) == ["model.npz", "other.npz"]


def test_a_live_writers_temporary_is_kept(tmp_path):
    path = tmp_path / "model.npz"
    proc = _blocked_saver(path, "write", "named")
    try:
        mine = _debris(tmp_path)
        assert len(mine) == 1
        WALS(3).save(tmp_path / "other.npz")  # cleans the directory, not a live file
        assert _debris(tmp_path) == mine
        _, err = proc.communicate("go\n", timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert WALS.load(path).user_factors_.shape == (20000, 8)
    assert sorted(os.listdir(tmp_path)) == ["model.npz", "other.npz"]


def test_whose_temporaries_are_removed(tmp_path):
    scope, boot, pid, start = _atomic._me()
    other_boot = "f" * 8 if boot != "f" * 8 else "e" * 8
    other_scope = "f" * 8 if scope != "f" * 8 else "e" * 8
    names = {
        f".fastwals-{scope}-{boot}-{pid}-{start}-01.tmp": True,  # this live process
        f".fastwals-{scope}-{boot}-{pid}-{start + 1}-02.tmp": False,  # its pid, recycled
        f".fastwals-{scope}-{other_boot}-{pid}-{start}-03.tmp": False,  # before a reboot
        f".fastwals-{other_scope}-{boot}-{pid}-{start + 1}-04.tmp": True,  # another host
        ".fastwals-k2j4h5.tmp": True,  # an older fastwals' (mkstemp): owner unknown
    }
    for name in names:
        (tmp_path / name).write_bytes(b"")
    with atomic_file(tmp_path / "out") as f:
        f.write(b"x")
    assert _debris(tmp_path) == sorted(name for name, kept in names.items() if kept)
