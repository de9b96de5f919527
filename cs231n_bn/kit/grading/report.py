"""Machine-readable output of ``python -m cs231n_bn check``, for CI: a markdown table and a JUnit XML file.

Both carry the verdicts and messages of the terminal table (``passed``, ``not yet implemented`` with where to look,
``FAILED`` with the first reason), in the same order:
- ``--format markdown`` prints the table as markdown instead of the terminal lines; ``--markdown FILE`` appends it
  to FILE (``$GITHUB_STEP_SUMMARY``: the grader writes it itself, so no pipe is needed);
- ``--format json`` prints one JSON object (every check's verdict and reason, the summary): what the nbgrader and
  Gradescope engines read;
- ``--junit FILE`` writes one JUnit test case per check (FAILED is a failure; not yet implemented is skipped, or a
  failure with --strict; a check an interrupted run did not reach is skipped);
- ``--ready-notebooks FILE`` writes the notebooks whose functions all pass, one path a line (a notebook is ready
  when every check of it and of the notebooks before it, in the notebooks' order, passes): the ones CI runs
  under nbval before a final submission.
"""

import xml.etree.ElementTree as ET
from pathlib import Path

from cs231n_bn.kit.atomic import atomic_write

from .checks import NOTEBOOK_ORDER

FORMATS = ("text", "markdown", "json")
VERDICT_ICONS = {"passed": "✅", "not yet implemented": "⏳", "FAILED": "❌"}

EXIT_CODES = """exit codes:
  0    every check that ran passed or is not yet implemented
  1    a check FAILED (with --strict: also a check not yet implemented)
  2    usage error (e.g. no check matches the names given)
  130  interrupted (Ctrl-C); the summary of what ran is still printed"""


def add_arguments(parser):
    """The output options of ``check`` (and the exit codes, in its --help)."""
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text: the terminal table (default); markdown: the same table in markdown; json: one "
                             "JSON object with every verdict")
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="also append the table in markdown to FILE (e.g. \"$GITHUB_STEP_SUMMARY\")")
    parser.add_argument("--junit", type=Path, metavar="FILE",
                        help="also write the verdicts as JUnit XML to FILE (one test case per check)")
    parser.add_argument("--ready-notebooks", type=Path, metavar="FILE",
                        help="also write the notebooks whose functions all pass to FILE, one path a line")
    parser.add_argument("--exact", action="store_true",
                        help="the names given are whole check names (e.g. a section's checks), not parts of names")
    parser.epilog = EXIT_CODES
    parser.formatter_class = _raw_epilog(parser.formatter_class)


def _raw_epilog(base):
    import argparse

    class Formatter(base):
        def _fill_text(self, text, width, indent):
            return "".join(indent + line for line in text.splitlines(keepends=True))
    return Formatter if base is argparse.HelpFormatter else base


def select(checks, names, exact):
    """The checks a run covers: all, those named exactly, or those whose name contains one of ``names``."""
    if not names:
        return list(checks)
    if exact:
        return [c for c in checks if c.name in names]
    return [c for c in checks if any(word in c.name for word in names)]


def write(args, entries, outcomes, summary, strict=False, tree=None):
    """Everything the output options ask for, once the run is over.

    Inputs:
    - args: the parsed arguments (format, markdown, junit, ready_notebooks)
    - entries: the checks the run covered, in order; outcomes: the Outcome of each one that ran, in order
      (fewer than entries when interrupted)
    - summary: the terminal summary line ("3 passed, 1 failed, ...")
    - tree: the folder of the package under test (its notebooks/ for --ready-notebooks)
    """
    if args.format == "markdown":
        print(markdown(entries, outcomes, summary, strict), flush=True)
    if args.format == "json":
        print(as_json(entries, outcomes, summary), flush=True)
    if args.markdown is not None:
        with open(args.markdown, "a", encoding="utf-8") as file:
            file.write(markdown(entries, outcomes, summary, strict) + "\n")
    if args.junit is not None:
        _atomic_text(args.junit, junit(entries, outcomes, strict))
    if args.ready_notebooks is not None:
        folder = None if tree is None else Path(tree) / "notebooks"
        _atomic_text(args.ready_notebooks, "".join(f"{path}\n" for path in ready_notebooks(entries, outcomes, folder)))


def as_json(entries, outcomes, summary):
    """One JSON object: {"summary": ..., "checks": [{"name", "notebook", "status", "reason"}, ...]} (checks an
    interrupted run did not reach have status "not run")."""
    import json
    ran = {outcome.name: outcome for outcome in outcomes}
    return json.dumps({"summary": summary, "checks": [
        {"name": entry.name, "notebook": entry.notebook,
         "status": ran[entry.name].status if entry.name in ran else "not run",
         "reason": ran[entry.name].reason if entry.name in ran else ""} for entry in entries]})


def _cell(text):
    """Text safe inside one markdown table cell."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def markdown(entries, outcomes, summary, strict=False):
    """The terminal table as markdown: a title, one row per check (not reached ones included), the summary."""
    ran = {outcome.name: outcome for outcome in outcomes}
    failed = sum(o.status == "FAILED" for o in outcomes)
    todo = sum(o.status == "not yet implemented" for o in outcomes)
    verdict = ("❌ a function fails" if failed else "⏳ not everything is implemented yet (final submission)"
               if strict and todo else "⏳ passing so far" if todo else "✅ every function passes")
    lines = [f"### cs231n_bn self-check: {verdict}", "", "| | check | notebook | verdict | reason |",
             "| --- | --- | --- | --- | --- |"]
    for entry in entries:
        outcome = ran.get(entry.name)
        status = outcome.status if outcome else "not run (interrupted)"
        reason = outcome.reason if outcome else ""
        lines.append(f"| {VERDICT_ICONS.get(status, '')} | `{entry.name}` | {_cell(entry.notebook)} | {status} | "
                     f"{_cell(reason)} |")
    lines += ["", f"**{_cell(summary)}**"]
    return "\n".join(lines)


def junit(entries, outcomes, strict=False):
    """JUnit XML: one testsuite per notebook, one testcase per check, in order."""
    ran = {outcome.name: outcome for outcome in outcomes}
    top = ET.Element("testsuites", name="cs231n_bn check")
    suites = {}
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for entry in entries:
        suite = suites.get(entry.notebook)
        if suite is None:
            suite = suites[entry.notebook] = ET.SubElement(top, "testsuite", name=entry.notebook)
            suite.attrib.update(tests="0", failures="0", errors="0", skipped="0")
        case = ET.SubElement(suite, "testcase", name=entry.name, classname=f"cs231n_bn.check.{Path(entry.notebook).stem}")
        outcome = ran.get(entry.name)
        kind = None
        if outcome is None:
            kind, message, text = "skipped", "not run (interrupted)", ""
        elif outcome.status == "FAILED":
            kind, message, text = "failure", outcome.reason, outcome.details
        elif outcome.status != "passed":
            message = f"{outcome.status}: {outcome.reason}" if outcome.reason else outcome.status
            kind, text = ("failure" if strict else "skipped"), ""
        if kind is not None:
            element = ET.SubElement(case, kind, message=message)
            if kind == "failure":
                element.set("type", "NotImplementedError" if outcome.status != "FAILED" else "CheckFailed")
                element.text = text or message
        for key, name in (("tests", "tests"), ("failures", "failure"), ("skipped", "skipped")):
            if key == "tests" or kind == name:
                suite.set(key, str(int(suite.get(key)) + 1))
                totals[key] += 1
    top.attrib.update({key: str(value) for key, value in totals.items()}, errors="0")
    ET.indent(top)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(top, encoding="unicode") + "\n"


def ready_notebooks(entries, outcomes, folder=None):
    """Paths (relative to the tree, e.g. ``notebooks/Dropout.ipynb``) of the notebooks whose functions all pass.

    A notebook is ready when every check of it and of the notebooks before it in NOTEBOOK_ORDER passed; a notebook
    not in that order only when every check passed. Only a run of every check can make a notebook ready.
    """
    from .checks import CHECKS

    if folder is None:
        folder = Path(__file__).resolve().parents[3] / "notebooks"
    passed = {o.name for o in outcomes if o.status == "passed"}
    if [c.name for c in entries] != [c.name for c in CHECKS]:
        return []
    ready = []
    for path in sorted(Path(folder).glob("*.ipynb"), key=lambda p: _position(p.name)):
        position = _position(path.name)
        needed = [c.name for c in CHECKS if _position(c.notebook) <= position]
        if all(name in passed for name in needed):
            ready.append(f"{Path(folder).name}/{path.name}")
    return ready


def _position(notebook):
    return NOTEBOOK_ORDER.index(notebook) if notebook in NOTEBOOK_ORDER else len(NOTEBOOK_ORDER)


def _atomic_text(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode("utf-8"))
