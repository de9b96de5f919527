"""Layers as pure (out, cache) = forward(...) / grads = backward(dout, cache) function pairs, cs231n style.

Every forward function returns its output and a cache: whatever its backward function needs, and the choice of
what to keep is yours. Every backward function takes the upstream derivative dout (of the output's shape) and that
cache. Nothing is stored elsewhere, except the running statistics of batch norm, which live in the caller's
bn_param dict.

Each public function starts with one call into cs231n_bn/kit/validation.py, which checks the arguments: a bad
mode, shape, dtype or hyperparameter raises ValueError / TypeError naming the bad value and what is allowed, before
anything is computed or changed. NaN inputs are not errors: they propagate to the outputs. An output's dtype is
yours to choose: for float32 input, float32 or float64 outputs and gradients are both correct (computing in float64
is); the networks cast what they store to their own dtype.
"""

import numpy as np

from .kit.validation import (
    check_activation_input,
    check_affine_inputs,
    check_batchnorm_inputs,
    check_cache,
    check_conv_inputs,
    check_dout,
    check_dropout_inputs,
    check_groupnorm_inputs,
    check_layernorm_inputs,
    check_loss_inputs,
    check_pool_inputs,
    check_spatial_batchnorm_inputs,
)
from .normalization import standardize, standardize_backward

# --------------------------------------------------------------------------------------------------------------
# Affine, ReLU, sigmoid
# --------------------------------------------------------------------------------------------------------------


def affine_forward(x, w, b):
    """
    Forward pass for an affine (fully connected) layer. Each example is flattened into a row of D values:

        out = x.reshape(N, D) @ w + b

    Inputs:
    - x: Array of shape (N, d_1, ..., d_k), with D = d_1 * ... * d_k.
    - w: Weights of shape (D, M).
    - b: Biases of shape (M,).

    Returns a tuple of:
    - out: Output of shape (N, M).
    - cache: Whatever affine_backward needs.
    """
    check_affine_inputs(x, w, b)
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
    - cache: From affine_forward.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k) (x's original shape).
    - dw: Gradient with respect to w, of shape (D, M).
    - db: Gradient with respect to b, of shape (M,).
    """
    # TODO: implement the affine backward pass; dx has x's original shape (FullyConnectedNets.ipynb, section 2 "The affine layer").
    ### BEGIN SOLUTION
    x, w = cache
    check_dout(dout, (x.shape[0], w.shape[1]), "affine_backward")
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    ### END SOLUTION
    return dx, dw, db


def relu_forward(x):
    """
    Forward pass for a layer of rectified linear units: out = max(0, x), elementwise.

    Inputs:
    - x: Floating-point array of any shape.

    Returns a tuple of:
    - out: Output, of x's shape.
    - cache: Whatever relu_backward needs.
    """
    check_activation_input(x, "relu_forward")
    # TODO: implement the ReLU forward pass (FullyConnectedNets.ipynb, section 3 "ReLU").
    ### BEGIN SOLUTION
    out = np.maximum(x, 0)
    cache = x
    ### END SOLUTION
    return out, cache


def relu_backward(dout, cache):
    """
    Backward pass for a layer of rectified linear units. The derivative of max(0, x) is 1 for x > 0 and 0 for
    x < 0; at x = 0 any value in [0, 1] is a valid subgradient.

    Inputs:
    - dout: Upstream derivative, of x's shape.
    - cache: From relu_forward.

    Returns:
    - dx: Gradient with respect to x, of x's shape.
    """
    # TODO: implement the ReLU backward pass (FullyConnectedNets.ipynb, section 3 "ReLU").
    ### BEGIN SOLUTION
    x = cache
    check_dout(dout, x.shape, "relu_backward")
    dx = dout * (x > 0)
    ### END SOLUTION
    return dx


def sigmoid_forward(x):
    """
    Forward pass for a layer of logistic sigmoid units, elementwise:

        out = 1 / (1 + exp(-x))

    Numerically stable for any x: no overflow (exp(-x) overflows for x < -709 in float64, x < -88 in float32), and
    outputs close to 0, such as sigmoid(-100) ~ 3.7e-44, keep their relative precision.

    Inputs:
    - x: Floating-point array of any shape.

    Returns a tuple of:
    - out: Output in [0, 1], of x's shape.
    - cache: Whatever sigmoid_backward needs.
    """
    check_activation_input(x, "sigmoid_forward")
    # TODO: implement a numerically stable sigmoid forward pass, no overflow for large |x| (FullyConnectedNets.ipynb, section 4 "Sigmoid").
    ### BEGIN SOLUTION
    # sigmoid(x) = 1 / (1 + e^-x) for x >= 0, and the same value written e^x / (1 + e^x) for x < 0, which keeps
    # the relative precision of tiny outputs. Both are e^min(x, 0) / (1 + e^-|x|), whose exponentials lie in
    # (0, 1] for every x: they cannot overflow.
    out = np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x)))
    cache = out
    ### END SOLUTION
    return out, cache


def sigmoid_backward(dout, cache):
    """
    Backward pass for a layer of logistic sigmoid units: d sigmoid(x) / dx = sigmoid(x) * (1 - sigmoid(x)).

    Inputs:
    - dout: Upstream derivative, of x's shape.
    - cache: From sigmoid_forward.

    Returns:
    - dx: Gradient with respect to x, of x's shape.
    """
    # TODO: implement the sigmoid backward pass from the cached output (FullyConnectedNets.ipynb, section 4 "Sigmoid").
    ### BEGIN SOLUTION
    out = cache
    check_dout(dout, out.shape, "sigmoid_backward")
    dx = dout * out * (1 - out)
    ### END SOLUTION
    return dx


# --------------------------------------------------------------------------------------------------------------
# Batch normalization
# --------------------------------------------------------------------------------------------------------------


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Forward pass for batch normalization (Ioffe & Szegedy 2015, Algorithm 1).

    Train time, with the mini-batch mean and the biased (divide by N) variance of each feature:

        mean = (1 / N) * sum_n x[n]
        var = (1 / N) * sum_n (x[n] - mean)**2                  (two passes: centre first, then square)
        x_hat = (x - mean) / sqrt(var + eps)
        out = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var

    Test time, with the running averages in place of the batch statistics:

        out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta

    Inputs:
    - x: Data of shape (N, D), float32 or float64; train mode needs N >= 2.
    - gamma: Scale parameter of shape (D,).
    - beta: Shift parameter of shape (D,).
    - bn_param: Dictionary with the following keys (any other key is a ValueError):
      - mode: 'train' or 'test'; required; read.
      - eps: Constant for numeric stability, > 0 (default 1e-5); read.
      - momentum: Constant for the running averages, in [0, 1] (default 0.9); read. PyTorch's momentum=0.1 is
        momentum=0.9 here.
      - running_mean: Array of shape (D,), the running average of the features' means. Created as zeros of x's
        dtype when absent; read in test mode; after a train-mode call it holds the updated average.
      - running_var: Array of shape (D,), the running average of the features' (biased) variances, >= 0; the
        same handling.

    Returns a tuple of:
    - out: Output of shape (N, D).
    - cache: Whatever batchnorm_backward and batchnorm_backward_alt need (both take the same cache).
    """
    check_batchnorm_inputs(x, gamma, beta, bn_param)
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.setdefault("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.setdefault("running_var", np.zeros(D, dtype=x.dtype))
    # TODO: implement the train- and test-time batch norm forward pass (BatchNormalization.ipynb, section 2 "Forward pass").
    ### BEGIN SOLUTION
    if mode == "train":
        # The statistics sum N values per feature. Accumulate them in float64: summed row after row in float32,
        # they lose digits as N grows. Then back to x's dtype.
        mean = x.sum(axis=0, dtype=np.float64) / N
        var = ((x - mean) ** 2).sum(axis=0) / N
        inv_std = 1 / np.sqrt(var + eps)
        mean, var, inv_std = mean.astype(x.dtype), var.astype(x.dtype), inv_std.astype(x.dtype)
        x_hat = (x - mean) * inv_std
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        inv_std = 1 / np.sqrt(running_var + eps)
        x_hat = (x - running_mean) * inv_std
    out = gamma * x_hat + beta
    # Tagged, so that the backward passes refuse a test-mode cache, another layer's cache or a dout of the wrong shape.
    cache = {"forward": "batchnorm_forward", "mode": mode, "shape": x.shape,
             "x_hat": x_hat, "inv_std": inv_std, "gamma": gamma}
    ### END SOLUTION
    # Store the updated running averages back into bn_param.
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Backward pass for batch normalization (train mode), staged: one backward step per node of the forward graph,

        (1) mean = sum(x, axis=0) / N
        (2) x_centred = x - mean
        (3) sq = x_centred ** 2
        (4) var = sum(sq, axis=0) / N
        (5) std = sqrt(var + eps)
        (6) inv_std = 1 / std
        (7) x_hat = x_centred * inv_std
        (8) gamma_x_hat = gamma * x_hat
        (9) out = gamma_x_hat + beta

    from node (9) back to node (1), each step multiplying the upstream derivative by the node's local derivative.
    Where a variable feeds two nodes (x_centred feeds (3) and (7); x feeds (1) and (2)), its gradients add up.

    Inputs:
    - dout: Upstream derivative of shape (N, D).
    - cache: From batchnorm_forward in train mode.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, D).
    - dgamma: Gradient with respect to gamma, of shape (D,).
    - dbeta: Gradient with respect to beta, of shape (D,).
    """
    # TODO: implement the staged batch norm backward pass, node by node (BatchNormalization.ipynb, section 3 "Backward pass").
    ### BEGIN SOLUTION
    check_cache(cache, dout, "batchnorm_backward")
    x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]
    N = x_hat.shape[0]
    # The forward graph's intermediates, from what the cache keeps.
    std = 1 / inv_std
    x_centred = x_hat * std

    # (9) out = gamma_x_hat + beta
    dbeta = dout.sum(axis=0)
    dgamma_x_hat = dout
    # (8) gamma_x_hat = gamma * x_hat
    dgamma = np.sum(dgamma_x_hat * x_hat, axis=0)
    dx_hat = dgamma_x_hat * gamma
    # (7) x_hat = x_centred * inv_std
    dinv_std = np.sum(dx_hat * x_centred, axis=0)  # inv_std was broadcast over the batch: sum
    dx_centred = dx_hat * inv_std
    # (6) inv_std = 1 / std
    dstd = -dinv_std / std**2
    # (5) std = sqrt(var + eps)
    dvar = dstd / (2 * std)
    # (4) var = sum(sq, axis=0) / N
    dsq = np.ones_like(x_hat) * dvar / N
    # (3) sq = x_centred ** 2
    dx_centred += 2 * x_centred * dsq  # second path into x_centred
    # (2) x_centred = x - mean
    dx = dx_centred
    dmean = -np.sum(dx_centred, axis=0)
    # (1) mean = sum(x, axis=0) / N
    dx += dmean / N  # second path into x
    ### END SOLUTION
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """
    Backward pass for batch normalization (train mode), in closed form: the staged backward pass, simplified on
    paper, leaves an expression for dx that fits on one line, in terms of dout, x_hat, gamma, 1 / sqrt(var + eps),
    N and the sums dbeta = sum_n dout[n] and dgamma = sum_n dout[n] * x_hat[n].

    Inputs:
    - dout: Upstream derivative of shape (N, D).
    - cache: From batchnorm_forward in train mode (the same cache batchnorm_backward takes).

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, D).
    - dgamma: Gradient with respect to gamma, of shape (D,).
    - dbeta: Gradient with respect to beta, of shape (D,).
    """
    # TODO: implement the closed-form batch norm backward pass (BatchNormalization.ipynb, section 4 "The closed form").
    ### BEGIN SOLUTION
    check_cache(cache, dout, "batchnorm_backward_alt")
    x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]
    N = x_hat.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx = gamma * inv_std / N * (N * dout - dbeta - x_hat * dgamma)
    ### END SOLUTION
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------------------------------------------
# The rest of the normalization family: layer norm, spatial batch norm, group norm
# --------------------------------------------------------------------------------------------------------------


def layernorm_forward(x, gamma, beta, ln_param):
    """
    Forward pass for layer normalization (Ba, Kiros & Hinton 2016): each sample is normalized over its own
    features, with its own mean and biased variance:

        mean[n] = (1 / D) * sum_d x[n, d]
        var[n] = (1 / D) * sum_d (x[n, d] - mean[n])**2
        out[n] = gamma * (x[n] - mean[n]) / sqrt(var[n] + eps) + beta

    Train and test time are identical: no running statistics.

    Inputs:
    - x: Data of shape (N, D), float32 or float64.
    - gamma: Scale parameter of shape (D,).
    - beta: Shift parameter of shape (D,).
    - ln_param: Dictionary (possibly empty) with key eps, > 0 (default 1e-5), read; other keys (such as a 'mode'
      left by a model that shares its bn_params) are ignored.

    Returns a tuple of:
    - out: Output of shape (N, D).
    - cache: Whatever layernorm_backward needs.
    """
    check_layernorm_inputs(x, gamma, beta, ln_param)
    ln_param = {} if ln_param is None else ln_param
    eps = ln_param.get("eps", 1e-5)
    # TODO: implement the layer norm forward pass (BatchNormalization.ipynb, section 5 "Layer normalization").
    ### BEGIN SOLUTION
    mean = x.mean(axis=1, keepdims=True)
    x_centred = x - mean
    var = np.mean(x_centred**2, axis=1, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = x_centred * inv_std
    out = gamma * x_hat + beta
    cache = {"forward": "layernorm_forward", "shape": x.shape, "x_hat": x_hat, "inv_std": inv_std, "gamma": gamma}
    ### END SOLUTION
    return out, cache


def layernorm_backward(dout, cache):
    """
    Backward pass for layer normalization.

    Inputs:
    - dout: Upstream derivative of shape (N, D).
    - cache: From layernorm_forward.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, D).
    - dgamma: Gradient with respect to gamma, of shape (D,).
    - dbeta: Gradient with respect to beta, of shape (D,).
    """
    # TODO: implement the layer norm backward pass (BatchNormalization.ipynb, section 5 "Layer normalization").
    ### BEGIN SOLUTION
    check_cache(cache, dout, "layernorm_backward")
    x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    # Batch norm's closed form, with the means taken over each sample's features instead of over the batch.
    dx = inv_std * (dx_hat - dx_hat.mean(axis=1, keepdims=True)
                    - x_hat * np.mean(dx_hat * x_hat, axis=1, keepdims=True))
    ### END SOLUTION
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """
    Forward pass for spatial batch normalization: batch norm of convolutional feature maps, with one mean and
    variance per channel, taken over the batch and every spatial position (N * H * W values each):

        mean[c] = mean of x[:, c, :, :];    var[c] = mean of (x[:, c, :, :] - mean[c])**2
        out[:, c] = gamma[c] * (x[:, c] - mean[c]) / sqrt(var[c] + eps) + beta[c]

    with the running averages updated at train time and used at test time, as in batchnorm_forward.

    Inputs:
    - x: Data of shape (N, C, H, W), float32 or float64; train mode needs N * H * W >= 2.
    - gamma: Scale parameter of shape (C,).
    - beta: Shift parameter of shape (C,).
    - bn_param: Dictionary with the keys of batchnorm_forward's bn_param, with running_mean and running_var of
      shape (C,): mode (required), eps, momentum read; running_mean, running_var created as zeros when absent,
      read in test mode, updated after a train-mode call.

    Returns a tuple of:
    - out: Output of shape (N, C, H, W).
    - cache: Whatever spatial_batchnorm_backward needs.
    """
    check_spatial_batchnorm_inputs(x, gamma, beta, bn_param)
    # TODO: spatial batch norm, statistics per channel (NormalizationFamily.ipynb, section 2 "Spatial batch normalization").
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    x_rows = x.transpose(0, 2, 3, 1).reshape(N * H * W, C)  # one row per pixel, one column per channel
    out_rows, bn_cache = batchnorm_forward(x_rows, gamma, beta, bn_param)
    out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    cache = {"forward": "spatial_batchnorm_forward", "mode": bn_param["mode"], "shape": x.shape,
             "bn_cache": bn_cache}
    ### END SOLUTION
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """
    Backward pass for spatial batch normalization (train mode).

    Inputs:
    - dout: Upstream derivative of shape (N, C, H, W).
    - cache: From spatial_batchnorm_forward in train mode.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W).
    - dgamma: Gradient with respect to gamma, of shape (C,).
    - dbeta: Gradient with respect to beta, of shape (C,).
    """
    # TODO: spatial batch norm backward pass (NormalizationFamily.ipynb, section 2 "Spatial batch normalization").
    ### BEGIN SOLUTION
    check_cache(cache, dout, "spatial_batchnorm_backward")
    N, C, H, W = cache["shape"]
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(N * H * W, C)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(dout_rows, cache["bn_cache"])
    dx = dx_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    ### END SOLUTION
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """
    Forward pass for spatial group normalization (Wu & He 2018). The C channels are split into G groups of C // G
    consecutive channels (channels 0 .. C/G - 1 form group 0, and so on), and each sample is normalized per group,
    with the mean and biased variance of that group's C/G * H * W values:

        mean[n, g], var[n, g] over the channels of group g and all positions of sample n
        x_hat[n, c] = (x[n, c] - mean[n, g(c)]) / sqrt(var[n, g(c)] + eps),   g(c) = c // (C // G)
        out = gamma * x_hat + beta                               (one gamma, beta per channel)

    Train and test time are identical. G = 1 is layer norm over (C, H, W); G = C is instance norm.

    Inputs:
    - x: Data of shape (N, C, H, W), float32 or float64.
    - gamma: Scale parameter of shape (1, C, 1, 1).
    - beta: Shift parameter of shape (1, C, 1, 1).
    - G: Integer number of groups, a divisor of C.
    - gn_param: Dictionary (possibly empty) with key eps, > 0 (default 1e-5), read; other keys are ignored.

    Returns a tuple of:
    - out: Output of shape (N, C, H, W).
    - cache: Whatever spatial_groupnorm_backward needs.
    """
    check_groupnorm_inputs(x, gamma, beta, G, gn_param)
    gn_param = {} if gn_param is None else gn_param
    eps = gn_param.get("eps", 1e-5)
    # TODO: group norm over groups of C // G channels (NormalizationFamily.ipynb, section 3 "Spatial group normalization").
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    x_groups = x.reshape(N, G, C // G, H, W)  # groups are blocks of consecutive channels
    x_hat, _, _, inv_std = standardize(x_groups, axis=(2, 3, 4), eps=eps)
    x_hat = x_hat.reshape(N, C, H, W)
    out = gamma * x_hat + beta
    cache = {"forward": "spatial_groupnorm_forward", "shape": x.shape, "G": G,
             "x_hat": x_hat, "inv_std": inv_std, "gamma": gamma}
    ### END SOLUTION
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """
    Backward pass for spatial group normalization.

    Inputs:
    - dout: Upstream derivative of shape (N, C, H, W).
    - cache: From spatial_groupnorm_forward.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W).
    - dgamma: Gradient with respect to gamma, of shape (1, C, 1, 1).
    - dbeta: Gradient with respect to beta, of shape (1, C, 1, 1).
    """
    # TODO: group norm backward pass (NormalizationFamily.ipynb, section 3 "Spatial group normalization").
    ### BEGIN SOLUTION
    check_cache(cache, dout, "spatial_groupnorm_backward")
    x_hat, inv_std, gamma, G = cache["x_hat"], cache["inv_std"], cache["gamma"], cache["G"]
    N, C, H, W = x_hat.shape
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dgamma = np.sum(dout * x_hat, axis=(0, 2, 3), keepdims=True)
    groups = (N, G, C // G, H, W)
    dx = standardize_backward((dout * gamma).reshape(groups), x_hat.reshape(groups), inv_std, axis=(2, 3, 4))
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

        mask = (U < p) / p,   U ~ Uniform[0, 1) elementwise;    out = x * mask

    Test time: out = x.

    Inputs:
    - x: Floating-point array of any shape.
    - dropout_param: Dictionary with the following keys (any other key is a ValueError):
      - p: Probability of KEEPING each unit, 0 < p <= 1; required.
      - mode: 'train' or 'test'; required.
      - seed: Optional integer in [0, 2**32 - 1]. With a seed, every train-mode call draws the same mask (gradient
        checks rely on this). Any seeding method is fine (cs231n calls np.random.seed(seed)).

    Returns a tuple of:
    - out: Output of x's shape and dtype.
    - cache: Whatever dropout_backward needs.
    """
    check_dropout_inputs(x, dropout_param)
    p, mode = dropout_param["p"], dropout_param["mode"]
    seed = dropout_param.get("seed")
    # TODO: implement inverted dropout: scale the kept units by 1 / p at train time (Dropout.ipynb, section 1 "Inverted dropout").
    ### BEGIN SOLUTION
    if mode == "train":
        # A seed gets a generator of its own, so NumPy's global generator is left alone; without a seed the mask
        # comes from the global generator, so np.random.seed(...) makes a run repeatable.
        if seed is None:
            u = np.random.rand(*x.shape)
        else:
            u = np.random.default_rng(seed).random(x.shape)
        mask = ((u < p) / p).astype(x.dtype)
        out = x * mask
    else:
        mask = None
        out = x
    cache = (mode, mask)
    ### END SOLUTION
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_backward(dout, cache):
    """
    Backward pass for inverted dropout.

    Inputs:
    - dout: Upstream derivative, of x's shape.
    - cache: From dropout_forward.

    Returns:
    - dx: Gradient with respect to x, of x's shape.
    """
    # TODO: implement the dropout backward pass (Dropout.ipynb, section 2 "The backward pass").
    ### BEGIN SOLUTION
    mode, mask = cache
    if mode == "train":
        check_dout(dout, mask.shape, "dropout_backward")
        dx = dout * mask
    else:
        dx = dout
    ### END SOLUTION
    return dx


# --------------------------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------------------------


def svm_loss(x, y):
    """
    Multiclass SVM (hinge) loss and its gradient, averaged over the samples:

        L = (1 / N) * sum_n sum_{j != y[n]} max(0, x[n, j] - x[n, y[n]] + 1)

    Inputs:
    - x: Floating-point array of scores of shape (N, C); x[n, j] is the score of class j for sample n.
    - y: Integer labels of shape (N,), 0 <= y[n] < C.

    Returns a tuple of:
    - loss: Scalar giving the loss.
    - dx: Gradient of the loss with respect to x, of shape (N, C).
    """
    check_loss_inputs(x, y, "svm_loss")
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

    Numerically stable for any scores: exp must not overflow (softmax does not change when the same number is
    subtracted from every score of a row), and log softmax is never computed as the log of a ratio that can round
    to 0.

    Inputs:
    - x: Floating-point array of scores of shape (N, C).
    - y: Integer labels of shape (N,), 0 <= y[n] < C.

    Returns a tuple of:
    - loss: Scalar giving the loss.
    - dx: Gradient of the loss with respect to x, of shape (N, C).
    """
    check_loss_inputs(x, y, "softmax_loss")
    # TODO: implement the softmax loss and its gradient, numerically stable (FullyConnectedNets.ipynb, section 6 "Loss layers").
    ### BEGIN SOLUTION
    N = x.shape[0]
    rows = np.arange(N)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].sum() / N
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
