"""Where data sets live on disk, how their content is verified, and how files are written atomically.

Layout: `<root>/<name>/<file>` for every FileSpec of the data set, decompressed (e.g.
`datasets/fashion-mnist/train-images-idx3-ubyte`). The root is, in order of precedence: a `root=` argument,
the environment variable CS231N_BN_DATA, `datasets/` in the repository when the package runs from a checkout, or
a per-user cache folder when it is installed (never site-packages). Work in progress (downloads, files being
unpacked, the lock of a running fetch) lives in hidden names (`.download/`, `.<file>.*.tmp`, `.fetch.lock`) that
no loader opens.
"""

import hashlib
import os
import re
import sys
from pathlib import Path

ROOT_ENV = "CS231N_BN_DATA"
REPO_DIR = Path(__file__).resolve().parents[3]
MAX_UNKNOWN_CONTENT = 16 << 20


class ChecksumError(ValueError):
    """A file's content does not match what the kit expects of it.

    Attributes: file (its name), check ('sha256', 'md5', 'size', 'lines', ...), expected, actual.
    """

    def __init__(self, file, check, expected, actual):
        self.file, self.check, self.expected, self.actual = file, check, expected, actual
        super().__init__(f"{file}: {check} mismatch: expected {expected}, got {actual}")


class DatasetNotFoundError(FileNotFoundError):
    """A data set is not (completely) present; the message gives the command that fetches it."""


def checkout_root():
    """The repository this package runs from (the folder holding this project's pyproject.toml), or None when the
    package is installed (site-packages, ``pip install --target``) or copied without the project around it."""
    try:
        project = (REPO_DIR / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return REPO_DIR if re.search(r'^name\s*=\s*"cs231n_bn"\s*$', project, re.MULTILINE) else None


def user_data_dir():
    """The per-user data folder of an installed copy: the platform's cache directory, then cs231n_bn.

    Linux and other Unix: $XDG_CACHE_HOME (if absolute) or ~/.cache; macOS: ~/Library/Caches; Windows:
    %LOCALAPPDATA% (or ~/AppData/Local).
    """
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else Path.home() / ".cache"
    return Path(base) / "cs231n_bn"


def default_root():
    """The data root: $CS231N_BN_DATA if set; else the repository's datasets/ directory when the package runs from
    a checkout; else the per-user data folder (``user_data_dir``)."""
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).expanduser()
    checkout = checkout_root()
    return checkout / "datasets" if checkout is not None else user_data_dir()


def resolve_root(root=None):
    """`root` as a Path, or the default root when it is None."""
    return default_root() if root is None else Path(os.fspath(root)).expanduser()


def dataset_directory(spec, root=None):
    """The folder of data set ``spec`` (a DatasetSpec) under ``root`` (None: the default root).

    In the browser edition the site serves the data: its files are copied from there into this folder (in the
    kernel's memory) the first time they are needed, and then read and verified like any others (kit/browser.py).
    """
    directory = resolve_root(root) / spec.name
    from ..browser import provide_dataset
    provide_dataset(spec, directory)
    return directory


def fetch_command(name, root=None):
    """The shell command that fetches data set `name` into `root` (None: the default root)."""
    command = f"python -m cs231n_bn fetch {name}"
    if root is not None and resolve_root(root).resolve() != default_root().resolve():
        command += f" --root {resolve_root(root)}"
    return command


def hexdigests(data, algorithms):
    """{algorithm: hex digest of data} for each algorithm name (hashlib's names: 'sha256', 'md5', ...)."""
    return {algorithm: hashlib.new(algorithm, data).hexdigest() for algorithm in algorithms}


def file_hexdigests(path, algorithms, chunk_bytes=1 << 20):
    """{algorithm: hex digest} of a file's bytes, read in chunks."""
    hashers = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_bytes), b""):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {algorithm: hasher.hexdigest() for algorithm, hasher in hashers.items()}


def check_digests(name, actual, expected):
    """Raise ChecksumError for the first algorithm whose digest in `actual` differs from `expected`."""
    for algorithm, want in expected.items():
        if actual[algorithm] != want.lower():
            raise ChecksumError(name, algorithm, want.lower(), actual[algorithm])


def check_content(spec, data):
    """Verify a file's decompressed content against its FileSpec: size, every digest, and text lines.

    Inputs:
    - spec: the FileSpec.
    - data: the content (bytes-like).

    Raises ChecksumError on the first mismatch.
    """
    if spec.size is not None and len(data) != spec.size:
        raise ChecksumError(spec.name, "size", f"{spec.size} bytes", f"{len(data)} bytes")
    check_digests(spec.name, hexdigests(data, spec.digests), spec.digests)
    if spec.lines is not None:
        text = bytes(data).decode("ascii", errors="replace")
        lines = tuple(line.strip() for line in text.splitlines() if line.strip())
        if lines != tuple(spec.lines):
            raise ChecksumError(spec.name, "lines", list(spec.lines), list(lines))


def max_content_size(spec):
    """The most bytes the content of a FileSpec may have: its size, or 16 MiB for a file of unknown size (a
    text file such as CIFAR-10's batches.meta.txt). Reading stops there (see formats.read_bytes)."""
    return spec.size if spec.size is not None else MAX_UNKNOWN_CONTENT


def describe_check(spec):
    """A short phrase saying what check_content verifies for this FileSpec, e.g. 'sha256 c59f468a2f67...'."""
    parts = [f"{algorithm} {digest[:12]}..." for algorithm, digest in spec.digests.items()]
    if spec.lines is not None:
        parts.append(f"{len(spec.lines)} expected lines")
    return ", ".join(parts) or "no digest"


def read_verified(spec, directory, dataset_name, root=None):
    """Read one file of a data set and verify its content.

    Inputs:
    - spec: the FileSpec.
    - directory: the data set's directory.
    - dataset_name, root: for the message that says how to fetch the data set.

    Returns the content as a writable bytearray. Raises ChecksumError (with the fetch command appended) if its
    content is wrong. (load_dataset has checked that the files are there, naming every missing one.)
    """
    from .formats import FormatError, read_bytes

    path = Path(directory) / spec.name
    try:
        data = read_bytes(path, spec.name, max_size=max_content_size(spec))
    except FormatError as err:  # too large, or not valid gzip
        raise FormatError(f"{err}. The file {path} is damaged or not the genuine one; remove it and fetch the "
                          f"data set again with: {fetch_command(dataset_name, root)}") from None
    try:
        check_content(spec, data)
    except ChecksumError as err:
        err.args = (f"{err.args[0]}. The file {path} is damaged or not the genuine one; remove it and fetch the "
                    f"data set again with: {fetch_command(dataset_name, root)}",)
        raise
    return data
