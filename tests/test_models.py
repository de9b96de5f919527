"""FullyConnectedNet and the sandwich layers against the contract (api.md): whole-net gradient checks,
initialization, modes, running statistics, regularization, dtypes and argument errors.

Nothing here depends on how a correct FullyConnectedNet is written: not on its caches, not on the order or the
generator of its random draws (only on the documented seed behaviour: same seed, same weights), not on the
order of its dict keys.

Gradient checks run in float64 against centred differences (h = 1e-5). rel_error is the largest elementwise
|a - n| / max(1e-8, |a| + |n|), so entries whose true gradient is tiny carry the numerical noise of the loss
(about 1e-16 * loss / h ~ 1e-11 absolute). Measured maxima: ReLU nets 2.4e-7 over all 12 configurations; the
three-layer sigmoid nets 2.3e-6 without normalization (b1: the gradient shrinks through three sigmoids), 1.2e-7
with batch norm, 7.6e-7 with layer norm and dropout. Tolerances: 1e-5 (ReLU) and 2e-5 (sigmoid). A missing
term (regularization, dropout mask, a normalization path) gives errors of order 1.
"""

import itertools

import numpy as np
import pytest

from cs231n_bn import layer_utils, layers
from cs231n_bn.classifiers import fc_net
from cs231n_bn.classifiers.fc_net import FullyConnectedNet
from cs231n_bn.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from cs231n_bn.kit.experiments.fc_experiments import reestimate_bn_statistics
from cs231n_bn.kit.monitors import forward_activations

RELU_TOL = 1e-5
SIGMOID_TOL = 2e-5


def check_whole_net(model, X, y):
    """Max relative error per parameter; the biases that feed batch norm are checked separately (returned)."""
    # Move the biases (and betas) off zero: with zero biases, a sample whose hidden units are all dropped or dead
    # puts the next layer's ReLU exactly at its kink, where centred differences are meaningless.
    rng = np.random.default_rng(1)
    for name in model.params:
        if name[0] == "b":
            model.params[name] = model.params[name] + 0.1 * rng.standard_normal(model.params[name].shape)
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


def assert_gradients(model, X, y, tol):
    loss, errors, pre_bn = check_whole_net(model, X, y)
    assert np.isfinite(loss)
    worst = max(errors, key=errors.get)
    assert errors[worst] < tol, (worst, errors)
    for name, (analytic, numerical) in pre_bn.items():
        assert analytic < 1e-12 and numerical < 1e-8, name


@pytest.mark.parametrize("normalization,keep,reg",
                         list(itertools.product([None, "batchnorm", "layernorm"], [1, 0.6], [0.0, 3.14])))
def test_relu_net_whole_net_gradient_check(normalization, keep, reg):
    N, D, H1, H2, C = 6, 10, 12, 14, 10
    rng = np.random.default_rng(231)
    X, y = rng.standard_normal((N, D)), rng.integers(C, size=N)
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, dropout_keep_ratio=keep,
                              normalization=normalization, reg=reg, weight_scale=0.3, dtype=np.float64, seed=0)
    assert_gradients(model, X, y, RELU_TOL)


@pytest.mark.parametrize("normalization,keep", [(None, 1), ("batchnorm", 1), ("layernorm", 0.7)])
def test_sigmoid_net_whole_net_gradient_check(normalization, keep):
    # The Section 4.1 architecture (three sigmoid layers) at a reduced size, so that every parameter can be
    # checked quickly.
    N, D, C = 6, 15, 4
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((N, D)), rng.integers(C, size=N)
    model = FullyConnectedNet([7, 6, 5], input_dim=D, num_classes=C, nonlinearity="sigmoid",
                              normalization=normalization, dropout_keep_ratio=keep, reg=0.5, weight_scale=0.5,
                              dtype=np.float64, seed=1)
    assert_gradients(model, X, y, SIGMOID_TOL)


def test_dropout_is_cs231n_2020s_name_for_the_keep_ratio():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((6, 10)), rng.integers(10, size=6)
    a = FullyConnectedNet([8], input_dim=10, dropout=0.5, dtype=np.float64, seed=5)
    b = FullyConnectedNet([8], input_dim=10, dropout_keep_ratio=0.5, dtype=np.float64, seed=5)
    assert a.use_dropout and a.dropout_param["p"] == 0.5
    loss_a, grads_a = a.loss(X, y)
    loss_b, grads_b = b.loss(X, y)
    assert loss_a == loss_b and all(np.array_equal(grads_a[k], grads_b[k]) for k in grads_a)
    assert not FullyConnectedNet([8], dropout=1).use_dropout


# --- sandwich layers ------------------------------------------------------------------------------------------

SANDWICHES = {
    "affine_relu": (False, {}),
    "affine_bn_relu": (True, {"mode": "train"}),
    "affine_ln_relu": (True, {}),
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
        if name == "affine_bn_relu" and i == 2:  # b feeds batch norm: true gradient exactly 0
            assert np.max(np.abs(grad)) < 1e-12 and np.max(np.abs(numerical)) < 1e-8
        else:
            assert rel_error(numerical, grad) < 1e-6, (name, i)  # measured <= 1e-8 (no kink is hit at this seed)


# --- initialization, modes, state -----------------------------------------------------------------------------

@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_initialization_shapes_dtypes_and_values(normalization, dtype):
    dims = [300, 200, 100, 10]
    model = FullyConnectedNet(dims[1:-1], input_dim=dims[0], num_classes=dims[-1], normalization=normalization,
                              weight_scale=0.05, dtype=dtype, seed=42)
    expected = {}
    for i in range(1, 4):
        expected[f"W{i}"] = (dims[i - 1], dims[i])
        expected[f"b{i}"] = (dims[i],)
        if normalization is not None and i < 3:
            expected[f"gamma{i}"] = expected[f"beta{i}"] = (dims[i],)
    assert {k: v.shape for k, v in model.params.items()} == expected
    for name, value in model.params.items():
        assert value.dtype == dtype, name
        if name[0] == "W":
            # 20,000 or more N(0, 0.05^2) draws: the sample std is within 2% of 0.05 (about 7 standard errors).
            assert abs(value.std() / 0.05 - 1) < 0.02 and abs(value.mean()) < 0.005, name
        elif name.startswith("gamma"):
            assert np.all(value == 1), name
        else:  # b{i}, beta{i}
            assert np.all(value == 0), name


def test_same_seed_same_weights_other_seed_other_weights():
    a = FullyConnectedNet([50, 40], input_dim=30, seed=3)
    b = FullyConnectedNet([50, 40], input_dim=30, seed=3)
    c = FullyConnectedNet([50, 40], input_dim=30, seed=4)
    assert sorted(a.params) == sorted(b.params)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_dropout_and_normalization_parameters():
    model = FullyConnectedNet([5], input_dim=4, num_classes=3, dropout_keep_ratio=0.5, seed=9)
    assert model.use_dropout and model.dropout_param == {"mode": "train", "p": 0.5, "seed": 9}
    assert not FullyConnectedNet([5], dropout_keep_ratio=1).use_dropout
    assert FullyConnectedNet([5]).bn_params == []
    assert [p.get("mode") for p in FullyConnectedNet([5, 6], normalization="batchnorm").bn_params] == ["train"] * 2
    assert len(FullyConnectedNet([5, 6, 7], normalization="layernorm").bn_params) == 3


@pytest.mark.parametrize("nonlinearity", ["relu", "sigmoid"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_scores_and_dtype(dtype, nonlinearity):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3, 2, 2)), rng.integers(10, size=8)  # flattened to D = 12
    model = FullyConnectedNet([9, 8], input_dim=12, normalization="batchnorm", nonlinearity=nonlinearity,
                              dtype=dtype, seed=0)
    loss, grads = model.loss(X, y)
    assert abs(loss - np.log(10)) < 0.05  # small weights: near-uniform class scores
    assert all(g.dtype == dtype for g in grads.values())
    scores = model.loss(X)
    assert scores.shape == (8, 10)  # and float32 or float64: the layers may compute in float64 (not stored)
    assert all(p["mode"] == "test" for p in model.bn_params)


def test_a_float64_gradient_from_a_layer_is_cast_to_the_nets_dtype(monkeypatch):
    # cs231n allows db = dout.T @ np.ones(N) in float64; the net hands the Solver float32 gradients anyway.
    affine_backward = fc_net.affine_backward

    def float64_affine_backward(dout, cache):
        return tuple(g.astype(np.float64) for g in affine_backward(dout, cache))

    for module in (fc_net, layer_utils, layers):  # wherever the net looks the layer up
        monkeypatch.setattr(module, "affine_backward", float64_affine_backward)
    rng = np.random.default_rng(0)
    model = FullyConnectedNet([6], input_dim=5, num_classes=3, normalization="layernorm", seed=0)
    _, grads = model.loss(rng.standard_normal((4, 5)), rng.integers(3, size=4))
    assert {k: g.dtype for k, g in grads.items()} == {k: np.dtype(np.float32) for k in model.params}


def test_train_mode_updates_running_statistics_and_test_mode_uses_them():
    rng = np.random.default_rng(0)
    X, y = 3 + rng.standard_normal((20, 4)), rng.integers(3, size=20)
    model = FullyConnectedNet([5], input_dim=4, num_classes=3, normalization="batchnorm", dtype=np.float64,
                              seed=0)
    model.loss(X, y)
    affine = X @ model.params["W1"] + model.params["b1"]
    running_mean = model.bn_params[0]["running_mean"].copy()
    running_var = model.bn_params[0]["running_var"].copy()
    np.testing.assert_allclose(running_mean, 0.1 * affine.mean(axis=0))  # momentum 0.9 from zeros
    np.testing.assert_allclose(running_var, 0.1 * affine.var(axis=0))  # biased variance, from zeros
    model.loss(X)  # test mode must not touch the running statistics
    np.testing.assert_array_equal(model.bn_params[0]["running_mean"], running_mean)
    # Test mode normalizes with the running statistics: batchnorm_forward in test mode, given them.
    test_param = {"mode": "test", "running_mean": running_mean, "running_var": running_var}
    normalized, _ = layers.batchnorm_forward(affine, model.params["gamma1"], model.params["beta1"], test_param)
    scores = np.maximum(normalized, 0) @ model.params["W2"] + model.params["b2"]
    np.testing.assert_allclose(model.loss(X), scores, rtol=1e-10, atol=1e-12)


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


def test_the_section_4_1_network():
    model = FullyConnectedNet([100, 100, 100], input_dim=784, num_classes=10, nonlinearity="sigmoid",
                              normalization="batchnorm", weight_scale=0.1, seed=0)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes["W1"] == (784, 100) and shapes["W2"] == (100, 100) and shapes["W3"] == (100, 100)
    assert shapes["W4"] == (100, 10) and shapes["gamma3"] == (100,) and "gamma4" not in shapes
    assert len(model.bn_params) == 3
    X = np.random.default_rng(0).standard_normal((5, 28, 28)).astype(np.float32)
    model.loss(X, np.arange(5))
    # Test mode normalizes with the running statistics. Set them by hand so that the normalization is known
    # without computing it: running_var + eps = 4 halves the centred input, running_mean = 0.5 shifts it.
    for p in model.bn_params:
        p["running_mean"] = np.full(100, 0.5, dtype=np.float32)
        p["running_var"] = np.full(100, 4 - 1e-5, dtype=np.float32)
    acts, params = forward_activations(model, X), model.params
    # Batch norm before each sigmoid, an affine layer after the last one.
    assert list(acts) == [f"{n}{i}" for i in (1, 2, 3) for n in ("affine", "norm", "preact", "sigmoid")] + ["scores"]
    assert acts["scores"].shape == (5, 10)
    np.testing.assert_array_equal(acts["scores"], model.loss(X))
    for i in (1, 2, 3):
        gamma, beta = params[f"gamma{i}"], params[f"beta{i}"]
        np.testing.assert_allclose(acts[f"norm{i}"], gamma * (acts[f"affine{i}"] - 0.5) / 2 + beta,
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(acts[f"preact{i}"], acts[f"norm{i}"])
        # Sigmoid units: outputs in (0, 1), and the logit log(s / (1 - s)) gives the input back.
        s = acts[f"sigmoid{i}"].astype(np.float64)
        assert np.all((s > 0) & (s < 1))
        np.testing.assert_allclose(np.log(s / (1 - s)), acts[f"preact{i}"], rtol=1e-3, atol=1e-3)
    # Each affine layer reads the previous layer's sigmoid output (the affine layer itself is tested above).
    inputs = [X, acts["sigmoid1"], acts["sigmoid2"], acts["sigmoid3"]]
    outputs = [acts["affine1"], acts["affine2"], acts["affine3"], acts["scores"]]
    for i, (layer_in, layer_out) in enumerate(zip(inputs, outputs), start=1):
        expected, _ = layers.affine_forward(layer_in, params[f"W{i}"], params[f"b{i}"])
        np.testing.assert_allclose(layer_out, expected, rtol=1e-5, atol=1e-6)


def test_reestimate_bn_statistics_averages_the_batch_statistics_without_dropout():
    rng = np.random.default_rng(5)
    model = FullyConnectedNet([7, 6], input_dim=5, num_classes=3, normalization="batchnorm", dropout=0.5,
                              weight_scale=0.5, dtype=np.float64, seed=2)
    for k in model.params:  # non-trivial gammas and betas
        if k[0] in "gb":
            model.params[k] = model.params[k] + rng.standard_normal(model.params[k].shape)
    X = rng.standard_normal((50, 5))
    model.loss(X[:10], np.zeros(10, dtype=int))  # some running statistics to replace
    params = {k: v.copy() for k, v in model.params.items()}
    reestimate_bn_statistics(model, X, batch_size=16)  # 3 full batches of 16; the last 2 rows are not used
    # The expected statistics: each batch's mean and biased variance at every batch-norm layer, through the layers
    # in train mode without dropout, averaged over the batches.
    means, variances = [[], []], [[], []]
    for k in range(3):
        h = X[16 * k:16 * (k + 1)]
        for i in (1, 2):
            a = h @ params[f"W{i}"] + params[f"b{i}"]
            means[i - 1].append(a.mean(axis=0))
            variances[i - 1].append(a.var(axis=0))
            normalized, _ = layers.batchnorm_forward(a, params[f"gamma{i}"], params[f"beta{i}"], {"mode": "train"})
            h = np.maximum(normalized, 0)
    for i in (0, 1):
        p = model.bn_params[i]
        np.testing.assert_allclose(p["running_mean"], np.mean(means[i], axis=0), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(p["running_var"], np.mean(variances[i], axis=0), rtol=1e-12, atol=1e-14)
        assert p["mode"] == "train" and "momentum" not in p
    assert all(np.array_equal(params[k], model.params[k]) for k in params)
    assert model.dropout_param["p"] == 0.5


# --- argument errors ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,message", [
    (dict(normalization="groupnorm"), "'groupnorm'.*allowed: None, 'batchnorm', 'layernorm'"),
    (dict(nonlinearity="tanh"), "'tanh'.*allowed: 'relu', 'sigmoid'"),
    (dict(dropout_keep_ratio=0), "dropout_keep_ratio.*\\(0, 1\\].*got 0"),
    (dict(dropout_keep_ratio="0.5"), "dropout_keep_ratio.*got '0.5'"),
    (dict(dropout_keep_ratio=float("nan")), "dropout_keep_ratio.*got nan"),
    (dict(dropout=1.5), "dropout is the probability.*got 1.5"),
    (dict(dropout=0.5, dropout_keep_ratio=0.6), "dropout=0.5.*dropout_keep_ratio=0.6"),
    (dict(weight_scale="1e-2"), "weight_scale must be a finite number >= 0, got '1e-2'"),
    (dict(weight_scale=float("nan")), "weight_scale.*got nan"),
    (dict(reg=float("nan")), "reg must be a finite number >= 0, got nan"),
    (dict(reg="0.1"), "reg.*got '0.1'"),
    (dict(reg=-1.0), "reg.*got -1.0"),
    (dict(dtype=np.float16), "float16.*allowed: np.float32, np.float64"),
    (dict(hidden_dims=[10, 0]), "hidden_dims.*positive integers.*\\[10, 0\\]"),
    (dict(input_dim=0), "input_dim must be a positive integer, got 0"),
    (dict(seed=-1), "seed.*got -1"),
])
def test_bad_constructor_arguments_raise_naming_the_value(kwargs, message):
    kwargs = {"hidden_dims": [10], **kwargs}
    with pytest.raises(ValueError, match=message):
        FullyConnectedNet(**kwargs)


def test_unknown_keyword_arguments_are_rejected():
    with pytest.raises(TypeError, match="dropout_ratio"):
        FullyConnectedNet([10], dropout_ratio=0.5)


def test_hidden_dims_must_be_a_list():
    with pytest.raises(TypeError, match="hidden_dims must be a list of layer sizes, got 100"):
        FullyConnectedNet(100)
    assert FullyConnectedNet((4, 3), input_dim=5).params["W2"].shape == (4, 3)  # a tuple is a list here
