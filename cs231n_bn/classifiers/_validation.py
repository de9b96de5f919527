"""Argument checks for FullyConnectedNet: one call at the top of __init__, out of the way of the exercise."""

import numbers

import numpy as np

NORMALIZATIONS = (None, "batchnorm", "layernorm")
NONLINEARITIES = ("relu", "sigmoid")
DTYPES = ("float32", "float64")


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_size(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1


def check_fc_net_arguments(hidden_dims, input_dim, num_classes, dropout_keep_ratio, dropout, normalization, reg,
                           weight_scale, dtype, seed, nonlinearity):
    """
    Raise ValueError (TypeError for a non-list hidden_dims) naming the bad argument and what is allowed, unless:
    hidden_dims is a list (or tuple, range, 1-d array) of positive integers; input_dim and num_classes are positive
    integers; the keep ratio (dropout_keep_ratio, or cs231n 2020's dropout: at most one of them set) is a real number
    in (0, 1]; normalization is None, 'batchnorm' or 'layernorm'; nonlinearity is 'relu' or 'sigmoid'; reg and
    weight_scale are finite real numbers >= 0; dtype is float32 or float64; seed is None or an integer in [0, 2**32).

    Returns:
    - None.
    """
    if not isinstance(hidden_dims, (list, tuple, range, np.ndarray)) or getattr(hidden_dims, "ndim", 1) == 0:
        raise TypeError(f"hidden_dims must be a list of layer sizes, got {hidden_dims!r}")
    for name, value in (("input_dim", input_dim), ("num_classes", num_classes)):
        if not _is_size(value):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not all(_is_size(size) for size in hidden_dims):
        raise ValueError(f"hidden_dims must hold positive integers (layer sizes), got {list(hidden_dims)!r}")
    if dropout is not None and dropout_keep_ratio != 1:
        raise ValueError(f"give the keep ratio once: dropout={dropout!r} (cs231n 2020's name) and "
                         f"dropout_keep_ratio={dropout_keep_ratio!r} are both set")
    keep_name, keep = ("dropout", dropout) if dropout is not None else ("dropout_keep_ratio", dropout_keep_ratio)
    if not (_is_real(keep) and 0 < keep <= 1):  # NaN fails the comparison
        raise ValueError(f"{keep_name} is the probability of keeping a unit, a number in (0, 1] (1: no dropout); "
                         f"got {keep!r}")
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"Unknown normalization {normalization!r}; allowed: None, 'batchnorm', 'layernorm'")
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"Unknown nonlinearity {nonlinearity!r}; allowed: 'relu', 'sigmoid'")
    for name, value in (("reg", reg), ("weight_scale", weight_scale)):
        if not (_is_real(value) and np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    try:
        dtype_name = np.dtype(dtype).name
    except TypeError:
        dtype_name = None
    if dtype_name not in DTYPES:
        raise ValueError(f"Unsupported dtype {dtype!r}; allowed: np.float32, np.float64")
    if seed is not None and not (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
                                 and 0 <= seed < 2**32):
        raise ValueError(f"seed must be None or an integer in [0, 2**32), got {seed!r}")
