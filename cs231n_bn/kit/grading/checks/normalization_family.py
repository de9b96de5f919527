"""Checks of NormalizationFamily.ipynb: standardize and its backward pass, spatial batch norm, group norm."""

import numpy as np

from .registry import check
from .batch_normalization import expect_running, expect_test_mode
from .expect import (CheckFailed, at, backward_pure, expect, expect_array, expect_close, expect_float32,
                     expect_gradient, expect_nan_propagates, expect_normalization_gradient, expect_normalized,
                     expect_param_gradient, pure, rng, unpack)
from ..remote import StudentError

NOTEBOOK = "NormalizationFamily.ipynb"


@check("normalization.standardize", NOTEBOOK)
def check_standardize(student):
    normalize = student.module("normalization")
    x = 1e8 + rng(31).normal(size=(3, 4, 2, 5))  # offset 1e8: the variance must be two-pass
    for axis in (0, 1, (0, 2, 3), (1, 2, 3)):
        result = unpack(normalize.standardize(x, axis, 1e-5), ("x_hat", "mean", "var", "inv_std"), "standardize")
        x_hat, mean, var, inv_std = result
        reduced = tuple(1 if i in np.atleast_1d(axis) else n for i, n in enumerate(x.shape))
        expect_array(f"standardize x_hat (axis={axis})", x_hat, x.shape)
        for name, value in (("mean", mean), ("var", var), ("inv_std", inv_std)):
            expect_array(f"standardize {name} (axis={axis}, reduced axes kept with size 1)", value, reduced)
        want_var = x.var(axis=axis, keepdims=True)
        expect_close(f"standardize var (axis={axis}; biased, two-pass)", var, want_var, 1e-8)
        expect_close(f"standardize inv_std (axis={axis}) must be 1 / sqrt(var + eps)", inv_std ** -2 - 1e-5, var,
                     1e-8)
        expect_normalized(f"standardize x_hat (axis={axis})", x_hat, axis, want_var, 1e-5)
    pure(normalize.standardize, "standardize", x, 0, 1e-5)


@check("normalization.standardize_backward", NOTEBOOK)
def check_standardize_backward(student):
    normalize = student.module("normalization")
    r = rng(32)
    x = r.normal(size=(3, 2, 2, 2)) * 2 + 1
    dx_hat = r.normal(size=x.shape)
    for axis in (0, 1, (0, 2, 3)):
        x_hat, _, _, inv_std = normalize.standardize(x, axis, 1e-5)
        dx = normalize.standardize_backward(dx_hat, x_hat, inv_std, axis)
        expect_normalization_gradient(f"standardize_backward dx (axis={axis})", dx,
                                      at(normalize.standardize, (x, axis, 1e-5), 0), x, dx_hat, axis)


def spatial_inputs(seed, shape):
    r = rng(seed)
    x = r.normal(size=shape) * r.uniform(0.5, 3.0, size=(1, shape[1], 1, 1)) + 4.0
    return x, r.uniform(0.5, 2.0, size=shape[1]), r.normal(size=shape[1])


def normalized_over(z, axes, tol=1e-6):
    """True if z has mean 0 and variance at most 1, about 1 on average, over ``axes`` (statistics of a few close
    values lose more to eps, so the variance is not tested value by value)."""
    var = z.var(axis=axes)
    return bool(np.max(np.abs(z.mean(axis=axes))) < tol and np.max(var) <= 1 + tol and np.mean(var) > 0.9)


def precisely_normalized(z, axes, x, eps=1e-5, tol=1e-6):
    """True if z has mean 0 and variance var / (var + eps) over ``axes``, var being x's biased variance there."""
    var = x.var(axis=axes)
    return bool(np.max(np.abs(z.mean(axis=axes))) <= tol and np.max(np.abs(z.var(axis=axes) - var / (var + eps))) <= tol)


# Candidate mistakes, finest statistics first: normalizing over fewer axes also normalizes (roughly) over more.
SPATIAL_AXES = {(0,): "the batch only (axis 0)", (2, 3): "each example's H x W positions (axes 2, 3)",
                (0, 2): "axes (0, 2)", (0, 3): "axes (0, 3)", (1,): "the channels", (0, 1): "the batch and the "
                "channels (axes 0, 1)", (1, 2, 3): "each example (axes 1, 2, 3)", (0, 1, 2, 3): "the whole array"}


@check("layers.spatial_batchnorm_forward", NOTEBOOK)
def check_spatial_batchnorm_forward(student):
    layers = student.module("layers")
    name = "spatial_batchnorm_forward"
    x, gamma, beta = spatial_inputs(22, (3, 4, 2, 5))
    bn_param = {"mode": "train"}
    out, _ = unpack(pure(layers.spatial_batchnorm_forward, name, x, gamma, beta, bn_param), ("out", "cache"), name)
    expect_array("spatial_batchnorm_forward out", out, x.shape)
    g, b = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)
    z = (out - b) / g
    if not precisely_normalized(z, (0, 2, 3), x):
        wrong = [text for axes, text in SPATIAL_AXES.items() if normalized_over(z, axes)]
        if wrong:
            raise CheckFailed(f"{name} takes its statistics over {wrong[0]}; spatial batch norm takes one mean and "
                              f"variance per channel, over the batch and every position (axes 0, 2, 3)")
        if not normalized_over(out, (0, 2, 3)):
            raise CheckFailed(f"{name}: the output is not normalized per channel over (N, H, W); to use "
                              f"batchnorm_forward, move the channels last (N, H, W, C) before reshaping to "
                              f"(N * H * W, C), and back the same way")
    expect_normalized("spatial_batchnorm_forward (each channel over N, H, W)", z, (0, 2, 3), x.var(axis=(0, 2, 3)),
                      1e-5, out=out)
    mean = x.mean(axis=(0, 2, 3))
    expect_running("running_mean", bn_param.get("running_mean"), 0.1 * mean, mean, 0.9)
    running_mean, running_var = np.array([1.0, -2.0, 0.0, 3.0]), np.array([4.0, 0.25, 1.0, 9.0])
    zt = rng(9).normal(size=x.shape)
    x_test = running_mean.reshape(1, -1, 1, 1) + np.sqrt(running_var.reshape(1, -1, 1, 1) + 1e-5) * zt
    expect_test_mode(name, layers.spatial_batchnorm_forward, x_test, gamma, beta, running_mean, running_var, 1e-5,
                     want=g * zt + b, z=zt, axes=(0, 2, 3))
    out32, _ = layers.spatial_batchnorm_forward(x.astype(np.float32), gamma.astype(np.float32),
                                                beta.astype(np.float32), {"mode": "train"})
    expect_float32("spatial_batchnorm_forward out", out32)
    x_nan = x.copy()
    x_nan[0, 1, 0, 0] = np.nan
    out_nan, _ = layers.spatial_batchnorm_forward(x_nan, gamma, beta, {"mode": "train"})
    expect_nan_propagates("spatial_batchnorm_forward", out_nan, (slice(None), 1), (slice(None), [0, 2, 3]))


@check("layers.spatial_batchnorm_backward", NOTEBOOK)
def check_spatial_batchnorm_backward(student):
    layers = student.module("layers")
    x, gamma, beta = spatial_inputs(23, (2, 3, 2, 2))
    dout = rng(24).normal(size=x.shape)
    forward = layers.spatial_batchnorm_forward
    _, cache = forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = unpack(backward_pure(layers.spatial_batchnorm_backward, "spatial_batchnorm_backward", dout,
                                             cache, x, gamma, beta), ("dx", "dgamma", "dbeta"),
                               "spatial_batchnorm_backward")
    expect_param_gradient("spatial_batchnorm_backward dgamma", dgamma, gamma.shape)
    expect_param_gradient("spatial_batchnorm_backward dbeta", dbeta, beta.shape, "beta")
    args = (x, gamma, beta, {"mode": "train"})
    expect_normalization_gradient("spatial_batchnorm_backward dx", dx, at(forward, args, 0), x, dout, (0, 2, 3))
    expect_gradient("spatial_batchnorm_backward dgamma", dgamma, at(forward, args, 1), gamma, dout)
    expect_gradient("spatial_batchnorm_backward dbeta", dbeta, at(forward, args, 2), beta, dout)


def group_norm_statistics_axes(z, G, x):
    """What the statistics of a group norm output z (N, C, H, W) of x were taken over, in words; '' if correct."""
    N, C, H, W = z.shape
    grouped = (N, G, C // G, H, W)
    if precisely_normalized(z.reshape(grouped), (2, 3, 4), x.reshape(grouped)):
        return ""
    if normalized_over(z.reshape(grouped), 2):
        return ("statistics per pixel (over a group's channels at one position): a group's statistics cover its "
                "C / G channels and all H x W positions")
    if G != C and normalized_over(z, (2, 3)):
        return "one group per channel (instance norm) whatever G is"
    if G not in (1, C) and normalized_over(z.reshape(N, C // G, G, H, W), (1, 3, 4)):
        return ("interleaved groups (channels c, c + G, c + 2G, ...): a group is a contiguous block of C / G "
                "channels, x.reshape(N, G, C // G, H, W)")
    if G != 1 and normalized_over(z, (1, 2, 3)):
        return "one group per example (layer norm over C, H, W) whatever G is"
    return "not normalized over each example's groups of C / G contiguous channels and their H x W positions"


def at_G(G, C, name, function, *args):
    """function(*args); an exception of the student's code is reported naming G (G = 1 and G = C are the edge
    cases of group norm)."""
    try:
        return function(*args)
    except StudentError as error:
        if error.type_name == "NotImplementedError":
            raise
        case = {1: ", one group: layer norm over (C, H, W)", C: ", one channel per group: instance norm"}.get(G, "")
        raise CheckFailed(f"{name} fails at G = {G} (C = {C}{case}): {error.type_name}: {error.message}"
                          f"{error.location()}") from error


@check("layers.spatial_groupnorm_forward", NOTEBOOK)
def check_spatial_groupnorm_forward(student):
    layers = student.module("layers")
    name = "spatial_groupnorm_forward"
    x, gamma, beta = spatial_inputs(25, (2, 6, 2, 3))
    gamma, beta = gamma.reshape(1, 6, 1, 1), beta.reshape(1, 6, 1, 1)
    for G in (3, 1, 6):  # G = 1 is layer norm over (C, H, W), G = C is instance norm
        out, _ = unpack(at_G(G, 6, name, pure, layers.spatial_groupnorm_forward, name, x, gamma, beta, G, {}),
                        ("out", "cache"), name)
        expect_array(f"spatial_groupnorm_forward out (G = {G})", out, x.shape)
        z = (out - beta) / gamma
        wrong = group_norm_statistics_axes(z, G, x)
        if wrong and not group_norm_statistics_axes(out, G, x):
            raise CheckFailed(f"{name} (G = {G}): out is x_hat itself; scale by gamma and shift by beta")
        expect(not wrong, f"{name} (G = {G}, C = 6): {wrong}")
        grouped = z.reshape(2, G, -1)
        expect_normalized(f"{name} (G = {G}: each example and group of C/G channels)", grouped, 2,
                          x.reshape(2, G, -1).var(axis=2), 1e-5)
    out32, _ = layers.spatial_groupnorm_forward(x.astype(np.float32), gamma.astype(np.float32),
                                                beta.astype(np.float32), 3, {})
    expect_float32("spatial_groupnorm_forward out", out32)
    x_nan = x.copy()
    x_nan[0, 1, 0, 0] = np.nan
    out_nan, _ = layers.spatial_groupnorm_forward(x_nan, gamma, beta, 3, {})
    expect_nan_propagates("spatial_groupnorm_forward (G = 3)", out_nan, (0, slice(0, 2)), (0, slice(2, 6)))


@check("layers.spatial_groupnorm_backward", NOTEBOOK)
def check_spatial_groupnorm_backward(student):
    layers = student.module("layers")
    x, gamma, beta = spatial_inputs(26, (2, 4, 2, 2))
    gamma, beta = gamma.reshape(1, 4, 1, 1), beta.reshape(1, 4, 1, 1)
    dout = rng(27).normal(size=x.shape)
    forward = layers.spatial_groupnorm_forward
    for G in (2, 1, 4):
        _, cache = forward(x, gamma, beta, G, {})
        dx, dgamma, dbeta = unpack(at_G(G, 4, "spatial_groupnorm_backward", backward_pure,
                                        layers.spatial_groupnorm_backward, "spatial_groupnorm_backward", dout, cache,
                                        x, gamma, beta), ("dx", "dgamma", "dbeta"), "spatial_groupnorm_backward")
        what = f"spatial_groupnorm_backward (G = {G})"
        expect_param_gradient(f"{what} dgamma", dgamma, gamma.shape)
        expect_param_gradient(f"{what} dbeta", dbeta, beta.shape, "beta")
        args = (x, gamma, beta, G, {})
        expect_normalization_gradient(f"{what} dx", dx, at(forward, args, 0), x, dout, (2, 3, 4),
                                      view=lambda a, G=G: a.reshape(2, G, 4 // G, 2, 2))
        expect_gradient(f"{what} dgamma", dgamma, at(forward, args, 1), gamma, dout)
        expect_gradient(f"{what} dbeta", dbeta, at(forward, args, 2), beta, dout)
