"""``python -m cs231n_bn check``: which of your functions work yet, in the order the notebooks introduce them.

One line per function: ``passed``, ``not yet implemented`` (its stub still raises NotImplementedError, or it
needs a function that does), or ``FAILED`` with the first reason. --verbose adds the traceback of each failure.
The exit code is 1 if anything failed (with --strict, also if anything is not implemented yet), else 0.
"""

import argparse
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .checks import CHECKS

PASSED, TODO, FAILED = "passed", "not yet implemented", "FAILED"
_WHERE = re.compile(r"\(([^()]*\.ipynb[^()]*)\)\.?\s*$")


@dataclass
class Outcome:
    name: str
    status: str
    reason: str = ""
    details: str = ""   # the traceback, for --verbose

    def line(self, width):
        text = f"{self.name:<{width}}  {self.status}"
        return f"{text}: {self.reason}" if self.reason else text


def run_check(entry):
    """Run one registry entry; returns an Outcome."""
    try:
        entry.run()
    except NotImplementedError as error:
        return Outcome(entry.name, TODO, _todo_reason(entry, error), traceback.format_exc())
    except AssertionError as error:
        return Outcome(entry.name, FAILED, str(error) or "an assertion failed", traceback.format_exc())
    except Exception as error:  # a crash in the student's code: name the exception and where it happened
        return Outcome(entry.name, FAILED, f"{type(error).__name__}: {error}{_location(error)}",
                       traceback.format_exc())
    return Outcome(entry.name, PASSED)


def _todo_reason(entry, error):
    """Where to look: the notebook section named by the stub, or the function this one is waiting for."""
    frames = traceback.extract_tb(error.__traceback__)
    raised_in = frames[-1].name if frames else ""
    message = str(error)
    where = _WHERE.search(message)
    section = where.group(1) if where else entry.notebook
    if raised_in and raised_in not in entry.functions and raised_in != "<module>":
        function = message.split(":", 1)[0] if ":" in message else raised_in
        return f"needs {function} first ({section})"
    return section


def _location(error):
    """' (at layers.py:123 in batchnorm_forward)' for the deepest frame inside the package."""
    package = Path(__file__).resolve().parents[2]
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename).resolve()
        if package in path.parents and "kit" not in path.relative_to(package).parts:
            return f" (at {path.relative_to(package).as_posix()}:{frame.lineno} in {frame.name})"
    return ""


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m cs231n_bn check", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="run only the checks whose name contains one of these words")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the traceback of every failure")
    parser.add_argument("--strict", action="store_true", help="exit 1 unless every check passes")
    parser.add_argument("--list", action="store_true", help="list the checks in order and exit")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    entries = [c for c in CHECKS if not args.names or any(word in c.name for word in args.names)]
    if not entries:
        print(f"error: no check matches {' '.join(args.names)!r}; see --list", file=sys.stderr)
        return 2
    width = max(len(c.name) for c in entries)
    if args.list:
        for entry in entries:
            print(f"{entry.name:<{width}}  {entry.notebook}")
        return 0
    start = time.perf_counter()
    counts = {PASSED: 0, TODO: 0, FAILED: 0}
    try:
        for entry in entries:
            outcome = run_check(entry)
            counts[outcome.status] += 1
            print(outcome.line(width), flush=True)
            if args.verbose and outcome.status == FAILED:
                print("    " + outcome.details.rstrip().replace("\n", "\n    "))
        print(f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[TODO]} not yet implemented "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if counts[FAILED] or (args.strict and counts[TODO]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
