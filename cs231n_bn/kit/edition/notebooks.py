"""Notebooks in the student edition: stubbed code cells, cleared answers, redacted reference outputs.

Inputs lose their solution regions (as in .py files), inline-question answers (markdown cells whose metadata says
``nbgrader.solution: true``) get a placeholder, and an output of the solution run that would show solution code (a
cell printing source, a traceback or warning quoting a solution line) is removed, its cell tagged
``nbval-ignore-output`` so that nbval does not expect it back. The release then moves the remaining outputs, the
reference that ``pytest notebooks/NB.ipynb`` compares a student's run with, into the notebook's reference file
(``cs231n_bn.kit.reference.store``): the student notebook ships without outputs.
"""

import copy
import html
import re
from dataclasses import dataclass, field

import nbformat

from .hosted import is_setup_cell
from .markers import MarkerError, find_regions, restore, solution_lines, stub_text, stub_compiles

ANSWER_PLACEHOLDER = "**Answer:** *Write your answer here.*"
IGNORE_OUTPUT_TAG = "nbval-ignore-output"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TAG = re.compile(r"<[^>]+>")


def is_answer_cell(cell):
    """An inline-question answer: a markdown cell with nbgrader metadata ``solution: true``."""
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "markdown" and isinstance(nbgrader, dict) and nbgrader.get("solution") is True


@dataclass
class StudentNotebook:
    """A notebook on its way into the student edition."""

    notebook: nbformat.NotebookNode
    stubs: int = 0                                    # regions replaced by stubs
    stubbed_cells: int = 0                            # code cells holding at least one stub
    answers: int = 0                                  # answer cells cleared
    solution_lines: list = field(default_factory=list)
    redacted_cells: list = field(default_factory=list)  # indices of cells whose outputs were removed

    def sources(self):
        """The student inputs (what the leak scan counts as legitimately public text)."""
        return [cell.source for cell in self.notebook.cells]


def make_student_notebook(text, path):
    """Stub the code cells and clear the answers of one notebook.

    Inputs:
    - text: the notebook file's JSON text (solution edition)
    - path: its path in the tree, for error messages

    Returns:
    - StudentNotebook (outputs not yet scanned; see ``redact_outputs``)
    Raises MarkerError for malformed regions, naming the cell (numbered from 0, as nbval does) and line.
    """
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    result = StudentNotebook(notebook=nb)
    for index, cell in enumerate(nb.cells):
        where = f"{path}, cell {index}"
        if cell.cell_type == "code":
            regions = find_regions(cell.source, where)
            if regions:
                stubbed = stub_text(cell.source, regions)
                stub_compiles(cell.source, stubbed, where)
                result.solution_lines += solution_lines(cell.source, regions)
                result.stubs += len(regions)
                result.stubbed_cells += 1
                cell.source = stubbed
        elif is_answer_cell(cell) and cell.source.strip() != ANSWER_PLACEHOLDER:
            result.solution_lines += cell.source.splitlines()
            result.answers += 1
            cell.source = ANSWER_PLACEHOLDER
            cell.pop("attachments", None)
    return result


def output_texts(output):
    """Every text an output shows, with colour codes and HTML markup removed, for the leak scan."""
    texts = []
    if output.get("output_type") == "stream":
        texts.append(_join(output.get("text", "")))
    elif output.get("output_type") == "error":
        texts += [output.get("ename", ""), output.get("evalue", ""), "\n".join(output.get("traceback", []))]
    for mime, value in output.get("data", {}).items():
        if isinstance(value, (str, list)):
            value = _join(value)
            texts.append(value)
            if "html" in mime or "xml" in mime:
                texts.append(html.unescape(_TAG.sub("", value)))
    return [_ANSI.sub("", text) for text in texts]


def _join(value):
    return "".join(value) if isinstance(value, list) else value


def redact_outputs(student, secrets):
    """Remove every stored output that shows a solution line; tag its cell ``nbval-ignore-output``."""
    for index, cell in enumerate(student.notebook.cells):
        if cell.cell_type != "code":
            continue
        kept = [out for out in cell.get("outputs", [])
                if not any(secret in text for text in output_texts(out) for secret in secrets)]
        if len(kept) != len(cell.outputs):
            cell.outputs = kept
            tags = cell.metadata.setdefault("tags", [])
            if IGNORE_OUTPUT_TAG not in tags:
                tags.append(IGNORE_OUTPUT_TAG)
            student.redacted_cells.append(index)


def write_notebook(student):
    """The student notebook as file text; validates it against the nbformat schema first."""
    nbformat.validate(student.notebook)
    return nbformat.writes(student.notebook)


def restore_notebook(solution_text, student_text, path):
    """Put the solution back into a student notebook: code-cell regions, answers, and redacted outputs.

    Returns the restored NotebookNode (with the release's set-up cell, if it has one: see hosted.py). Raises
    MarkerError if the two notebooks do not line up cell by cell.
    """
    solution = nbformat.reads(solution_text, as_version=nbformat.NO_CONVERT)
    student = nbformat.reads(student_text, as_version=nbformat.NO_CONVERT)
    cells = [cell for cell in student.cells if not is_setup_cell(cell)]  # the release's set-up cell stays as it is
    if len(solution.cells) != len(cells):
        raise MarkerError(path, 1, f"the student notebook has {len(cells)} cells, the solution "
                                   f"{len(solution.cells)}")
    for index, (ref, cell) in enumerate(zip(solution.cells, cells)):
        where = f"{path}, cell {index}"
        if ref.cell_type != cell.cell_type:
            raise MarkerError(where, 1, f"a {cell.cell_type} cell where the solution has a {ref.cell_type} cell")
        if cell.cell_type == "code":
            cell.source = restore(ref.source, cell.source, where)
            ref_tags = ref.metadata.get("tags", [])
            if IGNORE_OUTPUT_TAG in cell.metadata.get("tags", []) and IGNORE_OUTPUT_TAG not in ref_tags:
                cell.outputs = copy.deepcopy(ref.outputs)
                cell.metadata = copy.deepcopy(ref.metadata)
        elif is_answer_cell(ref):
            cell.source = ref.source
            if "attachments" in ref:
                cell.attachments = copy.deepcopy(ref.attachments)
    return student


def comparable(nb):
    """A plain structure of ``nb`` with sources compared line by line, trailing whitespace ignored."""
    plain = nbformat.from_dict(copy.deepcopy(nb))
    for cell in plain.cells:
        cell.source = normalize_text(cell.source)
    return plain


def normalize_text(text):
    """Lines without trailing whitespace, no blank lines at the end: what "equal ignoring whitespace" compares."""
    return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")
