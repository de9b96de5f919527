"""Sandwich layers: common chains of layers as one (out, cache) / backward pair, cs231n style.

Each forward function returns the output and a tuple of the caches of its parts; the matching backward
function runs the parts' backward passes in reverse order.

    affine_relu           affine - relu
    affine_bn_relu        affine - batchnorm - relu
    affine_ln_relu        affine - layernorm - relu
    conv_relu             conv - relu
    conv_relu_pool        conv - relu - max pool
    conv_bn_relu          conv - spatial batchnorm - relu
    conv_bn_relu_pool     conv - spatial batchnorm - relu - max pool
    conv_gn_relu_pool     conv - spatial groupnorm - relu - max pool

and fold_batchnorm, for inference: the affine or conv layer that equals the layer followed by test-mode batch norm.
"""

import numpy as np

from cs231n_bn.fast_layers import conv_backward_fast, conv_forward_fast, max_pool_backward_fast, max_pool_forward_fast
from cs231n_bn.kit.validation import check_fold_inputs
from cs231n_bn.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)


def affine_relu_forward(x, w, b):
    """
    Convenience layer that performs an affine transform followed by a ReLU.

    Inputs:
    - x: Input to the affine layer, of shape (N, d_1, ..., d_k), flattened to (N, D).
    - w: Weights of shape (D, M); b: Biases of shape (M,).

    Returns a tuple of:
    - out: Output from the ReLU, of shape (N, M).
    - cache: (fc_cache, relu_cache), to give to the backward pass.
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """
    Backward pass for the affine-relu convenience layer.

    Inputs:
    - dout: Upstream derivative of shape (N, M).
    - cache: (fc_cache, relu_cache) from affine_relu_forward.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k).
    - dw: Gradient with respect to w, of shape (D, M); db: with respect to b, of shape (M,).
    """
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache)


def affine_bn_relu_forward(x, w, b, gamma, beta, bn_param):
    """
    Affine transform, batch normalization, ReLU.

    Inputs:
    - x, w, b: As for affine_relu_forward; the affine output has shape (N, M).
    - gamma, beta: Batch norm scale and shift, of shape (M,).
    - bn_param: Dict for batchnorm_forward (mode 'train' or 'test', eps, momentum, running_mean, running_var;
      the running averages are updated in it in train mode).

    Returns a tuple of:
    - out: Output of shape (N, M).
    - cache: (fc_cache, bn_cache, relu_cache).
    """
    a, fc_cache = affine_forward(x, w, b)
    a_norm, bn_cache = batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(a_norm)
    return out, (fc_cache, bn_cache, relu_cache)


def affine_bn_relu_backward(dout, cache):
    """
    Backward pass for affine_bn_relu_forward (batch norm in closed form, batchnorm_backward_alt).

    Inputs:
    - dout: Upstream derivative of shape (N, M).
    - cache: (fc_cache, bn_cache, relu_cache) from a train-mode affine_bn_relu_forward.

    Returns a tuple of:
    - dx (N, d_1, ..., d_k), dw (D, M), db (M,), dgamma (M,), dbeta (M,).
    """
    fc_cache, bn_cache, relu_cache = cache
    da_norm = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = batchnorm_backward_alt(da_norm, bn_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


def affine_ln_relu_forward(x, w, b, gamma, beta, ln_param):
    """
    Affine transform, layer normalization, ReLU.

    Inputs:
    - x, w, b: As for affine_relu_forward; the affine output has shape (N, M).
    - gamma, beta: Layer norm scale and shift, of shape (M,).
    - ln_param: Dict for layernorm_forward (eps; other keys ignored).

    Returns a tuple of:
    - out: Output of shape (N, M).
    - cache: (fc_cache, ln_cache, relu_cache).
    """
    a, fc_cache = affine_forward(x, w, b)
    a_norm, ln_cache = layernorm_forward(a, gamma, beta, ln_param)
    out, relu_cache = relu_forward(a_norm)
    return out, (fc_cache, ln_cache, relu_cache)


def affine_ln_relu_backward(dout, cache):
    """
    Backward pass for affine_ln_relu_forward.

    Inputs:
    - dout: Upstream derivative of shape (N, M).
    - cache: (fc_cache, ln_cache, relu_cache) from affine_ln_relu_forward.

    Returns a tuple of:
    - dx (N, d_1, ..., d_k), dw (D, M), db (M,), dgamma (M,), dbeta (M,).
    """
    fc_cache, ln_cache, relu_cache = cache
    da_norm = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = layernorm_backward(da_norm, ln_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


# --------------------------------------------------------------------------------------------------------------
# Convolutional sandwiches and batch-norm folding
# --------------------------------------------------------------------------------------------------------------
# conv_relu            conv - relu
# conv_relu_pool       conv - relu - max pool
# conv_bn_relu         conv - spatial batchnorm - relu
# conv_bn_relu_pool    conv - spatial batchnorm - relu - max pool
# conv_gn_relu_pool    conv - spatial groupnorm - relu - max pool
# All are built from the fast layers (cs231n_bn/fast_layers.py), which compute what the naive ones do.
# fold_batchnorm: the affine or conv layer that equals layer + test-mode batch norm, for inference.

def conv_relu_forward(x, w, b, conv_param):
    """
    A convenience layer that performs a convolution followed by a ReLU.

    Inputs:
    - x: Input to the convolutional layer, of shape (N, C, H, W).
    - w: Weights of shape (F, C, HH, WW); b: Biases of shape (F,).
    - conv_param: Dict with keys 'stride' and 'pad' for the convolutional layer.

    Returns a tuple of:
    - out: Output from the ReLU, of shape (N, F, H', W').
    - cache: (conv_cache, relu_cache), to give to the backward pass.
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """
    Backward pass for the conv-relu convenience layer.

    Inputs:
    - dout: Upstream derivative of shape (N, F, H', W').
    - cache: (conv_cache, relu_cache) from conv_relu_forward.

    Returns a tuple of:
    - dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    """
    conv_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return conv_backward_fast(da, conv_cache)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """
    Convenience layer that performs a convolution, a ReLU, and a max pool.

    Inputs:
    - x, w, b, conv_param: As for conv_relu_forward.
    - pool_param: Dict with keys 'pool_height', 'pool_width', 'stride' for the pooling layer.

    Returns a tuple of:
    - out: Output from the pooling layer, of shape (N, F, H'', W'').
    - cache: (conv_cache, relu_cache, pool_cache).
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """
    Backward pass for the conv-relu-pool convenience layer.

    Inputs:
    - dout: Upstream derivative of shape (N, F, H'', W'').
    - cache: (conv_cache, relu_cache, pool_cache) from conv_relu_pool_forward.

    Returns a tuple of:
    - dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    """
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    return conv_backward_fast(da, conv_cache)


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """
    Convolution, spatial batch normalization, ReLU.

    Inputs:
    - x, w, b, conv_param: As for conv_relu_forward; the convolution's output has shape (N, F, H', W').
    - gamma, beta: Spatial batch norm scale and shift, of shape (F,).
    - bn_param: Dict for spatial_batchnorm_forward (mode 'train' or 'test', eps, momentum, running_mean,
      running_var; the running averages are updated in it in train mode).

    Returns a tuple of:
    - out: Output of shape (N, F, H', W').
    - cache: (conv_cache, bn_cache, relu_cache).
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout, cache):
    """
    Backward pass for conv_bn_relu_forward (train mode).

    Inputs:
    - dout: Upstream derivative of shape (N, F, H', W').
    - cache: (conv_cache, bn_cache, relu_cache) from conv_bn_relu_forward.

    Returns a tuple of:
    - dx (N, C, H, W), dw (F, C, HH, WW), db (F,), dgamma (F,), dbeta (F,).
    """
    conv_cache, bn_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    return dx, dw, db, dgamma, dbeta


def conv_bn_relu_pool_forward(x, w, b, gamma, beta, conv_param, bn_param, pool_param):
    """
    Convolution, spatial batch normalization, ReLU, max pool.

    Inputs:
    - x, w, b, gamma, beta, conv_param, bn_param: As for conv_bn_relu_forward.
    - pool_param: As for conv_relu_pool_forward.

    Returns a tuple of:
    - out: Output of shape (N, F, H'', W'').
    - cache: (conv_bn_relu_cache, pool_cache).
    """
    s, conv_bn_relu_cache = conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_bn_relu_cache, pool_cache)


def conv_bn_relu_pool_backward(dout, cache):
    """
    Backward pass for conv_bn_relu_pool_forward (train mode).

    Inputs:
    - dout: Upstream derivative of shape (N, F, H'', W'').
    - cache: (conv_bn_relu_cache, pool_cache) from conv_bn_relu_pool_forward.

    Returns a tuple of:
    - dx (N, C, H, W), dw (F, C, HH, WW), db (F,), dgamma (F,), dbeta (F,).
    """
    conv_bn_relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    return conv_bn_relu_backward(ds, conv_bn_relu_cache)


def conv_gn_relu_pool_forward(x, w, b, gamma, beta, G, conv_param, gn_param, pool_param):
    """
    Convolution, spatial group normalization with G groups, ReLU, max pool.

    Inputs:
    - x, w, b, conv_param, pool_param: As for conv_relu_pool_forward.
    - gamma, beta: Group norm scale and shift, of shape (F,) or (1, F, 1, 1).
    - G: Number of groups, a divisor of F.
    - gn_param: Dict for spatial_groupnorm_forward (eps).

    Returns a tuple of:
    - out: Output of shape (N, F, H'', W'').
    - cache: (conv_cache, gn_cache, relu_cache, pool_cache, shape of gamma).
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    F = a.shape[1]
    # Group norm takes its scale and shift as (1, F, 1, 1); a net may keep them as (F,), like batch norm's.
    an, gn_cache = spatial_groupnorm_forward(a, np.reshape(gamma, (1, F, 1, 1)), np.reshape(beta, (1, F, 1, 1)),
                                             G, gn_param)
    s, relu_cache = relu_forward(an)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, gn_cache, relu_cache, pool_cache, np.shape(gamma))


def conv_gn_relu_pool_backward(dout, cache):
    """
    Backward pass for conv_gn_relu_pool_forward.

    Inputs:
    - dout: Upstream derivative of shape (N, F, H'', W'').
    - cache: (conv_cache, gn_cache, relu_cache, pool_cache, shape of gamma) from conv_gn_relu_pool_forward.

    Returns a tuple of:
    - dx (N, C, H, W), dw (F, C, HH, WW), db (F,), dgamma, dbeta (in gamma's shape).
    """
    conv_cache, gn_cache, relu_cache, pool_cache, gamma_shape = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    dan = relu_backward(ds, relu_cache)
    da, dgamma, dbeta = spatial_groupnorm_backward(dan, gn_cache)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    return dx, dw, db, np.reshape(dgamma, gamma_shape), np.reshape(dbeta, gamma_shape)


def fold_batchnorm(w, b, gamma, beta, bn_param):
    """
    Fold a test-mode batch norm layer into the affine or conv layer before it, for inference.

    At test time batch norm is a fixed affine map of each output unit (column m of an affine layer, filter f of a
    conv layer), with mu = running_mean, var = running_var:

        bn(z) = gamma * (z - mu) / sqrt(var + eps) + beta = scale * z + (beta - scale * mu),
        scale = gamma / sqrt(var + eps)

    and z = x @ w + b (or conv(x, w) + b) is linear in w and b, so

        w_folded = w * scale       (column m of w times scale[m]; filter f of w times scale[f])
        b_folded = (b - mu) * scale + beta

    give one layer that computes layer-then-batch-norm exactly (up to rounding).

    Inputs:
    - w: Affine weights of shape (D, M), or conv weights of shape (F, C, HH, WW).
    - b: Biases of shape (M,) or (F,).
    - gamma, beta: Batch norm scale and shift, of shape (M,) or (F,).
    - bn_param: Batch norm dict; reads 'running_mean', 'running_var' (shape (M,) or (F,)) and 'eps'
      (default 1e-5). Nothing is written.

    Returns a tuple of:
    - w_folded: Array of w's shape.
    - b_folded: Array of shape (M,) or (F,).
    """
    check_fold_inputs(w, b, gamma, beta, bn_param, "fold_batchnorm")
    # TODO: fold test-mode batch norm into the weights and biases of the layer before it (ConvolutionalNetworks.ipynb, section 8.1 "Folding batch norm into the layer before it").
    ### BEGIN SOLUTION
    eps = bn_param.get("eps", 1e-5)
    scale = gamma / np.sqrt(bn_param["running_var"] + eps)  # one factor per output unit
    if w.ndim == 2:
        w_folded = w * scale  # (D, M) * (M,): column m times scale[m]
    else:
        w_folded = w * scale[:, None, None, None]  # filter f times scale[f]
    b_folded = (b - bn_param["running_mean"]) * scale + beta
    ### END SOLUTION
    return w_folded, b_folded
