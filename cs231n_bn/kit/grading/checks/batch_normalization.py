"""Checks of BatchNormalization.ipynb: batch norm forward (train and test mode, running averages), both backward
passes, layer norm, the sandwiches and FullyConnectedNet with normalization."""

import numpy as np

from .registry import check
from .expect import (CheckFailed, at, backward_pure, expect, expect_array, expect_close, expect_float32,
                     expect_gradient, expect_nan_propagates, expect_normalization_gradient, expect_normalized,
                     expect_param_gradient, pure, relative_error, rng, unpack)
from .fully_connected_nets import expect_fc_gradients, fc_data, fc_net, sandwich

NOTEBOOK = "BatchNormalization.ipynb"


def bn_inputs(seed, shape=(6, 4)):
    r = rng(seed)
    x = 1e8 + r.normal(size=shape) * r.uniform(0.5, 3.0, size=shape[1])  # a large offset: two-pass variance
    gamma, beta = r.uniform(0.5, 2.0, size=shape[1]), r.normal(size=shape[1])
    return x, gamma, beta


def expect_running(what, got, want, batch_statistic, momentum, unbiased=None):
    """bn_param's running average after one train step from zeros, with the classic mistakes named."""
    expect(got is not None, f"bn_param has no {what!r} after a train step")
    got = np.asarray(got)
    expect(got.shape == np.shape(want), f"bn_param[{what!r}] has shape {got.shape}, expected {np.shape(want)}")
    if relative_error(got, want) <= 1e-9:
        return
    expect(np.any(got != 0), f"bn_param[{what!r}] is still zero after a train step: store the updated running "
                             f"average in bn_param")
    if relative_error(got, momentum * batch_statistic) <= 1e-9:
        raise CheckFailed(f"bn_param[{what!r}]: the momentum is the wrong way round; running = momentum * running "
                          f"+ (1 - momentum) * batch statistic (momentum {momentum:g} keeps {momentum:.0%} of the "
                          f"old value)")
    if unbiased is not None and relative_error(got, (1 - momentum) * unbiased) <= 1e-9:
        raise CheckFailed(f"bn_param[{what!r}] averages the unbiased variance (divide by N - 1); it averages the "
                          f"same biased variance (divide by N) that train mode normalizes with")
    expect_close(f"bn_param[{what!r}] after one train step (from zeros, momentum {momentum:g})", got, want, 1e-9)


def expect_test_mode(name, forward, x, gamma, beta, running_mean, running_var, eps, want, z, axes):
    """Test mode normalizes with the running statistics: inputs mean + sqrt(var + eps) * z give gamma * z + beta."""
    test_param = {"mode": "test", "running_mean": running_mean.copy(), "running_var": running_var.copy()}
    out, _ = pure(forward, name, x, gamma, beta, test_param)
    if relative_error(out, want) > 1e-9:
        shape = [1] * x.ndim
        shape[1] = -1
        g, b = np.reshape(gamma, shape), np.reshape(beta, shape)
        normalized = (out - b) / g
        if np.max(np.abs(normalized.mean(axis=axes))) < 1e-6 and np.max(np.abs(normalized.var(axis=axes) - 1)) < 1e-3:
            raise CheckFailed(f"{name} in test mode normalizes with the batch's own statistics; test mode uses "
                              f"bn_param's running_mean and running_var")
        if relative_error(out, z) <= 1e-9:
            raise CheckFailed(f"{name} in test mode leaves out gamma and beta (out = gamma * x_hat + beta at test "
                              f"time too)")
        expect_close(f"{name} (test mode, running statistics)", out, want, 1e-9)
    expect(np.array_equal(test_param.get("running_mean"), running_mean) and
           np.array_equal(test_param.get("running_var"), running_var),
           f"{name} must not change the running statistics in test mode")


@check("layers.batchnorm_forward", NOTEBOOK)
def check_batchnorm_forward(student):
    layers = student.module("layers")
    name = "batchnorm_forward"
    x, gamma, beta = bn_inputs(8)
    eps = 1e-5
    bn_param = {"mode": "train", "momentum": 0.8}
    out, _ = unpack(pure(layers.batchnorm_forward, name, x, gamma, beta, bn_param), ("out", "cache"), name)
    expect_array("batchnorm_forward out", out, x.shape)
    var = x.var(axis=0)
    expect_normalized("batchnorm_forward (train)", (out - beta) / gamma, 0, var, eps, out=out)
    mean, N = x.mean(axis=0), x.shape[0]
    expect_running("running_mean", bn_param.get("running_mean"), 0.2 * mean, mean, 0.8)
    expect_running("running_var", bn_param.get("running_var"), 0.2 * var, var, 0.8, unbiased=var * N / (N - 1))
    x2 = x[::-1] * 2.0 - 1e8
    layers.batchnorm_forward(x2, gamma, beta, bn_param)
    expect_close("bn_param['running_mean'] after a second step", bn_param.get("running_mean"),
                 0.8 * 0.2 * mean + 0.2 * x2.mean(axis=0), 1e-12)

    default = {"mode": "train"}
    layers.batchnorm_forward(x, gamma, beta, default)
    expect_close("bn_param['running_mean'] with the default momentum 0.9", default.get("running_mean"),
                 0.1 * mean, 1e-12)

    running_mean, running_var = np.array([1.0, -2.0, 0.0, 3.0]), np.array([4.0, 0.25, 1.0, 9.0])
    z = rng(9).normal(size=(5, 4))
    x_test = running_mean + np.sqrt(running_var + eps) * z
    expect_test_mode(name, layers.batchnorm_forward, x_test, gamma, beta, running_mean, running_var, eps,
                     want=gamma * z + beta, z=z, axes=0)

    x32, gamma32, beta32 = x.astype(np.float32) - np.float32(1e8), gamma.astype(np.float32), beta.astype(np.float32)
    param32 = {"mode": "train"}
    out32, _ = layers.batchnorm_forward(x32, gamma32, beta32, param32)
    expect_float32("batchnorm_forward out", out32)
    for key in ("running_mean", "running_var"):
        value = param32.get(key)
        expect(isinstance(value, np.ndarray) and value.dtype == np.float32,
               f"bn_param[{key!r}] for float32 input is {getattr(value, 'dtype', value)}, expected float32 "
               f"(x's dtype)")
    x_nan = x - 1e8
    x_nan[2, 1] = np.nan
    out_nan, _ = layers.batchnorm_forward(x_nan, gamma, beta, {"mode": "train"})
    expect_nan_propagates("batchnorm_forward", out_nan, (slice(None), 1), (slice(None), [0, 2, 3]))


def bn_gradients(student, backward_name, seed):
    layers = student.module("layers")
    x, gamma, beta = bn_inputs(seed, shape=(5, 3))
    x -= 1e8  # gradients are checked on well-scaled inputs
    dout = rng(seed + 1).normal(size=x.shape)
    forward = layers.batchnorm_forward
    _, cache = forward(x, gamma, beta, {"mode": "train"})
    grads = unpack(backward_pure(getattr(layers, backward_name), backward_name, dout, cache, x, gamma, beta),
                   ("dx", "dgamma", "dbeta"), backward_name)
    dx, dgamma, dbeta = grads
    expect_param_gradient(f"{backward_name} dgamma", dgamma, gamma.shape)
    expect_param_gradient(f"{backward_name} dbeta", dbeta, beta.shape, "beta")
    args = (x, gamma, beta, {"mode": "train"})
    expect_normalization_gradient(f"{backward_name} dx", dx, at(forward, args, 0), x, dout, 0)
    expect_gradient(f"{backward_name} dgamma", dgamma, at(forward, args, 1), gamma, dout)
    expect_gradient(f"{backward_name} dbeta", dbeta, at(forward, args, 2), beta, dout)


@check("layers.batchnorm_backward", NOTEBOOK)
def check_batchnorm_backward(student):
    bn_gradients(student, "batchnorm_backward", 10)


@check("layers.batchnorm_backward_alt", NOTEBOOK)
def check_batchnorm_backward_alt(student):
    # Checked against centred differences of batchnorm_forward only: a staged backward that is still wrong (or
    # missing) never makes a correct closed form fail.
    bn_gradients(student, "batchnorm_backward_alt", 12)


@check("layers.layernorm_forward", NOTEBOOK)
def check_layernorm_forward(student):
    layers = student.module("layers")
    x, gamma, beta = bn_inputs(17, shape=(4, 7))
    out, _ = unpack(pure(layers.layernorm_forward, "layernorm_forward", x, gamma, beta, {}), ("out", "cache"),
                    "layernorm_forward")
    expect_array("layernorm_forward out", out, x.shape)
    z = (out - beta) / gamma
    if np.max(np.abs(z.mean(axis=0))) < 1e-6 and np.max(np.abs(z.mean(axis=1))) > 1e-3:
        raise CheckFailed("layernorm_forward normalizes each feature over the batch (axis 0), as batch norm does; "
                          "layer norm normalizes each example over its features (axis 1)")
    expect_normalized("layernorm_forward (each row)", z, 1, x.var(axis=1), 1e-5, out=out)
    again, _ = layers.layernorm_forward(x, gamma, beta, {"mode": "test"})
    expect_close("layernorm_forward in test mode (same as train)", again, out, 1e-12)
    out32, _ = layers.layernorm_forward((x - 1e8).astype(np.float32), gamma.astype(np.float32),
                                        beta.astype(np.float32), {})
    expect_float32("layernorm_forward out", out32)
    x_nan = x - 1e8
    x_nan[1, 3] = np.nan
    out_nan, _ = layers.layernorm_forward(x_nan, gamma, beta, {})
    expect_nan_propagates("layernorm_forward", out_nan, 1, [0, 2, 3])


@check("layers.layernorm_backward", NOTEBOOK)
def check_layernorm_backward(student):
    layers = student.module("layers")
    x, gamma, beta = bn_inputs(18, shape=(3, 5))
    x -= 1e8
    dout = rng(19).normal(size=x.shape)
    forward = layers.layernorm_forward
    _, cache = forward(x, gamma, beta, {})
    dx, dgamma, dbeta = unpack(backward_pure(layers.layernorm_backward, "layernorm_backward", dout, cache, x, gamma,
                                             beta), ("dx", "dgamma", "dbeta"), "layernorm_backward")
    expect_param_gradient("layernorm_backward dgamma", dgamma, gamma.shape)
    expect_param_gradient("layernorm_backward dbeta", dbeta, beta.shape, "beta")
    args = (x, gamma, beta, {})
    expect_normalization_gradient("layernorm_backward dx", dx, at(forward, args, 0), x, dout, 1)
    expect_gradient("layernorm_backward dgamma", dgamma, at(forward, args, 1), gamma, dout)
    expect_gradient("layernorm_backward dbeta", dbeta, at(forward, args, 2), beta, dout)


@check("layer_utils.affine_bn_relu", NOTEBOOK, ("affine_bn_relu_forward", "affine_bn_relu_backward"))
def check_affine_bn_relu(student):
    r = rng(13)
    x, w, b = r.normal(size=(5, 4)), r.normal(size=(4, 3)), r.normal(size=3)
    gamma, beta = r.uniform(0.5, 2.0, size=3), r.normal(size=3)
    sandwich(student, "affine_bn_relu", (x, w, b, gamma, beta), ({"mode": "train"},), ("x", "w", "b", "gamma", "beta"),
             14)


def check_fc_normalized(student, normalization):
    model = fc_net(student, normalization=normalization)
    params = model.params
    for i, width in ((1, 5), (2, 4)):
        for key, value in ((f"gamma{i}", 1.0), (f"beta{i}", 0.0)):
            expect(key in params, f"normalization={normalization!r}: params has no {key!r}")
            expect_array(f"params[{key!r}]", params[key], (width,))
            expect(np.all(params[key] == value), f"params[{key!r}] must start at {value:g}")
    expect("gamma3" not in params, "the last affine layer has no normalization: params has 'gamma3'")
    expect_fc_gradients(model, f"FullyConnectedNet (normalization={normalization!r})")
    X, _ = fc_data()
    expect_array("loss(X) scores", model.loss(X), (4, 3))


@check("FullyConnectedNet (batchnorm)", NOTEBOOK, ("__init__", "loss"))
def check_fc_net_batchnorm(student):
    check_fc_normalized(student, "batchnorm")


@check("layer_utils.affine_ln_relu", NOTEBOOK, ("affine_ln_relu_forward", "affine_ln_relu_backward"))
def check_affine_ln_relu(student):
    r = rng(20)
    x, w, b = r.normal(size=(4, 3)), r.normal(size=(3, 5)), r.normal(size=5)
    gamma, beta = r.uniform(0.5, 2.0, size=5), r.normal(size=5)
    sandwich(student, "affine_ln_relu", (x, w, b, gamma, beta), ({},), ("x", "w", "b", "gamma", "beta"), 21)


@check("FullyConnectedNet (layernorm)", NOTEBOOK, ("__init__", "loss"))
def check_fc_net_layernorm(student):
    check_fc_normalized(student, "layernorm")
