"""Command line: ``python -m cs231n_bn COMMAND [ARGS]``.

Each command lives in its own module, which defines ``main(argv) -> int`` with its own argument parser;
this file only dispatches, and imports a command's module only when that command runs.
"""

import os
import sys

# `python -m` puts the current folder first on sys.path, ahead of the standard library: a file there named like a
# standard module (argparse.py, json.py) would be imported in its place by the command, the grader included. The
# package is imported already and finds its own modules through its __path__, so the folder comes off the path
# before anything else is imported.
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

import importlib  # noqa: E402
from pathlib import Path  # noqa: E402

COMMANDS = {
    "fetch": ("cs231n_bn.kit.data.fetch", "download and verify a data set (fashion-mnist, mnist, cifar10, all)"),
    "reproduce": ("cs231n_bn.kit.experiments.reproduce", "reproduce Ioffe & Szegedy 2015, Figure 1, headless"),
    "release": ("cs231n_bn.kit.edition.release", "build the student edition from this solution edition"),
    "check": ("cs231n_bn.kit.grading.engines.cli", "run the self-checks for what a student has implemented so far"),
    "nbgrader": ("cs231n_bn.kit.edition.nbgrader", "write an nbgrader course directory (source/NAME/ and its config)"),
    "gradescope": ("cs231n_bn.kit.edition.gradescope", "write the Gradescope autograder bundle (autograder.zip)"),
    "lite": ("cs231n_bn.kit.lite.command", "build the browser edition: a static JupyterLite site of the student edition"),
}


# Commands that build from the solution edition; the student edition's help leaves them out (they say so if run).
INSTRUCTORS = ("release", "nbgrader", "gradescope", "lite")


def _solution_edition():
    """True in the solution edition: its package holds the solution regions (the student edition's stubs do not)."""
    try:
        return "### BEGIN SOLUTION" in (Path(__file__).resolve().parent / "layers.py").read_text(encoding="utf-8")
    except OSError:
        return False


def usage():
    shown = [name for name in COMMANDS if name not in INSTRUCTORS or _solution_edition()]
    lines = ["usage: python -m cs231n_bn COMMAND [ARGS]", "", "commands:"]
    lines += [f"  {name:<10} {COMMANDS[name][1]}" for name in shown]
    lines += ["", "python -m cs231n_bn COMMAND --help describes a command's arguments."]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}; expected one of {', '.join(COMMANDS)}.\n", file=sys.stderr)
        print(usage(), file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[name][0])
    except KeyboardInterrupt:  # Ctrl-C before the command could start: each command handles it from then on
        print(f"{name}: interrupted while starting; nothing was done", file=sys.stderr)
        return 130
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
