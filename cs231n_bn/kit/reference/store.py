"""The reference outputs of one notebook: ``cs231n_bn/kit/reference/NAME.json``, written by the release.

NAME is the notebook's file name without ``.ipynb``. The file is a JSON object:

    {"notebook": "notebooks/Dropout.ipynb",       # where the notebook is in the solution edition
     "cells": {                                   # every code cell of the notebook, in order, by cell id
       "7221d535": {
         "cell": 1,                               # its number as nbval counts (code cells from 0) when released
         "source": "np.random.seed(231)\\n...",    # as released: stubs in place of solution regions
         "nbval": {"comments": [], "tags": []},   # the nbval markers of the solution cell
         "execution_count": 2,                    # in the solution run (null: the cell was not run)
         "outputs": [...]                         # the solution run's outputs (nbformat), as the release redacted them
       }, ...}}

``nbval.comments`` are the marker comments nbval reads in the solution cell's source (``NBVAL_IGNORE_OUTPUT``,
``NBVAL_CHECK_OUTPUT``, ``NBVAL_RAISES_EXCEPTION``, ``NBVAL_SKIP``, without the ``#``), ``nbval.tags`` the nbval
tags of its metadata (``nbval-ignore-output``, ``raises-exception``, ...); ``ReferenceCell.options`` turns them
into nbval's options exactly as nbval does for a cell.
"""

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

# The folder of the reference files, in an edition and in this package.
STORE_FOLDER = "cs231n_bn/kit/reference"
STORE = Path(__file__).resolve().parent


@dataclass
class ReferenceCell:
    """One code cell of the reference run."""

    id: str = None              # the cell id (None in a notebook older than nbformat 4.5)
    source: str = ""
    execution_count: int = None
    outputs: list = field(default_factory=list)
    comments: list = field(default_factory=list)   # nbval marker comments of the solution cell
    tags: list = field(default_factory=list)       # nbval tags of the solution cell
    cell: int = 0                                  # number among the code cells, from 0 (nbval's "Cell N")

    def options(self, check_by_default):
        """nbval's options for this cell: its tags, then its comments (which win), as nbval.plugin collects them.

        ``check_by_default``: whether a cell without markers is compared (True under ``--nbval``, False under
        ``--nbval-lax``)."""
        from nbval.plugin import find_comment_markers, find_metadata_tags

        options = defaultdict(bool, find_metadata_tags({"tags": list(self.tags)}))
        options.update(find_comment_markers("\n".join(f"# {comment}" for comment in self.comments)))
        options.setdefault("check", check_by_default)
        return options


def store_path(notebook_path):
    """The reference file of a notebook, as a path relative to the edition's root."""
    return f"{STORE_FOLDER}/{PurePosixPath(notebook_path).stem}.json"


def is_store_path(path):
    """True for a path (relative to an edition's root) of a reference file."""
    return path.startswith(STORE_FOLDER + "/") and path.endswith(".json")


def nbval_markers(cell):
    """(comments, tags): the nbval marker comments of a code cell's source and the nbval tags of its metadata."""
    from nbval.plugin import comment_markers, metadata_tags

    comments = []
    for line in cell.get("source", "").splitlines():
        line = line.strip()
        if line.startswith("#") and line.lstrip("#").strip() in comment_markers:
            comments.append(line.lstrip("#").strip())
    tags = cell.get("metadata", {}).get("tags", [])
    tags = [tag for tag in tags if tag in metadata_tags] if isinstance(tags, list) else []
    return comments, tags


def reference_cells(nb, solution=None):
    """The ReferenceCell of every code cell of ``nb`` (a NotebookNode), in order.

    Inputs:
    - nb: the notebook whose sources, outputs, execution counts and tags are kept
    - solution: the solution notebook ``nb`` was made from (its sources hold the marker comments of a solution
      region too), its cells found by id (by position in a notebook without ids); a cell of ``nb`` that is not in
      it (one the release added) is its own solution. None: ``nb`` is its own solution.
    """
    solution = nb if solution is None else solution
    if all(cell.get("id") for cell in nb.cells):
        by_id = {cell.get("id"): cell for cell in solution.cells}
        solutions = [by_id.get(cell.id, cell) for cell in nb.cells]
    elif len(solution.cells) == len(nb.cells):
        solutions = solution.cells
    else:
        solutions = nb.cells
    cells = []
    for cell, solution_cell in zip(nb.cells, solutions):
        if cell.cell_type != "code":
            continue
        comments, _ = nbval_markers(solution_cell)
        _, tags = nbval_markers(cell)
        cells.append(ReferenceCell(id=cell.get("id"), source=cell.source, execution_count=cell.execution_count,
                                   outputs=[dict(output) for output in cell.outputs], comments=comments, tags=tags,
                                   cell=len(cells)))
    return cells


def store_text(notebook_path, nb, solution):
    """The text of the reference file of ``nb`` (the student notebook, outputs redacted; see reference_cells).

    Raises ValueError when a code cell has no id or two share one: the reference outputs are found by cell id.
    """
    cells = {}
    for reference in reference_cells(nb, solution):
        if not reference.id:
            raise ValueError(f"code cell {reference.cell} has no cell id (nbformat 4.5 and later give every cell "
                             f"one; open and save the notebook in JupyterLab 3 or later)")
        if reference.id in cells:
            raise ValueError(f"code cells {cells[reference.id]['cell']} and {reference.cell} share the cell id "
                             f"{reference.id!r}")
        cells[reference.id] = {"cell": reference.cell, "source": reference.source,
                               "nbval": {"comments": reference.comments, "tags": reference.tags},
                               "execution_count": reference.execution_count, "outputs": reference.outputs}
    return json.dumps({"notebook": str(notebook_path), "cells": cells}, indent=1, ensure_ascii=False) + "\n"


def read_store(text, where="the reference file"):
    """The ReferenceCells of a reference file's text, in order. Raises ValueError naming what is malformed."""
    try:
        data = json.loads(text)
        cells = data["cells"]
        return [ReferenceCell(id=key, source=cell["source"], execution_count=cell["execution_count"],
                              outputs=[nbformat.from_dict(output) for output in cell["outputs"]],
                              comments=list(cell["nbval"]["comments"]), tags=list(cell["nbval"]["tags"]),
                              cell=cell["cell"])
                for key, cell in cells.items()]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{where} is not a reference file of this kit ({type(error).__name__}: {error}); "
                         f"release the student edition again to rewrite it") from None


def load(notebook_name, store=STORE):
    """The ReferenceCells of the notebook named ``notebook_name`` (file name) in ``store``; None without a file."""
    path = Path(store) / f"{PurePosixPath(notebook_name).stem}.json"
    if not path.is_file():
        return None
    return read_store(path.read_text(encoding="utf-8"), str(path))


def has_store(store=STORE):
    """True when ``store`` holds reference files: a student edition (the solution edition has none)."""
    return any(Path(store).glob("*.json"))


def strip_outputs(nb):
    """Remove every output and execution count of the notebook's code cells (in place), as nbgrader's ClearOutput
    and JupyterLab's "Clear Outputs of All Cells" do."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def put_back(nb, cells):
    """Give each code cell of ``nb`` the outputs and execution count of the ReferenceCell with its id (in place)."""
    by_id = {reference.id: reference for reference in cells}
    for cell in nb.cells:
        reference = by_id.get(cell.get("id")) if cell.cell_type == "code" else None
        if reference is not None:
            cell.outputs = [nbformat.from_dict(output) for output in reference.outputs]
            cell.execution_count = reference.execution_count
    return nb
