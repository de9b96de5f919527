"""The grader never runs in the student's process: what a student's code does cannot earn a verdict.

A blank student edition (every function a stub) gets code added to its layers.py that tries to pass without the
work, in the ways a student could: patching the checks or the runner, patching NumPy, exiting at import, printing
a passing summary, writing a passing JUnit report or job summary (at import, at exit, or from a process left
behind), killing the grader, hanging. ``check --strict`` must exit non-zero, print the grader's own summary (no
check passed) and leave the grader's own reports. Run as root (this machine and CI: the child becomes ``nobody``)
and, where possible, as an ordinary user (grader and child the same user).

The other engines meet the same attacks in their own tests: nbgrader (tests/test_nbgrader.py, end to end),
Gradescope (tests/test_gradescope.py), GitHub Classroom and the student CI (tests/test_student_ci.py).
"""

import os
import shutil
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from cs231n_bn.kit.edition import markers
from cs231n_bn.kit.edition.tree import ReleaseError
from cs231n_bn.kit.grading import protocol
from fixtures.editions import release_repository

REPO = Path(__file__).resolve().parents[1]
from fixtures.attacks import ATTACKS, CHECKED, FAKE_SUMMARY


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    if not any(markers.find_regions(p.read_text(), str(p)) for p in (REPO / "cs231n_bn").rglob("*.py")):
        pytest.skip("needs the solution edition (this is a student edition already)")
    try:
        return release_repository(REPO, tmp_path_factory.mktemp("grader"))[2]
    except ReleaseError as error:
        pytest.fail(f"the release of this repository failed:\n{error}")


def attacked(blank, folder, code):
    """A copy of the blank edition whose layers.py runs ``code`` when it is imported."""
    tree = folder / "student"
    shutil.copytree(blank, tree, symlinks=True)
    layers = tree / "cs231n_bn" / "layers.py"
    layers.write_text(layers.read_text() + "\n" + textwrap.dedent(code))
    for path in [folder, *folder.rglob("*")]:  # an ordinary user may read it, and write the reports
        path.chmod(0o777 if path.is_dir() else 0o666)
    return tree


@pytest.fixture(scope="module")
def ordinary_user():
    """(command prefix, python, folder) to run the grader as the user nobody: a virtual environment of the system's
    Python that reads this environment's packages, in a folder every user may enter. Skips where that cannot be
    made here (not root, no setpriv, no system Python of this version)."""
    import sysconfig
    import tempfile
    setpriv = shutil.which("setpriv")
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if os.geteuid() != 0 or setpriv is None or not system.is_file():
        pytest.skip("needs root, setpriv and a system Python of this version to run the grader as an ordinary user")
    folder = Path(tempfile.mkdtemp(prefix="cs231n_bn-ordinary-"))
    try:
        subprocess.run([str(system), "-m", "venv", "--without-pip", str(folder / "venv")], check=True, timeout=120)
        site = next((folder / "venv" / "lib").glob("python*/site-packages"))
        (site / "this-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        for path in [folder, *folder.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o777 if path.is_dir() else 0o755)
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        python = str(folder / "venv" / "bin" / "python")
        probe = subprocess.run([*prefix, python, "-c", "import subprocess, sys; subprocess.run([sys.executable, "
                                "'-I', '-c', 'import numpy'], check=True)"], capture_output=True, timeout=60)
        if probe.returncode != 0:
            pytest.skip(f"the user nobody cannot run this Python here: {probe.stderr.decode()[-300:]}")
        yield prefix, python, folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check(tree, *args, prefix=(), python=sys.executable, timeout=180):
    folder = tree.parent
    command = [*prefix, python, "-m", "cs231n_bn", "check", "--strict", "--exact", *CHECKED,
               "--junit", str(folder / "report.xml"), "--markdown", str(folder / "summary.md"), *args]
    return subprocess.run(command, cwd=tree, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=str(tree)))


def expect_no_pass(run, folder):
    """Exit non-zero; the grader's summary, nothing passed; the reports (where written) the grader's own."""
    assert run.returncode != 0, run.stdout + run.stderr
    assert FAKE_SUMMARY not in run.stdout, run.stdout
    if run.returncode > 0:  # the grader finished: its summary and its reports
        summary = run.stdout.strip().splitlines()[-1]
        assert summary.startswith("0 passed, "), run.stdout
        cases = list(ET.parse(folder / "report.xml").getroot().iter("testcase"))
        assert len(cases) == len(CHECKED) and all(len(case) == 1 for case in cases)  # each a failure or skipped
        text = (folder / "summary.md").read_text()
        assert "every function passes" not in text and "**0 passed, " in text, text
    for name in ("report.xml", "summary.md"):  # a killed grader leaves no report, or one that passes nothing
        path = folder / name
        if path.exists() and path.stat().st_size:
            assert "every function passes" not in path.read_text() and "<testcase name=\"x\"" not in path.read_text()


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_attack_passes_nothing(attack, blank, tmp_path):
    tree = attacked(blank, tmp_path, ATTACKS[attack])
    run = check(tree)
    time.sleep(2)  # anything left behind would have written by now
    expect_no_pass(run, tmp_path)


@pytest.mark.parametrize("attack", ["forge the reports at import", "forge the reports later, from a process left "
                                    "behind", "kill the grader"])
def test_an_attack_passes_nothing_when_grader_and_child_are_the_same_user(attack, blank, ordinary_user):
    prefix, python, base = ordinary_user
    folder = base / attack.replace(" ", "-").replace(",", "")
    folder.mkdir()
    tree = attacked(blank, folder, ATTACKS[attack])
    run = check(tree, prefix=prefix, python=python)
    time.sleep(2)
    expect_no_pass(run, folder)


def test_a_hang_at_import_fails_each_check_at_the_time_limit(blank, tmp_path):
    tree = attacked(blank, tmp_path, "while True:\n    pass\n")
    start = time.monotonic()
    run = check(tree, "--time-limit", "1")
    assert time.monotonic() - start < 60
    expect_no_pass(run, tmp_path)
    assert "still running after 1 s in layers.affine_forward" in run.stdout


def test_the_child_cannot_write_files_nor_reach_the_grader(blank, tmp_path):
    """What the sandbox allows, seen from inside: no file can grow, and (as root) the child is nobody."""
    tree = attacked(blank, tmp_path, f"""
        import os as _os
        try:
            with open({str(tmp_path / "written.txt")!r}, "w") as _file:
                _file.write("x" * 100)
            _ok = "wrote"
        except OSError as _error:
            _ok = type(_error).__name__
        raise RuntimeError(f"write: {{_ok}}; uid {{_os.getuid()}}")
        """)
    run = check(tree)
    assert "raised RuntimeError" in run.stdout and ("write: OSError" in run.stdout or "write: PermissionError" in
                                                    run.stdout), \
        run.stdout
    assert not (tmp_path / "written.txt").exists() or (tmp_path / "written.txt").stat().st_size == 0
    if os.geteuid() == 0:
        assert "uid 65534" in run.stdout, run.stdout


# ---------------------------------------------------------------------------------------------------------------
# The protocol: whatever bytes the child sends are data, checked, never code

class _Stream:
    def __init__(self, data):
        self.data, self.position = data, 0

    def read(self, size):
        chunk = self.data[self.position:self.position + size]
        self.position += len(chunk)
        return chunk


def _frame(header, arrays=()):
    import io
    buffer = io.BytesIO()
    protocol.write_frame(buffer, header, arrays)
    return buffer.getvalue()


def test_frames_carry_arrays_and_values_exactly():
    arrays = [np.arange(6.0).reshape(2, 3), np.array(3, dtype=np.int32), np.zeros((0, 4), dtype=np.float32)]
    header, got = protocol.read_frame(_Stream(_frame({"ok": [1, "two", None]}, arrays)))
    assert header == {"ok": [1, "two", None]}
    for want, array in zip(arrays, got):
        assert array.dtype == want.dtype and array.shape == want.shape and np.array_equal(array, want)


@pytest.mark.parametrize("damage", ["object dtype", "size mismatch", "truncated", "not json", "huge header"])
def test_malformed_frames_are_refused(damage):
    data = _frame({"ok": 1}, [np.arange(4.0)])
    if damage == "object dtype":
        data = data.replace(b'"<f8"', b'"|O" ')
    elif damage == "size mismatch":
        data = data.replace(b"[4]", b"[5]")
    elif damage == "truncated":
        data = data[:-3]
    elif damage == "not json":
        data = data[:4] + b"x" + data[5:]
    else:
        data = (protocol.MAX_HEADER + 1).to_bytes(4, "little") + data[4:]
    with pytest.raises(protocol.ProtocolError):
        protocol.read_frame(_Stream(data))
