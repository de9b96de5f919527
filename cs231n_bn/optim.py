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
- next_w: The updated weights, of w's shape.
- config: The same dictionary, holding the updated state; pass it to the next call for this parameter.

next_w's dtype is the rule's choice (computing in float64 is correct): the Solver stores every parameter back in its
own dtype. The kit's rules keep w's dtype: state arrays are created with np.zeros_like(w), and Python float
hyperparameters do not promote float32 arrays. The Solver keeps one config per parameter and feeds next_w back in.

NOTE: like cs231n's, sgd updates w in place (next_w is the very array w). Copy w first if you need the old
values.
"""

import math

import numpy as np

# Defaults of every rule's hyperparameters (the API contract). The state entries (velocity, cache, m, v) are
# created on the first call.
DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0},
}


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
      Zeros on the first call.
    """
    config = _config_with_defaults("sgd_momentum", config)
    v = config.get("velocity", np.zeros_like(w))

    next_w = None
    # TODO: implement the momentum update; store the new velocity in config["velocity"] (FullyConnectedNets.ipynb, section 10.1 "SGD+Momentum").
    ### BEGIN SOLUTION
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
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
    - cache: Moving average of second moments of gradients, same shape as w. Zeros on the first call.
    """
    config = _config_with_defaults("rmsprop", config)
    config.setdefault("cache", np.zeros_like(w))

    next_w = None
    # TODO: implement the RMSProp update; store the new cache in config["cache"] (FullyConnectedNets.ipynb, section 10.2 "RMSProp and Adam").
    ### BEGIN SOLUTION
    decay_rate = config["decay_rate"]
    config["cache"] = decay_rate * config["cache"] + (1 - decay_rate) * dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
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
    - m: Moving average of gradient, same shape as w. Zeros on the first call.
    - v: Moving average of squared gradient, same shape as w. Zeros on the first call.
    - t: Iteration number (default 0).
    """
    config = _config_with_defaults("adam", config)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))

    next_w = None
    # TODO: implement the Adam update with bias correction; store m, v and t back in config (FullyConnectedNets.ipynb, section 10.2 "RMSProp and Adam").
    ### BEGIN SOLUTION
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    config["m"] = beta1 * config["m"] + (1 - beta1) * dw
    config["v"] = beta2 * config["v"] + (1 - beta2) * dw**2
    m_hat = config["m"] / (1 - beta1**t)
    v_hat = config["v"] / (1 - beta2**t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    ### END SOLUTION
    return next_w, config


# The rules the Solver accepts by name.
UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}


# --------------------------------------------------------------------------------------------------------------
# Argument checks (one call at the top of every rule)
# --------------------------------------------------------------------------------------------------------------

# Allowed values of each hyperparameter: low <= value < high (epsilon > 0), finite.
_RANGES = {
    "learning_rate": (0.0, math.inf, "a finite number >= 0"),
    "momentum": (0.0, 1.0, "a number in [0, 1)"),
    "decay_rate": (0.0, 1.0, "a number in [0, 1)"),
    "beta1": (0.0, 1.0, "a number in [0, 1)"),
    "beta2": (0.0, 1.0, "a number in [0, 1)"),
    "epsilon": (0.0, math.inf, "a finite number > 0"),
}


def _config_with_defaults(rule, config):
    """
    The config of update rule `rule`: config itself (a new dict if None) with its missing hyperparameters set to
    their defaults (DEFAULTS[rule]). TypeError unless config is a dict or None; ValueError naming the value
    unless every hyperparameter is in its range (learning_rate >= 0; momentum, decay_rate, beta1, beta2 in
    [0, 1); epsilon > 0; t an integer >= 0).

    Returns:
    - config: The dict, with every key of DEFAULTS[rule].
    """
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise TypeError(f"{rule}: config must be a dict or None, got {type(config).__name__}")
    for key, default in DEFAULTS[rule].items():
        value = config.setdefault(key, default)
        if key == "t":
            ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0
            allowed = "an integer >= 0"
        else:
            low, high, allowed = _RANGES[key]
            try:
                ok = bool(low <= value < high) and (key != "epsilon" or value > 0) and not isinstance(value, bool)
            except (TypeError, ValueError):  # a string, an array, ...
                ok = False
        if not ok:
            raise ValueError(f"{rule}: {key} must be {allowed}, got {value!r}")
    return config
