"""The student edition as a product of its own: its README, its requirements, its notebooks' set-up cell, and a
solution edition that cannot be packaged by mistake.

Everything here reads one release of this repository (the session's ``student_release``, about 7 CPU seconds, shared
with test_release.py, test_student_solutions.py, test_browser.py and test_hosted.py); each test then costs under a
second, except where its docstring gives its cost. The browser test
of the student's JupyterLab is in test_browser.py, the hosted notebook run in test_hosted.py.
"""

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cs231n_bn.kit.edition import hosted, markers, student_files
from cs231n_bn.kit.grading.checks.registry import NOTEBOOK_ORDER
from cs231n_bn.kit.edition.notebooks import is_answer_cell
from cs231n_bn.kit.edition.release import main as release_main
from fixtures.environments import closure, requirement_lines

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CS231N_BN_DATA") or REPO / "datasets")

# What a student's README must not hold: the course's side of things, and commands of the solution edition only.
COURSE_ONLY = ("solution edition", "solution region", "release", "instructor", "nbgrader", "gradescope", "autograde",
               "formgrader", "BEGIN SOLUTION", "tests/fixtures", ".ci/run", "CS231N_BN_BUILD_SOLUTION", "--out",
               "benchmarks")
# The course's tools, which a student never runs: never in the student edition's requirements, nor pulled in by them.
COURSE_TOOLS = ("nbgrader", "playwright", "check-jsonschema", "jupyter", "notebook", "pyyaml")
STUDENT_TOOLS = ("numpy", "matplotlib", "tqdm", "jupyterlab", "nbformat", "nbval", "pytest")


@pytest.fixture(scope="module")
def student(student_release):
    return student_release[2]


@pytest.fixture(scope="module")
def readme(student):
    return (student / "README.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# README

def test_readme_is_the_students_and_holds_no_course_material(readme):
    assert readme != (REPO / "README.md").read_text(encoding="utf-8")
    lowered = readme.lower()
    assert [phrase for phrase in COURSE_ONLY if phrase.lower() in lowered] == []
    for heading in ("## First steps", "## The notebooks, in order", "## Checking your work", "## What a verdict means",
                    "## Handing in", "## Colab and other hosted notebooks"):
        assert heading in readme


def _notebook_blocks(readme):
    """notebook file name -> the README's block about it (from its heading to the next), in README order."""
    parts = re.split(r"^### \d+\. `([\w.-]+\.ipynb)`.*$", readme, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_readme_lists_the_notebooks_in_order_with_every_function_and_question(student_release, readme):
    """Read from the solution edition's regions (not from the stubs the README is made from): every package
    region's function appears, with its file, under the notebook its TODO names; every notebook's TODO cells and
    inline questions are counted under it."""
    solution, _, student = student_release
    blocks = _notebook_blocks(readme)
    shipped = sorted(p.name for p in (student / "notebooks").glob("*.ipynb"))
    assert list(blocks) == [name for name in NOTEBOOK_ORDER if name in shipped] + \
        sorted(name for name in shipped if name not in NOTEBOOK_ORDER)
    found = 0
    for path in sorted((solution / "cs231n_bn").rglob("*.py")):
        relative = path.relative_to(solution).as_posix()
        for region in markers.find_regions(path.read_text(encoding="utf-8"), relative):
            notebook = re.findall(r"\(([\w.-]+\.ipynb)", region.todo_text)[-1]
            rows = [row for row in blocks[notebook].splitlines() if f"`{relative}`" in row]
            assert any(f"`{region.function}`" in row for row in rows), (relative, region.function, notebook)
            found += 1
    assert found >= 30
    for name, block in blocks.items():
        nb = nbformat.read(solution / "notebooks" / name, as_version=4)
        questions = sum(is_answer_cell(cell) for cell in nb.cells)
        todo_cells = sum(cell.cell_type == "code" and bool(markers.find_regions(cell.source, name))
                         for cell in nb.cells)
        said = re.search(r"Answer (one|\d+) inline question", block)
        assert (said and (1 if said.group(1) == "one" else int(said.group(1)))) == (questions or None), name
        counted = sum(1 if m.group(1) == "a" else int(m.group(1))
                      for m in re.finditer(r"\| (a|\d+) code cells? marked", block))
        assert counted == todo_cells, name


def _readme_commands(readme):
    """Every command of the README's code blocks (indented lines), split at &&, without trailing comments."""
    commands = []
    for line in readme.splitlines():
        if line.startswith("    ") and line.strip():
            text = re.split(r"\s{2,}#", line.strip())[0]
            commands += [part.strip() for part in text.split("&&")]
    return commands


def test_readme_commands_run_in_the_student_edition(student, readme, tmp_path):
    """Each command of the README's code blocks, run in the student edition as far as a test can: the checks run
    (on the stubs: exit 0, or 1 with --strict), pytest collects the notebooks named (running them is nbval's job),
    setup.sh is the edition's executable script, and the JupyterLab command's notebook exists (test_browser.py
    starts it). Every `python -m cs231n_bn COMMAND` the README names anywhere is a command of the edition. About
    5 s (pytest's start-up)."""
    commands = _readme_commands(readme)
    assert commands[:2] == ["./setup.sh", student_files.student_readme.MAIN_COMMAND.format(
        notebook=NOTEBOOK_ORDER[0])]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(CS231N_BN_DATA=str(DATA), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    notebooks = []
    for command in commands:
        argv = shlex.split(command)
        if argv == ["./setup.sh"]:
            assert os.access(student / "setup.sh", os.X_OK)
            assert subprocess.run(["bash", "-n", str(student / "setup.sh")]).returncode == 0
        elif argv[0] == ".venv/bin/jupyter":
            assert argv[1] == "lab"
            url = next(arg for arg in argv if arg.startswith("--LabApp.default_url="))
            assert (student / url.split("/lab/tree/", 1)[1]).is_file(), command
        elif argv[:3] == [".venv/bin/python", "-m", "pytest"]:
            assert argv[3:] and all(arg.startswith("notebooks/") for arg in argv[3:]), \
                f"{command}: the whole suite is the course's; a student runs notebooks"
            notebooks += argv[3:]
        elif argv[:3] == [".venv/bin/python", "-m", "cs231n_bn"]:
            run = subprocess.run([sys.executable, *argv[1:]], cwd=student, env=env, capture_output=True, text=True,
                                 timeout=120)
            assert run.returncode in ((0, 1) if "--strict" in argv else (0,)), (command, run.stderr)
            assert "not yet implemented" in run.stdout and "Traceback" not in run.stderr, command
        else:
            pytest.fail(f"README command of an unknown kind (teach this test to run it): {command}")
    assert notebooks, "the README says how to run a notebook under nbval"
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          *notebooks], cwd=student, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    for notebook in notebooks:
        assert notebook.rstrip("/") in run.stdout, notebook
    names = set(re.findall(r"\.venv/bin/python -m cs231n_bn (\w+)", readme)) - {"COMMAND"}
    listed = subprocess.run([sys.executable, "-m", "cs231n_bn", "--help"], cwd=student, env=env,
                            capture_output=True, text=True, timeout=60).stdout
    assert names and all(re.search(rf"^  {name}\b", listed, re.MULTILINE) for name in names), (names, listed)


# ---------------------------------------------------------------------------------------------------------------
# Requirements and .gitignore

def test_student_requirements_hold_what_students_run_and_none_of_the_course_tools(student):
    """Also the dependency closure of the student requirements, resolved against this environment's installed
    distributions (what pip installs for them): none of the course's tools comes in through a dependency."""
    lines = requirement_lines(student / "requirements.txt")
    names = {re.split(r"[<>=!~\[ ;]", line, 1)[0].lower() for line in lines}
    assert set(STUDENT_TOOLS) <= names
    assert names.isdisjoint(COURSE_TOOLS)
    assert student_files.SOLUTION_ONLY_MARK not in (student / "requirements.txt").read_text()
    assert closure(lines).isdisjoint({"nbgrader", "playwright", "check-jsonschema", "notebook", "jupyter"})
    # The solution edition keeps every line of both.
    solution = requirement_lines(REPO / "requirements.txt")
    assert set(lines) < set(solution) and any(line.startswith("nbgrader") for line in solution)


def test_requirements_without_the_solution_section_marker_stop_the_release():
    with pytest.raises(ValueError, match="no line '# === Solution edition only ==='"):
        student_files.student_requirements("numpy\nnbgrader==0.9.6\n")
    assert student_files.student_requirements(f"numpy\n\n{student_files.SOLUTION_ONLY_MARK}\nnbgrader\n") == "numpy\n"


def test_gitignore_keeps_what_the_student_workflow_writes_out_of_commits(student):
    ignored = (student / ".gitignore").read_text().splitlines()
    assert "executed/" in ignored and "reports/" in ignored


# ---------------------------------------------------------------------------------------------------------------
# The notebooks' set-up cell (hosted.py)

def test_every_student_notebook_starts_with_the_set_up_cell_and_the_solution_notebooks_never(student_release):
    solution, _, student = student_release
    for path in sorted((student / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0]
        assert hosted.is_setup_cell(first) and first.cell_type == "code" and first.outputs == [], path.name
        assert "nbval-skip" in first.metadata["tags"] and first.id == hosted.CELL_ID
        assert sum(hosted.is_setup_cell(cell) for cell in nb.cells) == 1
        reference = nbformat.read(solution / "notebooks" / path.name, as_version=4)
        assert not any(hosted.is_setup_cell(cell) for cell in reference.cells)
        uses_data = any('get_data("fashion-mnist"' in cell.source or 'DATASET = "fashion-mnist"' in cell.source
                        for cell in reference.cells)
        assert ("fetch_missing(['fashion-mnist'])" in first.source) == uses_data, path.name
        assert "mnist'" not in first.source.replace("fashion-mnist'", ""), "a data set named only in a comment"


class _Shell:
    """Stands in for IPython's get_ipython(): records each magic the cell runs."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line, _stack_depth=1):
        self.magics.append((name, line))


def _run_setup_cell(source, cwd, monkeypatch, importable):
    """Run a set-up cell's code as IPython would (magics transformed); returns (magics run, printed output)."""
    from IPython.core.inputtransformer2 import TransformerManager
    import importlib.util

    code = TransformerManager().transform_cell(source)
    shell = _Shell()
    if not importable:
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cs231n_bn" else real(name, *a))
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "path", list(sys.path))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "setup-cell", "exec"), {"get_ipython": lambda: shell})
    return shell.magics, out.getvalue()


def test_set_up_cell_does_nothing_where_the_package_is_importable_and_the_data_are_there(monkeypatch, tmp_path):
    if not (DATA / "fashion-mnist").is_dir():
        pytest.skip(f"Fashion-MNIST is not in {DATA}")
    monkeypatch.setenv("CS231N_BN_DATA", str(DATA))
    source = hosted.setup_source(["fashion-mnist"], hosted.Setup(package="https://example.invalid/cs231n_bn.whl"))
    magics, printed = _run_setup_cell(source, tmp_path, monkeypatch, importable=True)
    assert magics == [] and printed == ""


def test_set_up_cell_installs_the_clone_it_sits_in_or_the_published_package(monkeypatch, tmp_path):
    package = "https://example.invalid/cs231n_bn-0.1.0-py3-none-any.whl"
    source = hosted.setup_source([], hosted.Setup(package=package))
    clone = tmp_path / "clone"
    (clone / "cs231n_bn").mkdir(parents=True)
    (clone / "cs231n_bn" / "__init__.py").write_text("")
    (clone / "notebooks").mkdir()
    magics, _ = _run_setup_cell(source, clone / "notebooks", monkeypatch, importable=False)
    assert magics == [("pip", 'install --quiet --editable "{repository}"')]  # IPython expands {repository}
    assert sys.path[0] == str(clone)
    magics, _ = _run_setup_cell(source, tmp_path, monkeypatch, importable=False)
    assert magics == [("pip", f"install --quiet {package}")]
    with pytest.raises(ModuleNotFoundError, match="the course publishes no package for hosted notebooks"):
        _run_setup_cell(hosted.setup_source([]), tmp_path, monkeypatch, importable=False)


def test_set_up_cell_takes_only_safe_package_and_mirror_values():
    for bad in ("x.whl; rm -rf ~", "https://host/$HOME.whl", "a b", "{x}.whl", ""):
        with pytest.raises(ValueError, match="expected a wheel's URL or path"):
            hosted.Setup(package=bad)
    with pytest.raises(ValueError, match="data mirror 'ftp://host/': expected an http, https or file URL"):
        hosted.Setup(mirror="ftp://host/")
    assert hosted.Setup(package="git+https://github.com/course/repo@main", mirror="https://course.example/data/")


def test_nbval_skips_the_set_up_cell(student):
    """nbval's own reading of a cell's tags (what its collector uses to skip a cell) says skip, for the set-up cell
    of every student notebook. Running it is not needed: the filled editions' nbval runs (test_student_solutions)
    run every notebook with the cell in place."""
    from nbval.plugin import find_metadata_tags

    for path in sorted((student / "notebooks").glob("*.ipynb")):
        first = nbformat.read(path, as_version=4).cells[0]
        assert dict(find_metadata_tags(first.metadata)) == {"skip": True}, path.name


def test_release_passes_its_hosted_options_to_the_set_up_cell(monkeypatch, tmp_path, capsys):
    from cs231n_bn.kit.edition import release

    seen = {}

    def build(root, setup=None):
        seen["setup"] = setup
        raise release.ReleaseError(["stop here"])

    monkeypatch.setattr(release, "build_student_edition", build)
    argv = ["--out", str(tmp_path / "s"), "--package", "https://course.example/cs231n_bn-0.1.0-py3-none-any.whl",
            "--data-mirror", "https://course.example/data/"]
    assert release_main(argv) == 1
    assert seen["setup"] == hosted.Setup(package="https://course.example/cs231n_bn-0.1.0-py3-none-any.whl",
                                         mirror="https://course.example/data/")
    assert release_main(["--out", str(tmp_path / "s"), "--package", "a b"]) == 2
    assert "expected a wheel's URL or path" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# The solution edition is never packaged by mistake (kit/build_backend.py)

def _backend():
    """kit/build_backend.py, which runs in a build environment with setuptools (skip where there is none)."""
    pytest.importorskip("setuptools", reason="setuptools is not installed here (the build environment has it)")
    from cs231n_bn.kit import build_backend
    return build_backend


def _package_copy(root, tmp_path):
    """What a wheel is built from: pyproject.toml, README.md and the package, copied from ``root``."""
    copy = tmp_path / "project"
    shutil.copytree(root / "cs231n_bn", copy / "cs231n_bn", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, copy / name)
    return copy


def test_pip_wheel_of_the_solution_edition_is_refused(tmp_path):
    """`pip wheel .` goes through the build backend and stops with its message; nothing is built. About 3 s."""
    build_backend = _backend()
    if not build_backend.solution_files(REPO):
        pytest.skip("the student edition: nothing to refuse")
    project = _package_copy(REPO, tmp_path)
    env = {key: value for key, value in os.environ.items() if key != build_backend.ALLOW}
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "--wheel-dir", str(tmp_path / "wheels"), str(project)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode != 0
    assert "refusing to build a wheel of the solution edition" in run.stdout + run.stderr
    assert "release --out DIR --wheel" in run.stdout + run.stderr
    assert not list(tmp_path.rglob("*.whl"))


def test_the_build_backend_refuses_wheels_and_sdists_of_the_solution_edition_unless_asked(student_release,
                                                                                          tmp_path, monkeypatch):
    solution, _, student = student_release
    build_backend = _backend()
    monkeypatch.delenv(build_backend.ALLOW, raising=False)
    monkeypatch.chdir(_package_copy(solution, tmp_path / "solution"))
    assert build_backend.solution_files() and "cs231n_bn/layers.py" in build_backend.solution_files()
    with pytest.raises(build_backend.SolutionEditionError, match="refusing to build a wheel"):
        build_backend.build_wheel(str(tmp_path))
    with pytest.raises(build_backend.SolutionEditionError, match="refusing to build a source distribution"):
        build_backend.build_sdist(str(tmp_path))
    monkeypatch.setenv(build_backend.ALLOW, "1")
    build_backend.refuse_solution_edition("wheel")  # asked for explicitly: goes ahead
    monkeypatch.delenv(build_backend.ALLOW)
    assert build_backend.solution_files(student) == []  # the student edition builds
    assert build_backend.build_editable is not None  # setuptools' own, for setup.sh's editable install


def test_release_wheel_builds_the_student_editions_wheel_next_to_the_edition(monkeypatch, tmp_path, capsys):
    from cs231n_bn.kit.edition import release, wheel

    built = []

    def build(tree, dest):
        built.append((Path(tree), Path(dest)))
        return Path(dest) / "cs231n_bn-0.1.0-py3-none-any.whl"

    monkeypatch.setattr(wheel, "build_wheel", build)
    monkeypatch.setattr(release, "build_student_edition", lambda root, setup=None: _FakeEdition())
    monkeypatch.setattr(release, "write_tree", lambda edition, out, force=False, git=False: out.mkdir())
    assert release_main(["--out", str(tmp_path / "student"), "--wheel"]) == 0
    assert built == [(tmp_path / "student", tmp_path)]
    assert f"wheel: {tmp_path / 'cs231n_bn-0.1.0-py3-none-any.whl'}" in capsys.readouterr().out


class _FakeEdition:
    files, links, secrets, redacted, references = {}, {}, [], [], []
    py_stubs = py_files = notebooks = notebook_stubs = stubbed_cells = answers = 0


def test_the_student_editions_help_lists_only_the_students_commands(student):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-m", "cs231n_bn", "--help"], cwd=student, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    listed = {line.split()[0] for line in run.stdout.splitlines() if line.startswith("  ")}
    assert {"check", "fetch"} <= listed and not listed & {"release", "nbgrader", "gradescope", "lite"}, run.stdout
