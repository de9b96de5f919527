"""HTTP(S) download of one file: resumable, with a progress bar, a timeout, and never a partial file in place.

`download(url, dest)` streams into `dest + '.part'` and renames it to `dest` only once every byte the server
announced has arrived. An interrupted transfer leaves the `.part` file behind; the next call asks the server
for the rest (HTTP Range) and appends, or starts over when the server does not resume. The caller verifies
the finished file's digests before it uses it.
"""

import os
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

DEFAULT_TIMEOUT = 30.0
CHUNK_BYTES = 1 << 16
USER_AGENT = "cs231n_bn-fetch"


class DownloadError(OSError):
    """A download failed: unreachable server, HTTP error, time-out or interrupted transfer."""


def part_path(dest):
    """Where the bytes of an unfinished download of `dest` are kept."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def download(url, dest, timeout=DEFAULT_TIMEOUT, progress=True, expected_size=None):
    """Download `url` to `dest`, resuming an earlier partial download of the same file when possible.

    Inputs:
    - url: the file's URL (http, https or file).
    - dest: the path of the finished file; its directory must exist.
    - timeout: seconds to wait for the connection and for each block of data.
    - progress: show a tqdm progress bar with sizes on stderr.
    - expected_size: the size to show when the server does not announce one (never checked).

    Returns:
    - dest as a Path. Raises DownloadError (leaving `dest + '.part'` for the next attempt to resume).
    """
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
        bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                   desc=dest.name, disable=not progress, dynamic_ncols=True)
        try:
            with open(part, mode) as out:
                while True:
                    try:
                        chunk = response.read(CHUNK_BYTES)
                    except (socket.timeout, TimeoutError):
                        raise DownloadError(f"{url}: timed out: no data for {timeout:g} s after {done} bytes; "
                                            f"run the command again to resume") from None
                    except OSError as err:  # connection reset, IncompleteRead, ...
                        raise DownloadError(f"{url}: transfer interrupted after {done} bytes ({err}); run the "
                                            f"command again to resume") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    done += len(chunk)
                    bar.update(len(chunk))
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
