"""The files the release writes for students in place of the solution edition's: README.md and requirements.txt.

- README.md: the student's README (student_readme.py), never the solution edition's, which is for the course.
- requirements.txt: the solution edition's, up to the line ``# === Solution edition only ===``. What follows
  that line (nbgrader, Playwright, check-jsonschema, ...) builds, tests and grades the course; a student's
  ``./setup.sh`` installs only what the notebooks and the checks need. A requirements.txt without that line stops
  the release, rather than ship the course's tools to every student.

Like the student CI, these apply to this kit's tree only (a stand-alone tree is released as it is).
"""

from pathlib import Path

from . import student_readme

README = "README.md"
REQUIREMENTS = "requirements.txt"
SOLUTION_ONLY_MARK = "# === Solution edition only ==="


def applies_to(root):
    """True when ``root`` is this kit's tree (it holds this module), not a stand-alone tree."""
    return (Path(root) / "cs231n_bn" / "kit" / "edition" / "student_files.py").is_file()


def rewritten(root):
    """The paths whose student version the release writes itself (empty for a stand-alone tree)."""
    return {README, REQUIREMENTS} if applies_to(root) else set()


def student_requirements(text):
    """requirements.txt text without its solution-edition section; ValueError when the marker line is missing."""
    lines = text.splitlines()
    marks = [index for index, line in enumerate(lines) if line.strip() == SOLUTION_ONLY_MARK]
    if not marks:
        raise ValueError(f"{REQUIREMENTS}: no line {SOLUTION_ONLY_MARK!r}; the release cuts the file there, so "
                         f"that the course's own tools (nbgrader, Playwright, ...) are not installed for students. "
                         f"Put that line above them")
    kept = lines[:marks[0]]
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept) + "\n"


def install(root, edition, setup=None):
    """Write the student README and requirements into ``edition`` (a tree.StudentEdition of ``root``).

    Raises ReleaseError when requirements.txt has no solution-edition section marker.
    """
    from .tree import ReleaseError

    if not applies_to(root):
        return
    if REQUIREMENTS in edition.files:
        try:
            text = student_requirements(edition.files[REQUIREMENTS].decode("utf-8"))
        except ValueError as error:
            raise ReleaseError([str(error)]) from None
        edition.files[REQUIREMENTS] = text.encode("utf-8")
    edition.files[README] = student_readme.render(edition.files, setup).encode("utf-8")
    edition.modes.setdefault(README, 0o644)
