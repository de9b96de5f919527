"""What the fully connected classifiers share: argument checks, parameter initialization, named activations,
the first layer's gradients and the L2 penalty.

Initialization sits outside every solution region, so that every student starts from the same weights.
"""

import numpy as np

DTYPES = (np.float32, np.float64)


def check_architecture(input_dim, hidden_dims, num_classes, dtype, reg):
    """
    ValueError naming the bad value unless the layer sizes are positive integers, dtype is float32 or float64
    and reg >= 0.

    Returns:
    - dims: List [input_dim, *hidden_dims, num_classes].
    - dtype: The numpy scalar type (np.float32 or np.float64).
    """
    hidden_dims = list(hidden_dims)
    dims = [input_dim, *hidden_dims, num_classes]
    for size in dims:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"layer sizes must be positive integers, got {size!r} "
                             f"(input_dim={input_dim!r}, hidden_dims={hidden_dims!r}, num_classes={num_classes!r})")
    if np.dtype(dtype) not in [np.dtype(d) for d in DTYPES]:
        raise ValueError(f"Unsupported dtype {dtype!r}; allowed: float32, float64")
    if not reg >= 0:  # also False for NaN
        raise ValueError(f"reg must be >= 0, got {reg!r}")
    return dims, np.dtype(dtype).type


def init_params(dims, weight_scale, dtype, seed, normalized):
    """
    Parameters of a fully connected net with layer sizes dims = [D, H_1, ..., H_{L-1}, C]:
    W{i} ~ N(0, weight_scale^2) of shape (dims[i-1], dims[i]) and b{i} = 0 for i = 1..L; when normalized,
    gamma{i} = 1 and beta{i} = 0 of shape (dims[i],) for the hidden layers i = 1..L-1 (so that a normalization
    layer starts as the identity on x_hat).

    Weights come from np.random.default_rng(seed) if seed is not None, W1 first, each a
    standard_normal((fan_in, fan_out)) draw in float64, times weight_scale, then cast to dtype; with seed None
    they come from np.random.randn (NumPy's global generator, as in cs231n).

    Returns:
    - params: Dict of arrays of the given dtype.
    """
    rng = None if seed is None else np.random.default_rng(seed)
    num_layers = len(dims) - 1
    params = {}
    for i in range(1, num_layers + 1):
        shape = (dims[i - 1], dims[i])
        draw = np.random.randn(*shape) if rng is None else rng.standard_normal(shape)
        params[f"W{i}"] = (weight_scale * draw).astype(dtype)
        params[f"b{i}"] = np.zeros(dims[i], dtype=dtype)
        if normalized and i < num_layers:
            params[f"gamma{i}"] = np.ones(dims[i], dtype=dtype)
            params[f"beta{i}"] = np.zeros(dims[i], dtype=dtype)
    return params


def add_l2_penalty(loss, grads, params, reg, num_layers):
    """
    L2 regularization on the weights only (not biases, gammas or betas):
    loss += 0.5 * reg * sum_i sum(W{i}**2), and grads[W{i}] += reg * W{i} in place.

    Returns:
    - loss: The regularized loss (a float).
    """
    if reg:
        for i in range(1, num_layers + 1):
            W = params[f"W{i}"]
            loss += 0.5 * reg * float(np.sum(W * W))
            grads[f"W{i}"] += reg * W
    return loss


def activation_names(num_hidden, normalized, nonlinearity):
    """
    The named activations a fully connected classifier exposes (see cs231n_bn.kit.monitors): for each hidden layer
    i = 1..num_hidden, 'affine{i}', 'norm{i}' (when normalized), 'preact{i}' (the nonlinearity's input) and
    '{nonlinearity}{i}'; then 'scores'.

    Returns:
    - names: Tuple of strings.
    """
    names = []
    for i in range(1, num_hidden + 1):
        names += [f"affine{i}"] + ([f"norm{i}"] if normalized else []) + [f"preact{i}", f"{nonlinearity}{i}"]
    return tuple(names + ["scores"])


def first_layer_grads(X, da, grads):
    """
    affine_backward for the first layer without dx (the gradient with respect to the input data is never used):
    grads['W1'] = X_flat.T @ da and grads['b1'] = sum(da, axis=0), written into grads.

    Inputs:
    - X: Input data of shape (N, d_1, ..., d_k), flattening to (N, D).
    - da: Upstream derivative of the first affine layer's output, of shape (N, H_1).
    - grads: Dict of gradients, updated in place.
    """
    grads["W1"] = X.reshape(X.shape[0], -1).T @ da
    grads["b1"] = da.sum(axis=0)
