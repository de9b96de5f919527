"""The files of an edition, the student edition built in memory, the leak scan, and writing a tree atomically.

An edition's files are the files git tracks (``git ls-files``); without git (an unpacked zip), every file except
environments, caches and data. Either way nothing under .git, __pycache__ or .ipynb_checkpoints, and no .pyc. In a
git checkout where git cannot list the files (not installed, or "dubious ownership" for another user's
repository), the release stops rather than ship whatever lies in the folder. A symbolic link is shipped as a copy
of the student version of the file it points to (and scanned as such); a link out of the tree, to a folder, or to
a file that is not part of the edition stops the release.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from cs231n_bn.kit.atomic import new_file_mode
from cs231n_bn.kit.data.store import checkout_root
from cs231n_bn.kit.reference import store as reference_store

from . import hosted, student_ci, student_files
from .markers import MarkerError, find_regions, restore, solution_lines, stub_compiles, stub_text
from .notebooks import (ANSWER_PLACEHOLDER, comparable, make_student_notebook, normalize_text, output_texts,
                        redact_outputs, restore_notebook, write_notebook)
from .similarity import (edition_units, find_implementations, fixture_patterns, notebook_patterns,
                         outside_regions, python_patterns, without_templates)

# A solution line shorter than this ("return out", "else:") says nothing about the solution.
MIN_SECRET_LENGTH = 16

NEVER_SHIPPED = {".git", "__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".venv", ".mypy_cache", ".ruff_cache"}

# The solution edition this package lives in, when it runs from a checkout.
SOURCE_ROOT = Path(__file__).resolve().parents[3]


def installed_copy_error(command, builds, example):
    """The error message for an edition command run from an installed copy of the package, which has no solution
    edition to build from; None when the package runs from a checkout."""
    if checkout_root() is not None:
        return None
    return (f"error: {command} builds {builds} from a clone of the solution edition's repository; this cs231n_bn is "
            f"an installed copy ({SOURCE_ROOT / 'cs231n_bn'}). Run it in the clone instead: "
            f"cd CLONE && python -m cs231n_bn {example}")
UNTRACKED_SKIP = NEVER_SHIPPED | {"build", "dist", "results", ".eggs"}

# Alternative solutions the tests use: read by the leak scan as more ways of writing the answer, never released.
NEVER_RELEASED = ("tests/fixtures/solutions/",)


def never_released(path):
    """True for a file of the solution edition that the student edition leaves out (NEVER_RELEASED)."""
    return path.startswith(NEVER_RELEASED)


class ReleaseError(Exception):
    """The release cannot go ahead; ``problems`` lists every reason (one line each)."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def print_problems(lead, problems):
    """'LEAD (N problems):' and each problem on a line of its own, on stderr: how the commands report them."""
    print(f"{lead} ({len(problems)} problem{'s' if len(problems) != 1 else ''}):", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)


def edition_files(root):
    """Relative POSIX paths of the files that make up the edition at ``root``, sorted.

    Raises ReleaseError when ``root`` is a git checkout but ``git ls-files`` fails: walking the folder instead
    would take untracked files (private notes, scratch solutions) for part of the edition.
    """
    root = Path(root)
    if (root / ".git").exists():
        paths = _git_files(root)
    else:
        paths = _walk(root)
    keep = []
    for path in paths:
        if _never_shipped(path):
            continue
        if (root / path).is_file() or (root / path).is_symlink():
            keep.append(path)
    return sorted(set(keep))


def _git_files(root):
    """The files git tracks in the checkout at ``root``; ReleaseError when git cannot say."""
    try:
        run = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached"], capture_output=True,
                             timeout=120)
    except (OSError, subprocess.SubprocessError) as error:
        raise ReleaseError([f"{root} is a git checkout, but git cannot list its files ({error}); the release "
                            f"ships exactly the files git tracks, so it stops here (install git, or release "
                            f"from a copy without .git)"]) from None
    if run.returncode != 0:
        reason = run.stderr.decode("utf-8", errors="replace").strip().splitlines()
        hint = ""
        if any("dubious ownership" in line or "safe.directory" in line for line in reason):
            hint = (f"; the repository belongs to another user: run the release as its owner, or trust it with "
                    f"git config --global --add safe.directory {root}")
        raise ReleaseError([f"{root}: git ls-files failed ({reason[0] if reason else f'exit {run.returncode}'})"
                            f"{hint}. The release ships exactly the files git tracks, so it stops here rather "
                            f"than ship untracked files"])
    return [p for p in run.stdout.decode("utf-8", errors="surrogateescape").split("\0") if p]


def _never_shipped(path):
    """True for a path the student edition must never contain: caches, checkpoints, compiled files (NEVER_SHIPPED)."""
    return bool(NEVER_SHIPPED.intersection(PurePosixPath(path).parts)) or path.endswith((".pyc", ".pyo"))


def _walk(root):
    """Every file under ``root`` except environments, caches, build output and fetched data sets."""
    paths = []
    for directory, dirs, names in os.walk(root):
        rel = Path(directory).relative_to(root)
        dirs[:] = sorted(d for d in dirs if d not in UNTRACKED_SKIP and not d.endswith(".egg-info")
                         and rel.parts != ("datasets",))
        paths += [(rel / name).as_posix() for name in names]
    return paths


@dataclass
class StudentEdition:
    """The student edition in memory: every file's bytes and mode, and what the release did."""

    files: dict = field(default_factory=dict)           # relative path -> bytes
    modes: dict = field(default_factory=dict)           # relative path -> permission bits
    links: dict = field(default_factory=dict)           # relative path -> symlink target
    secrets: list = field(default_factory=list)         # solution lines the leak scan looks for
    patterns: list = field(default_factory=list)        # similarity.Pattern of every known solution
    py_files: int = 0
    py_stubs: int = 0
    notebooks: int = 0
    notebook_stubs: int = 0
    stubbed_cells: int = 0
    answers: int = 0
    redacted: list = field(default_factory=list)        # "path, cell N" whose outputs showed solution code
    references: list = field(default_factory=list)      # the reference files written (kit/reference/NAME.json)


def build_student_edition(root, setup=None):
    """Read the solution edition at ``root`` and build the student edition in memory.

    Checks every file before anything is produced: a malformed region anywhere, a leak, or a tree without any
    solution region raises ReleaseError listing every problem (file and line). ``setup`` (a hosted.Setup) says
    what the notebooks' set-up cell installs (default: hosted.Setup(), nothing published).
    """
    root = Path(root)
    edition, problems = StudentEdition(), []
    secret_candidates, public = [], []
    student_notebooks, solution_notebooks, templates, fixtures = {}, {}, {}, []
    links = []
    for path in edition_files(root):
        source = root / path
        if never_released(path):
            if path.endswith(".py") and not source.is_symlink():
                fixtures += fixture_patterns(path, source.read_text(encoding="utf-8", errors="replace"))
            continue
        if source.is_symlink():
            links.append(path)
            continue
        data = source.read_bytes()
        edition.modes[path] = source.stat().st_mode & 0o777
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            edition.files[path] = data  # binary: no regions, nothing public to learn from
            continue
        try:
            if path.endswith(".py"):
                regions = find_regions(text, path, require_function=True)
                if regions:
                    stubbed = stub_text(text, regions)
                    stub_compiles(text, stubbed, path)
                    secret_candidates += solution_lines(text, regions)
                    edition.patterns += python_patterns(path, text, regions)
                    templates[path] = outside_regions(text, regions)
                    edition.py_files += 1
                    edition.py_stubs += len(regions)
                    text = stubbed
                public.append(text)
                edition.files[path] = text.encode("utf-8")
            elif path.endswith(".ipynb"):
                student = make_student_notebook(text, path)
                edition.patterns += notebook_patterns(path, _notebook_regions(text, path))
                secret_candidates += student.solution_lines
                public += student.sources()
                edition.notebooks += 1
                edition.notebook_stubs += student.stubs
                edition.stubbed_cells += student.stubbed_cells
                edition.answers += student.answers
                student_notebooks[path] = student
                solution_notebooks[path] = text
            else:
                public.append(text)
                edition.files[path] = data
        except MarkerError as error:
            problems.append(str(error))
        except (ValueError, KeyError) as error:  # e.g. a notebook that is not valid JSON / nbformat
            problems.append(f"{path}: cannot read ({error})")
    if problems:
        raise ReleaseError(problems)
    student_ci.install(root, edition)  # the student CI workflow instead of the solution edition's .ci/run
    edition.patterns += without_templates(fixtures, templates)
    if edition.py_stubs + edition.notebook_stubs + edition.answers == 0:
        raise ReleaseError([f"no solution regions anywhere under {root.name or root}: this looks like a student "
                            f"edition already"])

    edition.secrets = secret_lines(secret_candidates, public)
    for path, student in student_notebooks.items():
        redact_outputs(student, edition.secrets)
        edition.redacted += [f"{path}, cell {index}" for index in student.redacted_cells]
        problems += _move_reference_outputs(path, student, solution_notebooks[path], edition)
        if student_files.applies_to(root):
            hosted.add_setup_cell(student.notebook, setup or hosted.Setup())
        try:
            edition.files[path] = write_notebook(student).encode("utf-8")
        except nbformat.ValidationError as error:
            problems.append(f"{path}: the student notebook is not valid nbformat ({error.message})")
    problems += _copy_links(root, links, edition)
    if problems:
        raise ReleaseError(problems)
    student_files.install(root, edition, setup)  # the student's README and requirements

    leaks = find_leaks(edition.files, edition.secrets)
    if leaks:
        raise ReleaseError([f"{where}: shows the solution line {secret!r}" for where, secret in leaks])
    implementations = find_implementations(edition_units(edition.files), edition.patterns)
    if implementations:
        raise ReleaseError([f"{finding}; shipped code must not implement a student function (use stored "
                            f"reference values, invariants or numerical gradients)" for finding in implementations])
    return edition


def _move_reference_outputs(path, student, solution_text, edition):
    """Keep the reference outputs of a student notebook (redacted) in its reference file, then clear them from the
    notebook, which ships without outputs. Returns a problem line for each reason it cannot."""
    target = reference_store.store_path(path)
    if target in edition.files:
        return [f"{path}: its reference file {target} is already a file of the edition (another notebook of this "
                f"name, or a tracked file); rename one of them"]
    try:
        solution = nbformat.reads(solution_text, as_version=nbformat.NO_CONVERT)
        text = reference_store.store_text(path, student.notebook, solution)
    except ValueError as error:
        return [f"{path}: {error}"]
    edition.files[target] = text.encode("utf-8")
    edition.modes[target] = 0o644
    edition.references.append(target)
    reference_store.strip_outputs(student.notebook)
    return []


def _copy_links(root, links, edition):
    """Ship each symbolic link as a copy of the student version of the edition file it points to (so the leak
    scan reads it, and no archive or checkout can follow it elsewhere). Returns a problem line for each link that
    leads out of the tree, to a folder, or to a file that is not part of the edition."""
    problems, top = [], root.resolve()
    for path in links:
        source = root / path
        text = os.readlink(source)
        target = source.resolve()
        try:
            inside = target.relative_to(top).as_posix()
        except ValueError:
            problems.append(f"{path}: a symbolic link to {text}, outside the tree; the release ships no file from "
                            f"outside it (replace the link by a copy, or remove it)")
            continue
        if inside not in edition.files or never_released(inside):
            what = "a folder" if target.is_dir() else "missing" if not target.exists() else "not part of the edition"
            problems.append(f"{path}: a symbolic link to {text} ({inside}: {what}); the release ships links only "
                            f"to files of the edition (replace the link by a copy, or remove it)")
            continue
        edition.files[path] = edition.files[inside]
        edition.modes[path] = edition.modes.get(inside, 0o644)
    return problems


def _notebook_regions(text, path):
    """(index, source, regions) of every code cell of a notebook (JSON text) that holds solution regions."""
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            regions = find_regions(cell.source, f"{path}, cell {index}")
            if regions:
                cells.append((index, cell.source, regions))
    return cells


def secret_lines(candidates, public_texts):
    """Solution lines worth scanning for: long enough, and not also written somewhere outside the regions."""
    corpus = "\n".join(public_texts)
    lines = {line.strip() for line in candidates}
    return sorted(line for line in lines if len(line) >= MIN_SECRET_LENGTH and line not in corpus)


def find_leaks(files, secrets):
    """Every (where, secret) such that a file of the edition shows a secret line.

    Inputs:
    - files: relative path -> bytes
    - secrets: stripped solution lines (see ``secret_lines``)
    Notebooks and reference files (kit/reference/NAME.json) are read as JSON so that every string (inputs, outputs
    with colour codes and HTML removed, metadata) is searched as the student would see it; other files are searched
    as text.
    """
    leaks = []
    for path, data in sorted(files.items()):
        if _never_shipped(path):
            leaks.append((path, "(a file that is never shipped)"))
            continue
        texts = [(path, data.decode("utf-8", errors="replace"))]
        if path.endswith(".ipynb") or reference_store.is_store_path(path):
            strings = _notebook_strings if path.endswith(".ipynb") else _reference_strings
            try:
                texts += list(strings(path, json.loads(data)))
            except (ValueError, AttributeError):
                pass
        for where, text in texts:
            leaks += [(where, secret) for secret in secrets if secret in text]
    return leaks


def _notebook_strings(path, nb):
    """(where, text) for every string of a notebook: sources, outputs as shown, metadata."""
    yield f"{path}, notebook metadata", json.dumps(nb.get("metadata", {}))
    yield from ((f"{path}, notebook metadata", text) for text in _strings(nb.get("metadata", {})))
    for index, cell in enumerate(nb.get("cells", [])):
        where = f"{path}, cell {index}"
        yield where, "".join(cell.get("source", ""))
        yield from ((where + " metadata", text) for text in _strings(cell.get("metadata", {})))
        for output in cell.get("outputs", []):
            yield from ((where + " output", text) for text in output_texts(output))
            yield from ((where + " output", text) for text in _strings(output))


def _reference_strings(path, data):
    """(where, text) for every string of a reference file (kit/reference/NAME.json): sources, outputs as shown, and
    every other string."""
    yield from ((path, text) for text in _strings(data))
    for key, cell in data.get("cells", {}).items():
        where = f"{path}, cell {key}"
        yield where, "".join(cell.get("source", ""))
        for output in cell.get("outputs", []):
            yield from ((where + " output", text) for text in output_texts(output))
            yield from ((where + " output", text) for text in _strings(output))


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        yield "".join(value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def scan_tree(root, secrets, patterns=()):
    """``find_leaks`` over a tree on disk: every file, hidden ones included (git objects aside).

    With ``patterns`` (StudentEdition.patterns), also every unit of code that implements a solution region, as
    (where, "implements ...").
    """
    root = Path(root)
    files = {}
    for directory, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not (Path(directory) == root and d == ".git")]
        for name in names:
            full = Path(directory) / name
            if not full.is_symlink():
                files[full.relative_to(root).as_posix()] = full.read_bytes()
    leaks = find_leaks(files, secrets)
    if patterns:
        leaks += [(f.where, f"implements {f.label}") for f in find_implementations(edition_units(files), patterns)]
    return leaks


def write_tree(edition, out, force=False, git=False):
    """Write the student edition to ``out`` atomically: a temporary directory next to it, then a rename.

    Refuses a non-empty ``out`` unless ``force``. With ``git``, the tree becomes a fresh repository holding one
    commit of the student edition (no history of the solution edition).
    """
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise ReleaseError([f"--out {out.name}: exists and is not a directory"])
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ReleaseError([f"--out {out.name}: the directory is not empty (use --force to replace it)"])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        os.chmod(tmp, new_file_mode(0o777))  # mkdtemp makes it private; the edition is an ordinary folder
        for path, data in edition.files.items():
            target = tmp / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            os.chmod(target, edition.modes.get(path, 0o644))
        for path, link in edition.links.items():
            target = tmp / path
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(link, target)
        if git:
            _git_single_commit(tmp)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "tree")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _git_single_commit(path):
    ident = ["-c", "user.name=cs231n_bn release", "-c", "user.email=release@cs231n-bn.invalid",
             "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "--all"], ["commit", "-q", "--no-verify", "-m", "Student edition"]):
        subprocess.run(["git", *ident, "-C", str(path), *args], check=True, capture_output=True)


def restore_tree(solution_root, student_root):
    """The student edition at ``student_root`` with the solution of ``solution_root`` put back.

    Returns relative path -> restored text (str) for every file of the student edition that is text:
    .py files get their regions back in place of their stubs, notebooks their reference outputs (from their
    reference files, which are not returned), regions, answers and any redacted outputs; other files are returned
    as they are.
    """
    solution_root, student_root = Path(solution_root), Path(student_root)
    restored = {}
    for path in edition_files(student_root):
        if reference_store.is_store_path(path):
            continue  # put back into its notebook below
        text = (student_root / path).read_text(encoding="utf-8", errors="surrogateescape")
        reference = solution_root / path
        if path.endswith(".py") and reference.is_file():
            text = restore(reference.read_text(encoding="utf-8"), text, path)
        elif path.endswith(".ipynb") and reference.is_file():
            outputs = student_root / reference_store.store_path(path)
            if outputs.is_file():
                nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
                cells = reference_store.read_store(outputs.read_text(encoding="utf-8"), str(outputs))
                text = nbformat.writes(reference_store.put_back(nb, cells))
            text = nbformat.writes(restore_notebook(reference.read_text(encoding="utf-8"), text, path))
        restored[path] = text
    return restored


def compare_editions(solution_root, restored):
    """Differences between the solution edition and a restored student edition, ignoring whitespace.

    Returns a list of "path: reason" lines; empty when the restored edition equals the solution edition.
    """
    solution_root = Path(solution_root)
    solution_only, student_only = student_ci.edition_differences(solution_root)  # .ci/run vs the workflow
    rewritten = student_files.rewritten(solution_root)  # README.md, requirements.txt: the student's own
    expected = [p for p in edition_files(solution_root) if not never_released(p) and p not in solution_only]
    differences = [f"{p}: missing from the restored edition" for p in expected if p not in restored]
    differences += [f"{p}: not in the solution edition" for p in restored if p not in expected and
                    p not in student_only]
    for path in expected:
        if path not in restored or path in rewritten:
            continue
        want = (solution_root / path).read_text(encoding="utf-8", errors="surrogateescape")
        got = restored[path]
        if path.endswith(".ipynb"):
            same = comparable(nbformat.reads(want, as_version=nbformat.NO_CONVERT)) == \
                comparable(hosted.without_setup_cell(nbformat.reads(got, as_version=nbformat.NO_CONVERT)))
        else:
            same = normalize_text(want) == normalize_text(got)
        if not same:
            differences.append(f"{path}: differs after restoring")
    return differences


__all__ = ["ANSWER_PLACEHOLDER", "ReleaseError", "StudentEdition", "build_student_edition", "compare_editions",
           "edition_files", "find_implementations", "find_leaks", "never_released", "restore_tree", "scan_tree",
           "secret_lines", "write_tree"]
