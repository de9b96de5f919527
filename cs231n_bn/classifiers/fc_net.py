"""A fully connected network of any depth: ReLU or sigmoid units, optional batch/layer normalization and dropout."""

import numpy as np

from cs231n_bn.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_loss,
)

from ._params import activation_names, add_l2_penalty, check_architecture, first_layer_grads, init_params

NORMALIZATIONS = (None, "batchnorm", "layernorm")
NONLINEARITIES = ("relu", "sigmoid")


class FullyConnectedNet:
    """
    Class for a multi-layer fully connected neural network.

    Network contains an arbitrary number of hidden layers, ReLU (or sigmoid) nonlinearities, and a softmax loss
    function.
    This will also implement dropout and batch/layer normalization as options. For a network with L layers,
    the architecture will be

        {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax

    where batch/layer normalization and dropout are optional and the {...} block is repeated L - 1 times.
    With nonlinearity='sigmoid', sigmoid units replace the ReLUs: Ioffe & Szegedy's (2015) Section 4.1 network
    is FullyConnectedNet([100, 100, 100], input_dim=784, nonlinearity='sigmoid', normalization='batchnorm' or
    None), batch norm before each nonlinearity.

    Learnable parameters are stored in the self.params dictionary and will be learned using the Solver class:
    W1, b1, ..., WL, bL, and with normalization gamma1, beta1, ..., gamma{L-1}, beta{L-1}.

    State (not learned): self.bn_params, a list of L - 1 dicts, one per normalization layer ({'mode': 'train'}
    at first; batch norm adds running_mean and running_var to them), empty without normalization; and
    self.dropout_param ({'mode', 'p'} and 'seed' if a seed was given) when dropout is used.

    Named activations (see cs231n_bn.kit.monitors): set self.activations to a dict and the next forward pass stores
    'affine{i}', 'norm{i}' (normalized nets), 'preact{i}' (the nonlinearity's input), '{nonlinearity}{i}' ('relu{i}' or 'sigmoid{i}') for
    i = 1..L-1, and
    'scores' in it; self.activation_names lists them.
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None, nonlinearity="relu"):
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
        - nonlinearity: 'relu' (the default) or 'sigmoid', the hidden units.
        - reg: Scalar giving L2 regularization strength (weights only: 0.5 * reg * sum(W**2) per layer).
        - weight_scale: Scalar giving the standard deviation for random initialization of the weights.
        - dtype: A numpy datatype object; all computations will be performed using this datatype. float32 is
          faster but less accurate, so you should use float64 for numeric gradient checking.
        - seed: If not None, pass this random seed to the dropout layers (a fixed mask, for gradient checks)
          and draw the weights from np.random.default_rng(seed): W1, then W2, ..., then WL, each a
          standard_normal((fan_in, fan_out)) draw in float64, times weight_scale, then cast to dtype.
          If None, the weights come from np.random.randn (NumPy's global generator, as in cs231n).
        """
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"Unknown normalization {normalization!r}; allowed: None, 'batchnorm', 'layernorm'")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"Unknown nonlinearity {nonlinearity!r}; allowed: 'relu', 'sigmoid'")
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(f"dropout_keep_ratio must be in (0, 1], got {dropout_keep_ratio!r}")
        dims, self.dtype = check_architecture(input_dim, hidden_dims, num_classes, dtype, reg)

        self.normalization = normalization
        self.nonlinearity = nonlinearity
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = len(dims) - 1
        # Initialization: W ~ N(0, weight_scale^2), b = 0; gamma = 1, beta = 0 (see _params.init_params).
        self.params = init_params(dims, weight_scale, self.dtype, seed, normalized=normalization is not None)

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
        # second batch normalization layer, etc. Layer norm reads only 'eps' from its dict.
        self.bn_params = []
        if normalization is not None:
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]

        self.activations = None
        self.activation_names = activation_names(self.num_layers - 1, normalization is not None, nonlinearity)

    def loss(self, X, y=None):
        """
        Compute loss and gradient for the fully connected net.

        Inputs:
        - X: Array of input data of shape (N, d_1, ..., d_k), with d_1 * ... * d_k = input_dim; cast to dtype.
        - y: Array of labels, of shape (N,). y[i] gives the label for X[i].

        Returns:
        If y is None, then run a test-time forward pass of the model and return:
        - scores: Array of shape (N, C) giving classification scores, where scores[i, c] is the
          classification score for X[i] and class c.

        If y is not None, then run a training-time forward and backward pass and return a tuple of:
        - loss: Scalar value giving the loss
        - grads: Dictionary with the same keys as self.params, mapping parameter names to gradients of the
          loss with respect to those parameters (same shapes and dtype).
        """
        X = X.astype(self.dtype, copy=False)
        mode = "test" if y is None else "train"

        # Set train/test mode for batchnorm params and dropout param since they behave differently during
        # training and testing.
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode

        acts = self.activations  # None unless someone asked for the named activations
        params = self.params
        caches = []
        h = X
        # Forward pass: {affine - [norm] - relu - [dropout]} x (L - 1), then the last affine.
        for i in range(1, self.num_layers):
            cache = {}
            a, cache["affine"] = affine_forward(h, params[f"W{i}"], params[f"b{i}"])
            if acts is not None:
                acts[f"affine{i}"] = a
            if self.normalization is not None:
                # TODO: normalize a with batchnorm_forward or layernorm_forward (gamma{i}, beta{i}, self.bn_params[i - 1]); keep the cache in cache["norm"] (BatchNormalization.ipynb, section 6 "Fully connected nets with batch normalization").
                ### BEGIN SOLUTION
                norm_forward = batchnorm_forward if self.normalization == "batchnorm" else layernorm_forward
                a, cache["norm"] = norm_forward(a, params[f"gamma{i}"], params[f"beta{i}"], self.bn_params[i - 1])
                ### END SOLUTION
                if acts is not None:
                    acts[f"norm{i}"] = a
            nonlinearity_forward = relu_forward if self.nonlinearity == "relu" else sigmoid_forward
            h, cache["nonlinearity"] = nonlinearity_forward(a)
            if acts is not None:
                acts[f"preact{i}"], acts[f"{self.nonlinearity}{i}"] = a, h
            if self.use_dropout:
                # TODO: apply dropout_forward to h with self.dropout_param; keep the cache in cache["dropout"] (Dropout.ipynb, section 3 "Fully connected nets with dropout").
                ### BEGIN SOLUTION
                h, cache["dropout"] = dropout_forward(h, self.dropout_param)
                ### END SOLUTION
            caches.append(cache)
        L = self.num_layers
        scores, last_cache = affine_forward(h, params[f"W{L}"], params[f"b{L}"])
        if acts is not None:
            acts["scores"] = scores

        # If test mode return early.
        if mode == "test":
            return scores

        grads = {}
        loss, dscores = softmax_loss(scores, y)
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        # Backward pass through the hidden layers, last to first; each step undoes one forward line above.
        for i in range(L - 1, 0, -1):
            cache = caches[i - 1]
            if self.use_dropout:
                # TODO: backpropagate dh through the dropout layer (Dropout.ipynb, section 3 "Fully connected nets with dropout").
                ### BEGIN SOLUTION
                dh = dropout_backward(dh, cache["dropout"])
                ### END SOLUTION
            nonlinearity_backward = relu_backward if self.nonlinearity == "relu" else sigmoid_backward
            da = nonlinearity_backward(dh, cache["nonlinearity"])
            if self.normalization is not None:
                # TODO: backpropagate da through the normalization layer into da, grads[f"gamma{i}"] and grads[f"beta{i}"] (BatchNormalization.ipynb, section 6 "Fully connected nets with batch normalization").
                ### BEGIN SOLUTION
                norm_backward = batchnorm_backward_alt if self.normalization == "batchnorm" else layernorm_backward
                da, grads[f"gamma{i}"], grads[f"beta{i}"] = norm_backward(da, cache["norm"])
                ### END SOLUTION
            if i > 1:
                dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(da, cache["affine"])
            else:
                first_layer_grads(X, da, grads)

        # L2 regularization on the weights only: loss += 0.5 * reg * sum(W**2), dW += reg * W.
        loss = add_l2_penalty(loss, grads, params, self.reg, L)

        return loss, grads
