"""How long ``python -m cs231n_bn check`` takes: the whole command, as a student runs it.

    .venv/bin/python benchmarks/check.py [--repeats 5]

Rows: every check on this solution edition with the student's functions in a process of their own (the default),
the same in the grader's process (``--in-process``, the browser's way), and a blank student edition (every
function a stub). Prints the minimum, median and maximum wall time over the repeats.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command, cwd, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), max(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    check = [sys.executable, "-m", "cs231n_bn", "check"]
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "cs231n_bn", "release", "--out", f"{folder}/student"], cwd=REPO,
                       capture_output=True, check=True)
        rows = [("solution edition, functions in a child process", check, REPO),
                ("solution edition, --in-process", check + ["--in-process"], REPO),
                ("blank student edition", check, Path(folder) / "student")]
        print(f"| {'run':<50} | min (s) | median (s) | max (s) |")
        print(f"| {'-' * 50} | ---: | ---: | ---: |")
        for label, command, cwd in rows:
            low, mid, high = timed(command, cwd, args.repeats)
            print(f"| {label:<50} | {low:.2f} | {mid:.2f} | {high:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
