"""Tests for cs231n_bn.kit.experiments.bn_experiments: seeding, variant overrides, the sweep summary and its figure."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cs231n_bn.kit.experiments.bn_experiments import (  # noqa: E402
    final_loss,
    plot_weight_scale_sweep,
    train_net,
    train_variants,
    weight_scale_sweep,
)

SOLVER = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=10, num_epochs=2)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {
        "X_train": rng.standard_normal((40, 2, 3)).astype(np.float32),  # flattened to 6 features by the net
        "y_train": rng.integers(3, size=40),
        "X_val": rng.standard_normal((20, 2, 3)).astype(np.float32),
        "y_val": rng.integers(3, size=20),
    }


def test_train_net_is_reproducible_from_its_seed(data):
    a = train_net(data, [8], normalization="batchnorm", num_classes=3, seed=1, **SOLVER)
    b = train_net(data, [8], normalization="batchnorm", num_classes=3, seed=1, **SOLVER)
    c = train_net(data, [8], normalization="batchnorm", num_classes=3, seed=2, **SOLVER)
    assert a.loss_history == b.loss_history
    assert a.loss_history != c.loss_history
    assert len(a.loss_history) == 2 * (40 // 10)  # num_epochs * iterations per epoch
    assert a.model.params["W1"].shape == (6, 8) and "gamma1" in a.model.params
    assert a.model.params["W1"].dtype == np.float32


def test_train_net_rejects_unknown_solver_keyword(data):
    with pytest.raises(ValueError, match="bogus"):
        train_net(data, [8], num_classes=3, bogus=1, **SOLVER)


def test_train_variants_applies_each_variants_overrides(data):
    solvers = train_variants(data, [8], {"plain": {}, "bn, N=20": {"normalization": "batchnorm", "batch_size": 20}},
                             num_classes=3, seed=0, **SOLVER)
    assert list(solvers) == ["plain", "bn, N=20"]
    assert len(solvers["plain"].loss_history) == 2 * 4 and "gamma1" not in solvers["plain"].model.params
    assert len(solvers["bn, N=20"].loss_history) == 2 * 2 and "gamma1" in solvers["bn, N=20"].model.params
    # Same seed, same variant: the same run as train_net.
    alone = train_net(data, [8], num_classes=3, seed=0, **SOLVER)
    assert solvers["plain"].loss_history == alone.loss_history


@pytest.mark.parametrize("variants", [{}, [("a", {})], {"a": 3}])
def test_train_variants_rejects_malformed_variants(data, variants):
    with pytest.raises(ValueError, match="variant"):
        train_variants(data, [8], variants, num_classes=3, **SOLVER)


class _History:
    def __init__(self, losses):
        self.loss_history = losses


def test_final_loss_averages_the_last_window():
    assert final_loss(_History([9.0, 1.0, 2.0, 3.0]), window=3) == pytest.approx(2.0)
    assert final_loss(_History([4.0, 2.0]), window=20) == pytest.approx(3.0)  # shorter history: all of it
    for window in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="window"):
            final_loss(_History([1.0]), window=window)


def test_weight_scale_sweep_summarizes_every_run(data):
    scales = [1e-3, 1e-1]
    results = weight_scale_sweep(data, [8], scales, normalizations=(None, "batchnorm"), num_classes=3, seed=0,
                                 window=3, **SOLVER)
    assert list(results) == [None, "batchnorm"]
    for summary in results.values():
        assert set(summary) == {"best_val_acc", "best_train_acc", "final_loss"}
        assert all(value.shape == (2,) for value in summary.values())
    run = train_net(data, [8], normalization="batchnorm", weight_scale=1e-1, num_classes=3, seed=0, **SOLVER)
    assert results["batchnorm"]["best_val_acc"][1] == run.best_val_acc
    assert results["batchnorm"]["best_train_acc"][1] == max(run.train_acc_history)
    assert results["batchnorm"]["final_loss"][1] == pytest.approx(np.mean(run.loss_history[-3:]))


@pytest.mark.parametrize("scales", [[], [1e-2, 0.0], [-1e-2], [[1e-2]]])
def test_weight_scale_sweep_rejects_bad_scales(data, scales):
    with pytest.raises(ValueError, match="weight_scales"):
        weight_scale_sweep(data, [8], scales, num_classes=3, **SOLVER)


def test_plot_weight_scale_sweep_draws_one_line_per_normalization():
    scales = np.logspace(-3, 0, 4)
    results = {norm: {"best_val_acc": np.linspace(0.1, 0.4, 4), "best_train_acc": np.linspace(0.2, 0.5, 4),
                      "final_loss": np.array([2.3, 1.0, 0.5, 1e4])} for norm in (None, "batchnorm")}
    fig = plot_weight_scale_sweep(scales, results, title="sweep")
    try:
        assert len(fig.axes) == 3
        for ax in fig.axes:
            assert ax.get_xscale() == "log"
            assert [line.get_label() for line in ax.get_lines()] == ["baseline", "batchnorm"]
        assert fig.axes[2].get_yscale() == "log"
        np.testing.assert_allclose(fig.axes[0].get_lines()[1].get_ydata(), results["batchnorm"]["best_val_acc"])
    finally:
        plt.close(fig)
