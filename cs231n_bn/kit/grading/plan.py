"""The grading plan: which self-checks each numbered notebook section scores, and how many points.

One table serves every engine: the nbgrader course (one autograded cell per section), the Gradescope bundle (one
test per section), GitHub Classroom (one command per section). A check goes to the section whose TODO asks for
its function (``grading_plan``). The plan is computed from the solution edition (its notebooks and the solution
regions of its package) when a course, a bundle or a student edition is built, and travels with it as JSON
(``to_json`` / ``from_json``).
"""

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from ..edition.markers import find_regions
from .checks import CHECKS, NOTEBOOK_ORDER

PACKAGE = "cs231n_bn"
POINTS_PER_CHECK = 1
_HEADING = re.compile(r"^#{1,2}\s+\S")                        # a title or a section: ends the section before it
_SECTION = re.compile(r"^##\s+(?P<number>\d+)\.?\s+(?P<title>\S.*?)\s*$")
_TODO_WHERE = re.compile(r"\((?P<notebook>[^(),]+\.ipynb),\s*section\s+(?P<number>\d+)")


@dataclass(frozen=True)
class Section:
    """One autograded test cell: the self-checks of one numbered notebook section."""

    notebook: str    # e.g. "BatchNormalization.ipynb"
    number: str      # "2"; "" for a notebook without numbered sections
    title: str
    checks: tuple    # names of checks.CHECKS entries, in registry order
    points: int

    @property
    def grade_id(self):
        return f"checks-section-{self.number}" if self.number else "checks"


def notebook_order(names):
    """Notebook file names in the order students meet them (checks.NOTEBOOK_ORDER), any others after, sorted."""
    known = [name for name in NOTEBOOK_ORDER if name in names]
    return known + sorted(set(names) - set(known))


def notebook_sections(nb):
    """The numbered top-level sections ("## N. Title") of a notebook.

    Returns a list of (number, title, start, end): the heading cell's index and the index of the next title or
    level-2 heading (or the number of cells), so that cells start..end-1 make up the section.
    """
    heads = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if _HEADING.match(line):
                heads.append((index, _SECTION.match(line)))
                break
    sections = []
    for k, (index, match) in enumerate(heads):
        if match is not None:
            end = heads[k + 1][0] if k + 1 < len(heads) else len(nb.cells)
            sections.append((match.group("number"), match.group("title"), index, end))
    return sections


def package_regions(root):
    """(path, Region) for every solution region in the package's .py files under ``root``, in path order."""
    found = []
    for path in sorted((Path(root) / PACKAGE).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if "__pycache__" in path.parts:
            continue
        found += [(rel, region) for region in find_regions(path.read_text(encoding="utf-8"), rel,
                                                           require_function=True)]
    return found


def check_section(check, regions, nb, sections):
    """The number of the section that asks for the function ``check`` checks, or None if no section says so.

    The check's own ``section`` if the registry gives one; else the section the TODO of the checked function names
    (the first one, for a function several sections ask for, like FullyConnectedNet.loss); else the first section
    whose code calls the function.
    """
    numbers = [number for number, _, _, _ in sections]
    own = re.match(r"\D*(\d+)", str(getattr(check, "section", "") or ""))
    if own and own.group(1) in numbers:
        return own.group(1)
    owner = re.split(r"[ .]", check.name, maxsplit=1)[0]      # "layers", "layer_utils", "FullyConnectedNet"
    named = []
    for path, region in regions:
        parts = region.function.split(".")
        if parts[-1] not in check.functions or owner not in (PurePosixPath(path).stem, parts[0]):
            continue
        where = _TODO_WHERE.search(region.todo_text)
        if where and where.group("notebook") == check.notebook and where.group("number") in numbers:
            named.append(int(where.group("number")))
    if named:
        return str(min(named))
    callees = [owner] if owner[:1].isupper() else [name for name in check.functions if not name.startswith("_")]
    calls = re.compile(r"\b(?:" + "|".join(map(re.escape, callees)) + r")\s*\(")
    for number, _, start, end in sections:
        if any(cell.cell_type == "code" and calls.search(cell.source) for cell in nb.cells[start:end]):
            return number
    return None


def grading_plan(root, notebooks):
    """The autograded sections of ``notebooks`` (file names under root/notebooks), in notebook order.

    Returns a list of Section: one per numbered section that scores at least one self-check, with
    POINTS_PER_CHECK points per check. A check goes to the section that asks for its function (check_section);
    one that no section names (a helper the notebook never calls itself) goes with the next check of its notebook
    in the registry's order (the one that uses it), else the previous one, else the last section. A notebook
    without numbered sections gets one Section (number "").
    """
    import nbformat  # here, not at the top: reading a plan (from_json) needs nothing beyond the standard library

    root = Path(root)
    regions = package_regions(root)
    plan = []
    for name in notebook_order(notebooks):
        nb = nbformat.read(str(root / "notebooks" / name), as_version=nbformat.NO_CONVERT)
        sections = notebook_sections(nb) or [("", _title(nb, name), 0, len(nb.cells))]
        entries = [entry for entry in CHECKS if entry.notebook == name]
        found = [check_section(entry, regions, nb, sections) for entry in entries]
        by_number = {number: [] for number, _, _, _ in sections}
        for k, entry in enumerate(entries):
            later = [number for number in found[k:] if number is not None]
            earlier = [number for number in found[:k] if number is not None]
            number = later[0] if later else earlier[-1] if earlier else sections[-1][0]
            by_number[number].append(entry.name)
        plan += [Section(name, number, title, tuple(by_number[number]), POINTS_PER_CHECK * len(by_number[number]))
                 for number, title, _, _ in sections if by_number[number]]
    return plan


def _title(nb, name):
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return name


def to_json(plan):
    return json.dumps([asdict(section) for section in plan], indent=1)


def from_json(text):
    """The plan ``to_json`` wrote; ValueError for anything else."""
    try:
        return [Section(s["notebook"], s["number"], s["title"], tuple(s["checks"]), int(s["points"]))
                for s in json.loads(text)]
    except (KeyError, TypeError) as error:
        raise ValueError(f"not a grading plan: {error}") from None


def check_entries(section):
    """The checks.CHECKS entries a section scores, in registry order."""
    return [entry for entry in CHECKS if entry.name in section.checks]
