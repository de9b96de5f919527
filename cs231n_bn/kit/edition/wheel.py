"""``release --wheel``: the student edition's wheel, the package a course publishes for hosted notebooks.

The wheel is built by pip from a temporary copy of the written student edition (so that the build's own files,
``build/`` and ``*.egg-info``, never land in the edition) with the project's build backend, and moved next to the
edition folder, as ``--zip`` puts its archive there. The student edition holds no solution region, so the
backend's guard (kit/build_backend.py) lets it through. pip builds in an isolated environment with setuptools
from the package index, unless the running environment can build wheels by itself (setuptools 70.1 or newer, or
the wheel package), in which case no network is needed.
"""

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

TIMEOUT = 600  # seconds for the whole build (an isolated build downloads setuptools the first time)


class WheelError(RuntimeError):
    """pip could not build the wheel; the message holds the end of its output."""


def can_build_offline():
    """True when this environment's setuptools builds wheels without fetching anything (see the module)."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    if importlib.util.find_spec("wheel") is not None:
        return True
    try:
        major, minor = (int(part) for part in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return (major, minor) >= (70, 1)


def build_wheel(tree, dest_dir):
    """Build the wheel of the edition at ``tree`` into ``dest_dir``; returns the wheel's path.

    Raises WheelError when pip fails (its output's last lines in the message).
    """
    tree, dest_dir = Path(tree), Path(dest_dir)
    with tempfile.TemporaryDirectory(prefix=".wheel-", dir=dest_dir) as tmp:
        copy, out = Path(tmp) / "source", Path(tmp) / "wheel"
        shutil.copytree(tree, copy, symlinks=True, ignore=shutil.ignore_patterns(".git", ".venv", "datasets"))
        isolation = ["--no-build-isolation"] if can_build_offline() else []
        run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", *isolation,
                              "--wheel-dir", str(out), str(copy)], capture_output=True, text=True, timeout=TIMEOUT)
        wheels = sorted(out.glob("*.whl")) if run.returncode == 0 else []
        if not wheels:
            tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
            raise WheelError(f"pip wheel failed (exit {run.returncode}):\n{tail}")
        target = dest_dir / wheels[0].name
        wheels[0].replace(target)
    return target
