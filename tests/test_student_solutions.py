"""A student edition filled with independently written correct solutions passes everything; each mistake fails
``check`` on its function with the message that names it.

The solutions are fixtures that never ship (tests/fixtures/solutions, left out of the student edition; these tests
skip without it). The release of this repository is written to a temporary folder once, then for each style:

- every style: ``python -m cs231n_bn check``; nbval on its share of the notebooks (each notebook but
  PaperReproduction.ipynb in one style: fixtures/solutions/background.py's SHARES; ``--every-notebook-in-filled-
  editions`` runs each in every style); and ``python -m cs231n_bn reproduce`` at a small scale (every stage of
  PaperReproduction and of the command). These runs take minutes: one background process does them while the rest
  of the suite runs (tests/conftest.py), and the tests waiting for them come last. PaperReproduction.ipynb asks the
  student for nothing and trains the nets of the notebooks before it for 2 x 3 x 50,000 steps on both cores;
  three more runs of it would take the suite past its 10-minute budget (``--paper-in-filled-editions`` adds them;
  the solution edition's own nbval run validates it);
- cs231n_2020 (cache tuples, rebinding and storing back, np.random.seed, float64 mask): the whole unit-test suite
  ``pytest tests/``; kratzert (staged graph, full cache) and vectorized (minimal cache): the unit tests of the
  functions a student writes (STUDENT_CODE_TESTS);
- each mistake (mistakes.py): the cs231n 2020 style with that one region wrong; ``check`` fails it with the
  message that names it;
- the correct variants (variants.py, on the cs231n 2020 style): ``check`` and the unit tests of the functions
  students write pass.

Notebook code-cell regions are filled with the solution edition's own cells (the styles cover the package).
Everything runs in subprocesses inside the filled tree, so the package under test is the student's.
"""

import importlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cs231n_bn.kit.edition import markers
from cs231n_bn.kit.grading import runner
from cs231n_bn.kit.grading.checks import CHECKS

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "solutions"
STYLES = ("cs231n_2020", "kratzert", "vectorized")
# The unit tests that run student code, directly or through the Solver and the experiments. The rest of tests/ tests
# the kit's machinery (data, atomic writes, the editions, nbgrader, CI, the browser, installation), except
# test_figure1.py and test_reproduce.py, which train: the small reproduction (background.py) runs that code instead.
STUDENT_CODE_TESTS = ("tests/test_layers.py", "tests/test_batchnorm.py", "tests/test_normalization.py",
                      "tests/test_optim.py", "tests/test_models.py", "tests/test_check.py", "tests/test_conv_layers.py",
                      "tests/test_gradient_check.py", "tests/test_solver.py", "tests/test_solver_monitors.py",
                      "tests/test_bn_experiments.py", "tests/test_bn_practice.py",
                      "tests/test_conv_training.py")
WAIT = 1800  # seconds the last tests wait for the background runs, the three styles together


def _has_regions():
    return any(markers.find_regions(p.read_text(), str(p)) for p in (REPO / "cs231n_bn").rglob("*.py"))


pytestmark = pytest.mark.skipif(not FIXTURES.is_dir() or not _has_regions(),
                                reason="needs the solution edition and tests/fixtures/solutions (never released)")


def _fixture(name):
    return importlib.import_module(f"tests.fixtures.solutions.{name}")


@pytest.fixture(scope="module")
def released(student_release):
    """(solution snapshot, student edition): this repository's files, and their release (the session's one
    release, tests/conftest.py)."""
    snapshot, _, student = student_release
    return snapshot, student


def fill(released, target, solutions):
    """A copy of the student edition at ``target`` with ``solutions`` written into its stubs."""
    snapshot, student = released
    return _fixture("fill").fill_copy(student, snapshot, target, solutions)


def run(tree, *args, timeout=600):
    env = _fixture("fill").edition_env(tree, REPO / "datasets")
    return subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module", params=STYLES)
def style_tree(request, released, tmp_path_factory):
    tree = fill(released, tmp_path_factory.mktemp(request.param) / "edition", _fixture(request.param).SOLUTIONS)
    return request.param, tree


def test_every_notebook_runs_in_a_filled_edition():
    """Each notebook but PaperReproduction.ipynb is in one style's share of the background nbval runs, and each
    style has a share (a new notebook needs a place in SHARES)."""
    background = _fixture("background")
    wanted = {f"notebooks/{p.name}" for p in (REPO / "notebooks").glob("*.ipynb")} - {background.PAPER}
    shares = background.SHARES
    shared = [nb for share in shares.values() for nb in share]
    assert sorted(shared) == sorted(wanted), f"SHARES runs {sorted(shared)}; the notebooks are {sorted(wanted)}"
    assert sorted(shares) == sorted(STYLES), f"SHARES names the styles {sorted(shares)}, not {sorted(STYLES)}"


def test_fixtures_cover_every_region_of_the_package():
    """Every solution region of the package has a body in every style (a new region needs its fixtures)."""
    wanted = set()
    for path in sorted((REPO / "cs231n_bn").rglob("*.py")):
        relative = path.relative_to(REPO).as_posix()
        wanted |= {(relative, r.function) for r in markers.find_regions(path.read_text(), relative)}
    for style in STYLES:
        missing = sorted(wanted - set(_fixture(style).SOLUTIONS))
        assert not missing, f"tests/fixtures/solutions/{style}.py has no solution for {missing}"


def test_each_style_passes_check(style_tree):
    style, tree = style_tree
    result = run(tree, "-m", "cs231n_bn", "check", timeout=300)
    assert result.returncode == 0, f"{style}:\n{result.stdout}{result.stderr}"
    assert result.stdout.splitlines()[-1].startswith(f"{len(CHECKS)} passed, 0 failed, 0 not yet implemented"), \
        result.stdout


def test_each_style_passes_the_unit_tests(style_tree):
    style, tree = style_tree
    paths = ["tests/"] if style == "cs231n_2020" else list(STUDENT_CODE_TESTS)
    result = run(tree, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", *paths)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, f"{style}: {summary}\n" + "\n".join(
        line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR")))


MISTAKES = _fixture("mistakes").MISTAKES if FIXTURES.is_dir() else {}


@pytest.fixture(scope="module")
def cs231n_2020_tree(released, tmp_path_factory):
    """The student edition filled with the cs231n 2020 style, into whose package each mistake is written."""
    return fill(released, tmp_path_factory.mktemp("mistakes") / "edition", _fixture("cs231n_2020").SOLUTIONS)


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_fails_its_check_with_its_message(mistake, released, cs231n_2020_tree, tmp_path):
    """The check of the function with the mistake fails, and its message says what MISTAKES says (and no other
    mistake's message of that check: a message names only the mistake that was made).

    The grader runs here as ``check`` runs it (runner.run, the student's code in a child process), on a copy of the
    filled package with the mistake's files written again; tests/test_check.py covers the command line around it.
    """
    entry = MISTAKES[mistake]
    solutions = {**_fixture("cs231n_2020").SOLUTIONS, **entry.get("also", {}), entry["key"]: entry["code"]}
    paths = {entry["key"][0], *(key[0] for key in entry.get("also", {}))}
    snapshot, student = released
    tree = _fixture("fill").refill_package(student, snapshot, cs231n_2020_tree, tmp_path, solutions, paths)
    names = (entry["check"], entry.get("passes"))
    outcomes = {o.name: o for o in runner.run([c for c in CHECKS if c.name in names], tree, time_limit=120)}
    own = outcomes[entry["check"]]
    assert own.status == runner.FAILED and entry["message"] in own.reason, own.line(0)
    assert "Traceback" not in own.reason
    others = {m["message"] for m in MISTAKES.values() if m["check"] == entry["check"]} - {entry["message"]}
    named = [message for message in others if message in own.reason and message not in entry["message"]]
    assert not named, f"{own.reason!r} names another mistake: {named}"
    if "passes" in entry:
        assert outcomes[entry["passes"]].status == runner.PASSED, outcomes[entry["passes"]].line(0)


def test_correct_variants_pass_check_and_the_unit_tests(released, tmp_path):
    """Correct code in the ways students write it that the three styles do not (variants.py): check passes every
    function, and so do the unit tests of the functions students write."""
    tree = fill(released, tmp_path / "edition", _fixture("variants").SOLUTIONS)
    result = run(tree, "-m", "cs231n_bn", "check", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"{len(CHECKS)} passed, 0 failed"), result.stdout
    result = run(tree, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", *STUDENT_CODE_TESTS)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, summary + "\n" + "\n".join(
        line for line in result.stdout.splitlines() if line.startswith(("FAILED", "ERROR")))


JOBS = _fixture("background").JOBS if FIXTURES.is_dir() else ()


@pytest.mark.filled_runs
@pytest.mark.parametrize("job", JOBS)
@pytest.mark.parametrize("style", STYLES)
def test_each_style_passes_nbval_and_the_small_reproduction(style, job, filled_runs):
    """``job`` in the edition filled with ``style`` (fixtures/solutions/background.py: nbval on the style's share of
    the notebooks, and the reproduction command at a small scale), run in the background since collection ended
    (tests/conftest.py); this test runs last and waits for it."""
    assert filled_runs is not None, "the background runs were not started (see tests/conftest.py)"
    out, process = filled_runs
    done, log = out / f"{style}.{job}.rc", out / f"{style}.{job}.log"
    deadline = time.monotonic() + WAIT
    while not done.exists():
        if process.poll() is not None and not done.exists():
            pytest.fail(f"the background runs stopped before {style}'s {job}:\n" + _tail(out / "background.log"))
        if time.monotonic() > deadline:
            pytest.fail(f"{job} in the {style} edition still running after {WAIT} s:\n" + _tail(log))
        time.sleep(1)
    assert done.read_text() == "0", f"{job} in the {style} edition failed:\n" + _tail(log)
    if job == "nbval":
        assert " passed" in _tail(log, 1), _tail(log)
    else:
        assert (out / style / "edition" / "results" / "figure1.csv").is_file(), _tail(log)


def _tail(path, lines=40):
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else f"({path} is missing)"
