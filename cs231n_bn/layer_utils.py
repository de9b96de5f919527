"""Sandwich layers: common chains of layers as one (out, cache) / backward pair, cs231n style.

Each forward function returns the output and a tuple of the caches of its parts; the matching backward
function runs the parts' backward passes in reverse order.

    affine_relu           affine - relu
    affine_bn_relu        affine - batchnorm - relu
    affine_ln_relu        affine - layernorm - relu
"""

from cs231n_bn.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
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
