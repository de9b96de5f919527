"""First-order update rules, cs231n style.

Every rule has the signature

    next_w, config = update(w, dw, config=None)

Inputs:
- w: A numpy array of any shape giving the current weights.
- dw: A numpy array of the same shape as w giving the gradient of the loss with respect to w.
- config: A dictionary of hyperparameters (learning rate, momentum, ...) and of the rule's state (velocity,
  moment estimates, step count). If None, a new dictionary with the defaults is created. Missing hyperparameters
  are filled in with their defaults; the state is created on the first call.

Returns a tuple of:
- next_w: The updated weights, same shape and dtype as w.
- config: The same dictionary, holding the updated state; pass it to the next call for this parameter.

The rules keep w's dtype: state arrays are created with np.zeros_like(w), and Python float hyperparameters
do not promote float32 arrays. The Solver keeps one config per parameter and feeds next_w back in.

NOTE: like cs231n's sgd, the rules may update w in place (next_w can be the very array w). Copy w first
if you need the old values.
"""

import math

import numpy as np

# Defaults of every rule's hyperparameters (the API contract). The state entries (velocity, cache, m, v, t)
# are created on the first call.
DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0},
}


def _config_with_defaults(name, config):
    """Return config (a new dict if None) with the missing defaults of rule `name` filled in."""
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise TypeError(f"{name}: config must be a dict or None, got {type(config).__name__}")
    for key, value in DEFAULTS[name].items():
        config.setdefault(key, value)
    return config


def sgd(w, dw, config=None):
    """
    Vanilla stochastic gradient descent: w <- w - learning_rate * dw.

    config format:
    - learning_rate: Scalar learning rate (default 1e-2).

    Updates w in place and returns it.
    """
    config = _config_with_defaults("sgd", config)
    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """
    Stochastic gradient descent with momentum:

        v <- momentum * v - learning_rate * dw
        w <- w + v

    config format:
    - learning_rate: Scalar learning rate (default 1e-2).
    - momentum: Scalar between 0 and 1 giving the momentum value (default 0.9); momentum = 0 reduces to sgd.
    - velocity: A numpy array of the same shape as w and dw used to store a moving average of the gradients.
      Created as zeros on the first call.
    """
    config = _config_with_defaults("sgd_momentum", config)
    v = config.get("velocity")
    if v is None:
        v = np.zeros_like(w)

    next_w = None
    # TODO: implement the momentum update; store the new velocity in config["velocity"] (FullyConnectedNets.ipynb, section 10.1 "SGD+Momentum").
    ### BEGIN SOLUTION
    v *= config["momentum"]  # v <- momentum * v - learning_rate * dw, in place: no new arrays per step
    v -= config["learning_rate"] * dw
    w += v
    next_w = w
    config["velocity"] = v
    ### END SOLUTION
    return next_w, config


def rmsprop(w, dw, config=None):
    """
    RMSProp: scale each step by a moving average of squared gradients, so that every coordinate moves at
    roughly the same speed:

        cache <- decay_rate * cache + (1 - decay_rate) * dw**2
        w <- w - learning_rate * dw / (sqrt(cache) + epsilon)

    config format:
    - learning_rate: Scalar learning rate (default 1e-2).
    - decay_rate: Scalar between 0 and 1 giving the decay rate for the squared gradient cache (default 0.99).
    - epsilon: Small scalar used for smoothing to avoid dividing by zero (default 1e-8).
    - cache: Moving average of second moments of gradients, same shape as w. Created as zeros.
    """
    config = _config_with_defaults("rmsprop", config)
    cache = config.get("cache")
    if cache is None:
        cache = np.zeros_like(w)

    next_w = None
    # TODO: implement the RMSProp update; store the new cache in config["cache"] (FullyConnectedNets.ipynb, section 10.2 "RMSProp and Adam").
    ### BEGIN SOLUTION
    decay_rate = config["decay_rate"]
    cache *= decay_rate  # cache <- decay_rate * cache + (1 - decay_rate) * dw**2
    cache += (1 - decay_rate) * (dw * dw)
    step = np.sqrt(cache)
    step += config["epsilon"]  # epsilon keeps the division finite where the cache is still zero
    np.divide(dw, step, out=step)
    step *= config["learning_rate"]
    w -= step
    next_w = w
    config["cache"] = cache
    ### END SOLUTION
    return next_w, config


def adam(w, dw, config=None):
    """
    Adam: moving averages of the gradient and of its square, with bias correction (t is incremented before
    it is used, so the first step uses t = 1):

        t <- t + 1
        m <- beta1 * m + (1 - beta1) * dw
        v <- beta2 * v + (1 - beta2) * dw**2
        m_hat = m / (1 - beta1**t);  v_hat = v / (1 - beta2**t)
        w <- w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)

    config format:
    - learning_rate: Scalar learning rate (default 1e-3).
    - beta1: Decay rate for moving average of first moment of gradient (default 0.9).
    - beta2: Decay rate for moving average of second moment of gradient (default 0.999).
    - epsilon: Small scalar used for smoothing to avoid dividing by zero (default 1e-8).
    - m: Moving average of gradient, same shape as w. Created as zeros.
    - v: Moving average of squared gradient, same shape as w. Created as zeros.
    - t: Iteration number (default 0).
    """
    config = _config_with_defaults("adam", config)
    m = config.get("m")
    if m is None:
        m = np.zeros_like(w)
    v = config.get("v")
    if v is None:
        v = np.zeros_like(w)

    next_w = None
    # TODO: implement the Adam update with bias correction; store m, v and t back in config (FullyConnectedNets.ipynb, section 10.2 "RMSProp and Adam").
    ### BEGIN SOLUTION
    beta1, beta2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m *= beta1  # m <- beta1 * m + (1 - beta1) * dw
    m += (1 - beta1) * dw
    v *= beta2  # v <- beta2 * v + (1 - beta2) * dw**2
    v += (1 - beta2) * (dw * dw)
    # Bias correction folded into scalars: m_hat / (sqrt(v_hat) + eps) = (m / c1) / (sqrt(v) / sqrt(c2) + eps).
    c1 = 1 - beta1**t
    sqrt_c2 = math.sqrt(1 - beta2**t)  # Python floats: they never promote a float32 w
    step = np.sqrt(v)
    step *= 1 / sqrt_c2
    step += config["epsilon"]
    np.divide(m, step, out=step)
    step *= config["learning_rate"] / c1
    w -= step
    next_w = w
    config["m"], config["v"], config["t"] = m, v, t
    ### END SOLUTION
    return next_w, config


# The rules the Solver accepts by name.
UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}
