"""The kit's pytest plugin for notebooks: nbval, comparing with reference outputs the student does not edit.

Loaded by the edition's root conftest.py (``pytest_plugins``), so ``pytest notebooks/NB.ipynb`` uses it. nbval
(0.11) compares each code cell's outputs with those saved in the notebook it runs; this plugin replaces nbval's
collector of a notebook by one that runs the cells of the notebook on disk (the student's sources) and compares them
with the notebook's reference cells instead:

- the student edition (``cs231n_bn/kit/reference/`` holds reference files): the reference run's outputs and nbval
  options kept there by the release (see ``store``); a notebook the kit does not ship has none;
- the solution edition (no reference files): the notebook itself, which is committed with the reference run's
  outputs; then the plugin changes nothing nbval would do.

Each code cell is matched to a reference cell by cell id; failing that, by its source (a cell whose id was lost,
e.g. by another editor, but whose code is unchanged); failing that, by its place (the only unmatched cells between
the same two matched cells, as many in the notebook as in the reference). A matched cell is compared with the
reference outputs under the reference cell's nbval options (NBVAL_IGNORE_OUTPUT, NBVAL_SKIP, raises-exception...);
the outputs saved in the notebook and the student's own nbval comments and tags play no part. A cell without a
reference (one the student added) runs and is never compared; its own NBVAL_SKIP and raises-exception marks count.

Cells keep nbval's names, ``Cell N`` counting the notebook's code cells from 0; a failure also says which code cell
that is counted from 1 and the heading it sits under. ``--executed DIR`` writes each notebook that ran, executed (its
sources, the outputs of this run, errors included), to ``DIR/NAME.ipynb``: CI runs each notebook once and keeps that.
"""

import copy
import warnings
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import IPyNbCell, IPyNbFile, NbCellError, coalesce_streams, find_comment_markers, find_metadata_tags

from cs231n_bn.kit.atomic import atomic_write

from . import store

EXECUTED_NAMES = pytest.StashKey()   # file name in --executed DIR -> the notebook written there in this session


def pytest_addoption(parser):
    group = parser.getgroup("nbval")
    group.addoption("--executed", metavar="DIR", default=None,
                    help="write each notebook that ran, executed (its sources with the outputs of this run), to "
                         "DIR/NAME.ipynb")


def pytest_report_header(config):
    if not (getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False)):
        return None
    if store.has_store():
        return f"notebooks compared with the reference outputs in {store.STORE}"
    return "notebooks compared with their own saved outputs (no reference files here: the solution edition)"


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    """nbval's collector of a notebook, replaced by ReferencedNotebook."""
    collected = yield
    return [ReferencedNotebook.from_parent(parent, path=file_path) if type(node) is IPyNbFile else node
            for node in collected or []]


class ReferencedNotebook(IPyNbFile):
    """A notebook whose cells run from the file and are compared with its reference cells."""

    def collect(self):
        self.nb = nbformat.read(str(self.path), as_version=4)
        self.executed_outputs = {}   # cell number -> outputs of this run (None: the cell did not run)
        if store.has_store():
            references = store.load(self.path.name)
            self.reference_name = f"{store.STORE_FOLDER}/{self.path.stem}.json"
            if references is None:
                references, self.reference_name = [], None
                self._warn("the kit keeps no reference outputs for this notebook; its cells run, and none is "
                           "compared")
        else:
            references, self.reference_name = store.reference_cells(self.nb), "the notebook itself"
        code_cells = [cell for cell in self.nb.cells if cell.cell_type == "code"]
        matched = match_cells(code_cells, references)
        missing = [f"Cell {ref.cell}" for ref in references if not any(ref is m for m in matched)]
        if missing:
            self._warn(f"{len(missing)} cell{'s' if len(missing) > 1 else ''} of the reference run "
                       f"{'are' if len(missing) > 1 else 'is'} not in this notebook (deleted?), so "
                       f"{'their' if len(missing) > 1 else 'its'} outputs are not compared: {', '.join(missing)} of "
                       f"the released notebook")
        headings = _headings(self.nb)
        for number, (cell, reference) in enumerate(zip(code_cells, matched)):
            yield ReferencedCell.from_parent(self, name=f"Cell {number}", cell_num=number,
                                             cell=_cell_to_run(cell, reference), options=self._options(cell, reference),
                                             reference=reference, heading=headings.get(id(cell)))

    def _warn(self, message):
        """A warning in pytest's summary, located at the notebook (as nbval locates its own)."""
        warnings.warn_explicit(f"{self.path.name}: {message}", UserWarning, filename=str(self.path), lineno=0)

    def _options(self, cell, reference):
        if reference is not None:
            return reference.options(self.compare_outputs)
        # A cell of the student's own: nothing to compare; its own marks may skip it or expect an exception.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            own = dict(find_metadata_tags(cell.metadata))
            own.update(find_comment_markers(cell.source))
        options = {key: value for key, value in own.items() if key in ("skip", "check_exception")}
        return _defaults(options, check=False)

    def record(self, cell_num, outputs):
        self.executed_outputs[cell_num] = outputs

    def teardown(self):
        try:
            super().teardown()
        finally:
            self.write_executed()

    def write_executed(self):
        """With --executed DIR: the notebook with this run's outputs, to DIR/NAME.ipynb."""
        folder = self.config.getoption("executed")
        if not folder or getattr(self, "nb", None) is None or not any(
                outputs is not None for outputs in self.executed_outputs.values()):
            return
        executed = executed_notebook(self.nb, self.executed_outputs)
        names = self.config.stash.setdefault(EXECUTED_NAMES, {})
        name = self.path.name
        if names.setdefault(name, self.path) != self.path:  # two notebooks of one name: keep their folders apart
            name = self.path.relative_to(self.config.rootpath).as_posix().replace("/", "__") \
                if self.path.is_relative_to(self.config.rootpath) else f"{self.path.parent.name}__{name}"
        target = Path(self.config.invocation_params.dir, folder, name)
        atomic_write(target, nbformat.writes(executed).encode("utf-8"))


class ReferencedCell(IPyNbCell):
    """One code cell: runs the notebook's source, compares with its reference, records this run's outputs."""

    def __init__(self, name, parent, cell_num, cell, options, reference=None, heading=None):
        super().__init__(name, parent, cell_num, cell, options)
        self.reference = reference
        self.heading = heading

    def runtest(self):
        try:
            super().runtest()
        finally:
            self.parent.record(self.cell_num, self.test_outputs)

    def compare_outputs(self, test, ref, skip_compare=None):
        same = super().compare_outputs(test, ref, skip_compare)
        where = f"from {self.parent.reference_name}"
        self.comparison_traceback = [line.replace("from ipynb file", where) if isinstance(line, str) else line
                                     for line in self.comparison_traceback]
        return same

    def raise_cell_error(self, message, *args, **kwargs):
        where = f"the {_ordinal(self.cell_num + 1)} code cell of the notebook"
        if self.heading:
            where += f", under the heading {self.heading!r}"
        if self.reference is None:
            where += "; a cell of your own, not compared"
        raise NbCellError(self.cell_num, f"{message} ({where})", self.cell.source, *args, **kwargs)


def match_cells(cells, references):
    """The reference cell of each code cell of a notebook, or None; each reference cell serves one cell at most.

    Inputs:
    - cells: the notebook's code cells (NotebookNodes), in order
    - references: its ReferenceCells, in order
    Rules, in turn: the same cell id; else the same source (trailing whitespace aside), the first unused reference
    cell with it; else the same place: between two matched cells whose references are in order, the unmatched
    cells pair in order with the unused reference cells there when there are as many of each.
    """
    matched, used = [None] * len(cells), set()
    by_id = {}
    for index, reference in enumerate(references):
        if reference.id:
            by_id.setdefault(reference.id, index)
    for position, cell in enumerate(cells):
        index = by_id.get(cell.get("id"))
        if index is not None and index not in used:
            matched[position] = index
            used.add(index)
    for position, cell in enumerate(cells):
        if matched[position] is None:
            text = _normalized(cell.source)
            index = next((i for i, reference in enumerate(references)
                          if i not in used and _normalized(reference.source) == text), None)
            if index is not None:
                matched[position] = index
                used.add(index)
    anchors = [(-1, -1)] + [(p, i) for p, i in enumerate(matched) if i is not None] + [(len(cells), len(references))]
    for (p0, i0), (p1, i1) in zip(anchors, anchors[1:]):
        if i1 <= i0:
            continue
        free_cells = [p for p in range(p0 + 1, p1) if matched[p] is None]
        free_references = [i for i in range(i0 + 1, i1) if i not in used]
        if free_cells and len(free_cells) == len(free_references):
            for p, i in zip(free_cells, free_references):
                matched[p] = i
                used.add(i)
    return [None if index is None else references[index] for index in matched]


def executed_notebook(nb, executed_outputs):
    """A copy of ``nb`` whose code cells hold the outputs of this run, numbered in the order they ran; cells that
    did not run have none."""
    executed = copy.deepcopy(nb)
    count = 0
    for number, cell in enumerate(cell for cell in executed.cells if cell.cell_type == "code"):
        outputs = executed_outputs.get(number)
        cell.outputs, cell.execution_count = [], None
        if outputs is None:
            continue
        count += 1
        cell.execution_count = count
        cell.outputs = coalesce_streams([nbformat.from_dict(copy.deepcopy(output)) for output in outputs])
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = count
    return executed


def _cell_to_run(cell, reference):
    """The cell nbval runs: the notebook's source; the reference's outputs and execution count (an execution count
    of None makes nbval compare nothing)."""
    run = nbformat.v4.new_code_cell(source=cell.source, metadata=copy.deepcopy(cell.metadata))
    if reference is not None:
        run.outputs = [nbformat.from_dict(copy.deepcopy(output)) for output in reference.outputs]
        run.execution_count = reference.execution_count
    return run


def _defaults(options, check):
    result = defaultdict(bool, options)
    result.setdefault("check", check)
    return result


def _headings(nb):
    """id(code cell) -> the last markdown heading above it."""
    headings, heading = {}, None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            lines = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
            heading = lines[-1] if lines else heading
        elif cell.cell_type == "code":
            headings[id(cell)] = heading
    return headings


def _normalized(text):
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def _ordinal(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
