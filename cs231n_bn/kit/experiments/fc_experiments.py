"""Figures and small experiment functions for FullyConnectedNets.ipynb and Dropout.ipynb.

Nothing here is student work. The figures (a computational graph with its values and gradients, training curves)
and the batch norm statistics re-estimation of Dropout.ipynb, section 5.3, live here so that the notebooks keep to
the ideas (the chain rule, the update rules, dropout) and not to matplotlib or bookkeeping code.
"""

import numpy as np


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
