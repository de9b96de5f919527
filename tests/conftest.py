"""Hooks for the tests: work that runs in the background during the session, and the tests that wait for it.

A test marked ``filled_runs`` (parametrized by ``style``) waits for runs in a student edition filled with that
style's solutions: nbval on the notebooks, and the reproduction command at a small scale. They take minutes, so
once collection is over one background process (tests/fixtures/solutions/background.py) does them one after the
other while the rest of the suite runs, and the waiting tests are moved to the very end of the session, after the
notebooks. Nothing starts when the fixtures are absent (the student edition) or when no such test was selected.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cs231n_bn.kit.edition.tree import ReleaseError, edition_files
from fixtures.editions import release_repository

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "tests" / "fixtures" / "solutions"
BACKGROUND = pytest.StashKey()


def pytest_addoption(parser):
    parser.addoption("--every-notebook-in-filled-editions", action="store_true",
                     help="run nbval on every notebook in every filled student edition, not each notebook in one "
                          "style (about 20 minutes more)")
    parser.addoption("--paper-in-filled-editions", action="store_true",
                     help="also run nbval on PaperReproduction.ipynb in the filled student editions (about 2.5 "
                          "minutes more per style)")


def pytest_configure(config):
    config.addinivalue_line("markers", "filled_runs: waits for the background runs in a filled student edition "
                                       "(run last)")


def pytest_collection_modifyitems(items):
    waiting = [item for item in items if item.get_closest_marker("filled_runs")]
    if waiting:
        items[:] = [item for item in items if not item.get_closest_marker("filled_runs")] + waiting


def pytest_collection_finish(session):
    styles = [item.callspec.params["style"] for item in session.items if item.get_closest_marker("filled_runs")]
    if not styles or session.config.option.collectonly or not (SOLUTIONS / "background.py").is_file():
        return
    out = Path(tempfile.mkdtemp(prefix="cs231n_bn-filled-editions-"))
    args = [str(out), *dict.fromkeys(styles)]
    if session.config.getoption("every_notebook_in_filled_editions"):
        args.append("--every-notebook")
    if session.config.getoption("paper_in_filled_editions"):
        args.append("--paper")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    log = (out / "background.log").open("w")
    # A session of its own, so that stopping it stops the nbval runs and kernels it started too.
    process = subprocess.Popen([sys.executable, "-m", "tests.fixtures.solutions.background", *args], cwd=REPO,
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    session.config.stash[BACKGROUND] = (out, process, log)


def pytest_sessionfinish(session):
    out, process, log = session.config.stash.get(BACKGROUND, (None, None, None))
    if process is not None:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # whatever is still running: nobody waits for it any more
        except ProcessLookupError:
            pass
        process.wait()
        log.close()
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="session")
def repo_release(tmp_path_factory):
    """(solution snapshot, StudentEdition, student tree): this repository's tracked files copied once, so that
    edits made meanwhile in the checkout do not race the comparisons, then released. Shared by the tests that read
    the release or fill copies of it; skipped where there is nothing to release (the student edition)."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("this repository's release needs its git checkout")
    try:
        snapshot, edition, student = release_repository(REPO, tmp_path_factory.mktemp("repo-release"))
    except ReleaseError as error:
        if any("looks like a student edition already" in problem for problem in error.problems):
            pytest.skip("this is the student edition: there is nothing to release")
        raise
    assert edition_files(snapshot) == edition_files(REPO)
    return snapshot, edition, student


@pytest.fixture(scope="session")
def filled_runs(pytestconfig):
    """(folder of the background runs, their process); None when nothing was started."""
    started = pytestconfig.stash.get(BACKGROUND, None)
    return None if started is None else started[:2]


@pytest.fixture(scope="session")
def student_release(repo_release):
    """The same release, by the name the tests of the student edition as a product use (test_student_edition.py,
    test_hosted.py, test_browser.py)."""
    return repo_release
