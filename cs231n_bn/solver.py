"""The Solver: mini-batch training of a classification model, cs231n style.

A Solver performs stochastic gradient descent with one of the update rules of cs231n_bn.optim. It accepts
training and validation data and labels, periodically checks classification accuracy on both to watch for
overfitting, and keeps the parameters that gave the best validation accuracy.

Example:

    data = {'X_train': ..., 'y_train': ..., 'X_val': ..., 'y_val': ...}
    model = FullyConnectedNet([100, 100], normalization='batchnorm', seed=0)
    solver = Solver(model, data, update_rule='adam', optim_config={'learning_rate': 1e-3},
                    lr_decay=0.95, num_epochs=5, batch_size=200, print_every=100, seed=0)
    solver.train()

After train(), model.params holds the best parameters and solver.loss_history, solver.train_acc_history and
solver.val_acc_history hold the loss of every iteration and the accuracies of every check.

The model must provide:
- model.params: a dict mapping parameter names to numpy arrays.
- model.loss(X, y=None): with y, returns (loss, grads) for a training mini-batch, grads having the keys of
  model.params; without y, returns class scores (N, C) at test time.
- optionally model.bn_params: a list of dicts; their numpy arrays (running_mean, running_var) are saved in
  and restored from checkpoints as the model's state.

Beyond cs231n: a progress bar, a sampling seed, an error on a non-finite loss, callbacks (see monitors.py),
and resumable checkpoints (.npz, no pickle).
"""

import io
import json
import math
import os
import re
import sys
import zipfile
import zlib

import numpy as np
from tqdm import tqdm

from cs231n_bn import optim
from cs231n_bn.kit.atomic import atomic_write, remove_stale_temporaries

CHECKPOINT_FORMAT = "cs231n_bn solver checkpoint"
CHECKPOINT_VERSION = 1
# The bit generators a checkpoint may name (numpy.random classes).
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; training stops instead of recording a NaN history."""


class CheckpointError(ValueError):
    """A checkpoint file cannot be read, is not a Solver checkpoint, or does not fit this Solver's model."""


class Solver:
    """
    Trains a model with mini-batch stochastic gradient descent.

    Required arguments:
    - model: An object conforming to the API described in the module docstring.
    - data: A dict with
      'X_train': Array, shape (N_train, d_1, ..., d_k) of training images
      'X_val': Array, shape (N_val, d_1, ..., d_k) of validation images
      'y_train': Array, shape (N_train,) of integer labels for training images
      'y_val': Array, shape (N_val,) of integer labels for validation images
      Other keys (e.g. 'X_test') are ignored. The arrays are used as given, never copied.

    Optional keyword arguments:
    - update_rule: Name of an update rule in cs231n_bn.optim: 'sgd' (default), 'sgd_momentum', 'rmsprop', 'adam'.
    - optim_config: Dict of hyperparameters for the update rule (e.g. {'learning_rate': 1e-3}); each
      parameter gets its own copy, which then also holds that parameter's optimizer state.
    - lr_decay: Scalar; the learning rate is multiplied by it after each epoch (default 1.0).
    - batch_size: Size of the mini-batches used for training (default 100).
    - num_epochs: Number of epochs to run for (default 10). One epoch is max(N_train // batch_size, 1) iterations.
    - num_train_samples: Number of training samples used to check training accuracy (default 1000; None = all).
    - num_val_samples: Number of validation samples used to check validation accuracy (default None = all).
    - checkpoint_name: If not None, a checkpoint is saved at the end of every epoch to
      f"{checkpoint_name}_epoch_{epoch}.npz" (checkpoint_name may contain a directory).
    - print_every: With verbose, print the training loss every print_every iterations (default 10).
    - verbose: If True (default), show a progress bar on stderr and print the loss and the accuracies; if
      False, print nothing.
    - seed: int, numpy Generator or None (default). Controls mini-batch sampling and accuracy subsampling: the
      same seed gives the same loss history. None draws a seed from NumPy's global generator, so that
      np.random.seed(...) beforehand makes the run repeatable, as in cs231n. (Random parts of the model itself,
      such as unseeded dropout, follow NumPy's global generator.)
    - callbacks: Sequence of callables; each is called as cb(solver) once when train() starts and after every
      iteration (solver.iteration is then the number of iterations done). See cs231n_bn.kit.monitors.

    Attributes: loss_history (one float per iteration), train_acc_history and val_acc_history (one float per
    accuracy check: after the first iteration and at the end of every epoch), best_val_acc, best_params,
    epoch, iteration, num_iterations, iterations_per_epoch.

    Everything is checked once, here, before any training: an unknown keyword or optim_config key, a
    hyperparameter out of its range (learning_rate, epsilon > 0 and finite; momentum, decay_rate, beta1, beta2 in
    [0, 1); lr_decay > 0 and finite; integer batch_size, num_epochs, ...), data of the wrong shapes, NaN or
    infinite rows in X, labels that are not integers in 0 .. C - 1 (C: the number of scores the model gives one
    validation example, in test mode) and non-finite parameters raise a ValueError or TypeError naming the value.
    """

    def __init__(self, model, data, **kwargs):
        if not hasattr(model, "params") or not isinstance(model.params, dict) or not callable(getattr(model, "loss", None)):
            raise TypeError("model must have a dict `params` and a method `loss(X, y=None)`, "
                            f"got {type(model).__name__}")
        self.model = model
        for p, w in model.params.items():
            if not isinstance(w, np.ndarray) or w.dtype.kind != "f":
                raise TypeError(f"model.params[{p!r}] must be a float numpy array, got {type(w).__name__}"
                                f"{' of dtype ' + str(w.dtype) if isinstance(w, np.ndarray) else ''}")
            if not np.all(np.isfinite(w)):
                raise ValueError(f"model.params[{p!r}] holds NaN or infinite values before training: check how "
                                 f"the model was built (e.g. weight_scale)")

        # Everything is checked here, once, so that a bad value is named before any training runs.
        options = dict(update_rule="sgd", optim_config=None, lr_decay=1.0, batch_size=100, num_epochs=10,
                       num_train_samples=1000, num_val_samples=None, checkpoint_name=None, print_every=10,
                       verbose=True, seed=None, callbacks=())
        unknown = sorted(set(kwargs) - set(options))
        if unknown:
            raise ValueError(f"Unrecognized Solver argument(s) {', '.join(map(repr, unknown))}; "
                             f"allowed: {', '.join(options)}")
        options.update(kwargs)

        rule = options["update_rule"]
        if not isinstance(rule, str) or rule not in optim.UPDATE_RULES:
            raise ValueError(f"Invalid update_rule {rule!r}; allowed: {', '.join(map(repr, optim.UPDATE_RULES))}")
        self.update_rule_name = rule
        self.update_rule = optim.UPDATE_RULES[rule]
        self.optim_config = _check_optim_config(rule, options["optim_config"])

        self.lr_decay = float(_finite_number("lr_decay", options["lr_decay"], "> 0", lambda v: v > 0))
        self.batch_size = _positive_int("batch_size", options["batch_size"])
        self.num_epochs = _positive_int("num_epochs", options["num_epochs"], allow_zero=True)
        self.num_train_samples = _positive_int("num_train_samples", options["num_train_samples"], allow_none=True)
        self.num_val_samples = _positive_int("num_val_samples", options["num_val_samples"], allow_none=True)
        self.print_every = _positive_int("print_every", options["print_every"])
        if not isinstance(options["verbose"], (bool, np.bool_, int, np.integer)):
            raise TypeError(f"verbose must be True or False, got {options['verbose']!r}")
        self.verbose = bool(options["verbose"])
        name = options["checkpoint_name"]
        if name is not None and not isinstance(name, (str, os.PathLike)):
            raise TypeError(f"checkpoint_name must be a str, a path or None, got {type(name).__name__}")
        if name is not None and not os.fspath(name):
            raise ValueError("checkpoint_name must not be empty; use None for no checkpoints")
        self.checkpoint_name = None if name is None else os.fspath(name)
        seed = options["seed"]
        if isinstance(seed, bool) or not (seed is None or isinstance(seed, (int, np.integer, np.random.Generator))):
            raise TypeError(f"seed must be an int >= 0, a numpy Generator or None, got {seed!r}")
        if isinstance(seed, (int, np.integer)) and seed < 0:
            raise ValueError(f"seed must be an int >= 0, a numpy Generator or None, got {seed!r}")
        callbacks = options["callbacks"]
        if callable(callbacks):
            callbacks = [callbacks]
        if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
            raise TypeError(f"callbacks must be a list of callables cb(solver), got {callbacks!r}")
        callbacks = list(callbacks)
        for cb in callbacks:
            if not callable(cb):
                raise TypeError(f"callbacks must be callables cb(solver), got {cb!r}")
        self._set_data(data)

        if seed is None:
            # As in cs231n, where sampling used np.random: np.random.seed(...) beforehand makes runs repeatable.
            seed = int(np.random.randint(0, 2**62, dtype=np.int64))
        self._rng = np.random.default_rng(seed)  # a Generator passed in is used as is
        self.callbacks = callbacks
        self.iterations_per_epoch = max(self.X_train.shape[0] // self.batch_size, 1)
        self.num_iterations = self.num_epochs * self.iterations_per_epoch
        self._reset()

    def _set_data(self, data):
        """Check the data dict before anything runs: required keys present; X and y of matching lengths;
        X_train and X_val of the same example shape and finite; labels integers the model can score."""
        if not isinstance(data, dict):
            raise TypeError(f"data must be a dict, got {type(data).__name__}")
        required = ("X_train", "y_train", "X_val", "y_val")
        missing = [k for k in required if k not in data]
        if missing:
            raise ValueError(f"data is missing {', '.join(map(repr, missing))}; required keys: {', '.join(required)}")
        for split in ("train", "val"):
            X, y = data["X_" + split], data["y_" + split]
            if not isinstance(X, np.ndarray) or not isinstance(y, np.ndarray):
                raise TypeError(f"X_{split} and y_{split} must be numpy arrays, got "
                                f"{type(X).__name__} and {type(y).__name__}")
            if y.ndim != 1:
                raise ValueError(f"y_{split} must have shape (N,), got {y.shape}")
            if X.ndim < 2:
                raise ValueError(f"X_{split} must have shape (N, d_1, ..., d_k), got {X.shape}")
            if X.shape[0] != y.shape[0]:
                raise ValueError(f"X_{split} has {X.shape[0]} examples but y_{split} has {y.shape[0]}; they must match")
            if y.shape[0] == 0:
                raise ValueError(f"X_{split} and y_{split} are empty")
            if X.dtype.kind not in "fiub":
                raise TypeError(f"X_{split} must hold real numbers, got dtype {X.dtype}")
            if X.dtype.kind == "f":
                finite = np.isfinite(X.reshape(X.shape[0], -1)).all(axis=1)
                if not finite.all():
                    bad = np.flatnonzero(~finite)
                    raise ValueError(f"X_{split} has NaN or infinite values in {bad.size} example(s), the first "
                                     f"at index {int(bad[0])}; remove or fix those rows")
            if y.dtype.kind not in "iu":
                raise TypeError(f"y_{split} must hold integer class labels, got dtype {y.dtype}")
            if y.min() < 0:
                i = int(np.argmin(y))
                raise ValueError(f"y_{split} holds the negative label {int(y[i])} at index {i}; labels are "
                                 f"0 .. C - 1")
        if data["X_train"].shape[1:] != data["X_val"].shape[1:]:
            raise ValueError(f"X_train examples have shape {data['X_train'].shape[1:]} but X_val examples have "
                             f"shape {data['X_val'].shape[1:]}; they must match")
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        # The number of classes, from the model's scores for one validation example (test mode: nothing changes).
        scores = np.asarray(self.model.loss(self.X_val[:1]))
        if scores.ndim != 2 or scores.shape[0] != 1:
            raise ValueError(f"model.loss(X) without y must return scores of shape (N, C); for one example it "
                             f"returned shape {scores.shape}")
        for split in ("train", "val"):
            _check_labels(f"y_{split}", data["y_" + split], scores.shape[1])

    def _reset(self):
        """Set up the book-keeping variables and one optimizer config per parameter."""
        self.epoch = 0
        self.iteration = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _step(self):
        """One gradient update on a random mini-batch (drawn with replacement, as in cs231n). Returns the loss."""
        # As np.intp, NumPy's index type: take() refuses 64-bit indices where it is 32-bit (the browser's NumPy).
        batch_mask = self._rng.integers(self.X_train.shape[0], size=self.batch_size).astype(np.intp)
        # take() is X_train[batch_mask] without fancy indexing's general-case overhead (copies 1 mini-batch).
        loss, grads = self.model.loss(self.X_train.take(batch_mask, axis=0), self.y_train.take(batch_mask))
        loss = float(loss)
        if not math.isfinite(loss):
            raise NonFiniteLossError(self._non_finite_message(loss))
        self.loss_history.append(loss)
        params, configs, update = self.model.params, self.optim_configs, self.update_rule
        for p, w in params.items():
            next_w, configs[p] = update(w, grads[p], configs[p])
            params[p] = np.asarray(next_w, dtype=w.dtype)  # an update rule may compute in float64; w keeps its dtype
        return loss

    def _non_finite_message(self, loss):
        """Why the loss may have become NaN or infinite, with what to try."""
        where = (f"The training loss is {loss} at iteration {self.iteration + 1} of {self.num_iterations} "
                 f"(epoch {self.epoch + 1}); training stopped, the parameters are those before this iteration. ")
        broken = [p for p, w in self.model.params.items() if not np.all(np.isfinite(w))]
        if broken:
            when = "from the start" if self.iteration == 0 else "now"
            return where + (f"The model's parameters {', '.join(map(repr, broken))} are NaN or infinite {when}: "
                            f"check how the model was built (e.g. weight_scale) and its updates.")
        config = next(iter(self.optim_configs.values()), {})
        lr = config.get("learning_rate", optim.DEFAULTS[self.update_rule_name]["learning_rate"])
        return where + (f"The updates probably diverged: try a lower learning rate (now {lr}) or a larger "
                        f"weight_scale.")

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """
        Check the accuracy of the model on the provided data (test mode: no state of the model changes).

        Inputs:
        - X: Array of data, of shape (N, d_1, ..., d_k)
        - y: Array of labels, of shape (N,)
        - num_samples: If not None and N > num_samples, use a random subset of num_samples examples (drawn
          without replacement with the Solver's generator).
        - batch_size: Split X and y into batches of this size to bound memory.

        Returns:
        - acc: Scalar giving the fraction of instances that were correctly classified.
        """
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            mask = self._rng.choice(N, num_samples, replace=False)
            N = num_samples
            X, y = X[mask], y[mask]
        num_batches = max(-(-N // batch_size), 1)
        y_pred = []
        for i in range(num_batches):
            start, end = i * batch_size, (i + 1) * batch_size
            scores = self.model.loss(X[start:end])
            y_pred.append(np.argmax(scores, axis=1))
        _check_labels("y", np.asarray(y), np.shape(scores)[1])  # an impossible label would only lower the accuracy
        y_pred = np.concatenate(y_pred)
        return float(np.mean(y_pred == y))

    def train(self):
        """
        Run optimization to train the model, from self.iteration (0, or where a loaded checkpoint stopped) to
        self.num_iterations. Ends with model.params = best_params (when an accuracy check has run).
        Raises NonFiniteLossError if the loss becomes NaN or infinite.
        """
        num_iterations, per_epoch = self.num_iterations, self.iterations_per_epoch
        bar = tqdm(total=num_iterations, initial=self.iteration, desc="train", unit="it", file=sys.stderr,
                   mininterval=0.5, disable=not self.verbose, leave=True)
        write = self._print
        try:
            for cb in self.callbacks:
                cb(self)
            for t in range(self.iteration, num_iterations):
                loss = self._step()
                self.iteration = t + 1
                if bar.update(1):  # the bar just redrew: give it the latest numbers for its next redraw
                    bar.set_postfix_str(self._postfix(loss), refresh=False)
                if self.verbose and t % self.print_every == 0:
                    write("(Iteration %d / %d) loss: %f" % (t + 1, num_iterations, loss))

                # At the end of every epoch, increment the epoch counter and decay the learning rate.
                epoch_end = (t + 1) % per_epoch == 0
                if epoch_end:
                    self.epoch += 1
                    for config in self.optim_configs.values():
                        config["learning_rate"] *= self.lr_decay

                # Check train and val accuracy on the first iteration, the last iteration, and at the end of
                # each epoch.
                if t == 0 or t == num_iterations - 1 or epoch_end:
                    train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
                    val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
                    self.train_acc_history.append(train_acc)
                    self.val_acc_history.append(val_acc)
                    if self.verbose:
                        write("(Epoch %d / %d) train acc: %f; val_acc: %f"
                              % (self.epoch, self.num_epochs, train_acc, val_acc))
                        bar.set_postfix_str(self._postfix(loss), refresh=False)
                    # Keep track of the best model.
                    if val_acc > self.best_val_acc or not self.best_params:
                        self.best_val_acc = max(val_acc, self.best_val_acc)
                        self.best_params = {k: v.copy() for k, v in self.model.params.items()}
                    if epoch_end:
                        self._save_checkpoint()

                for cb in self.callbacks:
                    cb(self)
        finally:
            bar.close()

        # At the end of training swap the best params into the model (copies: further training must not
        # change best_params in place).
        if self.best_params:
            self.model.params = {k: v.copy() for k, v in self.best_params.items()}

    def _postfix(self, loss):
        text = f"loss={loss:.4f}"
        if self.train_acc_history:
            text += f" train_acc={self.train_acc_history[-1]:.3f} val_acc={self.val_acc_history[-1]:.3f}"
        return text

    @staticmethod
    def _print(message):
        tqdm.write(message, file=sys.stdout)

    # ------------------------------------------------------------------------------------------------------
    # Checkpoints: one .npz per epoch holding arrays only; everything that is not an array goes into a JSON
    # string stored as the 0-d unicode array '__meta__'. No pickle anywhere.

    def checkpoint_path(self, epoch=None):
        """The file name of the checkpoint for `epoch` (default: the current epoch), or None without checkpoint_name."""
        if self.checkpoint_name is None:
            return None
        return f"{self.checkpoint_name}_epoch_{self.epoch if epoch is None else epoch}.npz"

    def _save_checkpoint(self):
        path = self.checkpoint_path()
        if path is None:
            return None
        # A run killed while writing (kill -9) leaves a temporary of some epoch's checkpoint: remove those.
        family = re.compile(re.escape(os.path.basename(self.checkpoint_name)) + r"_epoch_\d+\.npz")
        remove_stale_temporaries(os.path.dirname(os.path.abspath(path)), family.fullmatch)
        self.save_checkpoint(path)
        return path

    def save_checkpoint(self, path):
        """
        Save everything train() needs to continue exactly where it is now, atomically (temp file, then rename):
        parameters, best parameters, optimizer configs and state, histories, epoch, iteration, the sampling
        generator's state, NumPy's global generator state (unseeded dropout), and the arrays of model.bn_params.
        """
        path = os.fspath(path)
        arrays = {}
        for name, w in self.model.params.items():
            arrays["params/" + name] = w
        for name, w in self.best_params.items():
            arrays["best_params/" + name] = w
        optim_meta = {}
        for p, config in self.optim_configs.items():
            optim_meta[p] = {}
            for key, value in config.items():
                if isinstance(value, (np.ndarray, np.generic)):
                    arrays[f"optim/{p}/{key}"] = np.asarray(value)
                    optim_meta[p][key] = {"array": isinstance(value, np.ndarray)}
                elif value is None or isinstance(value, (bool, int, float, str)):
                    optim_meta[p][key] = {"value": value}
                else:
                    raise TypeError(f"cannot save optim config entry {p}/{key} of type {type(value).__name__}")
        bn_params = getattr(self.model, "bn_params", None) or []
        for i, bn_param in enumerate(bn_params):
            for key, value in bn_param.items():
                if isinstance(value, np.ndarray):
                    arrays[f"bn_params/{i}/{key}"] = value
        arrays["history/loss"] = np.asarray(self.loss_history, dtype=np.float64)
        arrays["history/train_acc"] = np.asarray(self.train_acc_history, dtype=np.float64)
        arrays["history/val_acc"] = np.asarray(self.val_acc_history, dtype=np.float64)
        legacy = np.random.get_state()
        arrays["global_rng/key"] = legacy[1]
        meta = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "model": type(self.model).__name__,
            "params": list(self.model.params),
            "best_params": list(self.best_params),
            "update_rule": self.update_rule_name,
            "optim": optim_meta,
            "num_bn_params": len(bn_params),
            "epoch": self.epoch,
            "iteration": self.iteration,
            "best_val_acc": self.best_val_acc,
            "batch_size": self.batch_size,
            "num_epochs": self.num_epochs,
            "lr_decay": self.lr_decay,
            "rng": _jsonable_rng_state(self._rng.bit_generator.state),
            "global_rng": [legacy[0], int(legacy[2]), int(legacy[3]), float(legacy[4])],
        }
        arrays["__meta__"] = np.array(json.dumps(meta))

        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write(path, buffer.getvalue())

    def load_checkpoint(self, path):
        """
        Restore the state saved by a checkpoint into this Solver and its model, so that train() continues to
        the same result as an uninterrupted run. The Solver must have been built like the one that saved it
        (same model architecture, update rule and batch size; data and num_epochs may differ).

        Raises FileNotFoundError if path does not exist and CheckpointError (a ValueError) naming the path if
        the file is truncated, not a Solver checkpoint, or does not fit this model.
        """
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"checkpoint {path!r} does not exist")
        try:
            npz = np.load(path, allow_pickle=False)
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single array, not an .npz archive")
            with npz:
                arrays = {key: npz[key] for key in npz.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
            raise CheckpointError(f"cannot read checkpoint {path!r}: {exc} (truncated or not a Solver checkpoint)") from exc
        try:
            meta = json.loads(str(arrays.pop("__meta__")))
            if meta.get("format") != CHECKPOINT_FORMAT:
                raise KeyError("format")
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"{path!r} is not a cs231n_bn Solver checkpoint (no valid '__meta__' entry)") from exc
        if meta.get("version") != CHECKPOINT_VERSION:
            raise CheckpointError(f"{path!r} has checkpoint version {meta.get('version')!r}; "
                                  f"this code reads version {CHECKPOINT_VERSION}")
        try:
            state = self._state_from_checkpoint(meta, arrays)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
            what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
            raise CheckpointError(f"checkpoint {path!r} does not fit this Solver: {what}") from exc

        # Everything checked: only now change the Solver and the model.
        self.model.params.update(state["params"])
        for i, entries in enumerate(state["bn_params"]):
            self.model.bn_params[i].update(entries)
        self.best_params = state["best_params"]
        self.optim_configs = state["optim_configs"]
        self.loss_history, self.train_acc_history, self.val_acc_history = state["histories"]
        self.epoch, self.iteration, self.best_val_acc = state["epoch"], state["iteration"], state["best_val_acc"]
        self._rng = state["rng"]
        np.random.set_state(state["global_rng"])
        return self

    def _state_from_checkpoint(self, meta, arrays):
        """Check every part of a checkpoint against this Solver and model, and return the state to install.
        Raises KeyError, TypeError or ValueError (changing nothing) on the first part that does not fit."""
        params = self.model.params
        if not isinstance(meta, dict):
            raise TypeError("its '__meta__' entry is not a JSON object")
        if meta["update_rule"] != self.update_rule_name:
            raise ValueError(f"it was saved with update_rule {meta['update_rule']!r}, this Solver uses "
                             f"{self.update_rule_name!r}")
        if meta["batch_size"] != self.batch_size:
            raise ValueError(f"it was saved with batch_size {meta['batch_size']}, this Solver uses {self.batch_size}")
        if not isinstance(meta["params"], list) or sorted(map(str, meta["params"])) != sorted(params):
            raise ValueError(f"its parameters {meta['params']} differ from the model's {sorted(params)}")
        if not isinstance(meta["best_params"], list) or (meta["best_params"] and
                                                         sorted(map(str, meta["best_params"])) != sorted(params)):
            raise ValueError(f"its best parameters {meta['best_params']} differ from the model's {sorted(params)}")
        state = {"params": {}, "best_params": {}, "optim_configs": {}, "bn_params": []}
        for group in ("params", "best_params"):
            for name in meta[group]:
                value = arrays[f"{group}/{name}"]
                if value.shape != params[name].shape or value.dtype != params[name].dtype:
                    raise ValueError(f"{group} {name!r} has shape {value.shape} and dtype {value.dtype}, the "
                                     f"model's has {params[name].shape} and {params[name].dtype}")
                if not np.all(np.isfinite(value)):
                    raise ValueError(f"{group} {name!r} holds NaN or infinite values")
                state[group][name] = value

        if not isinstance(meta["optim"], dict) or sorted(meta["optim"]) != sorted(params):
            raise ValueError(f"it holds optimizer state for {sorted(meta['optim'])}, the model's parameters are "
                             f"{sorted(params)}")
        for p, entries in meta["optim"].items():
            config = {}
            for key, entry in entries.items():
                if "value" in entry:
                    config[key] = entry["value"]
                else:
                    value = arrays[f"optim/{p}/{key}"]
                    config[key] = value if entry["array"] else value[()]
            state["optim_configs"][p] = _check_optimizer_state(self.update_rule_name, p, config, params[p])

        bn_params = getattr(self.model, "bn_params", None) or []
        if meta["num_bn_params"] != len(bn_params):
            raise ValueError(f"it holds state for {meta['num_bn_params']} normalization layers, the model "
                             f"has {len(bn_params)}")
        for i, bn_param in enumerate(bn_params):
            prefix = f"bn_params/{i}/"
            entries = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            for key, value in entries.items():
                where = f"bn_params[{i}][{key!r}]"
                current = bn_param.get(key)
                if isinstance(current, np.ndarray) and (value.shape != current.shape or value.dtype != current.dtype):
                    raise ValueError(f"{where} has shape {value.shape} and dtype {value.dtype}, the model's has "
                                     f"{current.shape} and {current.dtype}")
                if value.dtype.kind not in "fiu" or not np.all(np.isfinite(value)):
                    raise ValueError(f"{where} must hold finite numbers")
                if key == "running_var" and np.any(value < 0):
                    raise ValueError(f"{where} holds negative variances (minimum {value.min()})")
            state["bn_params"].append(entries)

        epoch, iteration, best_val_acc = meta["epoch"], meta["iteration"], meta["best_val_acc"]
        for name, value in (("epoch", epoch), ("iteration", iteration)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if isinstance(best_val_acc, bool) or not isinstance(best_val_acc, (int, float)) or not 0 <= best_val_acc <= 1:
            raise ValueError(f"best_val_acc must be a number in [0, 1], got {best_val_acc!r}")
        histories = []
        for key in ("history/loss", "history/train_acc", "history/val_acc"):
            history = arrays[key]
            if history.ndim != 1 or history.dtype.kind != "f" or not np.all(np.isfinite(history)):
                raise ValueError(f"{key} must be a 1-d array of finite floats, got shape {history.shape} and dtype "
                                 f"{history.dtype}")
            if key != "history/loss" and np.any((history < 0) | (history > 1)):
                raise ValueError(f"{key} holds accuracies outside [0, 1]")
            histories.append(history.tolist())
        if len(histories[0]) != iteration:
            raise ValueError(f"loss history of length {len(histories[0])} for iteration {iteration}")
        if len(histories[1]) != len(histories[2]):
            raise ValueError(f"{len(histories[1])} training accuracies but {len(histories[2])} validation accuracies")
        state.update(epoch=epoch, iteration=iteration, best_val_acc=best_val_acc, histories=histories)

        rng_state = meta["rng"]
        if not isinstance(rng_state, dict) or rng_state.get("bit_generator") not in _BIT_GENERATORS:
            raise ValueError(f"unknown bit generator {rng_state.get('bit_generator')!r}; allowed: "
                             f"{', '.join(_BIT_GENERATORS)}")
        rng = np.random.Generator(getattr(np.random, rng_state["bit_generator"])())
        rng.bit_generator.state = _rng_state_from_json(rng_state)
        state["rng"] = rng
        name, pos, has_gauss, cached = meta["global_rng"]
        key = arrays["global_rng/key"]
        if name != "MT19937" or key.shape != (624,) or key.dtype.kind not in "iu":
            raise ValueError(f"NumPy's global generator state must be MT19937 with a key of 624 integers, got "
                             f"{name!r} with a key of shape {key.shape} and dtype {key.dtype}")
        global_rng = (name, key.astype(np.uint32), pos, has_gauss, cached)
        np.random.RandomState().set_state(global_rng)  # raises here, on a scratch generator, if it is invalid
        state["global_rng"] = global_rng
        return state


def _check_optimizer_state(rule, name, config, w):
    """The saved config of parameter `name` (weights w), after checking its hyperparameters like optim_config
    and its state arrays (velocity, cache, m, v) against w's shape."""
    hyper = {k: v for k, v in config.items() if k in optim.DEFAULTS[rule]}
    _check_optim_config(rule, hyper)
    for key, value in config.items():
        if key in hyper:
            continue
        if key not in ("velocity", "cache", "m", "v"):
            continue  # an entry of an update rule written differently: train() will tell
        if not isinstance(value, np.ndarray) or value.shape != w.shape or value.dtype.kind != "f":
            raise ValueError(f"optimizer state {name}/{key} must be a float array of shape {w.shape} (the "
                             f"parameter's), got {getattr(value, 'shape', type(value).__name__)}")
        if not np.all(np.isfinite(value)) or (key in ("cache", "v") and np.any(value < 0)):
            raise ValueError(f"optimizer state {name}/{key} holds NaN, infinite"
                             f"{' or negative' if key in ('cache', 'v') else ''} values")
    return dict(config)


def _jsonable_rng_state(state):
    """A bit generator's state dict with numpy arrays turned into tagged lists (JSON has no arrays)."""
    if isinstance(state, dict):
        return {k: _jsonable_rng_state(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return {"__ndarray__": state.tolist(), "dtype": state.dtype.str}
    if isinstance(state, np.integer):
        return int(state)
    return state


def _rng_state_from_json(state):
    if isinstance(state, dict):
        if "__ndarray__" in state:
            return np.array(state["__ndarray__"], dtype=state["dtype"])
        return {k: _rng_state_from_json(v) for k, v in state.items()}
    return state


# Allowed values of every update rule's hyperparameters (optim.DEFAULTS names them): (description, test).
_HYPERPARAMETERS = {
    "learning_rate": ("> 0", lambda v: v > 0),
    "momentum": ("in [0, 1)", lambda v: 0 <= v < 1),
    "decay_rate": ("in [0, 1)", lambda v: 0 <= v < 1),
    "beta1": ("in [0, 1)", lambda v: 0 <= v < 1),
    "beta2": ("in [0, 1)", lambda v: 0 <= v < 1),
    "epsilon": ("> 0", lambda v: v > 0),
}


def _check_optim_config(rule, optim_config):
    """A copy of optim_config after checking its keys against the rule's and each value against its range."""
    optim_config = {} if optim_config is None else optim_config
    if not isinstance(optim_config, dict):
        raise TypeError(f"optim_config must be a dict, got {type(optim_config).__name__}")
    bad = sorted(map(str, set(optim_config) - set(optim.DEFAULTS[rule])))
    if bad:
        raise ValueError(f"Unrecognized optim_config key(s) {', '.join(map(repr, bad))} for update rule "
                         f"{rule!r}; allowed: {', '.join(map(repr, optim.DEFAULTS[rule]))}")
    for key, value in optim_config.items():
        if key == "t":
            _positive_int("optim_config['t']", value, allow_zero=True)
        else:
            allowed, test = _HYPERPARAMETERS[key]
            _finite_number(f"optim_config[{key!r}]", value, allowed, test)
    return dict(optim_config)


def _finite_number(name, value, allowed, test):
    """value, after checking that it is a real, finite number that passes test; allowed says what passes."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a finite number {allowed}, got {value!r} of type {type(value).__name__}")
    if not math.isfinite(value) or not test(value):
        raise ValueError(f"{name} must be a finite number {allowed}, got {value!r}")
    return value


def _check_labels(name, y, num_classes):
    """Labels must be integers in 0 .. num_classes - 1 (the model scores num_classes classes)."""
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.size == 0:
        return
    bad = np.flatnonzero((y < 0) | (y >= num_classes))
    if bad.size:
        raise ValueError(f"{name} holds the label {int(y[bad[0]])} at index {int(bad[0])} ({bad.size} such "
                         f"label(s)), but the model scores {num_classes} classes: labels must lie in "
                         f"0 .. {num_classes - 1}")


def _positive_int(name, value, allow_zero=False, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if allow_zero else 1):
        allowed = "an integer >= 0" if allow_zero else "an integer >= 1"
        raise ValueError(f"{name} must be {allowed}{' or None' if allow_none else ''}, got {value!r}")
    return int(value)
