"""Explanations of batch norm put to the test, for BatchNormalization.ipynb, section 7.

Nothing here is student work. Three claims about why batch norm helps, or where it fails, each measured on the
student's own FullyConnectedNet, over seeds:

    gradient_predictiveness(...)     Santurkar et al. (2018): with batch norm the gradient predicts the loss over
                                     a longer step (loss and gradient change along the gradient's direction)
    weight_norm_growth(...)          scale invariance: under batch norm <dL/dw, w> = 0 for every column w of a
                                     weight matrix, so plain SGD can only grow ||w||, and the effective learning
                                     rate lr / ||w||^2 falls; weight decay holds ||w|| at an equilibrium
    one_sgd_step(...)                what one SGD step does to a batch-norm input: its batch mean moves, its
                                     column norms grow
    small_batch_failure(...)         the accuracy a net trained with batches of 2 loses, split into what better
                                     statistics at test time recover and what the noisy training cost

Each returns plain arrays; plot_* draws them.
"""

import numpy as np

from cs231n_bn.kit.experiments.bn_experiments import train_net
from cs231n_bn.kit.experiments.fc_experiments import reestimate_bn_statistics
from cs231n_bn.kit.monitors import LandscapeRecorder, ParameterNormRecorder, forward_activations, preserved_state


def _seeds(seeds):
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must be a non-empty sequence of ints")
    return seeds


def _probe(data, size, seed=0):
    """A fixed batch of `size` training examples (the same for every net compared)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 2 <= size <= len(data["X_train"]):
        raise ValueError(f"probe size must be an int from 2 to {len(data['X_train'])}; got {size!r}")
    index = np.random.default_rng(seed).choice(len(data["X_train"]), size, replace=False)
    return data["X_train"][index], data["y_train"][index]


# ----------------------------------------------------------------------------------------------------------------
# Santurkar et al. (2018): gradient predictiveness

def gradient_predictiveness(data, hidden_dims, normalizations=(None, "batchnorm"), seeds=(0, 1, 2),
                            learning_rate=0.1, multipliers=(0.5, 1.0, 2.0, 4.0), every=20, probe_size=100,
                            **common):
    """
    Train one net per (normalization, seed) with plain SGD and, every `every` steps, move its parameters along
    the gradient of a fixed probe batch by eta = multiplier * learning_rate (LandscapeRecorder).

    Per recorded step:
    - loss_spread: max - min of the probe loss over eta in {0} and the steps: how much the loss changes along
      the gradient direction (Santurkar et al., Figure 4a)
    - grad_change: max over the steps of ||g(w - eta g) - g(w)||: how far the gradient changes (Figure 4b)
    - beta: max over the steps of ||g(w - eta g) - g(w)|| / ||eta g||, the "effective beta-smoothness"
      (Figure 4c): a small beta means the gradient stays predictive over a step of that length

    Inputs:
    - data, hidden_dims: as for train_net
    - normalizations: the nets compared (None is the baseline)
    - seeds: the seeds (initial weights, mini-batch order)
    - learning_rate: the SGD learning rate of training and the unit of the probed steps
    - multipliers: the probed steps, in units of learning_rate
    - every: probe every `every` training steps (and before the first)
    - probe_size: the number of training examples in the fixed probe batch
    - common: train_net / Solver keyword arguments (batch_size, num_epochs, weight_scale, ...); update_rule and
      optim_config are set here

    Returns:
    - results: dict normalization -> dict with 'steps' (T,) and arrays (S, T): 'loss_spread', 'grad_change',
      'beta', 'loss' (the probe loss at the step), and 'best_val_acc' (S,)
    """
    for key in ("update_rule", "optim_config", "seed", "normalization"):
        if key in common:
            raise ValueError(f"{key} is set by gradient_predictiveness itself; got {key}={common[key]!r}")
    seeds = _seeds(seeds)
    multipliers = np.asarray(multipliers, dtype=np.float64)
    X_probe, y_probe = _probe(data, probe_size)
    results = {}
    for normalization in normalizations:
        rows = {"loss_spread": [], "grad_change": [], "beta": [], "loss": [], "best_val_acc": []}
        for seed in seeds:
            recorder = LandscapeRecorder(X_probe, y_probe, learning_rate * multipliers, every=every)
            with np.errstate(over="ignore", invalid="ignore"):
                solver = train_net(data, hidden_dims, normalization=normalization, seed=seed, update_rule="sgd",
                                   optim_config={"learning_rate": learning_rate}, callbacks=[recorder], **common)
            history = recorder.history()
            losses = np.column_stack([history["loss_at_zero"], history["loss"]])
            rows["loss_spread"].append(losses.max(axis=1) - losses.min(axis=1))
            rows["grad_change"].append(history["grad_change"].max(axis=1))
            rows["beta"].append((history["grad_change"] / history["distance"]).max(axis=1))
            rows["loss"].append(history["loss_at_zero"])
            rows["best_val_acc"].append(solver.best_val_acc)
        results[normalization] = {"steps": history["steps"], **{k: np.asarray(v) for k, v in rows.items()}}
    return results


def plot_gradient_predictiveness(results, title=None):
    """
    Plot gradient_predictiveness: loss spread, gradient change and beta against the training step, one colour
    per net, the mean over the seeds with a band from the lowest to the highest seed (log scale).

    Returns:
    - fig: the matplotlib Figure
    """
    import matplotlib.pyplot as plt

    panels = (("loss_spread", "Loss change along the gradient (Fig. 4a)"),
              ("grad_change", "Gradient change along the gradient (Fig. 4b)"),
              ("beta", "Effective beta-smoothness (Fig. 4c)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4))
    for ax, (key, panel_title) in zip(axes, panels):
        for normalization, r in results.items():
            values = r[key]
            line, = ax.plot(r["steps"], np.exp(np.log(values).mean(axis=0)), "-o", markersize=3,
                            label=normalization or "baseline")
            ax.fill_between(r["steps"], values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2)
        ax.set_yscale("log")
        ax.set(title=panel_title, xlabel="training step")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------------------------
# Scale invariance: the growth of ||w|| and the effective learning rate

def weight_norm_growth(data, hidden_dims, learning_rate=0.1, regs=(0.0, 1e-2), seeds=(0, 1, 2), **common):
    """
    Train a batch-normalized net with plain SGD, without and with weight decay (L2 regularization reg, which
    adds reg * W to the gradient of every W), recording the column norms of every weight matrix at every step.

    For a column w of W_l (l < L, followed by batch norm), the effective learning rate is lr / ||w||^2: the step
    -lr g changes the direction of w by about lr ||g|| / ||w||, and ||g|| itself scales like 1 / ||w||.

    Inputs:
    - data, hidden_dims: as for train_net
    - learning_rate: the SGD learning rate
    - regs: the weight decays compared
    - seeds: the seeds
    - common: train_net / Solver keyword arguments (batch_size, num_epochs, weight_scale, ...)

    Returns:
    - results: dict reg -> dict with 'steps' (T,), 'norm' (S, T, L - 1): the mean column norm of W_1 .. W_{L-1}
      (the matrices followed by batch norm), 'effective_lr' (S, T, L - 1): learning_rate / mean of ||w||^2 over
      the columns, and 'best_val_acc' (S,)
    """
    for key in ("update_rule", "optim_config", "seed", "normalization", "reg"):
        if key in common:
            raise ValueError(f"{key} is set by weight_norm_growth itself; got {key}={common[key]!r}")
    seeds = _seeds(seeds)
    results = {}
    for reg in regs:
        norms, effective, accuracy = [], [], []
        for seed in seeds:
            recorder = ParameterNormRecorder(every=1)
            solver = train_net(data, hidden_dims, normalization="batchnorm", seed=seed, reg=reg, update_rule="sgd",
                               optim_config={"learning_rate": learning_rate}, callbacks=[recorder], **common)
            layers = [f"W{l}" for l in range(1, len(hidden_dims) + 1)]
            columns = [recorder.history(name)[1] for name in layers]          # each (T, H_l)
            norms.append(np.stack([c.mean(axis=1) for c in columns], axis=1))
            effective.append(np.stack([learning_rate / (c ** 2).mean(axis=1) for c in columns], axis=1))
            accuracy.append(solver.best_val_acc)
        results[reg] = {"steps": np.asarray(recorder.steps), "norm": np.asarray(norms),
                        "effective_lr": np.asarray(effective), "best_val_acc": np.asarray(accuracy)}
    return results


def plot_weight_norm_growth(results, learning_rate, title=None):
    """
    Plot weight_norm_growth: the mean column norm of each batch-normalized layer and the effective learning rate
    lr / ||w||^2 against the step, one line style per weight decay (mean over the seeds, band min to max).

    Returns:
    - fig: the matplotlib Figure
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for style, (reg, r) in zip(("-", "--", ":"), results.items()):
        for l in range(r["norm"].shape[2]):
            for ax, key in zip(axes, ("norm", "effective_lr")):
                values = r[key][:, :, l]
                ax.plot(r["steps"], values.mean(axis=0), style, color=colours[l % len(colours)],
                        label=f"W{l + 1}, weight decay {reg:g}")
                ax.fill_between(r["steps"], values.min(axis=0), values.max(axis=0), color=colours[l % len(colours)],
                                alpha=0.15)
    axes[0].set(title="Mean column norm ||w|| of each batch-normalized layer", xlabel="SGD step", ylabel="||w||")
    axes[1].set(title=f"Effective learning rate lr / ||w||^2 (lr = {learning_rate:g})", xlabel="SGD step",
                ylabel="lr / ||w||^2", yscale="log")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def one_sgd_step(model, X, y, learning_rate):
    """
    What one plain SGD step on the batch (X, y) does to the inputs of a batch-normalized net's batch-norm layers.

    Inputs:
    - model: a FullyConnectedNet with normalization='batchnorm' (not changed: the step is taken on a copy of the
      parameters and undone)
    - X, y: one batch
    - learning_rate: the step size

    Returns a dict with one entry per batch-normalized layer l = 1 .. L - 1 (lists):
    - 'cosine': the largest |cos| between a column of dL/dW_l and the same column of W_l (0 if the gradient is
      orthogonal to every column)
    - 'mean_shift': the largest change of the batch mean of a batch-norm input (a feature of X W_l + b_l) over
      the batch, in units of that feature's standard deviation before the step
    - 'norm_before', 'norm_after': the mean column norm of W_l before and after the step
    - 'bias_grad': the largest |dL/db_l|
    """
    if getattr(model, "normalization", None) != "batchnorm":
        raise ValueError(f"model must be a FullyConnectedNet with normalization='batchnorm'; got normalization="
                         f"{getattr(model, 'normalization', None)!r}")
    L = model.num_layers
    names = [f"affine{l}" for l in range(1, L)]
    with preserved_state(model, params=True):
        before = forward_activations(model, X, names, mode="train")
        loss, grads = model.loss(X, y)
        weights = {l: model.params[f"W{l}"].astype(np.float64) for l in range(1, L)}
        for name in model.params:
            model.params[name] = (model.params[name] - learning_rate * grads[name]).astype(model.params[name].dtype)
        after = forward_activations(model, X, names, mode="train")
        stepped = {l: model.params[f"W{l}"].astype(np.float64) for l in range(1, L)}
    result = {"cosine": [], "mean_shift": [], "norm_before": [], "norm_after": [], "bias_grad": []}
    for l in range(1, L):
        W, g = weights[l], np.asarray(grads[f"W{l}"], dtype=np.float64)
        cosine = (W * g).sum(axis=0) / (np.linalg.norm(W, axis=0) * np.linalg.norm(g, axis=0) + 1e-300)
        a0, a1 = before[f"affine{l}"].astype(np.float64), after[f"affine{l}"].astype(np.float64)
        shift = np.abs(a1.mean(axis=0) - a0.mean(axis=0)) / a0.std(axis=0)
        result["cosine"].append(float(np.abs(cosine).max()))
        result["mean_shift"].append(float(shift.max()))
        result["norm_before"].append(float(np.linalg.norm(W, axis=0).mean()))
        result["norm_after"].append(float(np.linalg.norm(stepped[l], axis=0).mean()))
        result["bias_grad"].append(float(np.abs(grads[f"b{l}"]).max()))
    return result


# ----------------------------------------------------------------------------------------------------------------
# Batches of two: the noise of training against the train/test mismatch

def accuracy_in_train_mode(model, X, y, batch_size=2, seed=0):
    """
    The accuracy of a batch-normalized net evaluated the way it was trained: X in random batches of
    `batch_size`, each normalized with its own statistics (train mode). The model's state is not changed.

    Inputs:
    - model: a FullyConnectedNet with normalization='batchnorm'
    - X, y: the examples, N a multiple of batch_size
    - batch_size: int >= 2
    - seed: seed of the random grouping

    Returns:
    - accuracy: float
    """
    N = X.shape[0]
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 2 \
            or N % batch_size:
        raise ValueError(f"batch_size must be an int >= 2 that divides N = {N}; got {batch_size!r}")
    order = np.random.default_rng(seed).permutation(N)
    correct = 0
    for start in range(0, N, batch_size):
        index = order[start:start + batch_size]
        scores = forward_activations(model, X[index], ["scores"], mode="train")["scores"]
        correct += int(np.sum(np.argmax(scores, axis=1) == y[index]))
    return correct / N


def small_batch_failure(solvers, data, batch_size=2, seed=0):
    """
    Three evaluations of each batch-normalized net trained with batches of `batch_size` (train_net's solvers,
    whose model is the net of the best validation check, with its running statistics):

    - 'running': test mode with the running statistics training left (what the Solver reported)
    - 'recalibrated': test mode with the exact mean and variance of every batch-norm input over the whole training
      set, under the same weights (reestimate_bn_statistics with one batch of all training examples): the
      statistics a perfect running average would hold
    - 'train_mode': the validation examples in random batches of `batch_size`, each normalized with its own
      statistics: the function training optimized, evaluated as it was trained

    Inputs:
    - solvers: list of trained Solvers (one per seed) of batch-normalized FullyConnectedNets
    - data: the data dict (X_train for the recalibration, X_val / y_val for the accuracies)
    - batch_size: the training batch size
    - seed: seed of the random batches of the train-mode evaluation

    Returns:
    - dict name -> array (S,) of validation accuracies. The models are left recalibrated.
    """
    X_val, y_val = data["X_val"], data["y_val"]
    results = {"running": [], "recalibrated": [], "train_mode": []}
    for solver in solvers:
        model = solver.model
        results["running"].append(solver.check_accuracy(X_val, y_val))
        results["train_mode"].append(accuracy_in_train_mode(model, X_val, y_val, batch_size, seed))
        reestimate_bn_statistics(model, data["X_train"], batch_size=len(data["X_train"]))
        results["recalibrated"].append(solver.check_accuracy(X_val, y_val))
    return {name: np.asarray(values) for name, values in results.items()}

