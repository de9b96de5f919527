"""A three-layer convolutional network, cs231n's ThreeLayerConvNet, with optional spatial batch or group norm."""

import numpy as np

from ..fast_layers import *
from ..kit.validation import check_convnet_args
from ..layer_utils import *
from ..layers import *


class ThreeLayerConvNet:
    """
    A three-layer convolutional network with the following architecture:

        conv - [spatial batchnorm | spatial groupnorm] - relu - 2x2 max pool - affine - relu - affine - softmax

    The network operates on minibatches of data that have shape (N, C, H, W) consisting of N images, each with
    height H and width W and with C input channels. The convolution has stride 1 and zero padding
    (filter_size - 1) // 2, so that it keeps the height and width; the pool halves them.

    Learnable parameters are stored in the self.params dictionary: W1 (F, C, filter_size, filter_size), b1 (F,),
    W2 (F * H / 2 * W / 2, hidden_dim), b2 (hidden_dim,), W3 (hidden_dim, num_classes), b3 (num_classes,), and
    with normalization gamma1 (F,) and beta1 (F,). State (not learned): self.bn_param (batch norm's mode and
    running statistics), self.bn_params ([self.bn_param] with batch norm, else empty: what Solver checkpoints
    keep) and self.gn_param (group norm's eps).
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100, num_classes=10,
                 weight_scale=1e-3, reg=0.0, dtype=np.float32, normalization=None, num_groups=4, seed=None):
        """
        Initialize a new network.

        Inputs:
        - input_dim: Tuple (C, H, W) giving size of input data; H and W even.
        - num_filters: Number of filters F to use in the convolutional layer.
        - filter_size: Width/height of filters to use in the convolutional layer (odd).
        - hidden_dim: Number of units to use in the fully-connected hidden layer.
        - num_classes: Number of scores to produce from the final affine layer.
        - weight_scale: Scalar giving standard deviation for random initialization of weights.
        - reg: Scalar giving L2 regularization strength (weights only: 0.5 * reg * sum(W**2) per layer).
        - dtype: numpy datatype to use for computation (float32, or float64 for gradient checks).
        - normalization: None, 'batchnorm' (spatial batch norm after the conv) or 'groupnorm' (spatial group
          norm with num_groups groups after the conv).
        - num_groups: Number of groups G for 'groupnorm', a divisor of num_filters.
        - seed: If not None, the weights are drawn from np.random.default_rng(seed) (W1, then W2, then W3);
          otherwise from np.random.randn, NumPy's global generator, as in cs231n.
        """
        self.dtype = check_convnet_args(input_dim, num_filters, filter_size, hidden_dim, num_classes,
                                        weight_scale, reg, dtype, normalization, num_groups)
        self.params = {}
        self.reg = reg
        self.normalization = normalization
        self.num_groups = num_groups
        self.input_dim = tuple(input_dim)
        self.filter_size = filter_size
        self.bn_param = {"mode": "train"}
        self.gn_param = {}
        # The Solver saves and restores the running statistics of model.bn_params with its checkpoints.
        self.bn_params = [self.bn_param] if normalization == "batchnorm" else []
        if seed is None:
            draw = lambda shape: np.random.randn(*shape)  # noqa: E731
        else:
            draw = np.random.default_rng(seed).standard_normal
        # TODO: Initialize W1, W2, W3 in that order, each weight_scale * draw(shape) (shape a tuple), the biases b1, b2, b3 as zeros, and with normalization gamma1 as ones and beta1 as zeros, all in self.params (ConvolutionalNetworks.ipynb, section 6 "Three-layer ConvNet").
        ### BEGIN SOLUTION
        C, H, W = input_dim
        F = num_filters
        self.params["W1"] = weight_scale * draw((F, C, filter_size, filter_size))
        self.params["b1"] = np.zeros(F)
        self.params["W2"] = weight_scale * draw((F * (H // 2) * (W // 2), hidden_dim))  # after the 2x2 pool
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * draw((hidden_dim, num_classes))
        self.params["b3"] = np.zeros(num_classes)
        if normalization is not None:
            self.params["gamma1"] = np.ones(F)
            self.params["beta1"] = np.zeros(F)
        ### END SOLUTION
        for k, v in self.params.items():
            self.params[k] = v.astype(self.dtype)

    def loss(self, X, y=None):
        """
        Evaluate loss and gradient for the three-layer convolutional network.

        Inputs:
        - X: Array of input data of shape (N, C, H, W); cast to the network's dtype.
        - y: Array of labels, of shape (N,). y[i] gives the label for X[i].

        Returns:
        If y is None, then run a test-time forward pass of the model and return:
        - scores: Array of shape (N, num_classes) giving classification scores.

        If y is not None, then run a training-time forward and backward pass and return a tuple of:
        - loss: Scalar value giving the loss (softmax loss plus 0.5 * reg * sum(W**2) for W1, W2, W3).
        - grads: Dictionary with the same keys as self.params, mapping parameter names to gradients of the loss
          with respect to those parameters (same shapes and dtype).
        """
        X = X.astype(self.dtype, copy=False)
        mode = "test" if y is None else "train"
        self.bn_param["mode"] = mode
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        gamma1, beta1 = self.params.get("gamma1"), self.params.get("beta1")

        # pass conv_param to the forward pass for the convolutional layer
        # Padding and stride chosen to preserve the input spatial size
        conv_param = {"stride": 1, "pad": (self.filter_size - 1) // 2}

        # pass pool_param to the forward pass for the max-pooling layer
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        # TODO: Implement the forward pass, computing the class scores for X into scores; with normalization, pass gamma1, beta1 and self.bn_param (or self.num_groups and self.gn_param) to the normalized sandwich of cs231n_bn/layer_utils.py (ConvolutionalNetworks.ipynb, section 6 "Three-layer ConvNet").
        ### BEGIN SOLUTION
        if self.normalization is None:
            h1, cache1 = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
        elif self.normalization == "batchnorm":
            h1, cache1 = conv_bn_relu_pool_forward(X, W1, b1, gamma1, beta1, conv_param, self.bn_param, pool_param)
        else:
            h1, cache1 = conv_gn_relu_pool_forward(X, W1, b1, gamma1, beta1, self.num_groups, conv_param,
                                                   self.gn_param, pool_param)
        h2, cache2 = affine_relu_forward(h1, W2, b2)
        scores, cache3 = affine_forward(h2, W3, b3)
        ### END SOLUTION

        if y is None:
            return scores

        loss, grads = 0, {}
        # TODO: Implement the backward pass, storing the loss in loss and the gradients in grads (with L2 regularization 0.5 * reg * sum(W**2) on W1, W2 and W3 only) (ConvolutionalNetworks.ipynb, section 6 "Three-layer ConvNet").
        ### BEGIN SOLUTION
        loss, dscores = softmax_loss(scores, y)
        dh2, grads["W3"], grads["b3"] = affine_backward(dscores, cache3)
        dh1, grads["W2"], grads["b2"] = affine_relu_backward(dh2, cache2)
        if self.normalization is None:
            _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dh1, cache1)
        else:
            backward = conv_bn_relu_pool_backward if self.normalization == "batchnorm" else conv_gn_relu_pool_backward
            _, grads["W1"], grads["b1"], grads["gamma1"], grads["beta1"] = backward(dh1, cache1)
        for name in ("W1", "W2", "W3"):
            W = self.params[name]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads[name] += self.reg * W
        ### END SOLUTION

        # The gradients in the parameters' dtype (a float64 running statistic must not promote a float32 update).
        grads = {k: np.asarray(v).astype(self.dtype, copy=False) for k, v in grads.items()}
        return float(loss), grads
