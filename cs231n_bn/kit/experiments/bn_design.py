"""Experiments the student designs, for BatchNormalization.ipynb, and the checks that verify their designs.

The student chooses the setting that should show a stated effect; a check trains the nets at that setting over
several seeds and either reports what every seed showed, or raises an AssertionError that says what the runs
showed instead (and which way to move the setting). Nothing here decides the setting: the check only verifies it.

    check_learning_rate(data, learning_rate)   plain SGD at this learning rate makes the plain net diverge and
                                               lets the batch-normalized one train, in every seed

Both nets start from the same He-initialized weights (bn_experiments.HE), so that neither is handicapped by its
initialization: the learning rate is the only thing that can make one of them fail.
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from cs231n_bn.kit.experiments.bn_experiments import HE, train_net
from cs231n_bn.solver import NonFiniteLossError


@dataclass(frozen=True)
class Run:
    """What one training run showed: whether it diverged (a non-finite loss, or a final loss, the mean of the last
    10 steps, above the first step's), its best validation accuracy and its final loss (nan when non-finite)."""

    normalization: object
    seed: int
    diverged: bool
    best_val_acc: float
    final_loss: float

    def text(self):
        if self.diverged and math.isnan(self.final_loss):
            return f"seed {self.seed}: diverged (non-finite loss)"
        if self.diverged:
            return f"seed {self.seed}: diverged (final loss {self.final_loss:.3g}, above the first step's)"
        return f"seed {self.seed}: final loss {self.final_loss:.2f}, best validation accuracy {self.best_val_acc:.2f}"


def train_or_diverge(data, hidden_dims, normalization, seed, learning_rate, **common):
    """Train one net with plain SGD; a loss that becomes NaN or infinite ends the run as diverged (a Run)."""
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            solver = train_net(data, hidden_dims, normalization=normalization, seed=seed, update_rule="sgd",
                               optim_config={"learning_rate": learning_rate}, **common)
    except NonFiniteLossError:
        return Run(normalization, seed, True, math.nan, math.nan)
    loss = float(np.mean(solver.loss_history[-10:]))
    # A loss that ends above the first step's (about log C at initialization) did not train either: it is counted
    # as diverged.
    return Run(normalization, seed, not loss < solver.loss_history[0], float(solver.best_val_acc), loss)


def check_learning_rate(data, learning_rate, hidden_dims=(100, 100, 100, 100, 100), seeds=(0, 1, 2),
                        min_accuracy=0.5, batch_size=50, num_epochs=5, weight_scale=HE, **common):
    """
    Check a learning rate chosen to show that batch norm trains where the plain net diverges.

    At `learning_rate`, plain SGD trains the plain net and the batch-normalized net (same hidden_dims, same
    initial weights, same mini-batches) from every seed. The setting shows the effect when, in every seed,
    - the plain net diverges: its loss becomes NaN or infinite, or ends (the mean of the last 10 steps) above the
      first step's;
    - the batch-normalized net trains: its best validation accuracy reaches min_accuracy.

    Inputs:
    - data: the data dict (see train_net)
    - learning_rate: positive number, the setting under test
    - hidden_dims, seeds, batch_size, num_epochs, weight_scale: the runs (defaults: five hidden layers of 100,
      seeds 0, 1, 2, 5 epochs of batches of 50, He initialization)
    - min_accuracy: the accuracy that counts as trained
    - common: further train_net / Solver keyword arguments (num_train_samples, ...)

    Returns:
    - runs: dict 'baseline' / 'batchnorm' -> list of Run, one per seed (also printed, one line per seed)
    Raises AssertionError saying what the runs showed instead, and which way to move the learning rate.
    """
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real) \
            or not math.isfinite(learning_rate) or learning_rate <= 0:
        raise ValueError(f"learning_rate must be a positive number; got {learning_rate!r}")
    runs = {label: [train_or_diverge(data, list(hidden_dims), normalization, seed, float(learning_rate),
                                     batch_size=batch_size, num_epochs=num_epochs, weight_scale=weight_scale,
                                     **common)
                    for seed in seeds]
            for label, normalization in (("baseline", None), ("batchnorm", "batchnorm"))}
    for label, label_runs in runs.items():
        print(f"{label:9s} " + "; ".join(run.text() for run in label_runs))
    plain_trained = [run for run in runs["baseline"] if not run.diverged]
    bn_failed = [run for run in runs["batchnorm"] if run.diverged or not run.best_val_acc >= min_accuracy]
    problems = []
    if plain_trained:
        problems.append(f"the plain net trained in {len(plain_trained)} of {len(seeds)} seeds ("
                        + "; ".join(run.text() for run in plain_trained)
                        + "): this learning rate is not high enough to make it diverge; try a higher one")
    if bn_failed:
        problems.append(f"the batch-normalized net did not train in {len(bn_failed)} of {len(seeds)} seeds ("
                        + "; ".join(run.text() for run in bn_failed)
                        + f"; it must reach {min_accuracy:g} in every seed): this learning rate is too high even "
                          f"for batch norm; try a lower one")
    if problems:
        raise AssertionError(f"learning rate {learning_rate:g} does not show the effect: " + "; and ".join(problems))
    # The setting itself is not printed: the stored outputs of the solution edition ship to students.
    print(f"your learning rate shows the effect in all {len(seeds)} seeds: the plain net diverges, the "
          f"batch-normalized net reaches {min(run.best_val_acc for run in runs['batchnorm']):.2f} or more")
    return runs
