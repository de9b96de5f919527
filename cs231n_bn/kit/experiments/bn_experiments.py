"""Training comparisons for BatchNormalization.ipynb: nets with and without normalization, side by side.

Every net in a comparison starts from weights drawn with the same seed and sees the same sequence of
mini-batches, so that two curves differ only in what is being compared (normalization, weight scale, batch size).
Nothing here is student work; the figures are drawn by plot_training_curves (fc_experiments) and
plot_weight_scale_sweep (here).

Initial weights: a number is the standard deviation of every weight matrix (FullyConnectedNet's weight_scale);
HE ('he') is the stated rule for a fair baseline, the same for every net compared: W_l ~ N(0, 2 / fan_in) for the
hidden layers, which keeps the variance of a ReLU net's signal from layer to layer (He et al., 2015), and
N(0, 1 / fan_in) for the output layer.
"""

import numbers

import numpy as np

from cs231n_bn.classifiers.fc_net import FullyConnectedNet
from cs231n_bn.solver import Solver

HE = "he"


def build_net(hidden_dims, input_dim, normalization=None, weight_scale=2e-2, num_classes=10, dtype=np.float32,
              seed=0, **net_kwargs):
    """
    A FullyConnectedNet drawn with `seed`, its weights at `weight_scale` (a positive number, or HE).

    With HE the net is drawn with weight_scale 1 (the same standard-normal draws) and every W_l is then
    multiplied by sqrt(2 / fan_in), the output layer's by sqrt(1 / fan_in).

    Inputs:
    - hidden_dims, input_dim, normalization, num_classes, dtype, seed: as for FullyConnectedNet
    - weight_scale: positive number or 'he'
    - net_kwargs: any other FullyConnectedNet keyword argument (reg, nonlinearity, ...)

    Returns:
    - model: the FullyConnectedNet
    """
    he = isinstance(weight_scale, str) and weight_scale == HE
    if not he and (isinstance(weight_scale, bool) or not isinstance(weight_scale, numbers.Real)
                   or not weight_scale > 0):
        raise ValueError(f"weight_scale must be a positive number or {HE!r}; got {weight_scale!r}")
    model = FullyConnectedNet(hidden_dims, input_dim=input_dim, num_classes=num_classes,
                              normalization=normalization, weight_scale=1.0 if he else weight_scale, dtype=dtype,
                              seed=seed, **net_kwargs)
    if he:
        for l in range(1, model.num_layers + 1):
            W = model.params[f"W{l}"]
            gain = 1.0 if l == model.num_layers else 2.0
            model.params[f"W{l}"] = (W * np.sqrt(gain / W.shape[0])).astype(W.dtype)
    return model


class _BestStatistics:
    """Solver callback: the running statistics that go with the Solver's best parameters.

    The Solver keeps the parameters of its best validation check and puts them back at the end, but batch norm's
    running statistics stay those of the last step. This copies model.bn_params' arrays whenever the Solver takes
    a new best (its best_params becomes a new dict), so that restore() makes the model the one that was checked.
    """

    def __init__(self):
        self.best, self.saved = None, None

    def __call__(self, solver):
        if solver.best_params is not self.best:
            self.best = solver.best_params
            self.saved = [{k: np.copy(v) for k, v in p.items() if isinstance(v, np.ndarray)}
                          for p in solver.model.bn_params]

    def restore(self, model):
        if self.saved is not None:
            for p, arrays in zip(model.bn_params, self.saved):
                p.update(arrays)


def train_net(data, hidden_dims, normalization=None, weight_scale=2e-2, num_classes=10, dtype=np.float32, seed=0,
              **solver_kwargs):
    """
    Train one FullyConnectedNet on `data` with the Solver (verbose=False unless given) and return the Solver.

    The seed fixes both the initial weights (FullyConnectedNet's seed) and the order of the mini-batches (the
    Solver's seed, unless solver_kwargs give one). After training, solver.model is the net of the best validation
    check: its best parameters (the Solver puts them back) and, with batch norm, the running statistics it had
    then, so that evaluating solver.model reproduces solver.best_val_acc.

    Inputs:
    - data: dict with X_train (N_train, d_1, ..., d_k), y_train (N_train,), X_val (N_val, d_1, ..., d_k),
      y_val (N_val,)
    - hidden_dims: list of hidden layer sizes
    - normalization: None, 'batchnorm' or 'layernorm'
    - weight_scale: standard deviation of the initial weights, or 'he' (see build_net)
    - num_classes: number of classes C
    - dtype: parameter dtype of the net
    - seed: int, seeds the initial weights and the mini-batch order
    - solver_kwargs: any Solver keyword argument (update_rule, optim_config, batch_size, num_epochs, callbacks,
      ...); reg and nonlinearity go to the net

    Returns:
    - solver: the trained Solver
    """
    input_dim = int(np.prod(data["X_train"].shape[1:]))
    net_kwargs = {key: solver_kwargs.pop(key) for key in ("reg", "nonlinearity") if key in solver_kwargs}
    model = build_net(hidden_dims, input_dim, normalization=normalization, weight_scale=weight_scale,
                      num_classes=num_classes, dtype=dtype, seed=seed, **net_kwargs)
    solver_kwargs.setdefault("verbose", False)
    solver_kwargs.setdefault("seed", seed)
    best = _BestStatistics()
    callbacks = solver_kwargs.pop("callbacks", ())
    callbacks = [callbacks] if callable(callbacks) else list(callbacks)
    solver = Solver(model, data, callbacks=callbacks + [best], **solver_kwargs)
    solver.train()
    best.restore(model)
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
                       seeds=None, **common):
    """
    Train one net per (normalization, weight scale[, seed]) and summarize each run by four numbers.

    Inputs:
    - data, hidden_dims, seed: as for train_net
    - weight_scales: sequence of S positive initial weight scales
    - normalizations: the normalizations compared (None is the baseline without normalization)
    - window: number of final mini-batch losses averaged into final_loss
    - seeds: None (one run per point, from `seed`) or a sequence of R seeds (R runs per point)
    - common: train_net / Solver keyword arguments shared by every run

    Returns:
    - results: dict normalization -> dict with arrays of shape (S,), or (R, S) with seeds, one entry per weight
      scale: 'best_val_acc' (Solver.best_val_acc), 'best_train_acc' (max of train_acc_history),
      'final_loss' (final_loss(solver, window)) and 'update_ratio' (the median over the steps and the weight
      matrices of the update-to-data ratio std(W_t - W_{t-1}) / std(W_{t-1}); monitors.UpdateRatioRecorder)
    """
    from cs231n_bn.kit.monitors import UpdateRatioRecorder

    weight_scales = np.asarray(weight_scales, dtype=np.float64)
    if weight_scales.ndim != 1 or weight_scales.size == 0 or not np.all(weight_scales > 0):
        raise ValueError(f"weight_scales must be a non-empty 1-d sequence of positive numbers; got {weight_scales}")
    run_seeds = [seed] if seeds is None else [int(s) for s in seeds]
    if not run_seeds:
        raise ValueError("seeds must be None or a non-empty sequence of ints")
    results = {}
    for normalization in normalizations:
        summary = {key: np.zeros((len(run_seeds), len(weight_scales)))
                   for key in ("best_val_acc", "best_train_acc", "final_loss", "update_ratio")}
        for i, run_seed in enumerate(run_seeds):
            for j, scale in enumerate(weight_scales):
                updates = UpdateRatioRecorder()
                solver = train_net(data, hidden_dims, normalization=normalization, weight_scale=float(scale),
                                   seed=run_seed, callbacks=[updates], **common)
                summary["best_val_acc"][i, j] = solver.best_val_acc
                summary["best_train_acc"][i, j] = max(solver.train_acc_history)
                summary["final_loss"][i, j] = final_loss(solver, window)
                summary["update_ratio"][i, j] = np.median(updates.history()[1])
        results[normalization] = {key: value[0] if seeds is None else value for key, value in summary.items()}
    return results


def plot_weight_scale_sweep(weight_scales, results, title=None):
    """
    Plot a weight_scale_sweep: best validation accuracy, best training accuracy and final training loss
    against the initial weight scale (log axis), one line per normalization; with several seeds, the mean over
    the seeds and a band from the lowest to the highest seed.

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
            values = np.atleast_2d(summary[key])
            line, = ax.semilogx(weight_scales, values.mean(axis=0), "-o", markersize=4,
                                label=normalization or "baseline")
            if values.shape[0] > 1:
                ax.fill_between(weight_scales, values.min(axis=0), values.max(axis=0), color=line.get_color(),
                                alpha=0.2)
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


def bn_input_statistics(X, hidden_dims, weight_scales, num_classes=10, eps=1e-5, seed=0):
    """
    Where batch norm's scale invariance holds: the forward pass of a freshly initialized
    {affine - batchnorm - relu} x L - affine net on one mini-batch, at several initial weight scales.

    The weights are W_l = scale * Z_l with the same standard-normal draws Z_l at every scale (biases 0, gamma 1,
    beta 0), so that the scale is the only difference. BN(aWx) = BN(Wx) would make every row of the result equal;
    it holds only while the per-feature variance of each batch-norm input is much larger than eps.

    Inputs:
    - X: one mini-batch, shape (N, d_1, ..., d_k)
    - hidden_dims: list of L hidden layer sizes
    - weight_scales: sequence of S positive weight scales
    - num_classes: size of the output layer
    - eps: batch norm's eps
    - seed: seed of the weight draws

    Returns a dict:
    - 'input_var': array (S, L), the per-feature variance of batch norm l's input over the batch, averaged over
      its features
    - 'x_hat_std': array (S, L), the standard deviation of batch norm l's output (x_hat, since gamma = 1 and
      beta = 0) over all its entries: 1 where scale invariance holds, sqrt(var / (var + eps)) in general
    - 'scores_std': array (S,), the standard deviation of the output layer's scores
    """
    from cs231n_bn.layers import affine_forward, batchnorm_forward, relu_forward

    weight_scales = np.asarray(weight_scales, dtype=np.float64)
    if weight_scales.ndim != 1 or weight_scales.size == 0 or not np.all(weight_scales > 0):
        raise ValueError(f"weight_scales must be a non-empty 1-d sequence of positive numbers; got {weight_scales}")
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    dims = [X.shape[1]] + list(hidden_dims) + [num_classes]
    rng = np.random.default_rng(seed)
    Z = [rng.standard_normal((dims[i], dims[i + 1])) for i in range(len(dims) - 1)]
    L = len(hidden_dims)
    input_var, x_hat_std, scores_std = np.zeros((len(weight_scales), L)), np.zeros((len(weight_scales), L)), []
    for s, scale in enumerate(weight_scales):
        h = X
        for l in range(L):
            a, _ = affine_forward(h, scale * Z[l], np.zeros(dims[l + 1]))
            input_var[s, l] = a.var(axis=0).mean()
            x_hat, _ = batchnorm_forward(a, np.ones(dims[l + 1]), np.zeros(dims[l + 1]),
                                         {"mode": "train", "eps": eps})
            x_hat_std[s, l] = x_hat.std()
            h, _ = relu_forward(x_hat)
        scores, _ = affine_forward(h, scale * Z[L], np.zeros(num_classes))
        scores_std.append(scores.std())
    return {"input_var": input_var, "x_hat_std": x_hat_std, "scores_std": np.array(scores_std)}


def plot_bn_input_statistics(weight_scales, stats, eps=1e-5, title=None):
    """
    Plot bn_input_statistics: each batch-norm layer's input variance (with eps marked) and the spread of its
    x_hat, against the initial weight scale.

    Inputs:
    - weight_scales: the S scales given to bn_input_statistics
    - stats: its result
    - eps: batch norm's eps, drawn as a horizontal line
    - title: optional figure title

    Returns:
    - fig: the matplotlib Figure
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    for l in range(stats["input_var"].shape[1]):
        axes[0].loglog(weight_scales, stats["input_var"][:, l], "-o", markersize=3, label=f"batch norm {l + 1}")
        axes[1].semilogx(weight_scales, stats["x_hat_std"][:, l], "-o", markersize=3, label=f"batch norm {l + 1}")
    axes[0].axhline(eps, color="k", ls="--", lw=1, label=f"eps = {eps:g}")
    axes[0].set(title="Per-feature variance of each batch-norm input", xlabel="initial weight scale",
                ylabel="variance (mean over features)")
    axes[1].set(title="Spread of x_hat (1 where BN(aWx) = BN(Wx))", xlabel="initial weight scale",
                ylabel="standard deviation of x_hat", ylim=(-0.05, 1.1))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def batch_size_comparison(data, hidden_dims, batch_sizes, normalizations=(None, "batchnorm", "layernorm"),
                          seeds=(0, 1, 2), keep_solvers=False, **common):
    """
    Train one net per (normalization, batch size, seed): every normalization at every batch size, each over the
    same seeds (the seed fixes the initial weights and the mini-batch order, as in train_net).

    Inputs:
    - data, hidden_dims: as for train_net
    - batch_sizes: sequence of B batch sizes
    - normalizations: the normalizations compared (None is the baseline)
    - seeds: sequence of S seeds
    - keep_solvers: if True, each normalization's dict also holds 'solvers', a list of S lists of B trained Solvers
    - common: train_net / Solver keyword arguments shared by every run (not batch_size or seed)

    Returns:
    - results: dict normalization -> dict with arrays of shape (S, B): 'best_val_acc' and 'best_train_acc'
    """
    for key in ("batch_size", "seed", "normalization"):
        if key in common:
            raise ValueError(f"{key} is set by batch_size_comparison itself; got {key}={common[key]!r}")
    batch_sizes, seeds = [int(b) for b in batch_sizes], [int(s) for s in seeds]
    if not batch_sizes or not seeds:
        raise ValueError(f"batch_sizes and seeds must be non-empty; got {batch_sizes!r}, {seeds!r}")
    results = {}
    for normalization in normalizations:
        val, train = np.zeros((len(seeds), len(batch_sizes))), np.zeros((len(seeds), len(batch_sizes)))
        solvers = [[None] * len(batch_sizes) for _ in seeds]
        for i, seed in enumerate(seeds):
            for j, batch_size in enumerate(batch_sizes):
                solver = train_net(data, hidden_dims, normalization=normalization, batch_size=batch_size,
                                   seed=seed, **common)
                val[i, j], train[i, j] = solver.best_val_acc, max(solver.train_acc_history)
                if keep_solvers:
                    solvers[i][j] = solver
        results[normalization] = {"best_val_acc": val, "best_train_acc": train}
        if keep_solvers:
            results[normalization]["solvers"] = solvers
    return results


def plot_batch_size_comparison(batch_sizes, results, title=None):
    """
    Plot batch_size_comparison: best validation and training accuracy against the batch size, the mean over the
    seeds with error bars from the smallest to the largest seed's value.

    Inputs:
    - batch_sizes: the B batch sizes given to batch_size_comparison
    - results: its result
    - title: optional figure title

    Returns:
    - fig: the matplotlib Figure
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    for ax, key, panel_title in zip(axes, ("best_val_acc", "best_train_acc"),
                                    ("Best validation accuracy", "Best training accuracy")):
        for normalization, summary in results.items():
            values = summary[key]
            mean = values.mean(axis=0)
            ax.errorbar(batch_sizes, mean, yerr=[mean - values.min(axis=0), values.max(axis=0) - mean],
                        fmt="-o", capsize=4, markersize=4, label=normalization or "baseline")
        ax.set_xscale("log")
        ax.set_xticks(batch_sizes, [str(b) for b in batch_sizes])
        ax.minorticks_off()
        ax.set(title=f"{panel_title} (mean, min to max over {values.shape[0]} seeds)", xlabel="batch size N",
               ylabel="accuracy")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
