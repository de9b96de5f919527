"""The student edition's CI: what the release writes into it in place of the solution edition's ``.ci/run``.

- ``.github/workflows/self-check.yml`` (this folder's ``self-check.yml``): on every push, README's set-up, then
  ``python -m cs231n_bn check`` with its table in the job summary (markdown) and a JUnit report, the notebooks
  whose functions all pass under nbval, and every notebook executed and uploaded as an artifact. Functions not yet
  implemented are listed, not failures, unless the run is a final submission (a manual run with ``final`` ticked,
  or a pushed tag whose name starts with ``final``: ``check --strict`` and every notebook under nbval).
- ``.github/classroom/autograding.json``: GitHub Classroom autograding, one test per notebook section that the
  nbgrader course grades, with the same points (nbgrader.grading_plan, the one table of points per section), each
  running ``check --strict --exact`` on that section's checks.

The solution edition's own CI (``.ci/run``, the whole suite) stays out of the student edition, so that a student's
push never runs it.
"""

import json
import shlex
from pathlib import Path

WORKFLOW = ".github/workflows/self-check.yml"
AUTOGRADING = ".github/classroom/autograding.json"
SOLUTION_ONLY = (".ci/run",)   # the solution edition's CI: the full suite, red until everything is done
SETUP = "./setup.sh"           # README's set-up command
PYTHON = ".venv/bin/python"
TIMEOUT_MINUTES = 10           # per autograding test; the first one includes the set-up
TEMPLATE = Path(__file__).resolve().parent / "self-check.yml"


def section_command(section):
    """The check command that grades one notebook section: its checks, by their whole names, strictly."""
    names = " ".join(shlex.quote(name) for name in section.checks)
    return f"{PYTHON} -m cs231n_bn check --strict --exact {names}"


def autograding(plan):
    """The autograding.json document for a grading plan (a list of nbgrader.Section), as a dict."""
    tests = []
    for section in plan:
        where = f"section {section.number}: {section.title}" if section.number else section.title
        tests.append({"name": f"{section.notebook}, {where}", "setup": SETUP, "run": section_command(section),
                      "input": "", "output": "", "comparison": "included", "timeout": TIMEOUT_MINUTES,
                      "points": section.points})
    return {"tests": tests}


def student_ci_files(root):
    """{path: bytes} of the student CI files for the solution edition at ``root``."""
    from ...grading.plan import grading_plan

    root = Path(root)
    notebooks = sorted(path.name for path in (root / "notebooks").glob("*.ipynb"))
    plan = grading_plan(root, notebooks)
    template = root / "cs231n_bn" / "kit" / "edition" / "student_ci" / TEMPLATE.name
    return {WORKFLOW: template.read_bytes(),
            AUTOGRADING: (json.dumps(autograding(plan), indent=2, ensure_ascii=False) + "\n").encode("utf-8")}


def applies_to(root):
    """True when ``root`` carries these templates (this kit's tree, not a stand-alone toy tree)."""
    return (Path(root) / "cs231n_bn" / "kit" / "edition" / "student_ci" / TEMPLATE.name).is_file()


def install(root, edition):
    """Put the student CI files into ``edition`` (a tree.StudentEdition of ``root``) in place of ``.ci/run``."""
    if not applies_to(root):
        return
    for path in SOLUTION_ONLY:
        edition.files.pop(path, None)
        edition.modes.pop(path, None)
    edition.files.update(student_ci_files(root))


def edition_differences(root):
    """(paths only the solution edition has, paths only the student edition has) because of the student CI."""
    if not applies_to(root):
        return set(), set()
    return set(SOLUTION_ONLY), {WORKFLOW, AUTOGRADING}
