"""The student edition's README.md, written by the release in place of the solution edition's.

What a student needs and nothing else: what to do first, the notebooks in order with what each asks for, how to
check (locally and in CI), what a verdict means, how to hand the work in, and the hosted notebooks. The list of
what each notebook asks for is read from the student edition itself, so it cannot go stale: every stub of a
package function (its ``# TODO: ... (Notebook.ipynb, section N "Title").`` line and the ``raise
NotImplementedError("function: ...")`` below it), every TODO cell of a notebook and every inline question. The CI
paragraph is the student workflow's own header comment, and the points per section come from the Classroom
autograding file, when the edition has them.
"""

import ast
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import nbformat

from .notebooks import is_answer_cell

FIRST_STEPS_URL = "/lab/tree/notebooks/{notebook}"
MAIN_COMMAND = ".venv/bin/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=" + FIRST_STEPS_URL
PYTHON = ".venv/bin/python"
WORKFLOW = ".github/workflows/self-check.yml"
AUTOGRADING = ".github/workflows/classroom.yml"  # student_ci.CLASSROOM

_TODO = re.compile(r"^[ \t]*#\s*TODO:\s*(?P<text>\S.*?)\s*$")
_STUB = re.compile(r"^[ \t]*raise NotImplementedError\((?P<message>.*)\)\s*$")
# The parenthesis that ends a TODO line: (Notebook.ipynb) or (Notebook.ipynb, section 2 "Title").
_WHERE = re.compile(r"\((?P<notebook>[\w.-]+\.ipynb)(?:,\s*(?P<section>[^()]*?))?\)\.?\s*$")
# Another notebook named inside the TODO text: "add normalization in BatchNormalization.ipynb section 6".
_ALSO = re.compile(r"(?P<notebook>[\w.-]+\.ipynb) section (?P<number>\d+(?:\.\d+)*)")
_NUMBER = re.compile(r"section (\d+(?:\.\d+)*)")


@dataclass
class Task:
    """Something a notebook section asks for: functions of one package file, or cells of the notebook."""

    section: str          # as the TODO line says it, e.g. 'section 2 "The affine layer"'
    where: str            # a package file, or "" for cells of the notebook itself
    names: list = field(default_factory=list)   # functions (package files) or nothing (cells)
    cells: int = 0        # TODO cells of the notebook
    extends: str = ""     # the notebook where the function was started, when this section extends it

    @property
    def key(self):
        match = _NUMBER.search(self.section)
        return tuple(int(part) for part in match.group(1).split(".")) if match else (0,)


@dataclass
class Notebook:
    """One notebook of the edition: its path, its title (first heading), its tasks and its inline questions."""

    path: str
    title: str
    tasks: dict = field(default_factory=dict)   # (section, where, extends) -> Task
    questions: int = 0

    def task(self, section, where, extends=""):
        key = (section, where, extends)
        if key not in self.tasks:
            self.tasks[key] = Task(section, where, extends=extends)
        return self.tasks[key]

    def ordered_tasks(self):
        return sorted(self.tasks.values(), key=lambda task: (task.key, task.where == "", task.where))


def notebook_order():
    """The order in which students meet the notebooks (checks.NOTEBOOK_ORDER)."""
    from cs231n_bn.kit.grading.checks.registry import NOTEBOOK_ORDER
    return NOTEBOOK_ORDER


def assignments(files, order=None):
    """What each notebook of an edition asks for, from its stubs, TODO cells and inline questions.

    Inputs:
    - files: relative path -> bytes of the student edition (tree.StudentEdition.files)
    - order: notebook file names in the order students meet them (default: notebook_order()); others follow,
      sorted
    Returns: a list of Notebook, in that order.
    """
    order = notebook_order() if order is None else order
    notebooks = {}
    for path in sorted(files):
        if path.startswith("notebooks/") and path.endswith(".ipynb"):
            nb = nbformat.reads(files[path].decode("utf-8"), as_version=4)
            entry = notebooks[PurePosixPath(path).name] = Notebook(path, _title(nb, path))
            for cell in nb.cells:
                if cell.cell_type == "code":
                    sections = [_WHERE.search(todo) for todo, _ in _stubs(cell.source)]
                    for section in dict.fromkeys((where.group("section") or "") if where else ""
                                                 for where in sections):
                        entry.task(section, "").cells += 1  # a cell with two TODOs of a section counts once
                elif is_answer_cell(cell):
                    entry.questions += 1
    for path in sorted(files):
        if not (path.startswith("cs231n_bn/") and path.endswith(".py")):  # the package is what students complete
            continue
        text = files[path].decode("utf-8", errors="replace")
        for todo, function in _stubs(text):
            where = _WHERE.search(todo)
            if where is None or where.group("notebook") not in notebooks:
                continue
            notebook = where.group("notebook")
            _add(notebooks[notebook].task(where.group("section") or "", path), function)
            for also in _ALSO.finditer(todo[:where.start()]):
                if also.group("notebook") in notebooks and also.group("notebook") != notebook:
                    task = notebooks[also.group("notebook")].task(f"section {also.group('number')}", path, notebook)
                    _add(task, function)
    rank = {name: index for index, name in enumerate(order)}
    return [notebooks[name] for name in sorted(notebooks, key=lambda name: (rank.get(name, len(rank)), name))]


def _add(task, function):
    if function and function not in task.names:
        task.names.append(function)


def _stubs(text):
    """(TODO text, function name or '') of every stub in a source text: a TODO line, then the stub below it."""
    lines = text.splitlines()
    found = []
    for above, line in zip(lines, lines[1:]):
        todo, stub = _TODO.match(above), _STUB.match(line)
        if todo and stub:
            try:
                message = ast.literal_eval(stub.group("message"))
            except (ValueError, SyntaxError):
                continue
            function = ""
            if isinstance(message, str) and not message.startswith(todo.group("text")):
                function = message.split(": ", 1)[0]
            found.append((todo.group("text"), function))
    return found


def _title(nb, path):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return PurePosixPath(path).stem


def _section_label(section):
    """'section 2 "The affine layer"' -> '2 "The affine layer"'; '' -> '-'."""
    return section.removeprefix("section ").strip() or "-"


def notebook_table(notebooks):
    """The README's list of the notebooks in order, each with the table of what it asks for."""
    out = []
    for number, notebook in enumerate(notebooks, 1):
        out += [f"### {number}. `{PurePosixPath(notebook.path).name}`: {notebook.title}", ""]
        tasks = notebook.ordered_tasks()
        if tasks:
            out += ["| section | where | what you write |", "| --- | --- | --- |"]
            for task in tasks:
                if task.where:
                    what = ", ".join(f"`{name}`" for name in task.names)
                    if task.extends:
                        what = f"extend {what} (begun in `{task.extends}`)"
                    out.append(f"| {_section_label(task.section)} | `{task.where}` | {what} |")
                else:
                    cells = "a code cell" if task.cells == 1 else f"{task.cells} code cells"
                    out.append(f"| {_section_label(task.section)} | the notebook | {cells} marked `# TODO` |")
            out.append("")
        else:
            out += ["Nothing to write: it runs on the functions of the notebooks before it.", ""]
        if notebook.questions:
            questions = "one inline question" if notebook.questions == 1 else f"{notebook.questions} inline questions"
            out += [f"Answer {questions} in the notebook, in the cells that read *Write your answer here*.", ""]
    return out


def _workflow_comment(files):
    """The student workflow's header comment, as plain text lines (empty without the workflow)."""
    data = files.get(WORKFLOW)
    if data is None:
        return []
    lines = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    return lines


def _autograding_points(files):
    """(number of graded sections, total points) of the Classroom autograding workflow, or None: one test per
    ``max-score:`` line of its command-grader steps (student_ci.classroom_workflow)."""
    data = files.get(AUTOGRADING)
    if data is None:
        return None
    scores = [int(score) for score in re.findall(r"^\s*max-score:\s*(\d+)\s*$", data.decode("utf-8"), re.M)]
    return (len(scores), sum(scores)) if scores else None


def _wrap(text):
    return textwrap.wrap(text, width=112, break_on_hyphens=False, break_long_words=False)


def render(files, setup=None):
    """The student README.md text for the edition ``files`` (relative path -> bytes).

    setup: the hosted.Setup the notebooks' set-up cell was written with (None: nothing published).
    """
    from cs231n_bn.kit.grading.runner import FAILED, PASSED, TODO

    notebooks = assignments(files)
    first = PurePosixPath(notebooks[0].path).name if notebooks else "FullyConnectedNets.ipynb"
    main = MAIN_COMMAND.format(notebook=first)
    package = getattr(setup, "package", None)
    lines = [
        "# cs231n_bn: batch normalization, end to end, in NumPy",
        "",
        "In these notebooks you build a neural network library in NumPy, cs231n style, and then batch",
        "normalization in it: you derive its backward pass (node by node on the computational graph, then in closed",
        "form), check every gradient against centred differences, and measure what normalization does to training,",
        "up to a reproduction of Ioffe & Szegedy (2015), Figure 1. You write code in two places: functions of the",
        "`cs231n_bn` package, each a stub that raises `NotImplementedError` naming what to write and the notebook",
        "section that explains it, and cells of the notebooks marked `# TODO`. Inline questions are answered in the",
        "notebooks.",
        "",
        "## First steps",
        "",
        "With Python 3.9 or newer (Linux, macOS, or Windows with WSL), in this folder:",
        "",
        f"    ./setup.sh && {main}",
        "",
        "`./setup.sh` makes a virtual environment in `.venv` with what the notebooks need (`requirements.txt`) and this",
        "package, installed so that the notebooks run the files you edit, and fetches the Fashion-MNIST data set into",
        "`datasets/`; it is safe to run again. JupyterLab then opens the first notebook, with the package's files in",
        "its file browser. On a machine without a browser (a server over SSH), open the address JupyterLab prints",
        "(`http://127.0.0.1:8888/lab/tree/notebooks/...?token=...`): it leads to the same notebook.",
        "",
        "Work through the notebooks in this order: each one uses the functions of the ones before it. After you edit",
        "a package file, restart the notebook's kernel (Kernel > Restart Kernel) so that it imports your change,",
        "unless the notebook's set-up loads `autoreload` (it says so where it does).",
        "",
        "## The notebooks, in order, and what each asks of you",
        "",
        "The notebooks are in `notebooks/`. Sections are their numbered headings; the TODO line above each stub names",
        "the same section.",
        "",
    ]
    lines += notebook_table(notebooks)
    lines += [
        "## Checking your work",
        "",
        "On your machine, after `./setup.sh`:",
        "",
        f"    {PYTHON} -m cs231n_bn check                      # one line per function, in notebook order",
        f"    {PYTHON} -m cs231n_bn check batchnorm -v         # only the checks whose name contains \"batchnorm\"",
        f"    {PYTHON} -m cs231n_bn check --strict             # before you hand in: nothing may be left to do",
        f"    {PYTHON} -m pytest notebooks/{first}   # a notebook from the top, its outputs compared",
        "",
        "`check` tests each function you write, in the order the notebooks introduce them, without running the",
        "notebooks: use it as you go. `pytest` runs a notebook from the top under nbval, which compares what each",
        "cell prints with the reference run; run it once the notebook's functions pass.",
        "",
    ]
    ci = _workflow_comment(files)
    if ci:
        lines += ["In CI: this repository holds a GitHub Actions workflow, `" + WORKFLOW + "`. Its own description:",
                  ""]
        lines += [f"> {line}" if line else ">" for line in ci]
        lines += ["", "Open the run in your repository's Actions tab to see its summary and artifacts.", ""]
    lines += [
        "## What a verdict means",
        "",
        f"- `{PASSED}`: the function does what its notebook section asks, on every case the check tries (gradients",
        "  against centred differences in float64, the properties the math guarantees, numbers worked out by hand).",
        f"- `{TODO}`: its stub still raises `NotImplementedError`, or it calls a function that does; the line names",
        "  the notebook section to read. Not a failure until you hand in (`--strict` counts it as one).",
        f"- `{FAILED}`: it returns something wrong, and the line says what (for instance \"normalizes with the",
        "  unbiased variance\"); `-v` adds the traceback. Only the function named failed: fix it before the ones",
        "  after it, which may use it.",
        "- `check` exits with 0 when nothing failed and 1 when something did (with `--strict`, also when something is",
        "  not implemented yet), so a CI run is red exactly then.",
        "- A notebook under `pytest`: a passing cell printed what the reference run printed (timings and raw",
        "  errors are not compared); a failing one shows the cell and the difference. Outputs depend on the",
        "  functions before them: fix what `check` reports first.",
        "",
        "## Handing in",
        "",
        "Commit your work and push it to your repository; what is there at the deadline is what is graded, unless",
        "your course says otherwise. Before the last push:",
        "",
        f"    {PYTHON} -m cs231n_bn check --strict",
        f"    {PYTHON} -m pytest notebooks/",
        "",
        "Both must pass. Keep the notebooks' structure: write in the cells marked `# TODO` and the answer cells,",
        "and add cells of your own below them if you like, but do not delete or reorder cells, and do not edit the",
        "checks or the tests.",
    ]
    points = _autograding_points(files)
    if points:
        sections, total = points
        lines += [""] + _wrap(f"If your course grades on GitHub Classroom, each push is graded by `check`, notebook "
                              f"section by notebook section: {sections} sections, {total} points in all, a section's "
                              f"points when every check of that section passes (`{AUTOGRADING}` lists them).")
    lines += [
        "",
        "## Colab and other hosted notebooks",
        "",
    ]
    lines += _wrap("Each notebook starts with a set-up cell for hosted notebooks (Colab, or a JupyterHub without "
                   "this repository). In this repository after `./setup.sh` it does nothing, and nbval skips it. On a "
                   "JupyterHub, clone your repository and open the notebooks in its `notebooks/` folder: the cell "
                   "installs your clone (editable, so that the notebooks run the files you complete) and fetches "
                   "the data the notebook uses.")
    lines.append("")
    if package:
        lines += _wrap(f"Elsewhere (Colab opening a notebook by itself) it installs the course's copy of the package, "
                       f"`{package}`, whose functions are stubs: you can read the notebook, run it up to the first "
                       f"function not written yet, and write its TODO cells, but the package functions are written "
                       f"in your repository.")
    else:
        lines += _wrap("Elsewhere (Colab opening a notebook by itself) it stops with a message: the course publishes "
                       "no package for hosted notebooks, so they run in your repository.")
    lines += [
        "",
        "## Good to know",
        "",
        "- Data sets are kept in `datasets/` (or where the environment variable `CS231N_BN_DATA` says), and checked",
        "  against known digests every time they are loaded. `" + PYTHON + " -m cs231n_bn fetch mnist` fetches MNIST,",
        "  which the reproduction notebook can use instead of Fashion-MNIST.",
        "- Training here uses small matrices, for which one BLAS thread is fastest. On a busy machine, start",
        "  JupyterLab with `OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1` in front of the command.",
        "- `" + PYTHON + " -m cs231n_bn COMMAND --help` describes a command's options.",
        "",
    ]
    return "\n".join(lines)
