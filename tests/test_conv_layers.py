"""Tests of the convolutional layers (naive and fast), their sandwiches, fold_batchnorm and ThreeLayerConvNet."""

import numpy as np
import pytest

from cs231n_bn import layer_utils
from cs231n_bn.classifiers.cnn import ThreeLayerConvNet
from cs231n_bn.fast_layers import conv_backward_fast, conv_forward_fast, max_pool_backward_fast, max_pool_forward_fast
from cs231n_bn.gradient_check import eval_numerical_gradient, rel_error
from cs231n_bn.layers import (
    affine_forward,
    batchnorm_forward,
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
    spatial_batchnorm_forward,
)
from fixtures.gradients import gradient_errors

# float64, h = 1e-5, largest elementwise relative error: correct gradients measure below 1e-8 on these small
# inputs; a wrong one is off by more than 1e-2.
GRAD_TOL = 1e-7
# The fast layers compute the same sums in another order: they agree with the naive ones to rounding.
FAST_TOL = 1e-8
# Folded layer against layer + test-mode batch norm, float64: to 1e-10.
FOLD_TOL = 1e-10
# A whole network's loss gradient through max pool, ReLU and normalization: 1e-6 (several layers of rounding).
NET_GRAD_TOL = 1e-6

CONV_CASES = [  # (x shape, w shape, conv_param)
    ((2, 3, 5, 5), (4, 3, 3, 3), {"stride": 1, "pad": 1}),
    ((2, 3, 7, 7), (4, 3, 3, 3), {"stride": 2, "pad": 1}),
    ((3, 2, 6, 5), (3, 2, 2, 3), {"stride": 1, "pad": 0}),
    ((1, 1, 6, 6), (2, 1, 5, 5), {"stride": 1, "pad": 2}),
]
POOL_CASES = [  # (x shape, pool_param)
    ((2, 3, 4, 6), {"pool_height": 2, "pool_width": 2, "stride": 2}),
    ((2, 2, 7, 8), {"pool_height": 3, "pool_width": 2, "stride": 2}),
    ((1, 2, 5, 5), {"pool_height": 3, "pool_width": 3, "stride": 1}),
]


def conv_inputs(x_shape, w_shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])


# --------------------------------------------------------------------------------------------------------------
# Convolution


def test_conv_forward_naive_matches_hand_computed_values():
    # cs231n's check: a 1-channel 3x3 image, a 2x2 filter of ones and a bias 1, no padding, stride 1.
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.ones((1, 1, 2, 2))
    out, _ = conv_forward_naive(x, w, np.array([1.0]), {"stride": 1, "pad": 0})
    assert np.array_equal(out, [[[[0 + 1 + 3 + 4 + 1, 1 + 2 + 4 + 5 + 1], [3 + 4 + 6 + 7 + 1, 4 + 5 + 7 + 8 + 1]]]])
    # A 3x3 filter that is 2 at its centre, pad 1 and stride 2: out[i, j] = 2 * x[2 i, 2 j] + b.
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 1, 1] = 2.0
    out, _ = conv_forward_naive(x, w, np.array([0.5]), {"stride": 2, "pad": 1})
    assert out.shape == (1, 1, 2, 2)
    assert np.array_equal(out[0, 0], 2.0 * x[0, 0, 0:3:2, 0:3:2] + 0.5)


def test_conv_forward_naive_output_shape_and_channel_sum():
    x, w, b = conv_inputs((2, 3, 7, 9), (4, 3, 3, 5))
    out, _ = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    assert out.shape == (2, 4, 1 + (7 + 2 - 3) // 2, 1 + (9 + 2 - 5) // 2)
    # A 1x1 filter mixes channels only: out[n, f] = sum_c w[f, c] * x[n, c] + b[f].
    w1 = w[:, :, :1, :1]
    out, _ = conv_forward_naive(x, w1, b, {"stride": 1, "pad": 0})
    assert np.allclose(out, np.einsum("fc,nchw->nfhw", w1[:, :, 0, 0], x) + b[:, None, None], atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, conv_param", CONV_CASES)
def test_conv_backward_naive_gradients(x_shape, w_shape, conv_param):
    x, w, b = conv_inputs(x_shape, w_shape)
    out, _ = conv_forward_naive(x, w, b, conv_param)
    dout = np.random.default_rng(1).normal(size=out.shape)
    errors = gradient_errors(lambda x, w, b: conv_forward_naive(x, w, b, conv_param), conv_backward_naive,
                             [x, w, b], dout)
    assert max(errors) < GRAD_TOL, errors


@pytest.mark.parametrize("x_shape, w_shape, conv_param", CONV_CASES)
def test_conv_fast_agrees_with_naive(x_shape, w_shape, conv_param):
    x, w, b = conv_inputs(x_shape, w_shape, seed=2)
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    out_fast, cache_fast = conv_forward_fast(x, w, b, conv_param)
    assert out_fast.shape == out_naive.shape
    assert rel_error(out_fast, out_naive) < FAST_TOL
    dout = np.random.default_rng(3).normal(size=out_naive.shape)
    for fast, naive in zip(conv_backward_fast(dout, cache_fast), conv_backward_naive(dout, cache_naive)):
        assert fast.shape == naive.shape
        assert rel_error(fast, naive) < FAST_TOL


def test_conv_fast_gradients():
    x, w, b = conv_inputs((2, 2, 6, 6), (3, 2, 3, 3), seed=4)
    conv_param = {"stride": 1, "pad": 1}
    dout = np.random.default_rng(5).normal(size=(2, 3, 6, 6))
    errors = gradient_errors(lambda x, w, b: conv_forward_fast(x, w, b, conv_param), conv_backward_fast,
                             [x, w, b], dout)
    assert max(errors) < GRAD_TOL, errors


@pytest.mark.parametrize("forward", [conv_forward_naive, conv_forward_fast])
def test_conv_rejects_bad_parameters(forward):
    x, w, b = conv_inputs((1, 3, 5, 5), (2, 3, 3, 3))
    with pytest.raises(ValueError, match=r"stride 3 does not tile the height: \(5 \+ 2 \* 0 - 3\) = 2"):
        forward(x, w, b, {"stride": 3, "pad": 0})
    with pytest.raises(ValueError, match="unknown conv_param key"):
        forward(x, w, b, {"stride": 1, "pad": 1, "dilation": 2})
    with pytest.raises(ValueError, match="w has 3 input channels"):
        forward(x[:, :2], w, b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match=r"b has shape \(3,\), expected \(2,\)"):
        forward(x, w, np.zeros(3), {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match="conv_param needs the key"):
        forward(x, w, b, {"stride": 1})
    with pytest.raises(ValueError, match=r"conv_param\['pad'\] must be >= 0"):
        forward(x, w, b, {"stride": 1, "pad": -1})
    with pytest.raises(TypeError, match=r"conv_param\['stride'\] must be an integer"):
        forward(x, w, b, {"stride": 1.0, "pad": 1})


# --------------------------------------------------------------------------------------------------------------
# Max pooling


def test_max_pool_forward_naive_picks_each_window_maximum():
    x = np.array([[[[1.0, 5.0, 2.0, 0.0],
                    [3.0, 4.0, 7.0, 1.0],
                    [0.0, 2.0, 1.0, 1.0],
                    [9.0, 1.0, 3.0, 8.0]]]])
    out, _ = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert np.array_equal(out, [[[[5.0, 7.0], [9.0, 8.0]]]])
    out, _ = max_pool_forward_naive(x, {"pool_height": 3, "pool_width": 3, "stride": 1})
    assert np.array_equal(out, [[[[7.0, 7.0], [9.0, 8.0]]]])


@pytest.mark.parametrize("x_shape, pool_param", POOL_CASES)
def test_max_pool_backward_naive_gradients(x_shape, pool_param):
    x = np.random.default_rng(6).normal(size=x_shape)  # continuous values: no ties, the max is differentiable
    out, _ = max_pool_forward_naive(x, pool_param)
    dout = np.random.default_rng(7).normal(size=out.shape)
    errors = gradient_errors(lambda x: max_pool_forward_naive(x, pool_param), max_pool_backward_naive, [x], dout)
    assert max(errors) < GRAD_TOL, errors


@pytest.mark.parametrize("x_shape, pool_param", POOL_CASES)
def test_max_pool_fast_agrees_with_naive(x_shape, pool_param):
    x = np.random.default_rng(8).normal(size=x_shape)
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    out_fast, cache_fast = max_pool_forward_fast(x, pool_param)
    assert out_fast.shape == out_naive.shape
    assert rel_error(out_fast, out_naive) < FAST_TOL
    dout = np.random.default_rng(9).normal(size=out_naive.shape)
    dx_naive = max_pool_backward_naive(dout, cache_naive)
    dx_fast = max_pool_backward_fast(dout, cache_fast)
    assert dx_fast.shape == x.shape
    assert rel_error(dx_fast, dx_naive) < FAST_TOL


@pytest.mark.parametrize("forward", [max_pool_forward_naive, max_pool_forward_fast])
def test_max_pool_rejects_bad_parameters(forward):
    x = np.zeros((1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"stride 2 does not tile the height: \(5 - 2\) = 3"):
        forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError, match="pool_param needs the key"):
        forward(x, {"pool_height": 2, "stride": 1})
    with pytest.raises(ValueError, match="x must have shape"):
        forward(x[0], {"pool_height": 2, "pool_width": 2, "stride": 1})
    with pytest.raises(TypeError, match="floating-point"):
        forward(x.astype(int), {"pool_height": 1, "pool_width": 1, "stride": 1})


# --------------------------------------------------------------------------------------------------------------
# Sandwiches


CONV_PARAM = {"stride": 1, "pad": 1}
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


def sandwich_inputs(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 3, 4, 4))
    w = rng.normal(size=(4, 3, 3, 3))
    b = rng.uniform(0.1, 0.3, size=4)  # off the ReLU kink
    gamma, beta = rng.uniform(0.5, 2.0, size=4), rng.uniform(0.1, 0.5, size=4)
    return x, w, b, gamma, beta


@pytest.mark.parametrize("name, extra", [
    ("conv_relu", (CONV_PARAM,)),
    ("conv_relu_pool", (CONV_PARAM, POOL_PARAM)),
])
def test_conv_sandwich_gradients(name, extra):
    x, w, b, _, _ = sandwich_inputs(10)
    forward = getattr(layer_utils, f"{name}_forward")
    backward = getattr(layer_utils, f"{name}_backward")
    out, _ = forward(x, w, b, *extra)
    # The sandwich is the composition of its layers, so its output is the plain layers' output.
    conv, _ = conv_forward_naive(x, w, b, CONV_PARAM)
    reference = np.maximum(conv, 0)
    if name == "conv_relu_pool":
        reference, _ = max_pool_forward_naive(reference, POOL_PARAM)
    assert rel_error(out, reference) < FAST_TOL
    dout = np.random.default_rng(11).normal(size=out.shape)
    errors = gradient_errors(lambda x, w, b: forward(x, w, b, *extra), backward, [x, w, b], dout)
    assert max(errors) < GRAD_TOL, errors


def test_conv_bn_relu_gradients_and_running_statistics():
    x, w, b, gamma, beta = sandwich_inputs(12)
    bn_param = {"mode": "train"}
    out, _ = layer_utils.conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM, bn_param)
    conv, _ = conv_forward_naive(x, w, b, CONV_PARAM)
    assert np.allclose(bn_param["running_mean"], 0.1 * conv.mean(axis=(0, 2, 3)), rtol=1e-12, atol=1e-14)
    dout = np.random.default_rng(13).normal(size=out.shape)
    errors = gradient_errors(
        lambda x, w, b, gamma, beta: layer_utils.conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM,
                                                                      {"mode": "train"}),
        layer_utils.conv_bn_relu_backward, [x, w, b, gamma, beta], dout)
    # db is zero in exact arithmetic (batch norm removes a per-channel shift): both sides are rounding noise.
    _, cache = layer_utils.conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM, {"mode": "train"})
    db = layer_utils.conv_bn_relu_backward(dout, cache)[2]
    assert np.max(np.abs(db)) < 1e-10
    assert max(errors[:2] + errors[3:]) < GRAD_TOL, errors


@pytest.mark.parametrize("normalization", ["batchnorm", "groupnorm"])
def test_normalized_conv_relu_pool_gradients(normalization):
    x, w, b, gamma, beta = sandwich_inputs(14)
    if normalization == "batchnorm":
        def forward(x, w, b, gamma, beta):
            return layer_utils.conv_bn_relu_pool_forward(x, w, b, gamma, beta, CONV_PARAM, {"mode": "train"},
                                                         POOL_PARAM)
        backward = layer_utils.conv_bn_relu_pool_backward
    else:
        def forward(x, w, b, gamma, beta):
            return layer_utils.conv_gn_relu_pool_forward(x, w, b, gamma, beta, 2, CONV_PARAM, {}, POOL_PARAM)
        backward = layer_utils.conv_gn_relu_pool_backward
    dout = np.random.default_rng(15).normal(size=(2, 4, 2, 2))
    errors = gradient_errors(forward, backward, [x, w, b, gamma, beta], dout)
    assert max(errors[:2] + errors[3:]) < GRAD_TOL, errors  # db: rounding noise, as above


# --------------------------------------------------------------------------------------------------------------
# fold_batchnorm


def fold_case(shape_w, units, seed):
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=shape_w), rng.normal(size=units)
    gamma, beta = rng.uniform(0.5, 2.0, size=units), rng.normal(size=units)
    bn_param = {"mode": "test", "eps": 1e-3, "running_mean": rng.normal(size=units),
                "running_var": rng.uniform(0.2, 3.0, size=units)}
    return w, b, gamma, beta, bn_param


def test_fold_batchnorm_affine():
    w, b, gamma, beta, bn_param = fold_case((6, 5), 5, 16)
    x = np.random.default_rng(17).normal(size=(8, 6))
    a, _ = affine_forward(x, w, b)
    reference, _ = batchnorm_forward(a, gamma, beta, dict(bn_param))
    w_folded, b_folded = layer_utils.fold_batchnorm(w, b, gamma, beta, bn_param)
    assert w_folded.shape == w.shape and b_folded.shape == b.shape
    out, _ = affine_forward(x, w_folded, b_folded)
    assert rel_error(out, reference) < FOLD_TOL
    assert bn_param["running_mean"].shape == (5,)  # the dict is read, not changed


def test_fold_batchnorm_conv():
    w, b, gamma, beta, bn_param = fold_case((4, 3, 3, 3), 4, 18)
    x = np.random.default_rng(19).normal(size=(2, 3, 5, 5))
    conv, _ = conv_forward_fast(x, w, b, CONV_PARAM)
    reference, _ = spatial_batchnorm_forward(conv, gamma, beta, dict(bn_param))
    w_folded, b_folded = layer_utils.fold_batchnorm(w, b, gamma, beta, bn_param)
    assert w_folded.shape == w.shape and b_folded.shape == b.shape
    out, _ = conv_forward_fast(x, w_folded, b_folded, CONV_PARAM)
    assert rel_error(out, reference) < FOLD_TOL


def test_fold_batchnorm_rejects_mismatched_shapes():
    w, b, gamma, beta, bn_param = fold_case((4, 3, 3, 3), 4, 20)
    with pytest.raises(ValueError, match=r"gamma has shape \(3,\), expected \(4,\)"):
        layer_utils.fold_batchnorm(w, b, gamma[:3], beta, bn_param)
    with pytest.raises(ValueError, match="needs 'running_var'"):
        layer_utils.fold_batchnorm(w, b, gamma, beta, {"running_mean": bn_param["running_mean"]})
    with pytest.raises(ValueError, match=r"w must be an affine weight \(D, M\) or a conv weight"):
        layer_utils.fold_batchnorm(w[0], b, gamma, beta, bn_param)


# --------------------------------------------------------------------------------------------------------------
# ThreeLayerConvNet


def small_net(**kwargs):
    options = dict(input_dim=(3, 6, 6), num_filters=4, filter_size=3, hidden_dim=7, num_classes=3,
                   weight_scale=0.5, dtype=np.float64, seed=0)
    options.update(kwargs)
    return ThreeLayerConvNet(**options)


def test_three_layer_convnet_param_shapes():
    model = ThreeLayerConvNet(input_dim=(1, 28, 28), num_filters=8, filter_size=5, hidden_dim=20, seed=0)
    shapes = {"W1": (8, 1, 5, 5), "b1": (8,), "W2": (8 * 14 * 14, 20), "b2": (20,), "W3": (20, 10), "b3": (10,)}
    assert {k: v.shape for k, v in model.params.items()} == shapes
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert all(np.all(model.params[k] == 0) for k in ("b1", "b2", "b3"))
    assert 0.5e-3 < np.std(model.params["W2"]) < 1.5e-3  # weight_scale 1e-3
    bn = ThreeLayerConvNet(input_dim=(1, 28, 28), num_filters=8, filter_size=5, normalization="batchnorm")
    assert bn.params["gamma1"].shape == (8,) and np.all(bn.params["gamma1"] == 1)
    assert bn.params["beta1"].shape == (8,) and np.all(bn.params["beta1"] == 0)


def test_three_layer_convnet_scores_and_initial_loss():
    model = small_net(weight_scale=1e-4)
    X = np.random.default_rng(21).normal(size=(5, 3, 6, 6))
    scores = model.loss(X)
    assert scores.shape == (5, 3)
    loss, grads = model.loss(X, np.array([0, 1, 2, 0, 1]))
    assert abs(loss - np.log(3)) < 1e-3  # tiny weights: uniform scores
    assert set(grads) == set(model.params)


@pytest.mark.parametrize("normalization", [None, "batchnorm", "groupnorm"])
def test_three_layer_convnet_gradients(normalization):
    model = small_net(normalization=normalization, num_groups=2, reg=0.3)
    for key in ("b1", "b2", "b3"):
        model.params[key] = model.params[key] + 0.1  # off the ReLU kink
    rng = np.random.default_rng(22)
    X, y = rng.normal(size=(4, 3, 6, 6)), np.array([0, 1, 2, 1])
    loss, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    for key, value in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], value, verbose=False)
        if normalization == "batchnorm" and key == "b1":  # zero in exact arithmetic; compare absolutely
            assert np.max(np.abs(grads[key] - numeric)) < 1e-8
            continue
        assert rel_error(grads[key], numeric) < NET_GRAD_TOL, key


def test_three_layer_convnet_float32_gradients_keep_dtype_and_bn_switches_mode():
    model = small_net(dtype=np.float32, normalization="batchnorm")
    X, y = np.random.default_rng(23).normal(size=(4, 3, 6, 6)), np.array([0, 1, 2, 1])
    _, grads = model.loss(X, y)
    assert all(grads[k].dtype == np.float32 for k in grads)
    assert model.bn_param["running_mean"].shape == (4,)
    scores = model.loss(X[:1])  # test mode: running statistics, so one example is fine
    assert scores.shape == (1, 3) and model.bn_param["mode"] == "test"


def test_three_layer_convnet_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown normalization 'layernorm'"):
        ThreeLayerConvNet(normalization="layernorm")
    with pytest.raises(ValueError, match="filter_size must be odd"):
        ThreeLayerConvNet(filter_size=4)
    with pytest.raises(ValueError, match="num_groups = 3 does not divide num_filters = 32"):
        ThreeLayerConvNet(normalization="groupnorm", num_groups=3)


def test_three_layer_convnet_checkpoint_keeps_the_running_statistics(tmp_path):
    from cs231n_bn.solver import Solver

    rng = np.random.default_rng(24)
    data = {"X_train": rng.normal(size=(20, 3, 6, 6)), "y_train": rng.integers(3, size=20),
            "X_val": rng.normal(size=(10, 3, 6, 6)), "y_val": rng.integers(3, size=10)}
    model = small_net(normalization="batchnorm", weight_scale=1e-1)
    solver = Solver(model, data, num_epochs=1, batch_size=10, verbose=False, seed=0)
    solver.train()
    trained = {k: model.bn_param[k].copy() for k in ("running_mean", "running_var")}
    solver.save_checkpoint(tmp_path / "convnet.npz")
    model.bn_param["running_mean"] = np.zeros(4)
    model.bn_param["running_var"] = np.ones(4)
    solver.load_checkpoint(tmp_path / "convnet.npz")
    for key, value in trained.items():
        assert np.array_equal(model.bn_param[key], value)
