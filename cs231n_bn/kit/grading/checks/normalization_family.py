"""Checks of NormalizationFamily.ipynb: standardize and its backward pass, spatial batch norm, group norm."""

import numpy as np

from .registry import check
from .batch_normalization import expect_norm_param_gradients, expect_running, expect_test_mode
from .expect import (CheckFailed, at, backward_pure, expect_array, expect_close, expect_nan_propagates, name_probes,
                     pure, rng, unpack)
from .normalizing import expect_normalization_gradient, expect_standardized
from ..remote import StudentError

NOTEBOOK = "NormalizationFamily.ipynb"
OFFSET = 1e8  # the inputs' mean: a variance computed as E[x^2] - E[x]^2 loses every digit


@check("normalization.standardize", NOTEBOOK)
def check_standardize(student):
    normalize = student.module("normalization")
    x = OFFSET + rng(31).normal(size=(3, 4, 2, 5))
    for axis in (0, 1, (0, 2, 3), (1, 2, 3)):
        result = unpack(normalize.standardize(x, axis, 1e-5), ("x_hat", "mean", "var", "inv_std"), "standardize")
        x_hat, mean, var, inv_std = result
        reduced = tuple(1 if i in np.atleast_1d(axis) else n for i, n in enumerate(x.shape))
        expect_array(f"standardize x_hat (axis={axis})", x_hat, x.shape)
        for name, value in (("mean", mean), ("var", var), ("inv_std", inv_std)):
            expect_array(f"standardize {name} (axis={axis}, reduced axes kept with size 1)", value, reduced)
        want_var = x.var(axis=axis, keepdims=True)
        count = x.size // want_var.size
        if np.max(np.abs(var - want_var)) > 1e-8 * np.max(want_var):
            name_probes(var, [(want_var * count / (count - 1), f"standardize var (axis={axis}) is the unbiased "
                                                               f"variance (divides by N - 1 = {count - 1}); "
                                                               f"standardize divides by N = {count}")])
            shifted = normalize.standardize(x - OFFSET, axis, 1e-5)[2]
            if np.max(np.abs(shifted - want_var)) <= 1e-8 * np.max(want_var):
                raise CheckFailed(f"standardize (axis={axis}) computes the variance as E[x^2] - E[x]^2 (or another "
                                  f"one-pass formula): var is right for x - {OFFSET:g} and wrong for x, whose mean "
                                  f"{OFFSET:g} is much larger than its spread, where E[x^2] - E[x]^2 loses every "
                                  f"digit; centre first, then square (two passes)")
        expect_close(f"standardize var (axis={axis})", var, want_var, 1e-8)
        expect_close(f"standardize inv_std (axis={axis})", inv_std, 1 / np.sqrt(want_var + 1e-5), 1e-8, probes=[
            (1 / (np.sqrt(want_var) + 1e-5), f"standardize inv_std (axis={axis}) is 1 / (sqrt(var) + eps); eps goes "
                                             f"inside the square root: 1 / sqrt(var + eps)"),
            (np.sqrt(want_var + 1e-5), f"standardize inv_std (axis={axis}) is sqrt(var + eps), not its inverse"),
            (1 / np.sqrt(want_var), f"standardize inv_std (axis={axis}) leaves eps out: 1 / sqrt(var + eps)")])
        expect_standardized(f"standardize x_hat (axis={axis})", x_hat, x, axis, 1e-5)
    pure(normalize.standardize, "standardize", x, 0, 1e-5)


@check("normalization.standardize_backward", NOTEBOOK, needs=("normalization.standardize",))
def check_standardize_backward(student):
    normalize = student.module("normalization")
    r = rng(32)
    x = r.normal(size=(3, 2, 2, 2)) * 2 + 1
    dx_hat = r.normal(size=x.shape)
    for axis in (0, 1, (0, 2, 3)):
        x_hat, _, _, inv_std = normalize.standardize(x, axis, 1e-5)
        dx = normalize.standardize_backward(dx_hat, x_hat, inv_std, axis)
        expect_normalization_gradient(f"standardize_backward (axis={axis}) dx", dx,
                                      at(normalize.standardize, (x, axis, 1e-5), 0), x, dx_hat, axis)


def spatial_inputs(seed, shape):
    r = rng(seed)
    x = r.normal(size=shape) * r.uniform(0.5, 3.0, size=(1, shape[1], 1, 1)) + 4.0
    return x, r.uniform(0.5, 2.0, size=shape[1]), r.normal(size=shape[1])


# Statistics over other axes than spatial batch norm's (0, 2, 3): what each one is, in words.
SPATIAL_AXES = {(0,): "the batch only (axis 0)", (2, 3): "each example's H x W positions (axes 2, 3)",
                (0, 2): "axes (0, 2)", (0, 3): "axes (0, 3)", (1,): "the channels", (0, 1): "the batch and the "
                "channels (axes 0, 1)", (1, 2, 3): "each example (axes 1, 2, 3)", (0, 1, 2, 3): "the whole array"}
CHANNELS_LAST = ("reshapes x (N, C, H, W) to (N * H * W, C) without moving the channels last: each column of "
                 "x.reshape(-1, C) mixes channels and positions; transpose to (N, H, W, C) first (and back the "
                 "same way)")


@check("layers.spatial_batchnorm_forward", NOTEBOOK,
       needs=("layers.batchnorm_forward", "normalization.standardize"))
def check_spatial_batchnorm_forward(student):
    layers = student.module("layers")
    name = "spatial_batchnorm_forward"
    x, gamma, beta = spatial_inputs(22, (3, 4, 2, 5))
    N, C, H, W = x.shape
    bn_param = {"mode": "train"}
    out, _ = unpack(pure(layers.spatial_batchnorm_forward, name, x, gamma, beta, bn_param), ("out", "cache"), name)
    expect_array("spatial_batchnorm_forward out", out, x.shape)
    g, b = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)
    z = (out - b) / g
    mixed = x.reshape(-1, C)  # its columns mix channels and positions
    candidates = [((out.reshape(-1, C) - beta) / gamma, mixed, 0, CHANNELS_LAST), (z.reshape(-1, C), mixed, 0,
                                                                                    CHANNELS_LAST)]
    candidates += [(z, x, axes, f"takes its statistics over {text}; spatial batch norm takes one mean and variance "
                                f"per channel, over the batch and every position (axes 0, 2, 3)")
                   for axes, text in SPATIAL_AXES.items()]
    expect_standardized(f"{name} (each channel over N, H, W)", z, x, (0, 2, 3), 1e-5, out=out, candidates=candidates)
    z_big_eps = (layers.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 0.5})[0] - b) / g
    expect_standardized(f"{name} (bn_param['eps'] = 0.5)", z_big_eps, x, (0, 2, 3), 0.5)
    mean = x.mean(axis=(0, 2, 3))
    expect_running("running_mean", bn_param.get("running_mean"), 0.1 * mean, mean, 0.9)
    running_mean, running_var = np.array([1.0, -2.0, 0.0, 3.0]), np.array([4.0, 0.25, 1.0, 9.0])
    zt = rng(9).normal(size=x.shape)
    x_test = running_mean.reshape(1, -1, 1, 1) + np.sqrt(running_var.reshape(1, -1, 1, 1) + 1e-5) * zt
    expect_test_mode(name, layers.spatial_batchnorm_forward, x_test, gamma, beta, running_mean, running_var, 1e-5,
                     want=g * zt + b, z=zt, axes=(0, 2, 3))
    out32, _ = layers.spatial_batchnorm_forward(x.astype(np.float32), gamma.astype(np.float32),
                                                beta.astype(np.float32), {"mode": "train"})
    expect_close("spatial_batchnorm_forward out for float32 x", out32, out, 1e-5)
    x_nan = x.copy()
    x_nan[0, 1, 0, 0] = np.nan
    out_nan, _ = layers.spatial_batchnorm_forward(x_nan, gamma, beta, {"mode": "train"})
    expect_nan_propagates("spatial_batchnorm_forward", out_nan, (slice(None), 1), (slice(None), [0, 2, 3]))


@check("layers.spatial_batchnorm_backward", NOTEBOOK,
       needs=("layers.batchnorm", "normalization.standardize", "layers.spatial_batchnorm_forward"))
def check_spatial_batchnorm_backward(student):
    layers = student.module("layers")
    x, gamma, beta = spatial_inputs(23, (2, 3, 2, 2))
    N, C, H, W = x.shape
    dout = rng(24).normal(size=x.shape)
    forward = layers.spatial_batchnorm_forward
    out, cache = forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = unpack(backward_pure(layers.spatial_batchnorm_backward, "spatial_batchnorm_backward", dout,
                                             cache, x, gamma, beta), ("dx", "dgamma", "dbeta"),
                               "spatial_batchnorm_backward")
    args = (x, gamma, beta, {"mode": "train"})
    x_hat = (out - beta.reshape(1, -1, 1, 1)) / gamma.reshape(1, -1, 1, 1)
    expect_norm_param_gradients("spatial_batchnorm_backward", dgamma, dbeta, forward, args, x_hat, dout, (0, 2, 3))
    expect_normalization_gradient(
        "spatial_batchnorm_backward dx", dx, at(forward, args, 0), x, dout, (0, 2, 3), scale=gamma.reshape(1, -1, 1, 1),
        probes=lambda numeric: [(numeric.transpose(0, 2, 3, 1).reshape(N, C, H, W),
                                 "spatial_batchnorm_backward dx has the right values in the wrong places: reshaped "
                                 "from (N * H * W, C) to (N, C, H, W) without moving the channels back; reshape to "
                                 "(N, H, W, C), then transpose to (N, C, H, W)")])


def group_norm_mistakes(z, x, G):
    """[(z, x, axes, what the mistake does)]: z and x in the layout in which a classic mistake of group norm with G
    groups takes its statistics, and over which axes."""
    N, C, H, W = x.shape
    grouped, swapped = (N, G, C // G, H, W), (N, C // G, G, H, W)
    return [
        (z.reshape(grouped), x.reshape(grouped), 2,
         "takes statistics per pixel (over a group's channels at one position): a group's statistics cover its "
         "C / G channels and all H x W positions"),
        (z.reshape(swapped), x.reshape(swapped), (2, 3, 4),
         f"makes C / G = {C // G} groups of G = {G} channels (as x.reshape(N, C // G, G, H, W) does); group norm "
         f"makes G = {G} groups of C / G = {C // G} consecutive channels: x.reshape(N, G, C // G, H, W)"),
        (z.reshape(swapped), x.reshape(swapped), (1, 3, 4),
         "takes interleaved groups (channels c, c + G, c + 2G, ...): a group is a block of C / G consecutive "
         "channels, x.reshape(N, G, C // G, H, W)"),
        (z, x, (2, 3), "makes one group per channel (instance norm) whatever G is"),
        (z, x, (1, 2, 3), "makes one group per example (layer norm over C, H, W) whatever G is"),
        (z, x, (0, 2, 3), "takes the statistics of each channel over the batch (batch norm)"),
    ]


def at_G(G, C, name, function, *args):
    """function(*args); an exception of the student's code is reported naming G (G = 1 and G = C are the edge
    cases of group norm)."""
    try:
        return function(*args)
    except StudentError as error:
        if error.type_name == "NotImplementedError":
            raise
        case = {1: ", one group: layer norm over (C, H, W)", C: ", one channel per group: instance norm"}.get(G, "")
        raise CheckFailed(f"{name} fails at G = {G} (C = {C}{case}): {error.describe()}") from error


@check("layers.spatial_groupnorm_forward", NOTEBOOK, needs=("normalization.standardize",))
def check_spatial_groupnorm_forward(student):
    layers = student.module("layers")
    name = "spatial_groupnorm_forward"
    x, gamma, beta = spatial_inputs(25, (2, 6, 2, 3))
    N, C, H, W = x.shape
    gamma, beta = gamma.reshape(1, 6, 1, 1), beta.reshape(1, 6, 1, 1)
    for G in (3, 1, 6):  # G = 1 is layer norm over (C, H, W), G = C is instance norm
        out, _ = unpack(at_G(G, 6, name, pure, layers.spatial_groupnorm_forward, name, x, gamma, beta, G, {}),
                        ("out", "cache"), name)
        expect_array(f"spatial_groupnorm_forward out (G = {G})", out, x.shape)
        grouped = (N, G, C // G, H, W)
        z = (out - beta) / gamma
        expect_standardized(f"{name} (G = {G}, C = {C})", z.reshape(grouped), x.reshape(grouped), (2, 3, 4), 1e-5,
                            out=out.reshape(grouped), candidates=group_norm_mistakes(z, x, G))
    z_big_eps = (layers.spatial_groupnorm_forward(x, gamma, beta, 3, {"eps": 0.5})[0] - beta) / gamma
    expect_standardized(f"{name} (G = 3, gn_param['eps'] = 0.5)", z_big_eps.reshape(N, 3, 2, H, W),
                        x.reshape(N, 3, 2, H, W), (2, 3, 4), 0.5)
    out32, _ = layers.spatial_groupnorm_forward(x.astype(np.float32), gamma.astype(np.float32),
                                                beta.astype(np.float32), 3, {})
    out64, _ = layers.spatial_groupnorm_forward(x, gamma, beta, 3, {})
    expect_close("spatial_groupnorm_forward out for float32 x (G = 3)", out32, out64, 1e-5)
    x_nan = x.copy()
    x_nan[0, 1, 0, 0] = np.nan
    out_nan, _ = layers.spatial_groupnorm_forward(x_nan, gamma, beta, 3, {})
    expect_nan_propagates("spatial_groupnorm_forward (G = 3)", out_nan, (0, slice(0, 2)), (0, slice(2, 6)))


@check("layers.spatial_groupnorm_backward", NOTEBOOK,
       needs=("normalization.standardize", "layers.spatial_groupnorm_forward"))
def check_spatial_groupnorm_backward(student):
    layers = student.module("layers")
    x, gamma, beta = spatial_inputs(26, (2, 4, 2, 2))
    gamma, beta = gamma.reshape(1, 4, 1, 1), beta.reshape(1, 4, 1, 1)
    dout = rng(27).normal(size=x.shape)
    forward = layers.spatial_groupnorm_forward
    for G in (2, 1, 4):
        out, cache = forward(x, gamma, beta, G, {})
        dx, dgamma, dbeta = unpack(at_G(G, 4, "spatial_groupnorm_backward", backward_pure,
                                        layers.spatial_groupnorm_backward, "spatial_groupnorm_backward", dout, cache,
                                        x, gamma, beta), ("dx", "dgamma", "dbeta"), "spatial_groupnorm_backward")
        what = f"spatial_groupnorm_backward (G = {G})"
        args = (x, gamma, beta, G, {})
        expect_norm_param_gradients(what, dgamma, dbeta, forward, args, (out - beta) / gamma, dout, (0, 2, 3))
        expect_normalization_gradient(f"{what} dx", dx, at(forward, args, 0), x, dout, (2, 3, 4), scale=gamma,
                                      view=lambda a, G=G: a.reshape(2, G, 4 // G, 2, 2))
