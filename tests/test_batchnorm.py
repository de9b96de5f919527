"""Tests of batch normalization: gradients, the two backward passes, running averages, numerics, bad input.

The tests check the contract (../shared/api.md, the docstrings): values, shapes, dtypes and bn_param's keys, never
the layout of a cache or the identity of an array, so that a correct solution in any style passes. The few tests
marked reference_only check properties of the kit's own reference solution (it refuses a test-mode cache, a
dout of the wrong shape, another layer's cache; it accumulates float32 statistics in float64); they run in the
solution edition only.
"""

import re
from pathlib import Path

import numpy as np
import pytest

from cs231n_bn import layers
from cs231n_bn.gradient_check import eval_numerical_gradient_array, rel_error
from cs231n_bn.kit.edition.markers import find_regions
from cs231n_bn.layers import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward, layernorm_forward

BACKWARDS = [batchnorm_backward, batchnorm_backward_alt]

# float64, h = 1e-5: correct gradients agree with centred differences to ~1e-9 here; a wrong one (a missing path
# through the mean or the variance, dgamma not summed, ...) is off by more than 1e-2.
GRAD_TOL = 1e-7

_SOURCE = Path(layers.__file__)
reference_only = pytest.mark.skipif(
    not find_regions(_SOURCE.read_text(encoding="utf-8"), _SOURCE.name),
    reason="a property of the kit's reference solution (solution edition only), not of the contract",
)


def _inputs(shape, seed, offset=3.0, scale=2.0):
    rng = np.random.default_rng(seed)
    N, D = shape
    x = offset + scale * rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    dout = rng.standard_normal(shape)
    return x, gamma, beta, dout


def _gradient_errors(backward, x, gamma, beta, dout, bn_extra=None):
    """rel_error of dx, dgamma, dbeta from `backward` against centred differences of the train-mode forward."""
    extra = bn_extra or {}

    def forward(x_, gamma_, beta_):
        return batchnorm_forward(x_, gamma_, beta_, {"mode": "train", **extra})[0]

    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train", **extra})
    dx, dgamma, dbeta = backward(dout, cache)
    assert dx.shape == x.shape and dgamma.shape == gamma.shape and dbeta.shape == beta.shape
    return (
        rel_error(dx, eval_numerical_gradient_array(lambda v: forward(v, gamma, beta), x, dout)),
        rel_error(dgamma, eval_numerical_gradient_array(lambda v: forward(x, v, beta), gamma, dout)),
        rel_error(dbeta, eval_numerical_gradient_array(lambda v: forward(x, gamma, v), beta, dout)),
    )


def _biased_statistics(x):
    """Per-feature mean and biased variance of x (N, D), by NumPy."""
    return x.mean(axis=0), x.var(axis=0)


# --------------------------------------------------------------------------------------------------------------
# Gradients


@pytest.mark.parametrize("backward", BACKWARDS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(3, 5), (5, 7), (8, 2), (4, 1), (9, 3)])
def test_backward_matches_centred_differences(backward, shape):
    x, gamma, beta, dout = _inputs(shape, seed=sum(shape))
    errors = _gradient_errors(backward, x, gamma, beta, dout)
    assert max(errors) < GRAD_TOL, errors


@pytest.mark.parametrize("backward", BACKWARDS, ids=lambda f: f.__name__)
def test_backward_matches_centred_differences_for_two_samples(backward):
    # With N = 2, x_hat = +-sqrt(var / (var + eps)) whatever x is, so dx is O(eps / var): tiny next to
    # the finite-difference noise for eps = 1e-5. A larger eps gives dx a size the check can resolve.
    x, gamma, beta, dout = _inputs((2, 4), seed=2, scale=0.1)
    errors = _gradient_errors(backward, x, gamma, beta, dout, {"eps": 1e-2})
    assert max(errors) < GRAD_TOL, errors
    # With the default eps only dgamma and dbeta are large enough to be checked tightly.
    errors = _gradient_errors(backward, x, gamma, beta, dout)
    assert max(errors[1:]) < GRAD_TOL and errors[0] < 1e-4, errors


@pytest.mark.parametrize(
    "shape, scale", [((2, 3), 0.01), ((5, 7), 5.0), ((64, 33), 5.0), ((7, 1), 5.0), ((31, 5), 5.0)]
)
def test_staged_and_closed_form_backward_agree(shape, scale):
    # For N = 2, dx is O(eps / var) (see above): with var >> eps it is all rounding noise, on which two correct
    # formulas need not agree. scale = 0.01 (var ~ 1e-4, eps = 1e-5) gives it a size worth comparing.
    x, gamma, beta, dout = _inputs(shape, seed=shape[0], offset=12.0, scale=scale)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    staged = batchnorm_backward(dout, cache)
    closed = batchnorm_backward_alt(dout, cache)
    for name, a, b in zip(("dx", "dgamma", "dbeta"), staged, closed):
        assert rel_error(a, b) < 1e-9, (name, rel_error(a, b))


def test_backward_leaves_dout_and_the_forward_inputs_alone():
    x, gamma, beta, dout = _inputs((5, 4), seed=6)
    copies = [a.copy() for a in (x, gamma, beta, dout)]
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for backward in BACKWARDS:
        backward(dout, cache)
    assert all(np.array_equal(a, b) for a, b in zip((x, gamma, beta, dout), copies))


# --------------------------------------------------------------------------------------------------------------
# Forward pass: properties and running averages


def test_train_mode_output_is_standardized_with_the_biased_variance():
    x, _, _, _ = _inputs((200, 4), seed=0, offset=-7.0, scale=3.0)
    out, _ = batchnorm_forward(x, np.ones(4), np.zeros(4), {"mode": "train"})
    _, var = _biased_statistics(x)
    assert np.allclose(out.mean(axis=0), 0, atol=1e-12)
    # Biased variance and eps: the std is sqrt(var / (var + eps)), a hair below 1. The unbiased variance would
    # give sqrt(N - 1 / N) * that, off by 2.5e-3 here.
    assert np.allclose(out.std(axis=0), np.sqrt(var / (var + 1e-5)), rtol=1e-12)


def test_unbiased_variance_is_caught_for_a_small_batch():
    x, _, _, _ = _inputs((4, 3), seed=10)
    out, _ = batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    _, var = _biased_statistics(x)
    assert np.allclose(out.std(axis=0), np.sqrt(var / (var + 1e-5)), rtol=1e-10)  # N = 4: unbiased is 13 % off


def test_train_mode_output_has_mean_beta_and_std_abs_gamma():
    x, _, _, _ = _inputs((300, 3), seed=1)
    gamma, beta = np.array([2.0, -0.5, 1e-3]), np.array([1.0, -3.0, 0.25])
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 1e-3})
    _, var = _biased_statistics(x)
    assert np.allclose(out.mean(axis=0), beta, rtol=0, atol=1e-12)
    assert np.allclose(out.std(axis=0), np.abs(gamma) * np.sqrt(var / (var + 1e-3)), rtol=1e-12)


def test_running_averages_with_nondefault_momentum_and_eps():
    rng = np.random.default_rng(2)
    x1, x2 = 4.0 + rng.standard_normal((6, 3)), -1.0 + 3 * rng.standard_normal((6, 3))
    gamma, beta = np.array([1.5, 0.5, -1.0]), np.array([0.0, 1.0, 2.0])
    bn_param = {"mode": "train", "momentum": 0.7, "eps": 1e-3}

    out1, _ = batchnorm_forward(x1, gamma, beta, bn_param)
    mean1, var1 = _biased_statistics(x1)
    # From zeros: 0.7 * 0 + 0.3 * statistic. Reversed momentum would give 0.7 * statistic; the unbiased variance
    # 0.3 * 6 / 5 * var1.
    assert np.allclose(bn_param["running_mean"], 0.3 * mean1, rtol=1e-13)
    assert np.allclose(bn_param["running_var"], 0.3 * var1, rtol=1e-13)
    expected = gamma * (x1 - mean1.reshape(1, 3)) / np.sqrt(var1.reshape(1, 3) + 1e-3) + beta
    assert np.allclose(out1, expected, rtol=1e-12)

    batchnorm_forward(x2, gamma, beta, bn_param)
    mean2, var2 = _biased_statistics(x2)
    assert np.allclose(bn_param["running_mean"], 0.7 * 0.3 * mean1 + 0.3 * mean2, rtol=1e-13)
    assert np.allclose(bn_param["running_var"], 0.7 * 0.3 * var1 + 0.3 * var2, rtol=1e-13)


def test_running_averages_start_from_given_values():
    x, gamma, beta, _ = _inputs((8, 2), seed=11)
    start_mean, start_var = np.array([1.0, -1.0]), np.array([2.0, 0.5])
    bn_param = {"mode": "train", "momentum": 0.25, "running_mean": start_mean.copy(),
                "running_var": start_var.copy()}
    batchnorm_forward(x, gamma, beta, bn_param)
    mean, var = _biased_statistics(x)
    assert np.allclose(bn_param["running_mean"], 0.25 * start_mean + 0.75 * mean, rtol=1e-13)
    assert np.allclose(bn_param["running_var"], 0.25 * start_var + 0.75 * var, rtol=1e-13)


def test_default_momentum_and_eps():
    x, gamma, beta, _ = _inputs((5, 2), seed=3)
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    mean, var = _biased_statistics(x)
    assert np.allclose(bn_param["running_mean"], 0.1 * mean, rtol=1e-13)  # momentum 0.9
    assert np.allclose(bn_param["running_var"], 0.1 * var, rtol=1e-13)
    assert np.allclose(out, gamma * (x - mean) / np.sqrt(var + 1e-5) + beta, rtol=1e-12)
    assert set(bn_param) == {"mode", "running_mean", "running_var"}
    assert bn_param["running_mean"].shape == bn_param["running_var"].shape == (2,)


def test_test_mode_uses_the_running_statistics_and_gamma_and_beta():
    running_mean, running_var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 9.0])
    gamma, beta = np.array([2.0, 1.0, -1.0]), np.array([0.5, 0.0, 1.0])
    bn_param = {"mode": "test", "eps": 1e-4, "running_mean": running_mean.copy(), "running_var": running_var.copy()}
    # Rows far from the running statistics: normalizing with the batch's own mean and variance instead is caught.
    x = np.array([[3.0, -2.0, 0.5], [10.0, 5.0, -4.0], [7.0, 0.0, 2.0]])
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    z = (x - running_mean) / np.sqrt(running_var + 1e-4)
    assert np.allclose(out, gamma * z + beta, rtol=1e-13)  # leaving out gamma and beta is caught too
    assert np.array_equal(bn_param["running_mean"], running_mean)  # not updated at test time
    assert np.array_equal(bn_param["running_var"], running_var)
    single, _ = batchnorm_forward(x[:1], gamma, beta, bn_param)  # a single sample is fine at test time
    assert np.allclose(single, out[:1], rtol=1e-13)


def test_running_statistics_converge_to_the_data_statistics():
    rng = np.random.default_rng(4)
    true_mean, true_std = np.array([-2.0, 0.0, 5.0]), np.array([0.5, 1.0, 3.0])
    bn_param = {"mode": "train"}
    for _ in range(200):
        batchnorm_forward(true_mean + true_std * rng.standard_normal((64, 3)), np.ones(3), np.zeros(3), bn_param)
    assert np.allclose(bn_param["running_mean"], true_mean, atol=0.1 * true_std)
    # The biased variance averages to (63 / 64) * true variance.
    assert np.allclose(bn_param["running_var"], 63 / 64 * true_std**2, rtol=0.15)
    bn_param["mode"] = "test"
    out, _ = batchnorm_forward(true_mean + true_std * rng.standard_normal((2000, 3)), np.ones(3), np.zeros(3), bn_param)
    assert np.allclose(out.mean(axis=0), 0, atol=0.1) and np.allclose(out.std(axis=0), 1, atol=0.1)


def test_forward_leaves_its_inputs_alone():
    x, gamma, beta, _ = _inputs((6, 3), seed=12)
    copies = [a.copy() for a in (x, gamma, beta)]
    for mode in ("train", "test"):
        bn_param = {"mode": mode, "running_mean": np.ones(3), "running_var": np.ones(3)}
        batchnorm_forward(x, gamma, beta, bn_param)
        assert all(np.array_equal(a, b) for a, b in zip((x, gamma, beta), copies)), mode


def test_float32_input_works():
    # float32 in, float32 or float64 out (the output's dtype is not part of the contract), normalized all the same.
    x, gamma, beta, _ = (a.astype(np.float32) for a in _inputs((8, 3), seed=6))
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    assert out.dtype in (np.float32, np.float64)
    assert np.allclose((out - beta).mean(axis=0), 0, atol=1e-5)
    bn_param["mode"] = "test"
    assert batchnorm_forward(x, gamma, beta, bn_param)[0].shape == x.shape


@reference_only
def test_float32_in_float32_out():
    # A property of the reference solution: a float32 net's training step stays in float32.
    x, gamma, beta, _ = (a.astype(np.float32) for a in _inputs((8, 3), seed=6))
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    assert out.dtype == np.float32
    assert bn_param["running_mean"].dtype == np.float32 and bn_param["running_var"].dtype == np.float32
    bn_param["mode"] = "test"
    assert batchnorm_forward(x, gamma, beta, bn_param)[0].dtype == np.float32


def test_nan_propagates_without_error():
    x, gamma, beta, _ = _inputs((5, 3), seed=7)
    x[2, 1] = np.nan
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert np.all(np.isnan(out[:, 1]))  # the feature with the NaN
    assert np.all(np.isfinite(out[:, [0, 2]]))  # the others are untouched


@pytest.mark.parametrize("offset, tol", [(1e6, 1e-9), (1e8, 1e-6)])
def test_large_common_offset_still_gives_unit_variance(offset, tol):
    # E[x^2] - E[x]^2 would subtract two numbers of size offset**2 (1e12 or 1e16) whose rounding errors exceed
    # tol (about 1e-4 for 1e6, about 1 for 1e8): only the two-pass variance passes.
    rng = np.random.default_rng(8)
    x = offset + rng.standard_normal((512, 4))
    out, _ = batchnorm_forward(x, np.ones(4), np.zeros(4), {"mode": "train"})
    _, var = _biased_statistics(x)
    assert np.allclose(out.std(axis=0), np.sqrt(var / (var + 1e-5)), rtol=0, atol=tol)
    assert np.allclose(out.mean(axis=0), 0, atol=tol)


# --------------------------------------------------------------------------------------------------------------
# The kit's reference solution: float32 accuracy, and what its backward passes refuse


def _x_hat_error(x):
    """Largest error of batch norm's x_hat for float32 x against float64 arithmetic on the same values."""
    out, _ = batchnorm_forward(x, np.ones(x.shape[1], np.float32), np.zeros(x.shape[1], np.float32),
                               {"mode": "train"})
    x64 = x.astype(np.float64)
    mean, var = _biased_statistics(x64)
    return np.abs(out - (x64 - mean) / np.sqrt(var + 1e-5)).max()


@reference_only
@pytest.mark.parametrize("offset, scale, tol", [(1000.0, 1.0, 2e-4), (1e8, 1e3, 2e-2)])
def test_float32_statistics_are_accumulated_accurately(offset, scale, tol):
    # Statistics summed row after row in float32 err by up to ~N * 6e-8 * offset: x_hat is off by 1.6e-3 (offset
    # 1000) and by 4.1 (1e8) here; with float64 accumulators the error is float32's rounding of x and of the mean
    # (3.1e-5 and 3.9e-3).
    rng = np.random.default_rng(13)
    x = (offset + scale * rng.standard_normal((4096, 64))).astype(np.float32)
    assert _x_hat_error(x) < tol


@reference_only
def test_float32_with_a_huge_spread_is_still_normalized():
    # var ~ 1e40 overflows float32 (largest 3.4e38), so the squares and var are taken in float64; the running
    # variance, stored in x's dtype, overflows to inf by nature (hence the silenced warning).
    x = (1e20 * np.random.default_rng(14).standard_normal((64, 3))).astype(np.float32)
    with np.errstate(over="ignore"):
        out, _ = batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), {"mode": "train"})
    assert np.allclose(out.mean(axis=0), 0, atol=1e-5) and np.allclose(out.std(axis=0), 1, atol=1e-4)


@reference_only
def test_backward_keeps_float32():
    # The contract leaves the gradients' dtype to the student (a float32 net casts at its boundary); the reference
    # solution keeps float32 throughout, which keeps a float32 net's training step in float32.
    x, gamma, beta, dout = (a.astype(np.float32) for a in _inputs((6, 3), seed=5))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for backward in BACKWARDS:
        assert [g.dtype for g in backward(dout, cache)] == [np.float32] * 3, backward.__name__


@reference_only
@pytest.mark.parametrize("backward", BACKWARDS, ids=lambda f: f.__name__)
def test_a_test_mode_cache_is_refused(backward):
    x, gamma, beta, dout = _inputs((4, 3), seed=15)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "test", "running_mean": np.zeros(3),
                                                  "running_var": np.ones(3)})
    with pytest.raises(ValueError, match=f"{backward.__name__}: this cache comes from a test-mode batchnorm_forward"):
        backward(dout, cache)


@reference_only
@pytest.mark.parametrize("backward", BACKWARDS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(1, 3), (4, 1), (3,), (4, 3, 1)])
def test_dout_of_the_wrong_shape_is_refused(backward, shape):
    x, gamma, beta, _ = _inputs((4, 3), seed=16)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    with pytest.raises(ValueError, match=re.escape(f"dout has shape {shape}, expected (4, 3)")):
        backward(np.ones(shape), cache)


@reference_only
@pytest.mark.parametrize("backward", BACKWARDS, ids=lambda f: f.__name__)
def test_a_layer_norm_cache_is_refused(backward):
    x, gamma, beta, dout = _inputs((4, 3), seed=17)
    _, cache = layernorm_forward(x, gamma, beta, {})
    with pytest.raises(ValueError, match="this cache comes from layernorm_forward; pass the cache returned by "
                                         "batchnorm_forward"):
        backward(dout, cache)
    with pytest.raises(TypeError, match="cache must be the cache returned by batchnorm_forward, got tuple"):
        backward(dout, (x, gamma))


# --------------------------------------------------------------------------------------------------------------
# Bad input


def _call(x=None, gamma=None, beta=None, **bn_param):
    x = np.ones((4, 3)) * np.arange(4)[:, None] if x is None else x
    gamma = np.ones(3) if gamma is None else gamma
    beta = np.zeros(3) if beta is None else beta
    return batchnorm_forward(x, gamma, beta, bn_param)


@pytest.mark.parametrize("mode", ["training", "Train", "", None, 1])
def test_unknown_mode_is_rejected(mode):
    with pytest.raises(ValueError, match=re.escape(f"bn_param['mode'] must be 'train' or 'test', got {mode!r}")):
        _call(mode=mode)


def test_missing_mode_is_rejected():
    with pytest.raises(ValueError, match="'mode'"):
        _call()


def test_misspelled_key_is_rejected_with_the_allowed_keys():
    with pytest.raises(ValueError, match="'momentun'.*allowed keys are 'mode', 'eps', 'momentum'"):
        _call(mode="train", momentun=0.5)


@pytest.mark.parametrize("which", ["gamma", "beta"])
@pytest.mark.parametrize("shape", [(4,), (1, 3), (3, 1), ()])
def test_parameter_shape_must_match_the_features(which, shape):
    with pytest.raises(ValueError, match=re.escape(f"{which} has shape {shape}, expected (3,)")):
        _call(mode="train", **{which: np.ones(shape)})


@pytest.mark.parametrize("which", ["gamma", "beta"])
@pytest.mark.parametrize("value", [np.ones(3, dtype=np.complex128), np.array([1.0, "a", None], dtype=object),
                                   np.array(["1", "2", "3"])])
def test_parameters_must_be_real_floating_point(which, value):
    with pytest.raises(TypeError, match=re.escape(f"{which} must hold real floating-point numbers, got dtype "
                                                  f"{value.dtype}")):
        _call(mode="train", **{which: value})


def test_train_mode_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2 values per feature.*got 1"):
        _call(x=np.ones((1, 3)), mode="train")
    _call(x=np.ones((1, 3)), mode="test")  # fine at test time


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool, np.complex128])
def test_non_floating_input_is_a_type_error(dtype):
    with pytest.raises(TypeError, match=re.escape(str(np.dtype(dtype)))):
        _call(x=np.ones((4, 3), dtype=dtype), mode="train")


def test_float16_input_is_refused_with_the_reason():
    # The sum of squares of x = N(0, 10) over 1000 rows is 1e5, beyond float16's largest value 65504.
    x = np.random.default_rng(18).normal(0, 10, (1000, 4)).astype(np.float16)
    with pytest.raises(TypeError, match=re.escape("(float32/64), got dtype float16") + ".*overflow float16"):
        batchnorm_forward(x, np.ones(4), np.zeros(4), {"mode": "train"})


def test_input_must_be_a_two_dimensional_array():
    with pytest.raises(ValueError, match=re.escape("(N, D), got shape (4, 3, 1)")):
        _call(x=np.ones((4, 3, 1)), mode="train")
    with pytest.raises(TypeError, match="x must be a numpy array, got list"):
        _call(x=[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], mode="train")


@pytest.mark.parametrize(
    "key, value, error, text",
    [
        ("eps", -1e-5, ValueError, "finite number > 0 (it keeps 1 / sqrt(var + eps) finite when a feature is "
                                   "constant), got -1e-05"),
        ("eps", 0.0, ValueError, "bn_param['eps'] must be a finite number > 0"),
        ("eps", 0, ValueError, "got 0"),
        ("eps", float("nan"), ValueError, "got nan"),
        ("eps", float("inf"), ValueError, "got inf"),
        ("eps", "small", TypeError, "'small'"),
        ("momentum", 1.5, ValueError, "bn_param['momentum'] must be in [0, 1], got 1.5"),
        ("momentum", -0.1, ValueError, "-0.1"),
        ("momentum", None, TypeError, "None"),
    ],
)
def test_bad_hyperparameters_are_rejected(key, value, error, text):
    with pytest.raises(error, match=re.escape(text)):
        _call(mode="train", **{key: value})


def test_eps_zero_with_a_constant_feature_is_refused_rather_than_nan():
    x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])  # feature 1 is constant: var = 0
    with pytest.raises(ValueError, match="eps"):
        batchnorm_forward(x, np.ones(2), np.zeros(2), {"mode": "train", "eps": 0.0})
    out, _ = batchnorm_forward(x, np.ones(2), np.zeros(2), {"mode": "train"})  # the default eps: finite, 0
    assert np.all(out[:, 1] == 0)


def test_bad_running_statistics_are_rejected():
    with pytest.raises(ValueError, match=re.escape("'running_mean'] has shape (4,), expected (3,)")):
        _call(mode="test", running_mean=np.zeros(4))
    with pytest.raises(TypeError, match="running_var"):
        _call(mode="test", running_var=[1.0, 1.0, 1.0])
    with pytest.raises(TypeError, match="running_mean"):
        _call(mode="train", running_mean=np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match=re.escape("bn_param['running_var'] must be a floating-point numpy array, "
                                                  "got None")):
        _call(mode="train", running_var=None)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_negative_running_variance_is_rejected(mode):
    with pytest.raises(ValueError, match=re.escape("bn_param['running_var'] must be >= 0 (it is a variance), "
                                                   "got -0.5 at index 1")):
        _call(mode=mode, running_mean=np.zeros(3), running_var=np.array([1.0, -0.5, 2.0]))


@pytest.mark.parametrize("read_only", ["running_mean", "running_var"])
def test_read_only_running_statistics_are_refused_in_train_mode_before_any_change(read_only):
    bn_param = {"mode": "train", "running_mean": np.array([1.0, 2.0, 3.0]), "running_var": np.array([1.0, 1.0, 1.0])}
    bn_param[read_only].flags.writeable = False
    before = {key: bn_param[key].copy() for key in ("running_mean", "running_var")}
    with pytest.raises(ValueError, match=re.escape(f"bn_param['{read_only}'] is a read-only array, and train "
                                                   f"mode updates it")):
        _call(**bn_param)
    for key, value in before.items():  # nothing half-updated
        assert np.array_equal(bn_param[key], value)
    bn_param["mode"] = "test"
    _call(**bn_param)  # reading a read-only array is fine


def test_bn_param_must_be_a_dict():
    with pytest.raises(TypeError, match="list"):
        batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), ["train"])
