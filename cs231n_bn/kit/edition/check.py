"""``python -m cs231n_bn check``: which of your functions work yet, in the order the notebooks introduce them.

One line per function: ``passed``, ``not yet implemented`` (its stub still raises NotImplementedError, or it
needs a function that does), or ``FAILED`` with the first reason. --verbose adds the traceback of each failure.
The exit code is 1 if anything failed (with --strict, also if anything is not implemented yet), else 0.

The summary line is printed however a student function ends: an exception, ``SystemExit`` or
``KeyboardInterrupt`` raised inside it counts as that check failing, a check that runs longer than
--time-limit seconds (an endless loop) is stopped and reported as such, and Ctrl-C stops the run and still
prints what was found so far.
"""

import argparse
import ctypes
import os
import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from . import report
from .checks import CHECKS

PASSED, TODO, FAILED = "passed", "not yet implemented", "FAILED"
TIME_LIMIT = 30.0  # seconds per check; every check of a correct solution takes well under one second
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


def run_check(entry, time_limit=None):
    """Run one registry entry; returns an Outcome.

    With ``time_limit`` (seconds) the check runs in a worker thread and a check still running after that long
    is stopped (an exception raised in the worker at its next Python statement) and reported as FAILED.
    """
    if time_limit is None:
        return _run(entry)
    result = []
    worker = threading.Thread(target=lambda: result.append(_run(entry)), name=f"check {entry.name}", daemon=True)
    worker.start()
    try:
        worker.join(time_limit)
    except KeyboardInterrupt:  # Ctrl-C while the check runs: stop it too
        _stop(worker)
        raise
    if worker.is_alive():
        frame = sys._current_frames().get(worker.ident)
        where = _package_frame(traceback.extract_stack(frame)[::-1]) if frame is not None else ""
        _stop(worker)
        return Outcome(entry.name, FAILED, f"still running after {time_limit:g} s{where}, the time limit per check "
                                           f"(an endless loop?); stopped")
    return result[0] if result else Outcome(entry.name, FAILED, "the check ended without a result")


class _TimeLimit(BaseException):
    """Raised inside a worker thread that ran past its time limit."""


def _stop(worker, wait=1.0):
    """Ask a running worker thread to stop: _TimeLimit is raised in it at its next Python statement."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident), ctypes.py_object(_TimeLimit))
    worker.join(wait)  # a thread stuck inside one long NumPy call stays a daemon; it ends with the process


def _run(entry):
    try:
        entry.run()
    except NotImplementedError as error:
        return Outcome(entry.name, TODO, _todo_reason(entry, error), traceback.format_exc())
    except AssertionError as error:
        return Outcome(entry.name, FAILED, str(error) or "an assertion failed", traceback.format_exc())
    except _TimeLimit:
        return Outcome(entry.name, FAILED, "stopped at the time limit", traceback.format_exc())
    except (SystemExit, KeyboardInterrupt) as error:  # a student function must return, not end the program
        what = type(error).__name__ + (f"({error.code!r})" if isinstance(error, SystemExit) else "")
        return Outcome(entry.name, FAILED, f"{what} raised{_location(error)}: a function must return its result, "
                                           f"not stop the program", traceback.format_exc())
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
    return _package_frame(reversed(traceback.extract_tb(error.__traceback__)))


def _package_frame(frames):
    """' (at layers.py:123 in batchnorm_forward)' for the first of ``frames`` in the student's package."""
    package = Path(__file__).resolve().parents[2]
    for frame in frames:
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
    parser.add_argument("--time-limit", type=_seconds, default=TIME_LIMIT, metavar="SECONDS",
                        help=f"stop a check that runs longer than this (default {TIME_LIMIT:g})")
    report.add_arguments(parser)  # --format, --junit, --ready-notebooks, --exact; the exit codes
    return parser.parse_args(argv)


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    entries = report.select(CHECKS, args.names, args.exact)
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
    outcomes = []
    text = args.format == "text"
    interrupted = False
    try:
        for entry in entries:
            try:
                outcome = run_check(entry, args.time_limit)
            except KeyboardInterrupt:  # Ctrl-C: stop here, still say what was found
                interrupted = True
                break
            counts[outcome.status] += 1
            outcomes.append(outcome)
            if text:
                print(outcome.line(width), flush=True)
            if text and args.verbose and outcome.status == FAILED:
                print("    " + outcome.details.rstrip().replace("\n", "\n    "))
        skipped = len(entries) - sum(counts.values())
        stop = f", {skipped} not run (interrupted)" if interrupted else ""
        summary = (f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[TODO]} not yet implemented{stop} "
                   f"({time.perf_counter() - start:.1f} s)")
        if text:
            print(summary, flush=True)
        report.write(args, entries, outcomes, summary, args.strict)
    except BrokenPipeError:  # e.g. piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if interrupted:
        return 130
    if counts[FAILED] or (args.strict and counts[TODO]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
