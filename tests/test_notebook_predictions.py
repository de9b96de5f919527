"""Predictions in the notebooks: written before the experiment, set beside its result after it, never shipped.

A prediction cell (cell tag ``prediction``) is a code cell whose ``Prediction(...)`` calls sit in a solution
region under a TODO naming its notebook and section, so that the student edition replaces them by a stub. A cell
that prints a prediction beside its result calls ``beside`` on a prediction of an earlier prediction cell; it is
marked NBVAL_IGNORE_OUTPUT (it shows the student's own prediction). The solution run's outputs ship with the student
edition as the reference outputs, so no output may quote the reasons written in a prediction cell.

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


def reasons(code):
    """The ``why=`` texts (string constants) of the ``Prediction(...)`` calls in ``code``."""
    return [keyword.value.value for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "Prediction" for keyword in node.keywords
            if keyword.arg == "why" and isinstance(keyword.value, ast.Constant)]


def output_text(cell):
    """Everything a code cell's outputs show as text."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", "") if isinstance(output.get("text", ""), str) else "".join(output["text"]))
        for mime, value in output.get("data", {}).items():
            if mime.startswith("text/"):
                parts.append(value if isinstance(value, str) else "".join(value))
    return "\n".join(parts)


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
    why = []
    for index, cell in enumerate(nb.cells):
        where = f"{path.name}, cell {index}"
        if TAG in cell.metadata.get("tags", []):
            assert cell.cell_type == "code", f"{where}: a prediction cell must be a code cell"
            regions = find_regions(cell.source, where)
            assert len(regions) == 1, f"{where}: a prediction cell holds one solution region, not {len(regions)}"
            (region,) = regions
            named = re.search(r"\((\w+\.ipynb), section \d[\d.]*\b", region.todo_text)
            assert named and named.group(1) == path.name, f"{where}: its TODO must name {path.name} and a section"
            code = "\n".join(cell.source.splitlines()[region.begin + 1:region.end])
            names = assigned_predictions(code)
            assert names, f"{where}: the solution region makes no Prediction"
            made.update(dict.fromkeys(names, index))
            why += reasons(code)
        if cell.cell_type == "code" and "beside(" in cell.source:
            assert IGNORE in [line.strip() for line in cell.source.splitlines()], \
                f"{where}: a cell that prints a prediction is marked {IGNORE}"
            for name in calls(cell.source, "beside"):
                assert name in made, f"{where}: beside({name}, ...) comes before any prediction cell makes {name}"
                shown[name] = index
    assert set(shown) == set(made), f"{path.name}: predictions never set beside a result: {set(made) - set(shown)}"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            text = output_text(cell)
            quoted = [reason for reason in why if reason.strip() and reason.strip() in text]
            assert not quoted, (f"{path.name}, cell {index}: its output quotes the reasons of a prediction, {quoted}; "
                                f"the outputs ship to students as the reference (print the value only)")
