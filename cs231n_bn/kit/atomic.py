"""Atomic file writes: a reader sees the old file or the whole new one, never a partial one.

Data sets, checkpoints and results are written through here: a temporary file in the target's directory,
flushed to disk, then renamed onto the target (a rename within one file system is atomic).

A temporary is named `.<target name>.<host>-<pid>.<random>.tmp`, so that one left behind by a process that was
killed (kill -9, a power cut) is recognised: the next write of the same target removes it once its process no
longer runs (`remove_stale_temporaries`).
"""

import os
import re
import socket
import tempfile
import time

# A temporary of another host (a shared file system) is only removed once it is this old: its process
# cannot be asked whether it still runs.
FOREIGN_STALE_SECONDS = 24 * 3600

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9-]*)-(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")


def new_file_mode(mode=0o666):
    """`mode` masked by the process umask: the permissions an ordinary new file (0o666) or folder (0o777) gets.
    tempfile creates its files and folders private (0o600 / 0o700), so they are given this mode before they are
    renamed into place."""
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return mode & ~umask


def _host():
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40]


def _running(pid):
    """True when a process with this id runs on this host (or may: it belongs to another user)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def remove_stale_temporaries(directory, match):
    """Remove the temporaries that atomic_write left in `directory` for targets whose name satisfies `match`,
    when the process that wrote them no longer runs. Returns the names removed.

    Inputs:
    - directory: the folder of the targets.
    - match: callable(target name) -> bool, e.g. `lambda name: name == "run_epoch_3.npz"`.
    """
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    host, now = _host(), time.time()
    for name in names:
        found = _TEMPORARY.match(name)
        if not found or not match(found["name"]):
            continue
        path = os.path.join(directory, name)
        try:
            if found["host"] == host:
                stale = not _running(int(found["pid"]))
            else:
                stale = now - os.stat(path).st_mtime > FOREIGN_STALE_SECONDS
            if stale:
                os.unlink(path)
                removed.append(name)
        except (OSError, ValueError):
            pass  # gone meanwhile, or not ours to remove
    return removed


def atomic_write(path, content):
    """
    Write a file atomically, creating its directory if needed, and remove stale temporaries of earlier writes
    of the same file (see remove_stale_temporaries).

    Inputs:
    - path: Where the file goes.
    - content: bytes to write, or a callable write(temp_path) that writes the whole file to temp_path (e.g. a
      figure's savefig, np.savez).

    Returns:
    - path.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    name = os.path.basename(path)
    remove_stale_temporaries(directory, lambda target: target == name)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.{_host()}-{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if not callable(content):
                f.write(content)
        if callable(content):
            content(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
