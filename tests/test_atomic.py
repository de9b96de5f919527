"""Tests of atomic writes: the whole new file or the old one, never a partial file or a stray temporary."""

import os
import stat

import pytest

from cs231n_bn.kit.atomic import atomic_write, new_file_mode


def test_bytes_and_writer_both_land_whole_with_ordinary_permissions(tmp_path):
    target = tmp_path / "sub" / "a.bin"
    atomic_write(target, b"abc")
    assert target.read_bytes() == b"abc"
    atomic_write(target, lambda tmp: open(tmp, "wb").write(b"xyz"))
    assert target.read_bytes() == b"xyz"
    assert stat.S_IMODE(os.stat(target).st_mode) == new_file_mode() == 0o666 & ~_umask()
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.bin"]


def test_a_failing_writer_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_bytes(b"old")

    def broken(tmp):
        open(tmp, "wb").write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_a_temporary_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    """kill -9 during a write leaves the hidden temporary; the next write of that file removes it, while a
    temporary whose writer still runs is left alone."""
    import signal
    import subprocess
    import sys
    import time

    target = tmp_path / "big.npz"
    writer = ("import sys, time\nfrom cs231n_bn.kit.atomic import atomic_write\n"
              "def slow(tmp):\n    open(tmp, 'wb').write(b'x' * 100000)\n    time.sleep(60)\n"
              "atomic_write(sys.argv[1], slow)\n")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=repo)
    process = subprocess.Popen([sys.executable, "-c", writer, str(target)], env=env)
    try:
        deadline = time.monotonic() + 20
        while not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and p.stat().st_size] and \
                time.monotonic() < deadline:
            time.sleep(0.02)
        (left,) = [p.name for p in tmp_path.iterdir()]
        assert left.startswith(".big.npz.") and left.endswith(".tmp")
        atomic_write(target, b"first")  # the writer still runs: its temporary stays
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([left, "big.npz"])
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert (tmp_path / left).exists()
    atomic_write(target, b"second")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npz"]
    assert target.read_bytes() == b"second"
