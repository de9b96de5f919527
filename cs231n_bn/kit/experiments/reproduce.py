"""`python -m cs231n_bn reproduce`: Ioffe & Szegedy (2015), Figure 1, without Jupyter.

Trains the paper's sigmoid network with and without batch norm (cs231n_bn/kit/experiments/figure1.py, the same
code as notebooks/PaperReproduction.ipynb), showing a progress bar, then writes into --out:

    figure1.png                    the three panels of Figure 1
    figure1a.png, figure1b.png, figure1c.png   one panel each
    figure1.csv                    the curves: step, test accuracies, sigmoid-input percentiles
    summary.txt                    the summary table printed at the end

Exit status: 0 when the run finished, 1 when the data set is missing or unreadable, training diverged or the
results cannot be written, 2 for bad arguments (argparse), 130 when interrupted (Ctrl-C) during training.
"""

import argparse
import math
import os
import sys

# The matrices are small (60 x 784 at most per step): one BLAS thread is faster than two, and far faster than two
# competing with other work for the cores. Set before NumPy is first imported; a setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from cs231n_bn.kit.atomic import atomic_write  # noqa: E402
from cs231n_bn.kit.experiments import figure1  # noqa: E402 (imports NumPy)

PROG = "python -m cs231n_bn reproduce"


def _argument_type(convert, allowed, expected):
    """An argparse type: convert(text), rejected with "expected <expected>" unless allowed(value)."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not allowed(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _argument_type(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _argument_type(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _argument_type(float, lambda v: math.isfinite(v) and v > 0, "a positive number")


def _unit(text):
    value = _non_negative_int(text)
    if value >= 100:
        raise argparse.ArgumentTypeError(f"expected a unit index in 0..99 (hidden layers have 100 units), got {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="Reproduce Ioffe & Szegedy (2015), Figure 1: a network of three sigmoid layers of 100 units, "
                    "trained with and without batch norm; test accuracy and the distribution of one sigmoid's "
                    "input over training.",
        epilog="Files written into --out: figure1.png (and one panel each in figure1a/b/c.png), figure1.csv, "
               "summary.txt. MNIST must be fetched first: python -m cs231n_bn fetch mnist")
    parser.add_argument("--dataset", choices=figure1.DATASETS, default="fashion-mnist",
                        help="data set (default: fashion-mnist; mnist is the paper's, fetch it first)")
    parser.add_argument("--steps", type=_positive_int, default=figure1.STEPS,
                        help=f"SGD steps of {figure1.BATCH_SIZE} examples (default: {figure1.STEPS}, as in the paper)")
    parser.add_argument("--out", default="results",
                        help="directory for the figure, the CSV and the summary (default: results/)")
    parser.add_argument("--seed", type=_non_negative_int, default=0,
                        help="seed of the initial weights and the mini-batches (default: 0)")
    parser.add_argument("--eval-every", type=_positive_int, default=figure1.EVAL_EVERY,
                        help=f"evaluate on the test set every this many steps (default: {figure1.EVAL_EVERY})")
    parser.add_argument("--learning-rate", type=_positive_float, default=figure1.LEARNING_RATE,
                        help=f"SGD learning rate (default: {figure1.LEARNING_RATE})")
    parser.add_argument("--weight-scale", type=_positive_float, default=figure1.WEIGHT_SCALE,
                        help=f"standard deviation of the initial weights (default: {figure1.WEIGHT_SCALE})")
    parser.add_argument("--unit", type=_unit, default=figure1.UNIT,
                        help=f"which sigmoid of the last hidden layer to track, 0..99 (default: {figure1.UNIT})")
    parser.add_argument("--data-root", default=None,
                        help="data root (default: $CS231N_BN_DATA, else the repository's datasets/)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _error(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def main(argv=None):
    """Run the command with the arguments `argv` (default: sys.argv[1:]). Returns the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    # Fail on an unusable output directory now, not after minutes of training.
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        return _error(f"--out {args.out!r} exists and is not a directory")

    from cs231n_bn.kit.data.store import ChecksumError, DatasetNotFoundError
    from cs231n_bn.kit.data.formats import FormatError

    try:
        data = figure1.load_data(args.dataset, root=args.data_root)
    except DatasetNotFoundError as exc:
        return _error(str(exc))
    except (ChecksumError, FormatError, OSError) as exc:
        return _error(f"cannot read {figure1.TITLES[args.dataset]}: {exc}")

    try:
        result = figure1.run(data, steps=args.steps, eval_every=args.eval_every, seed=args.seed,
                             learning_rate=args.learning_rate, weight_scale=args.weight_scale, unit=args.unit, progress=not args.no_progress)
    except FloatingPointError as exc:
        return _error(str(exc))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing written", file=sys.stderr)
        return 130

    try:
        paths = figure1.save_figures(result, args.out)
        paths.append(figure1.save_csv(result, os.path.join(args.out, "figure1.csv")))
        table = figure1.summary_table(result)
        summary_path = os.path.join(args.out, "summary.txt")
        atomic_write(summary_path, (table + "\n").encode("utf-8"))
        paths.append(summary_path)
    except OSError as exc:
        return _error(f"cannot write the results into {args.out!r}: {exc}")

    print(table)
    print()
    print("written: " + ", ".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
