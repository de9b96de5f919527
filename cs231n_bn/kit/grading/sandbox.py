"""What keeps the student's process away from the grader: operating-system limits, on Linux, where they exist.

In the grader (``guard_grader``, once, before the first child starts):
- not dumpable: other processes of the same user can neither trace the grader nor open its /proc files (its
  pipes, its memory), so the child cannot write into the grader's output or read its state;
- a subreaper: a process the child starts and leaves behind becomes the grader's child, so that
  ``end_descendants`` can stop every one of them before the grader reports.

In the child (``confine``, run by the child's bootstrap before it imports any student code):
- when the grader runs as root (containers, Gradescope): the child becomes the unprivileged user ``nobody``, which
  can read the package but write nothing of the grader's, nor signal it;
- no file may grow (RLIMIT_FSIZE 0): the child cannot write a report, a summary or any other file's content;
- a bound on processes and CPU time, no core files;
- it dies with the grader (PR_SET_PDEATHSIG).
Elsewhere (macOS, Windows, the browser) these are skipped; ``describe()`` says which apply.
"""

import os
import signal
import sys

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 1, 4, 36
NOBODY = 65534
CHILD_PROCESSES = 64      # processes the child may start beyond those its user already runs
CHILD_CPU_SECONDS = 3600  # a backstop: the grader's time limit per check ends a run long before this


def _prctl(option, value):
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def linux():
    return sys.platform.startswith("linux")


def guard_grader():
    """Make this (the grader's) process untraceable and the reaper of whatever its children leave behind."""
    if linux():
        _prctl(PR_SET_DUMPABLE, 0)
        _prctl(PR_SET_CHILD_SUBREAPER, 1)


# Modules loaded before the child gives up root: where the interpreter itself lives in a folder only root may read
# (a Python under /root), these would be out of reach afterwards. The student's package is imported after.
PRELOAD = ("numpy", "numpy.random", "numpy.linalg", "numpy.fft", "numpy.lib.stride_tricks", "zlib", "math", "numbers", "collections", "collections.abc", "functools",
           "itertools", "operator", "copy", "dataclasses", "typing", "enum", "abc", "re", "random", "time",
           "inspect", "traceback", "warnings", "weakref", "json", "struct", "io", "importlib", "importlib.util",
           "ctypes", "resource", "signal", "select", "pathlib", "textwrap", "string", "fractions", "decimal",
           "statistics", "contextlib", "types", "heapq", "bisect", "array", "os", "subprocess", "shutil", "tempfile",
           "threading", "multiprocessing", "socket", "pickle", "csv", "datetime", "logging", "argparse", "glob",
           "fnmatch", "hashlib", "base64", "atexit", "platform", "gc", "pprint", "queue", "uuid", "urllib.request",
           "zipfile", "gzip", "unittest")


def confine():
    """Applied inside the child before any student code runs (see the module docstring)."""
    if not linux():
        return
    if os.geteuid() == 0:
        import importlib
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
    import resource
    limits = [(resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0),
              (resource.RLIMIT_CPU, CHILD_CPU_SECONDS)]
    if os.geteuid() == 0:
        limits.append((resource.RLIMIT_NPROC, CHILD_PROCESSES))
    else:
        limits.append((resource.RLIMIT_NPROC, _processes_of(os.getuid()) + CHILD_PROCESSES))
    for kind, value in limits:
        try:
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError):
            pass
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
    if os.getppid() == 1:  # the grader died before the line above
        os._exit(1)


def _processes_of(uid):
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def _children_of(pid):
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(name))
    return found


def _start_time(pid):
    """When process ``pid`` started (clock ticks since boot, /proc/PID/stat), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def end_descendants(process=None, rounds=50):
    """Kill ``process``'s process group and every process left behind that became this process's child: those
    started since ``process`` was (its orphans), never a child the grader's own process had started before it (a
    program that runs the grader in-process, such as a test session, keeps its other children)."""
    since = _start_time(process.pid) if process is not None and linux() else None
    if process is not None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.kill()
        except ProcessLookupError:
            pass
        process.wait()
    if not linux():
        return
    for _ in range(rounds):  # orphans of the child come to the subreaper; a process that forks anew takes rounds
        children = [pid for pid in _children_of(os.getpid())
                    if since is None or (_start_time(pid) or since) >= since]
        if not children:
            return
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def describe(in_process=False):
    if in_process:
        return ("in this process, with no time limit (no other process or thread can be started here): a verdict "
                "is for your own information")
    if not linux():
        return "in a separate process"
    who = "as the user nobody, " if os.geteuid() == 0 else ""
    return f"in a separate process, {who}writing no files"
