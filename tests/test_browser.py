"""README's main job in a real browser: JupyterLab from the venv, a notebook opened and run in headless Chromium.

The server starts as README's main command starts it, rooted at the folder that holds notebooks/ (the repository), so
that a student reaches both the notebooks and the package files they complete. It runs in a temporary folder laid
out like the repository, with a copy of the notebooks, so that nothing the browser does (autosave, kernel metadata)
can touch the committed notebooks; the package and the data come from the environment, as they would for a
student's kernel.

Needs Debian's `chromium` package (`.ci/run` installs it) and Playwright for Python (requirements.txt), which
drives the system browser: Playwright's own browser download is never used.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.lab import CHROMIUM, CHROMIUM_ARGS, TOKEN, jupyter_lab

REPO = Path(__file__).resolve().parents[1]
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium package is not installed (.ci/run installs it)", allow_module_level=True)

# The arguments of README's main command after `.venv/bin/jupyter lab`.
MAIN_COMMAND_ARGS = ["--ServerApp.root_dir=.", "notebooks/FullyConnectedNets.ipynb"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server from the venv on 127.0.0.1, rooted at a copy of the notebooks; stopped afterwards."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    with jupyter_lab(root, MAIN_COMMAND_ARGS) as (url, top):
        assert "notebooks" in top, f"JupyterLab is not rooted above notebooks/: it shows {sorted(top)}"
        yield url, root


def test_first_cells_of_the_first_notebook_run_in_the_browser(lab):
    url, root = lab
    notebook = root / "notebooks" / "FullyConnectedNets.ipynb"
    before = notebook.read_bytes()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{url}/lab/tree/notebooks/FullyConnectedNets.ipynb?token={TOKEN}")
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
            # The committed outputs are on the page before anything runs; clear them so that what the test
            # sees below is what the kernel printed now.
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Escape")
            page.get_by_text("Edit", exact=True).first.click()
            page.get_by_text("Clear Outputs of All Cells", exact=True).click()
            assert page.locator(".jp-OutputArea-output").count() == 0
            # Run the first four cells (title, set-up, the gate exercise, its check) with Shift+Enter.
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Escape")
            for _ in range(5):
                page.keyboard.press("Shift+Enter")
            page.get_by_text("forward:  q = -10, f = -14").wait_for()
            page.get_by_text("dx, dy, dz match centred differences: True").wait_for()
            assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
            assert page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").count() == 0
        finally:
            browser.close()
    assert notebook.read_bytes() == before, "the browser session changed the notebook on disk"


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
