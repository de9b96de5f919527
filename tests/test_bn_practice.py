"""Tests of the batch-norm-in-practice experiments (cs231n_bn/kit/experiments/bn_practice.py)."""

import numpy as np
import pytest

from cs231n_bn.classifiers.cnn import ThreeLayerConvNet
from cs231n_bn.fast_layers import conv_forward_fast
from cs231n_bn.gradient_check import rel_error
from cs231n_bn.kit.experiments import bn_practice


def trained_like_model(seed=0):
    """A small float64 batch-norm convnet with running statistics that do not match its weights."""
    model = ThreeLayerConvNet(input_dim=(1, 6, 6), num_filters=4, filter_size=3, hidden_dim=5, num_classes=3,
                              weight_scale=0.5, dtype=np.float64, normalization="batchnorm", seed=seed)
    rng = np.random.default_rng(seed)
    model.params["gamma1"] = rng.uniform(0.5, 2.0, size=4)
    model.params["beta1"] = rng.normal(size=4)
    model.bn_param.update(running_mean=rng.normal(size=4), running_var=rng.uniform(0.5, 2.0, size=4))
    X = rng.normal(size=(40, 1, 6, 6)) + 0.5
    y = rng.integers(3, size=40)
    return model, X, y


def test_recalibrate_exact_gives_the_statistics_of_the_conv_outputs():
    model, X, _ = trained_like_model()
    bn_practice.recalibrate_bn(model, X, method="exact", batch_size=7)  # batches of unequal size: still exact
    a, _ = conv_forward_fast(X, model.params["W1"], model.params["b1"], {"stride": 1, "pad": 1})
    assert rel_error(model.bn_param["running_mean"], a.mean(axis=(0, 2, 3))) < 1e-12
    assert rel_error(model.bn_param["running_var"], a.var(axis=(0, 2, 3))) < 1e-12


def test_recalibrate_pass_averages_the_batch_statistics():
    model, X, _ = trained_like_model(1)
    bn_practice.recalibrate_bn(model, X, method="pass", batch_size=10)
    a, _ = conv_forward_fast(X, model.params["W1"], model.params["b1"], {"stride": 1, "pad": 1})
    batches = a.reshape(4, 10, *a.shape[1:])
    assert rel_error(model.bn_param["running_mean"], batches.mean(axis=(1, 3, 4)).mean(axis=0)) < 1e-12
    assert rel_error(model.bn_param["running_var"], batches.var(axis=(1, 3, 4)).mean(axis=0)) < 1e-12
    with pytest.raises(ValueError, match="method must be 'pass' or 'exact'"):
        bn_practice.recalibrate_bn(model, X, method="average")


def test_fold_convnet_computes_the_test_mode_scores():
    model, X, _ = trained_like_model(2)
    folded = bn_practice.fold_convnet(model)
    assert folded.normalization is None and set(folded.params) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    assert rel_error(folded.loss(X), model.loss(X)) < 1e-10


def test_train_mode_evaluation_leaves_the_running_statistics_alone():
    model, X, y = trained_like_model(3)
    before = {k: model.bn_param[k].copy() for k in ("running_mean", "running_var")}
    accuracy = bn_practice.evaluate(model, X, y, mode="train", batch_size=8)
    assert 0.0 <= accuracy <= 1.0
    for key, value in before.items():
        assert np.array_equal(model.bn_param[key], value)
    # Test mode does not depend on the batching; train mode does.
    assert bn_practice.evaluate(model, X, y, batch_size=1) == bn_practice.evaluate(model, X, y, batch_size=40)
    assert not np.allclose(bn_practice.train_mode_scores(model, X[:8])[0],
                           bn_practice.train_mode_scores(model, X[[0, *range(20, 27)]])[0])


def test_class_sorted_order_and_single_class_batches():
    y = np.array([2, 0, 1, 2, 0, 1, 1, 2, 0, 0])
    order = bn_practice.class_sorted_order(y, seed=0)
    assert np.array_equal(np.sort(order), np.arange(10))
    assert np.all(np.diff(y[order]) >= 0)
    for batch in bn_practice.single_class_batches(y, 3, 5, seed=0):
        assert len(batch) == 3 and len(set(batch)) == 3 and len(set(y[batch])) == 1
    with pytest.raises(ValueError, match="fewer than batch_size=4"):
        bn_practice.single_class_batches(y, 4, 1)


def test_train_on_batches_lowers_the_loss():
    model, X, y = trained_like_model(4)
    history = bn_practice.train_on_batches(model, X, y, [np.arange(20)] * 30, learning_rate=1e-2)
    assert len(history) == 30 and history[-1] < history[0]


def bar_images(n, seed, contrast=0.15):
    """Images in [0, 1.15] (far from zero mean) of three classes: a faint vertical bar at one of three places."""
    rng = np.random.default_rng(seed)
    y = rng.integers(3, size=n)
    X = rng.uniform(0, 1, size=(n, 1, 8, 8))
    for c in range(3):
        X[y == c, 0, :, 2 * c:2 * c + 3] += contrast
    return X.astype(np.float32), y


def test_the_stale_statistics_check_passes_where_they_lag_and_says_what_the_run_showed_where_not():
    (X_train, y_train), (X_val, y_val) = bar_images(400, 0), bar_images(300, 1)
    data = {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}

    def make_model(seed):
        return ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=4, filter_size=3, hidden_dim=16, num_classes=3,
                                 weight_scale=0.1, normalization="batchnorm", seed=seed)

    def run(momentum):
        return bn_practice.stale_statistics(make_model, momentum, data, steps=30, batch_size=20, learning_rate=1e-2,
                                            recalibration_images=400)

    # 30 steps at momentum 0.999 leave 0.999**30 = 97% of the initial zeros in the running averages: test mode
    # loses about 0.2 accuracy, which recalibrating gives back (the train-mode accuracy, about 0.82).
    lagging = run(0.999)
    assert bn_practice.check_stale_statistics(0.999, lagging) > 0.1
    assert all(row["var ratio"] < 0.1 and abs(row["exact"] - row["train mode"]) <= 0.02 for row in lagging)
    # At momentum 0.5 they remember two batches: they keep up (and recalibrating gains about nothing).
    with pytest.raises(AssertionError, match=r"with momentum 0\.5 the running statistics did not lag enough to "
                                             r"show: the median running variance was (0\.9\d|1\.0\d), .* of the "
                                             r"exact one in the 3 networks \(asked: below 0\.5 in every one\), and "
                                             r"recalibrating them gained [+-]0\.\d{3} validation accuracy on average "
                                             r"\(.*; asked: at least 0\.01\)"):
        bn_practice.check_stale_statistics(0.5, run(0.5))
    with pytest.raises(ValueError, match=r"momentum must be a number in \[0, 1\], got 1\.5"):
        bn_practice.stale_statistics(make_model, 1.5, data)
