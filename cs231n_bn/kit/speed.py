"""How long a training step takes, against what BLAS needs for its matrix products: a warning before a long run.

    from cs231n_bn.kit import speed
    speed.report(model, X_batch, steps=50_000)   # one line: the step's time, the run's, and a warning if slow

A training step's arithmetic is mostly matrix products, which NumPy hands to BLAS when they are written with @ or
np.dot; written with np.einsum or Python loops they can be ten times slower, and a 50,000-step run that takes
minutes then takes hours. ``profile`` times one step of a model (model.loss(X, y)), the time spent in each layer
function it calls, and the time BLAS takes for the same matrix products on arrays of the same shapes; ``report``
prints it. ``python -m cs231n_bn check`` runs ``profile`` on the Section 4.1 network and on the convolutional
network of the notebooks, and warns in the same words.
"""

import sys
import time
from collections import defaultdict

import numpy as np

# Times are the CPU time of the thread that runs the step (time.thread_time: a busy machine changes it little, and
# it stays exact where a CPU-time limit makes the process's clock count in ticks, as in check's sandbox), and each
# call's fastest over a few steps (benchmarks/speed_warning.py prints the ratios below for the kit's layers and an
# np.einsum affine layer).
# Pyodide (the browser edition) has no thread_time; its kernel runs on one thread, whose wall clock stands in.
thread_time = getattr(time, "thread_time", time.perf_counter)
SLOW = 5.0  # an affine layer more than SLOW times its matrix products on BLAS is slow (the kit's: 1.1 to 1.3 times;
#             written with np.einsum: about 7 times)
PASSES = 20  # an elementwise layer's baseline: PASSES passes over its largest input (batch norm makes about 10)
SLOW_ELEMENTWISE = 25.0  # ... and one more than this times that baseline is slow (the kit's: up to 4 times)
SHARE = 0.25  # slow layers are worth a warning when their excess is at least this share of the time in the layers
REPEATS = 5  # timed steps (the fastest counts: the others were slowed by something else)
KIT = ("cs231n_bn.fast_layers", "cs231n_bn.layer_utils")  # the kit's own layers: timed, never the student's to fix


def profile(model, X, y=None, repeats=REPEATS):
    """
    Time model.loss(X, y) and the layer functions it calls, and what each would take at the speed of plain
    vectorized NumPy.

    Inputs:
    - model: A FullyConnectedNet or ThreeLayerConvNet (anything whose params are weight matrices W1, W2, ... of
      shape (D, M) or (F, C, HH, WW) and whose loss calls the functions of cs231n_bn.layers, cs231n_bn.layer_utils
      and cs231n_bn.fast_layers).
    - X: A batch of inputs; y: its labels (zeros if None).
    - repeats: How many steps are timed, after one untimed step.

    Returns a dict (the layers and the baselines in CPU seconds of this thread, the step in seconds of the clock):
    - 'step': seconds of the fastest step;
    - 'products': seconds BLAS takes for the step's matrix products (3 per weight matrix: the forward product and
      the two of the backward pass), on arrays of the same shapes and dtype;
    - 'layers': {function name: {'seconds': per step, not counting the timed functions it calls; 'baseline': the
      seconds plain NumPy needs for it (its matrix products on BLAS for the affine layers, PASSES passes over its
      input for the others); 'kit': True for the kit's own functions}}, slowest first.
    """
    y = np.zeros(X.shape[0], dtype=np.int64) if y is None else y
    state = np.random.get_state()
    saved = [{k: np.copy(v) for k, v in p.items() if isinstance(v, np.ndarray)} for p in _bn_params(model)]
    timing = _Timing(model)
    try:
        model.loss(X, y)  # untimed: the first call allocates
        best, layers = float("inf"), {}
        for _ in range(repeats):  # each call's fastest time: what slows a call down now and then is not the code
            with timing as totals:
                start = time.perf_counter()
                model.loss(X, y)
                best = min(best, time.perf_counter() - start)
            for name, entry in totals.items():
                kept = layers.setdefault(name, dict(entry))
                if len(kept["calls"]) == len(entry["calls"]):
                    kept["calls"] = [min(a, b) for a, b in zip(kept["calls"], entry["calls"])]
        for entry in layers.values():
            entry["seconds"] = sum(entry.pop("calls"))
    finally:
        np.random.set_state(state)
        for p, arrays in zip(_bn_params(model), saved):
            p.update(arrays)
    # The products in the dtype the affine layers computed in (a layer may hand float64 on in a float32 net).
    dtypes = [entry["dtype"] for name, entry in layers.items() if name.startswith("affine") and entry["dtype"]]
    products, layer_products = _products(model, X, max(dtypes, key=lambda d: d.itemsize) if dtypes else None)
    with np.errstate(all="ignore"):
        for name, entry in layers.items():  # one pass over each call's largest array, in its own memory layout
            arrays = entry.pop("arrays")
            entry.pop("dtype")
            passes = [] if entry["kit"] else [_best(lambda a=a: np.multiply(a, 2.0), 3) for a in arrays]
            entry["baseline"] = layer_products.get(name) or PASSES * sum(passes)
    return {"step": best, "products": products,
            "layers": dict(sorted(layers.items(), key=lambda item: -item[1]["seconds"]))}


def verdict(profile, what="a training step", steps=None):
    """(slow, text): whether the step is slow, and one paragraph saying so, for the student.

    Slow: the student's layer functions that take more than SLOW times their matrix products on BLAS (the affine
    layers), or more than SLOW_ELEMENTWISE times PASSES passes over their input (the others), spend together at
    least SHARE of the time in the layers beyond those baselines (the sum of the layers' times: a step's own time
    varies more, with whatever else the machine does); the text names the slowest of them.
    """
    step, products = profile["step"], profile["products"]
    in_layers = sum(entry["seconds"] for entry in profile["layers"].values())
    ratio = step / products if products > 0 else float("inf")
    run = f"; {steps:,} steps take about {_duration(step * steps)}" if steps else ""
    text = (f"{what} takes {step * 1e3:.1f} ms, {ratio:.1f} times what BLAS needs for its matrix products "
            f"({products * 1e3:.2f} ms){run}")
    slow = [(name, entry) for name, entry in profile["layers"].items() if not entry["kit"] and entry["seconds"] >
            (SLOW if name.startswith("affine") else SLOW_ELEMENTWISE) * entry["baseline"]]
    if not slow or sum(entry["seconds"] - entry["baseline"] for _, entry in slow) < SHARE * in_layers:
        return False, text
    name, entry = slow[0]
    baseline = ("its matrix products on BLAS take" if name.startswith("affine") else
                f"{PASSES} NumPy passes over its input take")
    return True, (f"{text}. The slowest layer is {name}: {entry['seconds'] * 1e3:.1f} ms per step "
                  f"({entry['seconds'] / in_layers:.0%} of the time in the layers), where {baseline} "
                  f"{entry['baseline'] * 1e3:.2f} ms. Matrix products run on BLAS when written with @ or np.dot "
                  f"(np.einsum and Python loops do not use it), and elementwise work runs fast as whole-array NumPy "
                  f"operations")


def report(model, X, y=None, steps=None, file=None):
    """Print how long a training step of ``model`` on the batch X takes (and a run of ``steps`` steps), with a
    warning when it is several times slower than its matrix products need; returns the profile."""
    result = profile(model, X, y)
    slow, text = verdict(result, "A training step", steps)
    print(("Slow: " if slow else "") + text + ".", file=file or sys.stdout)
    return result


def section41_profile():
    """The profile of one training step of Ioffe & Szegedy's Section 4.1 network (sigmoid units, batch norm before
    each, as PaperReproduction.ipynb trains it) on a batch of 60, from random data."""
    from cs231n_bn.classifiers.fc_net import FullyConnectedNet

    model = FullyConnectedNet([100, 100, 100], input_dim=784, num_classes=10, nonlinearity="sigmoid",
                              normalization="batchnorm", weight_scale=0.1, dtype=np.float32, seed=0)
    r = np.random.default_rng(0)
    return profile(model, r.random((60, 784), dtype=np.float32), r.integers(10, size=60))


def convnet_profile(normalization=None, repeats=2):
    """The profile of one training step of ConvolutionalNetworks.ipynb's ThreeLayerConvNet on a batch of 50 (two
    timed steps by default: a step takes about 0.1 s)."""
    from cs231n_bn.classifiers.cnn import ThreeLayerConvNet

    model = ThreeLayerConvNet(input_dim=(1, 28, 28), num_filters=16, filter_size=5, hidden_dim=100,
                              weight_scale=1e-2, normalization=normalization, num_groups=4, seed=0)
    r = np.random.default_rng(0)
    return profile(model, r.random((50, 1, 28, 28), dtype=np.float32), r.integers(10, size=50), repeats)


# ----------------------------------------------------------------------------------------------------------------

def _bn_params(model):
    return [p for p in (getattr(model, "bn_params", None) or []) if isinstance(p, dict)]


def _products(model, X, dtype=None):
    """Seconds BLAS takes for the step's matrix products, in all and per layer function (affine_forward,
    affine_backward), on arrays of the shapes the step uses: the affine layers' inputs are the batch by the weights'
    rows; a convolution's (the kit's conv layers, stride 1 and 'same' padding), im2col's columns; in ``dtype``, or
    the weights' own."""
    params = getattr(model, "params", {})
    N = X.shape[0]
    total, per_layer = 0.0, defaultdict(float)
    r = np.random.default_rng(0)
    for name in sorted(k for k in params if k.startswith("W")):
        W = np.asarray(params[name])
        if W.ndim == 2:
            (D, M), rows, kind = W.shape, N, "affine"
        elif W.ndim == 4:
            M, D = W.shape[0], int(np.prod(W.shape[1:]))
            rows, kind = N * int(np.prod(X.shape[2:])), "conv"
        else:
            continue
        a, w, g = (r.random(shape, dtype=np.float32).astype(dtype or W.dtype) for shape in ((rows, D), (D, M),
                                                                                          (rows, M)))
        forward = _best(lambda: a @ w)
        backward = _best(lambda: g @ w.T) + _best(lambda: a.T @ g)
        if kind == "affine":
            per_layer["affine_forward"] += forward
            per_layer["affine_backward"] += backward
        total += forward + backward
    return total, dict(per_layer)


def _best(function, repeats=REPEATS):
    """The least CPU time (this thread's) of ``repeats`` calls of function (after one more)."""
    function()
    best = float("inf")
    for _ in range(repeats):
        start = thread_time()
        function()
        best = min(best, thread_time() - start)
    return best


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _Timing:
    """While active, the public functions of cs231n_bn.layers, layer_utils and fast_layers (and the names the
    model's module imported from them) are timed: each call adds its CPU time (this thread's: what other processes
    take of the machine does not count), less that of the timed calls it makes, to its function's list of calls,
    and its largest array argument is kept (for the baseline)."""

    def __init__(self, model):
        from cs231n_bn import fast_layers, layer_utils, layers

        self.totals, self.stack, self.patches = {}, [], []
        sources = (layers, layer_utils, fast_layers)
        functions = {name: getattr(m, name) for m in sources for name in dir(m)
                     if not name.startswith("_") and callable(getattr(m, name))
                     and getattr(getattr(m, name), "__module__", "") == m.__name__}
        modules = {id(m): m for m in (*sources, sys.modules.get(type(model).__module__)) if m is not None}
        for module in modules.values():
            for name, function in functions.items():
                if getattr(module, name, None) is function:
                    self.patches.append((module, name, function))

    def __enter__(self):
        self.totals.clear()
        wrapped = {}
        for module, name, function in self.patches:
            if name not in wrapped:
                wrapped[name] = self._wrap(name, function)
            setattr(module, name, wrapped[name])
        return self.totals

    def __exit__(self, *exc):
        for module, name, function in self.patches:
            setattr(module, name, function)
        return False

    def _wrap(self, name, function):
        kit = function.__module__ in KIT

        def timed(*args, **kwargs):
            start = thread_time()
            self.stack.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = thread_time() - start
                inner = self.stack.pop()
                if self.stack:
                    self.stack[-1] += elapsed
                entry = self.totals.setdefault(name, {"calls": [], "kit": kit, "arrays": [], "dtype": None})
                entry["calls"].append(elapsed - inner)
                largest = max((a for a in args if isinstance(a, np.ndarray)), key=np.size, default=None)
                if largest is not None:
                    entry["arrays"].append(largest)
                    dtype = np.result_type(*(a for a in args if isinstance(a, np.ndarray)))
                    if entry["dtype"] is None or dtype.itemsize > entry["dtype"].itemsize:
                        entry["dtype"] = dtype
        return timed
