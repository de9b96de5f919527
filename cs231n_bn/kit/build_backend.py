"""The build backend (pyproject.toml): setuptools, except that the solution edition is never packaged by mistake.

A wheel or sdist of the solution edition would hold every solution, and a wheel is what gets published (a course
page, a package index, a JupyterHub image). So the hooks that build (or prepare) a wheel or an sdist refuse to run
while any file of the package holds a solution region (a ``### BEGIN SOLUTION`` line), naming the files and the two ways out:

- the student edition's wheel: ``python -m cs231n_bn release --out DIR --wheel`` (its regions are stubs);
- this one anyway, for the course's own use: the environment variable CS231N_BN_BUILD_SOLUTION=1.

The editable install ``setup.sh`` makes (PEP 660 ``build_editable``) packs no source file, only a pointer to this
folder, and always works; so does everything else, passed on to ``setuptools.build_meta`` unchanged. The hooks run
with the project root as the working directory (PEP 517), which is the tree they inspect. This module imports
nothing from the package: the build environment has setuptools and nothing else.
"""

import os
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403 - every hook not redefined here is setuptools' own

ALLOW = "CS231N_BN_BUILD_SOLUTION"
PACKAGE = "cs231n_bn"
# Written in two parts so that this file never holds a marker line itself (markers.BEGIN spells it the same way).
BEGIN = "### BEGIN" + " SOLUTION"


class SolutionEditionError(RuntimeError):
    """A wheel or sdist of the solution edition was asked for without CS231N_BN_BUILD_SOLUTION=1."""


def solution_files(root="."):
    """The package's .py files under ``root`` that hold a solution region, as sorted relative POSIX paths."""
    root = Path(root)
    found = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        if any(line.strip() == BEGIN for line in lines):
            found.append(path.relative_to(root).as_posix())
    return found


def refuse_solution_edition(kind, root="."):
    """Raise SolutionEditionError when ``root`` is the solution edition and building ``kind`` was not allowed."""
    if os.environ.get(ALLOW, "") not in ("", "0"):
        return
    files = solution_files(root)
    if not files:
        return
    shown = files[0] if len(files) == 1 else f"{files[0]} and {len(files) - 1} other files"
    raise SolutionEditionError(
        f"refusing to build a {kind} of the solution edition: {shown} hold solution regions, and a {kind} of them "
        f"would hand out every solution. To hand out the package, build the student edition's wheel: python -m "
        f"cs231n_bn release --out DIR --wheel. To build this {kind} anyway, for the course's own use and never for "
        f"students, set the environment variable {ALLOW}=1.")


def get_requires_for_build_wheel(config_settings=None):
    refuse_solution_edition("wheel")  # the first hook pip calls: stop before anything is prepared
    return _setuptools.get_requires_for_build_wheel(config_settings)


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    refuse_solution_edition("wheel")
    return _setuptools.prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    refuse_solution_edition("wheel")
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def get_requires_for_build_sdist(config_settings=None):
    refuse_solution_edition("source distribution")
    return _setuptools.get_requires_for_build_sdist(config_settings)


def build_sdist(sdist_directory, config_settings=None):
    refuse_solution_edition("source distribution")
    return _setuptools.build_sdist(sdist_directory, config_settings)
