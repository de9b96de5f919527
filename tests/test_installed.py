"""The package installed (``pip install .``, as on Colab or a JupyterHub image) rather than run from a checkout.

The installed copy goes into a temporary folder (``pip install --no-deps --target``); every check runs it in a fresh
interpreter whose working directory is elsewhere, with that folder first on the path: where its data goes, that
the edition commands refuse to run from it, and that a notebook finds the package and the data.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cs231n_bn.kit.edition.tree import edition_files

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CS231N_BN_DATA") or REPO / "datasets")


def _can_build_wheels_offline():
    """True when the environment's setuptools can build a wheel by itself: setuptools 70.1 or newer (which has
    bdist_wheel), or an older one beside the wheel package. Else pip fetches the build backend pyproject.toml names
    (the package registry is reachable; a new venv's setuptools 65 without wheel cannot build one)."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    if importlib.util.find_spec("wheel") is not None:
        return True
    from importlib.metadata import version
    major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(target folder, a working directory outside the repository) after a non-editable install of this tree."""
    # Installed from a copy of the tracked files, so that the build leaves nothing behind in the repository.
    source = tmp_path_factory.mktemp("source")
    for path in edition_files(REPO):
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / path, source / path)
    target = tmp_path_factory.mktemp("site-packages")
    offline = ["--no-build-isolation", "--no-index"] if _can_build_wheels_offline() else []
    # The solution edition builds only when asked to explicitly (kit/build_backend.py); its installed behaviour is
    # what is tested here, and the student edition's package installs the same way.
    env = dict(os.environ, CS231N_BN_BUILD_SOLUTION="1")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", *offline,
                             "--target", str(target), str(source)], capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return target, tmp_path_factory.mktemp("elsewhere")


def run(installed, code_or_args, **env):
    """Run Python code (a string) or ``python -m`` arguments (a list) against the installed copy."""
    target, cwd = installed
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "CS231N_BN_DATA")}
    environment.update(PYTHONPATH=str(target), **{key: str(value) for key, value in env.items()})
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else ["-m", *code_or_args]
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=120)


WHERE = ("import json, cs231n_bn; from cs231n_bn.kit.data.store import checkout_root, default_root; "
         "print(json.dumps([cs231n_bn.__file__, str(default_root()), checkout_root() and str(checkout_root())]))")


def test_installed_copy_keeps_its_data_in_the_user_cache_folder(installed, tmp_path):
    target, _ = installed
    cache, home = tmp_path / "cache", tmp_path / "home"
    result = run(installed, WHERE, XDG_CACHE_HOME=cache, HOME=home)
    assert result.returncode == 0, result.stderr
    package, root, checkout = json.loads(result.stdout)
    assert Path(package).resolve().parent == (target / "cs231n_bn").resolve()
    assert checkout is None
    if sys.platform.startswith("linux"):
        assert Path(root) == cache / "cs231n_bn"
        _, root, _ = json.loads(run(installed, WHERE, XDG_CACHE_HOME="", HOME=home).stdout)
        assert Path(root) == home / ".cache" / "cs231n_bn"
    assert target.resolve() not in Path(root).resolve().parents
    _, root, _ = json.loads(run(installed, WHERE, CS231N_BN_DATA=tmp_path / "mine").stdout)
    assert Path(root) == tmp_path / "mine"


def test_checkout_keeps_its_data_in_the_repository():
    environment = {key: value for key, value in os.environ.items() if key != "CS231N_BN_DATA"}
    environment["PYTHONPATH"] = str(REPO)
    result = subprocess.run([sys.executable, "-c", WHERE], cwd=REPO, env=environment, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    _, root, checkout = json.loads(result.stdout)
    assert Path(checkout) == REPO and Path(root) == REPO / "datasets"


@pytest.mark.parametrize("command", ["release", "nbgrader"])
def test_edition_commands_refuse_to_run_from_an_installed_copy(installed, tmp_path, command):
    out = tmp_path / "out"
    result = run(installed, ["cs231n_bn", command, "--out", str(out)])
    assert result.returncode == 1
    assert "installed copy" in result.stderr and "clone" in result.stderr
    assert not out.exists()


def test_a_notebook_elsewhere_finds_the_installed_package_and_the_data(installed):
    if not (DATA / "fashion-mnist").is_dir():
        pytest.skip(f"Fashion-MNIST is not in {DATA} (python -m cs231n_bn fetch fashion-mnist)")
    target, cwd = installed
    code = ("import pathlib\n"
            "import cs231n_bn\n"
            "from cs231n_bn.data_utils import get_data\n\n"
            "data = get_data('fashion-mnist', num_training=50, num_validation=10, num_test=10, seed=0)\n"
            "print(pathlib.Path(cs231n_bn.__file__).resolve().parent)\n"
            "print(sorted((key, value.shape) for key, value in data.items() if hasattr(value, 'shape')))")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)], metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}})
    nbformat.write(nb, str(cwd / "Elsewhere.ipynb"))
    result = run(installed, ["jupyter", "nbconvert", "--to", "notebook", "--execute", "--output", "Ran.ipynb",
                             "Elsewhere.ipynb"], CS231N_BN_DATA=DATA)
    assert result.returncode == 0, result.stderr
    outputs = nbformat.read(str(cwd / "Ran.ipynb"), as_version=4).cells[0].outputs
    text = "".join(output.get("text", "") for output in outputs)
    assert str((target / "cs231n_bn").resolve()) in text
    assert "('X_train', (50, " in text and "('X_val', (10, " in text
