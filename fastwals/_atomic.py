"""Atomic file writes: the new contents go to a temporary file beside the target,
are fsynced, then renamed over it. A crash never leaves a half-written file
under the final name, nor a temporary file for ever:

- On Linux the temporary file is anonymous (O_TMPFILE): it has no name until
  it is complete, so a process killed while writing leaves nothing. It is then
  linked under a temporary name and renamed, a window of two system calls.
- Elsewhere (or on file systems without O_TMPFILE) it is named from the
  writer's identity: host, boot, pid and the process's start time. Every write
  first removes the temporaries of writers on this host that are gone (dead,
  or their pid now belongs to another process); a live writer's are kept.

Files get the permissions `open()` would give (0o666 less the umask); a file
that replaces another keeps the permission bits of the one it replaces.
"""

import errno
import hashlib
import os
import re
import secrets
import socket
import stat
from contextlib import contextmanager

_PREFIX = ".fastwals-"
_SUFFIX = ".tmp"
# .fastwals-<scope>-<boot>-<pid>-<start>-<random>.tmp
_NAME = re.compile(r"\.fastwals-([0-9a-f]{8})-([0-9a-f]{8})-([0-9]{1,10})-([0-9]{1,20})-"
                   r"[0-9a-f]+\.tmp\Z")


@contextmanager
def atomic_file(path, mode="wb"):
    """Yield a file object open on a temporary file in path's directory; on a
    clean exit it is flushed, fsynced and renamed to `path` (then the directory
    is fsynced), on an error it disappears."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    _remove_debris(directory)
    keep = _mode_to_keep(path)
    fd, tmp = _anonymous(directory)
    if fd is None:
        fd, tmp = _named(directory)
    linked = tmp is not None
    try:
        if keep is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, keep)
        with os.fdopen(fd, mode) as f:
            fd = None  # f owns it now
            yield f
            f.flush()
            os.fsync(f.fileno())
            if not linked:
                tmp = _link(f.fileno(), directory)
                linked = True
        os.replace(tmp, path)
        linked = False
    except BaseException:
        if fd is not None:
            os.close(fd)
        if linked:
            _unlink(tmp)
        raise
    _fsync_directory(directory)


def _mode_to_keep(path):
    """The permission bits of the regular file `path` replaces, or None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) & 0o777 if stat.S_ISREG(st.st_mode) else None


def _anonymous(directory):
    """(fd, None) of an anonymous file in directory, or (None, None) where the
    system or the file system has no O_TMPFILE."""
    flags = getattr(os, "O_TMPFILE", 0)
    if not flags or not os.path.isdir("/proc/self/fd"):  # no way to link it then
        return None, None
    try:
        # the kernel applies the umask to 0o666, as for open()
        return os.open(directory, flags | os.O_WRONLY | os.O_CLOEXEC, 0o666), None
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None, None
        raise


def _link(fd, directory):
    """Give the anonymous file `fd` a temporary name in directory (linkat through
    /proc, as open(2) documents); returns the path."""
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for _ in range(100):
            name = _temporary_name()
            try:
                # dst_dir_fd makes os.link call linkat(..., AT_SYMLINK_FOLLOW)
                os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dir_fd)
                return os.path.join(directory, name)
            except FileExistsError:
                continue
    finally:
        os.close(dir_fd)
    raise FileExistsError(f"no free temporary name in {directory!r}")


def _named(directory):
    """(fd, path) of a new temporary file in directory named for this process."""
    cloexec = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, _temporary_name())
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | cloexec, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory!r}")


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_directory(directory):
    """Make the rename durable; a no-op where directories cannot be opened."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------- writer identity

def _digest(text):
    return hashlib.blake2s(text.encode(), digest_size=4).hexdigest()


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _scope():
    """Who can judge a temporary's writer: this host and pid namespace."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return _digest(f"{socket.gethostname()}|{namespace}")


def _boot():
    """This boot of the host ("0"s where unknown: then a reboot is not detected)."""
    boot_id = _read("/proc/sys/kernel/random/boot_id")
    return _digest(boot_id.decode(errors="replace").strip()) if boot_id else "0" * 8


def _stat(pid):
    """(state, start time in clock ticks since boot) of process pid from
    /proc/<pid>/stat, or None where it cannot be read."""
    raw = _read(f"/proc/{pid}/stat")
    if not raw:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()  # after "pid (comm) "
    try:
        return fields[0].decode(), int(fields[19])
    except (IndexError, ValueError):
        return None


_identity = {}


def _me():
    """(scope, boot, pid, start) of this process, computed again after a fork."""
    pid = os.getpid()
    if _identity.get("pid") != pid:
        own = _stat(pid)
        _identity.update(pid=pid, scope=_scope(), boot=_boot(), start=own[1] if own else 0)
    return _identity["scope"], _identity["boot"], pid, _identity["start"]


def _temporary_name():
    scope, boot, pid, start = _me()
    return f"{_PREFIX}{scope}-{boot}-{pid}-{start}-{secrets.token_hex(4)}{_SUFFIX}"


def _writer_alive(boot, pid, start):
    """Whether the writer (boot, pid, start) of a temporary of this scope may
    still be running. Unsure (another user's process under hidepid, no /proc)
    is alive: a live writer's file is never removed."""
    if boot != _me()[1]:
        return False  # written before this host rebooted
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists and belongs to someone else
    except (OverflowError, OSError):
        return True
    status = _stat(pid)
    if status is None:
        return True
    state, started = status
    return started == start and state not in ("Z", "X")  # a zombie writes no more


def _remove_debris(directory):
    """Remove this scope's temporaries in directory whose writer is gone."""
    if os.name != "posix":  # os.kill(pid, 0) would not be a harmless probe
        return
    scope = _me()[0]
    try:
        entries = os.scandir(directory)
    except OSError:
        return
    with entries:
        names = [e.name for e in entries if e.name.startswith(_PREFIX)]
    for name in names:
        match = _NAME.match(name)
        if match is None or match[1] != scope:
            continue
        pid = int(match[3])
        if pid > 0 and not _writer_alive(match[2], pid, int(match[4])):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass
