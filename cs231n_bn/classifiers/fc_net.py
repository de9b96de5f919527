"""A fully connected network of any depth: ReLU or sigmoid units, optional batch/layer normalization and dropout."""

import numpy as np

from ..layers import *
from ..layer_utils import *
from ._validation import check_fc_net_arguments


class FullyConnectedNet(object):
    """
    Class for a multi-layer fully connected neural network.

    Network contains an arbitrary number of hidden layers, ReLU nonlinearities (or sigmoids), and a softmax loss
    function. This will also implement dropout and batch/layer normalization as options. For a network with L
    layers, the architecture will be

        {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax

    where batch/layer normalization and dropout are optional and the {...} block is repeated L - 1 times.
    With nonlinearity='sigmoid' the hidden units are logistic sigmoids instead of ReLUs: Ioffe & Szegedy's
    (2015) Section 4.1 network is

        FullyConnectedNet([100, 100, 100], input_dim=784, num_classes=10, nonlinearity='sigmoid',
                          normalization='batchnorm' (or None), weight_scale=..., seed=...)

    with batch norm before each nonlinearity.

    Learnable parameters are stored in the self.params dictionary and will be learned using the Solver class:
    W{i} of shape (H_{i-1}, H_i) and b{i} of shape (H_i,) for i = 1..L (H_0 = input_dim, H_L = num_classes),
    and with normalization gamma{i}, beta{i} of shape (H_i,) for the hidden layers i = 1..L-1.

    State that is not learned: self.bn_params, a list of L - 1 dicts, one per normalization layer ({'mode':
    'train'} for batch norm, which adds running_mean and running_var to it; {} for layer norm), empty without
    normalization; self.dropout_param ({'mode', 'p'}, and 'seed' if a seed was given) when dropout is used.

    cs231n_bn.kit.monitors.forward_activations(model, X) returns the intermediate arrays of a forward pass by
    name ('affine{i}', 'norm{i}', 'preact{i}' (the nonlinearity's input), 'relu{i}' or 'sigmoid{i}', 'scores'),
    recorded from the layer functions the net calls.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None,
                 nonlinearity="relu", dropout=None):
        """
        Initialize a new FullyConnectedNet.

        Inputs:
        - hidden_dims: A list of integers giving the size of each hidden layer.
        - input_dim: An integer giving the size of the input.
        - num_classes: An integer giving the number of classes to classify.
        - dropout_keep_ratio: Scalar between 0 and 1 giving the probability of KEEPING a unit in dropout.
          If dropout_keep_ratio=1 then the network does not use dropout at all.
        - normalization: What type of normalization the network should use: 'batchnorm', 'layernorm', or
          None for no normalization (the default).
        - reg: Scalar giving L2 regularization strength: the loss gains 0.5 * reg * sum(W**2) for every
          weight matrix W (not the biases, gammas or betas).
        - weight_scale: Scalar giving the standard deviation for random initialization of the weights.
        - dtype: A numpy datatype object (float32 or float64); all computations will be performed using this
          datatype. float32 is faster but less accurate, so you should use float64 for numeric gradient
          checking.
        - seed: If not None, NumPy's global generator is seeded with it (np.random.seed(seed), as the cs231n
          notebooks do) right before the parameters are drawn, and the dropout layers get it as their seed.
          Two nets built with the same seed and arguments then start from the same weights, whether they are
          drawn with weight_scale * np.random.randn(fan_in, fan_out) or np.random.normal(0, weight_scale,
          (fan_in, fan_out)) (one stream), as long as they are drawn in the order W1, W2, ..., WL. Weights drawn
          from another generator are still correct, but not reproducible by seed. With seed None the global
          generator is left as it is.
        - nonlinearity: 'relu' (the default) or 'sigmoid', the units of the hidden layers.
        - dropout: cs231n 2020's name for dropout_keep_ratio (give one of them).
        """
        check_fc_net_arguments(hidden_dims, input_dim, num_classes, dropout_keep_ratio, dropout, normalization,
                               reg, weight_scale, dtype, seed, nonlinearity)
        if dropout is not None:
            dropout_keep_ratio = dropout
        self.normalization = normalization
        self.nonlinearity = nonlinearity
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}

        if seed is not None:
            np.random.seed(seed)  # the same seed gives the same initial weights (see the docstring)

        # Initialize the parameters of the network, storing all values in the self.params dictionary. Store
        # weights and biases for the first layer in W1 and b1; for the second layer use W2 and b2, etc. Weights
        # are drawn from a normal distribution centred at 0 with standard deviation weight_scale, and biases
        # are initialized to zero. With batch or layer normalization, store the scale and shift parameters of
        # the first layer in gamma1 and beta1, of the second layer in gamma2 and beta2, etc.; scale parameters
        # start at one and shift parameters at zero (the BatchNormalization notebook asks for them).
        # TODO: initialize the parameters of the network in the order W1, b1, (gamma1, beta1), W2, ... (FullyConnectedNets.ipynb, section 8 "A fully connected network").
        ### BEGIN SOLUTION
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = weight_scale * np.random.randn(dims[i - 1], dims[i])
            self.params[f"b{i}"] = np.zeros(dims[i])
            if self.normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])
        ### END SOLUTION

        # When using dropout we need to pass a dropout_param dictionary to each dropout layer so that the layer
        # knows the dropout probability and the mode (train / test). You can pass the same dropout_param to
        # each dropout layer.
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed

        # With batch normalization we need to keep track of running means and variances, so we need to pass a
        # special bn_param object to each batch normalization layer. You should pass self.bn_params[0] to the
        # forward pass of the first batch normalization layer, self.bn_params[1] to the forward pass of the
        # second batch normalization layer, etc. (layer normalization gets them too, as its ln_param).
        self.bn_params = []
        if self.normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for i in range(self.num_layers - 1)]
        if self.normalization == "layernorm":
            self.bn_params = [{} for i in range(self.num_layers - 1)]

        # Cast all parameters to the correct datatype.
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """
        Compute loss and gradient for the fully connected net.

        Inputs:
        - X: Array of input data of shape (N, d_1, ..., d_k), with d_1 * ... * d_k = input_dim.
        - y: Array of labels, of shape (N,). y[i] gives the label for X[i].

        Returns:
        If y is None, then run a test-time forward pass of the model and return:
        - scores: Array of shape (N, C) giving classification scores, where scores[i, c] is the
          classification score for X[i] and class c.

        If y is not None, then run a training-time forward and backward pass and return a tuple of:
        - loss: Scalar value giving the loss: the softmax loss plus 0.5 * reg * sum(W**2) over the weights.
        - grads: Dictionary with the same keys as self.params, mapping parameter names to gradients of the
          loss with respect to those parameters (same shapes and dtype).
        """
        X = X.astype(self.dtype, copy=False)
        mode = "test" if y is None else "train"

        # Set train/test mode for batchnorm params and dropout param since they behave differently during
        # training and testing.
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        scores = None

        # Implement the forward pass for the fully connected net, computing the class scores for X and storing
        # them in the scores variable. The layers and the sandwich layers (cs231n_bn/layers.py,
        # cs231n_bn/layer_utils.py) are all imported here. With batch normalization, pass self.bn_params[0] to
        # the forward pass of the first batch normalization layer, etc.; with dropout, pass self.dropout_param
        # to every dropout layer; with nonlinearity='sigmoid', use sigmoid units instead of ReLUs.
        # TODO: implement the forward pass of the fully connected net, keeping what the backward pass needs (FullyConnectedNets.ipynb, section 8 "A fully connected network").
        ### BEGIN SOLUTION
        nonlinearity_forward = relu_forward if self.nonlinearity == "relu" else sigmoid_forward
        L = self.num_layers
        caches = []
        h = X
        for i in range(1, L):
            a, fc_cache = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            norm_cache = dropout_cache = None
            if self.normalization == "batchnorm":
                a, norm_cache = batchnorm_forward(a, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                                  self.bn_params[i - 1])
            elif self.normalization == "layernorm":
                a, norm_cache = layernorm_forward(a, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                                  self.bn_params[i - 1])
            h, nonlinearity_cache = nonlinearity_forward(a)
            if self.use_dropout:
                h, dropout_cache = dropout_forward(h, self.dropout_param)
            caches.append((fc_cache, norm_cache, nonlinearity_cache, dropout_cache))
        scores, scores_cache = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        ### END SOLUTION

        # If test mode return early.
        if mode == "test":
            return scores

        loss, grads = 0.0, {}
        # Implement the backward pass for the fully connected net. Store the loss in the loss variable and
        # gradients in the grads dictionary. Compute data loss using softmax, and make sure that grads[k] holds
        # the gradients for self.params[k]. Don't forget to add L2 regularization on the weights:
        # 0.5 * reg * sum(W**2) for every weight matrix W (not on the biases, gammas or betas).
        # TODO: implement the backward pass of the fully connected net (FullyConnectedNets.ipynb, section 8 "A fully connected network").
        ### BEGIN SOLUTION
        nonlinearity_backward = relu_backward if self.nonlinearity == "relu" else sigmoid_backward
        loss, dscores = softmax_loss(scores, y)
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, scores_cache)
        for i in range(L - 1, 0, -1):
            fc_cache, norm_cache, nonlinearity_cache, dropout_cache = caches[i - 1]
            if self.use_dropout:
                dh = dropout_backward(dh, dropout_cache)
            da = nonlinearity_backward(dh, nonlinearity_cache)
            if self.normalization == "batchnorm":
                da, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(da, norm_cache)
            elif self.normalization == "layernorm":
                da, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(da, norm_cache)
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, fc_cache)
        if self.reg > 0:  # L2 regularization on the weights: 0.5 * reg * sum(W**2), gradient reg * W
            for i in range(1, L + 1):
                W = self.params[f"W{i}"]
                loss += 0.5 * self.reg * np.sum(W * W)
                grads[f"W{i}"] += self.reg * W
        ### END SOLUTION

        # Every gradient in the parameters' dtype (a layer may return float64 for a float32 net).
        grads = {name: np.asarray(grad, dtype=self.dtype) for name, grad in grads.items()}
        return loss, grads
