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

The recorders' histories are not part of Solver checkpoints; after a resumed run they hold the steps seen
since the resume.
"""

import sys

import numpy as np

# Layer functions whose outputs are named, and the name of their n-th call (n = 1, 2, ...).
_RECORDED = ("affine_forward", "batchnorm_forward", "layernorm_forward", "relu_forward", "sigmoid_forward")


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

    def __init__(self, model):
        from cs231n_bn import layer_utils, layers

        self.acts = {}
        self.counts = {"affine": 0, "norm": 0, "nonlinearity": 0}
        self.depth = 0  # > 0 inside a recorded call: layers called by layers are not counted
        modules = {id(m): m for m in (layers, layer_utils, sys.modules.get(type(model).__module__)) if m}
        self.patches = []  # (module, name, original)
        for module in modules.values():
            for name in _RECORDED:
                original = getattr(layers, name, None)
                if original is not None and getattr(module, name, None) is original:
                    self.patches.append((module, name, original))

    def __enter__(self):
        for module, name, original in self.patches:
            setattr(module, name, self._wrap(name, original))
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
    bn_params = getattr(model, "bn_params", None) or []
    saved = [{k: np.copy(v) for k, v in p.items() if isinstance(v, np.ndarray)} for p in bn_params]
    keys = [set(p) for p in bn_params]
    rng_state = np.random.get_state()
    try:
        model.loss(X, np.zeros(X.shape[0], dtype=np.int64))
    finally:
        np.random.set_state(rng_state)
        for p, arrays, before in zip(bn_params, saved, keys):
            for k in set(p) - before:  # e.g. running_mean created by this very call
                del p[k]
            for k, v in arrays.items():
                p[k] = v  # the saved copy; the layers may have rebound or updated the arrays


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
