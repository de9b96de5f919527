"""Sandwich layers, FullyConnectedNet and PaperNet: whole-net gradient checks, initialization, modes, errors.

Gradient checks run in float64 against centred differences (h = 1e-5). rel_error is the largest elementwise
|a - n| / max(1e-8, |a| + |n|), so entries whose true gradient is tiny carry the numerical noise of the loss
(about 1e-16 * loss / h ~ 1e-11 absolute). Measured maxima: FullyConnectedNet <= 3.2e-7 over all 12
configurations; PaperNet 7.6e-6 without batch norm (W1: the gradient shrinks through three sigmoids) and 5.4e-8
with it. Tolerances: 1e-5 and 1e-4. A missing term (regularization, dropout mask, a normalization path) gives
errors of order 1.
"""

import itertools

import numpy as np
import pytest

from cs231n_bn import layer_utils
from cs231n_bn.classifiers.fc_net import FullyConnectedNet
from cs231n_bn.classifiers.paper_net import PaperNet
from cs231n_bn.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error

FC_TOL = 1e-5
PAPER_TOL = 1e-4


def check_whole_net(model, X, y):
    """Max relative error per parameter; the biases that feed batch norm are checked separately (returned)."""
    # Move the biases (and betas) off zero: with zero biases, a sample whose hidden units are all dropped or dead
    # puts the next layer's ReLU exactly at its kink, where centred differences are meaningless.
    rng = np.random.default_rng(1)
    for name, value in model.params.items():
        if name[0] == "b":
            value += 0.1 * rng.standard_normal(value.shape)
    loss, grads = model.loss(X, y)
    assert sorted(grads) == sorted(model.params)
    errors, pre_bn_biases = {}, {}
    for name in sorted(grads):
        assert grads[name].shape == model.params[name].shape and grads[name].dtype == model.params[name].dtype
        numerical = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], verbose=False)
        if model.normalization == "batchnorm" and name[0] == "b" and f"gamma{name[1:]}" in model.params:
            # Batch norm subtracts the batch mean, so a bias right before it has no effect: its true gradient is
            # exactly 0 and rel_error would only compare two round-off values.
            pre_bn_biases[name] = (np.max(np.abs(grads[name])), np.max(np.abs(numerical)))
        else:
            errors[name] = rel_error(numerical, grads[name])
    return loss, errors, pre_bn_biases


@pytest.mark.parametrize("normalization,keep,reg",
                         list(itertools.product([None, "batchnorm", "layernorm"], [1, 0.6], [0.0, 3.14])))
def test_fully_connected_net_whole_net_gradient_check(normalization, keep, reg):
    N, D, H1, H2, C = 6, 10, 12, 14, 10
    rng = np.random.default_rng(231)
    X, y = rng.standard_normal((N, D)), rng.integers(C, size=N)
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, dropout_keep_ratio=keep,
                              normalization=normalization, reg=reg, weight_scale=0.3, dtype=np.float64, seed=0)
    loss, errors, pre_bn = check_whole_net(model, X, y)
    assert np.isfinite(loss)
    worst = max(errors, key=errors.get)
    assert errors[worst] < FC_TOL, (worst, errors)
    for name, (analytic, numerical) in pre_bn.items():
        assert analytic < 1e-12 and numerical < 1e-8, name


@pytest.mark.parametrize("normalization", [None, "batchnorm"])
def test_paper_net_whole_net_gradient_check(normalization):
    # The Section 4.1 architecture at a reduced size, so that every parameter can be checked quickly.
    N, D, C = 6, 15, 4
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((N, D)), rng.integers(C, size=N)
    model = PaperNet(normalization, input_dim=D, hidden_dims=(7, 6, 5), num_classes=C, weight_scale=0.5,
                     dtype=np.float64, seed=1)
    _, errors, pre_bn = check_whole_net(model, X, y)
    worst = max(errors, key=errors.get)
    assert errors[worst] < PAPER_TOL, (worst, errors)
    for name, (analytic, numerical) in pre_bn.items():
        assert analytic < 1e-12 and numerical < 1e-8, name


# --- sandwich layers ------------------------------------------------------------------------------------------

SANDWICHES = {
    "affine_relu": (False, {}),
    "affine_sigmoid": (False, {}),
    "affine_bn_relu": (True, {"mode": "train"}),
    "affine_ln_relu": (True, {}),
    "affine_bn_sigmoid": (True, {"mode": "train"}),
}


@pytest.mark.parametrize("name", list(SANDWICHES))
def test_sandwich_layer_gradients(name):
    normalized, param = SANDWICHES[name]
    forward = getattr(layer_utils, name + "_forward")
    backward = getattr(layer_utils, name + "_backward")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 2))  # flattened to D = 6 by the affine layer
    w, b = rng.standard_normal((6, 5)), rng.standard_normal(5)
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    extra = (gamma, beta, dict(param)) if normalized else ()
    out, cache = forward(x, w, b, *extra)
    assert out.shape == (4, 5)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    inputs = [x, w, b] + ([gamma, beta] if normalized else [])
    assert len(grads) == len(inputs)
    for i, (value, grad) in enumerate(zip(inputs, grads)):
        def f(_):
            args = inputs[:3] + ([gamma, beta, dict(param)] if normalized else [])
            return forward(*args)[0]
        numerical = eval_numerical_gradient_array(f, value, dout)
        assert grad.shape == value.shape
        if name.startswith("affine_bn") and i == 2:  # b feeds batch norm: true gradient exactly 0
            assert np.max(np.abs(grad)) < 1e-12 and np.max(np.abs(numerical)) < 1e-8
        else:
            assert rel_error(numerical, grad) < 1e-6, (name, i)  # measured <= 1e-8 (no kink is hit at this seed)


# --- initialization, modes, state -----------------------------------------------------------------------------

def test_initialization_follows_the_documented_draw_order():
    model = FullyConnectedNet([5, 4], input_dim=6, num_classes=3, normalization="batchnorm", weight_scale=0.1,
                              dtype=np.float64, seed=42)
    rng = np.random.default_rng(42)
    for i, shape in enumerate([(6, 5), (5, 4), (4, 3)], start=1):
        np.testing.assert_array_equal(model.params[f"W{i}"], 0.1 * rng.standard_normal(shape))
        np.testing.assert_array_equal(model.params[f"b{i}"], np.zeros(shape[1]))
    for i, H in [(1, 5), (2, 4)]:
        np.testing.assert_array_equal(model.params[f"gamma{i}"], np.ones(H))
        np.testing.assert_array_equal(model.params[f"beta{i}"], np.zeros(H))
    assert "gamma3" not in model.params
    assert model.bn_params == [{"mode": "train"}, {"mode": "train"}]


def test_same_seed_same_weights_and_float32():
    a = FullyConnectedNet([50, 40], seed=3)
    b = FullyConnectedNet([50, 40], seed=3)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert all(v.dtype == np.float32 for v in a.params.values())
    assert a.params["W1"].std() == pytest.approx(1e-2, rel=0.05)  # weight_scale default, 3072 * 50 draws
    assert not np.array_equal(a.params["W1"], FullyConnectedNet([50, 40], seed=4).params["W1"])


def test_without_seed_weights_come_from_the_global_generator():
    np.random.seed(231)
    a = FullyConnectedNet([7], input_dim=5, num_classes=3)
    np.random.seed(231)
    b = FullyConnectedNet([7], input_dim=5, num_classes=3)
    np.testing.assert_array_equal(a.params["W1"], b.params["W1"])


def test_dropout_and_normalization_parameters():
    model = FullyConnectedNet([5], input_dim=4, num_classes=3, dropout_keep_ratio=0.5, seed=9)
    assert model.use_dropout and model.dropout_param == {"mode": "train", "p": 0.5, "seed": 9}
    assert not FullyConnectedNet([5], dropout_keep_ratio=1).use_dropout
    assert FullyConnectedNet([5]).bn_params == []
    assert len(FullyConnectedNet([5, 6, 7], normalization="layernorm").bn_params) == 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_scores_and_dtype(dtype):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3, 2, 2)), rng.integers(10, size=8)  # flattened to D = 12
    model = FullyConnectedNet([9, 8], input_dim=12, normalization="batchnorm", dtype=dtype, seed=0)
    loss, grads = model.loss(X, y)
    assert abs(loss - np.log(10)) < 0.05  # small weights: near-uniform class scores
    assert all(g.dtype == dtype for g in grads.values())
    scores = model.loss(X)
    assert scores.shape == (8, 10) and scores.dtype == dtype
    assert model.bn_params[0]["mode"] == "test"


def test_train_mode_updates_running_statistics_and_test_mode_uses_them():
    rng = np.random.default_rng(0)
    X, y = 3 + rng.standard_normal((20, 4)), rng.integers(3, size=20)
    model = FullyConnectedNet([5], input_dim=4, num_classes=3, normalization="batchnorm", dtype=np.float64,
                              seed=0)
    model.loss(X, y)
    running_mean = model.bn_params[0]["running_mean"].copy()
    affine = X @ model.params["W1"]
    np.testing.assert_allclose(running_mean, 0.1 * affine.mean(axis=0))  # momentum 0.9 from zeros
    model.loss(X)  # test mode must not touch the running statistics
    np.testing.assert_array_equal(model.bn_params[0]["running_mean"], running_mean)


def test_regularization_covers_weights_only():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 4)), rng.integers(3, size=5)
    kwargs = dict(input_dim=4, num_classes=3, normalization="layernorm", dtype=np.float64, seed=0)
    plain, regularized = FullyConnectedNet([6, 5], **kwargs), FullyConnectedNet([6, 5], reg=0.7, **kwargs)
    for model in (plain, regularized):  # non-trivial biases, gammas and betas: they must not be penalized
        for k in model.params:
            if k[0] != "W":
                model.params[k] = model.params[k] + 0.5
    loss0, grads0 = plain.loss(X, y)
    loss1, grads1 = regularized.loss(X, y)
    penalty = 0.5 * 0.7 * sum(np.sum(plain.params[f"W{i}"] ** 2) for i in (1, 2, 3))
    assert loss1 - loss0 == pytest.approx(penalty, rel=1e-12)
    for k in grads0:
        expected = grads0[k] + 0.7 * plain.params[k] if k[0] == "W" else grads0[k]
        np.testing.assert_allclose(grads1[k], expected, rtol=1e-12, atol=1e-15)


def test_paper_net_has_the_section_4_1_architecture():
    model = PaperNet("batchnorm", seed=0)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes["W1"] == (784, 100) and shapes["W2"] == (100, 100) and shapes["W3"] == (100, 100)
    assert shapes["W4"] == (100, 10) and shapes["gamma3"] == (100,) and "gamma4" not in shapes
    assert len(model.bn_params) == 3 and "gamma1" not in PaperNet(None).params
    X = np.random.default_rng(0).standard_normal((5, 28, 28)).astype(np.float32)
    assert model.loss(X).shape == (5, 10)


@pytest.mark.parametrize("cls,bad", [(FullyConnectedNet, "groupnorm"), (PaperNet, "layernorm")])
def test_unknown_normalization_raises_listing_allowed(cls, bad):
    with pytest.raises(ValueError, match=f"'{bad}'.*allowed: None, 'batchnorm'"):
        cls([10], normalization=bad) if cls is FullyConnectedNet else cls(bad)


def test_bad_constructor_arguments_raise():
    with pytest.raises(ValueError, match="dropout_keep_ratio"):
        FullyConnectedNet([10], dropout_keep_ratio=0)
    with pytest.raises(ValueError, match="float16"):
        FullyConnectedNet([10], dtype=np.float16)
    with pytest.raises(ValueError, match="layer sizes"):
        FullyConnectedNet([10, 0])
