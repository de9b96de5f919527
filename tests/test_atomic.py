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
