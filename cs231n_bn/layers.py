"""Layers as pure (out, cache) = forward(...) / grads = backward(dout, cache) function pairs, cs231n style.

Every forward function returns the output and a cache holding what its backward function needs; every backward
function takes the upstream derivative dout (same shape as out) and that cache. Nothing is stored elsewhere, except
the running statistics of batch norm, which live in the caller's bn_param dict.

The normalization layers (batch, layer, spatial batch and group norm) are one computation, standardize over some
axes and then scale and shift, applied over different axes; cs231n_bn/normalization.py writes that computation once
and tabulates the axes of each layer. The batch-norm functions spell out their derivation in full: the staged
backward pass walks the forward graph node by node, the closed form fits on one line.

Inputs are validated before any work: a bad mode, shape, dtype or hyperparameter raises ValueError / TypeError
naming the bad value and what is allowed. NaN inputs are not errors: they propagate to the outputs.
"""

import math
import numbers

import numpy as np

from .normalization import row_buffers, standardize, standardize_backward

_MODES = ("train", "test")
_BN_PARAM_KEYS = ("mode", "eps", "momentum", "running_mean", "running_var")
_DROPOUT_PARAM_KEYS = ("p", "mode", "seed")


# --------------------------------------------------------------------------------------------------------------
# Argument validation (shared by the layers below; no layer math here)
# --------------------------------------------------------------------------------------------------------------


def _floating(x, name, fn):
    """x as an ndarray; TypeError unless its dtype is floating point."""
    x = np.asarray(x)
    if x.dtype.kind != "f":  # the floating kinds; cheaper than np.issubdtype, which matters for small batches
        raise TypeError(f"{fn}: {name} must be a floating-point array (float16/32/64), got dtype {x.dtype}")
    return x


def _check_ndim(x, ndim, layout, fn):
    if x.ndim != ndim:
        raise ValueError(f"{fn}: x must have shape {layout}, got shape {x.shape}")


def _check_param_shape(name, value, allowed, what, fn):
    """ValueError unless np.shape(value) is one of the `allowed` shapes."""
    if np.shape(value) not in allowed:
        expected = " or ".join(str(shape) for shape in allowed)
        raise ValueError(f"{fn}: {name} has shape {np.shape(value)}, expected {expected} (one value per {what})")


def _check_mode(mode, where, fn):
    if not (isinstance(mode, str) and mode in _MODES):
        raise ValueError(f"{fn}: {where}['mode'] must be 'train' or 'test', got {mode!r}")


def _check_real(name, value, low, high, fn, low_open=False):
    """ValueError unless value is a real number in [low, high] (or (low, high] when low_open)."""
    # A plain float, the common case, skips the slower abstract-base-class check: validation runs on every call.
    if type(value) is not float and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r} of type {type(value).__name__}")
    inside = (low < value if low_open else low <= value) and value <= high  # False for NaN
    if not inside:
        interval = f"{'(' if low_open else '['}{low}, {high}]"
        raise ValueError(f"{fn}: {name} must be in {interval}, got {value!r}")


def _check_keys(param, allowed, where, fn):
    if not isinstance(param, dict):
        raise TypeError(f"{fn}: {where} must be a dict, got {type(param).__name__}")
    unknown = [key for key in param if key not in allowed]
    if unknown:
        raise ValueError(
            f"{fn}: unknown {where} key(s) {', '.join(map(repr, unknown))}; "
            f"allowed keys are {', '.join(map(repr, allowed))}"
        )


def _eps(param, where, fn):
    """param['eps'] (default 1e-5; also when param is None), checked to be a finite number >= 0."""
    if param is None:
        return 1e-5
    if not isinstance(param, dict):
        raise TypeError(f"{fn}: {where} must be a dict, got {type(param).__name__}")
    eps = param.get("eps", 1e-5)
    _check_real(f"{where}['eps']", eps, 0, float("inf"), fn)
    if not math.isfinite(eps):
        raise ValueError(f"{fn}: {where}['eps'] must be a finite number >= 0, got {eps!r}")
    return eps


def _bn_setup(bn_param, num_features, dtype, values_per_feature, fn):
    """
    Validate bn_param and fill in its defaults (setup, not layer math).

    Creates bn_param['running_mean'] and bn_param['running_var'] as zeros of shape (num_features,) and x's dtype
    when absent. In train mode, every feature needs at least 2 values to estimate a variance.

    Returns mode, eps, momentum, running_mean, running_var (the arrays stored in bn_param).
    """
    _check_keys(bn_param, _BN_PARAM_KEYS, "bn_param", fn)
    if "mode" not in bn_param:
        raise ValueError(f"{fn}: bn_param needs a 'mode' key, 'train' or 'test'; got keys {sorted(bn_param)}")
    mode = bn_param["mode"]
    _check_mode(mode, "bn_param", fn)
    eps = _eps(bn_param, "bn_param", fn)
    momentum = bn_param.get("momentum", 0.9)
    _check_real("bn_param['momentum']", momentum, 0, 1, fn)
    if mode == "train" and values_per_feature < 2:
        raise ValueError(
            f"{fn}: train mode needs at least 2 values per feature to estimate a variance, got {values_per_feature}; "
            "use mode 'test' (running statistics) for a single sample"
        )
    running = []
    for key in ("running_mean", "running_var"):
        value = bn_param.get(key)
        if value is None:
            value = bn_param[key] = np.zeros(num_features, dtype=dtype)
        elif not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise TypeError(f"{fn}: bn_param[{key!r}] must be a floating-point numpy array, got {value!r}")
        elif value.shape != (num_features,):
            raise ValueError(f"{fn}: bn_param[{key!r}] has shape {value.shape}, expected ({num_features},)")
        running.append(value)
    return mode, eps, momentum, running[0], running[1]


# --------------------------------------------------------------------------------------------------------------
# Affine, ReLU, sigmoid
# --------------------------------------------------------------------------------------------------------------


def affine_forward(x, w, b):
    """
    Forward pass for an affine (fully connected) layer: out = x.reshape(N, D) @ w + b.

    Inputs:
    - x: Array of shape (N, d_1, ..., d_k); each example is flattened to D = d_1 * ... * d_k values.
    - w: Weights of shape (D, M).
    - b: Biases of shape (M,).

    Returns a tuple of:
    - out: Output of shape (N, M).
    - cache: (x, w), the inputs.
    """
    x, w = np.asarray(x), np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"affine_forward: w must have shape (D, M), got shape {w.shape}")
    if x.ndim < 1 or (x.shape[0] and x.size // x.shape[0] != w.shape[0]):
        raise ValueError(
            f"affine_forward: x of shape {x.shape} does not flatten to (N, D) with D = {w.shape[0]} (the rows of w)"
        )
    _check_param_shape("b", b, [(w.shape[1],)], "output unit (column of w)", "affine_forward")
    # TODO: implement the affine forward pass; flatten each example first (FullyConnectedNets.ipynb, section 2 "The affine layer").
    ### BEGIN SOLUTION
    out = x.reshape(x.shape[0], -1) @ w + b
    cache = (x, w)
    ### END SOLUTION
    return out, cache


def affine_backward(dout, cache):
    """
    Backward pass for an affine layer.

    Inputs:
    - dout: Upstream derivative of shape (N, M).
    - cache: (x, w) from affine_forward; x of shape (N, d_1, ..., d_k), w of shape (D, M).

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k).
    - dw: Gradient with respect to w, of shape (D, M).
    - db: Gradient with respect to b, of shape (M,).
    """
    x, w = cache
    # TODO: implement the affine backward pass; dx has x's original shape (FullyConnectedNets.ipynb, section 2 "The affine layer").
    ### BEGIN SOLUTION
    dx = (dout @ w.T).reshape(x.shape)  # out = x2d @ w + b
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    ### END SOLUTION
    return dx, dw, db


def relu_forward(x):
    """
    Forward pass for a layer of rectified linear units: out = max(0, x).

    Inputs:
    - x: Array of any shape.

    Returns a tuple of:
    - out: Output, of x's shape and dtype.
    - cache: x.
    """
    # TODO: implement the ReLU forward pass (FullyConnectedNets.ipynb, section 3 "ReLU").
    ### BEGIN SOLUTION
    out = np.maximum(x, 0)  # np.maximum propagates NaN
    cache = x
    ### END SOLUTION
    return out, cache


def relu_backward(dout, cache):
    """
    Backward pass for a layer of rectified linear units.

    Inputs:
    - dout: Upstream derivative, of any shape.
    - cache: x from relu_forward, of dout's shape.

    Returns:
    - dx: Gradient with respect to x (the derivative at x = 0 is taken to be 0).
    """
    x = cache
    # TODO: implement the ReLU backward pass (FullyConnectedNets.ipynb, section 3 "ReLU").
    ### BEGIN SOLUTION
    dx = dout * (x > 0)  # d max(0, x) / dx = 1 where x > 0, else 0
    ### END SOLUTION
    return dx


def sigmoid_forward(x):
    """
    Forward pass for a layer of logistic sigmoid units: out = 1 / (1 + exp(-x)).

    Numerically stable for any x: no overflow warning for large |x| (exp(-x) overflows for x < -709 in float64,
    x < -88 in float32, where the output is then 0, as it should be up to the subnormal range), and tiny
    outputs such as sigmoid(-100) keep their relative precision.

    Inputs:
    - x: Floating array of any shape.

    Returns a tuple of:
    - out: Output in [0, 1], of x's shape and dtype.
    - cache: out (the derivative can be written in terms of the output alone).
    """
    x = _floating(x, "x", "sigmoid_forward")
    # TODO: implement a numerically stable sigmoid forward pass, no overflow for large |x| (FullyConnectedNets.ipynb, section 4 "Sigmoid").
    ### BEGIN SOLUTION
    # exp(-x) overflows to inf for very negative x, and 1 / (1 + inf) = 0 is then the right answer, so the
    # overflow is expected and silenced; for moderate x < 0, 1 / (1 + exp(-x)) keeps full relative precision.
    # (Branching on the sign with np.where is as accurate but costs twice as much on training-sized arrays.)
    with np.errstate(over="ignore"):
        out = np.negative(x)
        np.exp(out, out=out)  # exp(-x), in place
        out += 1
        np.reciprocal(out, out=out)  # 1 / (1 + exp(-x))
    cache = out
    ### END SOLUTION
    return out, cache


def sigmoid_backward(dout, cache):
    """
    Backward pass for a layer of logistic sigmoid units, from the cached output alone.

    Inputs:
    - dout: Upstream derivative, of any shape.
    - cache: out from sigmoid_forward, of dout's shape.

    Returns:
    - dx: Gradient with respect to x.
    """
    out = cache
    # TODO: implement the sigmoid backward pass from the cached output (FullyConnectedNets.ipynb, section 4 "Sigmoid").
    ### BEGIN SOLUTION
    dx = dout * out * (1.0 - out)
    ### END SOLUTION
    return dx


# --------------------------------------------------------------------------------------------------------------
# Batch normalization
# --------------------------------------------------------------------------------------------------------------


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Forward pass for batch normalization (Ioffe & Szegedy 2015, Algorithm 1).

    Train time, with the mini-batch's mean and biased (divide by N) variance of each feature:

        mean = sum_n x[n] / N;    var = sum_n (x[n] - mean)**2 / N           (two passes: centre, then square)
        x_hat = (x - mean) / sqrt(var + eps);    out = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var  = momentum * running_var  + (1 - momentum) * var

    Test time, with the running averages instead of the batch statistics:

        out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta

    This is normalization.standardize over axis 0 (see there for the whole normalization family).

    Inputs:
    - x: Floating array of shape (N, D); train mode needs N >= 2.
    - gamma: Scale parameter of shape (D,).
    - beta: Shift parameter of shape (D,).
    - bn_param: Dictionary with the following keys (any other key is a ValueError):
      - mode: 'train' or 'test'; required.
      - eps: Constant for numeric stability (default 1e-5), read.
      - momentum: Constant for the running averages (default 0.9), read. PyTorch's momentum=0.1 is 0.9 here.
      - running_mean: Array of shape (D,), running average of the means of features. Created as zeros of x's
        dtype when absent; updated in place after every train-mode call; read in test mode.
      - running_var: Array of shape (D,), running average of the (biased) variances of features; same handling.

    Returns a tuple of:
    - out: Output of shape (N, D).
    - cache: (x_hat, inv_std, gamma): x_hat (N, D) the normalized input, inv_std 1 / sqrt(var + eps) per feature,
      broadcastable against (N, D), and gamma (D,). It is the only (N, D) array kept, and both
      batchnorm_backward (which rebuilds the intermediates it needs from it) and batchnorm_backward_alt accept it.
      Both backward functions differentiate the train-time equations: a test-mode cache has nothing to rebuild the
      batch statistics from.
    """
    fn = "batchnorm_forward"
    x = _floating(x, "x", fn)
    _check_ndim(x, 2, "(N, D)", fn)
    N, D = x.shape
    _check_param_shape("gamma", gamma, [(D,)], f"feature, D = {D}", fn)
    _check_param_shape("beta", beta, [(D,)], f"feature, D = {D}", fn)
    mode, eps, momentum, running_mean, running_var = _bn_setup(bn_param, D, x.dtype, N, fn)
    # TODO: implement the train- and test-time batch norm forward pass (BatchNormalization.ipynb, section 2 "Forward pass").
    ### BEGIN SOLUTION
    if mode == "train":
        x_hat, mean, var, inv_std = standardize(x, axis=0, eps=eps)  # statistics over the mini-batch axis
        # Update the running averages in place (they live in bn_param), with the same biased variance.
        running_mean *= momentum
        running_mean += (1 - momentum) * mean.ravel()
        running_var *= momentum
        running_var += (1 - momentum) * var.ravel()
    else:
        inv_std = 1.0 / np.sqrt(running_var + eps)
        with row_buffers(x):  # per-feature vectors broadcast over the rows: see normalization.row_buffers
            x_hat = x - running_mean
            x_hat *= inv_std
    # In place where possible: every (N, D) temporary costs a fresh allocation and a pass over memory.
    with row_buffers(x):
        out = gamma * x_hat
        out += beta
    cache = (x_hat, inv_std, gamma)
    ### END SOLUTION
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Backward pass for batch normalization, staged: one backward step per node of the forward graph.

    The forward graph (train time), one line per node:

        (1) mean = sum(x, axis=0) / N
        (2) x_centered = x - mean
        (3) sq = x_centered ** 2
        (4) var = sum(sq, axis=0) / N
        (5) std = sqrt(var + eps)
        (6) inv_std = 1 / std
        (7) x_hat = x_centered * inv_std
        (8) gamma_x_hat = gamma * x_hat
        (9) out = gamma_x_hat + beta

    (batchnorm_forward evaluates this graph through normalization.standardize, fusing (3)-(4) into one einsum and
    (5)-(6) into one line.) The cache keeps only x_hat and inv_std, so the intermediates are rebuilt first
    (std = 1 / inv_std, x_centered = x_hat * std); then the steps run from node (9) back to node (1), each
    multiplying the upstream derivative by the node's local derivative. Where a variable feeds two nodes
    (x_centered feeds (3) and (7); x feeds (1) and (2)) its gradients add up. batchnorm_backward_alt computes the
    same gradients in closed form.

    Inputs:
    - dout: Upstream derivative of shape (N, D).
    - cache: (x_hat, inv_std, gamma) from batchnorm_forward in train mode.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, D).
    - dgamma: Gradient with respect to gamma, of shape (D,).
    - dbeta: Gradient with respect to beta, of shape (D,).
    """
    x_hat, inv_std, gamma = cache
    # TODO: implement the staged batch norm backward pass, node by node (BatchNormalization.ipynb, section 3 "Backward pass").
    ### BEGIN SOLUTION
    N = x_hat.shape[0]
    # Rebuild the forward graph's intermediates from the cache.
    std = 1.0 / inv_std
    x_centered = x_hat * std

    # (9) out = gamma_x_hat + beta
    dbeta = dout.sum(axis=0)
    dgamma_x_hat = dout
    # (8) gamma_x_hat = gamma * x_hat
    dgamma = (dgamma_x_hat * x_hat).sum(axis=0)
    dx_hat = dgamma_x_hat * gamma
    # (7) x_hat = x_centered * inv_std
    dinv_std = (dx_hat * x_centered).sum(axis=0)  # inv_std was broadcast over the batch: sum
    dx_centered = dx_hat * inv_std
    # (6) inv_std = 1 / std
    dstd = -dinv_std / std**2
    # (5) std = sqrt(var + eps)
    dvar = dstd / (2 * std)
    # (4) var = sum(sq, axis=0) / N
    dsq = np.ones_like(x_hat) * dvar / N
    # (3) sq = x_centered ** 2
    dx_centered += 2 * x_centered * dsq  # second path into x_centered
    # (2) x_centered = x - mean
    dx = dx_centered
    dmean = -dx_centered.sum(axis=0)
    # (1) mean = sum(x, axis=0) / N
    dx += dmean / N  # second path into x
    ### END SOLUTION
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """
    Backward pass for batch normalization, in closed form.

    Simplifying the staged backward pass on paper leaves an expression for dx that fits on one line, in terms of
    dout, x_hat, inv_std, gamma, N and the sums dbeta = sum_n dout[n] and dgamma = sum_n dout[n] * x_hat[n].
    Only x_hat (N, D) is needed from the forward pass: the cache holds no other (N, D) array, and dx is the only
    (N, D) array allocated here.

    Inputs:
    - dout: Upstream derivative of shape (N, D).
    - cache: (x_hat, inv_std, gamma) from batchnorm_forward in train mode, the same cache batchnorm_backward takes.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, D).
    - dgamma: Gradient with respect to gamma, of shape (D,).
    - dbeta: Gradient with respect to beta, of shape (D,).
    """
    x_hat, inv_std, gamma = cache
    # TODO: implement the closed-form batch norm backward pass (BatchNormalization.ipynb, section 4 "The closed form").
    ### BEGIN SOLUTION
    N = x_hat.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.einsum("nd,nd->d", dout, x_hat)  # sum over n of dout * x_hat, without an (N, D) temporary
    # The closed form: dx = gamma * inv_std * (dout - (dbeta + x_hat * dgamma) / N), evaluated in place in dx:
    # four passes over (N, D) arrays and one allocation. (It is normalization.standardize_backward(dout * gamma,
    # x_hat, inv_std, axis=0) with gamma, constant over the batch axis, pulled out of the means.)
    with row_buffers(x_hat):  # per-feature vectors broadcast over the rows: see normalization.row_buffers
        dx = x_hat * (dgamma / N)
        dx += dbeta / N
        np.subtract(dout, dx, out=dx)
        dx *= gamma * inv_std
    ### END SOLUTION
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------------------------------------------
# The rest of the normalization family: layer norm, spatial batch norm, group norm
# --------------------------------------------------------------------------------------------------------------


def layernorm_forward(x, gamma, beta, ln_param):
    """
    Forward pass for layer normalization (Ba, Kiros & Hinton 2016): each sample is normalized over its features.

        mean = sum_d x[:, d] / D;    var = sum_d (x[:, d] - mean)**2 / D      (one per sample)
        out = gamma * (x - mean) / sqrt(var + eps) + beta

    Train and test time are identical: no running statistics. This is normalization.standardize over axis 1.

    Inputs:
    - x: Floating array of shape (N, D).
    - gamma: Scale parameter of shape (D,).
    - beta: Shift parameter of shape (D,).
    - ln_param: Dictionary (or None) with key eps (default 1e-5), read; other keys (e.g. a 'mode' left by a model
      that shares its bn_params) are ignored.

    Returns a tuple of:
    - out: Output of shape (N, D).
    - cache: (x_hat, inv_std, gamma): x_hat (N, D), inv_std (N, 1), gamma (D,).
    """
    fn = "layernorm_forward"
    x = _floating(x, "x", fn)
    _check_ndim(x, 2, "(N, D)", fn)
    D = x.shape[1]
    _check_param_shape("gamma", gamma, [(D,)], f"feature, D = {D}", fn)
    _check_param_shape("beta", beta, [(D,)], f"feature, D = {D}", fn)
    eps = _eps(ln_param, "ln_param", fn)
    # TODO: implement the layer norm forward pass (BatchNormalization.ipynb, section 5.5 "Layer normalization").
    ### BEGIN SOLUTION
    x_hat, _, _, inv_std = standardize(x, axis=1, eps=eps)  # statistics over each sample's features
    out = gamma * x_hat
    out += beta
    cache = (x_hat, inv_std, gamma)
    ### END SOLUTION
    return out, cache


def layernorm_backward(dout, cache):
    """
    Backward pass for layer normalization.

    Inputs:
    - dout: Upstream derivative of shape (N, D).
    - cache: (x_hat, inv_std, gamma) from layernorm_forward.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, D).
    - dgamma: Gradient with respect to gamma, of shape (D,).
    - dbeta: Gradient with respect to beta, of shape (D,).
    """
    x_hat, inv_std, gamma = cache
    # TODO: implement the layer norm backward pass (BatchNormalization.ipynb, section 5.5 "Layer normalization").
    ### BEGIN SOLUTION
    dbeta = dout.sum(axis=0)
    dgamma = np.einsum("nd,nd->d", dout, x_hat)
    dx = standardize_backward(dout * gamma, x_hat, inv_std, axis=1)
    ### END SOLUTION
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """
    Forward pass for spatial batch normalization: batch norm of convolutional feature maps, one mean and variance
    per channel over the batch and all spatial positions (N * H * W values each).

    Train time: mean, var over axes (0, 2, 3); x_hat = (x - mean) / sqrt(var + eps); out = gamma * x_hat + beta;
    running averages updated as in batchnorm_forward. Test time: normalize with the running averages.
    This is normalization.standardize over axes (0, 2, 3).

    Inputs:
    - x: Floating array of shape (N, C, H, W); train mode needs N * H * W >= 2.
    - gamma: Scale parameter of shape (C,).
    - beta: Shift parameter of shape (C,).
    - bn_param: Dictionary as in batchnorm_forward (mode required; eps, momentum read; running_mean, running_var of
      shape (C,) created when absent, updated in place in train mode, read in test mode).

    Returns a tuple of:
    - out: Output of shape (N, C, H, W).
    - cache: (x_hat, inv_std, gamma): x_hat (N, C, H, W), inv_std (1, C, 1, 1), gamma (C,).
    """
    fn = "spatial_batchnorm_forward"
    x = _floating(x, "x", fn)
    _check_ndim(x, 4, "(N, C, H, W)", fn)
    N, C, H, W = x.shape
    _check_param_shape("gamma", gamma, [(C,)], f"channel, C = {C}", fn)
    _check_param_shape("beta", beta, [(C,)], f"channel, C = {C}", fn)
    mode, eps, momentum, running_mean, running_var = _bn_setup(bn_param, C, x.dtype, N * H * W, fn)
    # TODO: spatial batch norm, statistics per channel (NormalizationFamily.ipynb, section 2 "Spatial batch normalization").
    ### BEGIN SOLUTION
    per_channel = (1, C, 1, 1)  # shape that broadcasts a per-channel vector against (N, C, H, W)
    if mode == "train":
        x_hat, mean, var, inv_std = standardize(x, axis=(0, 2, 3), eps=eps)
        running_mean *= momentum
        running_mean += (1 - momentum) * mean.ravel()
        running_var *= momentum
        running_var += (1 - momentum) * var.ravel()
    else:
        inv_std = 1.0 / np.sqrt(running_var.reshape(per_channel) + eps)
        x_hat = x - running_mean.reshape(per_channel)
        x_hat *= inv_std
    out = np.reshape(gamma, per_channel) * x_hat
    out += np.reshape(beta, per_channel)
    cache = (x_hat, inv_std, gamma)
    ### END SOLUTION
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """
    Backward pass for spatial batch normalization (train mode).

    Inputs:
    - dout: Upstream derivative of shape (N, C, H, W).
    - cache: (x_hat, inv_std, gamma) from spatial_batchnorm_forward.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W).
    - dgamma: Gradient with respect to gamma, of shape (C,).
    - dbeta: Gradient with respect to beta, of shape (C,).
    """
    x_hat, inv_std, gamma = cache
    # TODO: spatial batch norm backward pass (NormalizationFamily.ipynb, section 2 "Spatial batch normalization").
    ### BEGIN SOLUTION
    C = x_hat.shape[1]
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = np.einsum("nchw,nchw->c", dout, x_hat)
    dx = standardize_backward(dout * np.reshape(gamma, (1, C, 1, 1)), x_hat, inv_std, axis=(0, 2, 3))
    ### END SOLUTION
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """
    Forward pass for spatial group normalization (Wu & He 2018): the C channels are split into G contiguous groups
    of C // G channels, and each sample is normalized per group, over that group's channels and positions.

        x_groups = x.reshape(N, G, C // G, H, W)
        mean, var over axes (2, 3, 4) of x_groups          (one per sample and group)
        x_hat = (x_groups - mean) / sqrt(var + eps), reshaped back to (N, C, H, W)
        out = gamma * x_hat + beta                          (one gamma, beta per channel)

    Train and test time are identical. G = 1 is layer norm over (C, H, W); G = C is instance norm.
    This is normalization.standardize over axes (2, 3, 4) of x_groups.

    Inputs:
    - x: Floating array of shape (N, C, H, W).
    - gamma: Scale parameter of shape (1, C, 1, 1) (or (C,)).
    - beta: Shift parameter of shape (1, C, 1, 1) (or (C,)).
    - G: Integer number of groups, a divisor of C.
    - gn_param: Dictionary (or None) with key eps (default 1e-5), read; other keys are ignored.

    Returns a tuple of:
    - out: Output of shape (N, C, H, W).
    - cache: (x_hat, inv_std, gamma, G): x_hat (N, C, H, W), inv_std (N, G, 1, 1, 1), gamma as given, G.
    """
    fn = "spatial_groupnorm_forward"
    x = _floating(x, "x", fn)
    _check_ndim(x, 4, "(N, C, H, W)", fn)
    N, C, H, W = x.shape
    if isinstance(G, bool) or not isinstance(G, numbers.Integral):
        raise TypeError(f"{fn}: the number of groups G must be an integer, got {G!r}")
    if G < 1 or C % G:
        divisors = [g for g in range(1, C + 1) if C % g == 0]
        raise ValueError(f"{fn}: G = {G} does not divide the number of channels C = {C}; allowed G: {divisors}")
    _check_param_shape("gamma", gamma, [(1, C, 1, 1), (C,)], f"channel, C = {C}", fn)
    _check_param_shape("beta", beta, [(1, C, 1, 1), (C,)], f"channel, C = {C}", fn)
    eps = _eps(gn_param, "gn_param", fn)
    # TODO: group norm over groups of C // G channels (NormalizationFamily.ipynb, section 3 "Spatial group normalization").
    ### BEGIN SOLUTION
    per_channel = (1, C, 1, 1)
    x_groups = x.reshape(N, G, C // G, H, W)  # groups are contiguous blocks of channels
    x_hat, _, _, inv_std = standardize(x_groups, axis=(2, 3, 4), eps=eps)
    x_hat = x_hat.reshape(N, C, H, W)
    out = np.reshape(gamma, per_channel) * x_hat
    out += np.reshape(beta, per_channel)
    cache = (x_hat, inv_std, gamma, G)
    ### END SOLUTION
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """
    Backward pass for spatial group normalization.

    Inputs:
    - dout: Upstream derivative of shape (N, C, H, W).
    - cache: (x_hat, inv_std, gamma, G) from spatial_groupnorm_forward.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W).
    - dgamma: Gradient with respect to gamma, in the shape gamma was given ((1, C, 1, 1) or (C,)).
    - dbeta: Gradient with respect to beta, in the same shape.
    """
    x_hat, inv_std, gamma, G = cache
    # TODO: group norm backward pass (NormalizationFamily.ipynb, section 3 "Spatial group normalization").
    ### BEGIN SOLUTION
    N, C, H, W = x_hat.shape
    grouped = (N, G, C // G, H, W)
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(np.shape(gamma))
    dgamma = np.einsum("nchw,nchw->c", dout, x_hat).reshape(np.shape(gamma))
    dx_hat = dout * np.reshape(gamma, (1, C, 1, 1))
    dx = standardize_backward(dx_hat.reshape(grouped), x_hat.reshape(grouped), inv_std, axis=(2, 3, 4))
    dx = dx.reshape(N, C, H, W)
    ### END SOLUTION
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------------------------------


def dropout_forward(x, dropout_param):
    """
    Forward pass for inverted dropout.

    Train time: keep each unit with probability p and scale the kept ones by 1 / p, so that the expected output
    equals x and test time needs no rescaling:

        mask = (U < p) / p,  U ~ Uniform[0, 1) elementwise;    out = x * mask
    Test time: out = x.

    Inputs:
    - x: Floating array of any shape.
    - dropout_param: Dictionary with the following keys (any other key is a ValueError):
      - p: Probability of KEEPING each unit, 0 < p <= 1; required.
      - mode: 'train' or 'test'; required.
      - seed: Optional seed (anything np.random.default_rng accepts). With a seed the mask is the same on every call
        (gradient checks rely on this); the global random state is neither read nor reseeded. Without a seed the
        mask is drawn from the global np.random state, so np.random.seed(...) makes runs reproducible.

    Returns a tuple of:
    - out: Output of x's shape and dtype.
    - cache: (mode, mask): mask of x's shape and dtype, already divided by p (None in test mode).
    """
    fn = "dropout_forward"
    x = _floating(x, "x", fn)
    _check_keys(dropout_param, _DROPOUT_PARAM_KEYS, "dropout_param", fn)
    for key in ("p", "mode"):
        if key not in dropout_param:
            raise ValueError(f"{fn}: dropout_param needs a {key!r} key; got keys {sorted(dropout_param)}")
    p, mode, seed = dropout_param["p"], dropout_param["mode"], dropout_param.get("seed")
    _check_real("dropout_param['p'] (the keep probability)", p, 0, 1, fn, low_open=True)
    _check_mode(mode, "dropout_param", fn)
    rng = np.random if seed is None else np.random.default_rng(seed)
    # TODO: implement inverted dropout: scale the kept units by 1 / p at train time (Dropout.ipynb, section 1 "Inverted dropout").
    ### BEGIN SOLUTION
    if mode == "train":
        mask = (rng.random(x.shape) < p).astype(x.dtype)
        mask /= p  # in place: keeps x's dtype
        out = x * mask
    else:
        mask = None
        out = x
    cache = (mode, mask)
    ### END SOLUTION
    return out, cache


def dropout_backward(dout, cache):
    """
    Backward pass for inverted dropout.

    Inputs:
    - dout: Upstream derivative, of any shape.
    - cache: (mode, mask) from dropout_forward.

    Returns:
    - dx: Gradient with respect to x, of dout's shape.
    """
    mode, mask = cache
    # TODO: implement the dropout backward pass (Dropout.ipynb, section 2 "The backward pass").
    ### BEGIN SOLUTION
    dx = dout * mask if mode == "train" else dout
    ### END SOLUTION
    return dx


# --------------------------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------------------------


def _scores_and_labels(x, y, fn):
    """Validate classification scores x (N, C) and integer labels y (N,) in [0, C)."""
    x = _floating(x, "x", fn)
    _check_ndim(x, 2, "(N, C)", fn)
    N, C = x.shape
    if N < 1 or C < 1:
        raise ValueError(f"{fn}: x must hold at least one sample and one class, got shape {x.shape}")
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{fn}: labels y must be integers, got dtype {y.dtype}")
    if y.shape != (N,):
        raise ValueError(f"{fn}: labels y have shape {y.shape}, expected ({N},), one label per row of x")
    bad = (y < 0) | (y >= C)
    if bad.any():
        raise ValueError(
            f"{fn}: labels must be in [0, {C - 1}] for C = {C} classes, "
            f"got {y[bad][0]} at index {np.flatnonzero(bad)[0]}"
        )
    return x, y


def svm_loss(x, y):
    """
    Multiclass SVM (hinge) loss and its gradient, averaged over the samples:

        L = (1 / N) * sum_n sum_{j != y[n]} max(0, x[n, j] - x[n, y[n]] + 1)

    Inputs:
    - x: Floating array of scores of shape (N, C); x[n, j] is the score of class j for sample n.
    - y: Integer labels of shape (N,), 0 <= y[n] < C.

    Returns a tuple of:
    - loss: Scalar giving the loss.
    - dx: Gradient of the loss with respect to x, of shape (N, C).
    """
    x, y = _scores_and_labels(x, y, "svm_loss")
    # TODO: implement the multiclass SVM loss and its gradient, vectorized (FullyConnectedNets.ipynb, section 6 "Loss layers").
    ### BEGIN SOLUTION
    N = x.shape[0]
    rows = np.arange(N)
    margins = np.maximum(x - x[rows, y][:, None] + 1.0, 0)
    margins[rows, y] = 0
    loss = margins.sum() / N
    positive = margins > 0
    dx = positive.astype(x.dtype)  # each violated margin adds +1 to its class ...
    dx[rows, y] -= positive.sum(axis=1)  # ... and -1 to the correct class
    dx /= N
    ### END SOLUTION
    return loss, dx


def softmax_loss(x, y):
    """
    Softmax (cross-entropy) loss and its gradient, averaged over the samples:

        L = -(1 / N) * sum_n log softmax(x[n])[y[n]],    softmax(s)[j] = exp(s[j]) / sum_k exp(s[k])

    Numerically stable: the scores are shifted so that each row's maximum is 0 (softmax is unchanged), so exp
    cannot overflow, and log softmax is computed as s - log(sum exp(s)) (log-sum-exp), never as log(exp(.) / .).

    Inputs:
    - x: Floating array of scores of shape (N, C).
    - y: Integer labels of shape (N,), 0 <= y[n] < C.

    Returns a tuple of:
    - loss: Scalar giving the loss.
    - dx: Gradient of the loss with respect to x, of shape (N, C).
    """
    x, y = _scores_and_labels(x, y, "softmax_loss")
    # TODO: implement the softmax loss and its gradient, numerically stable (FullyConnectedNets.ipynb, section 6 "Loss layers").
    ### BEGIN SOLUTION
    N = x.shape[0]
    rows = np.arange(N)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].mean()
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= N
    ### END SOLUTION
    return loss, dx


# --------------------------------------------------------------------------------------------------------------
# Convolution and pooling
# --------------------------------------------------------------------------------------------------------------
# The naive versions: loops over the output positions, one small dot product or maximum per window, written to
# be read next to the equations. cs231n_bn/fast_layers.py computes the same results without the loops.

from .kit.validation import check_conv_inputs, check_pool_inputs  # noqa: E402 (this section's validation)


def conv_forward_naive(x, w, b, conv_param):
    """
    A naive implementation of the forward pass for a convolutional layer (cross-correlation, as in every deep
    learning library). The input consists of N data points, each with C channels, height H and width W. Each of
    the F filters spans all C channels and has height HH and width WW. With x_pad the input zero-padded by p on
    both sides of the height and width axes and s the stride:

        out[n, f, i, j] = sum_{c, k, l} x_pad[n, c, i * s + k, j * s + l] * w[f, c, k, l] + b[f]

    Inputs:
    - x: Input data of shape (N, C, H, W).
    - w: Filter weights of shape (F, C, HH, WW).
    - b: Biases, of shape (F,).
    - conv_param: A dictionary with the following keys (both required, no others):
      - 'stride': The number of pixels between adjacent receptive fields in the horizontal and vertical
        directions, an integer >= 1.
      - 'pad': The number of pixels that will be used to zero-pad the input, an integer >= 0. Padding is
        applied symmetrically along the height and width axes; the input itself is not modified.
      (H + 2 * pad - HH) and (W + 2 * pad - WW) must be divisible by the stride.

    Returns a tuple of:
    - out: Output data, of shape (N, F, H', W') where H' and W' are given by
        H' = 1 + (H + 2 * pad - HH) / stride
        W' = 1 + (W + 2 * pad - WW) / stride
    - cache: Whatever conv_backward_naive needs.
    """
    N, F, H_out, W_out = check_conv_inputs(x, w, b, conv_param, "conv_forward_naive")
    # TODO: implement the convolutional forward pass, one dot product per output position (ConvolutionalNetworks.ipynb, section 1 "Convolution: naive forward pass").
    ### BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    HH, WW = w.shape[2], w.shape[3]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # zeros around the height and width only
    w_rows = w.reshape(F, -1)  # each filter as one row of C * HH * WW weights
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w))
    for i in range(H_out):
        for j in range(W_out):
            window = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]  # (N, C, HH, WW)
            out[:, :, i, j] = window.reshape(N, -1) @ w_rows.T + b
    cache = (x, w, b, conv_param)
    ### END SOLUTION
    return out, cache


def conv_backward_naive(dout, cache):
    """
    A naive implementation of the backward pass for a convolutional layer. Each output value
    out[n, f, i, j] received x_pad[n, :, i * s : i * s + HH, j * s : j * s + WW] times w[f]; so

        dw[f]     = sum_{n, i, j} dout[n, f, i, j] * x_pad[n, :, i * s : i * s + HH, j * s : j * s + WW]
        dx_pad[n, :, i * s : i * s + HH, j * s : j * s + WW] += sum_f dout[n, f, i, j] * w[f]
        db[f]     = sum_{n, i, j} dout[n, f, i, j]

    and dx is dx_pad without its padding.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H', W').
    - cache: From conv_forward_naive.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W).
    - dw: Gradient with respect to w, of shape (F, C, HH, WW).
    - db: Gradient with respect to b, of shape (F,).
    """
    # TODO: implement the convolutional backward pass (ConvolutionalNetworks.ipynb, section 2 "Convolution: naive backward pass").
    ### BEGIN SOLUTION
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for i in range(H_out):
        for j in range(W_out):
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            window = x_pad[:, :, rows, cols].reshape(N, -1)  # (N, C * HH * WW)
            d_out_ij = dout[:, :, i, j]  # (N, F)
            dw += (d_out_ij.T @ window).reshape(w.shape)
            dx_pad[:, :, rows, cols] += (d_out_ij @ w.reshape(F, -1)).reshape(N, C, HH, WW)
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    db = dout.sum(axis=(0, 2, 3))
    ### END SOLUTION
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """
    A naive implementation of the forward pass for a max-pooling layer: each channel of each example separately,
    the maximum over every pool_height x pool_width window, windows `stride` pixels apart:

        out[n, c, i, j] = max_{k < pool_height, l < pool_width} x[n, c, i * stride + k, j * stride + l]

    No padding is necessary here.

    Inputs:
    - x: Input data, of shape (N, C, H, W).
    - pool_param: A dictionary with the following keys (all required, no others):
      - 'pool_height': The height of each pooling region, an integer >= 1.
      - 'pool_width': The width of each pooling region, an integer >= 1.
      - 'stride': The distance between adjacent pooling regions, an integer >= 1.
      (H - pool_height) and (W - pool_width) must be divisible by the stride.

    Returns a tuple of:
    - out: Output data, of shape (N, C, H', W') where H' and W' are given by
        H' = 1 + (H - pool_height) / stride
        W' = 1 + (W - pool_width) / stride
    - cache: Whatever max_pool_backward_naive needs.
    """
    N, C, H_out, W_out = check_pool_inputs(x, pool_param, "max_pool_forward_naive")
    # TODO: implement the max-pooling forward pass (ConvolutionalNetworks.ipynb, section 3 "Max pooling: naive forward and backward passes").
    ### BEGIN SOLUTION
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]  # (N, C, ph, pw)
            out[:, :, i, j] = window.max(axis=(2, 3))
    cache = (x, pool_param)
    ### END SOLUTION
    return out, cache


def max_pool_backward_naive(dout, cache):
    """
    A naive implementation of the backward pass for a max-pooling layer. The maximum of a window depends only on
    the input where it is attained, with derivative 1 there: each dout[n, c, i, j] goes to that one input of its
    window (if several inputs tie for the maximum, to the first of them in row-major order), and the inputs
    of overlapping windows add up what they receive.

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H', W').
    - cache: From max_pool_forward_naive.

    Returns:
    - dx: Gradient with respect to x, of shape (N, C, H, W).
    """
    # TODO: implement the max-pooling backward pass (ConvolutionalNetworks.ipynb, section 3 "Max pooling: naive forward and backward passes").
    ### BEGIN SOLUTION
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    n, c = np.indices((N, C))  # index every (example, channel) pair at once
    dx = np.zeros_like(x)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            first_max = window.reshape(N, C, ph * pw).argmax(axis=2)  # (N, C), row-major position in the window
            k, l = np.unravel_index(first_max, (ph, pw))
            dx[n, c, i * stride + k, j * stride + l] += dout[:, :, i, j]
    ### END SOLUTION
    return dx
