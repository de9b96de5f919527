"""The explanations of BatchNormalization.ipynb, section 7, put to the test (cs231n_bn.kit.experiments.bn_explanations)
and the training-health comparison of section 7.1 (health): what they return, on small nets, and what is
determined: scale invariance's orthogonality, the bias's zero gradient, SGD's growth of the column norms, and the
three evaluations of a net trained on small batches."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cs231n_bn.kit.experiments.bn_experiments import build_net, train_net  # noqa: E402
from cs231n_bn.kit.experiments.bn_explanations import (  # noqa: E402
    accuracy_in_train_mode,
    gradient_predictiveness,
    one_sgd_step,
    plot_gradient_predictiveness,
    plot_weight_norm_growth,
    small_batch_failure,
    weight_norm_growth,
)
from cs231n_bn.kit.experiments.health import health_comparison, health_summary, plot_training_health  # noqa: E402
from cs231n_bn.kit.monitors import forward_activations  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    means = rng.standard_normal((3, 12))
    y = rng.integers(3, size=100)
    X = means[y] + rng.standard_normal((100, 12))
    return {"X_train": X[:60], "y_train": y[:60], "X_val": X[60:], "y_val": y[60:]}


SMALL = dict(num_classes=3, batch_size=10, num_epochs=2)


def test_gradient_predictiveness_probes_every_net_and_seed(data):
    results = gradient_predictiveness(data, [8, 8], seeds=(0, 1), learning_rate=0.1, every=4, probe_size=20, **SMALL)
    assert list(results) == [None, "batchnorm"]
    for r in results.values():
        np.testing.assert_array_equal(r["steps"], [0, 4, 8, 12])
        assert all(r[key].shape == (2, 4) for key in ("loss_spread", "grad_change", "beta", "loss"))
        assert np.all(r["loss_spread"] >= 0) and np.all(r["beta"] > 0) and r["best_val_acc"].shape == (2,)
    plt.close(plot_gradient_predictiveness(results))
    with pytest.raises(ValueError, match="update_rule is set by gradient_predictiveness"):
        gradient_predictiveness(data, [8], update_rule="adam", **SMALL)


def test_weight_norm_growth_sgd_grows_every_norm_and_weight_decay_holds_them_back(data):
    results = weight_norm_growth(data, [8, 8], learning_rate=1.0, regs=(0.0, 0.5), seeds=(0,), weight_scale=0.1,
                                 dtype=np.float64, **SMALL)
    plain, decayed = results[0.0], results[0.5]
    assert plain["norm"].shape == (1, 13, 2) and plain["effective_lr"].shape == (1, 13, 2)
    # <dL/dw, w> = 0 for every column (up to eps): plain SGD never shrinks a column norm.
    assert np.all(np.diff(plain["norm"], axis=1) > -1e-9)
    np.testing.assert_allclose(plain["effective_lr"], 1.0 / plain["norm"] ** 2, rtol=0.5)
    assert np.all(decayed["norm"][:, -1] < plain["norm"][:, -1])
    plt.close(plot_weight_norm_growth(results, learning_rate=1.0))


def test_one_sgd_step_moves_the_batch_means_and_grows_the_norms_but_never_the_bias(data):
    model = build_net([8, 8], 12, normalization="batchnorm", weight_scale=0.5, num_classes=3, dtype=np.float64,
                      seed=0)
    params = {k: v.copy() for k, v in model.params.items()}
    step = one_sgd_step(model, data["X_train"][:20], data["y_train"][:20], learning_rate=1.0)
    assert max(step["cosine"]) < 1e-3 and max(step["bias_grad"]) < 1e-12
    assert min(step["mean_shift"]) > 1e-3
    assert all(after > before for before, after in zip(step["norm_before"], step["norm_after"]))
    assert all(np.array_equal(params[k], model.params[k]) for k in params)
    assert all("running_mean" not in p for p in model.bn_params)
    with pytest.raises(ValueError, match="normalization='batchnorm'"):
        one_sgd_step(build_net([8], 12, num_classes=3), data["X_train"], data["y_train"], 1.0)


def test_small_batch_failure_evaluates_three_ways(data):
    solvers = [train_net(data, [8], normalization="batchnorm", seed=seed, update_rule="adam",
                         optim_config={"learning_rate": 1e-2}, **{**SMALL, "batch_size": 2, "num_epochs": 1})
               for seed in (0, 1)]
    best = [s.best_val_acc for s in solvers]
    split = small_batch_failure(solvers, data, batch_size=2)
    assert set(split) == {"running", "recalibrated", "train_mode"} and split["running"].shape == (2,)
    np.testing.assert_array_equal(split["running"], best)  # the net of the best check, with its statistics
    # Recalibrated: the running statistics are now the exact ones of the training set under the same weights.
    a1 = forward_activations(solvers[0].model, data["X_train"], ["affine1"])["affine1"]
    np.testing.assert_allclose(solvers[0].model.bn_params[0]["running_mean"], a1.mean(axis=0), rtol=1e-6, atol=1e-9)


def test_accuracy_in_train_mode_normalizes_each_batch_with_its_own_statistics(data):
    model = build_net([8], 12, normalization="batchnorm", num_classes=3, seed=0, weight_scale=0.5, dtype=np.float64)
    X, y = data["X_val"], data["y_val"]
    whole = forward_activations(model, X, ["scores"], mode="train")["scores"]
    assert accuracy_in_train_mode(model, X, y, batch_size=len(X)) == np.mean(np.argmax(whole, axis=1) == y)
    assert 0 <= accuracy_in_train_mode(model, X, y, batch_size=2) <= 1
    assert all("running_mean" not in p for p in model.bn_params)
    with pytest.raises(ValueError, match="divides N = 40"):
        accuracy_in_train_mode(model, X, y, batch_size=3)


def test_health_comparison_records_the_first_seed_of_every_variant(data):
    variants = {"plain": {"weight_scale": 0.02}, "bn": {"weight_scale": 0.02, "normalization": "batchnorm"}}
    solvers, recorders = health_comparison(data, [8, 8], variants, seeds=(0, 1), probe_size=20, every=2, keep=(0,),
                                           update_rule="sgd", optim_config={"learning_rate": 0.1}, **SMALL)
    assert [len(s) for s in solvers.values()] == [2, 2] and list(recorders) == ["plain", "bn"]
    assert recorders["bn"].steps == [0, 2, 4, 6, 8, 10, 12]
    summary = health_summary(recorders["bn"])
    np.testing.assert_allclose(summary["preact_std"], 1, atol=0.01)  # batch norm's outputs, gamma = 1 at the start
    assert summary["update_ratio"].shape == (3,)
    plt.close(plot_training_health(recorders, step=0))
    with pytest.raises(ValueError, match="no histograms kept at iteration 5"):
        plot_training_health(recorders, step=5)
