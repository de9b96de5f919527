"""The MNIST network of Ioffe & Szegedy (2015), Section 4.1: three sigmoid layers, with or without batch norm."""

import numpy as np

from cs231n_bn.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_loss,
)

from ._params import activation_names, add_l2_penalty, check_architecture, first_layer_grads, init_params

NORMALIZATIONS = (None, "batchnorm")


class PaperNet:
    """
    The network of Ioffe & Szegedy 2015, Section 4.1 ("Activations over time"): a 28x28 input, three fully
    connected hidden layers of 100 sigmoid units each, and a 10-way softmax:

        {affine - [batchnorm] - sigmoid} x 3 - affine - softmax

    With normalization='batchnorm', each hidden layer normalizes the input of its sigmoids ("BN before each
    nonlinearity", as in the paper). The Solver trains it like FullyConnectedNet: same loss(X, y=None) interface,
    same parameter names (W1, b1, ..., W4, b4, gamma1, beta1, ..., gamma3, beta3) and bn_params.

    Named activations (see cs231n_bn.kit.monitors): set self.activations to a dict and the next forward pass stores
    'affine{i}', 'norm{i}' (with batch norm), 'preact{i}' (the sigmoids' input: what the paper's Figure 1(b, c)
    plots for the last hidden layer, 'preact3'), 'sigmoid{i}' for i = 1, 2, 3, and 'scores' in it.
    """

    def __init__(self, normalization=None, input_dim=28 * 28, hidden_dims=(100, 100, 100), num_classes=10,
                 weight_scale=1e-1, reg=0.0, dtype=np.float32, seed=None):
        """
        Inputs:
        - normalization: None (the paper's baseline) or 'batchnorm'.
        - input_dim: Size of a flattened input image (784 for 28x28).
        - hidden_dims: Sizes of the hidden layers ((100, 100, 100) in the paper).
        - num_classes: Number of classes (10).
        - weight_scale: Standard deviation of the initial weights ("small random Gaussian values" in the paper).
        - reg: L2 regularization strength on the weights only (the paper uses none).
        - dtype: float32 (fast, the default) or float64 (for gradient checks).
        - seed: If not None, the weights are drawn from np.random.default_rng(seed), W1 first, each as a
          standard_normal((fan_in, fan_out)) draw in float64 times weight_scale, cast to dtype; if None from
          np.random.randn. Biases and betas start at zero, gammas at one.
        """
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"Unknown normalization {normalization!r}; allowed: None, 'batchnorm'")
        dims, self.dtype = check_architecture(input_dim, hidden_dims, num_classes, dtype, reg)
        self.normalization = normalization
        self.reg = reg
        self.num_layers = len(dims) - 1
        self.params = init_params(dims, weight_scale, self.dtype, seed, normalized=normalization is not None)
        self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)] if normalization else []

        self.activations = None
        self.activation_names = activation_names(self.num_layers - 1, normalization is not None, "sigmoid")

    def loss(self, X, y=None):
        """
        Compute the loss and its gradients, or the class scores.

        Inputs:
        - X: Array of shape (N, 28, 28), (N, 1, 28, 28) or (N, 784) (anything that flattens to input_dim).
        - y: Array of integer labels of shape (N,), or None.

        Returns:
        - If y is None: scores, an array of shape (N, C), computed in test mode (running statistics).
        - Else: (loss, grads), the softmax loss plus 0.5 * reg * sum(W**2) over the weights, and a dict of
          gradients with the keys, shapes and dtype of self.params.
        """
        X = X.astype(self.dtype, copy=False)
        mode = "test" if y is None else "train"
        bn = self.normalization is not None
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        acts, params, L = self.activations, self.params, self.num_layers

        caches = []
        h = X
        for i in range(1, L):
            a, affine_cache = affine_forward(h, params[f"W{i}"], params[f"b{i}"])
            if acts is not None:
                acts[f"affine{i}"] = a
            bn_cache = None
            if bn:
                a, bn_cache = batchnorm_forward(a, params[f"gamma{i}"], params[f"beta{i}"], self.bn_params[i - 1])
                if acts is not None:
                    acts[f"norm{i}"] = a
            h, sigmoid_cache = sigmoid_forward(a)
            if acts is not None:
                acts[f"preact{i}"], acts[f"sigmoid{i}"] = a, h
            caches.append((affine_cache, bn_cache, sigmoid_cache))
        scores, last_cache = affine_forward(h, params[f"W{L}"], params[f"b{L}"])
        if acts is not None:
            acts["scores"] = scores
        if y is None:
            return scores

        grads = {}
        loss, dscores = softmax_loss(scores, y)
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        for i in range(L - 1, 0, -1):
            affine_cache, bn_cache, sigmoid_cache = caches[i - 1]
            da = sigmoid_backward(dh, sigmoid_cache)
            if bn:
                da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(da, bn_cache)
            if i > 1:
                dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, affine_cache)
            else:
                first_layer_grads(X, da, grads)

        loss = add_l2_penalty(loss, grads, params, self.reg, L)
        return loss, grads
