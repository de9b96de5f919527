"""The grader under nbgrader: the scores of the autograded cells come from the grader, never from the kernel.

A notebook's kernel runs the student's cells, and anything they do there (patch a module, replace a function,
print a number) would reach a score computed in that kernel. So the score is not computed there:

- ``GradeCells``, an nbgrader preprocessor that ``nbgrader_config.py`` puts right after ``Execute`` in
  ``Autograde.autograde_preprocessors``, runs the grader as a process of its own (the check command of the
  course's source/NAME/ copy of the kit, ``--tree`` the submission being graded) once per notebook, and replaces
  the outputs of each autograded cell with the grader's lines and its score: the number of checks that passed,
  which nbgrader reads as partial credit. Whatever the kernel left in those cells is discarded.
- ``SkipUngraded`` replaces nbgrader's ``Execute`` and leaves notebooks without autograded cells unexecuted (their
  answers are graded by hand; PaperReproduction.ipynb trains for minutes and scores nothing automatically).
- ``grade(...)``, which the autograded cells call, runs the same grader as a process from the kernel, so that a
  student working on the hub sees the same lines and score; under autograde its output is replaced anyway.
"""

import json
import subprocess
import sys
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Dict, Float, Unicode

try:  # nbgrader's Execute, for SkipUngraded; absent where only the grade() function is used (a student's kernel)
    from nbgrader.preprocessors import Execute
except ImportError:  # pragma: no cover
    Execute = Preprocessor

GRADER_TIMEOUT = 600  # seconds for one notebook's checks (a correct package takes a few seconds)
CELL_METADATA = "cs231n_bn"  # an autograded cell's metadata key holding {"checks": [names]}


def check_command(trusted, tree, names):
    """The command line that runs the grader of the kit at ``trusted`` on the package at ``tree``."""
    code = (f"import sys; sys.path.insert(0, {str(trusted)!r}); "
            f"from cs231n_bn.kit.grading.engines.cli import main; sys.exit(main(sys.argv[1:]))")
    return [sys.executable, "-I", "-c", code, "--tree", str(tree), "--exact", *names, "--format", "json"]


def run_grader(trusted, tree, names, timeout=GRADER_TIMEOUT):
    """(passed names, lines to show, error or None) from one run of the grader on ``names``."""
    try:
        run = subprocess.run(check_command(trusted, tree, names), capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return set(), [], f"the grader did not finish within {timeout} s"
    try:
        result = json.loads(run.stdout.strip().splitlines()[-1])
        checks = result["checks"]
    except (IndexError, ValueError, KeyError, TypeError):
        return set(), [], f"the grader failed (exit code {run.returncode}): {run.stderr.strip()[-500:]}"
    lines, passed = [], set()
    width = max((len(c["name"]) for c in checks), default=0)
    for c in checks:
        lines.append(f"{c['name']:<{width}}  {c['status']}" + (f": {c['reason']}" if c["reason"] else ""))
        if c["status"] == "passed":
            passed.add(c["name"])
    return passed, lines, None


def grade(names):
    """Run the self-checks ``names`` on the cs231n_bn package in the working directory, in a process of their own;
    print one line per check and return how many passed (an autograded cell's score)."""
    tree = Path.cwd().resolve()
    passed, lines, error = run_grader(tree, tree, list(names))
    if error:
        raise RuntimeError(error)
    print("\n".join(lines))
    print(f"{len(passed)} of {len(names)} checks passed")
    return len(passed)


class GradeCells(Preprocessor):
    """Score the kit's autograded cells with the grader (see the module docstring)."""

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled; nbgrader's own are on

    plan = Dict(help="notebook name (without .ipynb) -> {grade_id: [check names]}").tag(config=True)
    source = Unicode(help="the course's source folder; the grader runs from source/ASSIGNMENT").tag(config=True)
    timeout = Float(GRADER_TIMEOUT).tag(config=True)

    def preprocess(self, nb, resources):
        notebook = resources.get("nbgrader", {}).get("notebook") or Path(
            resources.get("unique_key", "")).stem
        sections = self.plan.get(notebook, {})
        if not sections:
            return nb, resources
        assignment = resources["nbgrader"]["assignment"]
        trusted = Path(self.source) / assignment
        tree = Path(resources["metadata"]["path"]).resolve()
        names = [name for checks in sections.values() for name in checks]
        passed, lines, error = run_grader(trusted, tree, names, self.timeout)
        by_name = dict(zip(names, lines))
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type != "code" or grade_id not in sections:
                continue
            checks = sections[grade_id]
            if error:
                cell.outputs = [_output("error", ename="GraderError", evalue=error, traceback=[error])]
                continue
            score = sum(name in passed for name in checks)
            text = "\n".join(by_name[name] for name in checks) + f"\n{score} of {len(checks)} checks passed\n"
            cell.outputs = [_output("stream", name="stdout", text=text),
                            _output("execute_result", data={"text/plain": str(score)}, metadata={},
                                    execution_count=cell.get("execution_count"))]
        return nb, resources


def _output(kind, **fields):
    from nbformat import v4
    return v4.new_output(kind, **fields)


class SkipUngraded(Execute):
    """nbgrader's Execute, except for notebooks that have no autograded cell (nothing to score automatically); a
    kernel that dies (a submission whose code ends the process) leaves the cells it did not reach unexecuted, and the
    notebook goes on to be scored, where nbgrader would stop grading the whole submission."""

    def preprocess(self, nb, resources, *args, **kwargs):
        graded = any(cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code"
                     and not cell.metadata.get("nbgrader", {}).get("solution") for cell in nb.cells)
        if not graded:
            self.log.info("Not executing %s: it has no autograded cell",
                          resources.get("nbgrader", {}).get("notebook", "the notebook"))
            return nb, resources
        from nbclient.exceptions import DeadKernelError
        try:
            return super().preprocess(nb, resources, *args, **kwargs)
        except DeadKernelError as error:
            self.log.warning("The kernel died while running %s (%s); its autograded cells are scored by the grader",
                             resources.get("nbgrader", {}).get("notebook", "the notebook"), error)
            return nb, resources
