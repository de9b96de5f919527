"""Predictions in the notebooks: written before the experiment, set beside its result after it, never shipped.

A prediction cell (cell tag ``prediction``) is a code cell whose ``Prediction(...)`` sits in a solution region
under a TODO naming its notebook and section, so that the student edition replaces it by a stub. A cell that
prints a prediction beside its result calls ``beside`` on the prediction of an earlier prediction cell; it is
marked NBVAL_IGNORE_OUTPUT (it shows the student's own words) and is committed without output, because the
student edition keeps the solution edition's outputs and this one would show the solution's prediction.

These are properties of the solution edition's notebooks: in a student edition, whose regions are stubs that the
student replaces and whose cells the student runs, the test skips.
"""

import ast
import re
from pathlib import Path

import nbformat
import pytest

from cs231n_bn.kit.edition.markers import find_regions

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
TAG = "prediction"
IGNORE = "# NBVAL_IGNORE_OUTPUT"


def calls(source, name):
    """The first arguments (as source text) of every call of ``name`` in ``source``."""
    return [ast.unparse(node.args[0]) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name and node.args]


def assigned_predictions(code):
    """The names bound to ``Prediction(...)`` in ``code``."""
    return [target.id for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "Prediction"
            for target in node.targets if isinstance(target, ast.Name)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_prediction_is_a_todo_before_its_experiment_and_set_beside_its_result(path):
    nb = nbformat.read(path, as_version=4)
    if not any(cell.cell_type == "code" and find_regions(cell.source, path.name) for cell in nb.cells):
        pytest.skip(f"{path.name} holds no solution region: a student edition")
    made = {}  # prediction name -> index of the prediction cell
    shown = {}
    for index, cell in enumerate(nb.cells):
        where = f"{path.name}, cell {index}"
        if TAG in cell.metadata.get("tags", []):
            assert cell.cell_type == "code", f"{where}: a prediction cell must be a code cell"
            regions = find_regions(cell.source, where)
            assert len(regions) == 1, f"{where}: a prediction cell holds one solution region, not {len(regions)}"
            (region,) = regions
            named = re.search(r"\((\w+\.ipynb), section [\d.]+\)", region.todo_text)
            assert named and named.group(1) == path.name, f"{where}: its TODO must name {path.name} and a section"
            code = "\n".join(cell.source.splitlines()[region.begin + 1:region.end])
            names = assigned_predictions(code)
            assert len(names) == 1, f"{where}: the solution region makes one Prediction, not {names}"
            made[names[0]] = index
        if cell.cell_type == "code" and "beside(" in cell.source:
            assert IGNORE in [line.strip() for line in cell.source.splitlines()], \
                f"{where}: a cell that prints a prediction is marked {IGNORE}"
            assert not cell.outputs, (f"{where}: committed with the solution's prediction in its output, which the "
                                      f"student edition would ship; clear that cell's outputs")
            for name in calls(cell.source, "beside"):
                assert name in made, f"{where}: beside({name}, ...) comes before any prediction cell makes {name}"
                shown[name] = index
    assert set(shown) == set(made), f"{path.name}: predictions never set beside a result: {set(made) - set(shown)}"
