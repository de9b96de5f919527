"""Ioffe & Szegedy (2015), Section 4.1 and Figure 1: a sigmoid network trained with and without batch norm.

The experiment, shared by notebooks/PaperReproduction.ipynb and `python -m cs231n_bn reproduce`:

- Two PaperNets (cs231n_bn/classifiers/paper_net.py): 784 inputs, three fully connected hidden layers of 100
  sigmoid units, a 10-way softmax; one plain ('baseline'), one with batch norm before each sigmoid
  ('batchnorm'). Both start from the same weights (same seed) and see the same mini-batches, so batch norm is
  the only difference between them.
- Plain SGD, `steps` updates of `batch_size` = 60 examples drawn with replacement from the training set.
- Every `eval_every` steps, one test-mode forward pass of each network over the whole test set (10,000
  images) gives (a) the test accuracy and (b, c) the 15th, 50th and 85th percentiles, over those 10,000
  images, of the input to one sigmoid of the last hidden layer: activation 'preact3', unit `unit` (0 by
  default). With batch norm that input is the batch norm output, gamma * x_hat + beta (running statistics,
  as at test time); without, it is the affine output.

Typical use:

    data = load_data('fashion-mnist')
    result = run(data, steps=50000, progress=True)
    fig = plot(result)
    save_csv(result, 'results/figure1.csv')
    print(summary_table(result))

The paper gives neither its learning rate nor the scale of its initial weights ("small random Gaussian values").
LEARNING_RATE = 0.1 and WEIGHT_SCALE = 0.01 (cs231n's default scale) show the paper's effect on Fashion-MNIST
with wide margins for seeds 0, 1 and 2 (the notebook's section 6). The whole run (2 x 50,000 steps, 100
evaluations) takes about 80 s on one core: the cost is PaperNet's forward and backward passes; an evaluation
is one forward pass over the test set, which also yields the percentiles.
"""

import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from cs231n_bn.kit.atomic import atomic_write
from cs231n_bn.classifiers.paper_net import PaperNet
from cs231n_bn.kit.monitors import forward_activations

# The paper's set-up (Section 4.1) and the choices it leaves open.
STEPS = 50000
BATCH_SIZE = 60
LEARNING_RATE = 0.1
WEIGHT_SCALE = 0.01  # "small random Gaussian values": cs231n's default weight scale
EVAL_EVERY = 500
EARLY_STEP = 5000  # the "early" checkpoint of the summary: BN should already be ahead there
UNIT = 0  # the sigmoid of the last hidden layer whose input is tracked
LAYER = "preact3"  # PaperNet's name for the input of the last hidden layer's sigmoids
PERCENTILES = (15, 50, 85)
NETWORKS = ("baseline", "batchnorm")
LABELS = {"baseline": "without BN", "batchnorm": "with BN"}
DATASETS = ("fashion-mnist", "mnist")
TITLES = {"fashion-mnist": "Fashion-MNIST", "mnist": "MNIST"}

CSV_COLUMNS = ("step", "test_acc_baseline", "test_acc_batchnorm",
               "p15_baseline", "p50_baseline", "p85_baseline",
               "p15_batchnorm", "p50_batchnorm", "p85_batchnorm")


@dataclass
class Figure1Result:
    """
    What one run of the experiment recorded.

    Attributes:
    - steps: int array of shape (T,), the training steps at which the networks were evaluated.
    - accuracy: dict 'baseline' / 'batchnorm' -> float array (T,), test accuracy at each of those steps.
    - percentiles: dict 'baseline' / 'batchnorm' -> float array (T, 3), the 15th, 50th and 85th percentiles of
      the tracked sigmoid input over the test set at each of those steps.
    - config: dict of the run's settings (dataset, steps, batch_size, learning_rate, weight_scale, eval_every,
      seed, unit, num_test).
    - seconds: wall time of the training run (float).
    """

    steps: np.ndarray
    accuracy: dict
    percentiles: dict
    config: dict = field(default_factory=dict)
    seconds: float = 0.0

    def at(self, step):
        """The index of the last evaluation at or before `step` (the first one if `step` precedes them all)."""
        return max(int(np.searchsorted(self.steps, step, side="right")) - 1, 0)


def load_data(dataset="fashion-mnist", root=None):
    """
    Load a data set for the experiment: flattened float32 images, pixels scaled to [0, 1], mean image of the
    training split subtracted (cs231n_bn.data_utils.get_data).

    Inputs:
    - dataset: 'fashion-mnist' (the default, fetched by setup.sh) or 'mnist' (the paper's data set, fetched
      with `python -m cs231n_bn fetch mnist`).
    - root: data root (default: $CS231N_BN_DATA, else the repository's datasets/).

    Returns a dict with 'X_train' (55000, 784), 'y_train' (55000,), 'X_test' (10000, 784), 'y_test' (10000,),
    the 5000-image validation split 'X_val', 'y_val' (unused here), and 'dataset' (the name, for titles). Raises cs231n_bn.kit.data.store.DatasetNotFoundError (a
    FileNotFoundError whose message is the fetch command) when the data set is missing.
    """
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}; allowed: {', '.join(map(repr, DATASETS))}")
    from cs231n_bn.data_utils import get_data  # imported here: `--help` should not need the data modules

    data = get_data(dataset, flatten=True, dtype=np.float32, root=root)
    data["dataset"] = dataset
    return data


def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def eval_steps(steps, eval_every):
    """The steps at which the networks are evaluated: every eval_every steps, and the last step. Shape (T,)."""
    points = list(range(eval_every, steps + 1, eval_every))
    if not points or points[-1] != steps:
        points.append(steps)
    return np.array(points, dtype=np.int64)


def evaluate(model, X, y, unit=UNIT):
    """
    One test-mode forward pass of `model` over X: its accuracy and the percentiles of one sigmoid's input.

    Inputs:
    - model: A PaperNet.
    - X: Array of shape (N, 784); y: int array of shape (N,).
    - unit: Column of 'preact3' (the last hidden layer's sigmoid inputs) to summarize.

    Returns a tuple of:
    - acc: Fraction of X classified correctly (float).
    - pct: float64 array of shape (3,), the 15th, 50th and 85th percentiles of preact3[:, unit] over X.
    """
    acts = forward_activations(model, X, ["scores", LAYER])
    acc = float(np.mean(np.argmax(acts["scores"], axis=1) == y))
    pct = np.percentile(acts[LAYER][:, unit].astype(np.float64), PERCENTILES)
    return acc, pct


def run(data, steps=STEPS, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, weight_scale=WEIGHT_SCALE,
        eval_every=EVAL_EVERY, seed=0, unit=UNIT, progress=False, **kwargs):
    """
    Train the paper's network with and without batch norm side by side and record Figure 1's curves.

    Each step draws one mini-batch (with replacement, from `seed`) and takes one SGD step on each network:
    w <- w - learning_rate * dw for every parameter (W, b, and gamma, beta with batch norm). Batch norm uses
    the kit's defaults (eps 1e-5, momentum 0.9 for the running statistics).

    Inputs:
    - data: dict with 'X_train' (N, 784), 'y_train' (N,), 'X_test' (M, 784), 'y_test' (M,) (see load_data);
      an optional 'dataset' name is copied into the result's config.
    - steps: Number of SGD steps (the paper: 50,000).
    - batch_size: Examples per step (the paper: 60).
    - learning_rate: SGD step size.
    - weight_scale: Standard deviation of the initial weights.
    - eval_every: Evaluate every this many steps (and after the last step).
    - seed: Seeds the initial weights (the same for both networks) and the mini-batch draws.
    - unit: Which sigmoid of the last hidden layer (0..99) to track.
    - progress: Show a progress bar (tqdm, on stderr).
    Unknown keyword arguments are a TypeError.

    Returns a Figure1Result. Raises FloatingPointError if a training loss becomes NaN or infinite.
    """
    if kwargs:
        raise TypeError(f"run() got unexpected keyword argument(s) {', '.join(map(repr, kwargs))}")
    steps = _check_int("steps", steps)
    batch_size = _check_int("batch_size", batch_size, minimum=2)  # batch norm needs 2 examples per batch
    eval_every = _check_int("eval_every", eval_every)
    learning_rate = _check_positive("learning_rate", learning_rate)
    weight_scale = _check_positive("weight_scale", weight_scale)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    missing = [k for k in ("X_train", "y_train", "X_test", "y_test") if k not in data]
    if missing:
        raise ValueError(f"data is missing {', '.join(map(repr, missing))}")
    X_train, y_train, X_test, y_test = data["X_train"], data["y_train"], data["X_test"], data["y_test"]
    X_train = X_train.reshape(len(X_train), -1)
    X_test = X_test.reshape(len(X_test), -1)
    hidden = 100
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < hidden:
        raise ValueError(f"unit must be an integer in [0, {hidden}), got {unit!r}")

    models = {name: PaperNet(normalization=None if name == "baseline" else "batchnorm", input_dim=X_train.shape[1],
                             hidden_dims=(hidden,) * 3, weight_scale=weight_scale, seed=seed)
              for name in NETWORKS}
    points = eval_steps(steps, eval_every)
    accuracy = {name: np.zeros(len(points)) for name in NETWORKS}
    percentiles = {name: np.zeros((len(points), len(PERCENTILES))) for name in NETWORKS}
    rng = np.random.default_rng(seed)
    lr = np.float32(learning_rate)  # a float32 scalar keeps the updates in float32
    num_train = X_train.shape[0]

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="train", unit="step", file=sys.stderr, mininterval=0.5, leave=True)
    start = time.perf_counter()
    k = 0  # index of the next evaluation
    try:
        for t in range(1, steps + 1):
            batch = rng.integers(num_train, size=batch_size)
            X_batch, y_batch = X_train[batch], y_train[batch]
            for name, model in models.items():
                loss, grads = model.loss(X_batch, y_batch)
                if not math.isfinite(loss):
                    raise FloatingPointError(
                        f"the training loss of the {LABELS[name]} network is {loss} at step {t}; "
                        f"the updates diverged: try a smaller learning rate (now {learning_rate})")
                for p, w in model.params.items():
                    dw = grads[p]
                    dw *= lr  # plain SGD, w <- w - lr * dw, in place: the gradient's array is reused, no temporary
                    w -= dw
            if t == points[k]:
                for name, model in models.items():
                    accuracy[name][k], percentiles[name][k] = evaluate(model, X_test, y_test, unit)
                k += 1
                if bar is not None:
                    bar.set_postfix_str(f"test acc: {accuracy['baseline'][k - 1]:.3f} without BN, "
                                        f"{accuracy['batchnorm'][k - 1]:.3f} with BN", refresh=False)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start

    config = dict(dataset=data.get("dataset", "?"), steps=steps, batch_size=batch_size,
                  learning_rate=learning_rate, weight_scale=weight_scale, eval_every=eval_every, seed=int(seed),
                  unit=int(unit), num_test=int(X_test.shape[0]))
    return Figure1Result(steps=points, accuracy=accuracy, percentiles=percentiles, config=config, seconds=seconds)


# ----------------------------------------------------------------------------------------------------------------
# The paper's claims, measured
# ----------------------------------------------------------------------------------------------------------------


def drift(result, name):
    """
    How much the distribution of the tracked sigmoid input moves over training, for network `name`.

    Returns a dict of floats:
    - 'median_range': max - min over the evaluations of the median (50th percentile).
    - 'spread_range': max - min over the evaluations of the spread, 85th - 15th percentile.
    - 'final_median', 'final_spread': the median and the spread at the last evaluation.
    """
    p = result.percentiles[name]
    median, spread = p[:, 1], p[:, 2] - p[:, 0]
    return {"median_range": float(median.max() - median.min()), "spread_range": float(spread.max() - spread.min()),
            "final_median": float(median[-1]), "final_spread": float(spread[-1])}


def claims(result, early_step=EARLY_STEP):
    """
    The paper's claims for Figure 1, checked on a result.

    Returns a list of (claim, holds) pairs, holds a bool:
    - BN's test accuracy is higher at the early step (min(early_step, last step)): "trains faster";
    - BN's test accuracy is higher at the last step: "reaches higher test accuracy";
    - the median of the sigmoid input moves more without BN than with it;
    - its spread (85th - 15th percentile) changes more without BN than with it.
    """
    early, last = result.at(early_step), len(result.steps) - 1
    acc = result.accuracy
    d = {name: drift(result, name) for name in NETWORKS}
    return [
        (f"BN trains faster (higher test accuracy at step {result.steps[early]:,})",
         bool(acc["batchnorm"][early] > acc["baseline"][early])),
        (f"BN reaches higher test accuracy (step {result.steps[last]:,})",
         bool(acc["batchnorm"][last] > acc["baseline"][last])),
        ("sigmoid input: median drifts more without BN",
         d["baseline"]["median_range"] > d["batchnorm"]["median_range"]),
        ("sigmoid input: spread changes more without BN",
         d["baseline"]["spread_range"] > d["batchnorm"]["spread_range"]),
    ]


def summary_table(result, early_step=EARLY_STEP):
    """
    A one-screen text summary of a result: settings, accuracies at the early and last steps, the drift of the
    sigmoid input, and each of the paper's claims with whether it held. Returns a str.
    """
    c = result.config
    early, last = result.at(early_step), len(result.steps) - 1
    acc = result.accuracy
    d = {name: drift(result, name) for name in NETWORKS}
    title = TITLES.get(c.get("dataset"), c.get("dataset", "?"))
    rows = [
        (f"test accuracy at step {result.steps[early]:,}", f"{acc['baseline'][early]:.4f}",
         f"{acc['batchnorm'][early]:.4f}", "BN trains faster"),
        (f"test accuracy at step {result.steps[last]:,}", f"{acc['baseline'][last]:.4f}",
         f"{acc['batchnorm'][last]:.4f}", "BN reaches higher accuracy"),
        ("sigmoid input: range of median", f"{d['baseline']['median_range']:.3f}",
         f"{d['batchnorm']['median_range']:.3f}", "stable with BN, drifts without"),
        ("sigmoid input: range of 85th-15th", f"{d['baseline']['spread_range']:.3f}",
         f"{d['batchnorm']['spread_range']:.3f}", "stable with BN, drifts without"),
    ]
    widths = [max(len(r[i]) for r in rows + [("", "without BN", "with BN", "paper")]) for i in range(4)]

    def line(cells):
        return "  ".join([cells[0].ljust(widths[0]), cells[1].rjust(widths[1]), cells[2].rjust(widths[2]),
                          cells[3].ljust(widths[3])]).rstrip()

    out = [f"Ioffe & Szegedy 2015, Figure 1 on {title}: {c.get('steps', 0):,} steps of {c.get('batch_size')} "
           f"examples, SGD learning rate {c.get('learning_rate')}, weight scale {c.get('weight_scale')}, "
           f"seed {c.get('seed')}",
           f"test accuracy on {c.get('num_test', 0):,} test images; sigmoid input = last hidden layer, "
           f"unit {c.get('unit')}, over the same images",
           "", line(("", "without BN", "with BN", "paper")), line(("-" * widths[0], "-" * widths[1],
                                                                    "-" * widths[2], "-" * widths[3]))]
    out += [line(r) for r in rows]
    out.append("")
    for claim, holds in claims(result, early_step):
        out.append(f"[{'held' if holds else 'NOT held'}] {claim}")
    if result.seconds:
        out.append(f"wall time: {result.seconds:.1f} s")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------------------------
# Figure and files
# ----------------------------------------------------------------------------------------------------------------


COLOURS = {"baseline": "tab:blue", "batchnorm": "tab:red"}
FIGSIZE = (15, 4.2)
PANEL_FIGSIZE = (5.5, 4.2)


def _title(result):
    dataset = result.config.get("dataset", "")
    return TITLES.get(dataset, dataset)


def _percentile_limits(result):
    """One y-range for panels (b) and (c), so the two distributions can be compared by eye."""
    low = min(result.percentiles[name].min() for name in NETWORKS)
    high = max(result.percentiles[name].max() for name in NETWORKS)
    pad = 0.05 * (high - low) + 1e-6
    return low - pad, high + pad


def plot_accuracy(ax, result):
    """Panel (a): test accuracy against training steps, without and with batch norm."""
    for name in NETWORKS:
        ax.plot(result.steps, result.accuracy[name], color=COLOURS[name],
                linestyle="--" if name == "baseline" else "-", label=LABELS[name])
    ax.set_title(f"(a) test accuracy ({_title(result)})")
    ax.set_xlabel("training step")
    ax.set_ylabel("test accuracy")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)


def plot_percentiles(ax, result, name, ylim=None):
    """Panels (b) and (c): the 15th, 50th and 85th percentiles of the tracked sigmoid input over training."""
    p, steps = result.percentiles[name], result.steps
    ax.fill_between(steps, p[:, 0], p[:, 2], color=COLOURS[name], alpha=0.15)
    for j, q in enumerate(PERCENTILES):
        ax.plot(steps, p[:, j], color=COLOURS[name], linewidth=2 if q == 50 else 1, label=f"{q}th percentile")
    ax.set_ylim(_percentile_limits(result) if ylim is None else ylim)
    ax.set_title(f"({'b' if name == 'baseline' else 'c'}) sigmoid input, {LABELS[name]}")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"input to sigmoid {result.config.get('unit', UNIT)} of hidden layer 3")
    ax.legend(loc="upper right", fontsize="small")
    ax.grid(alpha=0.3)


def plot(result, axes=None):
    """
    Draw Figure 1: (a) test accuracy against training steps, both networks; (b, c) the 15th, 50th and 85th
    percentiles of the tracked sigmoid input over training, without and with batch norm (same y-axis).

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


def save_figure(fig, path, dpi=100):
    """Save a matplotlib figure as a PNG file, atomically."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))


def save_figures(result, out_dir):
    """
    Write figure1.png (the three panels) and figure1a.png, figure1b.png, figure1c.png (one panel each) into
    out_dir. Returns the list of paths written.
    """
    from matplotlib.figure import Figure

    paths = [os.path.join(out_dir, name) for name in ("figure1.png", "figure1a.png", "figure1b.png", "figure1c.png")]
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
    """The recorded curves as rows of CSV_COLUMNS (step, accuracies, percentiles), one per evaluation."""
    rows = []
    for k, step in enumerate(result.steps):
        row = [int(step), result.accuracy["baseline"][k], result.accuracy["batchnorm"][k]]
        row += list(result.percentiles["baseline"][k]) + list(result.percentiles["batchnorm"][k])
        rows.append(row)
    return rows


def save_csv(result, path):
    """Write the curves to a CSV file (header CSV_COLUMNS, one row per evaluation), atomically."""
    lines = [",".join(CSV_COLUMNS)]
    for row in to_rows(result):
        lines.append(",".join([str(row[0])] + [f"{v:.6g}" for v in row[1:]]))
    atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return path
