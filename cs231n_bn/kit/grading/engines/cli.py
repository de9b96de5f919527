"""``python -m cs231n_bn check``: which of your functions work yet, in the order the notebooks introduce them.

One line per function: ``passed``, ``not yet implemented`` (its stub still raises NotImplementedError, or it
needs a function that does), or ``FAILED`` with the first reason. --verbose adds what your code printed and more
detail for each failure. The exit code is 1 if anything failed (with --strict, also if anything is not implemented
yet), else 0.

Your functions run in a separate process (sandbox.describe says how it is confined); this process only sends them
inputs and judges what comes back, so nothing your code does (printing, exiting, patching modules, writing files)
changes a verdict, the summary, the exit code or a report. A check that runs longer than --time-limit seconds (an
endless loop) is stopped and reported as such, and Ctrl-C stops the run and still prints what was found so far.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from ...browser import student_tree
from .. import report
from ..checks import CHECKS
from ..runner import FAILED, PASSED, TIME_LIMIT, TODO, Runner


def package_tree():
    """The folder holding the cs231n_bn package under test: the one this command belongs to, or in the browser
    edition the site's files, where the student's edits are (kit/browser.py)."""
    return student_tree() or Path(__file__).resolve().parents[4]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m cs231n_bn check", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="run only the checks whose name contains one of these words")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print more about every failure (what your code printed)")
    parser.add_argument("--strict", action="store_true", help="exit 1 unless every check passes")
    parser.add_argument("--list", action="store_true", help="list the checks in order and exit")
    parser.add_argument("--time-limit", type=_seconds, default=TIME_LIMIT, metavar="SECONDS",
                        help=f"stop a check that runs longer than this (default {TIME_LIMIT:g})")
    parser.add_argument("--in-process", action="store_true",
                        help="run your functions in this process (where no other process can be started, as in the "
                             "browser, this is the default); nothing then separates your code from the verdicts")
    parser.add_argument("--tree", type=Path, default=None, metavar="DIR",
                        help="check the package in DIR (a folder holding cs231n_bn/) instead of this one")
    report.add_arguments(parser)  # --format, --markdown, --junit, --ready-notebooks, --exact; the exit codes
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
    tree = (args.tree or package_tree()).resolve()
    if not (tree / "cs231n_bn").is_dir():
        print(f"error: --tree {args.tree}: no cs231n_bn package in it", file=sys.stderr)
        return 2
    start = time.perf_counter()
    counts = {PASSED: 0, TODO: 0, FAILED: 0}
    outcomes = []
    text = args.format == "text"
    interrupted = False
    runner = Runner(tree, args.time_limit, in_process=True if args.in_process else None, reap_orphans=True)
    try:
        if text:
            print(f"Your functions run {runner.where()}.", flush=True)
        for entry in entries:
            outcome = runner.run_one(entry)
            counts[outcome.status] += 1
            outcomes.append(outcome)
            if text:
                print(outcome.line(width), flush=True)
                if outcome.note:
                    print("    " + outcome.note, flush=True)
                if args.verbose and outcome.status == FAILED and outcome.details:
                    print("    " + outcome.details.rstrip().replace("\n", "\n    "), flush=True)
    except KeyboardInterrupt:  # Ctrl-C: stop here, still say what was found
        interrupted = True
    finally:
        runner.close()  # every process the student's code started is gone before anything is reported
    skipped = len(entries) - sum(counts.values())
    stop = f", {skipped} not run (interrupted)" if interrupted else ""
    summary = (f"{counts[PASSED]} passed, {counts[FAILED]} failed, {counts[TODO]} not yet implemented{stop} "
               f"({time.perf_counter() - start:.1f} s)")
    try:
        if text:
            print(summary, flush=True)
        report.write(args, entries, outcomes, summary, args.strict, tree)
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
