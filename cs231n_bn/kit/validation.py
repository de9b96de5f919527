"""Argument checks for the layers (cs231n_bn/layers.py) and cs231n_bn/normalization.py, kept out of the math.

Each public layer function starts with one call into this module. A bad value raises TypeError (wrong kind of
value) or ValueError (right kind, bad value) with a message that names the function, the value and what is
allowed; unknown dict keys are rejected with the list of allowed keys. The checks run before anything is
computed or changed, so an error leaves every argument (and bn_param) as it was. NaN in the data is not an
error: it propagates to the outputs.

The last two functions, check_dout and check_cache, are for the kit's reference solution: its backward passes
call them from inside their solution regions, on caches the reference forward passes build. Student code is free
to cache anything and need not call them.
"""

import math
import numbers

import numpy as np

MODES = ("train", "test")
BN_PARAM_KEYS = ("mode", "eps", "momentum", "running_mean", "running_var")
DROPOUT_PARAM_KEYS = ("p", "mode", "seed")
MAX_SEED = 2**32 - 1  # np.random.seed's limit, so that any seeding method accepts every allowed seed


# --------------------------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------------------------


def _array(fn, name, value, ndim=None, layout=None):
    """TypeError unless value is a numpy array; ValueError unless it has ndim dimensions (shape `layout`)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a numpy array, got {type(value).__name__}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{fn}: {name} must have shape {layout}, got shape {value.shape}")


def _floating(fn, name, value, ndim=None, layout=None, float16=True):
    """As _array, and TypeError unless the dtype is floating point (float16 only when float16 is True)."""
    _array(fn, name, value, ndim, layout)
    kind = value.dtype.kind  # cheaper than np.issubdtype, which matters for small batches
    if kind != "f" or (value.dtype == np.float16 and not float16):
        allowed = "float16/32/64" if float16 else "float32/64"
        reason = ("; the statistics of a normalization layer overflow float16 (largest value 65504)"
                  if kind == "f" else "")
        raise TypeError(f"{fn}: {name} must be a floating-point array ({allowed}), got dtype {value.dtype}{reason}")


def _param(fn, name, value, shape, what):
    """ValueError unless value has the given shape; TypeError unless its dtype is real floating point."""
    if np.shape(value) != shape:
        raise ValueError(f"{fn}: {name} has shape {np.shape(value)}, expected {shape} (one value per {what})")
    dtype = value.dtype if isinstance(value, np.ndarray) else np.asarray(value).dtype
    if dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must hold real floating-point numbers, got dtype {dtype}")


def _real(fn, name, value, low, high, low_open=False):
    """TypeError unless value is a real number; ValueError unless it lies in [low, high] ((low, high] if low_open)."""
    # A plain float, the common case, skips the slower abstract-base-class check: this runs on every call.
    if type(value) is not float and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r} of type {type(value).__name__}")
    inside = (low < value if low_open else low <= value) and value <= high  # False for NaN
    if not inside:
        interval = f"{'(' if low_open else '['}{low}, {high}]"
        raise ValueError(f"{fn}: {name} must be in {interval}, got {value!r}")


def _keys(fn, where, param, allowed):
    if not isinstance(param, dict):
        raise TypeError(f"{fn}: {where} must be a dict, got {type(param).__name__}")
    for key in param:
        if key not in allowed:
            unknown = [k for k in param if k not in allowed]
            raise ValueError(f"{fn}: unknown {where} key(s) {', '.join(map(repr, unknown))}; "
                             f"allowed keys are {', '.join(map(repr, allowed))}")


def _mode(fn, where, param):
    if "mode" not in param:
        raise ValueError(f"{fn}: {where} needs a 'mode' key, 'train' or 'test'; got keys {sorted(param)}")
    mode = param["mode"]
    if not (isinstance(mode, str) and mode in MODES):
        raise ValueError(f"{fn}: {where}['mode'] must be 'train' or 'test', got {mode!r}")


def _eps(fn, where, param):
    """param['eps'], when present, must be a finite number > 0 (it keeps 1 / sqrt(var + eps) finite)."""
    if "eps" not in param:
        return
    _positive_eps(fn, f"{where}['eps']", param["eps"])


def _positive_eps(fn, name, eps):
    if type(eps) is not float and (isinstance(eps, bool) or not isinstance(eps, numbers.Real)):
        raise TypeError(f"{fn}: {name} must be a real number, got {eps!r} of type {type(eps).__name__}")
    if not (0 < eps and math.isfinite(eps)):  # False for NaN
        raise ValueError(f"{fn}: {name} must be a finite number > 0 (it keeps 1 / sqrt(var + eps) finite when "
                         f"a feature is constant), got {eps!r}")


def _norm_param(fn, where, param):
    """ln_param / gn_param: None or a dict whose 'eps', if present, is valid; other keys are ignored."""
    if param is None:
        return
    if not isinstance(param, dict):
        raise TypeError(f"{fn}: {where} must be a dict, got {type(param).__name__}")
    _eps(fn, where, param)


def _bn_param(fn, bn_param, num_features, values_per_feature):
    """Keys, mode, eps, momentum and running statistics of batch norm's bn_param."""
    _keys(fn, "bn_param", bn_param, BN_PARAM_KEYS)
    _mode(fn, "bn_param", bn_param)
    _eps(fn, "bn_param", bn_param)
    if "momentum" in bn_param:
        _real(fn, "bn_param['momentum']", bn_param["momentum"], 0, 1)
    train = bn_param["mode"] == "train"
    if train and values_per_feature < 2:
        raise ValueError(
            f"{fn}: train mode needs at least 2 values per feature to estimate a variance, got {values_per_feature}; "
            "use mode 'test' (running statistics) for a single sample"
        )
    for key in ("running_mean", "running_var"):
        value = bn_param.get(key)
        if value is None:
            continue
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise TypeError(f"{fn}: bn_param[{key!r}] must be a floating-point numpy array, got {value!r}")
        if value.shape != (num_features,):
            raise ValueError(f"{fn}: bn_param[{key!r}] has shape {value.shape}, expected ({num_features},)")
        if train and not value.flags.writeable:
            raise ValueError(f"{fn}: bn_param[{key!r}] is a read-only array, and train mode updates it; "
                             f"pass a writeable copy (bn_param[{key!r}].copy())")
    running_var = bn_param.get("running_var")
    if running_var is not None and (running_var < 0).any():
        index = int(np.flatnonzero(running_var < 0)[0])
        raise ValueError(f"{fn}: bn_param['running_var'] must be >= 0 (it is a variance), got "
                         f"{float(running_var[index])!r} at index {index}")


# --------------------------------------------------------------------------------------------------------------
# Affine, ReLU, sigmoid
# --------------------------------------------------------------------------------------------------------------


def check_affine_inputs(x, w, b):
    """x (N, d_1, ..., d_k) with d_1 * ... * d_k = D, w (D, M), b (M,), all numpy arrays."""
    fn = "affine_forward"
    _array(fn, "x", x)
    _array(fn, "w", w, 2, "(D, M)")
    if x.ndim < 1 or (x.shape[0] and x.size // x.shape[0] != w.shape[0]):
        raise ValueError(
            f"{fn}: x of shape {x.shape} does not flatten to (N, D) with D = {w.shape[0]} (the rows of w)"
        )
    if np.shape(b) != (w.shape[1],):
        raise ValueError(f"{fn}: b has shape {np.shape(b)}, expected ({w.shape[1]},) (one value per output unit "
                         f"(column of w))")


def check_activation_input(x, fn):
    """x: a floating-point numpy array of any shape (relu_forward, sigmoid_forward)."""
    _floating(fn, "x", x)


# --------------------------------------------------------------------------------------------------------------
# Normalization layers
# --------------------------------------------------------------------------------------------------------------


def check_batchnorm_inputs(x, gamma, beta, bn_param):
    """x (N, D) float32/64, gamma and beta (D,), bn_param as the batchnorm_forward docstring describes."""
    fn = "batchnorm_forward"
    _floating(fn, "x", x, 2, "(N, D)", float16=False)
    N, D = x.shape
    _param(fn, "gamma", gamma, (D,), f"feature, D = {D}")
    _param(fn, "beta", beta, (D,), f"feature, D = {D}")
    _bn_param(fn, bn_param, D, N)


def check_spatial_batchnorm_inputs(x, gamma, beta, bn_param):
    """x (N, C, H, W) float32/64, gamma and beta (C,), bn_param as for batch norm with C features."""
    fn = "spatial_batchnorm_forward"
    _floating(fn, "x", x, 4, "(N, C, H, W)", float16=False)
    N, C, H, W = x.shape
    _param(fn, "gamma", gamma, (C,), f"channel, C = {C}")
    _param(fn, "beta", beta, (C,), f"channel, C = {C}")
    _bn_param(fn, bn_param, C, N * H * W)


def check_layernorm_inputs(x, gamma, beta, ln_param):
    """x (N, D) float32/64, gamma and beta (D,), ln_param None or a dict with an optional valid 'eps'."""
    fn = "layernorm_forward"
    _floating(fn, "x", x, 2, "(N, D)", float16=False)
    D = x.shape[1]
    _param(fn, "gamma", gamma, (D,), f"feature, D = {D}")
    _param(fn, "beta", beta, (D,), f"feature, D = {D}")
    _norm_param(fn, "ln_param", ln_param)


def check_groupnorm_inputs(x, gamma, beta, G, gn_param):
    """x (N, C, H, W) float32/64, gamma and beta (1, C, 1, 1), G an integer dividing C, gn_param as ln_param."""
    fn = "spatial_groupnorm_forward"
    _floating(fn, "x", x, 4, "(N, C, H, W)", float16=False)
    C = x.shape[1]
    if isinstance(G, bool) or not isinstance(G, numbers.Integral):
        raise TypeError(f"{fn}: the number of groups G must be an integer, got {G!r}")
    if G < 1 or C % G:
        divisors = [g for g in range(1, C + 1) if C % g == 0]
        raise ValueError(f"{fn}: G = {G} does not divide the number of channels C = {C}; allowed G: {divisors}")
    _param(fn, "gamma", gamma, (1, C, 1, 1), f"channel, C = {C}")
    _param(fn, "beta", beta, (1, C, 1, 1), f"channel, C = {C}")
    _norm_param(fn, "gn_param", gn_param)


def _axes(fn, axis, ndim):
    """axis: an int or a non-empty tuple of distinct ints, each in [-ndim, ndim)."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    if not axes or any(isinstance(a, bool) or not isinstance(a, numbers.Integral) for a in axes):
        raise TypeError(f"{fn}: axis must be an int or a non-empty tuple of ints, got {axis!r}")
    if any(not -ndim <= a < ndim for a in axes) or len({a % ndim for a in axes}) != len(axes):
        raise ValueError(f"{fn}: axis {axis!r} must name distinct axes of an array with {ndim} dimensions")


def check_standardize_inputs(x, axis, eps):
    """x a float32/64 array, axis valid for it, eps a finite number > 0."""
    fn = "standardize"
    _floating(fn, "x", x, float16=False)
    _axes(fn, axis, x.ndim)
    _positive_eps(fn, "eps", eps)


def check_standardize_backward_inputs(dx_hat, x_hat, inv_std, axis):
    """dx_hat and x_hat of one shape; inv_std of that shape with the axes in `axis` of size 1."""
    fn = "standardize_backward"
    _floating(fn, "x_hat", x_hat)
    _floating(fn, "dx_hat", dx_hat)
    _floating(fn, "inv_std", inv_std)
    if dx_hat.shape != x_hat.shape:
        raise ValueError(f"{fn}: dx_hat has shape {dx_hat.shape}, expected x_hat's shape {x_hat.shape}")
    _axes(fn, axis, x_hat.ndim)
    axes = {a % x_hat.ndim for a in (axis if isinstance(axis, tuple) else (axis,))}
    reduced = tuple(1 if i in axes else n for i, n in enumerate(x_hat.shape))
    if inv_std.shape != reduced:
        raise ValueError(f"{fn}: inv_std has shape {inv_std.shape}, expected {reduced} (x_hat's shape with the "
                         f"axes {axis!r} of size 1, as standardize returns it)")


# --------------------------------------------------------------------------------------------------------------
# Dropout and losses
# --------------------------------------------------------------------------------------------------------------


def check_dropout_inputs(x, dropout_param):
    """x a floating-point array; dropout_param {'p': keep probability in (0, 1], 'mode', optional 'seed'}."""
    fn = "dropout_forward"
    _floating(fn, "x", x)
    _keys(fn, "dropout_param", dropout_param, DROPOUT_PARAM_KEYS)
    if "p" not in dropout_param:
        raise ValueError(f"{fn}: dropout_param needs a 'p' key (the keep probability); got keys "
                         f"{sorted(dropout_param)}")
    _real(fn, "dropout_param['p'] (the keep probability)", dropout_param["p"], 0, 1, low_open=True)
    _mode(fn, "dropout_param", dropout_param)
    seed = dropout_param.get("seed")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"{fn}: dropout_param['seed'] must be an integer in [0, {MAX_SEED}] or None, "
                            f"got {seed!r} of type {type(seed).__name__}")
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(f"{fn}: dropout_param['seed'] must be an integer in [0, {MAX_SEED}] (2**32 - 1), "
                             f"got {seed!r}")


def check_loss_inputs(x, y, fn):
    """Scores x (N, C) floating, N, C >= 1; integer labels y (N,) in [0, C)."""
    _floating(fn, "x", x, 2, "(N, C)")
    N, C = x.shape
    if N < 1 or C < 1:
        raise ValueError(f"{fn}: x must hold at least one sample and one class, got shape {x.shape}")
    _array(fn, "labels y", y)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{fn}: labels y must be integers, got dtype {y.dtype}")
    if y.shape != (N,):
        raise ValueError(f"{fn}: labels y have shape {y.shape}, expected ({N},), one label per row of x")
    bad = (y < 0) | (y >= C)
    if bad.any():
        raise ValueError(
            f"{fn}: labels must be in [0, {C - 1}] for C = {C} classes, "
            f"got {y[bad][0]} at index {np.flatnonzero(bad)[0]}"
        )


# --------------------------------------------------------------------------------------------------------------
# For the kit's reference solution: dout and cache checks in the backward passes
# --------------------------------------------------------------------------------------------------------------


def check_dout(dout, shape, fn):
    """ValueError unless dout is an array of the given shape (the forward output's), so nothing broadcasts."""
    if np.shape(dout) != tuple(shape):
        raise ValueError(f"{fn}: dout has shape {np.shape(dout)}, expected {tuple(shape)} (the shape of the "
                         f"forward pass's output)")


def check_cache(cache, dout, fn):
    """
    For the reference solution's normalization layers, whose forward passes return a dict cache with the keys
    'forward' (the forward function's name), 'shape' (x's shape) and, for batch norm, 'mode'. In the backward
    function fn (say batchnorm_backward_alt), ValueError unless the cache comes from the matching forward function
    (batchnorm_forward), in train mode (the backward pass differentiates the train-time equations, with the batch
    statistics), and dout has x's shape.
    """
    forward = fn.replace("_backward_alt", "_forward").replace("_backward", "_forward")
    if not (isinstance(cache, dict) and "forward" in cache):
        raise TypeError(f"{fn}: cache must be the cache returned by {forward}, got {type(cache).__name__}")
    if cache["forward"] != forward:
        raise ValueError(f"{fn}: this cache comes from {cache['forward']}; pass the cache returned by {forward}")
    if cache.get("mode", "train") != "train":
        raise ValueError(f"{fn}: this cache comes from a test-mode {forward}; the backward pass differentiates the "
                         "train-mode forward pass (batch statistics), so call the forward pass with mode 'train'")
    check_dout(dout, cache["shape"], fn)
