"""Tests of the section-7 comparison's helpers (cs231n_bn/kit/experiments/conv_training.py)."""

import numpy as np
import pytest

from cs231n_bn.classifiers.cnn import ThreeLayerConvNet
from cs231n_bn.kit.experiments.conv_training import he_convnet, he_std, summarize

ARGS = dict(input_dim=(3, 16, 16), num_filters=32, filter_size=5, hidden_dim=200, num_classes=10)


def test_he_std_is_sqrt_2_over_fan_in():
    assert he_std((32, 3, 5, 5)) == pytest.approx(np.sqrt(2 / 75))
    assert he_std((2048, 200)) == pytest.approx(np.sqrt(2 / 2048))


def test_he_convnet_scales_the_networks_own_draws_and_shares_them_across_normalizations():
    plain = he_convnet(None, seed=3, **ARGS)
    unit = ThreeLayerConvNet(weight_scale=1.0, seed=3, **ARGS)
    fan_ins = {"W1": 3 * 5 * 5, "W2": 32 * 8 * 8, "W3": 200}
    for name, fan_in in fan_ins.items():
        w = plain.params[name]
        assert w.dtype == np.float32
        np.testing.assert_allclose(w, unit.params[name] * np.sqrt(2 / fan_in), rtol=1e-6)
        assert abs(w.std() / np.sqrt(2 / fan_in) - 1) < 0.05  # thousands of draws: within 5% of the target
    for normalization in ("batchnorm", "groupnorm"):
        normalized = he_convnet(normalization, seed=3, **ARGS)
        for name in fan_ins:
            assert np.array_equal(normalized.params[name], plain.params[name])
        assert np.array_equal(normalized.params["gamma1"], np.ones(32))


def test_he_keeps_the_plain_networks_scores_at_unit_scale_where_a_small_weight_scale_shrinks_them():
    X = np.random.default_rng(0).normal(size=(20, 3, 16, 16))
    he_scores = he_convnet(None, seed=0, **ARGS).loss(X)
    small_scores = ThreeLayerConvNet(weight_scale=1e-2, seed=0, **ARGS).loss(X)
    # Each layer scales the signal by about weight_scale * sqrt(fan_in) / sqrt(2) relative to He: 1/16, 1/3, 1/10.
    assert 0.3 < he_scores.std() < 3 and small_scores.std() < he_scores.std() / 100


def test_he_convnet_refuses_a_weight_scale_and_a_missing_seed():
    with pytest.raises(TypeError, match="weight_scale is set by He initialization"):
        he_convnet(None, seed=0, weight_scale=0.1)
    with pytest.raises(TypeError, match="seed must be an int, got None"):
        he_convnet(None, seed=None)


def test_summarize_gives_mean_spread_and_paired_differences():
    results = {("plain", 0): 0.80, ("plain", 1): 0.82, ("bn", 0): 0.83, ("bn", 1): 0.81}
    summary = summarize(results, baseline="plain")
    assert summary["plain"] == {"mean": pytest.approx(0.81), "std": pytest.approx(0.01), "values": [0.80, 0.82]}
    assert summary["bn"]["diffs"] == pytest.approx([0.03, -0.01])
    assert summary["bn"]["diff mean"] == pytest.approx(0.01) and summary["bn"]["diff std"] == pytest.approx(0.02)
    assert summary["bn"]["ahead"] == 1
    with pytest.raises(ValueError, match=r"missing \[\('bn', 1\)\]"):
        summarize({("plain", 0): 0.8, ("plain", 1): 0.8, ("bn", 0): 0.8})
    with pytest.raises(ValueError, match="baseline 'gn' is not one of the variants"):
        summarize(results, baseline="gn")
