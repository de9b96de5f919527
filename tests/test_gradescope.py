"""The Gradescope bundle, run the way Gradescope runs it.

``python -m cs231n_bn gradescope`` is built once for this module from a snapshot of the repository; each test unpacks
it into an emulated ``/autograder`` (a folder laid out the same way, readable by every user as Gradescope's is) and
runs ``bash run_autograder`` there, with ``AUTOGRADER_ROOT`` pointing at it and this environment's Python in place
of the one setup.sh installs. These tests run as root where they can (as Gradescope does), so that the student's
code runs as ``nobody``. Submissions: the student edition as released (0 points), a few functions from the
solution edition uploaded as files (exactly their points), every function in another style as a zip of the
repository (every point), and cheating ones that try to write the results, exit, outlive the grader or patch it.
"""

import importlib
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from cs231n_bn.kit.edition.gradescope import ENGINE, build_bundle, write_bundle
from cs231n_bn.kit.edition.markers import fill_stubs, find_regions
from cs231n_bn.kit.edition.tree import ReleaseError
from cs231n_bn.kit.grading.engines.gradescope import gather
from cs231n_bn.kit.grading.checks import CHECKS
from cs231n_bn.kit.grading.plan import grading_plan, notebook_order, to_json
from fixtures.editions import release_repository

REPO = Path(__file__).resolve().parents[1]
LAYERS = "cs231n_bn/layers.py"
SOLUTIONS = REPO / "tests" / "fixtures" / "solutions"
STUDENT_EDITION = not find_regions((REPO / LAYERS).read_text(), LAYERS)
pytestmark = pytest.mark.skipif(STUDENT_EDITION, reason="the student edition has no solutions to grade with")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The snapshot of the repository, its student edition, the bundle and its zip."""
    base = tmp_path_factory.mktemp("gradescope")
    try:
        snapshot, edition, student = release_repository(REPO, base)
    except ReleaseError as error:
        pytest.fail(f"the release of this repository failed:\n{error}")
    bundle = build_bundle(snapshot, edition=edition)
    notebooks = notebook_order(sorted(p.name for p in (snapshot / "notebooks").glob("*.ipynb")))
    # One notebook's bundle, for a submission whose every check starts a new process (about 0.4 s each)
    dropout = build_bundle(snapshot, ["Dropout.ipynb"], edition=edition)
    return SimpleNamespace(snapshot=snapshot, edition=edition, student=student, bundle=bundle,
                           zip=write_bundle(bundle, base / "autograder.zip"), plan=grading_plan(snapshot, notebooks),
                           dropout_zip=write_bundle(dropout, base / "dropout.zip"),
                           dropout_plan=grading_plan(snapshot, ["Dropout.ipynb"]))


@pytest.fixture
def autograder():
    """An emulated /autograder: the bundle's files in source/, run_autograder beside it, an empty submission/ and
    results/. Made world-readable like Gradescope's (under pytest's private temporary folder, no other user could
    even reach it, which would make every attack below fail for the wrong reason); results/ starts writable by
    everyone, and the grader must close it."""
    root = Path(tempfile.mkdtemp(prefix="autograder-"))
    os.chmod(root, 0o755)
    for name in ("source", "submission", "results"):
        (root / name).mkdir()
    os.chmod(root / "results", 0o777)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def unpack(archive, root):
    """Unpack the zip as unzip does, permission bits included, and copy run_autograder where Gradescope puts it."""
    with zipfile.ZipFile(archive) as bundle:
        for info in bundle.infolist():
            target = root / "source" / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(bundle.read(info))
            os.chmod(target, (info.external_attr >> 16) & 0o777)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")


def run_autograder(archive, root, timeout=300):
    """Run the bundle on root/submission as Gradescope does; returns (results.json parsed, seconds)."""
    unpack(archive, root)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=sys.executable)
    start = time.perf_counter()
    run = subprocess.run(["bash", str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                         timeout=timeout)
    seconds = time.perf_counter() - start
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(os.listdir(root / "results")) == ["results.json"]
    assert stat.S_IMODE(os.stat(root / "results").st_mode) == 0o755
    return json.loads((root / "results" / "results.json").read_text()), seconds


def expect_plan(plan, results):
    """results.json is the grader's: one test per section of the plan (the nbgrader course's sections, built from
    the same notebooks) with its points, and scores that add up. Returns the tests that scored, by section."""
    assert [t["max_score"] for t in results["tests"]] == [s.points for s in plan]
    assert results["score"] == sum(t["score"] for t in results["tests"])
    for test, section in zip(results["tests"], plan):
        assert test["name"].startswith(f"{Path(section.notebook).stem}, section {section.number}: ")
        lines = test["output"].splitlines()
        assert len(lines) == len(section.checks) + 1
        assert all(line.startswith(f"{name}  ") for line, name in zip(lines, section.checks)), lines
        assert lines[-1] == f"{test['score']} of {len(section.checks)} checks passed"
        assert test["visibility"] == "visible" and 0 <= test["score"] <= test["max_score"]
    return {test["name"].split(":")[0]: test["score"] for test in results["tests"] if test["score"]}


def solution_bodies(built, path, functions):
    """The solution edition's code for ``functions`` (qualified names) of ``path``."""
    text = (built.snapshot / path).read_text()
    lines = text.splitlines()
    bodies = {}
    for region in find_regions(text, path):
        if region.function in functions:
            bodies.setdefault(region.function, []).append("\n".join(lines[region.begin + 1:region.end]))
    assert sorted(bodies) == sorted(functions)
    return bodies


def student_file(built, path, functions=(), code=None):
    """A file of the student edition with ``functions`` written from the solution edition (and ``code``: more
    function bodies, qualified name -> code, as a student wrote them)."""
    bodies = solution_bodies(built, path, functions)
    bodies.update({name: [text] for name, text in (code or {}).items()})
    text, used, _ = fill_stubs(built.edition.files[path].decode(), bodies, None, path)
    assert sorted(set(used)) == sorted(bodies)
    return text


# ---------------------------------------------------------------------------------------------------------------
# The bundle

def test_the_bundle_holds_the_scripts_the_plan_and_the_student_edition_only(built):
    files = built.bundle.files
    with zipfile.ZipFile(built.zip) as archive:
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in archive.infolist()}
        assert sorted(archive.namelist()) == sorted(files)
    assert {name for name in files if "/" not in name} == {"setup.sh", "run_autograder", "plan.json",
                                                           "student_files.json"}
    assert modes["run_autograder"] == modes["setup.sh"] == 0o755
    for script in ("setup.sh", "run_autograder"):
        assert files[script].startswith(b"#!/usr/bin/env bash\n")
        subprocess.run(["bash", "-n", "-c", files[script].decode()], check=True)
    setup = files["setup.sh"].decode()
    assert "numpy>=" in setup and "matplotlib" not in setup and "nbformat" not in setup  # the grader needs NumPy only
    assert json.loads(files["plan.json"]) == json.loads(to_json(built.plan))
    assert json.loads(files["student_files.json"]) == ["cs231n_bn/classifiers/cnn.py",
                                                       "cs231n_bn/classifiers/fc_net.py", "cs231n_bn/layer_utils.py",
                                                       LAYERS, "cs231n_bn/normalization.py", "cs231n_bn/optim.py"]
    package = {name[len("edition/"):]: data for name, data in files.items() if name.startswith("edition/")}
    assert set(package) == {p for p in built.edition.files if p.startswith("cs231n_bn/")} and ENGINE in package
    for path, data in package.items():
        assert data == built.edition.files[path], path  # the released files: stubs, never the solutions
    assert package[LAYERS] != (built.snapshot / LAYERS).read_bytes()


def test_the_grader_needs_numpy_only(built, tmp_path):
    """What run_autograder imports, with every other dependency of the kit made unimportable."""
    unpack(built.zip, tmp_path)
    blocked = ["matplotlib", "tqdm", "nbformat", "nbconvert", "nbgrader", "traitlets", "jupyter_client", "IPython",
               "pytest", "yaml"]
    code = (f"import sys\nfor name in {blocked!r}: sys.modules[name] = None\n"
            f"sys.path.insert(0, sys.argv[1])\n"
            f"import cs231n_bn.kit.grading.engines.gradescope as engine\n"
            f"assert engine.__file__.startswith(sys.argv[1]), engine.__file__\n")
    subprocess.run([sys.executable, "-I", "-c", code, str(tmp_path / "source" / "edition")], check=True)


def test_the_command_refuses_to_overwrite_and_names_bad_notebooks(tmp_path, capsys):
    from cs231n_bn.kit.edition import gradescope

    existing = tmp_path / "autograder.zip"
    existing.write_text("keep me")
    assert gradescope.main(["--out", str(existing)]) == 1
    assert "exists already; use --force" in capsys.readouterr().err and existing.read_text() == "keep me"
    assert gradescope.main(["--out", str(tmp_path / "new.zip"), "--notebooks", "Nope.ipynb"]) == 1
    assert "no notebook Nope.ipynb in notebooks/" in capsys.readouterr().err
    assert not (tmp_path / "new.zip").exists()


def test_gather_takes_each_file_from_where_it_matches_best_and_follows_no_link(tmp_path):
    """The submitted files: the repository's copy before a stray one, files inside a zip, and nothing a link or a
    zip entry could smuggle in from the grading machine."""
    submission, secret = tmp_path / "submission", tmp_path / "secret.py"
    secret.write_text("root's only")
    (submission / "repo" / "cs231n_bn" / "classifiers").mkdir(parents=True)
    (submission / "repo" / "cs231n_bn" / "layers.py").write_text("repository's")
    (submission / "old").mkdir()
    (submission / "old" / "layers.py").write_text("stray copy")
    (submission / "optim.py").symlink_to(secret)
    with zipfile.ZipFile(submission / "more.zip", "w") as archive:
        archive.writestr("work/cs231n_bn/classifiers/fc_net.py", "zipped")
        archive.writestr("../normalization.py", "climbs out")
        link = zipfile.ZipInfo("cnn.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, str(secret))
    expected = [LAYERS, "cs231n_bn/optim.py", "cs231n_bn/classifiers/fc_net.py", "cs231n_bn/normalization.py",
                "cs231n_bn/classifiers/cnn.py"]
    found, notes = gather(submission, expected)
    assert found == {LAYERS: (f"repo/{LAYERS}", b"repository's"),
                     "cs231n_bn/classifiers/fc_net.py": ("more.zip: work/cs231n_bn/classifiers/fc_net.py", b"zipped")}
    assert notes == [f"{LAYERS}: 2 files of your submission are named like it; graded repo/{LAYERS}, the one whose "
                     f"folders match best"]


# ---------------------------------------------------------------------------------------------------------------
# Submissions

def test_a_blank_submission_scores_0_in_every_test(built, autograder):
    shutil.copytree(built.student, autograder / "submission", dirs_exist_ok=True)  # the repository as released
    results, _ = run_autograder(built.zip, autograder)
    assert expect_plan(built.plan, results) == {}
    assert sum(test["max_score"] for test in results["tests"]) == len(CHECKS)  # each check one point, once
    assert all(" not yet implemented" in line for t in results["tests"] for line in t["output"].splitlines()[:-1])
    assert "Missing" not in results["output"] and "0 of 38 points" in results["output"]
    assert results["stdout_visibility"] == "hidden"


def test_a_partial_submission_gets_the_points_of_its_functions(built, autograder):
    """layers.py alone, uploaded as a file, with four functions done: both of section 2, one of 3 and one of 6."""
    (autograder / "submission" / "layers.py").write_text(student_file(
        built, LAYERS, ["affine_forward", "affine_backward", "relu_forward", "softmax_loss"]))
    results, _ = run_autograder(built.zip, autograder)
    assert expect_plan(built.plan, results) == {"FullyConnectedNets, section 2": 2, "FullyConnectedNets, section 3": 1,
                                           "FullyConnectedNets, section 6": 1}
    assert results["score"] == 4
    output = results["output"]
    assert f"  {LAYERS}  (from layers.py)" in output
    missing = output.split("Missing from your submission", 1)[1]
    assert "cs231n_bn/optim.py" in missing and "cs231n_bn/classifiers/fc_net.py" in missing and LAYERS not in missing


def test_a_complete_submission_in_another_style_gets_every_point(built, autograder, tmp_path):
    """The repository, every stub written in the vectorized style, uploaded as a zip of its folder."""
    if not (SOLUTIONS / "vectorized.py").is_file():
        pytest.skip("the solution fixtures are not here")
    style = importlib.import_module("tests.fixtures.solutions.vectorized").SOLUTIONS
    repository = tmp_path / "bn-assignment"
    shutil.copytree(built.student, repository)
    for path in json.loads(built.bundle.files["student_files.json"]):
        bodies = {function: [code] if isinstance(code, str) else code
                  for (file, function), code in style.items() if file == path}
        fallback = solution_bodies(built, path, {r.function for r in find_regions(
            (built.snapshot / path).read_text(), path)})
        text, _, _ = fill_stubs((repository / path).read_text(), bodies, fallback, path)
        (repository / path).write_text(text)
    shutil.make_archive(str(autograder / "submission" / "bn-assignment"), "zip", tmp_path, "bn-assignment")
    results, seconds = run_autograder(built.zip, autograder)
    assert expect_plan(built.plan, results) == {test["name"].split(":")[0]: test["max_score"] for test in results["tests"]}
    assert results["score"] == len(CHECKS) and "Missing" not in results["output"]
    assert f"  {LAYERS}  (from bn-assignment.zip: bn-assignment/{LAYERS})" in results["output"]
    print(f"complete submission: {seconds:.1f} s")


# ---------------------------------------------------------------------------------------------------------------
# Cheating: each attack is appended to a layers.py that implements section 2 (2 points) and nothing else

FORGED = {"score": 1000, "output": "forged", "tests": [{"name": "forged", "score": 1000, "max_score": 1}]}

WRITE_RESULTS = """
import atexit as _atexit, json as _json, os as _os
def _forge():
    for _name in ("results.json", "forged.json"):
        try:
            with open(_os.path.join(RESULTS, _name), "w") as _file:
                _file.write(_json.dumps(FORGED))
        except Exception:
            pass
    try:
        _os.chmod(RESULTS, 0o777)
    except Exception:
        pass
_forge()
_atexit.register(_forge)
"""

EXIT_AT_IMPORT = """
import os as _os
_os._exit(0)
"""

OUTLIVE = """
import ctypes as _ctypes, json as _json, os as _os, time as _time
if _os.fork() == 0:  # a copy of the student's process that leaves it and tries for 30 s
    try:
        _os.setsid()
        _os.closerange(3, 1024)
        _ctypes.CDLL(None).prctl(15, MARKER.encode(), 0, 0, 0)  # PR_SET_NAME: how the test finds it
        for _ in range(300):
            _time.sleep(0.1)
            try:
                with open(_os.path.join(RESULTS, "results.json"), "w") as _file:
                    _file.write(_json.dumps(FORGED))
                break
            except Exception:
                pass
    finally:
        _os._exit(0)
"""

PATCH = """
import numpy as _np
_np.allclose = lambda *args, **kwargs: True
_np.array_equal = lambda *args, **kwargs: True
_np.linalg.norm = lambda *args, **kwargs: 0.0
try:
    from cs231n_bn.kit.grading import checks as _checks, runner as _runner
    for _entry in _checks.CHECKS:
        object.__setattr__(_entry, "run", lambda student: None)
    _runner.Runner.run_one = lambda self, entry: _runner.Outcome(entry.name, _runner.PASSED)
except Exception:
    pass
"""

ATTACKS = {"write-results": WRITE_RESULTS, "exit-at-import": EXIT_AT_IMPORT, "outlive": OUTLIVE, "patch": PATCH}


def attack_code(name, results_dir, marker=""):
    """The attack's code, writing to ``results_dir``; ``marker`` names the process the outlive attack leaves (unique
    to a test, since other runs of these tests may share the machine)."""
    return (f"\nRESULTS = {str(results_dir)!r}\nFORGED = {FORGED!r}\nMARKER = {marker!r}\n"
            + textwrap.dedent(ATTACKS[name]))


def new_marker():
    return f"outlive-{secrets.token_hex(3)}"  # a process name: at most 15 characters


def cheating_layers(built, name, results_dir, marker=""):
    """layers.py with section 2 done, relu_forward wrong (the patch attack's), and the attack at the end."""
    wrong = {"relu_forward": "out, cache = x, x"} if name == "patch" else {}
    return (student_file(built, LAYERS, ["affine_forward", "affine_backward"], wrong)
            + attack_code(name, results_dir, marker))


def _processes_named(name):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                found.append(int(pid))
        except OSError:
            pass
    return found


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_cheating_submission_gets_only_the_points_of_its_work(attack, built, autograder):
    marker = new_marker()
    (autograder / "submission" / "layers.py").write_text(cheating_layers(built, attack, autograder / "results",
                                                                         marker))
    if attack == "exit-at-import":  # every check starts a new process: Dropout.ipynb's bundle (3 checks) is enough
        results, _ = run_autograder(built.dropout_zip, autograder)
        assert expect_plan(built.dropout_plan, results) == {}
        assert results["tests"][0]["output"].startswith("layers.dropout_forward  FAILED: the process running your "
                                                        "code ended (exit code 0)")
    else:
        results, _ = run_autograder(built.zip, autograder)
        assert expect_plan(built.plan, results) == {"FullyConnectedNets, section 2": 2}
    text = (autograder / "results" / "results.json").read_text()
    assert "forged" not in text
    if attack == "outlive":
        assert _processes_named(marker) == []  # ended with the grader's run, not left to try later
        time.sleep(0.5)
        assert (autograder / "results" / "results.json").read_text() == text
        assert sorted(os.listdir(autograder / "results")) == ["results.json"]


@pytest.mark.parametrize("attack", ["write-results", "outlive"])
def test_the_file_attacks_work_outside_the_grader(attack, tmp_path):
    """The same code, run as a plain process of this user: it does write the forged results (so the test above
    shows the grader stopping it, not a broken attack)."""
    marker = new_marker()
    code = attack_code(attack, tmp_path, marker)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    deadline = time.monotonic() + 10
    while not (tmp_path / "results.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert json.loads((tmp_path / "results.json").read_text()) == FORGED
    for pid in _processes_named(marker):  # the attack's own process, once it has written
        os.kill(pid, 9)


def test_the_patch_attack_works_in_the_student_s_process(built, tmp_path):
    """In one process (the browser's way, where no other can be started), the same patch passes every check; the
    grader on Gradescope runs the student's code elsewhere (above)."""
    tree = tmp_path / "tree"
    shutil.copytree(built.student / "cs231n_bn", tree / "cs231n_bn")
    (tree / LAYERS).write_text(cheating_layers(built, "patch", tmp_path / "results"))
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from cs231n_bn.kit.grading.runner import run\n"
            "print(sum(o.status == 'passed' for o in run(None, sys.argv[1], in_process=True)))")
    run = subprocess.run([sys.executable, "-I", "-c", code, str(tree)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout.split()[-1]) > len(CHECKS) - 3


def test_a_submission_that_never_returns_still_gets_its_results_in_time(built, autograder):
    """An endless loop at import: each check stops at the time limit, and once the time for all checks is gone the
    rest are failed unrun, so that Gradescope's own timeout never ends a run without results."""
    layers = built.edition.files[LAYERS].decode() + "\nwhile True:\n    pass\n"
    (autograder / "submission" / "layers.py").write_text(layers)
    unpack(built.dropout_zip, autograder)
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from cs231n_bn.kit.grading.engines.gradescope import main; sys.exit(main(sys.argv[2:]))")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-c", code, str(autograder / "source" / "edition"), "--root",
                    str(autograder), "--time-limit", "1", "--total-time", "1.5"], check=True, timeout=60,
                   capture_output=True)
    assert time.perf_counter() - start < 15
    results = json.loads((autograder / "results" / "results.json").read_text())
    assert expect_plan(built.dropout_plan, results) == {}
    outputs = [test["output"] for test in results["tests"]]
    assert "FAILED: still running after 1 s" in outputs[0]
    assert outputs[-1].startswith("FullyConnectedNet (dropout)  FAILED: not run: the grading time (1.5 s for all "
                                  "checks) ran out")
