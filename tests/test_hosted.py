"""A student notebook on a hosted machine (Colab, a JupyterHub without the repository): a fresh environment that has
the published wheel and the notebooks and nothing of the repository, the set-up cell installing and fetching what
the notebook needs.

A student's finished work is the student edition filled with the "vectorized" style (tests/fixtures/solutions); its
wheel is built as ``release --wheel`` builds it and "published" as a file; the data sets are served by a course
mirror on 127.0.0.1 (Debian's or the checkout's Fashion-MNIST, compressed differently from upstream's archives: the
mirror is verified by content). The set-up cells are written by the release's own function with that package
and mirror, as ``release --package WHEEL --data-mirror URL`` writes them.

The environment is a new virtual environment holding a kernel and the wheel's declared dependencies, linked from
this one (fixtures/environments.py: what a hosted image provides, and what pip would install with the wheel), with
no package index: the set-up cell's ``%pip install`` installs the wheel itself, from its path, and nothing else.
Notebooks run in a folder that holds them alone, with a home and cache folder of their own.

Cost: about 17 CPU seconds (the wheel's build about 3.5, NormalizationFamily.ipynb top to bottom about 6.5, the
rest Dropout.ipynb up to its first use of the data with the install and the download, and the environment), the
suite's release shared.
"""

import gzip
import importlib
import json
import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import nbformat
import pytest

from cs231n_bn.kit.data.sources import FASHION_MNIST
from cs231n_bn.kit.edition import hosted
from cs231n_bn.kit.edition.wheel import build_wheel
from fixtures.data_fixtures import FixtureServer
from fixtures.environments import linked_environment

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "solutions"
DATA = Path(os.environ.get("CS231N_BN_DATA") or REPO / "datasets")
STYLE = "vectorized"
KERNEL = "hosted-test"

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason="needs tests/fixtures/solutions (never released)")


def course_mirror_files():
    """{fashion-mnist/ARCHIVE: bytes}: Debian's Fashion-MNIST archives, or the checkout's files gzip-compressed."""
    files = {}
    for archive in FASHION_MNIST.archives:
        (member,) = archive.members
        debian, kept = Path(FASHION_MNIST.debian_dir) / archive.filename, DATA / FASHION_MNIST.name / member.name
        if debian.is_file():
            data = debian.read_bytes()
        elif kept.is_file():
            data = gzip.compress(kept.read_bytes(), compresslevel=1)
        else:
            pytest.skip(f"Fashion-MNIST is not in {DATA} (python -m cs231n_bn fetch fashion-mnist)")
        files[f"{FASHION_MNIST.name}/{archive.filename}"] = data
    return files


def wheel_requirements(wheel):
    """The Requires-Dist lines of a wheel's metadata."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode("utf-8"))
    return metadata.get_all("Requires-Dist") or []


def kernel_environment(root):
    """The kernel's environment: nothing of the repository or of the suite's data, no package index."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "CS231N_BN_DATA", "CS231N_BN_MIRROR", "VIRTUAL_ENV", "PIP_INDEX_URL",
                          "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS")
           and not key.lower().endswith("_proxy")}
    env.update(HOME=str(root / "home"), XDG_CACHE_HOME=str(root / "cache"), PIP_NO_INDEX="1",
               PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1",
               no_proxy="127.0.0.1,localhost", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               JUPYTER_PATH=str(root / "env" / "share" / "jupyter"), MPLBACKEND="agg")
    return env


def run_notebook(nb, folder, env):
    """Execute ``nb`` (a NotebookNode) in ``folder`` with the hosted kernel; returns it executed."""
    from nbclient import NotebookClient

    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key not in env:
                patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        NotebookClient(nb, timeout=600, kernel_name=KERNEL, resources={"metadata": {"path": str(folder)}}).execute()
    return nb


@pytest.fixture(scope="module")
def hosted_runs(student_release, tmp_path_factory):
    """(root, the environment's folder, the requests the data mirror served, the executed notebooks by name)."""
    from fixtures.solutions.fill import fill_copy

    solution, _, student = student_release
    root = tmp_path_factory.mktemp("hosted")
    solutions = importlib.import_module(f"fixtures.solutions.{STYLE}").SOLUTIONS
    finished = fill_copy(student, solution, root / "finished", solutions)
    (root / "published").mkdir()
    wheel = build_wheel(finished, root / "published")

    env_dir, names = linked_environment(root / "env", ["ipykernel", "pip", *wheel_requirements(wheel)])
    assert "cs231n-bn" not in names
    spec = {"argv": [str(env_dir / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (hosted)", "language": "python"}
    (env_dir / "share" / "jupyter" / "kernels" / KERNEL).mkdir(parents=True)
    (env_dir / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json").write_text(json.dumps(spec))
    env = kernel_environment(root)
    (root / "home").mkdir()
    before = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import cs231n_bn"], env=env, cwd=root,
                            capture_output=True, text=True, timeout=60)
    assert before.returncode != 0, "the fresh environment must not find the package before the set-up cell"

    folder = root / "colab"  # the notebooks and nothing else
    folder.mkdir()
    executed = {}
    with FixtureServer(course_mirror_files()) as server:
        setup = hosted.Setup(package=str(wheel), mirror=server.url("ok"))
        # Dropout.ipynb up to its first use of the data: the set-up cell installs the wheel and fetches the data.
        dropout = nbformat.read(finished / "notebooks" / "Dropout.ipynb", as_version=4)
        hosted.add_setup_cell(dropout, setup)
        first_use = next(i for i, cell in enumerate(dropout.cells) if cell.cell_type == "code"
                         and "get_data(" in cell.source)
        dropout.cells = dropout.cells[:first_use + 1]
        nbformat.write(dropout, folder / "Dropout.ipynb")
        executed["Dropout.ipynb"] = run_notebook(dropout, folder, env)
        # NormalizationFamily.ipynb top to bottom: the package is there now, the set-up cell does nothing.
        family = nbformat.read(finished / "notebooks" / "NormalizationFamily.ipynb", as_version=4)
        hosted.add_setup_cell(family, setup)
        nbformat.write(family, folder / "NormalizationFamily.ipynb")
        executed["NormalizationFamily.ipynb"] = run_notebook(family, folder, env)
        requests = list(server.requests)
    return root, env_dir, requests, executed


def _text(cell):
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.output_type == "stream")


def test_the_set_up_cell_installs_the_published_wheel_and_fetches_the_data_from_the_course_mirror(hosted_runs):
    root, env_dir, requests, executed = hosted_runs
    site = next((env_dir / "lib").glob("python*/site-packages"))
    assert (site / "cs231n_bn" / "layers.py").is_file() and list(site.glob("cs231n_bn-*.dist-info"))
    assert not (site / "cs231n_bn" / "layers.py").is_symlink(), "installed by pip from the wheel, not linked"
    assert sorted(name for _, name, _ in requests) == sorted(f"fashion-mnist/{archive.filename}"
                                                              for archive in FASHION_MNIST.archives)
    kept = root / "cache" / "cs231n_bn" / "fashion-mnist"
    assert sorted(p.name for p in kept.iterdir() if not p.name.startswith(".")) == \
        sorted(member.name for member in FASHION_MNIST.files)
    setup_output = _text(executed["Dropout.ipynb"].cells[0])
    assert "Fashion-MNIST: ready, 4 files verified" in setup_output


def test_a_finished_notebook_runs_top_to_bottom_from_the_installed_package(hosted_runs):
    root, env_dir, _, executed = hosted_runs
    family = executed["NormalizationFamily.ipynb"]
    assert all(cell.execution_count for cell in family.cells if cell.cell_type == "code")
    assert not any(output.output_type == "error" for cell in family.cells for output in cell.get("outputs", []))
    assert _text(family.cells[0]) == "", "the package is installed: the set-up cell does nothing"
    dropout = executed["Dropout.ipynb"]
    assert dropout.cells[-1].execution_count and "get_data(" in dropout.cells[-1].source
