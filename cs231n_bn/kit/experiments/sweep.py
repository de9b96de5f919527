"""Where batch norm helps: Figure 1's two networks over a grid of learning rates and initial weight scales.

For every (weight scale, learning rate) of the grid, the Section 4.1 network is trained without and with batch
norm from the same weights and on the same mini-batches (one seed), by the Solver, for `steps` steps; its test
accuracy is read after `early_step` and after `steps` steps (cs231n_bn/kit/experiments/runs.py). At each
point and checkpoint, batch norm *helps* if its accuracy is higher by more than MARGIN (one percentage point;
the seed-to-seed spread of Figure 1's accuracies is smaller, see the reproduction's summary), *hurts* if it is
lower by more than MARGIN, and makes *no difference* otherwise. A run whose loss becomes NaN or infinite stops
there and counts as chance accuracy (the frequency of the most common test label) from that step on.

The grid contains cs231n's default weight scale 0.01 with learning rate 0.1 (the setting of this kit's first
Figure 1, labelled "old setting" in the plot) and the reproduction's rule's weight scale 0.1 (figure1.py).

    data = figure1.load_data()
    result = sweep(data, progress=True)
    print(summary(result))
    fig = plot(result)
"""

import time
from dataclasses import dataclass, field

import numpy as np

from cs231n_bn.kit.experiments import figure1
from cs231n_bn.kit.experiments.runs import MAX_STEPS, RunSpec, accuracy_at, check_int, check_positive, run_all

LEARNING_RATES = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
WEIGHT_SCALES = (0.01, 0.03, 0.1, 0.3, 1.0)
STEPS = 10000
EARLY_STEP = 1000
SEED = 0
MARGIN = 0.01
OLD_SETTING = (0.01, 0.1)  # (weight scale, learning rate) of the kit's first Figure 1
VERDICTS = ("helps", "no difference", "hurts")
CSV_COLUMNS = ("weight_scale", "learning_rate", "checkpoint_step", "test_acc_baseline", "test_acc_batchnorm",
               "difference", "verdict", "diverged_at_baseline", "diverged_at_batchnorm")


@dataclass
class SweepResult:
    """
    Attributes:
    - weight_scales: float array (A,); learning_rates: float array (B,).
    - steps: (early, final) checkpoint steps.
    - accuracy: dict network -> float array (A, B, 2), test accuracy at the two checkpoints (a diverged run:
      chance accuracy from its divergence on).
    - diverged_at: dict network -> int array (A, B), the step at which the loss became non-finite, 0 if never.
    - config: dict (dataset, seed, batch_size, margin, chance, num_test); seconds, cpu_seconds.
    """

    weight_scales: np.ndarray
    learning_rates: np.ndarray
    steps: tuple
    accuracy: dict
    diverged_at: dict
    config: dict = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def difference(self):
        """BN's accuracy minus the plain network's, array (A, B, 2)."""
        return self.accuracy["batchnorm"] - self.accuracy["baseline"]

    def verdicts(self):
        """Array (A, B, 2) of 'helps', 'hurts' or 'no difference' (margin config['margin'])."""
        d, margin = self.difference(), self.config.get("margin", MARGIN)
        return np.where(d > margin, "helps", np.where(d < -margin, "hurts", "no difference"))


def _grid(name, values):
    values = np.array(sorted({check_positive(name, v) for v in values}))
    if values.size == 0:
        raise ValueError(f"{name}s must hold at least one value")
    return values


def sweep(data, learning_rates=LEARNING_RATES, weight_scales=WEIGHT_SCALES, steps=STEPS, early_step=EARLY_STEP,
          seed=SEED, batch_size=figure1.BATCH_SIZE, margin=MARGIN, workers=None, progress=False):
    """
    Train both networks at every grid point and read their test accuracies.

    Inputs:
    - data: dict as returned by figure1.load_data.
    - learning_rates, weight_scales: Sequences of positive numbers (the grid is their product).
    - steps: Training steps per run; early_step: the earlier checkpoint (<= steps).
    - seed: Seed of every run (initial weights and mini-batches); batch_size: examples per step.
    - margin: Accuracy difference above which batch norm is said to help (or hurt).
    - workers, progress: see runs.run_all.

    Returns a SweepResult.
    """
    figure1._check_data(data)
    lrs, scales = _grid("learning rate", learning_rates), _grid("weight scale", weight_scales)
    steps = check_int("steps", steps, maximum=MAX_STEPS)
    early_step = check_int("early_step", early_step, maximum=steps)
    margin = float(margin)
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be in [0, 1), got {margin!r}")
    eval_every = int(np.gcd(early_step, steps))
    specs = [RunSpec(figure1.NORMALIZATION[name], float(lr), float(ws), seed, steps, batch_size=batch_size,
                     eval_every=eval_every, split="test")
             for name in figure1.NETWORKS for ws in scales for lr in lrs]
    start = time.perf_counter()
    results = run_all(data, specs, workers=workers, progress=progress, desc="sensitivity sweep")
    seconds = time.perf_counter() - start
    # np.unique, not np.bincount: where NumPy's index type is 32-bit (Pyodide), bincount refuses int64 labels.
    chance = float(np.unique(data["y_test"], return_counts=True)[1].max() / len(data["y_test"]))
    A, B = len(scales), len(lrs)
    accuracy, diverged_at = {}, {}
    for n, name in enumerate(figure1.NETWORKS):
        acc = np.full((A, B, 2), chance)
        div = np.zeros((A, B), dtype=np.int64)
        for i in range(A):
            for j in range(B):
                r = results[n * A * B + i * B + j]
                div[i, j] = r["diverged_at"] or 0
                acc[i, j] = accuracy_at(r, (early_step, steps), chance)  # missing only after a divergence
        accuracy[name], diverged_at[name] = acc, div
    config = dict(dataset=data.get("dataset", "?"), seed=int(seed), batch_size=int(batch_size), margin=margin,
                  chance=chance, num_test=int(data["X_test"].shape[0]))
    return SweepResult(weight_scales=scales, learning_rates=lrs, steps=(early_step, steps), accuracy=accuracy,
                       diverged_at=diverged_at, config=config, seconds=seconds,
                       cpu_seconds=float(sum(r["cpu_seconds"] for r in results)))


def counts(result):
    """For each checkpoint (early, final): dict verdict -> number of grid points."""
    v = result.verdicts()
    return [{verdict: int(np.sum(v[:, :, c] == verdict)) for verdict in VERDICTS} for c in range(2)]


def summary(result):
    """The sweep as text: the grid of accuracies at both checkpoints, with verdicts, and the counts. A str."""
    early, final = result.steps
    c = result.config
    lines = [f"Sensitivity sweep on {figure1.TITLES.get(c.get('dataset'), c.get('dataset'))}: test accuracy "
             f"without BN / with BN after {early:,} and {final:,} steps (seed {c.get('seed')}); "
             f"BN helps (+) or hurts (-) by more than {c.get('margin', MARGIN):g}, = no difference; "
             f"d: the loss diverged"]
    marks = {"helps": "+", "hurts": "-", "no difference": "="}
    v = result.verdicts()
    for ck, step in enumerate(result.steps):
        lines.append(f"after {step:,} steps (rows: weight scale, columns: learning rate)")
        lines.append(f"{'':>6} " + " ".join(f"{lr:>13g}" for lr in result.learning_rates))
        for i, ws in enumerate(result.weight_scales):
            cells = []
            for j in range(len(result.learning_rates)):
                text = []
                for name in figure1.NETWORKS:
                    d = result.diverged_at[name][i, j]
                    text.append("d" if d and d <= step else f"{result.accuracy[name][i, j, ck]:.2f}"[1:])
                cells.append(f"{'/'.join(text)} {marks[v[i, j, ck]]}")
            lines.append(f"{ws:>6g} " + " ".join(f"{cell:>13}" for cell in cells))
        n = counts(result)[ck]
        lines.append(f"  BN helps at {n['helps']}, no difference at {n['no difference']}, hurts at "
                     f"{n['hurts']} of {v[:, :, ck].size} points")
    ws, lr = OLD_SETTING
    if ws in result.weight_scales and lr in result.learning_rates:
        i, j = int(np.flatnonzero(result.weight_scales == ws)[0]), int(np.flatnonzero(result.learning_rates == lr)[0])
        a = [result.accuracy[name][i, j] for name in figure1.NETWORKS]
        lines.append(f"old setting (weight scale {ws:g}, learning rate {lr:g}): {a[0][0]:.3f} / {a[1][0]:.3f} after "
                     f"{early:,} steps, {a[0][1]:.3f} / {a[1][1]:.3f} after {final:,}")
    return "\n".join(lines)


def plot(result):
    """
    The sensitivity figure: rows = the two checkpoints; columns = test accuracy without BN, with BN, and BN's
    difference (green: helps, purple: hurts, white: within the margin), as heat maps over the grid (weight
    scale against learning rate, both log-spaced), each cell labelled with its value ('div' if diverged); the
    old setting outlined. Returns a matplotlib Figure.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    A, B = len(result.weight_scales), len(result.learning_rates)
    fig = Figure(figsize=(4.0 * 3 + 1.5, 2 * (0.55 * A + 1.4)))
    axes = fig.subplots(2, 3)
    d = result.difference()
    margin = result.config.get("margin", MARGIN)
    lim = max(float(np.abs(d).max()), 2 * margin)
    ws_old, lr_old = OLD_SETTING
    for ck, step in enumerate(result.steps):
        panels = [(result.accuracy["baseline"][:, :, ck], "without BN", "viridis", (0, 1)),
                  (result.accuracy["batchnorm"][:, :, ck], "with BN", "viridis", (0, 1)),
                  (d[:, :, ck], "BN minus without BN", "PRGn", (-lim, lim))]
        for col, (values, title, cmap, (vmin, vmax)) in enumerate(panels):
            ax = axes[ck, col]
            im = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", origin="lower")
            for i in range(A):
                for j in range(B):
                    value = values[i, j]
                    if col < 2:
                        name = figure1.NETWORKS[col]
                        div = result.diverged_at[name][i, j]
                        text = "div" if div and div <= step else f"{value:.2f}"
                        colour = "white" if value < 0.6 else "black"
                    else:
                        text = f"{value:+.2f}" if abs(value) > margin else "="
                        colour = "black"
                    ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
            if ws_old in result.weight_scales and lr_old in result.learning_rates:
                i = int(np.flatnonzero(result.weight_scales == ws_old)[0])
                j = int(np.flatnonzero(result.learning_rates == lr_old)[0])
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
            ax.set_xticks(range(B), [f"{lr:g}" for lr in result.learning_rates], fontsize=7)
            ax.set_yticks(range(A), [f"{ws:g}" for ws in result.weight_scales], fontsize=7)
            ax.set_xlabel("learning rate", fontsize=8)
            if col == 0:
                ax.set_ylabel("initial weight scale", fontsize=8)
            ax.set_title(f"{title}, step {step:,}", fontsize=9)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    fig.suptitle(f"Test accuracy over the grid ({figure1.TITLES.get(result.config.get('dataset'), '')}, seed "
                 f"{result.config.get('seed')}); difference: green = BN helps, purple = BN hurts, '=' within "
                 f"{margin:g}; red box: the old setting (weight scale {ws_old:g}, learning rate {lr_old:g})",
                 fontsize=10)
    fig.tight_layout()
    return fig


def to_rows(result):
    """Rows of CSV_COLUMNS, one per grid point and checkpoint."""
    rows, v, d = [], result.verdicts(), result.difference()
    for i, ws in enumerate(result.weight_scales):
        for j, lr in enumerate(result.learning_rates):
            for c, step in enumerate(result.steps):
                rows.append([float(ws), float(lr), int(step), float(result.accuracy["baseline"][i, j, c]),
                             float(result.accuracy["batchnorm"][i, j, c]), float(d[i, j, c]), str(v[i, j, c]),
                             int(result.diverged_at["baseline"][i, j]), int(result.diverged_at["batchnorm"][i, j])])
    return rows


def save_csv(result, path):
    """Write the sweep (CSV_COLUMNS) to a CSV file, atomically."""
    return figure1._write_csv(path, CSV_COLUMNS, to_rows(result))


def save_figure(result, path):
    """Write the sensitivity figure as a PNG file, atomically."""
    return figure1.save_figure(plot(result), path)
