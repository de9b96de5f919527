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
        if key not in bn_param:
            continue
        value = bn_param[key]
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


# --------------------------------------------------------------------------------------------------------------
# Convolution and pooling
# --------------------------------------------------------------------------------------------------------------


_CONV_PARAM_KEYS = ("stride", "pad")
_POOL_PARAM_KEYS = ("pool_height", "pool_width", "stride")


def _conv_int(fn, name, value, minimum):
    """TypeError / ValueError unless value is an integer (not a bool) >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fn}: {name} must be an integer, got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value!r}")
    return int(value)


def _conv_param_dict(fn, where, param, keys):
    if not isinstance(param, dict):
        raise TypeError(f"{fn}: {where} must be a dict with keys {', '.join(map(repr, keys))}, "
                        f"got {type(param).__name__}")
    unknown = [key for key in param if key not in keys]
    if unknown:
        raise ValueError(f"{fn}: unknown {where} key(s) {', '.join(map(repr, unknown))}; "
                         f"allowed keys are {', '.join(map(repr, keys))}")
    missing = [key for key in keys if key not in param]
    if missing:
        raise ValueError(f"{fn}: {where} needs the key(s) {', '.join(map(repr, missing))}; got keys {sorted(param)}")


def _conv_floating(fn, name, value):
    value = np.asarray(value)
    if value.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must be a floating-point array (float16/32/64), got dtype {value.dtype}")
    return value


def check_conv_inputs(x, w, b, conv_param, fn="conv_forward_naive"):
    """
    ValueError / TypeError naming the bad value unless x (N, C, H, W), w (F, C, HH, WW), b (F,) are floating
    arrays of matching shapes and conv_param = {'stride': s >= 1, 'pad': p >= 0} tiles the padded input
    exactly: (H + 2p - HH) and (W + 2p - WW) must be divisible by s and non-negative.

    Returns:
    - out_shape: (N, F, H_out, W_out) with H_out = 1 + (H + 2p - HH) // s, W_out = 1 + (W + 2p - WW) // s.
    """
    x, w = _conv_floating(fn, "x", x), _conv_floating(fn, "w", w)
    b = _conv_floating(fn, "b", b)
    if x.ndim != 4:
        raise ValueError(f"{fn}: x must have shape (N, C, H, W), got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"{fn}: w must have shape (F, C, HH, WW), got shape {w.shape}")
    N, C, H, W = x.shape
    F, C_w, HH, WW = w.shape
    if C_w != C:
        raise ValueError(f"{fn}: w has {C_w} input channels (shape {w.shape}) but x has C = {C} (shape {x.shape})")
    if b.shape != (F,):
        raise ValueError(f"{fn}: b has shape {b.shape}, expected ({F},) (one bias per filter)")
    _conv_param_dict(fn, "conv_param", conv_param, _CONV_PARAM_KEYS)
    stride = _conv_int(fn, "conv_param['stride']", conv_param["stride"], 1)
    pad = _conv_int(fn, "conv_param['pad']", conv_param["pad"], 0)
    for size, field, span, axis in ((H, "HH", HH, "height"), (W, "WW", WW, "width")):
        extent = size + 2 * pad - span
        if extent < 0:
            raise ValueError(f"{fn}: the filter {axis} {field} = {span} exceeds the padded input {axis} "
                             f"{size} + 2 * {pad} = {size + 2 * pad}")
        if extent % stride:
            raise ValueError(f"{fn}: stride {stride} does not tile the {axis}: ({size} + 2 * {pad} - {span}) = "
                             f"{extent} is not divisible by {stride}")
    return N, F, 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride


def check_pool_inputs(x, pool_param, fn="max_pool_forward_naive"):
    """
    ValueError / TypeError naming the bad value unless x is a floating array of shape (N, C, H, W) and
    pool_param = {'pool_height': ph >= 1, 'pool_width': pw >= 1, 'stride': s >= 1} tiles it exactly:
    (H - ph) and (W - pw) must be non-negative and divisible by s.

    Returns:
    - out_shape: (N, C, H_out, W_out) with H_out = 1 + (H - ph) // s, W_out = 1 + (W - pw) // s.
    """
    x = _conv_floating(fn, "x", x)
    if x.ndim != 4:
        raise ValueError(f"{fn}: x must have shape (N, C, H, W), got shape {x.shape}")
    _conv_param_dict(fn, "pool_param", pool_param, _POOL_PARAM_KEYS)
    ph = _conv_int(fn, "pool_param['pool_height']", pool_param["pool_height"], 1)
    pw = _conv_int(fn, "pool_param['pool_width']", pool_param["pool_width"], 1)
    stride = _conv_int(fn, "pool_param['stride']", pool_param["stride"], 1)
    N, C, H, W = x.shape
    for size, span, axis in ((H, ph, "height"), (W, pw, "width")):
        if size < span:
            raise ValueError(f"{fn}: the pool {axis} {span} exceeds the input {axis} {size}")
        if (size - span) % stride:
            raise ValueError(f"{fn}: stride {stride} does not tile the {axis}: ({size} - {span}) = {size - span} "
                             f"is not divisible by {stride}")
    return N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride


def check_fold_inputs(w, b, gamma, beta, bn_param, fn="fold_batchnorm"):
    """
    ValueError / TypeError naming the bad value unless w is an affine weight (D, M) or a conv weight
    (F, C, HH, WW), b, gamma and beta have one value per output unit (M or F), and bn_param holds
    running_mean and running_var of that shape (eps optional, >= 0).
    """
    w = _conv_floating(fn, "w", w)
    if w.ndim == 2:
        units, what = w.shape[1], "output unit M (a column of w)"
    elif w.ndim == 4:
        units, what = w.shape[0], "filter F (w.shape[0])"
    else:
        raise ValueError(f"{fn}: w must be an affine weight (D, M) or a conv weight (F, C, HH, WW), "
                         f"got shape {w.shape}")
    if not isinstance(bn_param, dict):
        raise TypeError(f"{fn}: bn_param must be a dict, got {type(bn_param).__name__}")
    for key in ("running_mean", "running_var"):
        if key not in bn_param:
            raise ValueError(f"{fn}: bn_param needs {key!r} (train the layer first); got keys {sorted(bn_param)}")
    eps = bn_param.get("eps", 1e-5)
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not eps >= 0:
        raise ValueError(f"{fn}: bn_param['eps'] must be a real number >= 0, got {eps!r}")
    for name, value in (("b", b), ("gamma", gamma), ("beta", beta), ("bn_param['running_mean']",
                        bn_param["running_mean"]), ("bn_param['running_var']", bn_param["running_var"])):
        if np.shape(value) != (units,):
            raise ValueError(f"{fn}: {name} has shape {np.shape(value)}, expected ({units},) (one per {what})")


def check_convnet_args(input_dim, num_filters, filter_size, hidden_dim, num_classes, weight_scale, reg, dtype,
                       normalization, num_groups, fn="ThreeLayerConvNet"):
    """
    ValueError / TypeError naming the bad value unless input_dim is (C, H, W) with H and W even (the 2x2 pool),
    num_filters, hidden_dim, num_classes are positive integers, filter_size is odd (so that the padding
    (filter_size - 1) // 2 keeps H and W), weight_scale > 0, reg >= 0, dtype is float32 or float64,
    normalization is None, 'batchnorm' or 'groupnorm', and num_groups divides num_filters.

    Returns:
    - dtype: The numpy scalar type (np.float32 or np.float64).
    """
    if not (isinstance(input_dim, (tuple, list)) and len(input_dim) == 3):
        raise ValueError(f"{fn}: input_dim must be (C, H, W), got {input_dim!r}")
    for name, value in (("input_dim[0] (C)", input_dim[0]), ("input_dim[1] (H)", input_dim[1]),
                        ("input_dim[2] (W)", input_dim[2]), ("num_filters", num_filters),
                        ("filter_size", filter_size), ("hidden_dim", hidden_dim), ("num_classes", num_classes),
                        ("num_groups", num_groups)):
        _conv_int(fn, name, value, 1)
    if input_dim[1] % 2 or input_dim[2] % 2:
        raise ValueError(f"{fn}: the 2x2 max pool with stride 2 needs an even height and width, got input_dim "
                         f"{tuple(input_dim)}")
    if filter_size % 2 == 0:
        raise ValueError(f"{fn}: filter_size must be odd, so that padding (filter_size - 1) // 2 keeps the "
                         f"height and width; got {filter_size}")
    if not weight_scale > 0:
        raise ValueError(f"{fn}: weight_scale must be > 0, got {weight_scale!r}")
    if not reg >= 0:
        raise ValueError(f"{fn}: reg must be >= 0, got {reg!r}")
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{fn}: unsupported dtype {dtype!r}; allowed: float32, float64")
    if normalization not in (None, "batchnorm", "groupnorm"):
        raise ValueError(f"{fn}: unknown normalization {normalization!r}; allowed: None, 'batchnorm', 'groupnorm'")
    if normalization == "groupnorm" and num_filters % num_groups:
        raise ValueError(f"{fn}: num_groups = {num_groups} does not divide num_filters = {num_filters}")
    return np.dtype(dtype).type
