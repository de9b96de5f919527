"""Ioffe & Szegedy (2015), Section 4.1 and Figure 1: a sigmoid network trained with and without batch norm.

The experiment, shared by notebooks/PaperReproduction.ipynb and `python -m cs231n_bn reproduce`:

- The network: FullyConnectedNet([100, 100, 100], input_dim=784, num_classes=10, nonlinearity='sigmoid',
  normalization=None ('baseline') or 'batchnorm'), batch norm before each sigmoid, as in the paper.
- Training: the Solver (cs231n_bn/solver.py), plain SGD, `steps` = 50,000 updates of `batch_size` = 60
  examples drawn with replacement from the 55,000 training images. Two networks of the same seed start from
  the same weights and see the same mini-batches.
- Recorded every `eval_every` = 500 steps by the Solver's callbacks (cs231n_bn.kit.monitors): (a) the test
  accuracy over the 10,000 test images (AccuracyRecorder) and (b, c) the 15th, 50th and 85th percentiles over
  the same images of the input to one sigmoid of the last hidden layer (ActivationRecorder on 'preact3', unit
  `unit`; with batch norm, gamma * x_hat + beta with the running statistics, as at test time).

What the paper leaves open (the learning rate and the "small random Gaussian values" of the initial weights)
is chosen by one rule, the same for both networks (THE RULE):

1. Same initialization for both: W ~ N(0, WEIGHT_SCALE^2) with WEIGHT_SCALE = 0.1, biases 0 (gamma 1, beta 0).
   0.1 = 1 / sqrt(100), the fan-in of the hidden layers: an affine layer then keeps the spread of its input
   across examples, and only the sigmoid's slope (at most 1/4) shrinks it, so the plain network's last hidden
   layer still tells the examples apart and the plain network learns from its first steps. (With cs231n's
   default 0.01 each layer shrinks that spread about 40-fold, and the plain network sits at chance for
   thousands of steps: one labelled point of the sensitivity sweep, sweep.py.)
2. Each network's learning rate: the candidate of LR_CANDIDATES (0.03 to 30, about 3x apart) with the highest
   validation accuracy (the 5,000 images of the validation split) after SEARCH_STEPS = 5,000 steps from seed
   SEARCH_SEED = 0; ties go to the smaller rate. search_learning_rates() runs it; the same search, on the same
   grid and budget, for both networks.
3. Figure 1 is then trained for SEEDS = 0, 1, 2 (the seed sets the initial weights and the mini-batches), and
   reported as the mean and the spread (minimum to maximum, and the standard deviation) over the seeds.

Typical use:

    data = load_data('fashion-mnist')
    search = search_learning_rates(data, progress=True)
    result = run(data, search.chosen, progress=True)
    fig = plot(result)
    print(summary_table(result, search))

Runs go to worker processes, one per core (cs231n_bn/kit/experiments/runs.py), each with one BLAS thread.
"""

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from cs231n_bn.kit.atomic import atomic_write
from cs231n_bn.kit.experiments.runs import (MAX_STEPS, PERCENTILES, RunSpec, accuracy_at, check_int, check_positive,
                                           run_all)

# The paper's set-up (Section 4.1).
STEPS = 50000
BATCH_SIZE = 60
# The rule for what the paper leaves open (see the module docstring).
WEIGHT_SCALE = 0.1
LR_CANDIDATES = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
SEARCH_STEPS = 5000
SEARCH_EARLY_STEP = 500
SEARCH_SEED = 0
SEEDS = (0, 1, 2)
# What is recorded.
EVAL_EVERY = 500
EARLY_STEP = 5000  # the "early" checkpoint of the summary: does batch norm train faster?
UNIT = 0  # the sigmoid of the last hidden layer whose input is tracked
NETWORKS = ("baseline", "batchnorm")
NORMALIZATION = {"baseline": None, "batchnorm": "batchnorm"}
LABELS = {"baseline": "without BN", "batchnorm": "with BN"}
DATASETS = ("fashion-mnist", "mnist")
TITLES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST"}

CSV_COLUMNS = ("step", "seed", "test_acc_baseline", "test_acc_batchnorm",
               "p15_baseline", "p50_baseline", "p85_baseline",
               "p15_batchnorm", "p50_batchnorm", "p85_batchnorm")
SEARCH_CSV_COLUMNS = ("network", "learning_rate", "val_acc_early", "val_acc_final", "diverged_at_step", "chosen")


@dataclass
class Figure1Result:
    """
    What one run of the experiment recorded, over several seeds.

    Attributes:
    - steps: int array of shape (T,), the training steps at which the networks were evaluated.
    - seeds: int array of shape (S,).
    - accuracy: dict 'baseline' / 'batchnorm' -> float array (S, T), test accuracy per seed and step.
    - percentiles: dict 'baseline' / 'batchnorm' -> float array (S, T, 3), the 15th, 50th and 85th percentiles
      of the tracked sigmoid input over the test set, per seed and step.
    - config: dict of the run's settings (dataset, steps, batch_size, learning_rates (a dict per network),
      weight_scale, eval_every, seeds, unit, num_test).
    - seconds: wall time of the training (float); cpu_seconds: the CPU time of the runs, summed.
    """

    steps: np.ndarray
    seeds: np.ndarray
    accuracy: dict
    percentiles: dict
    config: dict = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def at(self, step):
        """The index of the last evaluation at or before `step` (the first one if `step` precedes them all)."""
        return max(int(np.searchsorted(self.steps, step, side="right")) - 1, 0)


@dataclass
class LearningRateSearch:
    """
    The learning-rate search of the rule, and the experiment behind "batch norm tolerates higher rates".

    Attributes:
    - candidates: float array (K,), the learning rates tried.
    - steps: (early, final) steps at which validation accuracy was read.
    - accuracy: dict network -> float array (K, 2), validation accuracy at those steps (NaN after divergence).
    - diverged_at: dict network -> list of K entries, None or the step at which the loss became non-finite.
    - chosen: dict network -> the chosen learning rate (highest final validation accuracy; ties: smaller rate).
    - config: dict (dataset, weight_scale, seed, batch_size, num_val); seconds, cpu_seconds as in Figure1Result.
    """

    candidates: np.ndarray
    steps: tuple
    accuracy: dict
    diverged_at: dict
    chosen: dict
    config: dict = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0


def load_data(dataset="fashion-mnist", root=None, num_validation=None, num_test=None):
    """
    Load a data set for the experiment: flattened float32 images, pixels scaled to [0, 1], mean image of the
    training split subtracted (cs231n_bn.data_utils.get_data).

    Inputs:
    - dataset: 'fashion-mnist' (the default, fetched by setup.sh) or 'mnist' (the paper's data set, fetched
      with `python -m cs231n_bn fetch mnist`).
    - root: data root (default: $CS231N_BN_DATA, else the repository's datasets/).
    - num_validation, num_test: fewer validation or test images than the defaults below (the last ones of the
      training set, the first ones of the test set), for a run where every evaluation must be cheap.

    Returns a dict with 'X_train' (55000, 784), 'y_train' (55000,), the 5000-image validation split 'X_val'
    (5000, 784), 'y_val' (5000,) (used by the learning-rate search), 'X_test' (10000, 784), 'y_test' (10000,),
    and 'dataset' (the name, for titles). Raises cs231n_bn.kit.data.store.DatasetNotFoundError (a
    FileNotFoundError whose message is the fetch command) when the data set is missing.
    """
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; allowed: {', '.join(map(repr, DATASETS))}")
    from cs231n_bn.data_utils import get_data  # imported here: `--help` should not need the data modules

    data = get_data(dataset, num_validation=num_validation, num_test=num_test, flatten=True, dtype=np.float32,
                    root=root)
    data["dataset"] = dataset
    return data


def _check_data(data):
    missing = [k for k in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test") if k not in data]
    if missing:
        raise ValueError(f"data is missing {', '.join(map(repr, missing))}")


def _check_seeds(seeds):
    seeds = [check_int("seed", s, minimum=0) for s in np.atleast_1d(np.asarray(seeds, dtype=object))]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be one or more distinct integers >= 0, got {seeds!r}")
    return seeds


def _learning_rates(learning_rates):
    """A number (both networks) or a dict {'baseline': lr, 'batchnorm': lr} -> the dict, checked."""
    if not isinstance(learning_rates, dict):
        learning_rates = {name: learning_rates for name in NETWORKS}
    if sorted(learning_rates) != sorted(NETWORKS):
        raise ValueError(f"learning_rates must be a number or a dict with keys 'baseline', 'batchnorm', "
                         f"got {learning_rates!r}")
    return {name: check_positive(f"the learning rate of the {LABELS[name]} network", learning_rates[name])
            for name in NETWORKS}


# ----------------------------------------------------------------------------------------------------------------
# The rule's learning-rate search
# ----------------------------------------------------------------------------------------------------------------


def search_learning_rates(data, candidates=LR_CANDIDATES, weight_scale=WEIGHT_SCALE, steps=SEARCH_STEPS,
                          early_step=SEARCH_EARLY_STEP, seed=SEARCH_SEED, batch_size=BATCH_SIZE, workers=None,
                          progress=False):
    """
    Step 2 of the rule: train each network at every candidate learning rate and pick, for each network, the
    rate with the highest validation accuracy after `steps` steps (ties: the smaller rate; a run whose loss
    became non-finite counts as accuracy 0).

    Inputs:
    - data: dict as returned by load_data.
    - candidates: Sequence of K > 0 learning rates.
    - weight_scale, batch_size, seed: as for run (one seed: the search is cheap because it is small).
    - steps: Training steps of each search run; early_step: a second, earlier checkpoint, reported (not used
      for the choice).
    - workers, progress: see runs.run_all.

    Returns a LearningRateSearch.
    """
    _check_data(data)
    candidates = np.array(sorted({check_positive("learning rate", lr) for lr in candidates}))
    if candidates.size == 0:
        raise ValueError("candidates must hold at least one learning rate")
    steps = check_int("steps", steps, maximum=MAX_STEPS)
    early_step = check_int("early_step", early_step, maximum=steps)
    eval_every = math.gcd(early_step, steps)
    specs = [RunSpec(NORMALIZATION[name], float(lr), weight_scale, seed, steps, batch_size=batch_size,
                     eval_every=eval_every, split="val")
             for name in NETWORKS for lr in candidates]
    start = time.perf_counter()
    results = run_all(data, specs, workers=workers, progress=progress, desc="learning-rate search")
    seconds = time.perf_counter() - start
    accuracy, diverged_at, chosen = {}, {}, {}
    K = len(candidates)
    for n, name in enumerate(NETWORKS):
        rows = results[n * K:(n + 1) * K]
        acc = np.stack([accuracy_at(r, (early_step, steps), np.nan) for r in rows])  # (K, 2)
        accuracy[name] = acc
        diverged_at[name] = [r["diverged_at"] for r in rows]
        final = np.where(np.isnan(acc[:, 1]), 0.0, acc[:, 1])
        chosen[name] = float(candidates[int(np.argmax(final))])  # argmax: the first (smallest) of ties
    config = dict(dataset=data.get("dataset", "?"), weight_scale=float(weight_scale), seed=int(seed),
                  batch_size=int(batch_size), num_val=int(data["X_val"].shape[0]))
    return LearningRateSearch(candidates=candidates, steps=(early_step, steps), accuracy=accuracy,
                              diverged_at=diverged_at, chosen=chosen, config=config, seconds=seconds,
                              cpu_seconds=float(sum(r["cpu_seconds"] for r in results)))


# The experiment the student designs (PaperReproduction.ipynb, section 4.1): a learning rate that only batch norm
# survives. The plain network "fails" below FAILS_BELOW validation accuracy (or with a diverged loss), the
# batch-normalized one "trains" above TRAINS_ABOVE, after HIGH_RATE_STEPS steps, in every seed.
HIGH_RATE_STEPS = 1000
FAILS_BELOW = 0.2    # twice chance (10 classes)
TRAINS_ABOVE = 0.4   # four times chance


def check_high_learning_rate(data, learning_rate, seeds=SEEDS, steps=HIGH_RATE_STEPS, workers=None):
    """
    At `learning_rate`, does the plain network fail while the batch-normalized one trains, in every seed? Both
    start from the rule's initial weights (WEIGHT_SCALE) of the seed and see the same mini-batches; each is read
    on the validation split after `steps` steps (a diverged loss counts as failing).

    Inputs:
    - data: dict as returned by load_data; learning_rate: a finite number > 0
    - seeds, steps, workers: as for run

    Returns a dict: 'seeds' (list), and for 'baseline' and 'batchnorm' a float array of the validation accuracies
    per seed (NaN: the loss diverged). Raises AssertionError, with what the runs showed, if the plain network
    learned or the batch-normalized one did not in some seed; ValueError for a bad learning rate.
    """
    _check_data(data)
    learning_rate = check_positive("learning_rate", learning_rate)
    seeds = _check_seeds(seeds)
    steps = check_int("steps", steps, maximum=MAX_STEPS)
    specs = [RunSpec(NORMALIZATION[name], learning_rate, WEIGHT_SCALE, seed, steps, batch_size=BATCH_SIZE,
                     eval_every=steps, split="val") for name in NETWORKS for seed in seeds]
    results = run_all(data, specs, workers=workers)
    S = len(seeds)
    accuracy = {name: np.concatenate([accuracy_at(r, (steps,), np.nan) for r in results[n * S:(n + 1) * S]])
                for n, name in enumerate(NETWORKS)}
    plain, bn = accuracy["baseline"], accuracy["batchnorm"]
    problems = []
    learned = [seed for seed, a in zip(seeds, plain) if a >= FAILS_BELOW]
    if learned:
        problems.append(f"the plain network learned (validation accuracy {FAILS_BELOW:g} or more) in seed"
                        f"{'s' if len(learned) > 1 else ''} {', '.join(map(str, learned))}: try a higher rate")
    stuck = [seed for seed, a in zip(seeds, bn) if not a > TRAINS_ABOVE]
    if stuck:
        problems.append(f"the batch-normalized network did not train (validation accuracy {TRAINS_ABOVE:g} or "
                        f"less, or a diverged loss) in seed{'s' if len(stuck) > 1 else ''} "
                        f"{', '.join(map(str, stuck))}: try a lower rate")
    if problems:
        shown = {name: ", ".join("diverged" if np.isnan(a) else f"{a:.3f}" for a in accuracy[name])
                 for name in NETWORKS}
        raise AssertionError(
            f"learning rate {learning_rate:g} is not one that only batch norm survives: {'; '.join(problems)} "
            f"(validation accuracy after {steps:,} steps without BN {shown['baseline']}, with BN "
            f"{shown['batchnorm']}; seeds {', '.join(map(str, seeds))})")
    return {"seeds": seeds, **accuracy}


# ----------------------------------------------------------------------------------------------------------------
# Figure 1
# ----------------------------------------------------------------------------------------------------------------


def run(data, learning_rates, seeds=SEEDS, weight_scale=WEIGHT_SCALE, steps=STEPS, batch_size=BATCH_SIZE,
        eval_every=EVAL_EVERY, unit=UNIT, workers=None, progress=False, **kwargs):
    """
    Train the paper's network with and without batch norm, for each seed, and record Figure 1's curves.

    Inputs:
    - data: dict with 'X_train' (N, 784), 'y_train' (N,), 'X_val', 'y_val', 'X_test' (M, 784), 'y_test' (M,)
      (see load_data); an optional 'dataset' name is copied into the result's config.
    - learning_rates: dict {'baseline': lr, 'batchnorm': lr} (e.g. search_learning_rates(data).chosen), or
      one number for both networks.
    - seeds: Sequence of distinct seeds >= 0; each seeds the initial weights (the same for both networks) and
      the mini-batch draws.
    - weight_scale: Standard deviation of the initial weights.
    - steps: Number of SGD steps (the paper: 50,000; at most runs.MAX_STEPS).
    - batch_size: Examples per step (the paper: 60).
    - eval_every: Evaluate every this many steps (and after the last step).
    - unit: Which sigmoid of the last hidden layer (0..99) to track.
    - workers: Worker processes (default: one per core); 1 trains in this process. progress: a progress bar.
    Unknown keyword arguments are a TypeError.

    Returns a Figure1Result. Raises FloatingPointError if a training loss becomes NaN or infinite.
    """
    if kwargs:
        raise TypeError(f"run() got unexpected keyword argument(s) {', '.join(map(repr, kwargs))}")
    _check_data(data)
    learning_rates = _learning_rates(learning_rates)
    seeds = _check_seeds(seeds)
    specs = [RunSpec(NORMALIZATION[name], learning_rates[name], weight_scale, seed, steps, batch_size=batch_size,
                     eval_every=eval_every, split="test", track_unit=unit)
             for seed in seeds for name in NETWORKS]
    start = time.perf_counter()
    results = run_all(data, specs, workers=workers, progress=progress, desc="Figure 1")
    seconds = time.perf_counter() - start
    for spec, r in zip(specs, results):
        if r["diverged_at"] is not None:
            name = "baseline" if spec.normalization is None else "batchnorm"
            raise FloatingPointError(
                f"the training loss of the {LABELS[name]} network (seed {spec.seed}) became non-finite at step "
                f"{r['diverged_at']}; the updates diverged: try a smaller learning rate (now {spec.learning_rate})")
    points = results[0]["steps"]
    accuracy = {name: np.stack([results[2 * s + n]["accuracy"] for s in range(len(seeds))])
                for n, name in enumerate(NETWORKS)}
    percentiles = {name: np.stack([results[2 * s + n]["percentiles"] for s in range(len(seeds))])
                   for n, name in enumerate(NETWORKS)}
    config = dict(dataset=data.get("dataset", "?"), steps=int(steps), batch_size=int(batch_size),
                  learning_rates=learning_rates, weight_scale=float(weight_scale), eval_every=int(eval_every),
                  seeds=list(seeds), unit=int(unit), num_test=int(data["X_test"].shape[0]))
    return Figure1Result(steps=points, seeds=np.array(seeds), accuracy=accuracy, percentiles=percentiles,
                         config=config, seconds=seconds, cpu_seconds=float(sum(r["cpu_seconds"] for r in results)))


# ----------------------------------------------------------------------------------------------------------------
# The paper's claims, measured
# ----------------------------------------------------------------------------------------------------------------


def spread(values):
    """Summary over seeds of a 1-D array: dict with 'mean', 'sd' (ddof=1; 0 for one seed), 'min', 'max'."""
    values = np.asarray(values, dtype=np.float64)
    sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return {"mean": float(values.mean()), "sd": sd, "min": float(values.min()), "max": float(values.max())}


def drift(result, name):
    """
    How much the distribution of the tracked sigmoid input moves over training, for network `name`, per seed.

    Returns a dict of float arrays of shape (S,):
    - 'median_range': max - min over the evaluations of the median (50th percentile).
    - 'spread_range': max - min over the evaluations of the spread, 85th - 15th percentile.
    - 'final_median', 'final_spread': the median and the spread at the last evaluation.
    """
    p = result.percentiles[name]
    median, width = p[:, :, 1], p[:, :, 2] - p[:, :, 0]
    return {"median_range": median.max(axis=1) - median.min(axis=1),
            "spread_range": width.max(axis=1) - width.min(axis=1),
            "final_median": median[:, -1], "final_spread": width[:, -1]}


def claims(result, early_step=EARLY_STEP):
    """
    The paper's claims for Figure 1, checked on a result, seed by seed.

    Returns a list of (claim, seeds_held, num_seeds):
    - BN's test accuracy is higher at the early step (min(early_step, last step)): "trains faster";
    - BN's test accuracy is higher at the last step: "reaches higher test accuracy";
    - the median of the sigmoid input moves more (range over training) without BN than with it;
    - its spread (85th - 15th percentile) changes more without BN than with it.
    """
    early, last = result.at(early_step), len(result.steps) - 1
    acc = result.accuracy
    d = {name: drift(result, name) for name in NETWORKS}
    S = len(result.seeds)
    return [
        (f"BN trains faster (higher test accuracy at step {result.steps[early]:,})",
         int(np.sum(acc["batchnorm"][:, early] > acc["baseline"][:, early])), S),
        (f"BN reaches higher test accuracy (step {result.steps[last]:,})",
         int(np.sum(acc["batchnorm"][:, last] > acc["baseline"][:, last])), S),
        ("sigmoid input: median drifts more without BN",
         int(np.sum(d["baseline"]["median_range"] > d["batchnorm"]["median_range"])), S),
        ("sigmoid input: spread changes more without BN",
         int(np.sum(d["baseline"]["spread_range"] > d["batchnorm"]["spread_range"])), S),
    ]


def _pm(values, digits=4):
    s = spread(values)
    return f"{s['mean']:.{digits}f} +- {s['sd']:.{digits}f}"


def accuracy_rows(result, early_step=EARLY_STEP):
    """Rows (step, stats baseline, stats batchnorm, stats of the difference) at the early and last steps."""
    rows = []
    for k in sorted({result.at(early_step), len(result.steps) - 1}):
        a, b = result.accuracy["baseline"][:, k], result.accuracy["batchnorm"][:, k]
        rows.append((int(result.steps[k]), spread(a), spread(b), spread(b - a)))
    return rows


def search_table(search):
    """The learning-rate search as text: validation accuracy per candidate and network, the chosen rates."""
    early, final = search.steps
    lines = [f"learning-rate search (the rule): validation accuracy ({search.config.get('num_val', 0):,} images) "
             f"after {early:,} / {final:,} steps, seed {search.config.get('seed')}, weight scale "
             f"{search.config.get('weight_scale')}",
             f"{'learning rate':>13}  {'without BN':>15}  {'with BN':>15}"]
    for k, lr in enumerate(search.candidates):
        cells = []
        for name in NETWORKS:
            a = search.accuracy[name][k]
            if search.diverged_at[name][k] is not None:
                text = f"diverged@{search.diverged_at[name][k]:,}"
            else:
                text = " / ".join("  -  " if np.isnan(v) else f"{v:.3f}" for v in a)
            if search.chosen[name] == lr:
                text = "*" + text
            cells.append(f"{text:>15}")
        lines.append(f"{lr:>13g}  " + "  ".join(cells))
    lines.append(f"chosen (*): {search.chosen['baseline']:g} without BN, {search.chosen['batchnorm']:g} with BN")
    return "\n".join(lines)


def summary_table(result, search=None, early_step=EARLY_STEP):
    """
    A text summary of a result: settings, accuracies (mean +- standard deviation over the seeds, with their
    range) at the early and last steps, the drift of the sigmoid input, each of the paper's claims with the
    number of seeds in which it held, and, if given, the learning-rate search. Returns a str.
    """
    c = result.config
    lrs = c.get("learning_rates", {})
    title = TITLES.get(c.get("dataset"), c.get("dataset", "?"))
    S = len(result.seeds)
    out = [f"Ioffe & Szegedy 2015, Figure 1 on {title}: {c.get('steps', 0):,} steps of {c.get('batch_size')} "
           f"examples, plain SGD",
           f"learning rate {lrs.get('baseline', '?'):g} without BN, {lrs.get('batchnorm', '?'):g} with BN; "
           f"W ~ N(0, {c.get('weight_scale')}^2) for both; seeds {', '.join(map(str, result.seeds))}",
           f"test accuracy on {c.get('num_test', 0):,} test images, mean +- sd over {S} seeds [min, max]", ""]
    head = f"{'':<26}  {'without BN':>31}  {'with BN':>31}  {'BN - without':>16}"
    out += [head, "-" * len(head)]

    def cell(s, digits=4):
        return f"{s['mean']:.{digits}f} +- {s['sd']:.{digits}f} [{s['min']:.3f}, {s['max']:.3f}]"

    for step, a, b, d in accuracy_rows(result, early_step):
        out.append(f"{'test accuracy, step ' + format(step, ','):<26}  {cell(a):>31}  {cell(b):>31}  "
                   f"{d['mean']:+.4f} +- {d['sd']:.4f}")
    dr = {name: drift(result, name) for name in NETWORKS}
    for key, label in (("median_range", "sigmoid input: median"), ("spread_range", "sigmoid input: 85th-15th")):
        out.append(f"{label + ' range':<26}  {_pm(dr['baseline'][key], 3):>31}  {_pm(dr['batchnorm'][key], 3):>31}")
    out.append("")
    for claim, held, n in claims(result, early_step):
        out.append(f"[{'held' if held == n else 'NOT held' if held == 0 else 'mixed'} in {held} of {n} seeds] "
                   f"{claim}")
    if search is not None:
        out += ["", search_table(search)]
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------------------------
# Figures and files
# ----------------------------------------------------------------------------------------------------------------


COLOURS = {"baseline": "tab:blue", "batchnorm": "tab:red"}
FIGSIZE = (15, 4.2)
PANEL_FIGSIZE = (5.5, 4.2)
# The three percentile lines differ in style, not only in position: 15th dashed, 50th solid, 85th dotted.
PERCENTILE_STYLES = {15: dict(linestyle="--", linewidth=1.3), 50: dict(linestyle="-", linewidth=2.2),
                     85: dict(linestyle=":", linewidth=1.8)}


def _title(config):
    dataset = config.get("dataset", "")
    return TITLES.get(dataset, dataset)


def _percentile_limits(result, seed_index=0):
    """One y-range for panels (b) and (c), so the two distributions can be compared by eye."""
    low = min(result.percentiles[name][seed_index].min() for name in NETWORKS)
    high = max(result.percentiles[name][seed_index].max() for name in NETWORKS)
    pad = 0.05 * (high - low) + 1e-6
    return low - pad, high + pad


def plot_accuracy(ax, result):
    """Panel (a): test accuracy against training steps, mean over the seeds and its range (shaded)."""
    for name in NETWORKS:
        acc = result.accuracy[name]
        lr = result.config.get("learning_rates", {}).get(name)
        label = LABELS[name] + (f" (lr {lr:g})" if lr is not None else "")
        ax.fill_between(result.steps, acc.min(axis=0), acc.max(axis=0), color=COLOURS[name], alpha=0.25,
                        linewidth=0)
        ax.plot(result.steps, acc.mean(axis=0), color=COLOURS[name],
                linestyle="--" if name == "baseline" else "-", label=label)
    ax.set_title(f"(a) test accuracy ({_title(result.config)}, {len(result.seeds)} seeds)")
    ax.set_xlabel("training step")
    ax.set_ylabel("test accuracy: mean, shaded min to max")
    lows = [result.accuracy[name][:, result.at(EARLY_STEP // 5):].min() for name in NETWORKS]
    ax.set_ylim(max(0.0, min(lows) - 0.02), min(1.0, max(result.accuracy[n].max() for n in NETWORKS) + 0.01))
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)


def plot_percentiles(ax, result, name, ylim=None, seed_index=0):
    """Panels (b) and (c): the 15th, 50th and 85th percentiles of the tracked sigmoid input over training."""
    p, steps = result.percentiles[name][seed_index], result.steps
    ax.fill_between(steps, p[:, 0], p[:, 2], color=COLOURS[name], alpha=0.12, linewidth=0)
    for j, q in reversed(list(enumerate(PERCENTILES))):
        ax.plot(steps, p[:, j], color=COLOURS[name], label=f"{q}th percentile", **PERCENTILE_STYLES[q])
    ax.set_ylim(_percentile_limits(result, seed_index) if ylim is None else ylim)
    ax.set_title(f"({'b' if name == 'baseline' else 'c'}) sigmoid input, {LABELS[name]} "
                 f"(seed {result.seeds[seed_index]})")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"input to sigmoid {result.config.get('unit', UNIT)} of hidden layer 3")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)


def plot(result, axes=None):
    """
    Draw Figure 1: (a) test accuracy against training steps, both networks, mean and range over the seeds;
    (b, c) the 15th, 50th and 85th percentiles of the tracked sigmoid input over training, without and with
    batch norm (first seed, same y-axis).

    Inputs:
    - result: A Figure1Result.
    - axes: Optional sequence of three matplotlib Axes to draw into (e.g. from plt.subplots(1, 3) in a
      notebook); by default a new matplotlib.figure.Figure, which needs no display (pyplot is not used).

    Returns the matplotlib Figure.
    """
    if axes is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=FIGSIZE)
        axes = fig.subplots(1, 3)
    else:
        fig = axes[0].figure
    plot_accuracy(axes[0], result)
    ylim = _percentile_limits(result)
    plot_percentiles(axes[1], result, "baseline", ylim)
    plot_percentiles(axes[2], result, "batchnorm", ylim)
    fig.tight_layout()
    return fig


def plot_learning_rates(search, axes=None):
    """
    The learning-rate experiment: validation accuracy after the search's early and final steps against the
    learning rate (log scale), both networks; diverged runs drawn at 0 with an x; the chosen rates circled.
    Returns the matplotlib Figure (two panels).
    """
    if axes is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 4.2))
        axes = fig.subplots(1, 2, sharey=True)
    else:
        fig = axes[0].figure
    for j, (ax, step) in enumerate(zip(axes, search.steps)):
        for name in NETWORKS:
            acc = search.accuracy[name][:, j]
            diverged = np.array([d is not None and d <= step for d in search.diverged_at[name]])
            shown = np.where(diverged, 0.0, acc)
            ax.plot(search.candidates, shown, color=COLOURS[name], marker="o", markersize=4,
                    linestyle="--" if name == "baseline" else "-", label=LABELS[name])
            if diverged.any():
                ax.plot(search.candidates[diverged], shown[diverged], "x", color=COLOURS[name], markersize=10)
            if j == 1:
                k = int(np.flatnonzero(search.candidates == search.chosen[name])[0])
                ax.plot([search.candidates[k]], [shown[k]], "o", markersize=13, markerfacecolor="none",
                        color=COLOURS[name])
        ax.set_xscale("log")
        ax.set_xlabel("SGD learning rate")
        ax.set_title(f"({'ab'[j]}) validation accuracy after {step:,} steps")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"validation accuracy ({_title(search.config)})")
    axes[0].legend(loc="lower left")
    axes[1].text(0.02, 0.02, "circled: the rule's choice\nx: loss diverged", transform=axes[1].transAxes,
                 fontsize="small", va="bottom")
    fig.tight_layout()
    return fig


def save_figure(fig, path, dpi=100):
    """Save a matplotlib figure as a PNG file, atomically."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    return path


FIGURE_FILES = ("figure1.png", "figure1a.png", "figure1b.png", "figure1c.png")


def save_figures(result, out_dir):
    """
    Write figure1.png (the three panels) and figure1a.png, figure1b.png, figure1c.png (one panel each) into
    out_dir. Returns the list of paths written.
    """
    from matplotlib.figure import Figure

    paths = [os.path.join(out_dir, name) for name in FIGURE_FILES]
    save_figure(plot(result), paths[0])
    ylim = _percentile_limits(result)
    panels = (lambda ax: plot_accuracy(ax, result), lambda ax: plot_percentiles(ax, result, "baseline", ylim),
              lambda ax: plot_percentiles(ax, result, "batchnorm", ylim))
    for draw, path in zip(panels, paths[1:]):
        fig = Figure(figsize=PANEL_FIGSIZE)
        draw(fig.subplots())
        fig.tight_layout()
        save_figure(fig, path)
    return paths


def to_rows(result):
    """The recorded curves as rows of CSV_COLUMNS (step, seed, accuracies, percentiles), one per seed and step."""
    rows = []
    for s, seed in enumerate(result.seeds):
        for k, step in enumerate(result.steps):
            row = [int(step), int(seed), result.accuracy["baseline"][s, k], result.accuracy["batchnorm"][s, k]]
            row += list(result.percentiles["baseline"][s, k]) + list(result.percentiles["batchnorm"][s, k])
            rows.append(row)
    return rows


def _write_csv(path, header, rows):
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join(v if isinstance(v, str) else str(v) if isinstance(v, (int, np.integer))
                              else f"{v:.6g}" for v in row))
    atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def save_csv(result, path):
    """Write the curves to a CSV file (header CSV_COLUMNS, one row per seed and evaluation), atomically."""
    return _write_csv(path, CSV_COLUMNS, to_rows(result))


def save_search_csv(search, path):
    """Write the learning-rate search (SEARCH_CSV_COLUMNS, one row per network and candidate), atomically."""
    rows = []
    for name in NETWORKS:
        for k, lr in enumerate(search.candidates):
            d = search.diverged_at[name][k]
            rows.append([name, float(lr), float(search.accuracy[name][k, 0]), float(search.accuracy[name][k, 1]),
                         "" if d is None else int(d), "yes" if search.chosen[name] == lr else "no"])
    return _write_csv(path, SEARCH_CSV_COLUMNS, rows)
