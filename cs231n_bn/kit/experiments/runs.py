"""Training runs of Ioffe & Szegedy's Section 4.1 network with the Solver, several at once on separate cores.

One run (`RunSpec`) is one network, FullyConnectedNet([100, 100, 100], input_dim=784, nonlinearity='sigmoid',
normalization=None or 'batchnorm', weight_scale=..., seed=...), trained by the Solver with plain SGD on
mini-batches of 60 images drawn with replacement, for a given number of steps. Two callbacks of
cs231n_bn.kit.monitors record, every `eval_every` steps and after the last step, the accuracy on a fixed split
(AccuracyRecorder) and, if asked, the 15th, 50th and 85th percentiles of one sigmoid's input over that split
(ActivationRecorder on 'preact3', test mode). Two runs with the same seed start from the same weights and draw
the same mini-batches, whatever their normalization and learning rate.

run_all(data, specs, workers) trains a list of runs, in this process (workers=1) or in a pool of worker
processes, one run per process at a time, each with one BLAS thread (set by the caller's environment:
OPENBLAS_NUM_THREADS=1). The results do not depend on the number of workers.
"""

import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

HIDDEN_DIMS = (100, 100, 100)
LAYER = "preact3"  # the input of the last hidden layer's sigmoids
PERCENTILES = (15, 50, 85)
SPLITS = ("val", "test")
MAX_STEPS = 10**6  # 20 times the paper's 50,000 steps (about 20 minutes of one core per network)


@dataclass(frozen=True)
class RunSpec:
    """
    One training run. normalization: None or 'batchnorm'; learning_rate, weight_scale: positive floats;
    seed: int >= 0 (initial weights and mini-batches); steps: SGD steps (1..MAX_STEPS); batch_size: examples
    per step; eval_every: record every this many steps, and after the last; split: 'test' or 'val', the data
    recorded on; track_unit: None, or the unit of hidden layer 3 whose sigmoid input is summarized.
    """

    normalization: object
    learning_rate: float
    weight_scale: float
    seed: int
    steps: int
    batch_size: int = 60
    eval_every: int = 500
    split: str = "test"
    track_unit: object = None

    def __post_init__(self):
        if self.normalization not in (None, "batchnorm"):
            raise ValueError(f"normalization must be None or 'batchnorm', got {self.normalization!r}")
        check_positive("learning_rate", self.learning_rate)
        check_positive("weight_scale", self.weight_scale)
        check_int("seed", self.seed, minimum=0)
        check_int("steps", self.steps, maximum=MAX_STEPS)
        check_int("batch_size", self.batch_size, minimum=2)  # batch norm needs 2 examples per batch
        check_int("eval_every", self.eval_every)
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}, got {self.split!r}")
        if self.track_unit is not None:
            check_int("track_unit", self.track_unit, minimum=0, maximum=HIDDEN_DIMS[-1] - 1)


def check_int(name, value, minimum=1, maximum=None):
    """value as an int; ValueError naming it unless it is an integer in [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum \
            or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum:,}]"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return int(value)


def check_positive(name, value):
    """value as a float; ValueError naming it unless it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


class _LastStep:
    """Callback: make the recorders also record after the last step when it is not a multiple of their `every`."""

    def __init__(self, recorders, steps):
        self.recorders, self.steps = recorders, steps

    def __call__(self, solver):
        if solver.iteration == self.steps:
            for rec in self.recorders:
                if not rec.steps or rec.steps[-1] != self.steps:
                    rec.record(solver)
                    rec.steps.append(self.steps)


class _Progress:
    """Callback: report(n) every `every` iterations, n the iterations done since the last report."""

    def __init__(self, report, every=250):
        self.report, self.every, self.done = report, every, 0

    def __call__(self, solver):
        if solver.iteration - self.done >= self.every or (solver.iteration == solver.num_iterations
                                                          and solver.iteration > self.done):
            self.report(solver.iteration - self.done)
            self.done = solver.iteration


def build_model(spec, input_dim=784, num_classes=10):
    """The Section 4.1 network of a run: FullyConnectedNet with sigmoid units, batch norm or not."""
    from cs231n_bn.classifiers.fc_net import FullyConnectedNet

    return FullyConnectedNet(list(HIDDEN_DIMS), input_dim=input_dim, num_classes=num_classes,
                             nonlinearity="sigmoid", normalization=spec.normalization,
                             weight_scale=spec.weight_scale, dtype=np.float32, seed=spec.seed)


def train(data, spec, report=None):
    """
    Train one network with the Solver and record its curves.

    Inputs:
    - data: dict with 'X_train' (N, 784), 'y_train' (N,), 'X_val', 'y_val', 'X_test', 'y_test'.
    - spec: A RunSpec.
    - report: Optional callable report(n), called every few hundred steps with the steps done since its last
      call (for a progress bar).

    Returns a dict:
    - 'steps': int array (T,), the steps recorded: eval_every, 2 * eval_every, ..., and the last step done.
    - 'accuracy': float array (T,), accuracy on spec.split at those steps.
    - 'percentiles': float array (T, 3) (15th, 50th, 85th percentile of the tracked sigmoid input over the
      split), or None when spec.track_unit is None.
    - 'diverged_at': None, or the step at which the training loss became NaN or infinite (the run stopped
      there; the curves end at the last recording before it).
    - 'seconds': the run's wall time; 'cpu_seconds': the CPU time this process spent on it (what the run costs
      on a core of its own); 'spec': the RunSpec as a dict.
    """
    from cs231n_bn.kit.monitors import AccuracyRecorder, ActivationRecorder
    from cs231n_bn.solver import NonFiniteLossError, Solver

    X_eval, y_eval = data["X_" + spec.split], data["y_" + spec.split]
    model = build_model(spec, input_dim=int(np.prod(data["X_train"].shape[1:])))
    accuracy = AccuracyRecorder(X_eval, y_eval, every=spec.eval_every, batch_size=2000)
    recorders = [accuracy]
    if spec.track_unit is not None:
        recorders.append(ActivationRecorder(LAYER, X_eval, every=spec.eval_every, percentiles=PERCENTILES,
                                            unit=spec.track_unit))
    callbacks = recorders + [_LastStep(recorders, spec.steps)]
    if report is not None:
        callbacks.append(_Progress(report))
    solver_data = {k: data[k] for k in ("X_train", "y_train", "X_val", "y_val")}
    per_epoch = max(solver_data["X_train"].shape[0] // spec.batch_size, 1)
    solver = Solver(model, solver_data, update_rule="sgd", optim_config={"learning_rate": spec.learning_rate},
                    batch_size=spec.batch_size, num_epochs=-(-spec.steps // per_epoch),
                    num_train_samples=500, num_val_samples=500, verbose=False, seed=spec.seed,
                    callbacks=callbacks)
    # The paper counts steps, not epochs: stop after exactly spec.steps iterations (50,000 steps of 60 images
    # are not a whole number of epochs of 55,000).
    solver.num_iterations = spec.steps
    start, cpu_start = time.perf_counter(), time.process_time()
    diverged_at = None
    try:
        solver.train()
    except NonFiniteLossError:
        diverged_at = solver.iteration + 1
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    # Step 0 is left out: before any training step the running statistics of batch norm are still zeros, so
    # its test-mode outputs say nothing.
    keep = np.asarray(accuracy.steps) > 0
    out = {"steps": np.asarray(accuracy.steps, dtype=np.int64)[keep],
           "accuracy": np.asarray(accuracy.accuracies, dtype=np.float64)[keep],
           "percentiles": None, "diverged_at": diverged_at, "seconds": seconds, "cpu_seconds": cpu_seconds,
           "spec": asdict(spec)}
    if spec.track_unit is not None:
        out["percentiles"] = recorders[1].history()[1][keep]
    return out


def accuracy_at(result, steps, missing):
    """The accuracies a run of train() recorded at each of ``steps``, float array; ``missing`` where it recorded
    none (a diverged run has no recordings from the step it diverged on)."""
    acc = np.full(len(steps), missing, dtype=np.float64)
    for j, step in enumerate(steps):
        hit = np.flatnonzero(result["steps"] == step)
        if hit.size:
            acc[j] = result["accuracy"][hit[0]]
    return acc


# ----------------------------------------------------------------------------------------------------------------
# Several runs at once
# ----------------------------------------------------------------------------------------------------------------


def default_workers():
    """The number of cores this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


_worker_data = None
_worker_counter = None
_worker_parent = None


def _init_worker(data, counter):
    global _worker_data, _worker_counter, _worker_parent
    # Ctrl-C reaches every process of the terminal's process group: the parent alone handles it (it ends the
    # workers), so that the user sees one message and no traceback per worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_data, _worker_counter, _worker_parent = data, counter, os.getppid()


def _report_to_parent(n):
    if os.getppid() != _worker_parent:
        # The parent is gone (killed without the chance to end its workers): stop instead of training on.
        os._exit(1)
    with _worker_counter.get_lock():
        _worker_counter.value += n


def _train_in_worker(spec):
    return train(_worker_data, spec, _report_to_parent)  # _report_to_parent also watches for the parent's end


def run_all(data, specs, workers=None, progress=False, desc="train"):
    """
    Train every run of `specs` and return their results (see train), in the order of specs.

    Inputs:
    - data: As for train.
    - specs: Sequence of RunSpec.
    - workers: Number of processes (default: the cores available, at most len(specs)); 1 trains in this
      process. Worker processes are forked (they share `data` without copying it).
    - progress: Show one progress bar (tqdm, on stderr) over all the runs' steps.

    A KeyboardInterrupt (Ctrl-C) ends the workers and is raised again here.
    """
    specs = list(specs)
    for spec in specs:
        if not isinstance(spec, RunSpec):
            raise TypeError(f"specs must be RunSpec objects, got {spec!r}")
    if workers is None:
        workers = min(default_workers(), max(len(specs), 1))
    workers = check_int("workers", workers)
    total = sum(spec.steps for spec in specs)
    bar = None

    def open_bar():
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, mininterval=0.5, leave=True,
                    unit_scale=True) if progress else None

    try:
        if workers == 1 or len(specs) <= 1:
            bar = open_bar()
            report = bar.update if bar is not None else None
            return [train(data, spec, report) for spec in specs]

        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        counter = ctx.Value("q", 0)
        # The longest runs first, so that the workers finish together.
        order = sorted(range(len(specs)), key=lambda i: -specs[i].steps)
        # Ctrl-C is held off while the workers are being started (a pool interrupted half-built would leave
        # workers running) and delivered as soon as the with block below can end them.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            pool = ctx.Pool(min(workers, len(specs)), initializer=_init_worker, initargs=(data, counter))
            with pool:  # leaving the block terminates the workers, also on KeyboardInterrupt or an error
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
                pending = pool.map_async(_train_in_worker, [specs[i] for i in order], chunksize=1)
                bar = open_bar()  # after the fork: the bar's monitor thread stays in this process
                while not pending.ready():
                    pending.wait(0.5)
                    if bar is not None:
                        bar.update(counter.value - bar.n)
                results = pending.get()
                if bar is not None:
                    bar.update(total - bar.n)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        out = [None] * len(specs)
        for i, result in zip(order, results):
            out[i] = result
        return out
    finally:
        if bar is not None:
            bar.close()
