# --------------------------------------------------------------------------------------------------------------
# Convolution and pooling
# --------------------------------------------------------------------------------------------------------------

import numpy as np  # noqa: E402 (this section may follow others)

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
