"""Checks of BatchNormalization.ipynb: batch norm forward (train and test mode, running averages), both backward
passes, layer norm, the sandwiches and FullyConnectedNet with normalization."""

import numpy as np

from .registry import Timing, check
from .expect import (CheckFailed, at, backward_pure, expect, expect_array, expect_close, expect_gradient,
                     expect_nan_propagates, expect_param_gradient, pure, relative_error, rng, unpack)
from .fully_connected_nets import (expect_fc_architecture, expect_fc_gradients, expect_fc_penalty, fc_data,
                                  fc_net, sandwich)
from .normalizing import expect_normalization_gradient, expect_standardized

NOTEBOOK = "BatchNormalization.ipynb"
OFFSET = 1e8  # the inputs' mean: a variance computed as E[x^2] - E[x]^2 loses every digit


def bn_inputs(seed, shape=(6, 4)):
    r = rng(seed)
    x = OFFSET + r.normal(size=shape) * r.uniform(0.5, 3.0, size=shape[1])
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
    one, _ = forward(x[:1], gamma, beta, {"mode": "test", "running_mean": running_mean.copy(),
                                          "running_var": running_var.copy()})
    expect_close(f"{name} in test mode on one example (N = 1)", one, want[:1], 1e-9)


@check("layers.batchnorm_forward", NOTEBOOK)
def check_batchnorm_forward(student):
    layers = student.module("layers")
    name = "batchnorm_forward"
    x, gamma, beta = bn_inputs(8)
    eps = 1e-5
    bn_param = {"mode": "train", "momentum": 0.8}
    out, _ = unpack(pure(layers.batchnorm_forward, name, x, gamma, beta, bn_param), ("out", "cache"), name)
    expect_array("batchnorm_forward out", out, x.shape)

    def normalize(x, eps=eps):
        return (layers.batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})[0] - beta) / gamma
    expect_standardized("batchnorm_forward (train)", (out - beta) / gamma, x, 0, eps, out=out,
                        shifted=(OFFSET, normalize))
    # A large eps tells the formulas apart that differ in where eps goes (1e-5 hides them under the rounding).
    expect_standardized("batchnorm_forward (train, bn_param['eps'] = 0.5)", normalize(x - OFFSET, 0.5), x - OFFSET, 0,
                        0.5)
    var = x.var(axis=0)
    mean, N = x.mean(axis=0), x.shape[0]
    expect_running("running_mean", bn_param.get("running_mean"), 0.2 * mean, mean, 0.8)
    expect_running("running_var", bn_param.get("running_var"), 0.2 * var, var, 0.8, unbiased=var * N / (N - 1))
    x2 = x[::-1] * 2.0 - OFFSET
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

    # float32 works (the output's dtype is the layer's choice: float32, or float64 computed in float64)
    x32, gamma32, beta32 = (x - OFFSET).astype(np.float32), gamma.astype(np.float32), beta.astype(np.float32)
    param32 = {"mode": "train"}
    out32, _ = layers.batchnorm_forward(x32, gamma32, beta32, param32)
    expect_array("batchnorm_forward out for float32 x", out32, x.shape)
    expect_close("batchnorm_forward out for float32 x", out32, out, 1e-5)
    x_nan = x - OFFSET
    x_nan[2, 1] = np.nan
    out_nan, _ = layers.batchnorm_forward(x_nan, gamma, beta, {"mode": "train"})
    expect_nan_propagates("batchnorm_forward", out_nan, (slice(None), 1), (slice(None), [0, 2, 3]))


def expect_norm_param_gradients(what, dgamma, dbeta, forward, args, x_hat, dout, axes):
    """dgamma and dbeta of a normalization layer: their shape (the parameter's), then their values (centred
    differences), with the classic mistakes named: left per example, summed over the wrong axes, averaged, dgamma
    from x instead of x_hat. ``axes``: the axes of x a parameter is shared over (the batch, and H and W for the
    spatial layers); ``x_hat``: (out - beta) / gamma of the student's forward pass (checked on its own)."""
    x, gamma = args[0], args[1]
    shape = np.shape(gamma)
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    unit = "feature" if x.ndim == 2 else "channel"
    over = "the batch (axis 0)" if axes == (0,) else f"the batch and the positions (axes {axes})"
    for name, grad, per_example in (("dgamma", dgamma, dout * x_hat), ("dbeta", dbeta, dout)):
        param = name[1:]
        wrong = "the features (axis 1)" if x.ndim == 2 else f"axes {kept}"
        expect_param_gradient(f"{what} {name}", grad, shape, [
            (per_example, f"every example uses the same {param}, so its gradient sums the contributions over {over}"),
            (per_example.sum(axis=kept), f"{name} sums over {wrong}; {param} has one value per {unit}, so {name} "
                                         f"sums over {over}"),
            (per_example.sum(axis=axes), f"its values are right; the gradients come back in {param}'s shape "
                                         f"{tuple(shape)}")])
    count = int(np.prod([x.shape[a] for a in axes]))
    expect_gradient(f"{what} dbeta", dbeta, at(forward, args, 2), args[2], dout, probes=lambda numeric: [
        (numeric / count, f"{what} dbeta averages dout over {over}; it sums it")])
    expect_gradient(f"{what} dgamma", dgamma, at(forward, args, 1), gamma, dout, probes=lambda numeric: [
        (np.reshape((dout * x).sum(axis=axes), np.shape(numeric)),
         f"{what} dgamma sums dout * x; gamma multiplies x_hat, so dgamma sums dout * x_hat"),
        (numeric / count, f"{what} dgamma averages over {over}; it sums")])


def bn_gradients(student, backward_name, seed):
    layers = student.module("layers")
    x, gamma, beta = bn_inputs(seed, shape=(5, 3))
    x -= OFFSET  # gradients are checked on well-scaled inputs
    dout = rng(seed + 1).normal(size=x.shape)
    forward = layers.batchnorm_forward
    out, cache = forward(x, gamma, beta, {"mode": "train"})
    grads = unpack(backward_pure(getattr(layers, backward_name), backward_name, dout, cache, x, gamma, beta),
                   ("dx", "dgamma", "dbeta"), backward_name)
    dx, dgamma, dbeta = grads
    args = (x, gamma, beta, {"mode": "train"})
    # From the output back: dbeta (node 9), dgamma (node 8), then dx through every node.
    expect_norm_param_gradients(backward_name, dgamma, dbeta, forward, args, (out - beta) / gamma, dout, (0,))
    expect_normalization_gradient(f"{backward_name} dx", dx, at(forward, args, 0), x, dout, 0, scale=gamma,
                                  staged=backward_name == "batchnorm_backward")


@check("layers.batchnorm_backward", NOTEBOOK, needs=("layers.batchnorm_forward",))
def check_batchnorm_backward(student):
    bn_gradients(student, "batchnorm_backward", 10)


@check("layers.batchnorm_backward_alt", NOTEBOOK, needs=("layers.batchnorm_forward",))
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

    def normalize(x, eps=1e-5):
        return (layers.layernorm_forward(x, gamma, beta, {"eps": eps})[0] - beta) / gamma
    z = (out - beta) / gamma
    expect_standardized("layernorm_forward (each row)", z, x, 1, 1e-5, out=out, candidates=[
        (z, x, 0, "normalizes each feature over the batch (axis 0), as batch norm does; layer norm normalizes each "
                  "example over its features (axis 1)")], shifted=(OFFSET, normalize))
    expect_standardized("layernorm_forward (ln_param['eps'] = 0.5)", normalize(x - OFFSET, 0.5), x - OFFSET, 1, 0.5)
    again, _ = layers.layernorm_forward(x, gamma, beta, {"mode": "test"})
    expect_close("layernorm_forward in test mode (same as train)", again, out, 1e-12)
    out32, _ = layers.layernorm_forward((x - OFFSET).astype(np.float32), gamma.astype(np.float32),
                                        beta.astype(np.float32), {})
    expect_close("layernorm_forward out for float32 x", out32, out, 1e-5)
    x_nan = x - OFFSET
    x_nan[1, 3] = np.nan
    out_nan, _ = layers.layernorm_forward(x_nan, gamma, beta, {})
    expect_nan_propagates("layernorm_forward", out_nan, 1, [0, 2, 3])


@check("layers.layernorm_backward", NOTEBOOK, needs=("layers.layernorm_forward",))
def check_layernorm_backward(student):
    layers = student.module("layers")
    x, gamma, beta = bn_inputs(18, shape=(3, 5))
    x -= OFFSET
    dout = rng(19).normal(size=x.shape)
    forward = layers.layernorm_forward
    out, cache = forward(x, gamma, beta, {})
    dx, dgamma, dbeta = unpack(backward_pure(layers.layernorm_backward, "layernorm_backward", dout, cache, x, gamma,
                                             beta), ("dx", "dgamma", "dbeta"), "layernorm_backward")
    args = (x, gamma, beta, {})
    expect_norm_param_gradients("layernorm_backward", dgamma, dbeta, forward, args, (out - beta) / gamma, dout, (0,))
    expect_normalization_gradient("layernorm_backward dx", dx, at(forward, args, 0), x, dout, 1, scale=gamma)


@check("layer_utils.affine_bn_relu", NOTEBOOK, ("affine_bn_relu_forward", "affine_bn_relu_backward"),
       needs=("layers.affine", "layers.relu", "layers.batchnorm"))
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
    expect_fc_architecture(student, f"FullyConnectedNet (normalization={normalization!r})", normalization)
    expect_fc_penalty(model)  # on the weights only: gamma and beta are not weights (api.md)


SECTION41 = Timing("section41_profile", (), "A training step of the Section 4.1 network (PaperReproduction.ipynb: "
                                            "sigmoid units, batch norm, a batch of 60)", 50_000)


@check("FullyConnectedNet (batchnorm)", NOTEBOOK, ("__init__", "loss"),
       needs=("FullyConnectedNet", "layers.batchnorm", "layer_utils.affine_bn_relu"), timing=SECTION41)
def check_fc_net_batchnorm(student):
    check_fc_normalized(student, "batchnorm")


@check("layer_utils.affine_ln_relu", NOTEBOOK, ("affine_ln_relu_forward", "affine_ln_relu_backward"),
       needs=("layers.affine", "layers.relu", "layers.layernorm"))
def check_affine_ln_relu(student):
    r = rng(20)
    x, w, b = r.normal(size=(4, 3)), r.normal(size=(3, 5)), r.normal(size=5)
    gamma, beta = r.uniform(0.5, 2.0, size=5), r.normal(size=5)
    sandwich(student, "affine_ln_relu", (x, w, b, gamma, beta), ({},), ("x", "w", "b", "gamma", "beta"), 21)


@check("FullyConnectedNet (layernorm)", NOTEBOOK, ("__init__", "loss"),
       needs=("FullyConnectedNet", "layers.layernorm", "layer_utils.affine_ln_relu"))
def check_fc_net_layernorm(student):
    check_fc_normalized(student, "layernorm")
