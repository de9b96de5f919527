"""README's main job in a real browser: JupyterLab from the venv, a notebook opened and run in headless Chromium.

The server starts as README's main command starts it, rooted at the folder that holds notebooks/ (the repository), so
that a student reaches both the notebooks and the package files they complete. It runs in a temporary folder laid
out like the repository, with a copy of the notebooks, so that nothing the browser does (autosave, kernel metadata)
can touch the committed notebooks; the package and the data come from the environment, as they would for a
student's kernel.

The student edition's JupyterLab is tested the same way, as a student starts it: in a release of this repository,
from an environment holding only what the student edition's requirements.txt installs (so without nbgrader and its
JupyterLab extension), opened at the address the server prints.

Needs Debian's `chromium` package (`.ci/run` installs it) and Playwright for Python (requirements.txt), which
drives the system browser: Playwright's own browser download is never used.
"""

import contextlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from fixtures.environments import linked_environment, requirement_lines
from fixtures.lab import CHROMIUM, CHROMIUM_ARGS, TOKEN, free_port, stop, wait_for_server

REPO = Path(__file__).resolve().parents[1]
HAS_NBGRADER = importlib.util.find_spec("nbgrader") is not None
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium package is not installed (.ci/run installs it)", allow_module_level=True)

# The arguments of README's main command after `.venv/bin/jupyter lab`: rooted at the repository, and the first
# notebook as the default URL, so that the address JupyterLab prints (on a machine without a browser) opens it too.
FIRST_NOTEBOOK = "notebooks/FullyConnectedNets.ipynb"
MAIN_COMMAND_ARGS = ["--ServerApp.root_dir=.", f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK}"]


PRINTED_ADDRESS = re.compile(r"http://127\.0\.0\.1:\d+/\S*\?token=\w+")


def _wait_for_log(path, pattern, process, deadline):
    """The matches of ``pattern`` in the log at ``path`` once there is one."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}:\n{path.read_text()}")
        found = pattern.findall(path.read_text(errors="replace"))
        if found:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"JupyterLab printed no address in time:\n{path.read_text()}")


@contextlib.contextmanager
def jupyterlab(python, root, token=None):
    """README's main command in ``root`` with the interpreter ``python``, on 127.0.0.1; stopped afterwards.

    Yields (the base URL, the server's log file). Without ``token`` the server makes its own and prints the
    address to open, as for a student: the server is ready once the log shows it (asking it would log a 403).
    """
    port = free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(root / ".jupyter"), JUPYTER_RUNTIME_DIR=str(root / ".runtime"))
    # README's main command, plus what a test needs: no browser of its own, a known port, and root allowed (CI runs
    # as root; setup.sh allows it inside .venv the same way).
    command = [str(python), "-m", "jupyterlab", *MAIN_COMMAND_ARGS, "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.allow_root=True"]
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    log_path = root / "server.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        if token is None:
            _wait_for_log(log_path, PRINTED_ADDRESS, process, time.monotonic() + 60)
        else:
            wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", process, time.monotonic() + 60)
        yield f"http://127.0.0.1:{port}", log_path
    finally:
        stop(process)
        log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server from the venv on 127.0.0.1, rooted at a copy of the notebooks; stopped afterwards."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    with jupyterlab(sys.executable, root, TOKEN) as (url, _):
        with urllib.request.urlopen(f"{url}/api/contents?token={TOKEN}", timeout=10) as r:
            top = {item["name"] for item in json.load(r)["content"]}
        assert "notebooks" in top, f"JupyterLab is not rooted above notebooks/: it shows {sorted(top)}"
        yield url, root


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's), shared by the tests of this module."""
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def test_first_cells_of_the_first_notebook_run_in_the_browser(lab, browser):
    url, root = lab
    notebook = root / "notebooks" / "FullyConnectedNets.ipynb"
    before = notebook.read_bytes()
    page = browser.new_page()
    try:
        page.set_default_timeout(60_000)
        page.goto(f"{url}/lab/tree/notebooks/FullyConnectedNets.ipynb?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
        # The course's own tools are here (and only here: see the student edition's test below).
        assert (_menus(page).count("Nbgrader") == 1) == HAS_NBGRADER, _menus(page)
        page.get_by_role("button", name="Validate").first.wait_for(state="attached" if HAS_NBGRADER else "detached")
        # The committed outputs are on the page before anything runs; clear them so that what the test
        # sees below is what the kernel printed now.
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Escape")
        page.get_by_text("Edit", exact=True).first.click()
        page.get_by_text("Clear Outputs of All Cells", exact=True).click()
        assert page.locator(".jp-OutputArea-output").count() == 0
        # Run the first five cells (title, set-up, the gate exercise and its check) with Shift+Enter, after the
        # student edition's set-up cell for hosted notebooks where there is one (it does nothing here).
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Escape")
        for _ in range(5 + _setup_cells(notebook)):
            page.keyboard.press("Shift+Enter")
        page.get_by_text("forward:  q = -10, f = -14").wait_for()
        page.get_by_text("dx, dy, dz match centred differences: True").wait_for()
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        assert page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").count() == 0
    finally:
        page.close()
    assert notebook.read_bytes() == before, "the browser session changed the notebook on disk"


def _setup_cells(path):
    """How many cells of the notebook at ``path`` are the release's set-up cell (kit/edition/hosted.py)."""
    import nbformat
    from cs231n_bn.kit.edition.hosted import is_setup_cell

    return sum(is_setup_cell(cell) for cell in nbformat.read(path, as_version=4).cells)


def _menus(page):
    """The labels of JupyterLab's menu bar."""
    page.wait_for_selector(".lm-MenuBar-itemLabel")
    return [label.strip() for label in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()]


@pytest.fixture(scope="module")
def student_lab(student_release, tmp_path_factory):
    """JupyterLab as a student starts it: README's main command in a copy of the student edition, run by an
    environment holding exactly what the edition's requirements.txt installs (fixtures/environments.py: the
    dependency closure, linked from this environment in about 2 s instead of a minute of pip), with a token of
    its own. Yields (the address the server printed, the edition, the server's log)."""
    _, _, student = student_release
    root = tmp_path_factory.mktemp("student-lab")
    tree = root / "edition"
    shutil.copytree(student, tree)
    env, names = linked_environment(root / "env", requirement_lines(tree / "requirements.txt"))
    assert "jupyterlab" in names and "nbgrader" not in names
    with jupyterlab(env / "bin" / "python", tree) as (_, log):
        yield PRINTED_ADDRESS.findall(log.read_text())[-1], tree, log


def test_student_jupyterlab_opens_the_first_notebook_at_the_printed_address_without_course_tools(student_lab,
                                                                                                  browser):
    """What a student on a machine without a browser sees: the address JupyterLab prints opens the first
    notebook (the set-up cell first); no nbgrader menu or Validate button; no warning in the log. About 10 s."""
    printed, tree, log = student_lab
    assert urllib.parse.urlsplit(printed).path == f"/lab/tree/{FIRST_NOTEBOOK}", printed
    page = browser.new_page()
    try:
        page.set_default_timeout(60_000)
        page.goto(printed)
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
        current = page.locator(".jp-mod-current .lm-TabBar-tabLabel").all_inner_texts()
        assert Path(FIRST_NOTEBOOK).name in current, current
        page.locator(".jp-Notebook .jp-Cell").first.get_by_text("Set-up for hosted notebooks").wait_for()
        menus = _menus(page)
        assert "File" in menus and "Nbgrader" not in menus, menus
        assert page.get_by_role("button", name="Validate").count() == 0
    finally:
        page.close()
    text = log.read_text()
    assert "nbgrader" not in text.lower(), text
    # Jupyter's one warning on opening a notebook whose stored outputs were not run by this user (a signature
    # only the user's own runs make) is every notebook's; any other warning is a finding.
    warnings = re.findall(r"^\[W .*$|WARNING.*$", text, re.MULTILINE)
    assert [line for line in warnings if not line.endswith(f"Notebook {FIRST_NOTEBOOK} is not trusted")] == [], text


def test_readme_main_command_roots_jupyterlab_at_the_repository():
    """README's main command opens the first notebook from the repository root, so the package is in reach."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "./setup.sh && .venv/bin/jupyter lab " + " ".join(MAIN_COMMAND_ARGS) in readme


def test_opening_a_notebook_does_not_rewrite_its_kernelspec():
    """JupyterLab replaces a kernelspec that differs from the installed one, marking the notebook modified."""
    kernel = json.loads(subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
                                       capture_output=True, text=True, check=True).stdout)["kernelspecs"]
    installed = kernel["python3"]["spec"]
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        spec = json.loads(path.read_text(encoding="utf-8"))["metadata"]["kernelspec"]
        assert spec["name"] == "python3", path.name
        assert spec["display_name"] == installed["display_name"], (path.name, spec, installed["display_name"])
