"""Building the browser edition: a static JupyterLite site with the Pyodide kernel, the kit preinstalled, the
notebooks, the student's package files and the data set.

The site, as written to ``out``:

    index.html                    opens the first notebook in JupyterLab
    lab/, build/, extensions/     JupyterLite 0.5 (JupyterLab in the browser) and its Pyodide kernel
    files/                        the contents the file browser shows (JupyterLite keeps each student's edits in
                                  the browser's storage): README.md, notebooks/*.ipynb, cs231n_bn/*.py (the files
                                  a student completes and reads; kit/ is the wheel's)
    static/pyodide/               Pyodide's runtime and package wheels, and the site's copy of its lock (not with
                                  --cdn, where the kernel loads them from Pyodide's CDN)
    static/cs231n_bn/             the edition's wheel, which the kernel loads as it starts
    static/datasets/fashion-mnist/ the data set, each file gzip-compressed (the loader verifies its content)
    pypi/                         the wheels JupyterLite's kernel installs with piplite (comm)

The kernel imports ``cs231n_bn`` from the wheel and the student's modules from ``files/cs231n_bn/`` (see
kit/browser.py), so an edit saved in the browser is what the notebooks and ``check`` import.
"""

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cs231n_bn.kit import browser
from cs231n_bn.kit.data.sources import get_spec
from cs231n_bn.kit.data.store import fetch_command, read_verified, resolve_root
from cs231n_bn.kit.edition.tree import (SOURCE_ROOT, build_student_edition, edition_files, never_released,
                                        write_tree)
from cs231n_bn.kit.grading.checks.registry import NOTEBOOK_ORDER

from . import pyodide
from .notebooks import browser_notebook
from .wheel import build_wheel

DATASETS = ("fashion-mnist",)   # what the notebooks load
KIT_FOLDER = "static/cs231n_bn"
# The wheel's address for the kernel, which resolves it against its web worker's own address (WORKER_FOLDER).
WORKER_TO_ROOT = "../" * (browser.WORKER_FOLDER.strip("/").count("/") + 1)
KERNEL_PLUGIN = "@jupyterlite/pyodide-kernel-extension:kernel"
KERNEL_EXTENSION = "@jupyterlite/pyodide-kernel-extension"


class SiteError(Exception):
    """The site cannot be built; the message says why and what to do."""


@dataclass
class Site:
    """What was built: the folder, its size, and where Pyodide and the data come from."""

    out: Path
    edition: str
    pyodide: str
    wheel: str
    notebooks: list = field(default_factory=list)
    package_files: list = field(default_factory=list)
    data_files: list = field(default_factory=list)
    bytes: int = 0
    files: int = 0


def build_site(out, source=SOURCE_ROOT, solution=False, cdn=None, packages=None, runtime_source=None, cache=None,
               data_root=None, force=False, log=None):
    """Build the site into ``out`` (atomically: a folder next to it, renamed into place) and return a Site.

    Inputs:
    - source: the solution edition (a clone of this repository).
    - solution: ship the solution edition (for self-learners) instead of the student edition.
    - cdn: None for a site that serves Pyodide itself; else the URL of Pyodide's CDN folder (pyodide.CDN).
    - packages: the folder of Pyodide's wheels (default: pyodide.default_packages_folder).
    - runtime_source: the npm package pyodide@0.27.7 (.tgz or folder); default: the cache, fetched with npm.
    - cache: where fetched files are kept (default: pyodide.default_cache()).
    - data_root: where the data set is read from (default: the kit's data root, as ``fetch`` puts it).
    - force: replace a non-empty ``out``.
    - log: a function that receives progress lines.
    """
    log = log or (lambda line: None)
    out, source = Path(out).absolute(), Path(source).resolve()
    if out.resolve() == source or out.resolve() in source.parents:
        raise SiteError(f"--out {out} would overwrite the solution edition itself")
    if out.exists() and not out.is_dir():
        raise SiteError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise SiteError(f"--out {out} is not empty; use --force to replace it")
    cache = Path(cache) if cache else pyodide.default_cache()
    if cdn is None:
        packages = Path(packages) if packages else pyodide.default_packages_folder(source)
        if packages is None or not packages.is_dir():
            where = f"{packages}: no such folder" if packages else "none found"
            raise SiteError(f"Pyodide {pyodide.VERSION}'s package wheels are needed ({where}): give their folder with "
                            f"--pyodide-packages DIR (Pyodide's CDN serves the files), or build a site that loads "
                            f"them from the CDN with --cdn")
    extension = _kernel_extension()

    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    temporary_runtime = None
    try:
        log(f"data: {', '.join(DATASETS)}")
        data = {name: _dataset_files(name, data_root) for name in DATASETS}

        log("edition: " + ("the solution edition" if solution else "the student edition (release)"))
        tree = work / "edition"
        _write_edition(source, tree, solution)
        wheel = build_wheel(tree, work / "wheel", solution=solution)
        log(f"wheel: {wheel.name}")

        contents = work / "contents"
        site_notebooks = _write_notebooks(tree, contents, solution)
        package_files = _write_package_files(tree, contents)
        (contents / "README.md").write_text(_readme(site_notebooks, package_files, solution), encoding="utf-8")

        lite = work / "lite"
        (lite / "static").mkdir(parents=True)
        pypi = pyodide.pypi_wheels(cache)
        if cdn is None:
            runtime, temporary_runtime = pyodide.runtime(runtime_source, cache)
            pyodide.check_lock_matches(packages, runtime)
            target = lite / "static" / "pyodide"
            target.mkdir()
            for name in pyodide.RUNTIME_FILES:
                if name != pyodide.LOCK:
                    shutil.copyfile(Path(runtime) / name, target / name)
            replacements = {name: path for name, path in pypi.items()
                            if name in pyodide.read_lock(runtime)["packages"]}
            lock = pyodide.ship_wheels(pyodide.read_lock(runtime), packages, replacements, target)
            (target / pyodide.LOCK).write_text(json.dumps(lock), encoding="utf-8")
            log(f"pyodide: {pyodide.NPM_PACKAGE} and {len(pyodide.closure(lock))} package wheels, each checked "
                f"against its lock")
        else:
            log(f"pyodide: loaded from {cdn}")
        site = work / "site"
        _write_config(lite, contents, site, extension, wheel.name, cdn, pypi["comm"])
        log("jupyterlite: building")
        _jupyter_lite_build(lite)

        kit = site / KIT_FOLDER
        kit.mkdir(parents=True)
        shutil.copyfile(wheel, kit / wheel.name)
        data_files = []
        for name, files in data.items():
            folder = site / browser.SITE_DATASETS / name
            folder.mkdir(parents=True)
            for file_name, content in files.items():
                # mtime 0: the same data gives the same file, so a browser's cached copy stays valid.
                with gzip.GzipFile(folder / f"{file_name}.gz", "wb", compresslevel=6, mtime=0) as f:
                    f.write(content)
                data_files.append(f"{browser.SITE_DATASETS}/{name}/{file_name}.gz")
        first = next((n for n in NOTEBOOK_ORDER if n in site_notebooks), site_notebooks[0])
        (site / "index.html").write_text(_redirect(f"lab/index.html?path=notebooks/{first}"), encoding="utf-8")
        (site / ".nojekyll").write_text("", encoding="utf-8")  # GitHub Pages: serve every file as it is

        result = Site(out, "solution" if solution else "student", cdn or "this site", wheel.name,
                      site_notebooks, package_files, data_files)
        for path in site.rglob("*"):
            if path.is_file():
                result.files += 1
                result.bytes += path.stat().st_size
        _replace(site, out)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if temporary_runtime is not None:
            shutil.rmtree(temporary_runtime, ignore_errors=True)


def _kernel_extension():
    """The folder of JupyterLite's Pyodide kernel extension, as jupyterlite-pyodide-kernel installs it."""
    from jupyter_core.paths import jupyter_path
    for folder in jupyter_path("labextensions"):
        candidate = Path(folder) / KERNEL_EXTENSION
        if (candidate / "package.json").is_file():
            return candidate
    raise SiteError("JupyterLite's Pyodide kernel is not installed: pip install -r requirements.txt "
                    "(jupyterlite-core and jupyterlite-pyodide-kernel)")


def _dataset_files(name, data_root):
    """{file name: verified content} of a data set, from the kit's data root."""
    spec = get_spec(name)
    directory = resolve_root(data_root) / spec.name
    missing = [f.name for f in spec.files if not (directory / f.name).is_file()]
    if missing:
        raise SiteError(f"the site ships {spec.title}, which is not (completely) in {directory}; fetch it with: "
                        f"{fetch_command(spec.name, data_root)}")
    return {f.name: bytes(read_verified(f, directory, spec.name, data_root)) for f in spec.files}


def _write_edition(source, tree, solution):
    """The edition's files in ``tree``: the student edition as ``release`` writes it, or the solution edition's
    tracked files."""
    if not solution:
        write_tree(build_student_edition(source), tree)
        return
    for path in edition_files(source):
        if never_released(path):
            continue
        target = tree / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / path, target)


def _write_notebooks(tree, contents, solution):
    names = sorted(p.name for p in (tree / "notebooks").glob("*.ipynb"))
    if not names:
        raise SiteError(f"no notebooks in {tree / 'notebooks'}")
    (contents / "notebooks").mkdir(parents=True)
    for name in names:
        text = (tree / "notebooks" / name).read_text(encoding="utf-8")
        (contents / "notebooks" / name).write_text(browser_notebook(text, name, solution), encoding="utf-8")
    return [n for n in NOTEBOOK_ORDER if n in names] + [n for n in names if n not in NOTEBOOK_ORDER]


def _write_package_files(tree, contents):
    """The package's modules outside kit/ (what a student completes and reads), except the package's own
    __init__ and __main__, which are the wheel's (the __init__ is what puts these files first)."""
    package = tree / "cs231n_bn"
    written = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] == "kit" or relative.as_posix() in ("__init__.py", "__main__.py"):
            continue
        target = contents / "cs231n_bn" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written.append(f"cs231n_bn/{relative.as_posix()}")
    return written


def _write_config(lite, contents, site, extension, wheel_name, cdn, comm_wheel):
    """jupyter-lite.json (what the site's JupyterLab reads) and jupyter_lite_config.json (what the build reads)."""
    kernel = {
        # Nothing from PyPI: what the kernel installs with piplite is in the site's own index (comm).
        "disablePyPIFallback": True,
        # Loaded as the kernel starts; the wheel's address is relative to the kernel's worker (WORKER_TO_ROOT).
        "loadPyodideOptions": {"packages": [*pyodide.PRELOADED, f"{WORKER_TO_ROOT}{KIT_FOLDER}/{wheel_name}"]},
    }
    if cdn is not None:
        kernel["pyodideUrl"] = cdn.rstrip("/") + "/pyodide.js"
    config = {"jupyter-lite-schema-version": 0,
              "jupyter-config-data": {"appName": "cs231n_bn", "litePluginSettings": {KERNEL_PLUGIN: kernel}}}
    (lite / "jupyter-lite.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    build = {
        "LiteBuildConfig": {
            "apps": ["lab"],
            "contents": [str(contents)],
            "output_dir": str(site),
            "no_sourcemaps": True,
            "no_unused_shared_packages": True,
            # Only the Pyodide kernel: not the other JupyterLab extensions of this environment (nbgrader's).
            "ignore_sys_prefix": ["federated_extensions"],
            "federated_extensions": [str(extension)],
        },
        "PipliteAddon": {"piplite_urls": [str(comm_wheel)]},
    }
    (lite / "jupyter_lite_config.json").write_text(json.dumps(build, indent=2), encoding="utf-8")


def _jupyter_lite_build(lite):
    run = subprocess.run([sys.executable, "-m", "jupyterlite_core", "build"], cwd=lite, capture_output=True,
                         text=True, timeout=1200, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    if run.returncode != 0:
        lines = [line for line in (run.stderr + run.stdout).splitlines() if line.strip()]
        raise SiteError("jupyter lite build failed:\n  " + "\n  ".join(lines[-15:]))


def _readme(notebooks, package_files, solution):
    order = "\n".join(f"{i}. `notebooks/{name}`" for i, name in enumerate(notebooks, 1))
    files = "\n".join(f"- `{path}`" for path in package_files)
    what = "the solution edition" if solution else "the assignment"
    return f"""# cs231n_bn in your browser

This is {what} running in your browser: JupyterLab with a Python kernel compiled to WebAssembly (JupyterLite and
Pyodide). Nothing to install; what you write stays in this browser.

The notebooks, in order (double-click one in the file browser):

{order}

The package files, which the notebooks import from here (edit and save them; each TODO names the notebook section
that asks for it):

{files}

Each notebook starts with a short note on working here: saving (in this browser's storage for this site: download
your work regularly), checking your functions (`from cs231n_bn.kit.browser import self_check`, then `self_check()`),
downloading your files for submission (right-click a file in the file browser, then Download), and what runs
smaller here than natively.
"""


def _redirect(target):
    """The site's front page: straight to the first notebook. JupyterLite's pages read the configuration element of
    every index.html above them, this one's included, so it keeps one (empty)."""
    return f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>cs231n_bn</title>
    <script id="jupyter-config-data" type="application/json" data-jupyter-lite-root=".">
      {{}}
    </script>
    <meta http-equiv="refresh" content="0; url={target}">
  </head>
  <body><a href="{target}">Open the notebooks</a></body>
</html>
"""


def _replace(tmp, out):
    """Move the built site to ``out``, replacing what was there only once the new one is complete."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old / "site")
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
