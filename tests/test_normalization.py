"""Tests of the rest of the normalization family: layer norm, spatial batch norm, group norm, and the shared
standardize helpers they are built on."""

import re

import numpy as np
import pytest

from cs231n_bn import normalization
from cs231n_bn.gradient_check import eval_numerical_gradient_array, rel_error
from fixtures.gradients import gradient_errors
from cs231n_bn.layers import (
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)

# float64, h = 1e-5. rel_error is the largest ELEMENTWISE relative error, so it is set by the entries of dx closest
# to zero, where the rounding noise of the centred difference (~1e-10 absolute) is largest relative to the entry:
# correct gradients measure 1e-11 to 4e-7 here, a wrong one is off by more than 1e-2.
GRAD_TOL = 1e-6




def _spatial(shape, seed, offset=4.0):
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = offset + rng.standard_normal(shape) * rng.uniform(0.5, 3.0, size=(1, C, 1, 1))
    return x, rng.uniform(0.5, 2.0, size=C), rng.standard_normal(C), rng.standard_normal(shape)


# --------------------------------------------------------------------------------------------------------------
# The shared helpers


@pytest.mark.parametrize("shape, axis", [((5, 4), 0), ((5, 4), 1), ((3, 4, 2, 5), (0, 2, 3)), ((2, 3, 2, 4), (-1, 1))])
def test_standardize_over_any_axes(shape, axis):
    x = 2.0 + 3 * np.random.default_rng(0).standard_normal(shape)
    x_hat, mean, var, inv_std = normalization.standardize(x, axis, eps=1e-3)
    assert np.allclose(mean, x.mean(axis=axis, keepdims=True), rtol=1e-13)
    assert np.allclose(var, x.var(axis=axis, keepdims=True), rtol=1e-12)
    assert np.allclose(inv_std, 1 / np.sqrt(var + 1e-3), rtol=1e-13)
    assert np.allclose(x_hat, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-12)
    dx_hat = np.random.default_rng(1).standard_normal(shape)
    dx = normalization.standardize_backward(dx_hat, x_hat, inv_std, axis)
    numeric = eval_numerical_gradient_array(lambda v: normalization.standardize(v, axis, 1e-3)[0], x, dx_hat)
    assert rel_error(dx, numeric) < GRAD_TOL


def test_sum_of_products_keeps_reduced_axes():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    for axis in (0, (0, 2), -1, (1, 2)):
        assert np.allclose(normalization.sum_of_products(a, b, axis), np.sum(a * b, axis=axis, keepdims=True))


# --------------------------------------------------------------------------------------------------------------
# Layer norm


@pytest.mark.parametrize("shape", [(2, 3), (5, 7), (1, 4), (3, 9)])
def test_layernorm_gradients(shape):
    rng = np.random.default_rng(sum(shape))
    x = 12 + 5 * rng.standard_normal(shape)
    gamma, beta, dout = rng.standard_normal(shape[1]), rng.standard_normal(shape[1]), rng.standard_normal(shape)
    errors = gradient_errors(lambda *a: layernorm_forward(*a, {}), layernorm_backward, [x, gamma, beta], dout)
    assert max(errors) < GRAD_TOL, errors


def test_layernorm_normalizes_each_sample():
    rng = np.random.default_rng(3)
    x = rng.uniform(-5, 5, size=(4, 1)) + rng.uniform(0.5, 4, size=(4, 1)) * rng.standard_normal((4, 50))
    out, _ = layernorm_forward(x, np.ones(50), np.zeros(50), {"eps": 0.0})
    assert np.allclose(out.mean(axis=1), 0, atol=1e-12)
    assert np.allclose(out.std(axis=1), 1, rtol=1e-12)
    gamma, beta = rng.standard_normal(50), rng.standard_normal(50)
    scaled, _ = layernorm_forward(x, gamma, beta, {"eps": 0.0})
    assert np.allclose(scaled, gamma * out + beta, rtol=1e-12)


def test_layernorm_is_identical_in_train_and_test_mode():
    rng = np.random.default_rng(4)
    x, gamma, beta = rng.standard_normal((3, 6)), rng.standard_normal(6), rng.standard_normal(6)
    train, _ = layernorm_forward(x, gamma, beta, {"mode": "train"})
    for ln_param in ({"mode": "test"}, {}, None, {"eps": 1e-5, "running_mean": "ignored"}):
        assert np.array_equal(layernorm_forward(x, gamma, beta, ln_param)[0], train)
    other_eps, _ = layernorm_forward(x, gamma, beta, {"eps": 0.5})
    assert not np.allclose(other_eps, train)  # eps is read


def test_layernorm_float32_and_stability():
    rng = np.random.default_rng(5)
    x = (1e6 + rng.standard_normal((3, 400))).astype(np.float64)
    out, _ = layernorm_forward(x, np.ones(400), np.zeros(400), {})
    var = x.var(axis=1)
    assert np.allclose(out.std(axis=1), np.sqrt(var / (var + 1e-5)), rtol=0, atol=1e-9)
    x32 = rng.standard_normal((3, 5)).astype(np.float32)
    g32, b32 = np.ones(5, np.float32), np.zeros(5, np.float32)
    out32, cache = layernorm_forward(x32, g32, b32, {})
    assert out32.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layernorm_backward(np.ones_like(x32), cache))


def test_layernorm_bad_input():
    with pytest.raises(ValueError, match=re.escape("gamma has shape (4,), expected (5,)")):
        layernorm_forward(np.ones((2, 5)), np.ones(4), np.zeros(5), {})
    with pytest.raises(ValueError, match=re.escape("beta has shape (5, 1), expected (5,)")):
        layernorm_forward(np.ones((2, 5)), np.ones(5), np.zeros((5, 1)), {})
    with pytest.raises(TypeError, match="int64"):
        layernorm_forward(np.ones((2, 5), dtype=np.int64), np.ones(5), np.zeros(5), {})
    with pytest.raises(ValueError, match=re.escape("-1.0")):
        layernorm_forward(np.ones((2, 5)), np.ones(5), np.zeros(5), {"eps": -1.0})
    with pytest.raises(ValueError, match=re.escape("got shape (2, 5, 1)")):
        layernorm_forward(np.ones((2, 5, 1)), np.ones(5), np.zeros(5), {})


# --------------------------------------------------------------------------------------------------------------
# Spatial batch norm


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 3, 1), (3, 1, 1, 2), (2, 3, 3, 3)])
def test_spatial_batchnorm_gradients(shape):
    x, gamma, beta, dout = _spatial(shape, seed=sum(shape))
    forward = lambda *a: spatial_batchnorm_forward(*a, {"mode": "train"})  # noqa: E731
    errors = gradient_errors(forward, spatial_batchnorm_backward, [x, gamma, beta], dout)
    assert max(errors) < GRAD_TOL, errors


def test_spatial_batchnorm_is_batchnorm_over_all_positions():
    # Spatial batch norm of (N, C, H, W) = batch norm of the (N * H * W, C) matrix of its pixels.
    x, gamma, beta, dout = _spatial((3, 4, 2, 5), seed=6)
    as_rows = lambda a: a.transpose(0, 2, 3, 1).reshape(-1, 4)  # noqa: E731
    from_rows = lambda a: a.reshape(3, 2, 5, 4).transpose(0, 3, 1, 2)  # noqa: E731
    spatial_param, flat_param = {"mode": "train", "momentum": 0.6}, {"mode": "train", "momentum": 0.6}
    out, cache = spatial_batchnorm_forward(x, gamma, beta, spatial_param)
    out_rows, cache_rows = batchnorm_forward(as_rows(x), gamma, beta, flat_param)
    assert np.allclose(out, from_rows(out_rows), rtol=1e-12)
    for key in ("running_mean", "running_var"):
        assert spatial_param[key].shape == (4,)
        assert np.allclose(spatial_param[key], flat_param[key], rtol=1e-12)
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    dx_rows, dgamma_rows, dbeta_rows = batchnorm_backward_alt(as_rows(dout), cache_rows)
    assert rel_error(dx, from_rows(dx_rows)) < 1e-10
    assert rel_error(dgamma, dgamma_rows) < 1e-10 and rel_error(dbeta, dbeta_rows) < 1e-10


def test_spatial_batchnorm_statistics_and_test_mode():
    x, _, _, _ = _spatial((10, 3, 6, 7), seed=7, offset=1e6)
    bn_param = {"mode": "train", "momentum": 0.25, "eps": 1e-4}
    out, _ = spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), bn_param)
    var = x.var(axis=(0, 2, 3))
    assert np.allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-9)
    assert np.allclose(out.std(axis=(0, 2, 3)), np.sqrt(var / (var + 1e-4)), rtol=0, atol=1e-9)
    assert np.allclose(bn_param["running_mean"], 0.75 * x.mean(axis=(0, 2, 3)), rtol=1e-13)
    assert np.allclose(bn_param["running_var"], 0.75 * var, rtol=1e-9)

    running_mean, running_var = np.array([1.0, -1.0, 0.0]), np.array([4.0, 1.0, 0.25])
    gamma, beta = np.array([2.0, 1.0, -1.0]), np.array([0.0, 0.5, 1.0])
    test_param = {"mode": "test", "running_mean": running_mean.copy(), "running_var": running_var.copy()}
    x1 = np.random.default_rng(8).standard_normal((1, 3, 1, 1))  # one value per channel is fine at test time
    out, _ = spatial_batchnorm_forward(x1, gamma, beta, test_param)
    c = (1, 3, 1, 1)
    expected = gamma.reshape(c) * (x1 - running_mean.reshape(c)) / np.sqrt(running_var.reshape(c) + 1e-5)
    assert np.allclose(out, expected + beta.reshape(c), rtol=1e-13)
    assert np.array_equal(test_param["running_mean"], running_mean)


def test_spatial_batchnorm_float32():
    x, gamma, beta, dout = (a.astype(np.float32) for a in _spatial((2, 3, 2, 2), seed=9))
    bn_param = {"mode": "train"}
    out, cache = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert out.dtype == np.float32 and bn_param["running_var"].dtype == np.float32
    assert all(g.dtype == np.float32 for g in spatial_batchnorm_backward(dout, cache))


def test_spatial_batchnorm_bad_input():
    x = np.ones((2, 3, 2, 2))
    with pytest.raises(ValueError, match=re.escape("gamma has shape (1, 3, 1, 1), expected (3,)")):
        spatial_batchnorm_forward(x, np.ones((1, 3, 1, 1)), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match=re.escape("beta has shape (2,), expected (3,)")):
        spatial_batchnorm_forward(x, np.ones(3), np.zeros(2), {"mode": "train"})
    with pytest.raises(ValueError, match="at least 2 values per feature.*got 1"):
        spatial_batchnorm_forward(np.ones((1, 3, 1, 1)), np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match="'eval'"):
        spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "eval"})
    with pytest.raises(ValueError, match="'runing_mean'"):
        spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "test", "runing_mean": np.zeros(3)})
    with pytest.raises(TypeError, match="float16/32/64.*int32"):
        spatial_batchnorm_forward(x.astype(np.int32), np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match=re.escape("(N, C, H, W), got shape (2, 3)")):
        spatial_batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": "train"})


# --------------------------------------------------------------------------------------------------------------
# Group norm


@pytest.mark.parametrize("G", [1, 2, 3, 6])
@pytest.mark.parametrize("param_shape", [(1, 6, 1, 1), (6,)])
def test_groupnorm_gradients(G, param_shape):
    x, gamma, beta, dout = _spatial((2, 6, 3, 5), seed=G)
    gamma, beta = gamma.reshape(param_shape), beta.reshape(param_shape)
    forward = lambda *a: spatial_groupnorm_forward(*a, G, {})  # noqa: E731
    errors = gradient_errors(forward, spatial_groupnorm_backward, [x, gamma, beta], dout)
    assert max(errors) < GRAD_TOL, errors


def test_groupnorm_gradients_for_odd_sizes():
    x, gamma, beta, dout = _spatial((3, 3, 1, 3), seed=10)
    forward = lambda *a: spatial_groupnorm_forward(*a, 3, {"eps": 1e-3})  # noqa: E731
    errors = gradient_errors(forward, spatial_groupnorm_backward, [x, gamma.reshape(1, 3, 1, 1),
                                                                    beta.reshape(1, 3, 1, 1)], dout)
    assert max(errors) < GRAD_TOL, errors


def test_groupnorm_normalizes_contiguous_channel_groups():
    x, _, _, _ = _spatial((2, 6, 4, 3), seed=11, offset=1e6)
    gamma = np.array([1.0, 2.0, -1.0, 0.5, 3.0, 1.5]).reshape(1, 6, 1, 1)
    beta = np.arange(6.0).reshape(1, 6, 1, 1)
    out, _ = spatial_groupnorm_forward(x, gamma, beta, 3, {"eps": 0.0})
    z = ((out - beta) / gamma).reshape(2, 3, -1)  # groups: channels {0, 1}, {2, 3}, {4, 5}
    assert np.allclose(z.mean(axis=2), 0, atol=1e-9)
    assert np.allclose(z.std(axis=2), 1, atol=1e-9)


def test_groupnorm_limits_are_layer_norm_and_instance_norm():
    x, _, _, _ = _spatial((3, 4, 2, 5), seed=12)
    ones, zeros = np.ones((1, 4, 1, 1)), np.zeros((1, 4, 1, 1))
    # G = 1: layer norm over (C, H, W).
    out, _ = spatial_groupnorm_forward(x, ones, zeros, 1, {})
    ln, _ = layernorm_forward(x.reshape(3, -1), np.ones(40), np.zeros(40), {})
    assert np.allclose(out, ln.reshape(x.shape), rtol=1e-12)
    # G = C: instance norm, each (sample, channel) over (H, W).
    out, _ = spatial_groupnorm_forward(x, ones, zeros, 4, {})
    inst = (x - x.mean(axis=(2, 3), keepdims=True)) / np.sqrt(x.var(axis=(2, 3), keepdims=True) + 1e-5)
    assert np.allclose(out, inst, rtol=1e-12)


def test_groupnorm_gradients_come_back_in_the_shape_given_and_float32():
    x, gamma, beta, dout = (a.astype(np.float32) for a in _spatial((2, 4, 2, 2), seed=13))
    for shape in [(1, 4, 1, 1), (4,)]:
        out, cache = spatial_groupnorm_forward(x, gamma.reshape(shape), beta.reshape(shape), 2, {})
        dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
        assert out.dtype == dx.dtype == np.float32
        assert dgamma.shape == dbeta.shape == shape


@pytest.mark.parametrize("G", [4, 5, 7, 0, -2])
def test_groupnorm_rejects_a_G_that_does_not_divide_C(G):
    with pytest.raises(ValueError, match=re.escape(f"G = {G}") + ".*C = 6.*" + re.escape("[1, 2, 3, 6]")):
        spatial_groupnorm_forward(np.ones((2, 6, 2, 2)), np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1)), G, {})


def test_groupnorm_bad_input():
    x, gamma, beta = np.ones((2, 6, 2, 2)), np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1))
    with pytest.raises(TypeError, match=re.escape("2.0")):
        spatial_groupnorm_forward(x, gamma, beta, 2.0, {})
    with pytest.raises(ValueError, match=re.escape("gamma has shape (1, 5, 1, 1), expected (1, 6, 1, 1) or (6,)")):
        spatial_groupnorm_forward(x, np.ones((1, 5, 1, 1)), beta, 2, {})
    with pytest.raises(ValueError, match=re.escape("beta has shape (6, 1), expected (1, 6, 1, 1) or (6,)")):
        spatial_groupnorm_forward(x, gamma, np.zeros((6, 1)), 2, {})
    with pytest.raises(TypeError, match="uint8"):
        spatial_groupnorm_forward(x.astype(np.uint8), gamma, beta, 2, {})
    with pytest.raises(ValueError, match=re.escape("inf")):
        spatial_groupnorm_forward(x, gamma, beta, 2, {"eps": float("inf")})


def test_nan_propagates_in_the_family():
    x, gamma, beta, _ = _spatial((2, 4, 2, 2), seed=14)
    x[0, 1, 0, 0] = np.nan
    out, _ = spatial_groupnorm_forward(x, gamma.reshape(1, 4, 1, 1), beta.reshape(1, 4, 1, 1), 2, {})
    assert np.isnan(out[0, :2]).all() and np.isfinite(out[0, 2:]).all() and np.isfinite(out[1]).all()
    out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert np.isnan(out[:, 1]).all() and np.isfinite(out[:, [0, 2, 3]]).all()
    out, _ = layernorm_forward(x.reshape(2, -1), np.ones(16), np.zeros(16), {})
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()
