"""The kit's wheel for the site, built from an edition's tree (the student edition, or the solution edition for a
site for self-learners).

The package is pure Python, so its wheel is a zip of ``cs231n_bn/`` with the metadata of pyproject.toml (PEP 427,
PEP 566), written here directly: no build tools, no network, and the same bytes for the same tree (so that a
browser's cached copy stays valid across rebuilds). ``release --wheel`` (kit/edition/wheel.py) builds the wheel a
course publishes for hosted notebooks with pip and the project's build backend instead, which may need the package
index for setuptools.
"""

import base64
import hashlib
import re
import zipfile
from pathlib import Path

TAG = "py3-none-any"
# Zip entries get this date, so that the same tree gives the same wheel (a browser's cached copy stays valid).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class WheelError(Exception):
    """The wheel could not be built; the message says why."""


def build_wheel(tree, out, solution=False):
    """Write the wheel of the edition at ``tree`` (a folder holding pyproject.toml and cs231n_bn/) into the folder
    ``out``; returns its path. ``solution``: the tree is the solution edition, built into a wheel on purpose (a
    site for self-learners); the student edition's tree has no solutions in it to begin with."""
    tree, out = Path(tree), Path(out)
    project = _project(tree)
    name, version = project["name"], project["version"]
    dist = f"{re.sub(r'[-_.]+', '_', name)}-{version}"
    files = sorted(p for p in (tree / "cs231n_bn").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"))
    if not files:
        raise WheelError(f"{tree / 'cs231n_bn'}: no files")
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if project.get("description"):
        metadata.append(f"Summary: {project['description']}")
    if project.get("requires-python"):
        metadata.append(f"Requires-Python: {project['requires-python']}")
    metadata += [f"Requires-Dist: {requirement}" for requirement in project.get("dependencies", [])]
    entries = [(p.relative_to(tree).as_posix(), p.read_bytes()) for p in files]
    entries += [(f"{dist}.dist-info/METADATA", ("\n".join(metadata) + "\n").encode()),
                (f"{dist}.dist-info/WHEEL", (f"Wheel-Version: 1.0\nGenerator: cs231n_bn\nRoot-Is-Purelib: true\n"
                                            f"Tag: {TAG}\n").encode())]
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in entries]
    entries.append((f"{dist}.dist-info/RECORD", ("\n".join(record + [f"{dist}.dist-info/RECORD,,"]) + "\n").encode()))
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{dist}-{TAG}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries:
            info = zipfile.ZipInfo(path, ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return wheel


def _project(tree):
    """The [project] table of the tree's pyproject.toml."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        from pip._vendor import tomli as tomllib
    try:
        project = tomllib.loads((tree / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    except (OSError, KeyError, ValueError) as error:
        raise WheelError(f"{tree / 'pyproject.toml'}: cannot read its [project] table ({error})") from None
    if not project.get("version") and "version" in project.get("dynamic", []):
        init = (tree / "cs231n_bn" / "__init__.py").read_text(encoding="utf-8")
        found = re.search(r'^__version__\s*=\s*"([^"]+)"', init, re.MULTILINE)
        project["version"] = found.group(1) if found else None
    if not project.get("name") or not project.get("version"):
        raise WheelError(f"{tree / 'pyproject.toml'}: no name or version in [project]")
    return project


def _digest(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
