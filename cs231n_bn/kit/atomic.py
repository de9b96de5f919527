"""Atomic file writes: a reader sees the old file or the whole new one, never a partial one.

Data sets, checkpoints and results are written through here: a temporary file in the target's directory,
flushed to disk, then renamed onto the target (a rename within one file system is atomic).
"""

import os
import tempfile


def new_file_mode(mode=0o666):
    """`mode` masked by the process umask: the permissions an ordinary new file (0o666) or folder (0o777) gets.
    tempfile creates its files and folders private (0o600 / 0o700), so they are given this mode before they are
    renamed into place."""
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return mode & ~umask


def atomic_write(path, content):
    """
    Write a file atomically, creating its directory if needed.

    Inputs:
    - path: Where the file goes.
    - content: bytes to write, or a callable write(temp_path) that writes the whole file to temp_path (e.g. a
      figure's savefig, np.savez).

    Returns:
    - path.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
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
