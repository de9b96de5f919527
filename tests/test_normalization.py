"""Tests of the rest of the normalization family: layer norm, spatial batch norm, group norm, and the shared
standardize / standardize_backward of cs231n_bn/normalization.py.

They check the contract (values, shapes, dtypes, errors for bad input), never a cache's layout. Tests marked
reference_only check what the kit's own reference solution adds (it refuses another layer's cache and a dout of
the wrong shape); they run in the solution edition only.
"""

import re
from pathlib import Path

import numpy as np
import pytest

from cs231n_bn import layers, normalization
from cs231n_bn.gradient_check import eval_numerical_gradient_array, rel_error
from cs231n_bn.kit.edition.markers import find_regions
from fixtures.gradients import gradient_errors
from cs231n_bn.layers import (
    batchnorm_backward,
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

_SOURCE = Path(layers.__file__)
reference_only = pytest.mark.skipif(
    not find_regions(_SOURCE.read_text(encoding="utf-8"), _SOURCE.name),
    reason="a property of the kit's reference solution (solution edition only), not of the contract",
)


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
    reduced = (axis,) if isinstance(axis, int) else axis
    kept_shape = tuple(1 if d in [a % len(shape) for a in reduced] else n for d, n in enumerate(shape))
    assert x_hat.shape == shape and mean.shape == var.shape == inv_std.shape == kept_shape
    # The outputs pin each other down: x = mean + x_hat / inv_std (inv_std is constant over `axis`), so x_hat having
    # mean 0 over `axis` makes `mean` the mean of x over `axis`; mean(x_hat**2) = var * inv_std**2 then makes
    # `var` the biased variance mean((x - mean)**2) (the unbiased one is off by a factor n / (n - 1) >= 1.04 here),
    # and inv_std**2 * (var + eps) = 1 fixes inv_std. Reducing over the wrong axes breaks the zero mean.
    assert np.allclose(mean + x_hat / inv_std, x, rtol=1e-13, atol=0)
    assert np.allclose(x_hat.mean(axis=axis), 0, rtol=0, atol=1e-12)
    assert np.allclose(np.mean(x_hat**2, axis=axis, keepdims=True), var * inv_std**2, rtol=1e-12, atol=0)
    assert np.allclose(inv_std**2 * (var + 1e-3), 1, rtol=1e-13, atol=0)
    dx_hat = np.random.default_rng(1).standard_normal(shape)
    dx = normalization.standardize_backward(dx_hat, x_hat, inv_std, axis)
    numeric = eval_numerical_gradient_array(lambda v: normalization.standardize(v, axis, 1e-3)[0], x, dx_hat)
    assert rel_error(dx, numeric) < GRAD_TOL


def test_standardize_variance_is_two_pass():
    # x = 1e6 + N(0, 1): E[x^2] - E[x]^2 subtracts two numbers of size 1e12 and loses about 1e-4 of the variance.
    x = 1e6 + np.random.default_rng(26).standard_normal((256, 3))
    x_hat, _, var, _ = normalization.standardize(x, 0, 1e-5)
    assert np.allclose(var.ravel(), x.var(axis=0), rtol=1e-9)
    assert np.allclose(x_hat.std(axis=0), np.sqrt(x.var(axis=0) / (x.var(axis=0) + 1e-5)), rtol=0, atol=1e-9)


def test_standardize_leaves_x_alone():
    x = (5 + np.random.default_rng(2).standard_normal((6, 4))).astype(np.float32)
    copy = x.copy()
    normalization.standardize(x, 0, 1e-5)
    assert np.array_equal(x, copy)


@reference_only
def test_the_reference_keeps_float32():
    # Not part of the contract (a layer may compute and return float64 for float32 input): the reference solution
    # keeps float32 throughout, so that a float32 net's training step stays in float32.
    x = (5 + np.random.default_rng(2).standard_normal((6, 4))).astype(np.float32)
    assert [a.dtype for a in normalization.standardize(x, 0, 1e-5)] == [np.float32] * 4
    out32, _ = layernorm_forward(x, np.ones(4, np.float32), np.zeros(4, np.float32), {})
    assert out32.dtype == np.float32
    x4, gamma, beta, _ = (a.astype(np.float32) for a in _spatial((2, 3, 2, 2), seed=9))
    bn_param = {"mode": "train"}
    out, _ = spatial_batchnorm_forward(x4, gamma, beta, bn_param)
    assert out.dtype == np.float32 and bn_param["running_var"].dtype == np.float32
    x4, gamma, beta, _ = (a.astype(np.float32) for a in _spatial((2, 4, 2, 2), seed=13))
    out, _ = spatial_groupnorm_forward(x4, gamma.reshape(1, 4, 1, 1), beta.reshape(1, 4, 1, 1), 2, {})
    assert out.dtype == np.float32


def test_standardize_bad_input():
    x = np.ones((3, 4))
    with pytest.raises(ValueError, match=re.escape("axis (0, 2) must name distinct axes of an array with 2")):
        normalization.standardize(x, (0, 2), 1e-5)
    with pytest.raises(ValueError, match=re.escape("axis (0, 0)")):
        normalization.standardize(x, (0, 0), 1e-5)
    with pytest.raises(TypeError, match=re.escape("axis must be an int or a non-empty tuple of ints, got [0, 1]")):
        normalization.standardize(x, [0, 1], 1e-5)
    with pytest.raises(ValueError, match=re.escape("eps must be a finite number > 0") + ".*got 0"):
        normalization.standardize(x, 0, 0)
    with pytest.raises(TypeError, match="int64"):
        normalization.standardize(np.ones((3, 4), dtype=np.int64), 0, 1e-5)
    x_hat, _, _, inv_std = normalization.standardize(x + np.arange(3)[:, None], 0, 1e-5)
    with pytest.raises(ValueError, match=re.escape("dx_hat has shape (1, 4), expected x_hat's shape (3, 4)")):
        normalization.standardize_backward(np.ones((1, 4)), x_hat, inv_std, 0)
    with pytest.raises(ValueError, match=re.escape("inv_std has shape (1, 4), expected (3, 1)")):
        normalization.standardize_backward(np.ones((3, 4)), x_hat, inv_std, 1)


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
    # Rows with different means and spreads, in a batch of 4 samples and 50 features: normalizing over the batch
    # axis instead is caught, and so is the unbiased variance (off by 1 %).
    rng = np.random.default_rng(3)
    x = rng.uniform(-5, 5, size=(4, 1)) + rng.uniform(0.5, 4, size=(4, 1)) * rng.standard_normal((4, 50))
    out, _ = layernorm_forward(x, np.ones(50), np.zeros(50), {"eps": 1e-3})
    var = x.var(axis=1)
    assert np.allclose(out.mean(axis=1), 0, atol=1e-12)
    assert np.allclose(out.std(axis=1), np.sqrt(var / (var + 1e-3)), rtol=1e-12)
    gamma, beta = rng.standard_normal(50), rng.standard_normal(50)
    scaled, _ = layernorm_forward(x, gamma, beta, {"eps": 1e-3})
    assert np.allclose(scaled, gamma * out + beta, rtol=1e-12)
    assert np.allclose(layernorm_forward(x, np.ones(50), np.zeros(50), {})[0],
                       (x - x.mean(axis=1, keepdims=True)) / np.sqrt(var[:, None] + 1e-5), rtol=1e-12)


def test_layernorm_is_identical_in_train_and_test_mode():
    rng = np.random.default_rng(4)
    x, gamma, beta = rng.standard_normal((3, 6)), rng.standard_normal(6), rng.standard_normal(6)
    train, _ = layernorm_forward(x, gamma, beta, {"mode": "train"})
    for ln_param in ({"mode": "test"}, {}, {"eps": 1e-5, "running_mean": "ignored"}):
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
    out32, _ = layernorm_forward(x32, g32, b32, {})
    assert np.allclose(out32.mean(axis=1), 0, atol=1e-6)  # float32 or float64: the dtype is the layer's choice


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
    with pytest.raises(ValueError, match=re.escape("ln_param['eps'] must be a finite number > 0")):
        layernorm_forward(np.ones((2, 5)), np.ones(5), np.zeros(5), {"eps": 0.0})
    with pytest.raises(TypeError, match=re.escape("gamma must hold real floating-point numbers, got dtype complex128")):
        layernorm_forward(np.ones((2, 5)), np.ones(5, dtype=complex), np.zeros(5), {})
    with pytest.raises(TypeError, match="float16"):
        layernorm_forward(np.ones((2, 5), dtype=np.float16), np.ones(5), np.zeros(5), {})
    with pytest.raises(TypeError, match="ln_param must be a dict, got str"):
        layernorm_forward(np.ones((2, 5)), np.ones(5), np.zeros(5), "train")


def test_layernorm_leaves_its_inputs_alone():
    rng = np.random.default_rng(19)
    x, gamma, beta, dout = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4), \
        rng.standard_normal((3, 4))
    copies = [a.copy() for a in (x, gamma, beta, dout)]
    _, cache = layernorm_forward(x, gamma, beta, {})
    layernorm_backward(dout, cache)
    assert all(np.array_equal(a, c) for a, c in zip((x, gamma, beta, dout), copies))


@reference_only
def test_layernorm_backward_refuses_a_batchnorm_cache_and_a_wrong_dout():
    rng = np.random.default_rng(20)
    x, gamma, beta = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(3)
    _, bn_cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    with pytest.raises(ValueError, match="layernorm_backward: this cache comes from batchnorm_forward; pass the "
                                         "cache returned by layernorm_forward"):
        layernorm_backward(np.ones((4, 3)), bn_cache)
    _, cache = layernorm_forward(x, gamma, beta, {})
    with pytest.raises(ValueError, match=re.escape("layernorm_backward: dout has shape (4, 1), expected (4, 3)")):
        layernorm_backward(np.ones((4, 1)), cache)


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
    for backward in (batchnorm_backward_alt, batchnorm_backward):
        dx_rows, dgamma_rows, dbeta_rows = backward(as_rows(dout), cache_rows)
        assert rel_error(dx, from_rows(dx_rows)) < 1e-9
        assert rel_error(dgamma, dgamma_rows) < 1e-9 and rel_error(dbeta, dbeta_rows) < 1e-9


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
    assert np.array_equal(test_param["running_var"], running_var)


def test_spatial_batchnorm_running_averages_over_two_steps():
    x1, gamma, beta, _ = _spatial((2, 3, 2, 2), seed=21)
    x2 = -2.0 * x1[::-1] + 1.0
    bn_param = {"mode": "train", "momentum": 0.6}
    spatial_batchnorm_forward(x1, gamma, beta, bn_param)
    spatial_batchnorm_forward(x2, gamma, beta, bn_param)
    for key, statistic in (("running_mean", np.mean), ("running_var", np.var)):
        want = 0.6 * 0.4 * statistic(x1, axis=(0, 2, 3)) + 0.4 * statistic(x2, axis=(0, 2, 3))
        assert np.allclose(bn_param[key], want, rtol=1e-12), key


def test_spatial_batchnorm_leaves_its_inputs_alone():
    x, gamma, beta, dout = _spatial((2, 3, 2, 2), seed=22)
    copies = [a.copy() for a in (x, gamma, beta, dout)]
    _, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    spatial_batchnorm_backward(dout, cache)
    assert all(np.array_equal(a, c) for a, c in zip((x, gamma, beta, dout), copies))


@reference_only
def test_spatial_batchnorm_backward_refuses_a_test_mode_cache_and_a_wrong_dout():
    x, gamma, beta, dout = _spatial((2, 3, 4, 5), seed=23)
    _, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "test"})
    with pytest.raises(ValueError, match="spatial_batchnorm_backward: this cache comes from a test-mode "
                                         "spatial_batchnorm_forward"):
        spatial_batchnorm_backward(dout, cache)
    _, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    # Same size and channels, other spatial shape: a reshape alone would accept it.
    with pytest.raises(ValueError, match=re.escape("dout has shape (2, 3, 5, 4), expected (2, 3, 4, 5)")):
        spatial_batchnorm_backward(dout.reshape(2, 3, 5, 4), cache)


def test_spatial_batchnorm_float32():
    x, gamma, beta, dout = (a.astype(np.float32) for a in _spatial((2, 3, 2, 2), seed=9))
    bn_param = {"mode": "train"}
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert np.allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-5)  # float32 or float64: the layer's choice
    assert bn_param["running_var"].shape == (3,)


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
    with pytest.raises(TypeError, match="float32/64.*int32"):
        spatial_batchnorm_forward(x.astype(np.int32), np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match=re.escape("(N, C, H, W), got shape (2, 3)")):
        spatial_batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), {"mode": "train"})


# --------------------------------------------------------------------------------------------------------------
# Group norm


@pytest.mark.parametrize("G", [1, 2, 3, 6])
def test_groupnorm_gradients(G):
    x, gamma, beta, dout = _spatial((2, 6, 3, 5), seed=G)
    gamma, beta = gamma.reshape(1, 6, 1, 1), beta.reshape(1, 6, 1, 1)
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
    out, _ = spatial_groupnorm_forward(x, gamma, beta, 3, {"eps": 1e-3})
    # Groups: channels {0, 1}, {2, 3}, {4, 5}; interleaved groups ({0, 3}, {1, 4}, {2, 5}) are caught.
    z = ((out - beta) / gamma).reshape(2, 3, -1)
    var = x.reshape(2, 3, -1).var(axis=2)
    assert np.allclose(z.mean(axis=2), 0, atol=1e-9)
    assert np.allclose(z.std(axis=2), np.sqrt(var / (var + 1e-3)), atol=1e-9)


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


def test_groupnorm_gradients_come_back_in_the_shape_of_gamma():
    x, gamma, beta, dout = (a.astype(np.float32) for a in _spatial((2, 4, 2, 2), seed=13))
    out, cache = spatial_groupnorm_forward(x, gamma.reshape(1, 4, 1, 1), beta.reshape(1, 4, 1, 1), 2, {})
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    assert out.shape == x.shape  # float32 or float64: the output's dtype is not part of the contract
    assert dx.shape == x.shape and dgamma.shape == dbeta.shape == (1, 4, 1, 1)


def test_groupnorm_leaves_its_inputs_alone():
    x, gamma, beta, dout = _spatial((2, 4, 2, 2), seed=24)
    gamma, beta = gamma.reshape(1, 4, 1, 1), beta.reshape(1, 4, 1, 1)
    copies = [a.copy() for a in (x, gamma, beta, dout)]
    _, cache = spatial_groupnorm_forward(x, gamma, beta, 2, {})
    spatial_groupnorm_backward(dout, cache)
    assert all(np.array_equal(a, c) for a, c in zip((x, gamma, beta, dout), copies))


@reference_only
def test_groupnorm_backward_refuses_another_cache_and_a_wrong_dout():
    x, gamma, beta, dout = _spatial((2, 4, 3, 2), seed=25)
    gamma, beta = gamma.reshape(1, 4, 1, 1), beta.reshape(1, 4, 1, 1)
    _, cache = spatial_groupnorm_forward(x, gamma, beta, 2, {})
    with pytest.raises(ValueError, match=re.escape("dout has shape (2, 4, 2, 3), expected (2, 4, 3, 2)")):
        spatial_groupnorm_backward(dout.reshape(2, 4, 2, 3), cache)
    _, bn_cache = spatial_batchnorm_forward(x, gamma.ravel(), beta.ravel(), {"mode": "train"})
    with pytest.raises(ValueError, match="this cache comes from spatial_batchnorm_forward"):
        spatial_groupnorm_backward(dout, bn_cache)


@pytest.mark.parametrize("G", [4, 5, 7, 0, -2])
def test_groupnorm_rejects_a_G_that_does_not_divide_C(G):
    with pytest.raises(ValueError, match=re.escape(f"G = {G}") + ".*C = 6.*" + re.escape("[1, 2, 3, 6]")):
        spatial_groupnorm_forward(np.ones((2, 6, 2, 2)), np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1)), G, {})


def test_groupnorm_bad_input():
    x, gamma, beta = np.ones((2, 6, 2, 2)), np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1))
    with pytest.raises(TypeError, match=re.escape("2.0")):
        spatial_groupnorm_forward(x, gamma, beta, 2.0, {})
    with pytest.raises(ValueError, match=re.escape("gamma has shape (1, 5, 1, 1), expected (1, 6, 1, 1)")):
        spatial_groupnorm_forward(x, np.ones((1, 5, 1, 1)), beta, 2, {})
    with pytest.raises(ValueError, match=re.escape("beta has shape (6, 1), expected (1, 6, 1, 1)")):
        spatial_groupnorm_forward(x, gamma, np.zeros((6, 1)), 2, {})
    # (C,) would broadcast against the width axis, silently wrong when W == C.
    with pytest.raises(ValueError, match=re.escape("gamma has shape (6,), expected (1, 6, 1, 1)")):
        spatial_groupnorm_forward(x, np.ones(6), beta, 2, {})
    with pytest.raises(TypeError, match="dtype object"):
        spatial_groupnorm_forward(x, gamma.astype(object), beta, 2, {})
    with pytest.raises(ValueError, match=re.escape("gn_param['eps'] must be a finite number > 0")):
        spatial_groupnorm_forward(x, gamma, beta, 2, {"eps": 0})
    with pytest.raises(TypeError, match="uint8"):
        spatial_groupnorm_forward(x.astype(np.uint8), gamma, beta, 2, {})
    with pytest.raises(ValueError, match=re.escape("got inf")):
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
