"""Tests for cs231n_bn.kit.experiments.bn_experiments (seeding, variant overrides, the sweep summary, the batch-size
comparison, the scale-invariance measurement and their figures) and bn_graph.NodeCheck (per-node gradient checks)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cs231n_bn.kit.experiments.bn_experiments import (  # noqa: E402
    batch_size_comparison,
    bn_input_statistics,
    final_loss,
    plot_batch_size_comparison,
    plot_bn_input_statistics,
    plot_weight_scale_sweep,
    train_net,
    train_variants,
    weight_scale_sweep,
)
from cs231n_bn.kit.experiments.bn_graph import NodeCheck  # noqa: E402

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
        assert set(summary) == {"best_val_acc", "best_train_acc", "final_loss", "update_ratio"}
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


def test_batch_size_comparison_trains_every_normalization_at_every_batch_size_and_seed(data):
    results = batch_size_comparison(data, [8], [10, 20], normalizations=(None, "batchnorm"), seeds=(0, 1),
                                    num_classes=3, update_rule="adam", optim_config={"learning_rate": 1e-2},
                                    num_epochs=2)
    assert list(results) == [None, "batchnorm"]
    for summary in results.values():
        assert set(summary) == {"best_val_acc", "best_train_acc"}
        assert all(value.shape == (2, 2) for value in summary.values())
    run = train_net(data, [8], normalization="batchnorm", batch_size=20, seed=1, num_classes=3, update_rule="adam",
                    optim_config={"learning_rate": 1e-2}, num_epochs=2)
    assert results["batchnorm"]["best_val_acc"][1, 1] == run.best_val_acc
    assert results["batchnorm"]["best_train_acc"][1, 1] == max(run.train_acc_history)


@pytest.mark.parametrize("key", ["batch_size", "seed", "normalization"])
def test_batch_size_comparison_rejects_what_it_sets_itself(data, key):
    with pytest.raises(ValueError, match=key):
        batch_size_comparison(data, [8], [10], num_classes=3, num_epochs=1, **{key: 1})


def test_plot_batch_size_comparison_draws_mean_and_range():
    results = {norm: {"best_val_acc": np.array([[0.5, 0.7], [0.3, 0.9]]),
                      "best_train_acc": np.array([[0.6, 0.8], [0.4, 1.0]])} for norm in (None, "layernorm")}
    fig = plot_batch_size_comparison([2, 50], results)
    try:
        assert len(fig.axes) == 2
        ax = fig.axes[0]
        assert [text.get_text() for text in ax.get_legend().get_texts()] == ["baseline", "layernorm"]
        np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.4, 0.8])  # the mean over the seeds
    finally:
        plt.close(fig)


def test_bn_input_statistics_measures_where_scale_invariance_holds():
    X = np.random.default_rng(0).standard_normal((32, 20))
    stats = bn_input_statistics(X, [16, 16, 16], [1e-4, 1e-1, 1.0], num_classes=3, seed=0)
    assert stats["input_var"].shape == stats["x_hat_std"].shape == (3, 3) and stats["scores_std"].shape == (3,)
    # Large scales: every input variance >> eps, x_hat has unit spread and is the same at both scales.
    assert np.all(stats["input_var"][1:] > 1e-3)
    np.testing.assert_allclose(stats["x_hat_std"][1:], 1.0, atol=1e-3)
    # The scores are not normalized: they scale with the output layer's weights (x10 from 0.1 to 1).
    assert stats["scores_std"][2] == pytest.approx(10 * stats["scores_std"][1], rel=1e-3)
    # Scale 1e-4: the variance falls below eps and x_hat collapses, layer after layer.
    assert np.all(stats["input_var"][0] < 1e-5)
    assert np.all(np.diff(stats["x_hat_std"][0]) < 0) and stats["x_hat_std"][0, -1] < 0.01
    # A negligible eps restores the invariance at every scale.
    exact = bn_input_statistics(X, [16, 16], [1e-4, 1.0], num_classes=3, eps=1e-30, seed=0)
    np.testing.assert_allclose(exact["x_hat_std"], 1.0, atol=1e-6)


@pytest.mark.parametrize("scales", [[], [0.0], [[1e-2]]])
def test_bn_input_statistics_rejects_bad_scales(scales):
    with pytest.raises(ValueError, match="weight_scales"):
        bn_input_statistics(np.ones((4, 3)), [2], scales)


def test_plot_bn_input_statistics_draws_one_line_per_layer_and_eps():
    stats = {"input_var": np.array([[1e-6, 1e-8], [1.0, 0.5]]), "x_hat_std": np.array([[0.3, 0.01], [1.0, 1.0]]),
             "scores_std": np.array([1e-6, 1.0])}
    fig = plot_bn_input_statistics([1e-4, 1.0], stats, eps=1e-5)
    try:
        assert len(fig.axes) == 2 and len(fig.axes[0].get_lines()) == 3 and len(fig.axes[1].get_lines()) == 2
        np.testing.assert_allclose(fig.axes[1].get_lines()[1].get_ydata(), [0.01, 1.0])
    finally:
        plt.close(fig)


def _graph(x, gamma, beta, node):
    """A small staged graph (not a normalization) in which node 'a' is used twice."""
    a = node("a", x * gamma)
    b = node("b", np.sin(a))
    return node("out", a * b + beta)


def _graph_inputs():
    rng = np.random.default_rng(1)
    return {"x": rng.standard_normal((3, 4)), "gamma": rng.standard_normal(4), "beta": rng.standard_normal(4)}, \
        rng.standard_normal((3, 4))


def test_node_check_accepts_every_correct_gradient_and_records_the_nodes(capsys):
    inputs, dout = _graph_inputs()
    check = NodeCheck(_graph, inputs, dout)
    assert list(check.values) == ["a", "b", "out"]
    a, b = check.values["a"], check.values["b"]
    db = dout * a
    da = dout * b + db * np.cos(a)  # both uses of a
    grads = {"dout": dout, "db": db, "da": da, "dbeta": dout.sum(axis=0), "dx": da * inputs["gamma"],
             "dgamma": (da * inputs["x"]).sum(axis=0)}
    assert all(check(name, grad) for name, grad in grads.items())
    assert "da: ok (relative error below 1e-06)" in capsys.readouterr().out
    assert set(check.errors) == set(grads) and max(check.errors.values()) < 1e-6


def test_node_check_names_a_missing_path_and_a_wrong_shape(capsys):
    inputs, dout = _graph_inputs()
    check = NodeCheck(_graph, inputs, dout)
    a, b = check.values["a"], check.values["b"]
    assert not check("da", dout * b)  # the path through b is missing
    assert not check("dgamma", (dout * b * inputs["x"]).sum(axis=0, keepdims=True))
    out = capsys.readouterr().out
    assert "da: WRONG (relative error" in out
    assert "dgamma: WRONG shape (1, 4); gamma has shape (4,)" in out


def test_node_check_rejects_unknown_and_duplicate_names_and_a_bad_dout():
    inputs, dout = _graph_inputs()
    check = NodeCheck(_graph, inputs, dout)
    with pytest.raises(KeyError, match="no input or node named 'c'"):
        check("dc", dout)
    with pytest.raises(ValueError, match="grad_name"):
        check("a", dout)

    def twice(x, gamma, beta, node):
        a = node("a", x * gamma)
        return node("a", a + beta)

    with pytest.raises(ValueError, match="used twice"):
        NodeCheck(twice, inputs, dout)
    with pytest.raises(ValueError, match="dout has shape"):
        NodeCheck(_graph, inputs, dout[:2])


# ---------------------------------------------------------------------------------------------------------------
# He initialization, the running statistics of the best check, the sweep over seeds, and the graph's figure

from cs231n_bn.kit.experiments.bn_experiments import HE, build_net  # noqa: E402
from cs231n_bn.kit.experiments.bn_graph import GRADIENT_NAMES, GRAPH_NODES, draw_bn_graph  # noqa: E402


def test_build_net_he_rescales_the_same_draws():
    plain = build_net([8, 5], 6, weight_scale=1.0, num_classes=3, seed=4, dtype=np.float64)
    he = build_net([8, 5], 6, weight_scale=HE, num_classes=3, seed=4, dtype=np.float64)
    for name, gain, fan_in in (("W1", 2, 6), ("W2", 2, 8), ("W3", 1, 5)):
        np.testing.assert_allclose(he.params[name], plain.params[name] * np.sqrt(gain / fan_in))
    assert he.params["W1"].dtype == np.float64
    for bad in ("He", 0.0, -1.0, True, None):
        with pytest.raises(ValueError, match="weight_scale must be a positive number or 'he'"):
            build_net([8], 6, weight_scale=bad)


def test_train_net_keeps_the_running_statistics_of_its_best_check(data):
    solver = train_net(data, [8], normalization="batchnorm", num_classes=3, seed=1, update_rule="adam",
                       optim_config={"learning_rate": 5e-2}, batch_size=10, num_epochs=4)
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.best_val_acc


def test_weight_scale_sweep_over_seeds_adds_a_seed_axis_and_the_update_ratio(data):
    results = weight_scale_sweep(data, [8], [1e-2, 1.0], normalizations=("batchnorm",), seeds=(0, 3), num_classes=3,
                                 window=3, **SOLVER)
    summary = results["batchnorm"]
    assert set(summary) == {"best_val_acc", "best_train_acc", "final_loss", "update_ratio"}
    assert all(value.shape == (2, 2) for value in summary.values())
    run = train_net(data, [8], normalization="batchnorm", weight_scale=1.0, num_classes=3, seed=3, **SOLVER)
    assert summary["best_val_acc"][1, 1] == run.best_val_acc
    # Adam's steps have about the same size at both scales: relative to the weights they are ~100 times smaller.
    assert np.all(summary["update_ratio"][:, 1] < summary["update_ratio"][:, 0] / 10)


def test_batch_size_comparison_keeps_the_solvers_on_request(data):
    results = batch_size_comparison(data, [8], [10, 20], normalizations=("batchnorm",), seeds=(0,), num_classes=3,
                                    keep_solvers=True, num_epochs=1)
    solvers = results["batchnorm"]["solvers"]
    assert len(solvers) == 1 and len(solvers[0]) == 2
    assert solvers[0][1].batch_size == 20 and solvers[0][1].best_val_acc == results["batchnorm"]["best_val_acc"][0, 1]


def test_node_check_report_checks_what_is_there_and_names_what_is_not(capsys):
    inputs, dout = _graph_inputs()
    check = NodeCheck(_graph, inputs, dout)
    a, b = check.values["a"], check.values["b"]
    verdicts = check.report({"dout": dout, "db": dout * a, "da": dout * b}, ["dout", "db", "da", "dx"])
    assert verdicts == {"dout": True, "db": True, "da": False, "dx": False}
    out = capsys.readouterr().out
    assert "da: WRONG" in out and "dx: not computed yet" in out


def test_draw_bn_graph_labels_every_edge_with_the_numbers_given():
    # The figure computes nothing: any numbers of the right shapes do.
    rng = np.random.default_rng(0)
    values = {name: rng.standard_normal((4, 3)) for name in ("x", "xmu", "sq", "x_hat", "gx", "out")}
    values.update({name: rng.standard_normal(3) for name in ("mu", "var", "std", "inv_std", "gamma", "beta")})
    gradients = {name: np.full((4, 3), 0.25) for name in GRADIENT_NAMES if name != "dmu"}
    ax = draw_bn_graph(values, gradients=gradients, column=1)
    try:
        texts = [t.get_text() for t in ax.texts]
        assert sum(text.startswith("d") for text in texts) == len(GRADIENT_NAMES)
        assert "dmu: ?" in texts and "dgx: [0.25, 0.25, 0.25, 0.25]" in texts
        assert f"{values['var'][1]:.3g}" in texts  # the (D,) values: their entry in the column shown
        assert len([text for text in texts if text]) == len(GRAPH_NODES) + 2 * len(GRADIENT_NAMES)
        with pytest.raises(ValueError, match="values has no inv_std"):
            draw_bn_graph({k: v for k, v in values.items() if k != "inv_std"})
    finally:
        plt.close("all")
