"""The runner: every verdict of the grader is decided here, in the grader's process.

``run(entries, tree)`` runs each check (checks.CHECKS entries) against the student's package at ``tree``, whose
code runs in a child process (remote.Child; remote.InProcess where no process can be started), and returns one
Outcome per check: ``passed``, ``not yet implemented`` (a stub still raises NotImplementedError, or the function
needs one that does) or ``FAILED`` with the first reason. Whatever the student's code does, it only ever produces
data for the checks to judge: an exception, an exit, a hang past the time limit or a broken reply is that check
failing, and the next check gets a fresh process.
"""

import re
import time
from dataclasses import dataclass

from . import sandbox
from .checks import CHECKS
from .checks.expect import CheckFailed
from .remote import Child, ChildFailed, InProcess, Student, StudentError, StudentNotImplemented

PASSED, TODO, FAILED = "passed", "not yet implemented", "FAILED"
TIME_LIMIT = 30.0  # seconds per check; every check of a correct solution takes well under one second
START_LIMIT = 120.0  # seconds for a new child to start (Python and NumPy), not counted in the check's time
TIMING_LIMIT = 20.0  # seconds the timing of a training step may take (speed.profile: a few steps and baselines)
_WHERE = re.compile(r"\(([^()]*\.ipynb[^()]*)\)\.?\s*$")


@dataclass
class Outcome:
    name: str
    status: str
    reason: str = ""
    details: str = ""   # more for --verbose: what the student's code printed, the grader's traceback
    note: str = ""      # for a check that passed: a warning worth reading (a training step much slower than needed)

    def line(self, width):
        text = f"{self.name:<{width}}  {self.status}"
        return f"{text}: {self.reason}" if self.reason else text


def in_process_only():
    """True where no process can be started (the browser's Python)."""
    import sys
    return sys.platform == "emscripten"


class Runner:
    """Runs checks against the package at ``tree``, one child process at a time (a new one after a failure that
    ended the last). ``reap_orphans``: also end every process the child left behind (only when this process is
    the grader alone, the command line: it takes every orphan that comes to this process)."""

    def __init__(self, tree, time_limit=TIME_LIMIT, in_process=None, reap_orphans=False):
        self.tree, self.time_limit, self.reap_orphans = tree, time_limit, reap_orphans
        self.in_process = in_process_only() if in_process is None else in_process
        self.channel = None
        self.failed = []  # the names of the checks that failed so far, in order
        if reap_orphans and not self.in_process:
            sandbox.guard_grader()

    def where(self):
        return sandbox.describe(self.in_process)

    def _fresh(self):
        if self.channel is None:
            self.channel = (InProcess(self.tree) if self.in_process else Child(self.tree)).start()
        return self.channel

    def close(self):
        if self.channel is not None:
            self.channel.close(reap_orphans=self.reap_orphans)
            self.channel = None

    def run_one(self, entry):
        """One check -> Outcome. A failure after the failure of a check it needs says so first."""
        outcome = self._run(entry)
        if outcome.status == PASSED and entry.timing is not None:
            outcome.note = self._timing_note(entry.timing)
        if outcome.status == FAILED:
            needed = [name for name in self.failed if any(_part_of(name, need) for need in entry.needs)]
            if needed:
                them = "it" if len(needed) == 1 else "them"
                outcome.reason = f"after {', '.join(needed)} failed above (if this uses {them}, fix {them} first): " \
                                 f"{outcome.reason}"
            self.failed.append(entry.name)
        return outcome

    def _run(self, entry):
        channel = self._fresh()
        student = Student(channel, time.monotonic() + START_LIMIT)
        printed_before = len(channel.printed())
        try:
            student.reset()  # the child is ready: the check's own time starts now
            student.deadline = time.monotonic() + self.time_limit if self.time_limit else float("inf")
            entry.run(student)
        except StudentNotImplemented as error:
            return Outcome(entry.name, TODO, _todo_reason(entry, error))
        except CheckFailed as error:
            return Outcome(entry.name, FAILED, str(error) or "an expectation failed", _printed(channel, printed_before))
        except StudentError as error:
            return Outcome(entry.name, FAILED, _raised(error), _printed(channel, printed_before))
        except ChildFailed as error:
            self.close()
            where = f" (at {error.where})" if error.where else ""
            reason = (f"still running after {self.time_limit:g} s{_in(error.call)}{where}, the time limit per check "
                      f"(an endless loop?); stopped" if error.reason == "timeout" else f"{error.reason}{_in(error.call)}")
            return Outcome(entry.name, FAILED, reason, _printed(channel, printed_before))
        except Exception as error:  # the check could not use what the student's code returned
            import traceback
            return Outcome(entry.name, FAILED, f"could not check what your code returned ({type(error).__name__}: "
                                               f"{error})", traceback.format_exc())
        finally:
            del student
        return Outcome(entry.name, PASSED)

    def _timing_note(self, timing):
        """'slow: ...' if the training step of ``timing`` is much slower than its matrix products need, else ''.
        A warning only: nothing here changes a verdict (a step that does not finish in time is said to be slow)."""
        from cs231n_bn.kit import speed

        student = Student(self._fresh(), time.monotonic() + TIMING_LIMIT)
        try:
            profile = getattr(student.module("kit.speed"), timing.function)(*timing.args)
            slow, text = speed.verdict(profile, timing.what, timing.steps)
        except ChildFailed as error:
            self.close()
            return f"slow: {timing.what} did not finish its timing in {TIMING_LIMIT:g} s" \
                if error.reason == "timeout" else ""
        except Exception:  # the student's code raised, or sent back something else than a profile: no warning
            return ""
        finally:
            del student
        return f"slow: {text}" if slow else ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def run(entries, tree, time_limit=TIME_LIMIT, in_process=None, reap_orphans=False, each=None):
    """Run ``entries`` (default: every check) on the package at ``tree``; returns their Outcomes, in order.

    ``each(outcome)`` is called as each check ends (for a live display). KeyboardInterrupt stops the run and
    propagates, with the outcomes so far in its ``outcomes`` attribute.
    """
    outcomes = []
    with Runner(tree, time_limit, in_process, reap_orphans) as runner:
        try:
            for entry in CHECKS if entries is None else entries:
                outcome = runner.run_one(entry)
                outcomes.append(outcome)
                if each is not None:
                    each(outcome)
        except KeyboardInterrupt as interrupt:
            interrupt.outcomes = outcomes
            raise
    return outcomes


def _in(call):
    return f" in {call}" if call else ""


def _printed(channel, since):
    text = channel.shown(since)
    return f"your code printed:\n{text}" if text.strip() else ""


def _raised(error):
    """A student's exception as one line: what it was, where, and what to do."""
    if error.type_name in ("SystemExit", "KeyboardInterrupt"):
        what = f"{error.type_name}({error.message})" if error.type_name == "SystemExit" else error.type_name
        return f"{what} raised{error.location()}: a function must return its result, not stop the program"
    return error.describe()


def _part_of(name, need):
    """True if the check ``name`` is ``need`` or one of its family ('layers.affine' covers 'layers.affine_forward')."""
    return name == need or (name.startswith(need) and name[len(need)] in "._")


def _todo_reason(entry, error):
    """Where to look: the notebook section named by the stub, or the function this one is waiting for."""
    raised_in = error.frames[-1][2] if error.frames else ""
    message = error.message
    where = _WHERE.search(message)
    section = where.group(1) if where else entry.notebook
    if raised_in and raised_in not in entry.functions and raised_in != "<module>":
        function = message.split(":", 1)[0] if ":" in message else raised_in
        return f"needs {function} first ({section})"
    return section
