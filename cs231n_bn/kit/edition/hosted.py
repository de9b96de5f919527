"""The set-up cell the release puts first in every student notebook, for hosted notebooks (Colab, a JupyterHub
without the course's repository), as d2l's notebooks start with ``!pip install d2l``.

Where ``cs231n_bn`` is importable (the repository after ``./setup.sh``) the cell installs nothing; elsewhere it
installs the package with ``%pip``:

- from the repository the notebook sits in (``notebooks/`` of a clone that was not set up: a student's clone on a
  hub), editable, so that the notebooks run the files the student completes;
- otherwise from what the course publishes (``release --package``: a wheel's URL or path, or a pip requirement
  such as ``git+https://...``); without one, the cell says where to run the notebook instead.

Then it fetches the data sets the notebook uses when they are missing (``fetch.fetch_missing``; from the course's
mirror first when ``release --data-mirror`` names one), which is a few ``stat`` calls where they are in place.
The cell is tagged ``nbval-skip``: nbval never runs it, so it cannot disturb a checkout's validation. It lives
only in the student edition; the solution edition's notebooks never hold it.
"""

import ast
import copy
import io
import re
import tokenize
import urllib.parse
from dataclasses import dataclass
from typing import Optional

import nbformat

SETUP_TAG = "hosted-setup"
NBVAL_SKIP_TAG = "nbval-skip"
CELL_ID = "hosted-setup"
# Characters IPython would expand or the shell would split in a %pip line.
_UNSAFE = re.compile(r"[\s${}'\"`\\;&|<>]")


@dataclass(frozen=True)
class Setup:
    """What the set-up cell installs and where it fetches data from.

    - package: the pip requirement of the student edition's package (a wheel's URL or path, ``git+https://...``);
      None: the course publishes none, and the cell says so when the package is missing.
    - mirror: the course's data mirror (a base URL serving NAME/ARCHIVE, see fetch.py); None: the usual sources.
    """

    package: Optional[str] = None
    mirror: Optional[str] = None

    def __post_init__(self):
        if self.package is not None and (not self.package or _UNSAFE.search(self.package)):
            raise ValueError(f"package {self.package!r}: expected a wheel's URL or path, or a pip requirement such "
                             f"as git+https://host/course/repo, without spaces, quotes, $, braces or shell "
                             f"characters")
        if self.mirror is not None and urllib.parse.urlsplit(self.mirror).scheme not in ("http", "https", "file"):
            raise ValueError(f"data mirror {self.mirror!r}: expected an http, https or file URL")


def is_setup_cell(cell):
    """True for the set-up cell (tagged ``hosted-setup``)."""
    return SETUP_TAG in cell.get("metadata", {}).get("tags", [])


def datasets_used(nb, names):
    """The data sets of ``names`` that the notebook's code names in a string literal, in order of first use.

    Comments do not count (``# or "mnist"`` mentions a data set the notebook does not load).
    """
    used = []
    for cell in nb.cells:
        if cell.cell_type != "code" or is_setup_cell(cell):
            continue
        for value in _string_literals(cell.source):
            if value in names and value not in used:
                used.append(value)
    return used


def _string_literals(source):
    """The values of the string literals in Python source (IPython magics and shell escapes blanked out)."""
    text = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    values = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.STRING:
                try:
                    value = ast.literal_eval(token.string)
                except (ValueError, SyntaxError):
                    continue
                if isinstance(value, str):
                    values.append(value)
    except (tokenize.TokenError, SyntaxError):
        pass
    return values


def setup_source(datasets, setup=Setup()):
    """The set-up cell's code for a notebook that uses ``datasets``."""
    if setup.package is None:
        install = ('        raise ModuleNotFoundError(\n'
                   '            "cs231n_bn is not installed here, and the course publishes no package for hosted "\n'
                   '            "notebooks: open this notebook in your copy of the course\'s repository after "\n'
                   '            "./setup.sh (its README says how)")\n')
    else:
        install = f"        %pip install --quiet {setup.package}\n"
    lines = [
        "# Set-up for hosted notebooks (Colab, a JupyterHub without the course's repository): installs the cs231n_bn",
        "# package when it is missing" + (", then fetches the data this notebook uses when they are missing."
                                           if datasets else "."),
        "# In the repository after ./setup.sh it does nothing. nbval skips this cell.",
        "import importlib",
        "import importlib.util",
        "import pathlib",
        "import sys",
        "",
        'if importlib.util.find_spec("cs231n_bn") is None:',
        "    repository = pathlib.Path.cwd().parent  # when this notebook is in notebooks/ of a clone of the repository",
        '    if (repository / "cs231n_bn" / "__init__.py").is_file():',
        '        %pip install --quiet --editable "{repository}"',
        "        sys.path.insert(0, str(repository))  # this kernel started before the install",
        "    else:",
        install.rstrip("\n"),
        "    importlib.invalidate_caches()",
    ]
    if datasets:
        lines += ["",
                  "from cs231n_bn.kit.data.fetch import fetch_missing",
                  "",
                  f"fetch_missing({list(datasets)!r}" + (f", mirror={setup.mirror!r})" if setup.mirror else ")")]
    return "\n".join(lines)


def setup_cell(datasets, setup=Setup()):
    """The set-up cell (a new code cell, no outputs) for a notebook that uses ``datasets``."""
    cell = nbformat.v4.new_code_cell(setup_source(datasets, setup))
    cell.id = CELL_ID
    cell.metadata["tags"] = [NBVAL_SKIP_TAG, SETUP_TAG]
    return cell


def add_setup_cell(nb, setup=Setup(), names=None):
    """Put the set-up cell first in ``nb`` (in place), replacing one that is there already.

    names: the data set names to look for (default: sources.DATASETS).
    """
    if names is None:
        from cs231n_bn.kit.data.sources import DATASETS
        names = tuple(DATASETS)
    nb.cells = [cell for cell in nb.cells if not is_setup_cell(cell)]
    cell = setup_cell(datasets_used(nb, names), setup)
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        del cell["id"]  # cells have ids from nbformat 4.5 on
    nb.cells.insert(0, cell)
    return nb


def without_setup_cell(nb):
    """A copy of ``nb`` without the set-up cell (the notebook as the solution edition has it)."""
    plain = copy.deepcopy(nb)
    plain.cells = [cell for cell in plain.cells if not is_setup_cell(cell)]
    return plain
