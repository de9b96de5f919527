"""The student edition's CI: what the release writes into it in place of the solution edition's ``.ci/run``.

- ``.github/workflows/self-check.yml`` (this folder's ``self-check.yml``): on every push, README's set-up, then
  ``python -m cs231n_bn check`` with its table in the job summary (the grader appends it itself) and a JUnit
  report, the notebooks whose functions all pass under nbval (each once; their executed copies are the artifact).
  Every step runs under ``bash -eo pipefail`` (``defaults.run.shell: bash``), so a step fails when its command
  does. Functions not yet implemented are listed, not failures, unless the run is a final submission (a manual run
  with ``final`` ticked, or a pushed tag whose name starts with ``final``: ``check --strict`` and every notebook
  under nbval).
- ``.github/workflows/classroom.yml``: GitHub Classroom's autograding, in the form Classroom writes it: one
  ``education/autograding-command-grader`` step per notebook section that the nbgrader course grades, with the
  same points (grading.plan, the one table of points per section), each running ``check --strict --exact`` on that
  section's checks (all or nothing per section), and ``education/autograding-grading-reporter`` at the end.

The solution edition's own CI (``.ci/run``, the whole suite) stays out of the student edition, so that a student's
push never runs it.
"""

import re
import shlex
from pathlib import Path

WORKFLOW = ".github/workflows/self-check.yml"
CLASSROOM = ".github/workflows/classroom.yml"
SOLUTION_ONLY = (".ci/run",)   # the solution edition's CI: the full suite, red until everything is done
SETUP = "./setup.sh"           # README's set-up command
PYTHON = ".venv/bin/python"
TIMEOUT_MINUTES = 10           # per autograding test; the first one includes the set-up
TEMPLATE = Path(__file__).resolve().parent / "self-check.yml"
COMMAND_GRADER = "education/autograding-command-grader@v1"
REPORTER = "education/autograding-grading-reporter@v1"


def section_command(section):
    """The check command that grades one notebook section: its checks, by their whole names, strictly."""
    names = " ".join(shlex.quote(name) for name in section.checks)
    return f"{PYTHON} -m cs231n_bn check --strict --exact {names}"


def step_id(section):
    """A step id for a section's test: letters, digits and '-' (e.g. 'batchnormalization-2')."""
    stem = re.sub(r"[^a-z0-9]+", "-", Path(section.notebook).stem.lower()).strip("-")
    return f"{stem}-{section.number}" if section.number else stem


def test_name(section):
    where = f"section {section.number}: {section.title}" if section.number else section.title
    return f"{section.notebook}, {where}"


def _quoted(text):
    """A YAML double-quoted scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def classroom_workflow(plan):
    """The text of .github/workflows/classroom.yml for a grading plan (a list of plan.Section)."""
    ids = [step_id(section) for section in plan]
    lines = ["# GitHub Classroom autograding: one test per notebook section, the points of the nbgrader course.",
             "# Each test passes (all its points) when `python -m cs231n_bn check --strict --exact ...` exits 0.",
             "name: Autograding Tests", "\"on\":  # Classroom lists these two events; actionlint asks for a mapping",
             "  push:", "  repository_dispatch:", "permissions:",
             "  checks: write", "  actions: read", "  contents: read", "jobs:", "  run-autograding-tests:",
             "    runs-on: ubuntu-latest", "    if: github.actor != 'github-classroom[bot]'", "    steps:",
             "      - name: Checkout code", "        uses: actions/checkout@v4"]
    for section, identifier in zip(plan, ids):
        lines += [f"      - name: {_quoted(test_name(section))}", f"        id: {identifier}",
                  f"        uses: {COMMAND_GRADER}", "        with:",
                  f"          test-name: {_quoted(test_name(section))}", f"          setup-command: {_quoted(SETUP)}",
                  f"          command: {_quoted(section_command(section))}",
                  f"          timeout: {TIMEOUT_MINUTES}", f"          max-score: {section.points}"]
    lines += ["      - name: Autograding Reporter", f"        uses: {REPORTER}", "        env:"]
    lines += [f"          {identifier.upper()}_RESULTS: \"${{{{steps.{identifier}.outputs.result}}}}\""
              for identifier in ids]
    lines += ["        with:", f"          runners: {','.join(ids)}"]
    return "\n".join(lines) + "\n"


def student_ci_files(root):
    """{path: bytes} of the student CI files for the solution edition at ``root``."""
    from ...grading.plan import grading_plan

    root = Path(root)
    notebooks = sorted(path.name for path in (root / "notebooks").glob("*.ipynb"))
    plan = grading_plan(root, notebooks)
    template = root / "cs231n_bn" / "kit" / "edition" / "student_ci" / TEMPLATE.name
    return {WORKFLOW: template.read_bytes(), CLASSROOM: classroom_workflow(plan).encode("utf-8")}


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
    return set(SOLUTION_ONLY), {WORKFLOW, CLASSROOM}
