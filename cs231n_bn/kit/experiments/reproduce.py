"""`python -m cs231n_bn reproduce`: Ioffe & Szegedy (2015), Figure 1, without Jupyter.

Runs the experiment of cs231n_bn/kit/experiments/figure1.py (the same code as notebooks/PaperReproduction.ipynb)
with its rule for what the paper leaves open: the learning-rate search on the validation split, then Figure 1
over several seeds; with --sweep also the sensitivity grid (sweep.py). Shows a progress bar, then writes into
--out:

    figure1.png                    the three panels of Figure 1
    figure1a.png, figure1b.png, figure1c.png   one panel each
    figure1.csv                    the curves: step, seed, test accuracies, sigmoid-input percentiles
    learning_rates.png, learning_rates.csv     the learning-rate search (not with --learning-rates)
    sensitivity.png, sensitivity.csv           the sweep (with --sweep only)
    summary.txt                    the summary printed at the end

The set is written as a whole: every file first goes into a temporary folder inside --out, then all are moved
into place together (Ctrl-C is held off during those renames); files of this list left from an earlier run and
not part of the new set are removed at the same time. Until then the earlier files stay as they were.

Exit status: 0 when the run finished, 1 when the data set is missing or unreadable, training diverged or the
results cannot be written, 2 for bad arguments (argparse), 130 when interrupted (Ctrl-C).
"""

import os
import signal
import sys

# The matrices are small (60 x 784 at most per step): one BLAS thread per process is faster than two, and far
# faster than two competing with the other worker. Set before NumPy is first imported; the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

PROG = "python -m cs231n_bn reproduce"
FIGURE1_FILES = ("figure1.png", "figure1a.png", "figure1b.png", "figure1c.png", "figure1.csv")
SEARCH_FILES = ("learning_rates.png", "learning_rates.csv")
SWEEP_FILES = ("sensitivity.png", "sensitivity.csv")
SUMMARY_FILE = "summary.txt"
ALL_FILES = FIGURE1_FILES + SEARCH_FILES + SWEEP_FILES + (SUMMARY_FILE,)


def _argument_type(convert, allowed, expected):
    """An argparse type: convert(text), rejected with "expected <expected>" unless allowed(value)."""
    import argparse

    def parse(text):
        try:
            value = convert(text)
        except (ValueError, OverflowError):
            value = None
        if value is None or not allowed(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def _list_of(convert):
    def parse(text):
        values = [convert(part) for part in text.split(",")]
        return values

    return parse


def build_parser():
    import argparse
    import math

    from cs231n_bn.kit.experiments import figure1, sweep
    from cs231n_bn.kit.experiments.runs import MAX_STEPS

    positive_int = _argument_type(int, lambda v: v >= 1, "a positive integer")
    steps_type = _argument_type(int, lambda v: 1 <= v <= MAX_STEPS,
                                f"a number of steps in 1..{MAX_STEPS:,} (the paper trains {figure1.STEPS:,})")
    positive_float = _argument_type(float, lambda v: math.isfinite(v) and v > 0, "a positive number")
    seeds_type = _argument_type(_list_of(int), lambda v: all(s >= 0 for s in v) and len(set(v)) == len(v),
                                "distinct integers >= 0 separated by commas, e.g. 0,1,2")
    floats_type = _argument_type(_list_of(float), lambda v: all(math.isfinite(x) and x > 0 for x in v),
                                 "positive numbers separated by commas, e.g. 0.1,1,10")
    lrs_type = _argument_type(_list_of(float), lambda v: len(v) in (1, 2) and all(math.isfinite(x) and x > 0
                                                                                     for x in v),
                              "'search', one positive number (both networks) or two separated by a comma "
                              "(without BN, with BN)")
    unit_type = _argument_type(int, lambda v: 0 <= v < 100, "a unit index in 0..99 (hidden layers have 100 units)")

    def lrs_or_search(text):
        return "search" if text == "search" else lrs_type(text)

    def csv(values):
        return ",".join(f"{v:g}" for v in values)

    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="Reproduce Ioffe & Szegedy (2015), Figure 1: a network of three sigmoid layers of 100 units, "
                    "trained with and without batch norm, over several seeds; test accuracy and the distribution "
                    "of one sigmoid's input over training. The learning rates are chosen by a search on the "
                    "validation split (the same for both networks); --sweep adds the sensitivity grid over "
                    "learning rates and initial weight scales.",
        epilog="Files written into --out: figure1.png (and one panel each in figure1a/b/c.png), figure1.csv, "
               "learning_rates.png/.csv (the search), sensitivity.png/.csv (with --sweep), summary.txt; written "
               "as one set (the earlier set stays until the new one is complete). MNIST must be fetched first: "
               "python -m cs231n_bn fetch mnist")
    parser.add_argument("--dataset", choices=figure1.DATASETS, default="fashion-mnist",
                        help="data set (default: fashion-mnist; mnist is the paper's, fetch it first)")
    parser.add_argument("--out", default="results",
                        help="directory for the figures, the CSV files and the summary (default: results/)")
    parser.add_argument("--steps", type=steps_type, default=figure1.STEPS,
                        help=f"SGD steps of {figure1.BATCH_SIZE} examples for Figure 1 (default: {figure1.STEPS:,}, "
                             f"as in the paper)")
    parser.add_argument("--seeds", type=seeds_type, default=list(figure1.SEEDS),
                        help=f"seeds of Figure 1, each one run of both networks (default: {csv(figure1.SEEDS)})")
    parser.add_argument("--eval-every", type=positive_int, default=figure1.EVAL_EVERY,
                        help=f"evaluate on the test set every this many steps (default: {figure1.EVAL_EVERY})")
    parser.add_argument("--weight-scale", type=positive_float, default=figure1.WEIGHT_SCALE,
                        help=f"standard deviation of the initial weights of both networks "
                             f"(default: {figure1.WEIGHT_SCALE})")
    parser.add_argument("--learning-rates", type=lrs_or_search, default="search", metavar="search|LR|LR,LR",
                        help="'search' (default: the rule's search on the validation split), or the SGD "
                             "learning rate of both networks, or of each (without BN, with BN)")
    parser.add_argument("--search-candidates", type=floats_type, default=list(figure1.LR_CANDIDATES),
                        metavar="LR,LR,...",
                        help=f"learning rates the search tries (default: {csv(figure1.LR_CANDIDATES)})")
    parser.add_argument("--search-steps", type=steps_type, default=figure1.SEARCH_STEPS,
                        help=f"steps of each search run (default: {figure1.SEARCH_STEPS:,}; the early "
                             f"checkpoint is a tenth of it)")
    parser.add_argument("--sweep", action="store_true",
                        help="also run the sensitivity sweep (both networks at every learning rate and weight "
                             "scale of the grid)")
    parser.add_argument("--sweep-learning-rates", type=floats_type, default=list(sweep.LEARNING_RATES),
                        metavar="LR,LR,...", help=f"the sweep's learning rates (default: {csv(sweep.LEARNING_RATES)})")
    parser.add_argument("--sweep-weight-scales", type=floats_type, default=list(sweep.WEIGHT_SCALES),
                        metavar="S,S,...", help=f"the sweep's weight scales (default: {csv(sweep.WEIGHT_SCALES)})")
    parser.add_argument("--sweep-steps", type=steps_type, default=sweep.STEPS,
                        help=f"steps of each sweep run (default: {sweep.STEPS:,}; the early checkpoint is a tenth "
                             f"of it)")
    parser.add_argument("--unit", type=unit_type, default=figure1.UNIT,
                        help=f"which sigmoid of the last hidden layer to track, 0..99 (default: {figure1.UNIT})")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="worker processes, each training one network at a time (default: one per core)")
    parser.add_argument("--data-root", default=None,
                        help="data root (default: $CS231N_BN_DATA, else the repository's datasets/)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _error(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


def check_out_dir(out):
    """None if the results can go into `out`, else the reason (the folder is not touched either way)."""
    if os.path.exists(out) and not os.path.isdir(out):
        return f"--out {out!r} exists and is not a directory"
    for name in ALL_FILES:
        path = os.path.join(out, name)
        if os.path.lexists(path) and (os.path.isdir(path) or not os.path.isfile(path)):
            return f"{path!r} exists and is not a regular file; remove or rename it (nothing was written)"
    return None


def _write_set(out, write, names):
    """
    Write a set of files into `out` as a whole: write(tmp_dir) writes every file of `names` into a fresh
    temporary folder inside `out`; then each is renamed onto out/name, and the files of ALL_FILES not in
    `names` are removed, with SIGINT held off until all of that is done. If anything fails (or Ctrl-C comes)
    before the renames, the temporary folder is removed and `out` is as it was.

    Returns True if a SIGINT arrived during the renames (the new set is then complete).
    """
    import shutil
    import tempfile

    created = not os.path.exists(out)
    os.makedirs(out, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=out, prefix=".reproduce-", suffix=".tmp")
    try:
        write(tmp)
        missing = [n for n in names if not os.path.isfile(os.path.join(tmp, n))]
        if missing:
            raise OSError(f"internal error: {', '.join(missing)} not written")
        reason = check_out_dir(out)  # again: the folder may have changed during the run
        if reason:
            raise OSError(reason)
        interrupted = []
        try:
            previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
        except ValueError:  # not the main thread: signals cannot arrive here anyway
            previous = None
        try:
            for name in names:
                os.replace(os.path.join(tmp, name), os.path.join(out, name))
            for name in set(ALL_FILES) - set(names):
                try:
                    os.unlink(os.path.join(out, name))
                except FileNotFoundError:
                    pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return bool(interrupted)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:
            try:
                os.rmdir(out)  # only if still empty: the run was stopped before the renames
            except OSError:
                pass


def _run(args):
    import time

    from cs231n_bn.kit.atomic import atomic_write
    from cs231n_bn.kit.data.formats import FormatError
    from cs231n_bn.kit.data.store import ChecksumError, DatasetNotFoundError
    from cs231n_bn.kit.experiments import figure1, sweep

    # Fail on an unusable output directory now, not after minutes of training.
    reason = check_out_dir(args.out)
    if reason:
        return _error(reason)
    start = time.perf_counter()
    try:
        data = figure1.load_data(args.dataset, root=args.data_root)
    except DatasetNotFoundError as exc:
        return _error(str(exc))
    except (ChecksumError, FormatError, OSError) as exc:
        return _error(f"cannot read {figure1.TITLES[args.dataset]}: {exc}")

    progress = not args.no_progress
    search = None
    try:
        if args.learning_rates == "search":
            search = figure1.search_learning_rates(
                data, candidates=args.search_candidates, weight_scale=args.weight_scale, steps=args.search_steps,
                early_step=max(args.search_steps // 10, 1), workers=args.workers, progress=progress)
            learning_rates = search.chosen
        elif len(args.learning_rates) == 1:
            learning_rates = args.learning_rates[0]
        else:
            learning_rates = dict(zip(figure1.NETWORKS, args.learning_rates))
        result = figure1.run(data, learning_rates, seeds=args.seeds, steps=args.steps, eval_every=args.eval_every,
                             weight_scale=args.weight_scale, unit=args.unit, workers=args.workers,
                             progress=progress)
        grid = None
        if args.sweep:
            grid = sweep.sweep(data, learning_rates=args.sweep_learning_rates, weight_scales=args.sweep_weight_scales,
                               steps=args.sweep_steps, early_step=max(args.sweep_steps // 10, 1),
                               workers=args.workers, progress=progress)
    except FloatingPointError as exc:
        return _error(str(exc))

    parts = [figure1.summary_table(result, search)]
    if grid is not None:
        parts.append(sweep.summary(grid))
    timing = [f"learning-rate search {search.seconds:.0f} s" if search is not None else None,
              f"Figure 1 {result.seconds:.0f} s", f"sweep {grid.seconds:.0f} s" if grid is not None else None]
    from cs231n_bn.kit.experiments.runs import default_workers

    workers = args.workers or default_workers()
    cpu = result.cpu_seconds + (search.cpu_seconds if search else 0) + (grid.cpu_seconds if grid else 0)
    parts.append(f"wall time {time.perf_counter() - start:.0f} s ({', '.join(t for t in timing if t)}); "
                 f"CPU time of the training runs {cpu:.0f} s, on {workers} worker processes")
    table = "\n\n".join(parts)

    names = list(FIGURE1_FILES) + (list(SEARCH_FILES) if search is not None else []) \
        + (list(SWEEP_FILES) if grid is not None else []) + [SUMMARY_FILE]

    def write(tmp):
        figure1.save_figures(result, tmp)
        figure1.save_csv(result, os.path.join(tmp, "figure1.csv"))
        if search is not None:
            figure1.save_figure(figure1.plot_learning_rates(search), os.path.join(tmp, "learning_rates.png"))
            figure1.save_search_csv(search, os.path.join(tmp, "learning_rates.csv"))
        if grid is not None:
            sweep.save_figure(grid, os.path.join(tmp, "sensitivity.png"))
            sweep.save_csv(grid, os.path.join(tmp, "sensitivity.csv"))
        atomic_write(os.path.join(tmp, SUMMARY_FILE), (table + "\n").encode("utf-8"))

    try:
        interrupted = _write_set(args.out, write, names)
    except OSError as exc:
        return _error(f"cannot write the results into {args.out!r} (its earlier files are unchanged): {exc}")

    print(table)
    print()
    print("written: " + ", ".join(os.path.join(args.out, n) for n in names))
    if interrupted:
        print(f"{PROG}: interrupted while moving the results into place; the new set is complete", file=sys.stderr)
        return 130
    return 0


def _import_modules():
    """
    Import every module the command uses, with Ctrl-C held off: an interrupt inside an extension module's import
    (NumPy's, matplotlib's) surfaces as an ImportError with a traceback, not as a KeyboardInterrupt. A Ctrl-C
    pressed meanwhile is delivered when this returns.
    """
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if hasattr(signal, "pthread_sigmask") \
        else None
    try:
        import matplotlib.figure  # noqa: F401
        import tqdm  # noqa: F401

        import cs231n_bn.kit.data.formats  # noqa: F401
        import cs231n_bn.kit.data.store  # noqa: F401
        import cs231n_bn.solver  # noqa: F401
        from cs231n_bn.classifiers import fc_net  # noqa: F401
        from cs231n_bn.kit.experiments import figure1, runs, sweep  # noqa: F401
        from cs231n_bn.kit import monitors  # noqa: F401
        import cs231n_bn.data_utils  # noqa: F401
    finally:
        if blocked is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def main(argv=None):
    """Run the command with the arguments `argv` (default: sys.argv[1:]). Returns the exit status."""
    try:
        _import_modules()
        args = build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
        return _run(args)
    except KeyboardInterrupt:
        # Ctrl-C at any point before the results are moved into place: the workers are ended (runs.run_all),
        # the temporary files removed (_write_set), and the files in --out left as they were.
        print(f"{PROG}: interrupted; nothing written (the files in --out are unchanged)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
