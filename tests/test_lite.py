"""The browser edition (``python -m cs231n_bn lite``): the site built from this repository, served on 127.0.0.1 and
used in Debian's Chromium with every other host unreachable, as a student uses it.

The browser test opens the student edition's first notebook, runs its first cells, completes one TODO by typing
the solution into cs231n_bn/layers.py in the site's editor, runs the self-check from the notebook and sees that
function pass and every other one not yet implemented; then reloads the page and finds the edit kept (JupyterLite
keeps it in the browser's storage). The other tests are cheap checks of what the build writes.

Needs Chromium (/usr/bin/chromium; .ci/run installs it), Pyodide's package wheels (the folder
shared/pyodide-0.27.7 beside the repository or above it, or $CS231N_BN_PYODIDE_PACKAGES), and the npm package
pyodide@0.27.7 and two PyPI wheels in the cache (``python -m cs231n_bn lite --fetch``, which .ci/run runs; the
build fetches them itself when npm and the registries are reachable). Each test skips, saying why, when one is
missing.
"""

import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from cs231n_bn.kit import browser
from cs231n_bn.kit.lite import pyodide
from cs231n_bn.kit.lite.notebooks import KERNELSPEC

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Every host but 127.0.0.1 resolves to nothing, for the page, its workers and its service worker alike; the test's
# route handler also aborts (and records) any request that is not to the test's server.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
# The solution the test types in place of relu_forward's stub (one line, so the editor's indentation is kept).
RELU_SOLUTION = "out, cache = np.maximum(0, x), x"
SUMMARY = re.compile(r"(\d+) passed, (\d+) failed, (\d+) not yet implemented")


def _missing_for_a_site():
    """Why a site cannot be built here, or None."""
    try:
        import jupyterlite_core  # noqa: F401 (the build runs it)
    except ModuleNotFoundError:
        return "JupyterLite is not installed (jupyterlite-core, in requirements.txt's solution-edition section)"
    packages = pyodide.default_packages_folder(REPO)
    if packages is None:
        return (f"no folder of Pyodide {pyodide.VERSION}'s wheels (shared/pyodide-{pyodide.VERSION} beside the "
                f"repository or above it, or $CS231N_BN_PYODIDE_PACKAGES)")
    try:
        folder, temporary = pyodide.runtime(None, pyodide.default_cache())
        pyodide.pypi_wheels(pyodide.default_cache())
    except pyodide.PyodideError as error:
        return f"Pyodide's runtime or the PyPI wheels are not available: {error}"
    if temporary:
        shutil.rmtree(temporary, ignore_errors=True)
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The student edition's site, built by the command as an instructor runs it."""
    why = _missing_for_a_site()
    if why:
        pytest.skip(why)
    out = tmp_path_factory.mktemp("lite") / "site"
    run = subprocess.run([sys.executable, "-m", "cs231n_bn", "lite", "--out", str(out)], cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    return out


@pytest.fixture(scope="module")
def server(site):
    """The site on a static server at 127.0.0.1 (no special headers, as GitHub Pages serves it)."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                          ".js": "text/javascript", ".mjs": "text/javascript"}

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_student_completes_relu_forward_in_the_browser_offline(site, server, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium package is not installed (.ci/run installs it)")
    layers = (site / "files" / "cs231n_bn" / "layers.py").read_text(encoding="utf-8").splitlines()
    stub = next(i for i, line in enumerate(layers, 1) if "raise NotImplementedError('relu_forward" in line)
    outside = []

    def only_local(route):
        if route.request.url.startswith(server + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            # Wide enough that the stub's line is not wrapped: End and Home then move along the whole line.
            context = chromium.new_context(viewport={"width": 1600, "height": 900})
            context.route("**/*", only_local)
            page = context.new_page()
            page.set_default_timeout(60_000)
            # The site's front page opens the first notebook.
            started = time.monotonic()
            page.goto(server + "/")
            page.wait_for_url(re.compile(r"/lab/index\.html\?path=notebooks/FullyConnectedNets\.ipynb$"))
            page.wait_for_selector(".jp-Notebook .jp-Cell")
            # The kernel starts with the notebook (Pyodide, numpy, matplotlib and the kit's wheel); a cell run
            # before it is idle may be dropped, as a student sees it in the status bar.
            page.get_by_text(re.compile(r"Python \(Pyodide\) \| Idle")).wait_for(timeout=600_000)
            print(f"first load to a ready kernel: {time.monotonic() - started:.1f} s")
            # Its first cells: the title, the browser edition's note, the set-up cell (the kit's imports).
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Escape")
            for _ in range(3):
                page.keyboard.press("Shift+Enter")
            setup = page.locator(".jp-Notebook .jp-CodeCell").first
            setup.locator(".jp-InputPrompt", has_text="[1]:").wait_for(timeout=300_000)
            assert setup.locator("[data-mime-type='application/vnd.jupyter.error']").count() == 0
            print(f"first load to the set-up cell's end: {time.monotonic() - started:.1f} s")

            # The TODO: relu_forward in cs231n_bn/layers.py, typed into the site's editor and saved.
            _open_file(page, "cs231n_bn", "layers.py")
            _go_to_line(page, stub)
            page.keyboard.press("End")
            page.keyboard.press("Shift+Home")  # from the line's end to its indentation
            # Inserted as text, as a paste is: typed key by key, the editor would close each bracket itself.
            page.keyboard.insert_text(RELU_SOLUTION)
            _assert_line(page, RELU_SOLUTION)
            page.keyboard.press("Control+s")
            page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").wait_for(state="detached")

            # The self-check, in a cell of the notebook, on the saved file.
            page.locator(".lm-TabBar-tab", has_text="FullyConnectedNets.ipynb").click()
            page.locator(".jp-Notebook .jp-CodeCell").first.locator(".jp-InputPrompt").click()
            page.keyboard.press("Escape")
            page.keyboard.press("b")
            page.keyboard.press("Enter")
            page.keyboard.type("from cs231n_bn.kit.browser import self_check\nself_check()")
            page.keyboard.press("Shift+Enter")
            checking = time.monotonic()
            report = page.locator(".jp-OutputArea-output", has_text=SUMMARY).first
            report.wait_for(timeout=300_000)
            print(f"self-check in the browser: {time.monotonic() - checking:.1f} s")
            text = report.inner_text()
            lines = text.splitlines()
            assert "in this process, with no time limit (no other process or thread" in lines[0], lines[0]
            verdicts = {line.split()[0]: line for line in lines[1:] if line.startswith(("layers.", "layer_utils.",
                                                                                         "optim.", "normalization."))}
            assert re.search(r"layers\.relu_forward\s+passed$", verdicts.pop("layers.relu_forward")), text
            assert verdicts and all("not yet implemented" in line for line in verdicts.values()), verdicts
            passed, failed, todo = map(int, SUMMARY.search(lines[-1]).groups())
            assert (passed, failed) == (1, 0) and todo > 30, lines[-1]

            # After a reload the saved file is still the student's.
            page.reload()
            page.locator(".jp-FileBrowser .jp-DirListing-item").first.wait_for()
            _open_file(page, "cs231n_bn", "layers.py")
            _go_to_line(page, stub)
            _assert_line(page, RELU_SOLUTION)
        except Exception:
            page.screenshot(path=tmp_path / "failure.png")  # what the page showed, for the failure's report
            print(f"the page as it was: {tmp_path / 'failure.png'}")
            raise
        finally:
            chromium.close()
    assert outside == [], f"the site asked for something outside it: {outside[:5]}"


def _assert_line(page, solution):
    """The editor shows ``solution`` as a line of its own, and no stub of relu_forward."""
    editor = page.locator(".jp-FileEditor .cm-content")
    lines = [line.strip() for line in editor.inner_text().splitlines()]
    assert solution in lines, lines
    assert not any(line.startswith("raise NotImplementedError('relu_forward") for line in lines), lines


def _open_file(page, *parts):
    """Open a file through the file browser: from its root, folder by folder."""
    page.locator(".jp-FileBrowser .jp-BreadCrumbs-home").click()
    for part in parts:
        page.locator(".jp-FileBrowser .jp-DirListing-itemText", has_text=re.compile(rf"^{re.escape(part)}$")).dblclick()
    page.locator(".lm-TabBar-tab.jp-mod-current", has_text=parts[-1]).wait_for()
    page.locator(".jp-FileEditor .cm-content").wait_for()


def _go_to_line(page, number):
    """Edit > Go to Line in the current file editor."""
    page.locator(".jp-FileEditor .cm-content").click()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Edit$")).click()
    page.locator(".lm-Menu-itemLabel", has_text="Go to Line").click()
    page.locator(".jp-Dialog input, .cm-gotoLine input").first.fill(str(number))
    page.keyboard.press("Enter")


def test_the_site_holds_the_student_edition_and_what_its_kernel_loads(site):
    """Cheap checks of what the build wrote: the student's stubs (no solutions), each notebook with its note and
    last check cell and without the hosted set-up cell, the wheel and the data where the kernel looks for them."""
    layers = (site / "files" / "cs231n_bn" / "layers.py").read_text(encoding="utf-8")
    assert "raise NotImplementedError('relu_forward" in layers
    assert not (site / "files" / "cs231n_bn" / "kit").exists()  # the machinery is the wheel's
    for path in sorted((site / "files" / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        sources = ["".join(cell["source"]) for cell in nb["cells"]]
        assert sources[1].startswith("**Browser edition.**"), path.name
        assert "self_check()" in sources[-1], path.name
        assert not any("hosted-setup" in cell["metadata"].get("tags", []) for cell in nb["cells"]), path.name
        assert nb["metadata"]["kernelspec"] == KERNELSPEC
    settings = json.loads((site / "jupyter-lite.json").read_text(encoding="utf-8"))
    kernel = settings["jupyter-config-data"]["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    wheel = next(p for p in kernel["loadPyodideOptions"]["packages"] if p.endswith(".whl"))
    worker = site / browser.WORKER_FOLDER.strip("/")
    with zipfile.ZipFile((worker / wheel).resolve()) as archive:
        assert "cs231n_bn/kit/browser.py" in archive.namelist()
    assert sorted(p.name for p in (site / browser.SITE_DATASETS / "fashion-mnist").iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz"]


def test_a_wheel_that_is_not_the_locks_stops_the_build(tmp_path):
    """Each of Pyodide's wheels must have the sha256 the lock records: a different file is named, none shipped."""
    lock = {"packages": {"numpy": {"name": "numpy", "version": "2.0.2", "file_name": "numpy.whl",
                                   "sha256": "0" * 64, "depends": []}}}
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "numpy.whl").write_bytes(b"not numpy")
    (tmp_path / "out").mkdir()
    with pytest.raises(pyodide.PyodideError, match=r"numpy\.whl \(sha256 [0-9a-f]{12}\.\.\., the lock says 000000"):
        pyodide.ship_wheels(lock, tmp_path, {}, tmp_path / "out", roots=("numpy",))
    assert list((tmp_path / "out").iterdir()) == []


def test_experiment_sizes_and_claims_are_the_full_runs_natively_and_say_what_they_leave_out_in_the_browser(
        monkeypatch, capsys):
    assert browser.sized(10, browser=2, what="epochs") == 10
    browser.claim(True, "a claim that holds")
    with pytest.raises(AssertionError, match="^a claim that fails$"):
        browser.claim(False, "a claim that fails")
    assert capsys.readouterr().out == ""

    monkeypatch.setattr(browser, "IN_BROWSER", True)
    monkeypatch.setattr(browser, "_told", set())
    assert [browser.sized(10, browser=2, what="epochs"), browser.sized(10, browser=2, what="epochs")] == [2, 2]
    assert browser.sized((0, 1, 2), browser=(0,), what="seeds") == (0,)
    browser.claim(True, "a claim that holds")
    browser.claim(False, "a claim that fails")  # reported, not raised
    assert capsys.readouterr().out.splitlines() == [
        "(browser edition: epochs: 2 instead of 10)",  # once per kernel
        "(browser edition: seeds: (0,) instead of (0, 1, 2))",
        f"(browser edition: not so at this size: a claim that fails. The full run checks this claim: "
        f"{browser.FULL_RUN}.)"]
