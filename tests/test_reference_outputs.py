"""Reference outputs out of the student's way: validating a notebook compares the student's run with the reference
run kept in the kit (cs231n_bn/kit/reference/), never with what the notebook on disk saved.

The runs happen in a student edition filled with the cs231n 2020 style (tests/fixtures/solutions), through README's
command (``pytest notebooks/NB.ipynb``: the edition's pyproject.toml turns nbval on, its conftest.py loads the kit's
plugin). To stay cheap they validate NormalizationFamily.ipynb cut after its seventh code cell ("Cell 6", spatial
batch norm at test time): it needs no data set, and its printed running averages change under a reversed momentum
while every assertion of the cell still passes, so a wrong implementation shows up as different printed values.
"""

import importlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from cs231n_bn.kit.edition.hosted import SETUP_TAG
from cs231n_bn.kit.reference import store
from cs231n_bn.kit.reference.plugin import match_cells
from cs231n_bn.kit.reference.store import ReferenceCell
from fixtures.lab import CHROMIUM, CHROMIUM_ARGS, TOKEN, jupyter_lab

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/NormalizationFamily.ipynb"
KEPT = 7  # code cells of the short notebook
RUNNING_AVERAGES = 6  # nbval's number of the cell that prints the running averages


def _solutions(name):
    return importlib.import_module(f"tests.fixtures.solutions.{name}")


def filled_edition(repo_release, target, replace=None):
    """A copy of the student edition at ``target``, filled with the cs231n 2020 style (its regions in ``replace``
    swapped for other code), with the notebook cut short."""
    snapshot, _, student = repo_release
    solutions = {**_solutions("cs231n_2020").SOLUTIONS, **(replace or {})}
    tree = _solutions("fill").fill_copy(student, snapshot, target, solutions)
    nb = nbformat.read(tree / NOTEBOOK, as_version=4)
    # Without the set-up cell for hosted notebooks (it has no reference output; nbval skips it, and
    # test_student_edition.py covers it), so that the numbers below count the notebook's own cells.
    nb.cells = [cell for cell in nb.cells if SETUP_TAG not in cell.metadata.get("tags", [])]
    last = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"][KEPT - 1]
    nb.cells = nb.cells[:last + 1]
    nbformat.write(nb, tree / NOTEBOOK)
    return tree


def validate(tree, *args):
    """README's command for one notebook, in the edition ``tree``."""
    env = _solutions("fill").edition_env(tree, REPO / "datasets")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", NOTEBOOK, *args],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=300)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


pytestmark = pytest.mark.skipif(not (REPO / "tests" / "fixtures" / "solutions").is_dir(),
                                reason="needs tests/fixtures/solutions (never released)")


@pytest.fixture(scope="module")
def correct(repo_release, tmp_path_factory):
    """A correct student's edition (read-only for the tests: each copies it before changing it)."""
    return filled_edition(repo_release, tmp_path_factory.mktemp("reference-outputs") / "correct")


# ---------------------------------------------------------------------------------------------------------------
# Matching a notebook's cells to the reference

def test_cells_match_by_id_then_source_then_place():
    references = [ReferenceCell(id=f"id{i}", source=f"print({i})", cell=i) for i in range(5)]

    def cell(source, id=None):
        node = nbformat.v4.new_code_cell(source)
        node.pop("id")
        if id:
            node.id = id
        return node

    # JupyterLab keeps the ids: an edited TODO cell keeps its reference, a cell of the student's own has none.
    cells = [cell("print(0)", "id0"), cell("x = my_code()", "id1"), cell("print('mine')", "new"),
             cell("print(2)", "id2"), cell("print(3)  ", "id3"), cell("print(4)", "id4")]
    assert [getattr(m, "id", None) for m in match_cells(cells, references)] == \
        ["id0", "id1", None, "id2", "id3", "id4"]
    # Ids lost (another editor): unchanged cells by their source, an edited one by its place between them.
    cells = [cell("print(0)"), cell("x = my_code()"), cell("print(2)"), cell("print(3)"), cell("print(4)")]
    assert [m.id for m in match_cells(cells, references)] == ["id0", "id1", "id2", "id3", "id4"]
    # ... but not when a cell was added there too: two cells for one place, neither is compared.
    cells.insert(2, cell("print('mine')"))
    assert [getattr(m, "id", None) for m in match_cells(cells, references)] == \
        ["id0", None, None, "id2", "id3", "id4"]
    # A reference cell serves one cell: a copy of a cell (its id and source) is the student's own.
    cells = [cell("print(0)", "id0"), cell("print(0)", "id0"), cell("print(1)", "id1")]
    assert [getattr(m, "id", None) for m in match_cells(cells, references[:2])] == ["id0", None, "id1"]


def test_reference_options_are_nbval_options_of_the_solution_cell():
    assert ReferenceCell(comments=["NBVAL_IGNORE_OUTPUT"]).options(True)["check"] is False
    assert ReferenceCell(tags=["nbval-ignore-output"]).options(True)["check"] is False
    assert ReferenceCell(tags=["raises-exception"]).options(True)["check_exception"] is True
    assert ReferenceCell(comments=["NBVAL_SKIP"]).options(True)["skip"] is True
    assert ReferenceCell().options(True)["check"] is True and ReferenceCell().options(False)["check"] is False
    assert ReferenceCell(tags=["nbval-ignore-output"], comments=["NBVAL_CHECK_OUTPUT"]).options(True)["check"], \
        "comments win over tags, as in nbval"


# ---------------------------------------------------------------------------------------------------------------
# README's command in a filled student edition

def test_validation_ignores_what_the_notebook_saved(correct, tmp_path):
    """Whatever outputs and nbval marks the notebook saved, a correct student's run passes; --executed keeps the
    run (the student's sources, this run's outputs)."""
    tree = tmp_path / "edition"
    shutil.copytree(correct, tree, symlinks=True)
    nb = nbformat.read(tree / NOTEBOOK, as_version=4)
    code = code_cells(nb)
    assert all(cell.outputs == [] for cell in code), "released without outputs"
    # A run that stopped with an error in the first cell, saved by the editor.
    code[0].outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="name 'np' is not defined",
                                              traceback=["NameError: name 'np' is not defined"])]
    code[0].execution_count = 3
    # Wrong printed values saved in a compared cell.
    code[RUNNING_AVERAGES].outputs = [stream("running_mean: [0.00, 0.00, 0.00, 0.00]\n")]
    code[RUNNING_AVERAGES].execution_count = 9
    # A compared cell the student marked NBVAL_IGNORE_OUTPUT (comment and tag), with a wrong value saved.
    code[5].source = "# NBVAL_IGNORE_OUTPUT\n" + code[5].source
    code[5].metadata["tags"] = ["nbval-ignore-output"]
    code[5].outputs, code[5].execution_count = [stream("means: [1.0, 2.0, 3.0]\n")], 8
    # The outputs of the other cells cleared, execution counts left behind; and a cell of the student's own.
    code[2].execution_count = 4
    nb.cells.append(nbformat.v4.new_code_cell("import time\nprint('my own cell, run at', time.time())"))
    nbformat.write(nb, tree / NOTEBOOK)

    run = validate(tree, "--executed", str(tmp_path / "executed"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{KEPT + 1} passed" in run.stdout, run.stdout
    assert "of the reference run are not in this notebook (deleted?)" in run.stdout, "the cells cut off"

    executed = nbformat.read(tmp_path / "executed" / "NormalizationFamily.ipynb", as_version=4)
    nbformat.validate(executed)
    ran = code_cells(executed)
    assert [cell.source for cell in ran] == [cell.source for cell in code_cells(nb)]
    assert [cell.execution_count for cell in ran] == list(range(1, KEPT + 2))
    assert ran[0].outputs == [] and ran[5].outputs[0].text.startswith("Before spatial batch normalization:")
    reference = {cell.id: cell for cell in store.load("NormalizationFamily", tree / store.STORE_FOLDER)}
    assert ran[RUNNING_AVERAGES].outputs == reference[code[RUNNING_AVERAGES].id].outputs, "this run's output"
    assert ran[KEPT].outputs[0].text.startswith("my own cell, run at")


def test_validation_fails_on_a_wrong_implementation_whatever_the_student_marked(repo_release, tmp_path):
    """A reversed momentum prints other running averages: the cell fails, although the student saved the
    reference's outputs in it and marked it NBVAL_IGNORE_OUTPUT and nbval-skip."""
    mistake = _solutions("mistakes").MISTAKES["reversed momentum"]
    tree = filled_edition(repo_release, tmp_path / "edition", {mistake["key"]: mistake["code"]})
    nb = nbformat.read(tree / NOTEBOOK, as_version=4)
    cell = code_cells(nb)[RUNNING_AVERAGES]
    reference = {c.id: c for c in store.load("NormalizationFamily", tree / store.STORE_FOLDER)}[cell.id]
    cell.source = "# NBVAL_IGNORE_OUTPUT\n" + cell.source
    cell.metadata["tags"] = ["nbval-ignore-output", "nbval-skip"]
    cell.outputs, cell.execution_count = reference.outputs, reference.execution_count
    nbformat.write(nb, tree / NOTEBOOK)

    run = validate(tree)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"1 failed, {KEPT - 1} passed" in run.stdout, run.stdout
    assert f"FAILED {NOTEBOOK}::Cell {RUNNING_AVERAGES}" in run.stdout
    # Where the student finds it: nbval's number, the cell counted from 1, its heading, its source.
    assert f"Cell {RUNNING_AVERAGES}: Cell outputs differ (the 7th code cell of the notebook, under the heading" \
        in run.stdout
    assert "running_mean: [12.95, 12.95, 12.93, 12.92]" in run.stdout, "the reference values are shown"


# ---------------------------------------------------------------------------------------------------------------
# JupyterLab: run, save, clear, save

def _saved(path, predicate, deadline):
    """The notebook at ``path`` once ``predicate`` holds for it (the browser saves asynchronously)."""
    while True:
        nb = nbformat.read(path, as_version=4)
        if predicate(nb) or time.monotonic() > deadline:
            return nb
        time.sleep(0.25)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium package is not installed")
def test_running_saving_and_clearing_in_jupyterlab_changes_no_verdict(correct, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    tree = tmp_path / "edition"
    shutil.copytree(correct, tree, symlinks=True)
    path = tree / NOTEBOOK
    ids = [cell.id for cell in nbformat.read(path, as_version=4).cells]
    env = _solutions("fill").edition_env(tree, REPO / "datasets")
    with jupyter_lab(tree, ["--ServerApp.root_dir=.", NOTEBOOK], env=env) as (url, _):
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page()
                page.set_default_timeout(90_000)
                page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={TOKEN}")
                page.wait_for_selector(".jp-Notebook .jp-Cell")
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
                page.locator(".jp-Notebook .jp-Cell").first.click()
                page.keyboard.press("Escape")
                page.get_by_text("Run", exact=True).first.click()
                page.get_by_text("Run All Cells", exact=True).click()
                # The last cell's output (its source holds the same words), then every cell numbered.
                page.locator(".jp-OutputArea-output", has_text="zero-initialization bias left after").wait_for()
                page.wait_for_function(
                    "n => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
                    ".filter(p => /\\[\\d+\\]/.test(p.textContent)).length === n", arg=KEPT)
                page.keyboard.press("Control+s")
                ran = _saved(path, lambda nb: all(c.execution_count for c in code_cells(nb)), time.monotonic() + 30)
                assert all(cell.execution_count for cell in code_cells(ran)), "saved after running every cell"
                page.get_by_text("Edit", exact=True).first.click()
                page.get_by_text("Clear Outputs of All Cells", exact=True).click()
                page.keyboard.press("Control+s")
                cleared = _saved(path, lambda nb: not any(c.outputs for c in code_cells(nb)), time.monotonic() + 30)
                assert not any(cell.outputs for cell in code_cells(cleared)), "saved after clearing the outputs"
            finally:
                browser.close()
    assert [cell.id for cell in cleared.cells] == ids, "JupyterLab keeps the cell ids"
    run = validate(tree)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{KEPT} passed" in run.stdout, run.stdout
