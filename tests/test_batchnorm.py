"""Tests of batch normalization: gradients, the two backward passes, running averages, numerics, bad input."""

import re

import numpy as np
import pytest

from cs231n_bn.gradient_check import eval_numerical_gradient_array, rel_error
from cs231n_bn.layers import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward

BACKWARDS = [batchnorm_backward, batchnorm_backward_alt]


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


# --------------------------------------------------------------------------------------------------------------
# Gradients


@pytest.mark.parametrize("backward", BACKWARDS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(3, 5), (5, 7), (8, 2), (4, 1), (9, 3)])
def test_backward_matches_centred_differences(backward, shape):
    x, gamma, beta, dout = _inputs(shape, seed=sum(shape))
    errors = _gradient_errors(backward, x, gamma, beta, dout)
    # float64, h = 1e-5: a correct gradient agrees to ~1e-9; a wrong one is off by more than 1e-2.
    assert max(errors) < 1e-7, errors


@pytest.mark.parametrize("backward", BACKWARDS, ids=lambda f: f.__name__)
def test_backward_matches_centred_differences_for_two_samples(backward):
    # With N = 2, x_hat = +-sqrt(var / (var + eps)) whatever x is, so dx is O(eps / var): tiny next to
    # the finite-difference noise for eps = 1e-5. A larger eps gives dx a size the check can resolve.
    x, gamma, beta, dout = _inputs((2, 4), seed=2, scale=0.1)
    errors = _gradient_errors(backward, x, gamma, beta, dout, {"eps": 1e-2})
    assert max(errors) < 1e-7, errors
    # With the default eps only dgamma and dbeta are large enough to be checked tightly.
    errors = _gradient_errors(backward, x, gamma, beta, dout)
    assert max(errors[1:]) < 1e-7 and errors[0] < 1e-4, errors


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
        assert rel_error(a, b) < 1e-10, (name, rel_error(a, b))


def test_backward_keeps_float32():
    x, gamma, beta, dout = (a.astype(np.float32) for a in _inputs((6, 3), seed=5))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for backward in BACKWARDS:
        assert all(g.dtype == np.float32 for g in backward(dout, cache))


# --------------------------------------------------------------------------------------------------------------
# Forward pass: properties and running averages


def test_train_mode_output_is_standardized():
    x, _, _, _ = _inputs((200, 4), seed=0, offset=-7.0, scale=3.0)
    out, _ = batchnorm_forward(x, np.ones(4), np.zeros(4), {"mode": "train"})
    assert np.allclose(out.mean(axis=0), 0, atol=1e-12)
    # Biased variance and eps: the std is sqrt(var / (var + eps)), a hair below 1.
    assert np.allclose(out.std(axis=0), np.sqrt(x.var(axis=0) / (x.var(axis=0) + 1e-5)), rtol=1e-12)
    assert np.allclose(out.std(axis=0), 1, atol=1e-5)


def test_train_mode_output_has_mean_beta_and_std_abs_gamma():
    x, _, _, _ = _inputs((300, 3), seed=1)
    gamma, beta = np.array([2.0, -0.5, 1e-3]), np.array([1.0, -3.0, 0.25])
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": 0.0})
    assert np.allclose(out.mean(axis=0), beta, rtol=0, atol=1e-12)
    assert np.allclose(out.std(axis=0), np.abs(gamma), rtol=1e-12)


def test_running_averages_with_nondefault_momentum_and_eps():
    rng = np.random.default_rng(2)
    x1, x2 = 4.0 + rng.standard_normal((6, 3)), -1.0 + 3 * rng.standard_normal((6, 3))
    gamma, beta = np.array([1.5, 0.5, -1.0]), np.array([0.0, 1.0, 2.0])
    bn_param = {"mode": "train", "momentum": 0.7, "eps": 1e-3}

    out1, _ = batchnorm_forward(x1, gamma, beta, bn_param)
    running_mean, running_var = bn_param["running_mean"], bn_param["running_var"]
    mean1 = x1.sum(axis=0) / 6
    var1 = ((x1 - mean1) ** 2).sum(axis=0) / 6  # biased, divide by N
    assert np.allclose(running_mean, 0.3 * mean1, rtol=1e-13)  # from zeros: 0.7 * 0 + 0.3 * mean
    assert np.allclose(running_var, 0.3 * var1, rtol=1e-13)
    assert np.allclose(out1, gamma * (x1 - mean1) / np.sqrt(var1 + 1e-3) + beta, rtol=1e-12)

    batchnorm_forward(x2, gamma, beta, bn_param)
    mean2 = x2.sum(axis=0) / 6
    var2 = ((x2 - mean2) ** 2).sum(axis=0) / 6
    assert bn_param["running_mean"] is running_mean and bn_param["running_var"] is running_var  # in place
    assert np.allclose(running_mean, 0.7 * 0.3 * mean1 + 0.3 * mean2, rtol=1e-13)
    assert np.allclose(running_var, 0.7 * 0.3 * var1 + 0.3 * var2, rtol=1e-13)


def test_default_momentum_and_eps():
    x, gamma, beta, _ = _inputs((5, 2), seed=3)
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    assert np.allclose(bn_param["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-13)  # momentum 0.9
    assert np.allclose(bn_param["running_var"], 0.1 * x.var(axis=0), rtol=1e-13)
    assert np.allclose(out, gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5) + beta, rtol=1e-12)
    assert set(bn_param) == {"mode", "running_mean", "running_var"}


def test_test_mode_uses_the_running_statistics():
    running_mean, running_var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 9.0])
    gamma, beta = np.array([2.0, 1.0, -1.0]), np.array([0.5, 0.0, 1.0])
    bn_param = {"mode": "test", "eps": 1e-4, "running_mean": running_mean.copy(), "running_var": running_var.copy()}
    x = np.array([[3.0, -2.0, 0.5]])  # a single sample is fine at test time
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    expected = gamma * (x - running_mean) / np.sqrt(running_var + 1e-4) + beta
    assert np.allclose(out, expected, rtol=1e-13)
    assert np.array_equal(bn_param["running_mean"], running_mean)  # not updated at test time
    assert np.array_equal(bn_param["running_var"], running_var)


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


def test_float32_in_float32_out():
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


# --------------------------------------------------------------------------------------------------------------
# Numerics and memory


@pytest.mark.parametrize("offset, tol", [(1e6, 1e-9), (1e8, 1e-6)])
def test_large_common_offset_still_gives_unit_variance(offset, tol):
    # E[x^2] - E[x]^2 would subtract two numbers of size offset**2 (1e12 or 1e16) whose rounding errors exceed
    # tol (about 1e-4 for 1e6, about 1 for 1e8): only the two-pass variance passes.
    rng = np.random.default_rng(8)
    x = offset + rng.standard_normal((512, 4))
    out, _ = batchnorm_forward(x, np.ones(4), np.zeros(4), {"mode": "train"})
    centred = x - x.mean(axis=0)
    var = np.mean(centred**2, axis=0)
    assert np.allclose(out.std(axis=0), np.sqrt(var / (var + 1e-5)), rtol=0, atol=tol)
    assert np.allclose(out.mean(axis=0), 0, atol=tol)


def _arrays_in(obj):
    """Every ndarray in a (possibly nested) cache of tuples, lists and dicts."""
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        return [a for item in obj for a in _arrays_in(item)]
    return []


def test_cache_holds_at_most_one_array_of_the_input_size():
    x, gamma, beta, dout = _inputs((12, 5), seed=9)  # N != D, so per-feature vectors are never of x's size
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    big = [a for a in _arrays_in(cache) if a.size == x.size]
    assert len(big) == 1, [a.shape for a in _arrays_in(cache)]
    assert not any(a is x for a in _arrays_in(cache))  # x_hat, not x itself
    # ...and that single cache is all either backward pass needs.
    assert rel_error(batchnorm_backward(dout, cache)[0], batchnorm_backward_alt(dout, cache)[0]) < 1e-10


# --------------------------------------------------------------------------------------------------------------
# Bad input


def _call(x=None, gamma=None, beta=None, **bn_param):
    x = np.ones((4, 3)) * np.arange(4)[:, None] if x is None else x
    gamma = np.ones(3) if gamma is None else gamma
    beta = np.zeros(3) if beta is None else beta
    return batchnorm_forward(x, gamma, beta, bn_param)


@pytest.mark.parametrize("mode", ["training", "Train", "", None, 1])
def test_unknown_mode_is_rejected(mode):
    with pytest.raises(ValueError, match=re.escape(repr(mode)) + ".*|.*'train' or 'test'"):
        _call(mode=mode)
    with pytest.raises(ValueError, match=re.escape(f"got {mode!r}")):
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


def test_train_mode_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2 values per feature.*got 1"):
        _call(x=np.ones((1, 3)), mode="train")
    _call(x=np.ones((1, 3)), mode="test")  # fine at test time


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool, np.complex128])
def test_non_floating_input_is_a_type_error(dtype):
    with pytest.raises(TypeError, match=re.escape(str(np.dtype(dtype)))):
        _call(x=np.ones((4, 3), dtype=dtype), mode="train")


def test_input_must_be_two_dimensional():
    with pytest.raises(ValueError, match=re.escape("(N, D), got shape (4, 3, 1)")):
        _call(x=np.ones((4, 3, 1)), mode="train")


@pytest.mark.parametrize(
    "key, value, error, text",
    [
        ("eps", -1e-5, ValueError, "-1e-05"),
        ("eps", float("nan"), ValueError, "nan"),
        ("eps", "small", TypeError, "'small'"),
        ("momentum", 1.5, ValueError, "1.5"),
        ("momentum", -0.1, ValueError, "-0.1"),
    ],
)
def test_bad_hyperparameters_are_rejected(key, value, error, text):
    with pytest.raises(error, match=re.escape(text)):
        _call(mode="train", **{key: value})


def test_bad_running_statistics_are_rejected():
    with pytest.raises(ValueError, match=re.escape("'running_mean'] has shape (4,), expected (3,)")):
        _call(mode="test", running_mean=np.zeros(4))
    with pytest.raises(TypeError, match="running_var"):
        _call(mode="test", running_var=[1.0, 1.0, 1.0])


def test_bn_param_must_be_a_dict():
    with pytest.raises(TypeError, match="list"):
        batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), ["train"])


# --------------------------------------------------------------------------------------------------------------
# Wide rows: the kernels shrink NumPy's ufunc buffers to one row (see normalization.row_buffers)
# --------------------------------------------------------------------------------------------------------------


def test_wide_rows_restore_the_buffer_size_and_handle_mixed_dtypes():
    bufsize = np.getbufsize()
    rng = np.random.default_rng(7)
    x = (5 + 3 * rng.standard_normal((16, 1024))).astype(np.float32)  # 4 KiB rows: the row-buffer path
    gamma, beta = rng.standard_normal(1024), rng.standard_normal(1024)  # float64 against float32 x
    out, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert np.getbufsize() == bufsize
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=0), ((x64 - x64.mean(axis=0)) ** 2).mean(axis=0)
    expected = gamma * (x64 - mean) / np.sqrt(var + 1e-5) + beta
    assert np.abs(out - expected).max() < 1e-4  # float32 arithmetic
    dout = rng.standard_normal(x.shape).astype(np.float32)
    batchnorm_backward_alt(dout, cache)
    assert np.getbufsize() == bufsize
    with pytest.raises(ValueError):
        batchnorm_forward(x, gamma, beta, {"mode": "train", "momentum": 2.0})
    assert np.getbufsize() == bufsize
