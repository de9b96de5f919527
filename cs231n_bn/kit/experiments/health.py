"""Training health, as Karpathy shows it (makemore, part 3), for BatchNormalization.ipynb, section 7.1.

Nothing here is student work. health_comparison trains a few variants of a FullyConnectedNet over seeds and
watches the first seed's run of each with monitors.LayerHealthRecorder; plot_training_health draws, per variant,
the histograms of every hidden layer's pre-activations and of the gradients arriving at its outputs, the
saturated fraction over training, and the update-to-data ratio of every weight matrix over training.
"""

import numpy as np

from cs231n_bn.kit.experiments.bn_experiments import train_net
from cs231n_bn.kit.monitors import LayerHealthRecorder


def health_comparison(data, hidden_dims, variants, seeds=(0, 1, 2), probe_size=200, every=10, keep=(0,),
                      **common):
    """
    Train every variant from every seed; record the training health of each variant's first-seed run.

    Inputs:
    - data, hidden_dims: as for train_net
    - variants: dict label -> train_net keyword arguments that set the variant apart, e.g.
      {'plain': {'weight_scale': 2e-2}, 'batchnorm': {'weight_scale': 2e-2, 'normalization': 'batchnorm'}}
    - seeds: the seeds; the first one's runs are recorded
    - probe_size: the recorder's fixed probe batch: the first probe_size training examples
    - every: record the layer statistics every `every` iterations
    - keep: iterations at which the recorder keeps whole arrays for the histograms
    - common: train_net / Solver keyword arguments shared by every run (a variant's own value wins)

    Returns:
    - solvers: dict label -> list of trained Solvers, one per seed
    - recorders: dict label -> the LayerHealthRecorder of the first seed's run
    """
    if not isinstance(variants, dict) or not variants:
        raise ValueError(f"variants must be a non-empty dict label -> keyword arguments; got {variants!r}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must be a non-empty sequence of ints")
    X_probe, y_probe = data["X_train"][:probe_size], data["y_train"][:probe_size]
    solvers, recorders = {}, {}
    for label, kwargs in variants.items():
        solvers[label] = []
        for k, seed in enumerate(seeds):
            options = {**common, **kwargs}
            if k == 0:
                recorders[label] = LayerHealthRecorder(X_probe, y_probe, every=every, keep=keep)
                options["callbacks"] = list(options.get("callbacks", ())) + [recorders[label]]
            solvers[label].append(train_net(data, hidden_dims, seed=seed, **options))
    return solvers, recorders


def plot_training_health(recorders, step=0, title=None):
    """
    One row per variant: (1) histograms of each hidden layer's pre-activations (the nonlinearity's input) at
    `step`, (2) histograms of the gradients dL/dh of each hidden layer's output at `step`, (3) the saturated
    fraction of each layer's outputs over training (for ReLU: outputs that are exactly 0), (4) the
    update-to-data ratio std(W_t - W_{t-1}) / std(W_{t-1}) of every weight matrix over training (log scale,
    with Karpathy's rule of thumb 1e-3 dashed).

    Inputs:
    - recorders: dict label -> LayerHealthRecorder (health_comparison's second result)
    - step: an iteration the recorders kept whole arrays at (their `keep`)
    - title: optional figure title

    Returns:
    - fig: the matplotlib Figure
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(recorders), 4, figsize=(16, 3.1 * len(recorders)), squeeze=False)
    for row, (label, recorder) in zip(axes, recorders.items()):
        if step not in recorder.snapshots:
            raise ValueError(f"{label}: no histograms kept at iteration {step}; kept: {sorted(recorder.snapshots)}")
        snapshot = recorder.snapshots[step]
        for i, layer in enumerate(recorder.layers):
            for ax, key in ((row[0], "preacts"), (row[1], "act_grads")):
                values = snapshot[key].get(layer)
                if values is None:
                    continue
                values = np.asarray(values, dtype=np.float64).ravel()
                counts, edges = np.histogram(values, bins=60)
                ax.plot((edges[:-1] + edges[1:]) / 2, counts, lw=1.2,
                        label=f"layer {i + 1}: std {values.std():.2g}")
        steps, saturated = recorder.history("saturated")
        for i in range(saturated.shape[1]):
            row[2].plot(steps, saturated[:, i], lw=1.2, label=f"layer {i + 1}")
        update_steps, ratios = recorder.update_history()
        for j, name in enumerate(recorder.update_ratio):
            row[3].plot(update_steps, np.log10(ratios[:, j]), lw=1, label=name)
        row[3].axhline(-3, color="k", ls="--", lw=1)
        row[0].set(xlabel="pre-activation", ylabel=f"{label}\n\ncount")
        row[1].set(xlabel="dL/dh", ylabel="count")
        row[2].set(xlabel="step", ylabel="fraction", ylim=(0, 1))
        row[3].set(xlabel="step", ylabel="log10 std(dW) / std(W)")
        for ax in row:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    for ax, column_title in zip(axes[0], (f"Pre-activations at step {step}", f"Gradients at the outputs, step {step}",
                                          "Saturated outputs (ReLU: exactly 0)", "Update-to-data ratio")):
        ax.set_title(column_title)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def health_summary(recorder, step=0):
    """
    The numbers behind plot_training_health for one recorder, per hidden layer (arrays of length L):
    'preact_std' and 'grad_std' at `step`, 'saturated_end' and 'dead_end' at the last recorded step, and
    'update_ratio', the median over training of each weight matrix's update-to-data ratio (length L + 1).
    """
    if step not in recorder.snapshots:
        raise ValueError(f"no arrays kept at iteration {step}; kept: {sorted(recorder.snapshots)}")
    snapshot = recorder.snapshots[step]
    _, saturated = recorder.history("saturated")
    _, dead = recorder.history("dead")
    _, ratios = recorder.update_history()
    return {"preact_std": np.array([np.std(snapshot["preacts"][l]) for l in recorder.layers]),
            "grad_std": np.array([np.std(snapshot["act_grads"][l]) for l in recorder.layers]),
            "saturated_end": saturated[-1], "dead_end": dead[-1],
            "update_ratio": np.median(ratios, axis=0)}
