"""Watching a network while it trains: named activations and Solver callbacks that record them.

Named activations. forward_activations(model, X) runs one forward pass of the model and returns the arrays that
its layer functions (those of cs231n_bn.layers) produced, by name. For FullyConnectedNet, for hidden layer
i = 1, 2, ...:

    'affine{i}'   output of the affine layer                                  (N, H_i)
    'norm{i}'     output of the batch/layer norm layer (only when normalized)  (N, H_i)
    'preact{i}'   input of the nonlinearity: norm{i} if normalized, else affine{i}
    'relu{i}' or 'sigmoid{i}'   output of the nonlinearity                   (N, H_i)
    'scores'      class scores, the output of the last affine layer            (N, C)

The names count the calls of each kind of layer in the order the forward pass makes them: the i-th call of
affine_forward gives 'affine{i}' (the last one 'scores'), the i-th call of batchnorm_forward or
layernorm_forward 'norm{i}', the i-th call of relu_forward or sigmoid_forward 'preact{i}' (its input) and
'relu{i}' / 'sigmoid{i}' (its output). They are recorded while the pass runs, by standing in for those
functions in the model's module, cs231n_bn.layers and cs231n_bn.layer_utils (so the sandwich layers count
too); a layer called from inside another layer is not counted. The model's code needs nothing for it, and a
normal training step pays nothing.

How it is used. forward_activations runs the pass in test mode by default (running statistics for batch norm,
no dropout) or in train mode (the probe batch's own statistics); either way the model's state does not change.
The recorders below are Solver callbacks: the Solver calls cb(solver) once when train() starts and after every
iteration, and a recorder acts every `every` iterations on a fixed probe batch:

    probe = ActivationRecorder('preact3', data['X_val'][:1000], every=100, unit=0)
    solver = Solver(model, data, callbacks=[probe], ...)
    solver.train()
    steps, pct = probe.history()   # (T,), (T, 3): the 15th/50th/85th percentiles at each recorded step

Training health, as Karpathy shows it (makemore, part 3). train_step_snapshot(model, X, y) runs one training
step's forward and backward pass without the update and returns the activations above, the gradients of the loss
with respect to the outputs of the nonlinearities ('relu{i}' / 'sigmoid{i}': dL/d of that output) and the
parameter gradients. Three more recorders build on it:

    LayerHealthRecorder(X, y, every)   per hidden layer: mean, spread and saturated fraction of its outputs, the
                                       spread of their gradients (histograms kept at chosen steps), and (through
                                       UpdateRatioRecorder) the update-to-data ratio std(W_t - W_{t-1}) /
                                       std(W_{t-1}) of every weight matrix at every iteration
    ParameterNormRecorder(every)       the column norms of every weight matrix
    LandscapeRecorder(X, y, steps, every)   the loss and the gradient along the gradient's own direction
                                       (Santurkar et al., 2018): how far the gradient predicts the loss

The recorders' histories are not part of Solver checkpoints; after a resumed run they hold the steps seen
since the resume.
"""

import contextlib
import re
import sys

import numpy as np

# Layer functions whose outputs are named, and the name of their n-th call (n = 1, 2, ...).
_RECORDED = ("affine_forward", "batchnorm_forward", "layernorm_forward", "relu_forward", "sigmoid_forward")
# Backward functions whose upstream gradient (dout) is recorded by train_step_snapshot.
_RECORDED_BACKWARD = ("relu_backward", "sigmoid_backward")
# A sigmoid output s counts as saturated when |2s - 1| > 0.97: Karpathy's |tanh| > 0.97, as 2s - 1 = tanh(x / 2).
SATURATION = 0.97


def forward_activations(model, X, names=None, mode="test"):
    """
    Run the model forward on X and return its named intermediate activations (see the module docstring). The
    model's state is left as it was: in either mode the running statistics and NumPy's global random state are
    the same afterwards.

    Inputs:
    - model: A model with loss(X, y=None) whose forward pass calls the layer functions of cs231n_bn.layers
      (directly or through cs231n_bn.layer_utils), e.g. a FullyConnectedNet.
    - X: Array of inputs, of shape (N, d_1, ..., d_k).
    - names: Iterable of activation names, or None for all of them.
    - mode: 'test' (default): model.loss(X), i.e. batch norm with its running statistics, no dropout.
      'train': the forward pass a training step sees, i.e. batch norm with the statistics of X itself (and
      dropout); it runs model.loss(X, y) with dummy labels (so it also pays for a backward pass), then restores
      the arrays in model.bn_params and NumPy's global random state. Note that at iteration 0 the running
      statistics are still their initial zeros, so test-mode activations after a batch norm layer are
      meaningless until some training steps have run; train mode has no such gap.

    Returns:
    - acts: Dict mapping each requested name to its array of shape (N, ...), in the order of the forward pass.
    """
    if not callable(getattr(model, "loss", None)):
        raise TypeError(f"{type(model).__name__} has no loss(X, y=None) method to run forward")
    if mode not in ("test", "train"):
        raise ValueError(f"Unknown mode {mode!r}; allowed: 'test', 'train'")
    with _Recording(model) as acts:
        if mode == "test":
            model.loss(X)
        else:
            _train_mode_forward(model, X)
    if not acts:
        raise ValueError(f"{type(model).__name__}.loss called none of the layer functions "
                         f"{', '.join(_RECORDED)} of cs231n_bn.layers: no activations to name")
    if names is None:
        return acts
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in acts]
    if unknown:
        raise ValueError(f"Unknown activation name(s) {', '.join(map(repr, unknown))} for "
                         f"{type(model).__name__}; available: {', '.join(acts)}")
    return {n: acts[n] for n in names}


class _Recording:
    """
    Context manager: while active, the layer functions named in _RECORDED are replaced, in the model's module,
    cs231n_bn.layers and cs231n_bn.layer_utils, by wrappers that store their outputs in a dict (the value of the
    with statement); on exit the originals are put back and the last affine output is renamed 'scores'.
    """

    def __init__(self, model, backward=False):
        from cs231n_bn import layer_utils, layers

        self.acts = {}
        self.act_grads = {}  # with backward=True: 'relu{i}' -> the dout its backward function received
        self.counts = {"affine": 0, "norm": 0, "nonlinearity": 0, "backward": 0}
        self.depth = 0  # > 0 inside a recorded call: layers called by layers are not counted
        modules = {id(m): m for m in (layers, layer_utils, sys.modules.get(type(model).__module__)) if m}
        self.patches = []  # (module, name, original)
        names = _RECORDED + (_RECORDED_BACKWARD if backward else ())
        for module in modules.values():
            for name in names:
                original = getattr(layers, name, None)
                if original is not None and getattr(module, name, None) is original:
                    self.patches.append((module, name, original))

    def __enter__(self):
        for module, name, original in self.patches:
            wrap = self._wrap_backward if name in _RECORDED_BACKWARD else self._wrap
            setattr(module, name, wrap(name, original))
        return self.acts

    def __exit__(self, *exc):
        for module, name, original in self.patches:
            setattr(module, name, original)
        last = f"affine{self.counts['affine']}"
        if last in self.acts:
            self.acts["scores"] = self.acts.pop(last)
        return False

    def _wrap(self, name, original):
        def recorded(x, *args, **kwargs):
            self.depth += 1
            try:
                out = original(x, *args, **kwargs)
            finally:
                self.depth -= 1
            if self.depth == 0:
                self._record(name, x, out[0])
            return out

        return recorded

    def _wrap_backward(self, name, original):
        kind = name[: -len("_backward")]

        def recorded(dout, *args, **kwargs):
            # Backpropagation meets the nonlinearities in reverse: the k-th call is hidden layer n - k + 1.
            self.counts["backward"] += 1
            i = self.counts["nonlinearity"] - self.counts["backward"] + 1
            self.act_grads[f"{kind}{i}"] = dout
            return original(dout, *args, **kwargs)

        return recorded

    def _record(self, name, x, out):
        kind = name[: -len("_forward")]
        if kind == "affine":
            self.counts["affine"] += 1
            self.acts[f"affine{self.counts['affine']}"] = out
        elif kind in ("batchnorm", "layernorm"):
            self.counts["norm"] += 1
            self.acts[f"norm{self.counts['norm']}"] = out
        else:
            self.counts["nonlinearity"] += 1
            i = self.counts["nonlinearity"]
            self.acts[f"preact{i}"] = x
            self.acts[f"{kind}{i}"] = out


def _train_mode_forward(model, X):
    """model.loss(X, dummy labels), then put back every array of model.bn_params and the global random state."""
    with preserved_state(model):
        model.loss(X, np.zeros(X.shape[0], dtype=np.int64))


@contextlib.contextmanager
def preserved_state(model, params=False):
    """
    Context manager for probes that must leave a model as they found it: on exit, the arrays and keys of
    model.bn_params and NumPy's global random state are as on entry, and with params=True so are the arrays of
    model.params (put back from copies). It yields those copies (a dict name -> array), or None.
    """
    bn_params = getattr(model, "bn_params", None) or []
    saved = [{k: np.copy(v) for k, v in p.items() if isinstance(v, np.ndarray)} for p in bn_params]
    keys = [set(p) for p in bn_params]
    rng_state = np.random.get_state()
    saved_params = {k: np.copy(v) for k, v in model.params.items()} if params else None
    try:
        yield saved_params
    finally:
        np.random.set_state(rng_state)
        for p, arrays, before in zip(bn_params, saved, keys):
            for k in set(p) - before:  # e.g. running_mean created by this very call
                del p[k]
            for k, v in arrays.items():
                p[k] = v  # the saved copy; the layers may have rebound or updated the arrays
        if params:
            for k, v in saved_params.items():
                model.params[k] = v


def train_step_snapshot(model, X, y):
    """
    One training step's forward and backward pass on (X, y), without the update: what a training step sees.

    Inputs:
    - model: as for forward_activations (e.g. a FullyConnectedNet); its nonlinearities' backward passes must be
      the functions relu_backward / sigmoid_backward of cs231n_bn.layers (directly or through layer_utils).
    - X: Array of inputs, of shape (N, d_1, ..., d_k); y: Array of labels, of shape (N,).

    Returns a dict:
    - 'loss': float, the training loss on (X, y)
    - 'acts': the named activations of the pass (as forward_activations in train mode)
    - 'act_grads': dict 'relu{i}' (or 'sigmoid{i}') -> dL/d(output of hidden layer i's nonlinearity), (N, H_i)
    - 'grads': dict parameter name -> dL/d(parameter), as model.loss returns them
    The model's parameters, bn_params and NumPy's global random state are as before afterwards.
    """
    if not callable(getattr(model, "loss", None)):
        raise TypeError(f"{type(model).__name__} has no loss(X, y=None) method to run")
    if X.shape[0] != np.shape(y)[0]:
        raise ValueError(f"X has {X.shape[0]} examples but y has {np.shape(y)[0]}; they must match")
    recording = _Recording(model, backward=True)
    with preserved_state(model), recording as acts:
        loss, grads = model.loss(X, y)
    act_grads = dict(sorted(recording.act_grads.items(), key=lambda item: int(re.search(r"\d+$", item[0]).group())))
    return {"loss": float(loss), "acts": acts, "act_grads": act_grads, "grads": grads}


class _Every:
    """Base of the recorders: call self.record(solver) when solver.iteration is a multiple of `every`."""

    def __init__(self, every):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.every = int(every)
        self.steps = []

    def __call__(self, solver):
        step = solver.iteration
        # A Solver calls its callbacks at the start of train() too: after a resume that iteration may
        # already have been recorded.
        if step % self.every == 0 and (not self.steps or self.steps[-1] != step):
            self.record(solver)
            self.steps.append(step)

    def record(self, solver):
        raise NotImplementedError


class ActivationRecorder(_Every):
    """
    Records percentiles of one named activation on a fixed probe batch every `every` iterations.

    Inputs:
    - name: Activation name, e.g. 'preact3' (the input of the third hidden layer's nonlinearity).
    - X_probe: Array of probe inputs, of shape (P, d_1, ..., d_k); used as is, every time.
    - every: Record when solver.iteration is a multiple of every (including iteration 0, before training).
    - percentiles: Sequence of percentiles in [0, 100] (default the 15th, 50th and 85th).
    - unit: Column of the activation to summarize (one unit, e.g. one sigmoid); None pools all its values.
    - mode: 'test' (default) or 'train': how the probe batch goes through the net (see forward_activations;
      with batch norm, 'train' normalizes with the probe batch's own statistics, as training does). Either
      way recording leaves the model's state unchanged.

    Attributes after training:
    - steps: List of the iterations recorded.
    - values: List of arrays of shape (len(percentiles),), one per step; see history().
    """

    def __init__(self, name, X_probe, every=100, percentiles=(15, 50, 85), unit=None, mode="test"):
        super().__init__(every)
        if mode not in ("test", "train"):
            raise ValueError(f"Unknown mode {mode!r}; allowed: 'test', 'train'")
        self.mode = mode
        self.name = name
        self.X_probe = X_probe
        self.percentiles = np.asarray(percentiles, dtype=np.float64)
        if self.percentiles.ndim != 1 or np.any((self.percentiles < 0) | (self.percentiles > 100)):
            raise ValueError(f"percentiles must be a sequence of numbers in [0, 100], got {percentiles!r}")
        self.unit = unit
        self.values = []

    def summarize(self, model):
        """The percentiles of the activation on the probe batch for the model as it is now."""
        a = forward_activations(model, self.X_probe, [self.name], mode=self.mode)[self.name]
        if self.unit is None:
            a = a.reshape(-1)
        else:
            a = a.reshape(a.shape[0], -1)
            if not -a.shape[1] <= self.unit < a.shape[1]:
                raise ValueError(f"unit {self.unit} is out of range for activation {self.name!r} with "
                                 f"{a.shape[1]} units")
            a = a[:, self.unit]
        return np.percentile(a.astype(np.float64), self.percentiles)

    def record(self, solver):
        self.values.append(self.summarize(solver.model))

    def history(self):
        """Returns (steps, values): arrays of shapes (T,) and (T, len(percentiles))."""
        return np.asarray(self.steps), np.asarray(self.values).reshape(len(self.steps), len(self.percentiles))


class AccuracyRecorder(_Every):
    """
    Records the classification accuracy on fixed data (e.g. the test set) every `every` iterations, using
    solver.check_accuracy on all of X (no subsampling, so the Solver's random generator is not used).

    Inputs:
    - X: Array of shape (N, d_1, ..., d_k); y: Array of shape (N,).
    - every: Record when solver.iteration is a multiple of every (including iteration 0).
    - batch_size: Batch size of the evaluation forward passes (default 1000).

    Attributes: steps and accuracies (lists of the same length).
    """

    def __init__(self, X, y, every=100, batch_size=1000):
        super().__init__(every)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} examples but y has {y.shape[0]}; they must match")
        self.X, self.y, self.batch_size = X, y, batch_size
        self.accuracies = []

    def record(self, solver):
        self.accuracies.append(solver.check_accuracy(self.X, self.y, batch_size=self.batch_size))


def _nonlinearity_outputs(acts):
    """The names of the hidden layers' nonlinearity outputs ('relu1', 'relu2', ... or 'sigmoid1', ...), in order."""
    return [name for name in acts if re.fullmatch(r"(relu|sigmoid)\d+", name)]


def saturated_fraction(name, values):
    """
    The fraction of a nonlinearity's outputs that sit where its derivative is (nearly) zero.

    Inputs:
    - name: 'relu{i}' or 'sigmoid{i}'
    - values: array of its outputs

    Returns:
    - float: for a ReLU the fraction of outputs that are exactly 0 (no gradient passes back through them); for a
      sigmoid the fraction with |2s - 1| > SATURATION (0.97, Karpathy's threshold for tanh; 2s - 1 = tanh(x / 2))
    """
    values = np.asarray(values, dtype=np.float64)
    if name.startswith("relu"):
        return float(np.mean(values == 0))
    if name.startswith("sigmoid"):
        return float(np.mean(np.abs(2 * values - 1) > SATURATION))
    raise ValueError(f"Unknown nonlinearity output {name!r}; expected 'relu{{i}}' or 'sigmoid{{i}}'")


class UpdateRatioRecorder:
    """
    The update-to-data ratio of every weight matrix (parameters named 'W...') at every iteration:
    std(W_t - W_{t-1}) / std(W_{t-1}), the size of a step relative to the weights it changes (Karpathy's rule of
    thumb: about 1e-3 for a healthy step; much larger and the step overwrites the weights, much smaller and they
    barely move). A Solver callback; the Solver calls it after every iteration.

    Attributes after training: steps (the iterations t >= 1 measured), ratios: dict W name -> list of ratios;
    history() stacks them.
    """

    def __init__(self):
        self.steps, self.ratios = [], {}
        self._previous = None  # (iteration, {W name: float64 copy})

    def __call__(self, solver):
        weights = {k: v for k, v in solver.model.params.items() if k.startswith("W")}
        if self._previous is not None and self._previous[0] == solver.iteration - 1:
            for name, before in self._previous[1].items():
                change = weights[name].astype(np.float64) - before
                self.ratios.setdefault(name, []).append(float(change.std() / before.std()))
            self.steps.append(solver.iteration)
        self._previous = (solver.iteration, {k: v.astype(np.float64) for k, v in weights.items()})

    def history(self):
        """(steps, ratios): arrays (T,) and (T, number of weight matrices), columns in the order of the params."""
        return np.asarray(self.steps), np.asarray([self.ratios[n] for n in self.ratios]).T.reshape(len(self.steps), -1)


class LayerHealthRecorder(_Every):
    """
    Training health per hidden layer, as Karpathy plots it (makemore, part 3), recorded during training.

    Every `every` iterations (including iteration 0, before training), one train-mode step on the fixed probe
    batch (train_step_snapshot; no update, no change of state) gives, for each hidden layer's nonlinearity output
    h_i: its mean and standard deviation, the fraction of saturated outputs (saturated_fraction), the number of
    dead units (a ReLU unit that is 0 for every probe example), and the standard deviation of dL/dh_i. At the
    iterations in `keep` the arrays themselves are kept, for histograms. At every iteration, an
    UpdateRatioRecorder measures the update-to-data ratio of every weight matrix.

    Inputs:
    - X_probe, y_probe: the probe batch, shapes (P, d_1, ..., d_k) and (P,)
    - every: int >= 1
    - keep: iterations at which the arrays are kept whole

    Attributes after training:
    - steps: the recorded iterations; layers: the names 'relu1', ... of the hidden layers' outputs
    - history(statistic): arrays (T,) and (T, L) for 'mean', 'std', 'saturated', 'dead', 'grad_std'
    - snapshots: dict iteration -> {'preacts', 'acts', 'act_grads': {layer: array}}, for the iterations in keep:
      the nonlinearity's inputs, its outputs and the gradients of the loss with respect to its outputs
    - updates: the UpdateRatioRecorder (update_ratio and update_history() read it)
    """

    STATISTICS = ("mean", "std", "saturated", "dead", "grad_std")

    def __init__(self, X_probe, y_probe, every=10, keep=(0,)):
        super().__init__(every)
        if np.shape(X_probe)[0] != np.shape(y_probe)[0]:
            raise ValueError(f"X_probe has {np.shape(X_probe)[0]} examples but y_probe has "
                             f"{np.shape(y_probe)[0]}; they must match")
        self.X_probe, self.y_probe = X_probe, y_probe
        self.keep = {int(k) for k in keep}
        self.layers = None
        self._stats = {name: [] for name in self.STATISTICS}
        self.snapshots = {}
        self.updates = UpdateRatioRecorder()

    @property
    def update_ratio(self):
        return self.updates.ratios

    def update_history(self):
        """(steps, ratios) of the update-to-data ratios (see UpdateRatioRecorder.history)."""
        return self.updates.history()

    def __call__(self, solver):
        self.updates(solver)
        super().__call__(solver)

    def record(self, solver):
        snapshot = train_step_snapshot(solver.model, self.X_probe, self.y_probe)
        acts, grads = snapshot["acts"], snapshot["act_grads"]
        if self.layers is None:
            self.layers = _nonlinearity_outputs(acts)
        row = {name: [] for name in self.STATISTICS}
        for layer in self.layers:
            h = acts[layer].astype(np.float64)
            row["mean"].append(h.mean())
            row["std"].append(h.std())
            row["saturated"].append(saturated_fraction(layer, h))
            row["dead"].append(int(np.sum(np.all(h == 0, axis=0))) if layer.startswith("relu") else 0)
            row["grad_std"].append(float(np.std(grads[layer])) if layer in grads else np.nan)
        for name in self.STATISTICS:
            self._stats[name].append(row[name])
        if solver.iteration in self.keep:
            number = {layer: re.search(r"\d+$", layer).group() for layer in self.layers}
            self.snapshots[solver.iteration] = {
                "preacts": {layer: np.array(acts["preact" + number[layer]]) for layer in self.layers},
                "acts": {layer: np.array(acts[layer]) for layer in self.layers},
                "act_grads": {layer: np.array(grads[layer]) for layer in self.layers if layer in grads}}

    def history(self, statistic):
        """(steps, values): arrays (T,) and (T, L), one column per hidden layer, for one of STATISTICS."""
        if statistic not in self.STATISTICS:
            raise ValueError(f"Unknown statistic {statistic!r}; allowed: {', '.join(self.STATISTICS)}")
        return np.asarray(self.steps), np.asarray(self._stats[statistic], dtype=np.float64)


class ParameterNormRecorder(_Every):
    """
    The column norms of every weight matrix (parameters named 'W...') every `every` iterations, including 0.

    Column j of W_l holds the weights into unit j of layer l, the vector w that a batch norm after the layer
    makes scale-invariant: BN(x (a w)) = BN(x w) for a > 0 (while the variance of x w is much larger than eps).

    Attributes after training: steps, and column_norms: dict W name -> list of arrays (H_l,), one per step;
    history(name) stacks them into (T, H_l).
    """

    def __init__(self, every=1):
        super().__init__(every)
        self.column_norms = {}

    def record(self, solver):
        for name, w in solver.model.params.items():
            if name.startswith("W"):
                w = w.reshape(w.shape[0], -1).astype(np.float64)
                self.column_norms.setdefault(name, []).append(np.sqrt((w * w).sum(axis=0)))

    def history(self, name):
        """(steps, norms): arrays (T,) and (T, H) of one weight matrix's column norms."""
        if name not in self.column_norms:
            raise ValueError(f"Unknown weight {name!r}; recorded: {', '.join(self.column_norms) or 'none yet'}")
        return np.asarray(self.steps), np.asarray(self.column_norms[name])


class LandscapeRecorder(_Every):
    """
    How well the gradient predicts the loss along its own direction (Santurkar et al., 2018, Figure 4).

    Every `every` iterations (including 0), with all parameters w and the gradient g = dL/dw of the training loss
    on the fixed batch (X, y) (train mode; the same batch every time), for each step size eta in step_sizes:

        loss[eta]        = L(w - eta g)
        grad_change[eta] = ||dL/dw(w - eta g) - g||        (how much the gradient changed along the step)
        distance[eta]    = ||eta g||                        (how far the parameters moved)

    A smooth landscape has a small spread of the loss over the steps and a small grad_change / distance (the
    "effective beta-smoothness"). The parameters, running statistics and random state are restored afterwards.

    Inputs:
    - X, y: the batch, shapes (N, d_1, ..., d_k) and (N,)
    - step_sizes: sequence of positive step sizes (e.g. multiples of the training learning rate)
    - every: int >= 1

    Attributes after training: steps; loss_at_zero, loss, grad_change, distance (lists, one entry per step: a
    float, then arrays of len(step_sizes)); history() stacks them.
    """

    def __init__(self, X, y, step_sizes, every=10):
        super().__init__(every)
        step_sizes = np.asarray(step_sizes, dtype=np.float64)
        if step_sizes.ndim != 1 or step_sizes.size == 0 or not np.all(step_sizes > 0):
            raise ValueError(f"step_sizes must be a non-empty sequence of positive numbers; got {step_sizes}")
        if np.shape(X)[0] != np.shape(y)[0]:
            raise ValueError(f"X has {np.shape(X)[0]} examples but y has {np.shape(y)[0]}; they must match")
        self.X, self.y, self.step_sizes = X, y, step_sizes
        self.loss_at_zero, self.loss, self.grad_change, self.distance = [], [], [], []

    def record(self, solver):
        model = solver.model
        names = list(model.params)
        with preserved_state(model, params=True) as start_params:
            loss0, grads0 = model.loss(self.X, self.y)
            g0 = {k: np.asarray(grads0[k], dtype=np.float64) for k in names}
            g0_norm = np.sqrt(sum(np.sum(g * g) for g in g0.values()))
            losses, changes = [], []
            for eta in self.step_sizes:
                for k in names:
                    start = start_params[k]
                    model.params[k] = (start - eta * g0[k]).astype(start.dtype)
                loss, grads = model.loss(self.X, self.y)
                losses.append(float(loss))
                changes.append(np.sqrt(sum(np.sum((np.asarray(grads[k], dtype=np.float64) - g0[k]) ** 2)
                                           for k in names)))
        self.loss_at_zero.append(float(loss0))
        self.loss.append(np.asarray(losses))
        self.grad_change.append(np.asarray(changes))
        self.distance.append(self.step_sizes * g0_norm)

    def history(self):
        """dict with 'steps' (T,), 'loss_at_zero' (T,), and 'loss', 'grad_change', 'distance' (T, len(step_sizes))."""
        return {"steps": np.asarray(self.steps), "loss_at_zero": np.asarray(self.loss_at_zero),
                "loss": np.asarray(self.loss), "grad_change": np.asarray(self.grad_change),
                "distance": np.asarray(self.distance)}
