"""HTTP(S) download of one file: resumable, bounded in size and time, and never a partial file in place.

`download(url, dest)` streams into `dest + '.part'` and renames it to `dest` only once every byte the server
announced has arrived. An interrupted transfer leaves the `.part` file behind; the next call asks the server
for the rest (HTTP Range) and appends, or starts over when the server does not resume. The caller verifies
the finished file's digests before it uses it.

Bounds: a server that sends more than the expected size plus a margin (`size_limit`) is cut off and the bytes
are discarded; each read waits at most `timeout` seconds, and the whole file at most `deadline` seconds (a
server that drips bytes never trips a per-read timeout).
"""

import os
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

DEFAULT_TIMEOUT = 30.0
CHUNK_BYTES = 1 << 16
# A file of unknown size may not exceed this.
MAX_UNKNOWN_SIZE = 2 << 30
# The slowest transfer rate a default deadline allows (bytes per second), and the shortest default deadline.
MIN_RATE = 32 << 10
MIN_DEADLINE = 600.0


def size_limit(expected_size):
    """The most bytes a download of a file of `expected_size` bytes (None: unknown) may deliver: the size
    plus a margin (1 % and at least 64 KiB), since a mirror may serve a slightly different compression."""
    if expected_size is None:
        return MAX_UNKNOWN_SIZE
    return expected_size + max(expected_size // 100, 64 << 10)


def default_deadline(expected_size):
    """Seconds a whole file may take: enough for `expected_size` bytes at MIN_RATE, at least MIN_DEADLINE."""
    size = MAX_UNKNOWN_SIZE // 16 if expected_size is None else expected_size
    return max(MIN_DEADLINE, size / MIN_RATE)
USER_AGENT = "cs231n_bn-fetch"


class DownloadError(OSError):
    """A download failed: unreachable server, HTTP error, time-out or interrupted transfer."""


class _TooLarge(Exception):
    """The server sent more bytes than the file may have."""


def part_path(dest):
    """Where the bytes of an unfinished download of `dest` are kept."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def download(url, dest, timeout=DEFAULT_TIMEOUT, progress=True, expected_size=None, max_bytes=None,
             deadline=None):
    """Download `url` to `dest`, resuming an earlier partial download of the same file when possible.

    Inputs:
    - url: the file's URL (http, https or file).
    - dest: the path of the finished file; its directory must exist.
    - timeout: seconds to wait for the connection and for each block of data.
    - progress: show a tqdm progress bar with sizes on stderr.
    - expected_size: the file's published size: shown when the server does not announce one, and the basis of
      the default max_bytes and deadline (the digests, checked by the caller, decide whether it is right).
    - max_bytes: the most bytes the file may have (default: size_limit(expected_size)).
    - deadline: seconds the whole download may take (default: default_deadline(expected_size)).

    Returns:
    - dest as a Path. Raises DownloadError (leaving `dest + '.part'` for the next attempt to resume, except
      when the server sent too much: then nothing is kept).
    """
    max_bytes = size_limit(expected_size) if max_bytes is None else max_bytes
    deadline = default_deadline(expected_size) if deadline is None else deadline
    stop_at = time.monotonic() + deadline
    expected = f"{expected_size} expected" if expected_size is not None else "its size is not published"
    dest, part = Path(dest), part_path(dest)
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            # Range not satisfiable: the part is complete or from another file; start over next time.
            part.unlink()
            raise DownloadError(f"{url}: the server cannot resume from byte {offset}; the partial download was "
                                f"discarded") from None
        raise DownloadError(f"{url}: HTTP error {err.code} ({err.reason})") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, (socket.timeout, TimeoutError)):
            raise DownloadError(f"{url}: timed out after {timeout:g} s waiting for the server to answer") from None
        raise DownloadError(f"{url}: cannot connect ({err.reason})") from None
    except (socket.timeout, TimeoutError):
        raise DownloadError(f"{url}: timed out after {timeout:g} s waiting for the server to answer") from None
    except OSError as err:
        raise DownloadError(f"{url}: cannot connect ({err})") from None

    with response:
        status = getattr(response, "status", None) or response.getcode()
        length = response.headers.get("Content-Length")
        length = int(length) if length is not None and length.isdigit() else None
        if status == 206:
            start = _range_start(response.headers.get("Content-Range"))
            if start != offset:
                part.unlink(missing_ok=True)
                raise DownloadError(f"{url}: asked for bytes from {offset}, the server sent a range starting at "
                                    f"{start}; the partial download was discarded")
            mode, done = "ab", offset
        else:
            mode, done = "wb", 0  # no resume offered (or none asked for): start from the first byte
        total = done + length if length is not None else expected_size
        if length is not None and done + length > max_bytes:
            if mode == "ab":
                part.unlink(missing_ok=True)
            raise DownloadError(f"{url}: the server announces {done + length} bytes, more than the {max_bytes} "
                                f"this file may have ({expected}); not downloaded")
        read = getattr(response, "read1", response.read)  # read1: what has arrived, so the deadline is kept
        bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                   desc=dest.name, disable=not progress, dynamic_ncols=True)
        try:
            with open(part, mode) as out:
                while True:
                    if time.monotonic() > stop_at:
                        raise DownloadError(f"{url}: not finished within {deadline:g} s ({done} bytes so far); "
                                            f"run the command again to resume")
                    try:
                        chunk = read(CHUNK_BYTES)
                    except (socket.timeout, TimeoutError):
                        raise DownloadError(f"{url}: timed out: no data for {timeout:g} s after {done} bytes; "
                                            f"run the command again to resume") from None
                    except OSError as err:  # connection reset, IncompleteRead, ...
                        raise DownloadError(f"{url}: transfer interrupted after {done} bytes ({err}); run the "
                                            f"command again to resume") from None
                    if not chunk:
                        break
                    if done + len(chunk) > max_bytes:
                        raise _TooLarge(f"{url}: the server sent more than {max_bytes} bytes, more than this file "
                                        f"may have ({expected}); the download was discarded")
                    out.write(chunk)
                    done += len(chunk)
                    bar.update(len(chunk))
        except _TooLarge as err:
            part.unlink(missing_ok=True)
            raise DownloadError(str(err)) from None
        finally:
            bar.close()
    if length is not None and done < total:
        raise DownloadError(f"{url}: transfer interrupted after {done} of {total} bytes; run the command again "
                            f"to resume")
    os.replace(part, dest)
    return dest


def _range_start(content_range):
    """The first byte position in a Content-Range header ('bytes 100-199/200' -> 100), or None."""
    try:
        unit, spec = content_range.split(" ", 1)
        return int(spec.split("-", 1)[0]) if unit == "bytes" else None
    except (AttributeError, ValueError):
        return None
