"""The grader on Gradescope: one submission in, ``results/results.json`` out, every score decided here.

The bundle's ``run_autograder`` (written by ``python -m cs231n_bn gradescope``) runs ``main`` as root in ROOT
(``/autograder``; ``--root`` or ``$AUTOGRADER_ROOT`` for another folder laid out the same way):

    ROOT/source/edition/cs231n_bn/   the student edition's package: this grader, its checks, the released stubs
    ROOT/source/plan.json            the grading plan (plan.to_json): the nbgrader course's sections and points
    ROOT/source/student_files.json   the package files students complete, e.g. "cs231n_bn/layers.py"
    ROOT/submission/                 what the student uploaded
    ROOT/results/results.json        written here, once, after every process of the student's code has ended

1. ``gather``: each file students complete is taken from the submission, whether it holds the whole repository, a
   zip of it, or the files alone (``layers.py``): the file whose path ends with the most of the expected path. No
   other file of the submission is used; a missing file stays as released (its functions not implemented).
2. ``working_tree``: a fresh copy of the edition's package with those files in place, readable by everyone and
   writable by no one but this process (on Gradescope the student's code runs as the user ``nobody``).
3. ``grade``: every check of the plan through ``runner.Runner`` (each in the child process, reaping whatever it
   leaves behind), within a time limit per check and one for the whole run, so that Gradescope's own timeout never
   ends a run without results.
4. ``results``: one Gradescope test per notebook section, worth the section's points, scored by the checks that
   passed (partial credit), its output one line per check with its verdict and reason.
"""

import argparse
import json
import os
import shutil
import stat
import sys
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath

from cs231n_bn.kit.atomic import atomic_write

from .. import plan as grading_plan
from ..checks import CHECKS
from ..runner import FAILED, PASSED, TIME_LIMIT, TODO, Outcome, Runner

ROOT_ENV = "AUTOGRADER_ROOT"
DEFAULT_ROOT = "/autograder"
EDITION, PLAN, STUDENT_FILES = "edition", "plan.json", "student_files.json"
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
TOTAL_TIME = 480.0             # seconds for all checks: within Gradescope's default timeout of 10 minutes
MAX_FILE = 10 << 20            # bytes: a submitted file larger than this is not taken
MAX_ZIP = 200 << 20            # bytes: a zip larger than this is not opened
SKIPPED_FOLDERS = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints", ".venv", "node_modules"}


# ----------------------------------------------------------------------------------------------------------------
# 1. The student's files

def candidates(submission):
    """(path parts, where, size, read) for every regular file of the submission and every file inside a zip of it.

    ``where`` names the file for the student (``layers.py``, ``work.zip: repo/cs231n_bn/layers.py``); ``read()``
    returns its bytes. Symbolic links are never followed (they could name files of the grading machine), nor are
    zip entries that are links or that climb out of the archive. Returns (candidates, notes).
    """
    found, notes = [], []
    submission = Path(submission)
    for folder, dirs, names in os.walk(submission):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS)
        for name in sorted(names):
            path = Path(folder) / name
            rel = path.relative_to(submission).as_posix()
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                continue
            if name.lower().endswith(".zip"):
                inside, note = _zip_members(path, rel, info.st_size)
                found += inside
                notes += [note] if note else []
            else:
                found.append((PurePosixPath(rel).parts, rel, info.st_size, lambda path=path: path.read_bytes()))
    return found, notes


def _zip_members(path, rel, size):
    if size > MAX_ZIP:
        return [], f"{rel}: a zip of {size >> 20} MB, larger than {MAX_ZIP >> 20} MB; not opened"
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        return [], f"{rel}: not a zip that can be read ({error}); not opened"
    members = []
    for info in infos:
        name = PurePosixPath(info.filename.replace("\\", "/"))
        kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip does not say (Windows, Python's writestr)
        if info.is_dir() or kind not in (0, stat.S_IFREG) or name.is_absolute() or ".." in name.parts \
                or SKIPPED_FOLDERS.intersection(name.parts):
            continue
        members.append((name.parts, f"{rel}: {name.as_posix()}", info.file_size,
                        lambda path=path, member=info.filename: _read_member(path, member)))
    return members, None


def _read_member(path, member):
    with zipfile.ZipFile(path) as archive, archive.open(member) as file:
        return file.read(MAX_FILE + 1)


def gather(submission, expected):
    """The submitted version of each expected file (relative POSIX paths such as ``cs231n_bn/layers.py``).

    Returns (found: expected path -> (where, bytes), notes: lines for the student). Among the files named like an
    expected one, the one whose path ends with the most of the expected path wins, then the shallowest, then the
    first in name order (a clone of the repository with a stray copy elsewhere gives the clone's file).
    """
    files, notes = candidates(submission)
    found = {}
    for path in expected:
        want = PurePosixPath(path).parts
        ranked = []
        for parts, where, size, read in files:
            common = _common_suffix(parts, want)
            if common:
                ranked.append((-common, len(parts), where, size, read))
        if not ranked:
            continue
        ranked.sort(key=lambda item: item[:3])
        _, _, where, size, read = ranked[0]
        if len(ranked) > 1:
            notes.append(f"{path}: {len(ranked)} files of your submission are named like it; graded {where}, the one "
                         f"whose folders match best")
        if size > MAX_FILE:
            notes.append(f"{where}: {size >> 20} MB, larger than {MAX_FILE >> 20} MB; not used")
            continue
        try:
            data = read()
        except (OSError, zipfile.BadZipFile, ValueError, RuntimeError) as error:  # RuntimeError: encrypted member
            notes.append(f"{where}: cannot be read ({error}); not used")
            continue
        if len(data) > MAX_FILE:
            notes.append(f"{where}: larger than {MAX_FILE >> 20} MB; not used")
            continue
        found[path] = (where, data)
    return found, notes


def _common_suffix(parts, want):
    count = 0
    while count < min(len(parts), len(want)) and parts[-1 - count] == want[-1 - count]:
        count += 1
    return count


# ----------------------------------------------------------------------------------------------------------------
# 2. The working tree

def working_tree(edition, found):
    """A new folder holding a copy of the package at ``edition`` (a folder with cs231n_bn/) with the files of
    ``found`` (relative path -> bytes) written over the released ones.

    Folders 0755 and files 0644, owned by this process: the student's process reads them and changes nothing.
    The caller removes the folder.
    """
    tree = Path(tempfile.mkdtemp(prefix="cs231n_bn-submission-"))
    try:
        os.chmod(tree, 0o755)
        shutil.copytree(Path(edition) / grading_plan.PACKAGE, tree / grading_plan.PACKAGE,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for path, data in found.items():
            target = tree / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for folder, dirs, names in os.walk(tree):
            for name in dirs:
                os.chmod(Path(folder) / name, 0o755)
            for name in names:
                os.chmod(Path(folder) / name, 0o644)
    except BaseException:
        shutil.rmtree(tree, ignore_errors=True)
        raise
    return tree


# ----------------------------------------------------------------------------------------------------------------
# 3. Grading

def grade(tree, sections, time_limit=TIME_LIMIT, total_time=TOTAL_TIME):
    """Run every check of ``sections`` (plan.Section) on the package at ``tree``.

    Returns (outcomes: check name -> runner.Outcome, where: how the student's code ran). Checks run in the
    registry's order; once ``total_time`` seconds have gone, the checks left are FAILED without running.
    """
    names = {name for section in sections for name in section.checks}
    entries = [entry for entry in CHECKS if entry.name in names]
    unknown = names - {entry.name for entry in entries}
    outcomes = {name: Outcome(name, FAILED, "this version of the grader has no such check") for name in unknown}
    deadline = time.monotonic() + total_time
    runner = Runner(tree, time_limit, reap_orphans=True)
    try:
        for entry in entries:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                outcomes[entry.name] = Outcome(entry.name, FAILED, f"not run: the grading time ({total_time:g} s "
                                                                   f"for all checks) ran out")
                continue
            runner.time_limit = min(time_limit, remaining)
            outcomes[entry.name] = runner.run_one(entry)
    finally:
        runner.close()  # every process the student's code started has ended before anything is written
    return outcomes, runner.where()


# ----------------------------------------------------------------------------------------------------------------
# 4. Results

def test_result(section, outcomes, visibility):
    """One Gradescope test: a notebook section, scored by its checks that passed."""
    checks = [outcomes[name] for name in section.checks]
    passed = sum(outcome.status == PASSED for outcome in checks)
    width = max(len(outcome.name) for outcome in checks)
    lines = [outcome.line(width) for outcome in checks]
    lines.append(f"{passed} of {len(checks)} checks passed")
    where = f"{Path(section.notebook).stem}" + (f", section {section.number}" if section.number else "")
    return {"name": f"{where}: {section.title}", "score": _number(section.points * passed / len(checks)),
            "max_score": section.points, "output": "\n".join(lines), "output_format": "text",
            "visibility": visibility}


def results(sections, outcomes, found, missing, notes, where, seconds, visibility):
    """The whole results.json (Gradescope's autograder specification): the tests, their total, and one text for
    the submission as a whole saying what was graded and how."""
    tests = [test_result(section, outcomes, visibility) for section in sections]
    score, total = sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)
    counts = {status: sum(o.status == status for o in outcomes.values()) for status in (PASSED, FAILED, TODO)}
    lines = [f"Autograded: {_number(score)} of {total} points ({counts[PASSED]} of {len(outcomes)} checks passed, "
             f"{counts[FAILED]} failed, {counts[TODO]} not yet implemented). Each test below is one notebook section, "
             f"one point per check; `python -m cs231n_bn check` runs the same checks on your own machine.",
             f"Your functions ran {where}; every verdict was decided outside it.", ""]
    if found:
        lines.append("Graded from your submission:")
        lines += [f"  {path}" + ("" if source == path else f"  (from {source})") for path, source in found.items()]
    if missing:
        lines.append("Missing from your submission (graded as released, so their functions count as not "
                     "implemented):")
        lines += [f"  {path}" for path in missing]
    lines.append("Every other file of the package is the assignment's own copy; nothing else you submit is used.")
    if notes:
        lines += ["", "Notes:"] + [f"  {note}" for note in notes]
    return {"score": _number(score), "execution_time": round(seconds), "output": "\n".join(lines),
            "output_format": "text", "stdout_visibility": "hidden",
            "tests": tests}


def _number(value):
    return int(value) if float(value).is_integer() else round(value, 4)


# ----------------------------------------------------------------------------------------------------------------
# The command run_autograder runs

def parse_args(argv):
    parser = argparse.ArgumentParser(prog="run_autograder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT),
                        help=f"the autograder folder (default: ${ROOT_ENV}, else {DEFAULT_ROOT})")
    parser.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                        help="when students see each test (Gradescope's visibility)")
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT, metavar="SECONDS",
                        help=f"per check (default {TIME_LIMIT:g})")
    parser.add_argument("--total-time", type=float, default=TOTAL_TIME, metavar="SECONDS",
                        help=f"for all checks together (default {TOTAL_TIME:g})")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    start = time.monotonic()
    root = args.root.absolute()
    source, out = root / "source", root / "results"
    # The results folder: this process's alone (the student's code cannot replace or add a file there), and no
    # results.json but the one written at the end.
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o755)
    (out / "results.json").unlink(missing_ok=True)
    sections = grading_plan.from_json((source / PLAN).read_text(encoding="utf-8"))
    expected = json.loads((source / STUDENT_FILES).read_text(encoding="utf-8"))
    found, notes = gather(root / "submission", expected)
    missing = [path for path in expected if path not in found]
    tree = working_tree(source / EDITION, {path: data for path, (_, data) in found.items()})
    try:
        outcomes, where = grade(tree, sections, args.time_limit, args.total_time)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    report = results(sections, outcomes, {path: where_from for path, (where_from, _) in found.items()}, missing,
                     notes, where, time.monotonic() - start, args.visibility)
    atomic_write(out / "results.json", (json.dumps(report, indent=1) + "\n").encode("utf-8"))
    print(report["output"])  # for the instructor: Gradescope keeps run_autograder's output
    print(f"results.json: {report['score']} of {sum(t['max_score'] for t in report['tests'])} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
