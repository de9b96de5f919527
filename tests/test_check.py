"""`python -m cs231n_bn check`: the student self-check, in this solution edition and in a released student edition.

Here: the registry, the output, and that check always ends with its summary (a crash, SystemExit,
KeyboardInterrupt, an endless loop, Ctrl-C), the student's code running in its own process. No test here implements
a student function: correct solutions in three styles and the classic mistakes are fixtures that never ship
(tests/test_student_solutions.py); what a student's code cannot do to the grader is tests/test_grader.py.
"""

import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from cs231n_bn.kit.edition import markers
from cs231n_bn.kit.grading.checks import CHECKS, NOTEBOOK_ORDER
from cs231n_bn.kit.grading.engines import cli as check_cli
from cs231n_bn.kit.edition.tree import ReleaseError, build_student_edition
from fixtures.editions import release_repository

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "cs231n_bn"


def solution_regions():
    """(path, Region) for every solution region in the package; empty in the student edition."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        found += [(path.relative_to(REPO).as_posix(), r) for r in markers.find_regions(text, str(path))]
    return found


STUDENT_EDITION = not solution_regions()
solution_only = pytest.mark.skipif(STUDENT_EDITION, reason="the student edition has no solutions to check")


def entry(name):
    (found,) = [c for c in CHECKS if c.name == name]
    return found


# ---------------------------------------------------------------------------------------------------------------
# The registry

@solution_only
def test_every_student_function_has_a_check_from_its_notebook():
    """Each function holding a solution region is checked, by a check filed under the notebook its TODO names."""
    assert len(solution_regions()) >= 20
    for path, region in solution_regions():
        function = region.function.rsplit(".", 1)[-1]
        notebook = re.search(r"(\w+\.ipynb)", region.todo_text)
        candidates = [c for c in CHECKS if function in c.functions]
        assert candidates, f"{path}: {region.function} has no self-check in cs231n_bn/kit/grading/checks/"
        if notebook:
            assert notebook.group(1) in {c.notebook for c in candidates}, \
                f"{path}: {region.function} is explained in {notebook.group(1)}, its check is filed elsewhere"


def test_checks_follow_the_notebook_order():
    order = [NOTEBOOK_ORDER.index(c.notebook) for c in CHECKS]
    assert order == sorted(order)
    assert len({c.name for c in CHECKS}) == len(CHECKS)


def test_the_notebook_order_is_readme_s():
    readme = REPO / "README.md"
    if not readme.is_file():
        pytest.skip("no README.md")
    listed = [name for name in re.findall(r"`(\w+\.ipynb)`", readme.read_text()) if name in NOTEBOOK_ORDER]
    assert list(dict.fromkeys(listed)) == list(NOTEBOOK_ORDER)


def _section(text):
    """(notebook index, section number as a tuple) named by a TODO line, e.g. ('X.ipynb, section 5.5 ...')."""
    found = re.search(r"(\w+\.ipynb), section (\d+(?:\.\d+)*)", text)
    return (NOTEBOOK_ORDER.index(found.group(1)), tuple(int(n) for n in found.group(2).split("."))) if found else None


@solution_only
def test_checks_follow_the_sections_their_functions_are_asked_for_in():
    """Within a notebook, a check comes after the checks of the functions the notebook asks for earlier (a check of
    several functions, once the last of them is asked for)."""
    sections = {}
    for _, region in solution_regions():
        where = _section(region.todo_text)
        if where:
            name = region.function.rsplit(".", 1)[-1]
            sections[name] = min(sections.get(name, where), where)
    keys = []
    for c in CHECKS:
        own = [sections[f] for f in c.functions if f in sections and sections[f][0] == NOTEBOOK_ORDER.index(c.notebook)]
        if own:
            keys.append((max(own), c.name))
    assert [k for k, _ in keys] == sorted(k for k, _ in keys), keys


# ---------------------------------------------------------------------------------------------------------------
# The solution edition

@solution_only
def test_solution_edition_passes_every_check(capsys):
    # A process this one started before the grader's child (here: the suite's background runs, a JupyterLab
    # server) is not one the child left behind: the grader spares it when it ends the child's orphans.
    elder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        assert check_cli.main([]) == 0
        assert elder.poll() is None, "the grader killed a process it had not started"
    finally:
        elder.kill()
        elder.wait()
    where, *lines = capsys.readouterr().out.splitlines()
    assert where.startswith("Your functions run in a separate process"), where
    assert len(lines) == len(CHECKS) + 1
    for line, c in zip(lines, CHECKS):
        assert line.startswith(c.name + " ") and line.endswith("  passed"), line
    summary = re.fullmatch(r"(\d+) passed, 0 failed, 0 not yet implemented \((\d+\.\d) s\)", lines[-1])
    assert summary and int(summary.group(1)) == len(CHECKS)  # (its time is measured by benchmarks/check.py)


@solution_only
def test_in_process_mode_says_so_and_agrees(capsys):
    """Where no process can be started (the browser), the functions run in the grader's process, which says so."""
    assert check_cli.main(["--in-process", "layers.batchnorm", "optim.adam"]) == 0
    where, *lines = capsys.readouterr().out.splitlines()
    assert where == "Your functions run in this process, with no time limit (no other process or thread can be " \
                    "started here): a verdict is for your own information."
    assert [line.split()[-1] for line in lines[:-1]] == ["passed"] * 4


def test_list_and_filters(capsys):
    assert check_cli.main(["--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0].strip() for line in listed] == [c.name for c in CHECKS]
    assert check_cli.main(["no-such-check"]) == 2
    assert "no check matches" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# A released student edition (subprocess: the student's package is the one in the released tree)

@pytest.fixture(scope="module")
def student_tree(tmp_path_factory):
    if STUDENT_EDITION:
        pytest.skip("this is the student edition already")
    try:
        return release_repository(REPO, tmp_path_factory.mktemp("check-student"))[2]
    except ReleaseError as error:
        pytest.fail(f"the release of this repository failed:\n{error}")


def run_check(tree, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "cs231n_bn", "check", *args], cwd=tree, capture_output=True,
                          text=True, timeout=timeout)


def fill_stub(tree, path, function, code):
    """Write a student's code in place of the one stub of ``function`` (as the student would)."""
    file = tree / path
    lines = file.read_text().splitlines(keepends=True)
    stubs = [i for i, line in enumerate(lines)
             if re.match(rf"\s*raise NotImplementedError\(['\"]{function}: ", line)]
    assert len(stubs) == 1, f"{path}: expected one stub for {function}, found {len(stubs)}"
    indent = lines[stubs[0]][: len(lines[stubs[0]]) - len(lines[stubs[0]].lstrip())]
    lines[stubs[0]] = textwrap.indent(textwrap.dedent(code).strip("\n") + "\n", indent)
    file.write_text("".join(lines))


def test_student_edition_reports_everything_as_not_yet_implemented(student_tree):
    run = run_check(student_tree)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()[1:]
    assert lines[-1].startswith(f"0 passed, 0 failed, {len(CHECKS)} not yet implemented")
    for line in lines[:-1]:
        assert "  not yet implemented: " in line and ".ipynb" in line, line
    assert "Traceback" not in run.stdout + run.stderr
    assert run_check(student_tree, "--strict").returncode == 1


@pytest.mark.parametrize("code, reason", [
    ("while True:\n    pass", "still running after 1 s in layers.relu_forward (at layers.py:"),
    ("raise SystemExit(0)", "SystemExit(0) raised (at layers.py:"),
    ("raise KeyboardInterrupt", "KeyboardInterrupt raised (at layers.py:"),
])
def test_a_student_function_that_never_returns_still_gets_the_summary(code, reason, student_tree, tmp_path):
    tree = tmp_path / "student"
    shutil.copytree(student_tree, tree, symlinks=True)
    fill_stub(tree, "cs231n_bn/layers.py", "relu_forward", code)
    run = run_check(tree, "layers.relu", "--time-limit", "1", timeout=60)
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()[1:]
    assert lines[0].startswith("layers.relu_forward   FAILED: ") and reason in lines[0], lines[0]
    assert lines[1].startswith("layers.relu_backward  FAILED: ")  # its check runs relu_forward first
    assert lines[-1].startswith("0 passed, 2 failed, 0 not yet implemented"), run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def _copy(student_tree, tmp_path):
    tree = tmp_path / "student"
    shutil.copytree(student_tree, tree, symlinks=True)
    return tree


def test_a_crash_names_the_exception_and_where_it_happened(student_tree, tmp_path):
    tree = _copy(student_tree, tmp_path)
    fill_stub(tree, "cs231n_bn/layers.py", "relu_forward", "print('looking at', x.shape)\nout = x_positive")
    run = run_check(tree, "layers.relu_forward")
    assert run.returncode == 1
    line = run.stdout.splitlines()[1]
    assert line.startswith("layers.relu_forward  FAILED: raised NameError at line "), line
    assert line.endswith(" of your relu_forward (layers.py), given x (3, 4): name 'x_positive' is not defined"), line
    assert "looking at" not in run.stdout
    verbose = run_check(tree, "layers.relu_forward", "--verbose")
    assert "your code printed:" in verbose.stdout and "looking at (3, 4)" in verbose.stdout


def test_the_naive_layers_cannot_hand_their_work_to_the_fast_ones(student_tree, tmp_path):
    tree = _copy(student_tree, tmp_path)
    fill_stub(tree, "cs231n_bn/layers.py", "conv_forward_naive",
              "from cs231n_bn.fast_layers import conv_forward_fast\nreturn conv_forward_fast(x, w, b, conv_param)")
    run = run_check(tree, "layers.conv_forward_naive")
    assert run.returncode == 1
    line = run.stdout.splitlines()[1]
    assert line.startswith("layers.conv_forward_naive  FAILED: raised RuntimeError at line "), line
    assert "conv_forward_naive calls fast_layers.conv_forward_fast: the naive layers are yours to write" in line


def test_a_stub_reports_not_yet_implemented_and_what_waits_for_it(student_tree):
    run = run_check(student_tree, "layers.batchnorm_forward", "layers.batchnorm_backward", "--exact")
    own, waiting = run.stdout.splitlines()[1:3]
    assert own.startswith("layers.batchnorm_forward   not yet implemented: BatchNormalization.ipynb, section"), own
    assert waiting.startswith("layers.batchnorm_backward  not yet implemented: needs batchnorm_forward first "
                              "(BatchNormalization.ipynb, section"), waiting


@solution_only
def test_ctrl_c_stops_the_run_and_still_prints_the_summary():
    import signal
    process = subprocess.Popen([sys.executable, "-m", "cs231n_bn", "check"], cwd=REPO, stdout=subprocess.PIPE,
                               text=True)
    lines = [process.stdout.readline(), process.stdout.readline()]  # where the functions run, the first verdict
    process.send_signal(signal.SIGINT)
    out = "".join(lines) + process.communicate(timeout=60)[0]
    assert process.returncode == 130, out
    assert re.search(r"\d+ passed, 0 failed, 0 not yet implemented, \d+ not run \(interrupted\)", _summary(out)), out


def _summary(out):
    return out.strip().splitlines()[-1]


# ---------------------------------------------------------------------------------------------------------------
# The release's scan for shipped code that implements a student function (names aside)

from cs231n_bn.kit.edition import similarity  # noqa: E402

TOY_MODULE = '''\
import numpy as np


def spread(x, eps):
    """Inputs: x (N, D). Returns: y (N, D) and scale (D,)."""
    # TODO: compute the spread (Toy.ipynb, "Spread").
    BEGIN
    centre = np.median(x, axis=0)
    scale = np.abs(x - centre).max(axis=0) + eps
    y = np.tanh((x - centre) / scale)
    ENDS
    return y, scale
'''.replace("BEGIN", markers.BEGIN).replace("ENDS", markers.END)

TOY_TEST_REIMPLEMENTS = '''\
import numpy as np
from toy import spread


def test_spread():
    values, eps = np.arange(6.0).reshape(3, 2), 0.5
    middle = np.median(values, axis=0)
    width = np.abs(values - middle).max(axis=0) + eps
    assert np.allclose(spread(values, eps)[0], np.tanh((values - middle) / width))
'''

TOY_TEST_HONEST = '''\
import numpy as np
from toy import spread


def test_spread_is_bounded_and_odd():
    values = np.arange(6.0).reshape(3, 2)
    y, scale = spread(values, 0.5)
    assert np.all(np.abs(y) < 1) and np.allclose(y[0], -y[2])
    assert scale.shape == (2,)
'''


def _toy_tree(root, test_text, extra=None):
    (root / "tests").mkdir(parents=True)
    (root / "toy.py").write_text(TOY_MODULE)
    (root / "tests" / "test_toy.py").write_text(test_text)
    for path, text in (extra or {}).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def test_the_release_stops_on_a_shipped_reimplementation_whatever_its_names(tmp_path):
    root = _toy_tree(tmp_path / "solution", TOY_TEST_REIMPLEMENTS)
    with pytest.raises(ReleaseError) as error:
        build_student_edition(root)
    (problem,) = error.value.problems
    assert problem.startswith("tests/test_toy.py, function test_spread (line 5): implements toy.py: spread "
                              "(6 of its 6 expressions, names aside)")


def test_honest_tests_and_the_template_around_a_stub_are_not_findings(tmp_path):
    root = _toy_tree(tmp_path / "solution", TOY_TEST_HONEST)
    edition = build_student_edition(root)
    assert [p.label for p in edition.patterns] == ["toy.py: spread"]
    assert similarity.find_implementations(similarity.edition_units(edition.files), edition.patterns) == []


@pytest.mark.parametrize("path, text", [
    ("tests/test_strings.py", 'CODE = """\nm = np.median(v, axis=0)\ns = np.abs(v - m).max(axis=0) + e\n'
                              'out = np.tanh((v - m) / s)\n"""\n'),
    ("docs/notes.md", "Try this:\n\n```python\nm = np.median(v, axis=0)\ns = np.abs(v - m).max(axis=0) + e\n"
                      "out = np.tanh((v - m) / s)\n```\n"),
])
def test_code_in_strings_and_markdown_is_scanned_too(path, text, tmp_path):
    root = _toy_tree(tmp_path / "solution", TOY_TEST_HONEST, {path: text})
    with pytest.raises(ReleaseError) as error:
        build_student_edition(root)
    assert error.value.problems[0].startswith(path) and "implements toy.py: spread" in error.value.problems[0]


def test_never_released_solutions_are_left_out_and_scanned_for(tmp_path):
    fixture = ('SOLUTIONS = {("toy.py", "spread"): """\n    m = np.median(x, axis=0)\n    span = np.ptp(x - m, axis=0) '
               '* 1.0 + eps\n    y = np.tanh((x - m) / span)\n"""}\n')
    shipped = ('def helper(a, eps):\n    mid = np.median(a, axis=0)\n    span = np.ptp(a - mid, axis=0) * 1.0 + eps\n'
               '    return np.tanh((a - mid) / span)\n')
    root = _toy_tree(tmp_path / "solution", TOY_TEST_HONEST, {"tests/fixtures/solutions/other.py": fixture})
    edition = build_student_edition(root)
    assert not any(path.startswith("tests/fixtures/solutions") for path in edition.files)
    assert "toy.py: spread" in [p.label for p in edition.patterns if "ptp" in "".join(p.prints)]
    (root / "helpers.py").write_text(shipped)
    with pytest.raises(ReleaseError, match=r"helpers.py, function helper \(line 1\): implements toy.py: spread"):
        build_student_edition(root)
