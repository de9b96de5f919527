"""``python -m cs231n_bn nbgrader --out COURSE [--assignment NAME]``: an nbgrader course directory for this kit.

COURSE receives ``nbgrader_config.py`` and ``source/NAME/`` (NAME defaults to ``bn``). From COURSE, nbgrader 0.9
runs unchanged: ``nbgrader generate_assignment NAME``, ``nbgrader autograde NAME``, ``nbgrader generate_feedback
NAME``. Everything comes from the same solution regions as ``release``:

- ``source/NAME/*.ipynb``: the notebooks of the solution edition with nbgrader cell metadata. A code cell holding
  solution regions is a solution cell (nbgrader replaces each region by a stub, keeping its TODO line); an
  inline-question answer is a manually graded solution cell with points, and so is a prediction cell (a code cell
  tagged ``prediction``: the student's prediction before an experiment, 1 point for being there); each numbered
  section whose package
  functions have self-checks ends with a locked, autograded test cell that runs those checks on the submitted
  package and scores one point per passing check. Outputs that would show solution code are removed, as in the
  student edition; nbgrader's ClearOutput clears the rest from the released notebooks, as for any assignment.
- ``source/NAME/cs231n_bn/``: the package as the student edition has it (solution regions stubbed, the reference
  outputs that notebook validation compares with in ``kit/reference/``), since nbgrader only rewrites notebooks and
  copies every other file as it is.
- ``nbgrader_config.py``: the course root, the data folder for the kernels, a cell timeout that fits the longest
  training cell, ``exclude_overwriting`` for the package files students complete (so that autograde grades the
  submitted copies; every other file is put back from source/), and the kit's stubs.

Run it again with --force after changing the notebooks or the package; other assignments, the gradebook and
submissions in COURSE are left alone.
"""

import argparse
import ast
import importlib.util
import math
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import nbformat

from cs231n_bn.kit.atomic import atomic_write
from cs231n_bn.kit.data.store import ROOT_ENV, default_root

from ..grading.plan import PACKAGE, grading_plan, notebook_order, notebook_sections, package_regions
from .markers import BEGIN, END, MarkerError, find_regions
from .notebooks import ANSWER_PLACEHOLDER, IGNORE_OUTPUT_TAG, is_answer_cell
from .tree import (SOURCE_ROOT, ReleaseError, StudentEdition, build_student_edition, find_leaks, installed_copy_error,
                   print_problems, write_tree)

DEFAULT_ASSIGNMENT = "bn"
NBGRADER_VERSION = "0.9.6"  # the version this course layout is tested with

POINTS_PER_ANSWER = 2       # an answer cell's own "points" metadata wins
POINTS_PER_PREDICTION = 1   # a prediction cell (tag "prediction"): graded by hand for being there, not for being right
PREDICTION_TAG = "prediction"
CODE_STUB = 'raise NotImplementedError("write the code the TODO above asks for")'

# The cell timeout: the longest cell the notebooks' last clean run recorded, times a margin for a busy grading
# machine, rounded up to whole minutes; never below MIN_TIMEOUT. Without recorded timings: DEFAULT_TIMEOUT.
TIMEOUT_MARGIN = 4
MIN_TIMEOUT = 300
DEFAULT_TIMEOUT = 900

CONFIG_NAME = "nbgrader_config.py"
CONFIG_HEADER = "# nbgrader configuration of a cs231n_bn course"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class CourseError(Exception):
    """The course cannot be built; ``problems`` lists every reason (one line each)."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class Course:
    """What the command writes: the files of source/NAME/ and what goes into nbgrader_config.py."""

    assignment: str
    files: dict = field(default_factory=dict)         # path under source/NAME -> bytes
    modes: dict = field(default_factory=dict)
    student_files: list = field(default_factory=list)  # package files with solution regions (exclude_overwriting)
    sections: list = field(default_factory=list)       # Section, in notebook order
    answers: dict = field(default_factory=dict)        # notebook -> [(grade_id, points)]
    solution_cells: dict = field(default_factory=dict)  # notebook -> number of solution code cells
    timeout: int = DEFAULT_TIMEOUT
    longest_cell: tuple = None                         # (seconds, notebook, cell index) or None


# ----------------------------------------------------------------------------------------------------------------
# The course notebooks

def test_cell(section):
    """The locked, autograded test cell that runs ``section``'s checks."""
    names = "".join(f"\n    {name!r}," for name in section.checks)
    where = f"section {section.number}" if section.number else "this notebook"
    source = (f"# Autograded ({section.points} point{'s' if section.points != 1 else ''}): the self-checks of {where} "
              f"run on the cs231n_bn package in this folder,\n"
              f"# one point per check that passes (the number printed last). `python -m cs231n_bn check` runs the "
              f"same checks.\n"
              f"# When your work is graded, the grader runs them itself, outside this notebook.\n"
              f"from cs231n_bn.kit.grading.engines.nbgrader import grade\n\n"
              f"grade([{names}\n])")
    cell = nbformat.v4.new_code_cell(source)
    cell.id = section.grade_id
    cell.metadata = {"nbgrader": _nbgrader_metadata(section.grade_id, grade=True, solution=False, locked=True,
                                                    points=section.points),
                     "tags": [IGNORE_OUTPUT_TAG]}
    return cell


def _nbgrader_metadata(grade_id, grade, solution, locked, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if grade:
        meta["points"] = points
    return meta


def course_notebook(solution_text, student_text, path, sections, redacted):
    """The source/ notebook: the solution notebook with nbgrader metadata, redacted outputs and test cells.

    Inputs:
    - solution_text, student_text: the notebook's JSON in the solution edition and in the student edition
    - path: its path in the solution edition (for messages and for ``redacted``)
    - sections: the Sections of this notebook (grading_plan)
    - redacted: "path, cell N" of the cells whose outputs the student edition removed

    Returns (NotebookNode, answers: [(grade_id, points)], number of solution code cells).
    Raises CourseError for text nbgrader would take for a solution region outside one, and duplicate grade ids.
    """
    nb = nbformat.reads(solution_text, as_version=nbformat.NO_CONVERT)
    student = nbformat.reads(student_text, as_version=nbformat.NO_CONVERT)
    numbered = notebook_sections(nb)
    problems, answers, solutions, ids = [], [], 0, set()
    counters = {}

    def new_id(kind, index):
        number = next((n for n, _, start, end in numbered if start <= index < end), "0")
        counters[kind, number] = counters.get((kind, number), 0) + 1
        return f"{kind}-s{number}-{counters[kind, number]}"

    for index, cell in enumerate(nb.cells):
        where = f"{path}, cell {index}"
        if not is_answer_cell(cell):
            cell.metadata.pop("nbgrader", None)  # nbgrader's view of a cell follows the kit's markers only
        marker_lines = set()
        if cell.cell_type == "code":
            regions = find_regions(cell.source, where)
            marker_lines = {line for region in regions for line in (region.begin, region.end)}
            if regions and PREDICTION_TAG in cell.metadata.get("tags", []):
                grade_id = new_id("prediction", index)
                cell.metadata["nbgrader"] = _nbgrader_metadata(grade_id, grade=True, solution=True, locked=False,
                                                               points=POINTS_PER_PREDICTION)
                ids.add(grade_id)
                answers.append((grade_id, POINTS_PER_PREDICTION))
                solutions += 1
            elif regions:
                grade_id = new_id("solution", index)
                cell.metadata["nbgrader"] = _nbgrader_metadata(grade_id, grade=False, solution=True, locked=False)
                ids.add(grade_id)
                solutions += 1
        elif is_answer_cell(cell):
            meta = cell.metadata["nbgrader"]
            grade_id = meta.get("grade_id") or new_id("answer", index)
            points = meta.get("points") if meta.get("grade") and meta.get("points") else POINTS_PER_ANSWER
            if grade_id in ids:
                problems.append(f"{where}: grade_id {grade_id!r} is used by another cell of this notebook")
            ids.add(grade_id)
            cell.metadata["nbgrader"] = _nbgrader_metadata(grade_id, grade=True, solution=True, locked=False,
                                                           points=points)
            answers.append((grade_id, points))
        for number, line in enumerate(cell.source.splitlines()):
            if (BEGIN in line or END in line) and number not in marker_lines:
                problems.append(f"{where}, line {number + 1}: {line.strip()!r} would be read by nbgrader as a "
                                f"solution marker; only a code cell's marker lines may hold that text")
        if f"{path}, cell {index}" in redacted:
            cell.outputs = student.cells[index].outputs
            cell.metadata = nbformat.from_dict({**cell.metadata, "tags": student.cells[index].metadata["tags"]})
    for section in reversed(sections):
        if section.grade_id in ids:
            problems.append(f"{path}: grade_id {section.grade_id!r} is already used by a cell of this notebook")
        end = next((end for number, _, _, end in numbered if number == section.number), len(nb.cells))
        nb.cells.insert(end, test_cell(section))
    if problems:
        raise CourseError(problems)
    nbformat.validate(nb)
    return nb, answers, solutions


def longest_recorded_cell(nb):
    """(seconds, cell index) of the longest cell in the notebook's recorded execution timings, or None."""
    longest = None
    for index, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        try:
            start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            stop = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
        except (KeyError, TypeError, ValueError):
            continue
        seconds = (stop - start).total_seconds()
        if longest is None or seconds > longest[0]:
            longest = (seconds, index)
    return longest


# ----------------------------------------------------------------------------------------------------------------
# The course

def build_course(root, assignment, notebooks=None):
    """Build source/NAME/ in memory from the solution edition at ``root``.

    Inputs:
    - root: the solution edition (a checkout)
    - assignment: the nbgrader assignment name
    - notebooks: notebook file names under root/notebooks to include (None: all of them)

    Returns a Course. Raises ReleaseError (from the student edition) or CourseError.
    """
    root = Path(root)
    available = sorted(p.name for p in (root / "notebooks").glob("*.ipynb"))
    if notebooks is None:
        notebooks = available
    notebooks = [name if name.endswith(".ipynb") else name + ".ipynb" for name in notebooks]
    unknown = [name for name in notebooks if name not in available]
    if unknown:
        raise CourseError([f"--notebooks: no notebook {name} in notebooks/ (there are: {', '.join(available)})"
                           for name in unknown])
    if not notebooks:
        raise CourseError(["no notebooks to build an assignment from"])
    notebooks = notebook_order(notebooks)

    edition = build_student_edition(root)
    course = Course(assignment=assignment)
    for path, data in edition.files.items():
        if path.startswith(PACKAGE + "/"):
            course.files[path] = data
            course.modes[path] = edition.modes.get(path, 0o644)
    grader = f"{PACKAGE}/kit/grading/engines/nbgrader.py"
    if grader not in course.files:
        raise CourseError([f"{grader}: not among the edition's files (git ls-files), yet the test cells import it; "
                           f"commit it first"])
    course.student_files = sorted({path for path, _ in package_regions(root)})
    course.sections = grading_plan(root, notebooks)
    redacted = set(edition.redacted)
    longest = []
    for name in notebooks:
        path = f"notebooks/{name}"
        solution_text = (root / path).read_text(encoding="utf-8")
        try:
            nb, answers, solutions = course_notebook(solution_text, edition.files[path].decode("utf-8"), path,
                                                     [s for s in course.sections if s.notebook == name], redacted)
        except MarkerError as error:
            raise CourseError([str(error)]) from None
        course.files[name] = nbformat.writes(nb).encode("utf-8")
        course.modes[name] = 0o644
        course.answers[name] = answers
        course.solution_cells[name] = solutions
        recorded = longest_recorded_cell(nb)
        if recorded:
            longest.append((recorded[0], name, recorded[1]))
    if longest:
        course.longest_cell = max(longest)
        minutes = math.ceil(TIMEOUT_MARGIN * course.longest_cell[0] / 60)
        course.timeout = max(MIN_TIMEOUT, 60 * minutes)
    course.files["README.md"] = assignment_readme(course).encode("utf-8")
    course.modes["README.md"] = 0o644
    plain = {path: data for path, data in course.files.items() if not path.endswith(".ipynb")}
    leaks = find_leaks(plain, edition.secrets)
    if leaks:
        raise CourseError([f"{where}: shows the solution line {secret!r}" for where, secret in leaks])
    return course


def assignment_readme(course):
    """The README of the assignment folder (what students receive next to the notebooks)."""
    order = ", ".join(name for name in notebook_order([n for n in course.files if n.endswith(".ipynb")]))
    files = "\n".join(f"- `{path}`" for path in course.student_files)
    return f"""# Assignment {course.assignment}: batch normalization end to end

Work through the notebooks in this order: {order}. Every TODO (in a notebook cell or in a package file) names the
notebook section that explains it. Besides the notebooks, you complete these files of the package in this folder,
and they are graded as you submit them:

{files}

- `python -m cs231n_bn check`, run in this folder, says which of your functions work yet.
- The cells marked "Autograded" are locked: each runs the self-checks of its section on the package in this folder
  and prints your score for it. The inline questions are graded by hand.
- Data: the notebooks read the data sets from the folder `$CS231N_BN_DATA` names, or else your cache folder
  (`~/.cache/cs231n_bn` on Linux); `python -m cs231n_bn fetch fashion-mnist` downloads one there. Never put a data
  set into this folder: everything here is submitted.
"""


def config_text(assignments, student_files, data, timeout, longest_cell=None, plan=None):
    """The text of nbgrader_config.py; ``plan``: notebook name (no .ipynb) -> {grade_id: [check names]}."""
    why = (f"{longest_cell[0]:.0f} s, {longest_cell[1]} cell {longest_cell[2]}, in the notebooks' last recorded run"
           if longest_cell else "no timings recorded in the notebooks")
    return f'''{CONFIG_HEADER} (written by `python -m cs231n_bn nbgrader`; run it again with --force to update).
# From this folder: nbgrader generate_assignment NAME, nbgrader autograde NAME, nbgrader generate_feedback NAME.
import os
import sys

# The assignments built from the kit, the package files students complete, the data folder, the cell timeout, and
# the checks each autograded cell scores.
ASSIGNMENTS = {sorted(assignments)!r}
STUDENT_FILES = {sorted(student_files)!r}
DATA = {str(data)!r}
CELL_TIMEOUT = {int(timeout)}
PLAN = {plan or {}!r}

c = get_config()  # noqa: F821 (nbgrader defines get_config when it reads this file)
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# The kernels nbgrader starts inherit this environment: the data sets, and one BLAS thread per kernel (the kit's
# matrices are small; grading runs one kernel per notebook).
os.environ.setdefault({ROOT_ENV!r}, DATA)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

# A cell may run {TIMEOUT_MARGIN} times as long as the longest cell ({why}), at least {MIN_TIMEOUT} s.
c.ExecutePreprocessor.timeout = CELL_TIMEOUT

# autograde keeps the submitted copies of the files students complete; every other file of source/NAME/ (the rest
# of the package, the grader and its checks) is put back from source/.
c.Autograde.exclude_overwriting = {{name: STUDENT_FILES for name in ASSIGNMENTS}}

# The autograded cells are scored by the kit's grader, run as a process of its own from source/NAME/ on the
# submitted package, never by the notebook's kernel (GradeCells replaces their outputs after Execute), and a
# notebook with no autograded cell is not executed (SkipUngraded).
sys.path.insert(0, os.path.join(c.CourseDirectory.root, "source", ASSIGNMENTS[0]))
from cs231n_bn.kit.grading.engines.nbgrader import GradeCells, SkipUngraded  # noqa: E402
from nbgrader.converters import Autograde  # noqa: E402
from nbgrader.preprocessors import Execute  # noqa: E402

c.GradeCells.plan = PLAN
c.GradeCells.source = os.path.join(c.CourseDirectory.root, "source")
c.Autograde.autograde_preprocessors = [
    preprocessor for step in Autograde.class_traits()["autograde_preprocessors"].default()
    for preprocessor in ([SkipUngraded, GradeCells] if step is Execute else [step])
]
sys.path.pop(0)

# The kit's solution markers, and what replaces them in the released notebooks.
c.ClearSolutions.begin_solution_delimeter = {BEGIN!r}
c.ClearSolutions.end_solution_delimeter = {END!r}
c.ClearSolutions.code_stub = {{"python": {CODE_STUB!r}}}
c.ClearSolutions.text_stub = {ANSWER_PLACEHOLDER!r}
'''


def read_config(path):
    """ASSIGNMENTS, STUDENT_FILES and CELL_TIMEOUT of a config this command wrote, or None for any other file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, UnicodeDecodeError, SyntaxError):
        return None
    if not text.startswith(CONFIG_HEADER):
        return None
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    if not {"ASSIGNMENTS", "STUDENT_FILES", "CELL_TIMEOUT"} <= set(values):
        return None
    values.setdefault("PLAN", {})
    return values


def write_course(course, out, force=False, data=None):
    """Write source/NAME/ (atomically, replacing it only with ``force``) and nbgrader_config.py under ``out``.

    An nbgrader_config.py this command wrote before is merged (its assignments stay configured); any other
    nbgrader_config.py is replaced only with ``force``. Returns the config path.
    """
    out = Path(out).absolute()
    config_path = out / CONFIG_NAME
    previous = read_config(config_path) if config_path.exists() else None
    if config_path.exists() and previous is None and not force:
        raise CourseError([f"{config_path}: an nbgrader configuration this command did not write; use --force to "
                           f"replace it (or add this kit's settings to it by hand)"])
    target = out / "source" / course.assignment
    if target.is_dir() and any(target.iterdir()) and not force:
        raise CourseError([f"{target}: the assignment exists already; use --force to replace it (the gradebook, "
                           f"releases and submissions stay)"])
    assignments, student_files, timeout = {course.assignment}, set(course.student_files), course.timeout
    longest = course.longest_cell
    plan = {}
    if previous:
        assignments |= set(previous["ASSIGNMENTS"])
        student_files |= set(previous["STUDENT_FILES"])
        plan.update(previous["PLAN"])
        if previous["CELL_TIMEOUT"] > timeout:
            timeout, longest = previous["CELL_TIMEOUT"], None
    for section in course.sections:
        plan.setdefault(Path(section.notebook).stem, {})[section.grade_id] = list(section.checks)
    edition = StudentEdition(files=course.files, modes=course.modes)
    write_tree(edition, target, force=force)
    data = Path(default_root() if data is None else data).absolute()
    atomic_write(config_path, config_text(assignments, student_files, data, timeout, longest, plan).encode("utf-8"))
    return config_path


# ----------------------------------------------------------------------------------------------------------------
# The command

def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m cs231n_bn nbgrader", description=__doc__.split("\n\n")[0],
                                     epilog="Then, from COURSE: nbgrader generate_assignment NAME; collect the "
                                            "submissions into submitted/STUDENT/NAME/; nbgrader autograde NAME; "
                                            "nbgrader generate_feedback NAME.")
    parser.add_argument("--out", required=True, type=Path, help="the nbgrader course directory to write into")
    parser.add_argument("--assignment", default=DEFAULT_ASSIGNMENT,
                        help=f"the nbgrader assignment name (default: {DEFAULT_ASSIGNMENT})")
    parser.add_argument("--notebooks", nargs="+", metavar="NOTEBOOK",
                        help="only these notebooks (file names in notebooks/; default: all, in notebook order)")
    parser.add_argument("--force", action="store_true",
                        help="replace source/NAME/ and a configuration this command did not write")
    parser.add_argument("--source", type=Path, default=SOURCE_ROOT,
                        help="the solution edition to build from (default: the tree this package lives in)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    error = installed_copy_error("nbgrader", "a course", "nbgrader --out COURSE")
    if error:
        print(error, file=sys.stderr)
        return 1
    if not _NAME.match(args.assignment):
        print(f"error: --assignment {args.assignment!r}: use letters, digits, '-' and '_' (a folder name nbgrader "
              f"accepts)", file=sys.stderr)
        return 2
    source, out = args.source.resolve(), args.out.absolute()
    if out.resolve() == source or source in out.resolve().parents:
        print(f"error: --out {args.out} lies inside the solution edition; choose a folder outside it", file=sys.stderr)
        return 1
    try:
        course = build_course(source, args.assignment, args.notebooks)
        config = write_course(course, out, force=args.force)
    except (ReleaseError, CourseError) as error:
        print_problems("error: nothing written", error.problems)
        return 1
    print(summary(course, out, config))
    return 0


def summary(course, out, config):
    """What was written and what to run next."""
    auto = sum(section.points for section in course.sections)
    manual = sum(points for answers in course.answers.values() for _, points in answers)
    lines = [f"nbgrader course written to {out}: {config.name} and source/{course.assignment}/ "
             f"({len(course.files)} files)"]
    for name in notebook_order(list(course.answers)):
        sections = [s for s in course.sections if s.notebook == name]
        graded = ", ".join(f"{s.number or 'all'}: {s.points}" for s in sections) or "none"
        answers = course.answers[name]
        predictions = sum(grade_id.startswith("prediction-") for grade_id, _ in answers)
        lines.append(f"  {name}: autograded points by section {graded}; {len(answers) - predictions} inline "
                     f"questions and {predictions} predictions ({sum(p for _, p in answers)} points, graded by "
                     f"hand); {course.solution_cells[name]} solution cells")
    lines.append(f"  total: {auto} autograded points, {manual} graded by hand")
    lines.append(f"  students complete (graded as submitted): {', '.join(course.student_files)}")
    data = default_root()
    lines.append(f"  data for the kernels: {data}" + ("" if (data / "fashion-mnist").is_dir() else
                                                     " (empty: python -m cs231n_bn fetch fashion-mnist)"))
    lines.append(f"  cell timeout: {course.timeout} s")
    if importlib.util.find_spec("nbgrader") is None:
        lines.append(f"  nbgrader is not installed in this environment: pip install nbgrader=={NBGRADER_VERSION}")
    lines.append(f"Next, in {out}: nbgrader generate_assignment {course.assignment}; then, with the submissions in "
                 f"submitted/STUDENT/{course.assignment}/: nbgrader autograde {course.assignment}; "
                 f"nbgrader generate_feedback {course.assignment}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
