"""`python -m cs231n_bn fetch NAME`: put a verified copy of a data set into `datasets/NAME/`.

Sources, tried in this order for every file still missing; whatever a source yields is verified (see
sources.py) before it is kept, and a file that fails is reported and not kept:
  1. files already in `datasets/NAME/` (the kept files themselves, or an archive dropped there by hand,
     e.g. `datasets/cifar10/cifar-10-binary.tar.gz`);
  2. the course's mirror, when one is given (--mirror URL or the environment variable CS231N_BN_MIRROR): a
     download of URL/NAME/ARCHIVE (e.g. .../fashion-mnist/train-images-idx3-ubyte.gz), which may be packed
     differently from upstream's archive and is verified by its content, as a local copy is;
  3. the Debian package's directory, for Fashion-MNIST (/usr/share/datasets/fashion-mnist); when it is
     missing and apt-get can run without a password prompt (as root, or with password-less sudo), the
     package is installed first (apt-get install -y; on failure apt-get update, then one more try);
  4. HTTP(S) download from the data set's mirrors, in order, each download resumable, bounded in size and
     time (see download.py), and verified.
Every file is read with a size bound (a gzip bomb is refused without being inflated). Two fetches of one data
set take turns (a lock file, `.fetch.lock`, in its folder); a folder that cannot be written is reported with
what to do, and nothing in it is removed.
"""

import argparse
import contextlib
import errno
import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no lock; run one fetch at a time there
    fcntl = None

from cs231n_bn.kit.atomic import atomic_write

from .download import DEFAULT_TIMEOUT, DownloadError, download, part_path
from .formats import FormatError, read_bytes
from .sources import DATASETS
from .store import (ROOT_ENV, ChecksumError, check_content, check_digests, describe_check, file_hexdigests,
                    max_content_size, resolve_root)

DOWNLOAD_DIR = ".download"
MIRROR_ENV = "CS231N_BN_MIRROR"


class FetchError(RuntimeError):
    """No source yielded a verified copy of some file of a data set; the message lists what was tried."""


def fetch(spec, root=None, *, allow_apt=True, allow_download=True, timeout=DEFAULT_TIMEOUT, progress=True,
          log=print, apt=None, deadline=None, mirror=None):
    """Make sure every file of a data set is present and verified in `<root>/<spec.name>/`.

    Inputs:
    - spec: a DatasetSpec (sources.DATASETS holds the kit's; tests build their own).
    - root: the data root (None: $CS231N_BN_DATA or the repository's datasets/).
    - allow_apt: may install the spec's Debian package when its directory is missing.
    - allow_download: may download from the spec's mirrors.
    - timeout: seconds a download waits for the server before giving up on that mirror.
    - progress: show download progress bars (stderr).
    - log: called with each line of the report.
    - apt: callable(package, log) -> bool that installs a Debian package (default: `apt_install`).
    - deadline: seconds one file's download may take in all (default: from its size, see download.py).
    - mirror: the course's mirror, a base URL serving the archives as NAME/ARCHIVE, tried before the Debian
      package and the upstream mirrors (None: none).

    Returns:
    - the data set's directory (a Path). Raises FetchError if some file could not be had, or if the folder
      cannot be written when something must be written to it.

    Two fetches of the same data set (two terminals, two notebooks) take turns: the second waits for the
    first, then finds its files present and verified.
    """
    directory = resolve_root(root) / spec.name
    log(f"{spec.title}: {directory}")
    verified = {}
    lines = []
    if all(_present(archive, directory, lines.append, verified, remove=False) for archive in spec.archives):
        for line in lines:  # everything is there: nothing to write, the folder may even be read-only
            log(line)
        log(f"{spec.title}: ready, {len(spec.files)} files verified in {directory}")
        return directory
    _make_writable_dir(directory, spec, [line.strip() for line in lines if "present but wrong" in line])
    with _dataset_lock(directory, spec, log):
        return _fetch_locked(spec, directory, allow_apt, allow_download, timeout, progress, log, apt, deadline,
                             verified, mirror)


def course_mirror_url(mirror, spec, archive):
    """The URL of ``archive`` of data set ``spec`` on the course's mirror ``mirror`` (a base URL)."""
    return f"{mirror.rstrip('/')}/{spec.name}/{archive.filename}"


def _fetch_locked(spec, directory, allow_apt, allow_download, timeout, progress, log, apt, deadline, verified,
                  mirror=None):
    # Checked again under the lock: another process may have fetched files meanwhile.
    needed = [archive for archive in spec.archives if not _present(archive, directory, log, verified)]
    failures = {}
    sources = [("dropped", directory)]
    if mirror and allow_download:
        sources.append(("mirror", mirror))
    if spec.debian_dir:
        sources.append(("debian", Path(spec.debian_dir)))
    apt_tried = False
    for archive in needed:
        attempts = []
        done = False
        for kind, where in sources:
            if kind == "mirror":  # the course's copy, verified by its content
                try:
                    done = _download_archive(archive, spec, directory, timeout, progress, log, attempts, deadline,
                                             urls=[course_mirror_url(where, spec, archive)], check_archive=False)
                finally:
                    _remove_empty_dir(directory / DOWNLOAD_DIR)
                if done:
                    break
                continue
            local = where / archive.filename
            if kind == "debian" and not local.exists() and not apt_tried and allow_apt and spec.debian_package:
                apt_tried = True
                if not Path(spec.debian_dir).is_dir():
                    (apt or apt_install)(spec.debian_package, log)
            if not local.is_file():
                if kind == "debian":
                    attempts.append(f"{local}: not present (Debian package {spec.debian_package})")
                continue
            origin = str(local) + (f" (Debian package {spec.debian_package})" if kind == "debian" else "")
            try:
                _unpack(archive, local, directory, origin, log, check_archive=False)
                done = True
                break
            except (ChecksumError, FormatError, tarfile.TarError) as err:
                attempts.append(f"{origin}: {err}")
                log(f"  {archive.filename}: rejected {origin}: {err}")
            except OSError as err:
                _raise_if_unwritable(err, directory, spec)
                attempts.append(f"{origin}: {err}")
                log(f"  {archive.filename}: rejected {origin}: {err}")
        if not done and allow_download:
            try:
                done = _download_archive(archive, spec, directory, timeout, progress, log, attempts, deadline)
            finally:
                _remove_empty_dir(directory / DOWNLOAD_DIR)
        elif not done:
            attempts.append("download: not allowed (--offline)")
        if not done:
            failures[archive.filename] = attempts

    if failures:
        lines = [f"{spec.title}: could not get a verified copy of {', '.join(failures)}. Tried:"]
        for filename, attempts in failures.items():
            lines += [f"  {filename}: {attempt}" for attempt in attempts] or [f"  {filename}: no source"]
        lines.append(f"Without a network: copy {', '.join(failures)} (as served by {spec.mirrors[0]}) into "
                     f"{directory} by hand and run the command again." if spec.mirrors else "")
        raise FetchError("\n".join(lines).rstrip())
    log(f"{spec.title}: ready, {len(spec.files)} files verified in {directory}")
    return directory


LOCK_NAME = ".fetch.lock"


@contextlib.contextmanager
def _dataset_lock(directory, spec, log):
    """Hold the data set's lock (an flock on `<directory>/.fetch.lock`, released by the system even when the
    holder is killed); wait, saying so, while another process holds it."""
    path = directory / LOCK_NAME
    said = False
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:  # the process we waited for failed and removed the empty folder
            _make_writable_dir(directory, spec, [])
            continue
        except OSError as err:
            _raise_if_unwritable(err, directory, spec)
            raise
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not said:
                        log(f"  another fetch of {spec.title} into {directory} is running; waiting for it")
                        said = True
                    fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if not same:  # the holder removed the lock file as it finished: lock the current one
                os.close(fd)
                continue
        except BaseException:
            os.close(fd)
            raise
        break
    try:
        yield
    finally:
        try:
            os.unlink(path)  # while still holding it: a waiter notices and locks afresh
        except OSError:
            pass
        os.close(fd)
        _remove_empty_dir(directory)


def _make_writable_dir(directory, spec, wrong):
    """Create the data set's directory; a FetchError that says what to do when it cannot be written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _raise_if_unwritable(err, directory, spec, wrong)
        raise FetchError(f"{spec.title}: cannot create {directory} ({err.strerror or err})") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        _raise_if_unwritable(PermissionError(13, "Permission denied", str(directory)), directory, spec, wrong)


def _raise_if_unwritable(err, directory, spec, wrong=()):
    """Turn a permission error while writing to the data set's folder into a FetchError that says what to do."""
    if isinstance(err, PermissionError) or getattr(err, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS):
        damaged = f" {'; '.join(wrong)}; it cannot be replaced there." if wrong else ""
        raise FetchError(f"{spec.title}: cannot write to {directory} ({err.strerror or err}).{damaged} Make the "
                         f"folder writable, or fetch into another one with --root DIR (or the environment "
                         f"variable {ROOT_ENV}).") from None


def _present(archive, directory, log, verified, remove=True):
    """True when every file of `archive` is already in `directory` and verified; a wrong file is removed
    (with remove). `verified` remembers each file's result by its stat, so a second look does not read it again."""
    complete = True
    for member in archive.members:
        path = directory / member.name
        try:
            info = path.stat()
        except OSError:
            complete = False
            continue
        if not path.is_file():
            complete = False
            continue
        key = (member.name, info.st_size, info.st_mtime_ns, info.st_ino)
        if key not in verified:
            try:
                check_content(member, read_bytes(path, member.name, max_size=max_content_size(member)))
                verified[key] = None
            except (ChecksumError, FormatError) as err:
                verified[key] = err
        err = verified[key]
        if err is None:
            log(f"  {member.name}: present, verified ({describe_check(member)})")
            continue
        complete = False
        if remove:
            path.unlink()
            log(f"  {member.name}: present but wrong, removed: {err}")
        else:
            log(f"  {member.name}: present but wrong: {err}")
    return complete


def _unpack(archive, path, directory, origin, log, check_archive):
    """Verify `archive` (a local file at `path`) and write each of its members, verified, into `directory`.

    check_archive: also require the archive's published digests (for downloads; a local source such as the
    Debian package may hold a differently compressed file with the same content).
    """
    if check_archive and archive.digests:
        check_digests(archive.filename, file_hexdigests(path, archive.digests), archive.digests)
    if archive.kind == "gzip":
        (member,) = archive.members
        contents = {member.name: read_bytes(path, archive.filename, max_size=max_content_size(member))}
    else:
        contents = _read_tar_members(archive, path)
    for member in archive.members:
        data = contents[member.name]
        check_content(member, data)
        atomic_write(directory / member.name, data)
        log(f"  {member.name}: from {origin}, verified ({describe_check(member)})")


class _Limited(io.RawIOBase):
    """A read-only stream of at most `limit` bytes of `stream`; reading past them is a FormatError."""

    def __init__(self, stream, limit, name):
        self.stream, self.left, self.name, self.limit = stream, limit, name, limit

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.stream.read(min(len(buffer), self.left + 1))
        if len(data) > self.left:
            raise FormatError(f"{self.name}: decompresses to more than the {self.limit} bytes this archive may "
                              f"hold; not the genuine archive (decompression stopped)")
        self.left -= len(data)
        buffer[:len(data)] = data
        return len(data)


def _read_tar_members(archive, path):
    """{member name: bytes} of the archive's wanted regular files, read by streaming (never extractall); the
    decompressed stream may not exceed what the wanted files need plus a margin (no gzip bombs)."""
    wanted = {archive.member_prefix + member.name: member for member in archive.members}
    limit = sum(max_content_size(member) + 1024 for member in archive.members) + (1 << 20)
    found = {}
    try:
        with gzip.open(path, "rb") as gz:
            with tarfile.open(fileobj=io.BufferedReader(_Limited(gz, limit, archive.filename)), mode="r|") as tar:
                for entry in tar:
                    member = wanted.get(entry.name)
                    if member is not None and entry.isfile():
                        if entry.size > max_content_size(member):
                            raise FormatError(f"{archive.filename}: {entry.name} is {entry.size} bytes, more than "
                                              f"the {max_content_size(member)} it may have")
                        found[member.name] = tar.extractfile(entry).read()
    except (EOFError, zlib.error) as err:
        raise FormatError(f"{archive.filename}: not a valid .tar.gz file ({err})") from None
    except OSError as err:
        if isinstance(err, PermissionError):
            raise
        raise FormatError(f"{archive.filename}: not a valid .tar.gz file ({err})") from None
    missing = [name for name, member in wanted.items() if member.name not in found]
    if missing:
        raise FormatError(f"{archive.filename}: no regular file {', '.join(missing)} in the archive")
    return found


def _download_archive(archive, spec, directory, timeout, progress, log, attempts, deadline, urls=None,
                      check_archive=True):
    """Download `archive` from the first mirror that yields a verified copy; True on success.

    urls: the URLs to try (default: each of the data set's mirrors followed by the archive's name);
    check_archive: also require the archive's published digests (False for the course's mirror, whose copy is
    verified by its content only, like a local one).
    """
    staging = directory / DOWNLOAD_DIR
    try:
        staging.mkdir(exist_ok=True)
    except OSError as err:
        _raise_if_unwritable(err, directory, spec)
        raise
    dest = staging / archive.filename
    for url in urls if urls is not None else [mirror + archive.filename for mirror in spec.mirrors]:
        for _ in range(2):  # a second, clean try when a resumed download fails its check
            resumed = part_path(dest).exists()
            size = f" ({_human_size(archive.size)})" if archive.size else ""
            log(f"  {archive.filename}: downloading {url}{size}" + (" (resuming)" if resumed else ""))
            try:
                download(url, dest, timeout=timeout, progress=progress, expected_size=archive.size,
                         deadline=deadline)
                _unpack(archive, dest, directory, url, log, check_archive=check_archive)
                return True
            except DownloadError as err:
                attempts.append(str(err))
                log(f"  {archive.filename}: {err}")
                break
            except (ChecksumError, FormatError, OSError, tarfile.TarError) as err:
                if isinstance(err, OSError):
                    _raise_if_unwritable(err, directory, spec)
                reason = str(err).removeprefix(archive.filename + ": ")  # the URL names the archive already
                attempts.append(f"{url}: {reason}")
                log(f"  {archive.filename}: rejected {url}: {reason}")
                if not resumed:
                    break
            finally:
                if dest.exists():  # downloaded archives are not kept: verified content was unpacked, or it was bad
                    dest.unlink()
    return False


def _human_size(size):
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB"


def _remove_empty_dir(path):
    try:
        path.rmdir()
    except OSError:
        pass  # absent, or holds a partial download for the next run to resume


def apt_command_prefix():
    """[] when running as root, ['sudo', '-n'] with password-less sudo, None when apt-get cannot run unprompted."""
    if not shutil.which("apt-get"):
        return None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        try:
            probe = subprocess.run(["sudo", "-n", "true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        if probe.returncode == 0:
            return ["sudo", "-n"]
    return None


def apt_install(package, log, run=subprocess.run, prefix=None):
    """Install a Debian package without prompting: install; on failure update the lists and try once more.

    Inputs:
    - package: the package name.
    - log: called with each line of the report.
    - run: runs a command (argv list) and returns an object with .returncode (subprocess.run's signature).
    - prefix: the command prefix from apt_command_prefix(); looked up when None.

    Returns True when apt-get reported success.
    """
    prefix = apt_command_prefix() if prefix is None else prefix
    if prefix is None:
        log(f"  {package}: not installed, and apt-get cannot run here without a password prompt; install it "
            f"with: sudo apt-get install {package}")
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = prefix + ["apt-get", "install", "-y", "-q", package]
    log(f"  {package}: installing ({' '.join(install)})")

    def attempt(argv):
        try:
            return run(argv, env=env, stdin=subprocess.DEVNULL, timeout=1800).returncode == 0
        except (OSError, subprocess.SubprocessError) as err:
            log(f"  {' '.join(argv)}: {err}")
            return False

    if attempt(install):
        return True
    log(f"  {package}: install failed; updating the package lists and trying once more")
    if attempt(prefix + ["apt-get", "update", "-q"]) and attempt(install):
        return True
    log(f"  {package}: could not be installed")
    return False


def fetch_missing(names, root=None, mirror=None, datasets=None):
    """Fetch each data set of ``names`` that is not complete in the data root; quiet when every one is.

    What a notebook's set-up cell calls on a hosted machine (see kit/edition/hosted.py): the files present are
    not read here (the loaders verify them), so where the data are in place this costs a few ``stat`` calls.

    Inputs:
    - names: data set names (keys of sources.DATASETS).
    - root: the data root (None: the default root, see store.default_root).
    - mirror: the course's mirror (None: $CS231N_BN_MIRROR, if set); see ``fetch``.

    Returns the names that were fetched. Raises FetchError as ``fetch`` does, and ValueError for an unknown name.
    """
    datasets = DATASETS if datasets is None else datasets
    unknown = [name for name in names if name not in datasets]
    if unknown:
        raise ValueError(f"unknown data set {unknown[0]!r}; expected one of: {', '.join(datasets)}")
    fetched = []
    for name in names:
        spec = datasets[name]
        directory = resolve_root(root) / spec.name
        if all((directory / member.name).is_file() for member in spec.files):
            continue
        fetch(spec, root, progress=False, mirror=mirror or os.environ.get(MIRROR_ENV))
        fetched.append(name)
    return fetched


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m cs231n_bn fetch",
        description="Fetch and verify data sets into the data root (default: the repository's datasets/, or "
                    "$CS231N_BN_DATA). Each file is checked against digests kept in the code before it is kept.")
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help=f"data set to fetch: {', '.join(DATASETS)}, or all")
    parser.add_argument("--root", help="data root directory (default: $CS231N_BN_DATA or <repository>/datasets)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds to wait for a server before trying the next mirror (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--no-apt", action="store_true", help="never run apt-get to install a Debian package")
    parser.add_argument("--offline", action="store_true", help="use local sources only; never download")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--mirror", metavar="URL",
                        help=f"the course's mirror, serving each archive as URL/NAME/ARCHIVE; tried before the Debian "
                             f"package and the upstream mirrors, its files verified by their content (default: "
                             f"${MIRROR_ENV}, if set)")
    return parser


def main(argv=None, datasets=None):
    """Command line entry point; returns the exit status (0 ok, 1 some data set failed, 2 bad arguments)."""
    datasets = DATASETS if datasets is None else datasets
    try:
        args = _parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    allowed = list(datasets) + ["all"]
    unknown = [name for name in args.names if name not in allowed]
    if unknown:
        print(f"error: unknown data set {unknown[0]!r}; expected one of: {', '.join(allowed)}", file=sys.stderr)
        return 2
    if not args.timeout > 0:
        print(f"error: --timeout must be a positive number of seconds, got {args.timeout:g}", file=sys.stderr)
        return 2
    names = list(datasets) if "all" in args.names else list(dict.fromkeys(args.names))
    failed = []
    for name in names:
        try:
            fetch(datasets[name], args.root, allow_apt=not args.no_apt, allow_download=not args.offline,
                  timeout=args.timeout, progress=not args.quiet, mirror=args.mirror or os.environ.get(MIRROR_ENV))
        except (FetchError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            failed.append(name)
        except KeyboardInterrupt:
            # Verified files are kept, a partial download stays hidden in .download/ for the next run.
            print(f"\ninterrupted: {name} is not complete; run the command again to go on where it stopped",
                  file=sys.stderr)
            return 130
        sys.stdout.flush()
    if failed and len(names) > 1:
        print(f"error: not fetched: {', '.join(failed)}; fetched: "
              f"{', '.join(n for n in names if n not in failed) or 'none'}", file=sys.stderr)
    return 1 if failed else 0
