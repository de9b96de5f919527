"""``python -m cs231n_bn gradescope --out autograder.zip``: the Gradescope autograder bundle of this kit.

The zip holds, at its root (Gradescope's autograder specification):

- ``setup.sh``: run once when Gradescope builds the autograder's image (Ubuntu, as root): Python 3 with venv and
  pip from apt, and NumPy (the version range of requirements.txt) in a virtual environment of its own under
  /opt (readable by every user: the student's code runs as ``nobody``). The grader needs nothing else.
- ``run_autograder``: run for every submission; it runs the grader (kit/grading/engines/gradescope.py) from the
  bundle's copy of the package on the files of /autograder/submission, which writes
  /autograder/results/results.json: one test per notebook section, with the nbgrader course's points and partial
  credit per check.
- ``edition/cs231n_bn/``: the student edition's package, built by the release machinery (solution regions
  stubbed, leak scan): the grader, its checks, and the released version of each file students complete.
- ``plan.json``: the grading plan (sections, their checks and points); ``student_files.json``: the package files
  students complete, the only files taken from a submission.

Every file of the bundle is scanned for solution lines before the zip is written; the zip is written next to
--out and renamed into place.
"""

import argparse
import io
import json
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..grading.engines.gradescope import EDITION, PLAN, STUDENT_FILES, VISIBILITIES
from ..grading.plan import PACKAGE, grading_plan, notebook_order, package_regions, to_json
from .tree import (SOURCE_ROOT, ReleaseError, build_student_edition, find_leaks, installed_copy_error,
                   print_problems)

ENGINE = f"{PACKAGE}/kit/grading/engines/gradescope.py"
GRADER_PYTHON = "/opt/cs231n_bn-grader"   # the virtual environment setup.sh makes
ZIP_DATE = (1980, 1, 1, 0, 0, 0)          # every entry's timestamp: the same sources give the same zip

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (Ubuntu). The cs231n_bn grader needs
# Python 3.9 or later and NumPy, nothing else. They go into a virtual environment under /opt that every user can
# read: the grader runs the student's functions as the user nobody.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-pip python3-venv
/usr/bin/python3 -m venv {venv}  # the apt Python: another python3 on PATH may be readable by root only
{venv}/bin/pip install --no-cache-dir --quiet --upgrade pip
{venv}/bin/pip install --no-cache-dir --quiet "{numpy}"
chmod -R a+rX {venv}
{venv}/bin/python -c "import numpy, sys; print('cs231n_bn grader: Python', sys.version.split()[0], '- NumPy', numpy.__version__)"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission, as root, in /autograder: the cs231n_bn grader of this bundle grades
# the files in /autograder/submission and writes /autograder/results/results.json (see
# source/edition/cs231n_bn/kit/grading/engines/gradescope.py). To try the bundle elsewhere: AUTOGRADER_ROOT is a
# folder laid out like /autograder, AUTOGRADER_PYTHON an interpreter with NumPy.
set -euo pipefail
root="${{AUTOGRADER_ROOT:-/autograder}}"
python="${{AUTOGRADER_PYTHON:-{venv}/bin/python}}"
exec "$python" -I -c 'import sys; sys.path.insert(0, sys.argv[1]); from cs231n_bn.kit.grading.engines.gradescope import main; sys.exit(main(sys.argv[2:]))' \\
    "$root/source/{edition}" --root "$root" --visibility {visibility}
"""


class BundleError(Exception):
    """The bundle cannot be built; ``problems`` lists every reason (one line each)."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class Bundle:
    """The autograder zip in memory: each entry's bytes and permission bits, and what it grades."""

    files: dict = field(default_factory=dict)         # path in the zip -> bytes
    modes: dict = field(default_factory=dict)         # path in the zip -> permission bits
    sections: list = field(default_factory=list)      # plan.Section, in notebook order
    student_files: list = field(default_factory=list)  # package files students complete


def numpy_requirement(root):
    """The NumPy line of requirements.txt at ``root`` (e.g. ``numpy>=1.23``), or ``numpy`` without one."""
    try:
        text = (Path(root) / "requirements.txt").read_text(encoding="utf-8")
    except OSError:
        return "numpy"
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if re.match(r"numpy\s*([<>=!~]|$)", line, re.IGNORECASE):
            return line
    return "numpy"


def build_bundle(root, notebooks=None, visibility="visible", edition=None):
    """The bundle of the solution edition at ``root`` in memory.

    Inputs:
    - root: the solution edition (a checkout)
    - notebooks: notebook file names under root/notebooks whose sections are graded (None: all of them)
    - visibility: when students see the tests (one of VISIBILITIES)
    - edition: the StudentEdition of ``root`` if already built (build_student_edition), else it is built here

    Raises BundleError, or ReleaseError from the student edition.
    """
    root = Path(root)
    if visibility not in VISIBILITIES:
        raise BundleError([f"--visibility {visibility!r}: expected one of {', '.join(VISIBILITIES)}"])
    available = sorted(p.name for p in (root / "notebooks").glob("*.ipynb"))
    notebooks = available if notebooks is None else [n if n.endswith(".ipynb") else n + ".ipynb" for n in notebooks]
    unknown = [name for name in notebooks if name not in available]
    if unknown:
        raise BundleError([f"--notebooks: no notebook {name} in notebooks/ (there are: {', '.join(available)})"
                           for name in unknown])
    sections = grading_plan(root, notebook_order(notebooks))
    if not sections:
        raise BundleError([f"no self-checks to grade in {', '.join(notebooks) or 'no notebooks'}"])
    edition = build_student_edition(root) if edition is None else edition
    if ENGINE not in edition.files:
        raise BundleError([f"{ENGINE}: not among the edition's files (git ls-files), yet run_autograder runs it; "
                           f"commit it first"])
    bundle = Bundle(sections=sections, student_files=sorted({path for path, _ in package_regions(root)}))
    for path, data in edition.files.items():
        if path.startswith(PACKAGE + "/"):
            bundle.files[f"{EDITION}/{path}"] = data
            bundle.modes[f"{EDITION}/{path}"] = edition.modes.get(path, 0o644) & 0o755 | 0o644
    venv = GRADER_PYTHON
    scripts = {"setup.sh": SETUP_SH.format(venv=venv, numpy=numpy_requirement(root)),
               "run_autograder": RUN_AUTOGRADER.format(venv=venv, edition=EDITION, visibility=visibility)}
    for name, text in scripts.items():
        bundle.files[name], bundle.modes[name] = text.encode("utf-8"), 0o755
    bundle.files[PLAN], bundle.modes[PLAN] = (to_json(sections) + "\n").encode("utf-8"), 0o644
    bundle.files[STUDENT_FILES] = (json.dumps(bundle.student_files, indent=1) + "\n").encode("utf-8")
    bundle.modes[STUDENT_FILES] = 0o644
    leaks = find_leaks(bundle.files, edition.secrets)
    if leaks:
        raise BundleError([f"{where}: shows the solution line {secret!r}" for where, secret in leaks])
    return bundle


def zip_bytes(bundle):
    """The bundle as a zip: entries in path order, each with its permission bits (run_autograder executable)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(bundle.files):
            info = zipfile.ZipInfo(path, ZIP_DATE)
            info.external_attr = (0o100000 | bundle.modes.get(path, 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, bundle.files[path])
    return buffer.getvalue()


def write_bundle(bundle, out, force=False):
    """Write the zip to ``out`` atomically; an existing file is replaced only with ``force``."""
    from cs231n_bn.kit.atomic import atomic_write

    out = Path(out)
    if out.is_dir():
        raise BundleError([f"--out {out}: a folder; give the zip's file name (e.g. autograder.zip)"])
    if out.exists() and not force:
        raise BundleError([f"--out {out}: exists already; use --force to replace it"])
    atomic_write(out, zip_bytes(bundle))
    return out


# ----------------------------------------------------------------------------------------------------------------
# The command

def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m cs231n_bn gradescope", description=__doc__.split("\n\n")[0],
                                     epilog="Then, on Gradescope: a Programming Assignment, Configure Autograder, "
                                            "upload the zip (Ubuntu base image); students submit their repository, a "
                                            "zip of it, or the files they complete.")
    parser.add_argument("--out", required=True, type=Path, help="the zip to write (e.g. autograder.zip)")
    parser.add_argument("--notebooks", nargs="+", metavar="NOTEBOOK",
                        help="grade only these notebooks' sections (file names in notebooks/; default: all)")
    parser.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                        help="when students see each test's score and output (default: visible)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument("--source", type=Path, default=SOURCE_ROOT,
                        help="the solution edition to build from (default: the tree this package lives in)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    error = installed_copy_error("gradescope", "the autograder bundle", "gradescope --out autograder.zip")
    if error:
        print(error, file=sys.stderr)
        return 1
    if args.out.exists() and not args.force:  # before the minute of building, not after
        print(f"error: --out {args.out} exists already; use --force to replace it", file=sys.stderr)
        return 1
    try:
        bundle = build_bundle(args.source.resolve(), args.notebooks, args.visibility)
        write_bundle(bundle, args.out, force=args.force)
    except (ReleaseError, BundleError) as error:
        print_problems("error: nothing written", error.problems)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: nothing was written to {args.out}", file=sys.stderr)
        return 130
    except OSError as error:
        print(f"error: cannot write {args.out}: {error.strerror or error}; nothing was written", file=sys.stderr)
        return 1
    print(summary(bundle, args.out))
    return 0


def summary(bundle, out):
    """What the zip holds and what to do with it."""
    size = Path(out).stat().st_size
    lines = [f"Gradescope autograder written to {out} ({size / 1024:.0f} KB, {len(bundle.files)} files)"]
    for name in notebook_order(list(dict.fromkeys(s.notebook for s in bundle.sections))):
        graded = ", ".join(f"{s.number or 'all'}: {s.points}" for s in bundle.sections if s.notebook == name)
        lines.append(f"  {name}: points by section {graded}")
    lines.append(f"  total: {sum(s.points for s in bundle.sections)} points in {len(bundle.sections)} tests, one "
                 f"point per self-check (partial credit per section)")
    lines.append(f"  taken from each submission: {', '.join(bundle.student_files)}")
    lines.append("Next, on Gradescope: create a Programming Assignment with that many points, Configure Autograder, "
                 "upload this zip (Ubuntu base image). Students submit their repository (GitHub or upload), a zip "
                 "of it, or just the files above.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
