"""Figures and small experiment functions for FullyConnectedNets.ipynb and Dropout.ipynb.

Nothing here is student work. The figures (a computational graph with its values and gradients, training curves),
the runs the notebooks repeat over seeds, the checks of the experiments the student designs, and the batch norm
statistics re-estimation of Dropout.ipynb, section 5.3, live here so that the notebooks keep to the ideas (the
chain rule, the update rules, dropout) and not to matplotlib or bookkeeping code.

A check of a designed experiment trains the notebook's set-up at the student's setting over several seeds and
raises AssertionError, saying what the runs showed, unless the stated effect shows in every seed:

- check_sgd_learning_rate (FullyConnectedNets.ipynb, section 10.5): plain SGD at its own learning rate comes
  within a few points of Adam's validation accuracy;
- check_keep_ratio (Dropout.ipynb, section 4.1): dropout narrows the train-validation gap without costing
  validation accuracy.
"""

import numpy as np

from cs231n_bn.kit.experiments.runs import check_positive


def draw_computational_graph(ax, nodes, edges, title=None):
    """Draw a small computational graph with forward values and backward gradients on its edges.

    Each edge carries the value that flows forward along it (green, above the arrow) and the gradient of the
    final output with respect to that value, which flows backward along it (red, below the arrow).

    Inputs:
    - ax: a matplotlib Axes to draw on.
    - nodes: dict name -> (x, y, label); (x, y) is the node's position in data coordinates (any scale) and
      label is the text drawn in the node, e.g. "*" for a multiply gate or "x" for an input.
    - edges: list of (source, target, value, grad); source and target are node names, value and grad are
      numbers (or None to leave a label out).
    - title: optional axes title.

    Returns:
    - ax, with the graph drawn, axes hidden and equal aspect ratio.
    """
    if not isinstance(nodes, dict) or not nodes:
        raise ValueError(f"nodes must be a non-empty dict name -> (x, y, label); got {nodes!r}")
    radius = 0.32
    for name, (x, y, label) in nodes.items():
        ax.add_patch(_circle((x, y), radius))
        ax.text(x, y, label, ha="center", va="center", fontsize=14, zorder=3)
    for edge in edges:
        if len(edge) != 4:
            raise ValueError(f"each edge must be (source, target, value, grad); got {edge!r}")
        source, target, value, grad = edge
        for end in (source, target):
            if end not in nodes:
                raise ValueError(f"edge {edge!r} names node {end!r}, which is not one of {sorted(nodes)}")
        (x0, y0, _), (x1, y1, _) = nodes[source], nodes[target]
        length = np.hypot(x1 - x0, y1 - y0)
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        # Arrows start and end on the circles' rims, not at their centres.
        start, end = (x0 + radius * ux, y0 + radius * uy), (x1 - radius * ux, y1 - radius * uy)
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", lw=1.5, color="0.3"))
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        # Offset the labels perpendicular to the edge: the value on one side, the gradient on the other.
        nx, ny = -uy, ux
        if ny < 0 or (ny == 0 and nx < 0):
            nx, ny = -nx, -ny
        if value is not None:
            ax.text(mx + 0.22 * nx, my + 0.22 * ny, f"{value:g}", color="green", ha="center", va="center",
                    fontsize=12, fontweight="bold")
        if grad is not None:
            ax.text(mx - 0.22 * nx, my - 0.22 * ny, f"{grad:g}", color="red", ha="center", va="center",
                    fontsize=12, fontweight="bold")
    ax.plot([], [], color="green", lw=0, marker="s", label="value (forward)")
    ax.plot([], [], color="red", lw=0, marker="s", label="gradient (backward)")
    ax.legend(loc="lower right", fontsize=9, frameon=False)
    xs = [x for x, _, _ in nodes.values()]
    ys = [y for _, y, _ in nodes.values()]
    ax.set_xlim(min(xs) - 1.0, max(xs) + 1.0)
    ax.set_ylim(min(ys) - 1.0, max(ys) + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def _circle(centre, radius):
    from matplotlib.patches import Circle  # imported here so that importing this module does not load matplotlib

    return Circle(centre, radius, facecolor="white", edgecolor="0.2", lw=1.5, zorder=2)


def smooth(values, window):
    """Moving average, to read a noisy per-iteration loss curve.

    Inputs:
    - values: array-like of shape (T,).
    - window: int >= 1, the number of consecutive values averaged.

    Returns:
    - smoothed: array of shape (max(T - window + 1, 0),); smoothed[t] = mean(values[t : t + window]).
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be an int >= 1; got {window!r}")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"values must be one-dimensional; got shape {values.shape}")
    if values.shape[0] < window:
        return np.zeros(0)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    return (cumulative[window:] - cumulative[:-window]) / window


def plot_training_curves(solvers, title=None, smooth_window=1, panels=("loss", "train", "val")):
    """Plot the training loss and the train / validation accuracy of several trained Solvers side by side.

    Inputs:
    - solvers: dict label -> trained Solver (anything with loss_history, train_acc_history, val_acc_history).
    - title: optional figure title.
    - smooth_window: int >= 1; the loss curve is shown as a moving average over this many iterations.
    - panels: which panels to draw, in order, from "loss", "train", "val" and "gap" (train minus val accuracy).

    Returns:
    - fig: the matplotlib Figure (the caller shows it with plt.show()).
    """
    import matplotlib.pyplot as plt

    allowed = ("loss", "train", "val", "gap")
    for panel in panels:
        if panel not in allowed:
            raise ValueError(f"unknown panel {panel!r}; allowed panels are {allowed}")
    if not solvers:
        raise ValueError("solvers must be a non-empty dict label -> Solver")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.8), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for label, solver in solvers.items():
            if panel == "loss":
                loss = smooth(solver.loss_history, smooth_window)
                ax.plot(np.arange(loss.shape[0]) + smooth_window - 1, loss, label=label, lw=1.2)
            else:
                train = np.asarray(solver.train_acc_history)
                val = np.asarray(solver.val_acc_history)
                curve = {"train": train, "val": val, "gap": train - val}[panel]
                ax.plot(np.arange(len(curve)), curve, "-o", label=label, markersize=3)
        ax.set_xlabel("iteration" if panel == "loss" else "epoch")
        ax.set_ylabel({"loss": "training loss", "train": "accuracy", "val": "accuracy",
                       "gap": "train - val accuracy"}[panel])
        ax.set_title({"loss": "Training loss" + (f" (moving average of {smooth_window})" if smooth_window > 1 else ""),
                      "train": "Training accuracy", "val": "Validation accuracy",
                      "gap": "Generalization gap"}[panel])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def reestimate_bn_statistics(model, X, batch_size=100):
    """Re-estimate the running statistics of a FullyConnectedNet's batch norm layers with dropout switched off.

    During training, a batch norm layer that follows dropout accumulates running_mean / running_var of inputs
    that were computed with dropout ON; at test time dropout is off and the inputs' variance is smaller
    ("variance shift", Li et al. 2019). This runs the network's own training-mode forward pass, model.loss,
    on the N // batch_size full batches of X in order, with the weights left as they are (the gradients are
    discarded) and dropout keeping every unit (p = 1, its test-time behaviour), and replaces every layer's
    running statistics by the average of its mini-batch statistics:

        running_mean[l] = mean over batches of mean_n(a_l),  running_var[l] = mean over batches of var_n(a_l)

    where a_l (batch_size, H_l) is the input of batch norm layer l and var_n is the biased (divide by N)
    variance that batch norm's running_var averages. The average comes from batch norm's own update
    running = momentum * running + (1 - momentum) * batch_statistic with momentum = (k - 1) / k at the k-th
    batch (k = 1, 2, ...), a cumulative average. Each layer normalizes with its batch statistics (train
    mode), exactly as during training, so later layers see the same distribution as in training minus the
    dropout noise.

    Inputs:
    - model: a FullyConnectedNet with normalization='batchnorm'. model.loss is run; model.bn_params[i]
      ['running_mean'] and ['running_var'] (shape (H_i,)) are replaced. model.params, the bn_params' other
      keys, model.dropout_param and NumPy's global random state are as before afterwards.
    - X: inputs of shape (N, d_1, ..., d_k) with d_1 * ... * d_k = the model's input_dim; N >= batch_size.
    - batch_size: int >= 2.

    Returns:
    - None.
    """
    if getattr(model, "normalization", None) != "batchnorm":
        raise ValueError(f"model must be a FullyConnectedNet with normalization='batchnorm'; got normalization="
                         f"{getattr(model, 'normalization', None)!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 2:
        raise ValueError(f"batch_size must be an int >= 2; got {batch_size!r}")
    num_batches = X.shape[0] // batch_size
    if num_batches < 1:
        raise ValueError(f"X has {X.shape[0]} examples, fewer than one batch of batch_size={batch_size}")
    bn_params, dropout_param = model.bn_params, model.dropout_param
    saved_bn = [dict(p) for p in bn_params]
    saved_dropout = dict(dropout_param)
    rng_state = np.random.get_state()
    labels = np.zeros(batch_size, dtype=np.int64)  # the loss is discarded: any labels do
    try:
        if "p" in dropout_param:
            dropout_param["p"] = 1.0  # keep every unit: dropout as at test time
        for p in bn_params:
            p.pop("running_mean", None)
            p.pop("running_var", None)
        for k in range(1, num_batches + 1):
            for p in bn_params:
                p["momentum"] = (k - 1) / k
            model.loss(X[(k - 1) * batch_size:k * batch_size], labels)
        estimates = [(p["running_mean"], p["running_var"]) for p in bn_params]
    finally:
        np.random.set_state(rng_state)
        dropout_param.clear()
        dropout_param.update(saved_dropout)
        for p, saved in zip(bn_params, saved_bn):
            p.clear()
            p.update(saved)
    for p, (running_mean, running_var) in zip(bn_params, estimates):
        p["running_mean"], p["running_var"] = running_mean, running_var


# ----------------------------------------------------------------------------------------------------------------
# FullyConnectedNets.ipynb, sections 9.2 and 10: runs repeated over seeds, and the student's SGD learning rate
# ----------------------------------------------------------------------------------------------------------------

SEEDS = (0, 1, 2)
UPDATE_RULE_HIDDEN_DIMS = [100] * 4  # section 10.4's five-layer network
ADAM_LEARNING_RATE = 1e-3
SGD_TOLERANCE = 0.06  # section 10.5: how far behind Adam plain SGD may end


def overfit_accuracy(X, y, hidden_dims, weight_scale, learning_rate, seed, num_epochs=20, batch_size=25):
    """
    Final training accuracy of one plain-SGD run of FullyConnectedNet(hidden_dims, weight_scale=weight_scale,
    seed=seed) on the few images X (FullyConnectedNets.ipynb, section 9.2; Solver seed=seed). The Solver's
    validation checks run on X too: only the training accuracy is read, and a large validation set would cost more
    than the training itself.

    Inputs:
    - X: images of shape (N, d_1, ..., d_k); y: their labels, shape (N,)
    - hidden_dims: list of hidden layer sizes; weight_scale, learning_rate: positive numbers; seed: int

    Returns the last training accuracy the Solver recorded, a float; NaN if the loss became inf or NaN.
    """
    from cs231n_bn.solver import NonFiniteLossError

    data = {"X_train": X, "y_train": y, "X_val": X, "y_val": y}
    solver = _fc_solver(data, hidden_dims, weight_scale, "sgd", learning_rate, seed, num_epochs, batch_size)
    try:
        with np.errstate(all="ignore"):  # large scales overflow: that is what the sweep looks for
            solver.train()
    except NonFiniteLossError:
        return float("nan")
    return float(solver.train_acc_history[-1])


def update_rule_accuracy(data, update_rule, learning_rate, seed):
    """
    Best validation accuracy of section 10.4's run: FullyConnectedNet([100] * 4, weight_scale=0.1, seed=seed)
    trained with `update_rule` at `learning_rate` for 5 epochs of batches of 100 (Solver seed=seed).

    Returns a float; NaN if the loss became inf or NaN.
    """
    from cs231n_bn.solver import NonFiniteLossError

    solver = _fc_solver(data, UPDATE_RULE_HIDDEN_DIMS, 1e-1, update_rule, learning_rate, seed, 5, 100)
    try:
        with np.errstate(all="ignore"):
            solver.train()
    except NonFiniteLossError:
        return float("nan")
    return float(solver.best_val_acc)


def check_sgd_learning_rate(data, learning_rate, seeds=SEEDS, tolerance=SGD_TOLERANCE):
    """
    FullyConnectedNets.ipynb, section 10.5: with `learning_rate`, does plain SGD end within `tolerance` of Adam
    (learning rate 1e-3) in best validation accuracy, in every seed? Both run section 10.4's set-up
    (update_rule_accuracy) from the same seed.

    Inputs:
    - data: dict with 'X_train', 'y_train', 'X_val', 'y_val' (section 10.4's 4,000 training images)
    - learning_rate: the student's learning rate for SGD, a finite number > 0
    - seeds: the seeds to run; tolerance: the largest shortfall allowed

    Returns a dict: 'seeds' (list), 'sgd' and 'adam' (float arrays of the best validation accuracies per seed;
    NaN: the loss diverged). Raises AssertionError, with what the runs showed, if SGD diverged or ended more than
    `tolerance` behind in some seed; ValueError for a learning rate that is not a positive number.
    """
    learning_rate = check_positive("learning_rate", learning_rate)
    seeds = list(seeds)
    sgd = np.array([update_rule_accuracy(data, "sgd", learning_rate, seed) for seed in seeds])
    adam = np.array([update_rule_accuracy(data, "adam", ADAM_LEARNING_RATE, seed) for seed in seeds])
    diverged = [seed for seed, acc in zip(seeds, sgd) if np.isnan(acc)]
    behind = [seed for seed, s, a in zip(seeds, sgd, adam) if not s >= a - tolerance]
    if behind:
        what = (f"its loss diverged in seed{'s' if len(diverged) > 1 else ''} {_listed(diverged)}: try a smaller "
                f"learning rate" if diverged else
                f"it is more than {tolerance:g} behind in {len(behind)} of {len(seeds)} seeds")
        raise AssertionError(
            f"plain SGD at learning rate {learning_rate:g} does not come within {tolerance:g} of Adam: {what} "
            f"(best validation accuracy {_accuracies(sgd)} against Adam's {_accuracies(adam)}, seeds "
            f"{_listed(seeds)})")
    return {"seeds": seeds, "sgd": sgd, "adam": adam}


def _fc_solver(data, hidden_dims, weight_scale, update_rule, learning_rate, seed, num_epochs, batch_size):
    from cs231n_bn.classifiers.fc_net import FullyConnectedNet
    from cs231n_bn.solver import Solver

    input_dim = int(np.prod(data["X_train"].shape[1:]))
    model = FullyConnectedNet(list(hidden_dims), input_dim=input_dim, num_classes=10, weight_scale=weight_scale,
                              seed=seed)
    return Solver(model, data, update_rule=update_rule, optim_config={"learning_rate": learning_rate},
                  num_epochs=num_epochs, batch_size=batch_size, verbose=False, seed=seed)


# ----------------------------------------------------------------------------------------------------------------
# Dropout.ipynb, section 4: the regularization runs over seeds, and the student's keep ratio
# ----------------------------------------------------------------------------------------------------------------

DROPOUT_HIDDEN_DIMS = [256, 256]
DROPOUT_EPOCHS = 15
DROPOUT_LAST = 5          # accuracies: the mean of the last 5 checks (one per epoch)
MIN_NARROWING = 0.03      # section 4.1: the train-validation gap narrows by at least this much...
MAX_COST = 0.02           # ...and the validation accuracy drops by at most this much


def dropout_accuracies(data, keep_ratio, seed):
    """
    Section 4's run: np.random.seed(seed), then FullyConnectedNet([256, 256], weight_scale=5e-2,
    dropout_keep_ratio=keep_ratio) without a model seed (it would freeze the dropout mask), trained by Adam at
    1e-3 for 15 epochs of batches of 100 (Solver seed=seed) on data's training set.

    Returns (train, val): the mean training and validation accuracy of the last 5 epochs' checks, floats.
    """
    from cs231n_bn.classifiers.fc_net import FullyConnectedNet
    from cs231n_bn.solver import Solver

    np.random.seed(seed)
    model = FullyConnectedNet(DROPOUT_HIDDEN_DIMS, input_dim=int(np.prod(data["X_train"].shape[1:])),
                              num_classes=10, weight_scale=5e-2, dropout_keep_ratio=keep_ratio)
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    num_epochs=DROPOUT_EPOCHS, batch_size=100, verbose=False, seed=seed)
    solver.train()
    return (float(np.mean(solver.train_acc_history[-DROPOUT_LAST:])),
            float(np.mean(solver.val_acc_history[-DROPOUT_LAST:])))


def check_keep_ratio(data, keep_ratio, seeds=SEEDS, min_narrowing=MIN_NARROWING, max_cost=MAX_COST):
    """
    Dropout.ipynb, section 4.1: with `keep_ratio`, does dropout narrow the train - validation accuracy gap by at
    least `min_narrowing` while losing at most `max_cost` validation accuracy, against the same network without
    dropout (keep ratio 1), in every seed? Both run section 4's set-up (dropout_accuracies) from the same seed.

    Inputs:
    - data: dict with 'X_train', 'y_train', 'X_val', 'y_val' (section 4's 500 training images)
    - keep_ratio: the student's keep ratio, a number in (0, 1)
    - seeds: the seeds to run; min_narrowing, max_cost: the thresholds of the effect

    Returns a dict: 'seeds' (list), and for 'dropout' and 'no dropout' a dict with float arrays (one entry per
    seed) 'train', 'val' and 'gap' (train - val). Raises AssertionError, with what the runs showed, if the effect
    fails in some seed; ValueError for a keep ratio outside (0, 1).
    """
    if isinstance(keep_ratio, bool) or not isinstance(keep_ratio, (int, float, np.integer, np.floating)) \
            or not 0 < keep_ratio < 1:
        raise ValueError(f"keep_ratio must be a number in (0, 1) (1 would be no dropout), got {keep_ratio!r}")
    seeds = list(seeds)
    runs = {}
    for name, p in (("no dropout", 1.0), ("dropout", float(keep_ratio))):
        train, val = np.array([dropout_accuracies(data, p, seed) for seed in seeds]).T
        runs[name] = {"train": train, "val": val, "gap": train - val}
    narrowing = runs["no dropout"]["gap"] - runs["dropout"]["gap"]
    cost = runs["no dropout"]["val"] - runs["dropout"]["val"]
    problems = []
    few = narrowing < min_narrowing
    if few.any():
        problems.append(f"the gap narrows by less than {min_narrowing:g} in {int(few.sum())} of {len(seeds)} seeds "
                        f"(by {_accuracies(narrowing)}): too little dropout to regularize")
    costly = cost > max_cost
    if costly.any():
        problems.append(f"validation accuracy drops by more than {max_cost:g} in {int(costly.sum())} of "
                        f"{len(seeds)} seeds (by {_accuracies(cost)}): so much dropout that the network underfits")
    if problems:
        raise AssertionError(
            f"keep ratio {keep_ratio:g} does not show the effect: {'; '.join(problems)} (train - validation gap "
            f"{_accuracies(runs['dropout']['gap'])} with dropout, {_accuracies(runs['no dropout']['gap'])} without; "
            f"seeds {_listed(seeds)})")
    return {"seeds": seeds, **runs}


def mean_sd(values):
    """'MEAN +- SD' over the seeds (standard deviation with ddof=1), to 3 decimals; one seed (the browser edition
    runs one) has no spread, so only its value."""
    values = np.asarray(values)
    return f"{values.mean():.3f} +- {values.std(ddof=1):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def _accuracies(values):
    return ", ".join("diverged" if np.isnan(v) else f"{v:.3f}" for v in values)


def _listed(values):
    return ", ".join(str(v) for v in values)
