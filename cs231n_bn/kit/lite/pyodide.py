"""Pyodide for the site: its runtime (the npm package pyodide@0.27.7), its package wheels, and the few wheels from
PyPI that the site needs, each checked before it is shipped.

- The runtime comes from the npm package (``npm pack pyodide@0.27.7``; a .tgz or its unpacked folder). Every
  file shipped from it has the sha256 pinned in RUNTIME_FILES, so a damaged or different release stops the build.
- Pyodide's own builds of numpy, matplotlib and their dependencies are not in the npm package: they come from a
  folder of wheels (Pyodide's CDN serves the same files). Each wheel must have the sha256 that the runtime's
  ``pyodide-lock.json`` records for it.
- From PyPI, with the digests pinned in PYPI_WHEELS (``pip download --require-hashes``): ``comm``, which
  JupyterLite's kernel installs at start-up from PyPI (the site lists it in its own package index instead, so
  that the kernel reaches no other server), and ``tqdm``, whose Pyodide build is not in the wheel folder; PyPI's
  wheel of the same version (pure Python) takes its place in the site's copy of the lock.

What is fetched (the npm package and the PyPI wheels) is kept in a cache folder, so that later builds need no
network.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "0.27.7"
NPM_PACKAGE = f"pyodide@{VERSION}"
NPM_INTEGRITY = "sha512-RUSVJlhQdfWfgO9hVHCiXoG+nVZQRS5D9FzgpLJ/VcgGBLSAKoPL8kTiOikxbHQm1kRISeWUBdulEgO26qpSRA=="
CDN = f"https://cdn.jsdelivr.net/pyodide/v{VERSION}/full/"

# The files of the npm package the site ships, with their sha256 (from the tarball whose integrity npm publishes).
RUNTIME_FILES = {
    "pyodide.js": "b4cb23a53aba19c221659b9fb40a2f18281d685691dc06647fb0afd0681baf98",
    "pyodide.asm.js": "6b4c90de5b7172873f04f21884d0e9d2274e305fe32116558fe3e4fbe3618d51",
    "pyodide.asm.wasm": "a50dd1843f805a0b7c45b61037ee0d7b26dfe85efe0e18ef95a34ad24e401f5f",
    "python_stdlib.zip": "16611534726e5d8ac2bd8f926410b2dcb8d6f49aa24913463533b457a2115c16",
    "pyodide-lock.json": "9c45b916001a750f4102fc287494f3eab215909c7535c626a20db80fd6333e2c",
}
LOCK = "pyodide-lock.json"

# Pure-Python wheels from PyPI: name -> (version, sha256 of the wheel PyPI serves).
PYPI_WHEELS = {
    "comm": ("0.2.2", "e6fb86cb70ff661ee8c9c14e7d36d6de3b4066f1441be4063df9c5009f0a64d3"),
    "tqdm": ("4.66.2", "1ee4f8a893eb9bef51c6e35730cebf234d5d0b6bd112b0271e10ed7c24a02bd9"),
}
# What the kit imports (numpy, matplotlib, tqdm) and what JupyterLite's kernel loads at start-up (micropip, ssl,
# sqlite3, IPython and its completion, jedi); with their dependencies, the Pyodide packages the site ships.
PACKAGES = ("numpy", "matplotlib", "tqdm", "micropip", "ssl", "sqlite3", "ipython", "traitlets", "jedi")
# Loaded as the kernel starts, so that the first cell does not wait for them.
PRELOADED = ("numpy", "matplotlib", "tqdm")


class PyodideError(Exception):
    """Pyodide's files cannot be found, fetched or verified; the message says which and what to do."""


def default_cache():
    """Where fetched files are kept: the per-user cache folder of the data sets, then browser-edition/."""
    from cs231n_bn.kit.data.store import user_data_dir
    return user_data_dir() / "browser-edition"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def normalize(name):
    """A package name as Pyodide's lock file keys it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# -- the runtime ------------------------------------------------------------------------------------------------

def runtime(source, cache, fetch=True):
    """(folder, temporary): a folder holding the verified runtime files (RUNTIME_FILES), and the temporary folder
    the caller removes afterwards (None when ``folder`` is the source itself).

    ``source``: the npm package as a .tgz or an unpacked folder (``node_modules/pyodide``), or None for the cached
    tarball, fetched with ``npm pack`` when missing (unless ``fetch`` is false).
    """
    if source is None:
        source = Path(cache) / f"pyodide-{VERSION}.tgz"
        if not source.is_file():
            if not fetch:
                raise PyodideError(f"the npm package {NPM_PACKAGE} is not in {cache}; fetch it with: python -m "
                                   f"cs231n_bn lite --fetch (npm and the npm registry needed once)")
            fetch_runtime(cache)
    source = Path(source)
    if source.is_dir():
        folder = source / "package" if (source / "package" / "pyodide.js").is_file() else source
        _verify_runtime(folder, source)
        return folder, None
    if not source.is_file():
        raise PyodideError(f"--pyodide-runtime {source}: no such file or folder (the npm package {NPM_PACKAGE}, as a "
                           f".tgz from `npm pack {NPM_PACKAGE}` or its unpacked folder)")
    tmp = Path(tempfile.mkdtemp(prefix="cs231n_bn-pyodide-"))
    try:
        with tarfile.open(source) as archive:
            for name in RUNTIME_FILES:
                try:
                    member = archive.getmember(f"package/{name}")
                except KeyError:
                    raise PyodideError(f"{source}: no package/{name} in it; not the npm package {NPM_PACKAGE}") from None
                with archive.extractfile(member) as src, open(tmp / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        _verify_runtime(tmp, source)
    except (tarfile.TarError, OSError) as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PyodideError(f"{source}: cannot read it as the npm package's tarball ({error})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp, tmp


def _verify_runtime(folder, source):
    for name, want in RUNTIME_FILES.items():
        path = Path(folder) / name
        if not path.is_file():
            raise PyodideError(f"{source}: {name} is missing; not the npm package {NPM_PACKAGE}")
        got = sha256_of(path)
        if got != want:
            raise PyodideError(f"{source}: {name} has sha256 {got[:12]}..., not {want[:12]}... as in "
                               f"{NPM_PACKAGE}; a damaged copy or another release (this kit needs {VERSION})")


def fetch_runtime(cache):
    """``npm pack pyodide@VERSION`` into ``cache``, kept only when its sha512 is the one npm publishes."""
    npm = shutil.which("npm")
    if npm is None:
        raise PyodideError(f"the npm package {NPM_PACKAGE} (Pyodide's runtime) is needed and npm is not installed; "
                           f"install npm (Debian: apt-get install npm), or give the package with --pyodide-runtime, "
                           f"or build a site that loads Pyodide from its CDN with --cdn")
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        run = subprocess.run([npm, "pack", NPM_PACKAGE, "--silent", "--pack-destination", tmp],
                             capture_output=True, text=True, timeout=600)
        packed = list(Path(tmp).glob("*.tgz"))
        if run.returncode != 0 or len(packed) != 1:
            reason = (run.stderr or run.stdout).strip().splitlines()
            raise PyodideError(f"npm pack {NPM_PACKAGE} failed ({reason[-1] if reason else f'exit {run.returncode}'}); "
                               f"is the npm registry reachable?")
        digest = "sha512-" + base64.b64encode(hashlib.sha512(packed[0].read_bytes()).digest()).decode()
        if digest != NPM_INTEGRITY:
            raise PyodideError(f"npm pack {NPM_PACKAGE} gave a tarball with integrity {digest[:20]}..., not the "
                               f"published {NPM_INTEGRITY[:20]}...; nothing was kept")
        os.replace(packed[0], cache / f"pyodide-{VERSION}.tgz")


# -- wheels -----------------------------------------------------------------------------------------------------

def read_lock(folder):
    return json.loads((Path(folder) / LOCK).read_text(encoding="utf-8"))


def closure(lock, roots=PACKAGES):
    """The lock's keys of ``roots`` and everything they depend on, sorted."""
    packages = lock["packages"]
    keys = {normalize(key): key for key in packages}
    seen, stack = set(), list(roots)
    while stack:
        name = normalize(stack.pop())
        if name not in keys:
            raise PyodideError(f"{name} is not a package of Pyodide {VERSION}")
        key = keys[name]
        if key not in seen:
            seen.add(key)
            stack += packages[key]["depends"]
    return sorted(seen)


def wheel_folder(folder):
    """The folder of wheels in ``folder``: its wheels/ subfolder when it has one (the layout of a shared copy with
    its README and lock), else ``folder`` itself."""
    folder = Path(folder)
    return folder / "wheels" if (folder / "wheels").is_dir() else folder


def default_packages_folder(repository):
    """A folder ``shared/pyodide-VERSION`` beside the repository or beside one of the folders above it, where a
    machine keeps Pyodide's wheels for offline builds; $CS231N_BN_PYODIDE_PACKAGES first. None if there is none."""
    env = os.environ.get("CS231N_BN_PYODIDE_PACKAGES")
    if env:
        return Path(env)
    for parent in Path(repository).resolve().parents:
        candidate = parent / "shared" / f"pyodide-{VERSION}"
        if candidate.is_dir():
            return candidate
    return None


def check_lock_matches(packages_folder, runtime_folder):
    """A wheel folder that comes with its own pyodide-lock.json must be of the same Pyodide release."""
    theirs = Path(packages_folder) / LOCK
    if theirs.is_file() and sha256_of(theirs) != sha256_of(Path(runtime_folder) / LOCK):
        raise PyodideError(f"{theirs} is not the lock file of {NPM_PACKAGE}: these wheels are of another Pyodide "
                           f"release (this kit needs {VERSION})")


def ship_wheels(lock, packages_folder, replacements, destination, roots=PACKAGES):
    """Copy the wheels of ``closure(lock, roots)`` into ``destination``, each checked against the lock's sha256; the
    wheels in ``replacements`` (lock key -> path of a PyPI wheel) take the place of Pyodide's builds. Returns the
    site's lock: the runtime's, with the entries of the replacements pointing to them."""
    lock = json.loads(json.dumps(lock))
    packages = lock["packages"]
    source = wheel_folder(packages_folder)
    missing, wrong = [], []
    for key in closure(lock, roots):
        entry = packages[key]
        if key in replacements:
            path = Path(replacements[key])
            entry.update(file_name=path.name, sha256=sha256_of(path), version=PYPI_WHEELS[key][0])
            shutil.copyfile(path, Path(destination) / path.name)
            continue
        path = source / entry["file_name"]
        if not path.is_file():
            missing.append(entry["file_name"])
            continue
        got = sha256_of(path)
        if got != entry["sha256"]:
            wrong.append(f"{entry['file_name']} (sha256 {got[:12]}..., the lock says {entry['sha256'][:12]}...)")
            continue
        shutil.copyfile(path, Path(destination) / entry["file_name"])
    if missing or wrong:
        lines = [f"missing from {source}: {', '.join(missing)}"] if missing else []
        lines += [f"not the file the lock of {NPM_PACKAGE} records: {', '.join(wrong)}"] if wrong else []
        raise PyodideError("; ".join(lines) + f". The folder must hold Pyodide {VERSION}'s own wheels (its CDN serves "
                                              f"them); or build a site that loads them from the CDN with --cdn")
    return lock


def pypi_wheels(cache, fetch=True):
    """{name: path} of the PYPI_WHEELS, from the cache or fetched with pip (hashes required)."""
    folder = Path(cache) / "wheels"
    paths, wanted = {}, []
    for name, (version, sha256) in PYPI_WHEELS.items():
        path = folder / f"{name}-{version}-py3-none-any.whl"
        if path.is_file() and sha256_of(path) == sha256:
            paths[name] = path
        else:
            wanted.append(f"{name}=={version} --hash=sha256:{sha256}")
    if wanted and not fetch:
        raise PyodideError(f"{', '.join(w.split(' ')[0] for w in wanted)} not in {folder}; fetch with: python -m "
                           f"cs231n_bn lite --fetch (PyPI needed once)")
    if wanted:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            requirements = Path(tmp) / "requirements.txt"
            requirements.write_text("\n".join(wanted) + "\n", encoding="utf-8")
            run = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                                  "--only-binary=:all:", "--require-hashes", "-r", str(requirements), "-d", tmp],
                                 capture_output=True, text=True, timeout=600)
            if run.returncode != 0:
                reason = [line for line in (run.stderr or run.stdout).splitlines() if line.strip()]
                raise PyodideError(f"pip download of {', '.join(w.split(' ')[0] for w in wanted)} failed "
                                   f"({reason[-1] if reason else f'exit {run.returncode}'}); is PyPI reachable?")
            for wheel in Path(tmp).glob("*.whl"):
                os.replace(wheel, folder / wheel.name)
        return pypi_wheels(cache, fetch=False)
    return paths
