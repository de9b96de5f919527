"""``python -m cs231n_bn release --out DIR``: build the student edition of this solution edition.

The student edition is the same tree (the files git tracks) with every solution region replaced by a stub that
raises NotImplementedError, inline-question answers cleared, and the notebooks without outputs: their reference
outputs, which ``pytest notebooks/NB.ipynb`` compares a student's run with, are kept out of the student's way in
``cs231n_bn/kit/reference/NAME.json``. Every file is checked before anything is written; the tree is written next to
DIR and renamed into place, so DIR either holds a complete student edition or is left as it was.

It is a product of its own: the student's README and requirements (student_files.py), a set-up cell first in
each notebook for hosted notebooks (hosted.py; ``--package`` names what it installs, ``--data-mirror`` where it
fetches data first), and with ``--wheel`` the package's wheel (wheel.py), next to DIR.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .hosted import Setup
from .tree import (SOURCE_ROOT, ReleaseError, build_student_edition, installed_copy_error, print_problems,
                   write_tree)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m cs231n_bn release", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="directory to write the student edition to")
    parser.add_argument("--force", action="store_true", help="replace --out even if it is not empty")
    parser.add_argument("--git", action="store_true",
                        help="make --out a fresh git repository with one commit of the student edition")
    parser.add_argument("--zip", action="store_true", help="also write DIR.zip next to --out")
    parser.add_argument("--wheel", action="store_true",
                        help="also build the student edition's wheel (the package for hosted notebooks) next to --out")
    parser.add_argument("--package", metavar="REQUIREMENT",
                        help="what the notebooks' set-up cell installs on Colab or a JupyterHub when the package is "
                             "missing: the URL (or path) where the course publishes the --wheel file, or a pip "
                             "requirement such as git+https://github.com/COURSE/REPOSITORY (default: nothing; the "
                             "cell then asks for the repository)")
    parser.add_argument("--data-mirror", metavar="URL",
                        help="the course's copy of the data sets, serving each archive as URL/NAME/ARCHIVE (e.g. "
                             "URL/fashion-mnist/train-images-idx3-ubyte.gz): the set-up cell fetches from it first")
    parser.add_argument("--source", type=Path, default=SOURCE_ROOT,
                        help="the solution edition to release (default: the tree this package lives in)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    error = installed_copy_error("release", "the student edition", "release --out DIR")
    if error:
        print(error, file=sys.stderr)
        return 1
    source, out = args.source.resolve(), args.out.absolute()
    resolved = out.resolve()
    if resolved == source or resolved in source.parents:
        print(f"error: --out {args.out} would overwrite the solution edition itself", file=sys.stderr)
        return 1
    if resolved.is_relative_to(source):
        print(f"error: --out {args.out} is inside the solution edition ({source}); choose a folder outside it",
              file=sys.stderr)
        return 1
    if out.is_dir() and any(out.iterdir()) and not args.force:
        print(f"error: --out {args.out} is not empty; use --force to replace it", file=sys.stderr)
        return 1
    try:
        setup = Setup(package=args.package, mirror=args.data_mirror)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        edition = build_student_edition(source, setup)
        write_tree(edition, out, force=args.force, git=args.git)
    except ReleaseError as error:
        print_problems("error: release stopped, nothing written", error.problems)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: nothing was written to {args.out}", file=sys.stderr)
        return 130
    except (OSError, subprocess.SubprocessError) as error:
        print(f"error: cannot write the student edition to {args.out}: {_reason(error)}; nothing was changed "
              f"there. Choose a folder you can write to.", file=sys.stderr)
        return 1
    print(summary(edition, args.out, setup))
    if args.wheel:
        from .wheel import WheelError, build_wheel
        try:
            print(f"  wheel: {build_wheel(out, out.parent)}")
        except (WheelError, OSError, subprocess.SubprocessError) as error:
            print(f"error: the student edition is in {args.out}, but its wheel cannot be built: {_reason(error)}",
                  file=sys.stderr)
            return 1
    if args.zip:
        try:
            print(f"  zip: {_zip(out)}")
        except OSError as error:
            print(f"error: the student edition is in {args.out}, but {out.name}.zip cannot be written next to "
                  f"it: {_reason(error)}", file=sys.stderr)
            return 1
    return 0


def _reason(error):
    """An OSError as 'Permission denied (/path)'; other errors as their message."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror + (f" ({error.filename})" if error.filename else "")
    if isinstance(error, subprocess.CalledProcessError):
        return f"{' '.join(map(str, error.cmd[:4]))} failed: {(error.stderr or b'').decode(errors='replace').strip()}"
    return str(error)


def summary(edition, out, setup=None):
    """What the release did, in a few lines."""
    lines = [f"Student edition written to {out}: {len(edition.files) + len(edition.links)} files",
             f"  python: {edition.py_stubs} solution regions stubbed in {edition.py_files} files",
             f"  notebooks: {edition.notebooks}; {edition.notebook_stubs} regions stubbed in {edition.stubbed_cells} "
             f"cells; {edition.answers} inline-question answers cleared; outputs cleared, the reference outputs kept in "
             f"{_folder(edition.references)}",
             f"  leak scan: {len(edition.secrets)} distinct solution lines searched for, none found"]
    package = setup.package if setup is not None else None
    lines.append(f"  hosted notebooks: the set-up cell installs {package}" if package else
                 "  hosted notebooks: no --package given; outside the repository the set-up cell asks for it")
    if edition.redacted:
        lines.append(f"  outputs removed because they showed solution code (cells tagged nbval-ignore-output): "
                     f"{', '.join(edition.redacted)}")
    return "\n".join(lines)


def _folder(paths):
    """The folder of the reference files, with their number."""
    folders = sorted({path.rsplit("/", 1)[0] for path in paths})
    return f"{', '.join(folders) or 'no folder'}/ ({len(paths)} file{'s' if len(paths) != 1 else ''})"


def _zip(out):
    """out.zip holding the tree under one top-level folder, written atomically."""
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        archive = shutil.make_archive(str(Path(tmp) / out.name), "zip", root_dir=out.parent, base_dir=out.name)
        target = out.with_name(out.name + ".zip")
        Path(archive).replace(target)
    return target


if __name__ == "__main__":
    sys.exit(main())
