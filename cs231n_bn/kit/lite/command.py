"""``python -m cs231n_bn lite --out DIR``: build the browser edition, a static JupyterLite site of the student
edition that runs in a browser with nothing installed (JupyterLab, and Python with NumPy and matplotlib compiled to
WebAssembly by Pyodide).

Serve DIR with any static web server (GitHub Pages, a course's server); README's "Browser edition" says how, and
which headers let students stop a running cell. By default the site serves Pyodide itself, from Pyodide's wheels
on this machine (--pyodide-packages) and the npm package pyodide@0.27.7 (fetched with npm once, then cached), so
that it works with no other server; --cdn builds a smaller site whose kernel loads Pyodide from its CDN.
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from cs231n_bn.kit.edition.tree import SOURCE_ROOT, ReleaseError, installed_copy_error, print_problems

from . import pyodide
from .site import SiteError, build_site
from .wheel import WheelError


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m cs231n_bn lite", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="the folder to write the site to")
    parser.add_argument("--force", action="store_true", help="replace --out even if it is not empty")
    parser.add_argument("--solution", action="store_true",
                        help="the solution edition (for self-learners) instead of the student edition")
    parser.add_argument("--cdn", nargs="?", const=pyodide.CDN, default=None, metavar="URL",
                        help=f"load Pyodide and its packages from its CDN (default URL {pyodide.CDN}) instead of "
                             f"from the site")
    parser.add_argument("--pyodide-packages", type=Path, default=None, metavar="DIR",
                        help=f"the folder of Pyodide {pyodide.VERSION}'s package wheels (each is checked against "
                             f"the lock file; default: $CS231N_BN_PYODIDE_PACKAGES, else a folder "
                             f"shared/pyodide-{pyodide.VERSION} beside this repository or a folder above it)")
    parser.add_argument("--pyodide-runtime", type=Path, default=None, metavar="PATH",
                        help=f"the npm package {pyodide.NPM_PACKAGE} (its .tgz or unpacked folder; default: "
                             f"fetched with npm into the cache)")
    parser.add_argument("--fetch", action="store_true",
                        help="only fetch what the build takes from npm and PyPI into the cache, then exit")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help=f"where fetched files are kept (default {pyodide.default_cache()})")
    args = parser.parse_args(argv)
    if args.out is None and not args.fetch:
        parser.error("--out DIR is required (or --fetch)")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cache = args.cache or pyodide.default_cache()
    if args.fetch:
        try:
            _, temporary = pyodide.runtime(None, cache)  # fetched when missing, and checked
            if temporary is not None:
                shutil.rmtree(temporary, ignore_errors=True)
            pyodide.pypi_wheels(cache)
        except pyodide.PyodideError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"{pyodide.NPM_PACKAGE} and {', '.join(pyodide.PYPI_WHEELS)} are in {cache}")
        return 0
    error = installed_copy_error("lite", "the browser edition", "lite --out DIR")
    if error:
        print(error, file=sys.stderr)
        return 1
    try:
        site = build_site(args.out, SOURCE_ROOT, solution=args.solution, cdn=args.cdn,
                          packages=args.pyodide_packages, runtime_source=args.pyodide_runtime, cache=cache,
                          force=args.force, log=lambda line: print(f"  {line}", flush=True))
    except (SiteError, pyodide.PyodideError, WheelError) as error:
        print(f"error: {error}; nothing was written to {args.out}", file=sys.stderr)
        return 1
    except ReleaseError as error:
        print_problems("error: the student edition cannot be built, nothing was written", error.problems)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted: nothing was written to {args.out}", file=sys.stderr)
        return 130
    except (OSError, subprocess.SubprocessError) as error:
        print(f"error: cannot build the site in {args.out}: {error}; nothing was changed there", file=sys.stderr)
        return 1
    print(summary(site))
    return 0


def summary(site):
    return "\n".join([
        f"Browser edition ({site.edition} edition) written to {site.out}: {site.files} files, "
        f"{site.bytes / 1e6:.0f} MB",
        f"  notebooks: {', '.join(site.notebooks)}",
        f"  package files, editable in the browser: {len(site.package_files)} in cs231n_bn/",
        f"  kit: {site.wheel}, loaded as the kernel starts; Pyodide from {site.pyodide}",
        f"  data: {len(site.data_files)} files in static/datasets/",
        f"  serve it with any static web server, e.g. python3 -m http.server --directory {site.out}, then open "
        f"http://localhost:8000/",
    ])


if __name__ == "__main__":
    sys.exit(main())
