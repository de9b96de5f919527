"""The kit in the browser edition: what differs when this package runs in Pyodide, in a JupyterLite site.

The site (``python -m cs231n_bn lite``, kit/lite/) preinstalls the kit's wheel, ships the package files a student
completes and reads as editable files of the site (the folder ``cs231n_bn/`` of JupyterLite's file browser, which
the kernel sees under ``/drive``), and serves the data set as static files. Here:

- ``package_path(path)``: the package's ``__path__`` with the site's ``cs231n_bn/`` folder first, so that
  ``import cs231n_bn.layers`` (from a notebook, ``check`` or another module) reads the student's file, edits
  included; the kit's machinery (``cs231n_bn.kit``) comes from the wheel.
- ``student_tree()``: the folder holding that ``cs231n_bn/``, the tree ``check`` grades.
- ``provide_dataset(spec, directory)``: copies a data set's files from the site into ``directory`` (the kernel's
  own memory) the first time a notebook loads it, so that the loader reads and verifies them as it does natively.
- ``self_check(*arguments)``: ``python -m cs231n_bn check ARGUMENTS`` for a notebook cell (the browser has no
  terminal; the notebooks have a ``check`` of their own).
- ``sized(full, browser=...)``: the size of an experiment, smaller in the browser, where NumPy has no BLAS.
- ``claim(holds, what)``: a claim about an experiment's result that holds at its full size; in the browser, where
  the experiment runs smaller, it is reported rather than raised when it does not hold there.

Outside the browser ``self_check`` is the command line's check, ``sized`` the full size and ``claim`` an
assertion; the rest does nothing.
"""

import os
import sys
from pathlib import Path

IN_BROWSER = sys.platform == "emscripten"

# Where JupyterLite's Pyodide kernel mounts the site's files (its contents, with the student's edits).
CONTENTS = Path("/drive")
# Where the site serves the data sets, relative to its root (kit/lite/site.py writes them there).
SITE_DATASETS = "static/datasets"
# The kernel runs in a web worker loaded from this folder of the site (jupyterlite-pyodide-kernel 0.5).
WORKER_FOLDER = "/extensions/@jupyterlite/pyodide-kernel-extension/static/"


def student_tree():
    """The folder holding the student's ``cs231n_bn/`` files in the browser edition, or None elsewhere."""
    if IN_BROWSER and (CONTENTS / "cs231n_bn").is_dir():
        return CONTENTS
    return None


def package_path(path):
    """``cs231n_bn.__path__`` for this process: in the browser edition the site's ``cs231n_bn/`` folder first.

    Python then looks for every module of the package there before it looks in the wheel, so the student's files
    (and their edits) are what is imported. The site holds no ``kit/`` folder: the machinery is the wheel's.
    """
    tree = student_tree()
    if tree is None:
        return path
    # Compiled files would be written next to the sources, into the student's files in the browser's storage.
    sys.dont_write_bytecode = True
    return [str(tree / "cs231n_bn"), *[p for p in path if p != str(tree / "cs231n_bn")]]


def site_root():
    """The URL of the site's root folder, from where the kernel's worker was loaded; None outside the browser."""
    if not IN_BROWSER:
        return None
    from js import location  # the worker's own URL
    href = str(location.href)
    at = href.find(WORKER_FOLDER)
    if at < 0:
        raise RuntimeError(f"cannot tell the site's address from the kernel's ({href}): this site is not laid out as "
                           f"the kit's browser edition is (the kernel is expected under {WORKER_FOLDER})")
    return href[:at + 1]


def read_site_file(relative):
    """The bytes of a file the site serves, ``relative`` to its root (a synchronous request: the kernel runs in a
    web worker, where that is allowed and a notebook cell can wait for it). Raises FileNotFoundError for a file
    the site does not have, OSError for any other failure."""
    from js import XMLHttpRequest
    url = site_root() + relative
    request = XMLHttpRequest.new()
    request.open("GET", url, False)
    request.responseType = "arraybuffer"
    try:
        request.send(None)
    except Exception as error:  # the browser refused the request (offline, blocked)
        raise OSError(f"cannot read {url}: {error}") from None
    if request.status == 404:
        raise FileNotFoundError(f"{url}: the site has no such file")
    if request.status != 200:
        raise OSError(f"cannot read {url}: HTTP {request.status} {request.statusText}")
    return request.response.to_bytes()


def provide_dataset(spec, directory):
    """In the browser, copy data set ``spec``'s files from the site into ``directory`` unless they are there.

    The site serves each file gzip-compressed as ``static/datasets/NAME/FILE.gz``; it is kept compressed (the
    loader decompresses and verifies it, as it does natively). Outside the browser this does nothing. A file the
    site does not have is left missing, so that the loader names it.
    """
    if not IN_BROWSER:
        return
    directory = Path(directory)
    for file in spec.files:
        target = directory / file.name
        if target.exists():
            continue
        try:
            data = read_site_file(f"{SITE_DATASETS}/{spec.name}/{file.name}.gz")
        except FileNotFoundError:
            continue
        directory.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{file.name}.tmp")
        partial.write_bytes(data)
        os.replace(partial, target)


def self_check(*arguments):
    """Run ``python -m cs231n_bn check ARGUMENTS`` here: ``self_check()``, ``self_check("relu")``,
    ``self_check("batchnorm", "-v")``, ``self_check("--strict")``. It prints what the command prints; in the
    browser, where no other process can be started, the student's functions run in this kernel (the first line says
    so). Returns None, so that a cell shows only the report (the command's exit code is in the summary line:
    anything FAILED is exit code 1)."""
    from .grading.engines.cli import main
    try:
        main([str(a) for a in arguments])
    except SystemExit:  # --help, or a usage error: argparse has printed why
        pass


_told = set()
FULL_RUN = "this notebook in JupyterLab after ./setup.sh (README, quick start)"


def sized(full, browser, what=None):
    """``full`` outside the browser; ``browser`` in it, where NumPy has no BLAS and training is 10 to 40 times
    slower. ``what`` (e.g. "training steps per run") is printed once per kernel with both sizes, so that a notebook
    run in the browser says what it leaves out; the full run is the same notebook run natively (FULL_RUN).

        steps = sized(50_000, browser=5_000, what="training steps per run")
    """
    if not IN_BROWSER:
        return full
    if what is not None and what not in _told:
        _told.add(what)
        shown = [f"{size:,}" if isinstance(size, int) else repr(size) for size in (browser, full)]
        print(f"(browser edition: {what}: {shown[0]} instead of {shown[1]})")
    return browser


def claim(holds, what):
    """A claim about an experiment's result, with the margin it holds by at the experiment's full size.

    Outside the browser it is an assertion: AssertionError(``what``) unless ``holds``. In the browser edition the
    experiment runs smaller (``sized``), where the margin need not hold: a claim that does not hold there is
    printed, with where it is checked, and the notebook runs on.

        claim(np.all(bn2 < bn50 - 0.15), "batch norm with batches of 2 below itself with batches of 50")
    """
    if holds:
        return
    if not IN_BROWSER:
        raise AssertionError(what)
    print(f"(browser edition: not so at this size: {what}. The full run checks this claim: {FULL_RUN}.)")
