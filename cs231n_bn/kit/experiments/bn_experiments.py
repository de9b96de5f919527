"""Training comparisons for BatchNormalization.ipynb: nets with and without normalization, side by side.

Every net in a comparison starts from weights drawn with the same seed and sees the same sequence of
mini-batches, so that two curves differ only in what is being compared (normalization, weight scale, batch size).
Nothing here is student work; the figures are drawn by plot_training_curves (fc_experiments) and
plot_weight_scale_sweep (here).
"""

import numpy as np

from cs231n_bn.classifiers.fc_net import FullyConnectedNet
from cs231n_bn.solver import Solver


def train_net(data, hidden_dims, normalization=None, weight_scale=2e-2, num_classes=10, dtype=np.float32, seed=0,
              **solver_kwargs):
    """
    Train one FullyConnectedNet on `data` with the Solver (verbose=False unless given) and return the Solver.

    The seed fixes both the initial weights (FullyConnectedNet's seed) and the order of the mini-batches (the
    Solver's seed, unless solver_kwargs give one).

    Inputs:
    - data: dict with X_train (N_train, d_1, ..., d_k), y_train (N_train,), X_val (N_val, d_1, ..., d_k),
      y_val (N_val,)
    - hidden_dims: list of hidden layer sizes
    - normalization: None, 'batchnorm' or 'layernorm'
    - weight_scale: standard deviation of the initial weights
    - num_classes: number of classes C
    - dtype: parameter dtype of the net
    - seed: int, seeds the initial weights and the mini-batch order
    - solver_kwargs: any Solver keyword argument (update_rule, optim_config, batch_size, num_epochs, ...)

    Returns:
    - solver: the trained Solver; solver.model holds the net with the best validation parameters
    """
    input_dim = int(np.prod(data["X_train"].shape[1:]))
    model = FullyConnectedNet(hidden_dims, input_dim=input_dim, num_classes=num_classes,
                              normalization=normalization, weight_scale=weight_scale, dtype=dtype, seed=seed)
    solver_kwargs.setdefault("verbose", False)
    solver_kwargs.setdefault("seed", seed)
    solver = Solver(model, data, **solver_kwargs)
    solver.train()
    return solver


def train_variants(data, hidden_dims, variants, seed=0, **common):
    """
    Train one net per variant, with the same seed, and return the solvers by label.

    Inputs:
    - data, hidden_dims, seed: as for train_net
    - variants: dict label -> dict of train_net keyword arguments that set this variant apart from the others,
      e.g. {'baseline': {}, 'batchnorm': {'normalization': 'batchnorm'}} or {'N=5': {'batch_size': 5}}
    - common: train_net / Solver keyword arguments shared by every variant (a variant's own value wins)

    Returns:
    - solvers: dict label -> trained Solver, in the order of `variants`
    """
    if not isinstance(variants, dict) or not variants:
        raise ValueError(f"variants must be a non-empty dict label -> keyword arguments; got {variants!r}")
    solvers = {}
    for label, kwargs in variants.items():
        if not isinstance(kwargs, dict):
            raise ValueError(f"variant {label!r} must map to a dict of keyword arguments; got {kwargs!r}")
        solvers[label] = train_net(data, hidden_dims, seed=seed, **{**common, **kwargs})
    return solvers


def final_loss(solver, window=20):
    """
    The training loss at the end of training: the mean of the last `window` mini-batch losses (one mini-batch
    loss is too noisy to compare nets by).

    Inputs:
    - solver: a trained Solver
    - window: int >= 1

    Returns:
    - loss: float
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be an int >= 1; got {window!r}")
    return float(np.mean(solver.loss_history[-window:]))


def weight_scale_sweep(data, hidden_dims, weight_scales, normalizations=(None, "batchnorm"), seed=0, window=20,
                       **common):
    """
    Train one net per (normalization, weight scale) and summarize each run by three numbers.

    Inputs:
    - data, hidden_dims, seed: as for train_net
    - weight_scales: sequence of S positive initial weight scales
    - normalizations: the normalizations compared (None is the baseline without normalization)
    - window: number of final mini-batch losses averaged into final_loss
    - common: train_net / Solver keyword arguments shared by every run

    Returns:
    - results: dict normalization -> dict with arrays of shape (S,), one entry per weight scale:
      'best_val_acc' (Solver.best_val_acc), 'best_train_acc' (max of train_acc_history),
      'final_loss' (final_loss(solver, window))
    """
    weight_scales = np.asarray(weight_scales, dtype=np.float64)
    if weight_scales.ndim != 1 or weight_scales.size == 0 or not np.all(weight_scales > 0):
        raise ValueError(f"weight_scales must be a non-empty 1-d sequence of positive numbers; got {weight_scales}")
    results = {}
    for normalization in normalizations:
        runs = [train_net(data, hidden_dims, normalization=normalization, weight_scale=float(scale), seed=seed,
                          **common)
                for scale in weight_scales]
        results[normalization] = {
            "best_val_acc": np.array([solver.best_val_acc for solver in runs]),
            "best_train_acc": np.array([max(solver.train_acc_history) for solver in runs]),
            "final_loss": np.array([final_loss(solver, window) for solver in runs]),
        }
    return results


def plot_weight_scale_sweep(weight_scales, results, title=None):
    """
    Plot a weight_scale_sweep: best validation accuracy, best training accuracy and final training loss
    against the initial weight scale (log axis), one line per normalization.

    Inputs:
    - weight_scales: sequence of S weight scales, as given to weight_scale_sweep
    - results: the dict returned by weight_scale_sweep
    - title: optional figure title

    Returns:
    - fig: the matplotlib Figure (the caller shows it with plt.show())
    """
    import matplotlib.pyplot as plt  # imported here so that training runs never load matplotlib

    panels = (("best_val_acc", "Best validation accuracy", "accuracy"),
              ("best_train_acc", "Best training accuracy", "accuracy"),
              ("final_loss", "Final training loss", "loss (log scale)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4))
    for ax, (key, panel_title, ylabel) in zip(axes, panels):
        for normalization, summary in results.items():
            ax.semilogx(weight_scales, summary[key], "-o", markersize=4, label=normalization or "baseline")
        if key == "final_loss":
            ax.set_yscale("log")
        ax.set_title(panel_title)
        ax.set_xlabel("initial weight scale")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
