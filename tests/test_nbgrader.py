"""`python -m cs231n_bn nbgrader`: the course directory, its grading plan, and nbgrader 0.9 run on it end to end.

The end-to-end test builds a small assignment (this package and one short notebook written here) and runs
`nbgrader generate_assignment`, `autograde` (an untouched, a partly done and a complete submission) and
`generate_feedback` on it, as an instructor would. Marker lines are spelled through markers.BEGIN / markers.END,
so that this file holds none of its own and ships unchanged in the student edition; the tests that need the
solution edition skip in the student edition, those that need nbgrader skip without it.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cs231n_bn.kit.edition import markers
from cs231n_bn.kit.edition import nbgrader as course_command
from cs231n_bn.kit.grading import plan as grading
from cs231n_bn.kit.grading.checks import CHECKS
from cs231n_bn.kit.edition.notebooks import ANSWER_PLACEHOLDER, is_answer_cell
from cs231n_bn.kit.edition.tree import build_student_edition, edition_files, scan_tree

REPO = Path(__file__).resolve().parents[1]
HAS_NBGRADER = importlib.util.find_spec("nbgrader") is not None
SOLUTION_EDITION = bool(grading.package_regions(REPO))

needs_solution = pytest.mark.skipif(not SOLUTION_EDITION, reason="needs the solution edition (its solution regions)")
needs_nbgrader = pytest.mark.skipif(not HAS_NBGRADER, reason="nbgrader is not installed (pip install nbgrader)")


def tiny_notebook():
    """A short FullyConnectedNets.ipynb: a solution cell, an answer cell, and sections 2 and 3."""
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    answer = md("**Answer:** The affine layer is linear in x, so its gradient does not depend on x.")
    answer.metadata["nbgrader"] = {"grade": False, "grade_id": "tiny-q1", "locked": False, "schema_version": 3,
                                   "solution": True}
    cells = [
        md("# A short notebook"),
        code("import numpy as np\n\nfrom cs231n_bn.layers import affine_forward"),
        md("## 2. The affine layer"),
        code("\n".join(["# TODO: the scores of one affine layer on a batch of ones (FullyConnectedNets.ipynb, "
                        "section 2).", markers.BEGIN,
                        "scores_of_ones, _ = affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4))",
                        markers.END, "print(scores_of_ones.shape)"])),
        md("## 3. ReLU"),
        code("print('relu')"),
        md("### Inline question 1"),
        answer,
        md("## References"),
    ]
    return nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory):
    """A solution edition with this package and the short notebook only."""
    root = tmp_path_factory.mktemp("tiny-source")
    for path in edition_files(REPO):
        if path.startswith("cs231n_bn/") or path == "pyproject.toml":
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / path, root / path)
    (root / "notebooks").mkdir()
    nbformat.write(tiny_notebook(), str(root / "notebooks" / "FullyConnectedNets.ipynb"))
    return root


def build(source, out, *args):
    return course_command.main(["--out", str(out), "--source", str(source), *args])


def nbgrader(course, *args, timeout=300, expected_errors=()):
    """Run the nbgrader command line in ``course`` as an instructor would; returns its output. Any line logged as an
    error fails, but for those holding one of ``expected_errors``."""
    bin_dir = str(Path(sys.executable).parent)  # nbgrader calls the alembic script of this environment
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    env.pop("PYTHONPATH", None)  # the kernels must import the package next to the notebook, nothing else
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                            text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    errors = [line for line in output.splitlines() if ("[ERROR]" in line or "| ERROR]" in line)
              and not any(expected in line for expected in expected_errors)]
    assert not errors, output  # e.g. a config file that failed to load
    return output


# ----------------------------------------------------------------------------------------------------------------
# The grading plan and the course notebooks (no nbgrader needed)

def test_plan_scores_every_check_once_in_a_section_of_its_notebook():
    notebooks = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    plan = grading.grading_plan(REPO, notebooks)
    graded = [name for section in plan for name in section.checks]
    expected = [entry.name for entry in CHECKS if entry.notebook in notebooks]
    assert sorted(graded) == sorted(expected)
    by_name = {entry.name: entry for entry in CHECKS}
    for section in plan:
        assert section.points == grading.POINTS_PER_CHECK * len(section.checks) > 0
        assert all(by_name[name].notebook == section.notebook for name in section.checks)
        numbers = [n for n, _, _, _ in grading.notebook_sections(
            nbformat.read(str(REPO / "notebooks" / section.notebook), as_version=4))]
        assert section.number in numbers or (not numbers and section.number == "")


@needs_solution
def test_plan_follows_the_sections_the_todos_name(tiny_source):
    plan = grading.grading_plan(tiny_source, ["FullyConnectedNets.ipynb"])
    sections = {section.number: section.checks for section in plan}
    assert sections["2"] == ("layers.affine_forward", "layers.affine_backward")
    # Checks of functions whose sections this notebook lacks go with the section before them.
    assert sections["3"][:2] == ("layers.relu_forward", "layers.relu_backward")
    assert set(sections) == {"2", "3"}


@needs_solution
def test_course_notebooks_carry_valid_nbgrader_metadata(tmp_path):
    assert build(REPO, tmp_path / "course") == 0
    source = tmp_path / "course" / "source" / "bn"
    names = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in source.glob("*.ipynb")) == names
    for name in names:
        solution = nbformat.read(str(REPO / "notebooks" / name), as_version=4)
        nb = nbformat.read(str(source / name), as_version=4)
        nbformat.validate(nb)
        tests = [cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("locked")]
        others = [cell for cell in nb.cells if cell not in tests]
        assert [cell.source for cell in others] == [cell.source for cell in solution.cells]
        for cell, ref in zip(others, solution.cells):
            meta = cell.metadata.get("nbgrader")
            if cell.cell_type == "code" and "prediction" in ref.metadata.get("tags", []):
                # a prediction before an experiment: graded by hand, one point for being there
                assert meta["solution"] and meta["grade"] and meta["points"] == 1 and meta["grade_id"]
            elif cell.cell_type == "code" and markers.find_regions(cell.source, name):
                assert meta["solution"] and not meta["grade"] and meta["grade_id"]
            elif is_answer_cell(ref):
                assert meta["solution"] and meta["grade"] and meta["points"] > 0
            else:
                assert meta is None
        for cell in tests:
            meta = cell.metadata["nbgrader"]
            assert meta["grade"] and not meta["solution"] and meta["points"] > 0
            assert "grade([" in cell.source
        if HAS_NBGRADER:
            from nbgrader.nbgraderformat import MetadataValidator
            MetadataValidator().validate_nb(nb)
    # The package as the student edition has it: no solution region, so that the release hands out none.
    assert not grading.package_regions(source)
    config = (tmp_path / "course" / "nbgrader_config.py").read_text()
    for path in grading.package_regions(REPO):
        assert repr(path[0]) in config


@needs_solution
def test_builds_merge_assignments_and_refuse_to_overwrite(tiny_source, tmp_path, capsys):
    course = tmp_path / "course"
    assert build(tiny_source, course, "--assignment", "one") == 0
    assert build(tiny_source, course, "--assignment", "two") == 0
    assert course_command.read_config(course / "nbgrader_config.py")["ASSIGNMENTS"] == ["one", "two"]
    capsys.readouterr()
    assert build(tiny_source, course, "--assignment", "two") == 1
    assert "--force" in capsys.readouterr().err
    assert build(tiny_source, course, "--assignment", "two", "--force") == 0
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    assert build(tiny_source, course, "--assignment", "three") == 1
    assert "did not write" in capsys.readouterr().err
    assert not (course / "source" / "three").exists()
    assert build(tiny_source, course, "--assignment", "bad name") == 2
    assert build(tiny_source, course, "--notebooks", "Missing.ipynb") == 1
    assert "no notebook Missing.ipynb" in capsys.readouterr().err


@needs_solution
def test_text_nbgrader_would_take_for_a_marker_is_refused(tiny_source, tmp_path, capsys):
    source = tmp_path / "source"
    shutil.copytree(tiny_source, source)
    nb = tiny_notebook()
    nb.cells[5].source = f"print({markers.BEGIN!r})"
    nbformat.write(nb, str(source / "notebooks" / "FullyConnectedNets.ipynb"))
    assert build(source, tmp_path / "course") == 1
    assert "cell 5, line 1" in capsys.readouterr().err
    assert not (tmp_path / "course").exists()


@needs_solution
def test_grade_runs_the_checks_on_the_package_in_the_working_directory(monkeypatch, capsys):
    from cs231n_bn.kit.grading.engines.nbgrader import grade
    monkeypatch.chdir(REPO)
    assert grade(["layers.affine_forward", "layers.relu_forward"]) == 2
    assert "2 of 2 checks passed" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="no check matches 'layers.nothing'"):
        grade(["layers.nothing"])


# ----------------------------------------------------------------------------------------------------------------
# nbgrader, end to end

# Appended to a submitted layers.py: at import it makes every check pass in its own process, makes NumPy's
# comparisons always true, prints what a passing cell prints, and leaves a process behind that prints more later.
PATCH_AT_IMPORT = """

import subprocess as _subprocess
import sys as _sys

import numpy as _np

try:
    import cs231n_bn.kit.grading.checks as _checks
    for _entry in _checks.CHECKS:
        object.__setattr__(_entry, "run", lambda student: None)
except Exception:
    pass
_np.allclose = _np.array_equal = lambda *args, **kwargs: True
print("4 of 4 checks passed")
_subprocess.Popen([_sys.executable, "-c", "import time; time.sleep(1); print('4 of 4 checks passed')"])
"""

@needs_solution
@needs_nbgrader
def test_nbgrader_generate_autograde_feedback(tiny_source, tmp_path):
    course = tmp_path / "course"
    assert build(tiny_source, course, "--assignment", "tiny") == 0
    config = course_command.read_config(course / "nbgrader_config.py")
    student_files = config["STUDENT_FILES"]
    assert "cs231n_bn/layers.py" in student_files

    nbgrader(course, "generate_assignment", "tiny")
    release = course / "release" / "tiny"
    secrets = build_student_edition(tiny_source).secrets
    assert scan_tree(release, secrets) == []
    released = nbformat.read(str(release / "FullyConnectedNets.ipynb"), as_version=4)
    assert course_command.CODE_STUB in released.cells[3].source and "TODO:" in released.cells[3].source
    assert ANSWER_PLACEHOLDER in [cell.source for cell in released.cells]

    # Three students: untouched, the layers only, everything (notebook solutions and the solution package); and
    # three who want marks without the work.
    submitted = course / "submitted"
    students = ("blank", "partial", "complete", "patches-the-kernel", "patches-at-import", "exits-at-import")
    for student in students:
        shutil.copytree(release, submitted / student / "tiny")
    shutil.copy(tiny_source / "cs231n_bn" / "layers.py", submitted / "partial" / "tiny" / "cs231n_bn" / "layers.py")
    complete = submitted / "complete" / "tiny"
    shutil.copy(course / "source" / "tiny" / "FullyConnectedNets.ipynb", complete / "FullyConnectedNets.ipynb")
    for path in student_files:
        shutil.copy(tiny_source / path, complete / path)
    # A submission cannot grade itself: autograde puts the instructor's self-checks back ...
    (submitted / "blank" / "tiny" / "cs231n_bn" / "kit" / "grading" / "checks" / "__init__.py").write_text(
        "CHECKS = []\n")
    # ... a notebook cell that replaces the grading function of the kernel scores nothing ...
    nb = nbformat.read(str(submitted / "patches-the-kernel" / "tiny" / "FullyConnectedNets.ipynb"), as_version=4)
    nb.cells[1].source += ("\nimport cs231n_bn.kit.grading.engines.nbgrader as g\ng.grade = lambda names: len(names)"
                           "\nimport subprocess\nsubprocess.run = lambda *a, **k: None")
    nbformat.write(nb, str(submitted / "patches-the-kernel" / "tiny" / "FullyConnectedNets.ipynb"))
    # ... nor does a package that patches the checks, NumPy and the printing at import, or ends the process there.
    layers = submitted / "patches-at-import" / "tiny" / "cs231n_bn" / "layers.py"
    layers.write_text(layers.read_text() + PATCH_AT_IMPORT)
    layers = submitted / "exits-at-import" / "tiny" / "cs231n_bn" / "layers.py"
    layers.write_text(layers.read_text() + "\nimport os\nos._exit(0)\n")

    output = nbgrader(course, "autograde", "tiny", expected_errors=("Kernel died while waiting for execute reply",))
    assert "The kernel died while running FullyConnectedNets" in output  # exits-at-import, scored all the same
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {student: gradebook.find_submission("tiny", student) for student in students}
        code = {student: (s.code_score, s.max_code_score) for student, s in scores.items()}
        written = {student: (s.written_score, s.needs_manual_grade) for student, s in scores.items()}
    autograded_points = sum(section.points for section in grading.grading_plan(
        tiny_source, ["FullyConnectedNets.ipynb"]))
    assert code["blank"] == (0, autograded_points)
    assert 0 < code["partial"][0] < autograded_points
    assert code["complete"] == (autograded_points, autograded_points)
    for cheat in students[3:]:
        assert code[cheat] == (0, autograded_points), cheat
    assert written["blank"] == (0, False)         # the untouched answer scores 0 without a grader
    assert written["complete"][1]                  # a written answer waits for the grader
    assert (course / "autograded" / "complete" / "tiny" / "cs231n_bn" / "layers.py").read_text() == \
        (tiny_source / "cs231n_bn" / "layers.py").read_text()

    nbgrader(course, "generate_feedback", "tiny")
    feedback = course / "feedback" / "blank" / "tiny"
    assert (feedback / "FullyConnectedNets.html").is_file()
    assert scan_tree(feedback, secrets) == []
    # The partial submission's feedback shows its own layers.py and no other solution.
    layers = (tiny_source / "cs231n_bn" / "layers.py").read_text()
    others = [secret for secret in secrets if secret not in layers]
    assert scan_tree(course / "feedback" / "partial" / "tiny", others) == []
