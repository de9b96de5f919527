"""Named activations and the recorder callbacks (cs231n_bn.kit.monitors) with the Solver."""

import numpy as np
import pytest

from cs231n_bn.classifiers.fc_net import FullyConnectedNet
from cs231n_bn.kit.monitors import AccuracyRecorder, ActivationRecorder, forward_activations
from cs231n_bn.solver import Solver


def data(N=120, D=20, C=4, seed=0):
    rng = np.random.default_rng(seed)
    return {"X_train": rng.standard_normal((N, D)), "y_train": rng.integers(C, size=N),
            "X_val": rng.standard_normal((30, D)), "y_val": rng.integers(C, size=30)}


def paper_net(normalization):
    """The Section 4.1 network (three sigmoid layers), small."""
    return FullyConnectedNet([8, 8, 8], input_dim=20, num_classes=4, nonlinearity="sigmoid",
                             normalization=normalization, weight_scale=0.5, seed=0)


@pytest.mark.parametrize("normalization", [None, "batchnorm"])
def test_forward_activations_exposes_named_intermediates(normalization):
    model = paper_net(normalization)
    X = data()["X_val"]
    acts = forward_activations(model, X)
    expected = []
    for i in (1, 2, 3):
        expected += [f"affine{i}"] + ([f"norm{i}"] if normalization else []) + [f"preact{i}", f"sigmoid{i}"]
    assert list(acts) == expected + ["scores"]
    for i in (1, 2, 3):
        # preact is the input of the sigmoid; the sigmoid's output follows from it.
        with np.errstate(over="ignore"):
            expected = 1 / (1 + np.exp(-acts[f"preact{i}"].astype(np.float64)))
        np.testing.assert_allclose(acts[f"sigmoid{i}"], expected, rtol=1e-5, atol=1e-7)
        source = f"norm{i}" if normalization else f"affine{i}"
        np.testing.assert_array_equal(acts[f"preact{i}"], acts[source])
        np.testing.assert_allclose(acts[f"affine{i}"], (acts[f"sigmoid{i - 1}"] if i > 1 else X) @ model.params[f"W{i}"]
                                   + model.params[f"b{i}"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(acts["scores"], model.loss(X))


def test_forward_activations_of_fc_net_and_unknown_name():
    model = FullyConnectedNet([6, 5], input_dim=20, num_classes=4, normalization="layernorm", seed=0)
    acts = forward_activations(model, data()["X_val"], ["relu2", "norm1"])
    assert list(acts) == ["relu2", "norm1"] and acts["relu2"].shape == (30, 5)
    assert np.all(acts["relu2"] >= 0)
    with pytest.raises(ValueError, match="'sigmoid1'.*available: affine1"):
        forward_activations(model, data()["X_val"], ["sigmoid1"])
    with pytest.raises(TypeError, match="has no loss"):
        forward_activations(object(), data()["X_val"])


def test_activation_recorder_records_percentiles_every_k_steps():
    d = data()
    model = paper_net("batchnorm")
    probe = d["X_val"][:25]
    checked = []

    def snapshot(solver):  # runs just before the recorder, on every call
        snapshot.state = [p["running_mean"].copy() for p in solver.model.bn_params if "running_mean" in p]

    recorder = ActivationRecorder("preact3", probe, every=4, unit=2)

    def check(solver):  # runs just after the recorder: same value recomputed, state untouched
        if solver.iteration % 4 == 0:
            column = forward_activations(solver.model, probe, ["preact3"])["preact3"][:, 2].astype(np.float64)
            np.testing.assert_allclose(recorder.values[-1], np.percentile(column, [15, 50, 85]), rtol=1e-12)
            after = [p["running_mean"] for p in solver.model.bn_params if "running_mean" in p]
            assert all(np.array_equal(a, b) for a, b in zip(snapshot.state, after))
            checked.append(solver.iteration)

    pooled = ActivationRecorder("preact3", probe, every=6, percentiles=(50,), mode="train")
    accuracy = AccuracyRecorder(d["X_val"], d["y_val"], every=6)
    solver = Solver(model, d, update_rule="sgd", optim_config={"learning_rate": 0.5}, batch_size=20,
                    num_epochs=2, verbose=False, seed=0, callbacks=[snapshot, recorder, check, pooled, accuracy])
    solver.train()  # 2 epochs of 6 iterations
    steps, values = recorder.history()
    np.testing.assert_array_equal(steps, [0, 4, 8, 12])
    assert checked == [0, 4, 8, 12]
    assert values.shape == (4, 3) and np.all(values[:, 0] <= values[:, 1]) and np.all(values[:, 1] <= values[:, 2])
    assert not np.allclose(values[1], values[-1])  # training moved the distribution
    assert pooled.steps == [0, 6, 12] and pooled.history()[1].shape == (3, 1)
    assert accuracy.steps == [0, 6, 12] and len(accuracy.accuracies) == 3
    assert accuracy.accuracies[-1] == solver.val_acc_history[-1]  # same data, same parameters, same iteration


def test_recorder_summarize_matches_numpy_and_records_without_side_effects():
    d = data()
    model = paper_net("batchnorm")
    model.loss(d["X_train"][:40], d["y_train"][:40])  # some running statistics
    state = [{k: np.copy(v) for k, v in p.items()} for p in model.bn_params]
    recorder = ActivationRecorder("preact3", d["X_val"], unit=1, percentiles=(15, 50, 85))
    got = recorder.summarize(model)
    column = forward_activations(model, d["X_val"], ["preact3"])["preact3"][:, 1]
    np.testing.assert_allclose(got, np.percentile(column, [15, 50, 85]))
    for before, after in zip(state, model.bn_params):
        for k in ("running_mean", "running_var"):
            np.testing.assert_array_equal(before[k], after[k])


def test_recorder_arguments_are_checked():
    with pytest.raises(ValueError, match="every"):
        ActivationRecorder("preact1", np.zeros((2, 20)), every=0)
    with pytest.raises(ValueError, match="percentiles"):
        ActivationRecorder("preact1", np.zeros((2, 20)), percentiles=(15, 150))
    recorder = ActivationRecorder("preact1", np.zeros((2, 20)), unit=8)
    with pytest.raises(ValueError, match="unit 8 is out of range"):
        recorder.summarize(paper_net(None))


def test_train_mode_probe_uses_batch_statistics_and_restores_state():
    d = data()
    model = paper_net("batchnorm")
    fresh = forward_activations(model, d["X_val"], ["norm1"], mode="train")["norm1"]
    assert all("running_mean" not in p for p in model.bn_params)  # created by the probe, then removed again
    model.loss(d["X_train"][:40], d["y_train"][:40])
    state = [p["running_var"].copy() for p in model.bn_params]
    np.random.seed(0)
    global_before = np.random.get_state()[1].copy()
    acts = forward_activations(model, d["X_val"], ["norm1", "preact3"], mode="train")
    # gamma = 1 and beta = 0: normalized with the probe batch's own statistics
    np.testing.assert_allclose(acts["norm1"].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(acts["norm1"].std(axis=0), 1, atol=1e-3)
    np.testing.assert_array_equal(acts["norm1"], fresh)
    assert all(np.array_equal(a, p["running_var"]) for a, p in zip(state, model.bn_params))
    np.testing.assert_array_equal(np.random.get_state()[1], global_before)
    with pytest.raises(ValueError, match="'eval'.*'test', 'train'"):
        forward_activations(model, d["X_val"], mode="eval")


class SandwichNet:
    """A two-layer net written with a sandwich layer: the sandwich's parts are named like the layers'."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.params = {"W1": rng.standard_normal((20, 6)), "b1": np.zeros(6),
                       "W2": rng.standard_normal((6, 4)), "b2": np.zeros(4)}

    def loss(self, X, y=None):
        from cs231n_bn.layer_utils import affine_relu_forward
        from cs231n_bn.layers import affine_forward

        h, _ = affine_relu_forward(X, self.params["W1"], self.params["b1"])
        scores, _ = affine_forward(h, self.params["W2"], self.params["b2"])
        return scores


def test_forward_activations_names_the_layers_inside_sandwiches():
    X = data()["X_val"]
    model = SandwichNet()
    acts = forward_activations(model, X)
    assert list(acts) == ["affine1", "preact1", "relu1", "scores"]
    np.testing.assert_allclose(acts["affine1"], X @ model.params["W1"])
    np.testing.assert_array_equal(acts["preact1"], acts["affine1"])
    np.testing.assert_array_equal(acts["relu1"], np.maximum(acts["affine1"], 0))
    np.testing.assert_array_equal(acts["scores"], model.loss(X))
    from cs231n_bn import layer_utils, layers

    assert layers.affine_forward.__module__ == layer_utils.affine_forward.__module__ == "cs231n_bn.layers"


def test_forward_activations_of_a_model_without_layer_calls():
    class Linear:
        def loss(self, X, y=None):
            return X @ np.ones((X.shape[1], 2))

    with pytest.raises(ValueError, match="called none of the layer functions"):
        forward_activations(Linear(), data()["X_val"])


# ---------------------------------------------------------------------------------------------------------------
# Training health: one step's activations and gradients, and the recorders built on it

from cs231n_bn.kit.monitors import (  # noqa: E402
    LandscapeRecorder,
    LayerHealthRecorder,
    ParameterNormRecorder,
    UpdateRatioRecorder,
    saturated_fraction,
    train_step_snapshot,
)
from cs231n_bn.layers import softmax_loss  # noqa: E402


def relu_net(normalization=None, dtype=np.float64):
    return FullyConnectedNet([7, 6], input_dim=20, num_classes=4, normalization=normalization, weight_scale=0.3,
                             dtype=dtype, seed=0)


def test_train_step_snapshot_gives_the_gradients_at_the_nonlinearities_by_the_chain_rule():
    d = data()
    X, y = d["X_train"][:16], d["y_train"][:16]
    model = relu_net()
    before = {k: v.copy() for k, v in model.params.items()}
    np.random.seed(3)
    state = np.random.get_state()[1].copy()
    snap = train_step_snapshot(model, X, y)
    acts, act_grads, grads = snap["acts"], snap["act_grads"], snap["grads"]
    assert list(act_grads) == ["relu1", "relu2"]
    loss, dscores = softmax_loss(acts["scores"], y)
    assert snap["loss"] == pytest.approx(loss)
    p = model.params
    # dL/d relu2 = dscores W3^T; through relu2 to affine2; dL/d relu1 = d affine2 W2^T; and dW2 = relu1^T d affine2.
    np.testing.assert_allclose(act_grads["relu2"], dscores @ p["W3"].T, rtol=1e-10, atol=1e-14)
    d_affine2 = act_grads["relu2"] * (acts["preact2"] > 0)
    np.testing.assert_allclose(act_grads["relu1"], d_affine2 @ p["W2"].T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads["W2"], acts["relu1"].T @ d_affine2, rtol=1e-10, atol=1e-14)
    assert all(np.array_equal(before[k], p[k]) for k in p)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_train_step_snapshot_leaves_batch_norm_state_alone():
    d = data()
    model = relu_net("batchnorm")
    model.loss(d["X_train"][:30], d["y_train"][:30])
    running = [p["running_var"].copy() for p in model.bn_params]
    snap = train_step_snapshot(model, d["X_val"], d["y_val"])
    assert [g.shape for g in snap["act_grads"].values()] == [(30, 7), (30, 6)]
    np.testing.assert_allclose(snap["acts"]["norm1"].std(axis=0), 1, atol=1e-3)  # the probe's own statistics
    assert all(np.array_equal(a, p["running_var"]) for a, p in zip(running, model.bn_params))
    with pytest.raises(ValueError, match="X has 30 examples but y has 2"):
        train_step_snapshot(model, d["X_val"], d["y_val"][:2])


def test_saturated_fraction_of_relu_and_sigmoid_outputs():
    assert saturated_fraction("relu3", np.array([0.0, 0.0, 1.0, 2.0])) == 0.5
    # |2s - 1| > 0.97: s below 0.015 or above 0.985
    assert saturated_fraction("sigmoid1", np.array([0.01, 0.5, 0.99, 0.98])) == 0.5
    with pytest.raises(ValueError, match="'tanh1'"):
        saturated_fraction("tanh1", np.zeros(3))


def test_layer_health_recorder_records_layers_updates_and_histograms():
    d = data()
    model = relu_net()
    X_probe, y_probe = d["X_train"][:25], d["y_train"][:25]
    copies = []
    recorder = LayerHealthRecorder(X_probe, y_probe, every=3, keep=(0, 6))
    norms = ParameterNormRecorder(every=2)

    def snapshot(solver):  # runs before the recorders: the weights as they are after this iteration
        copies.append((solver.iteration, {k: v.copy() for k, v in solver.model.params.items()}))

    solver = Solver(model, d, update_rule="sgd", optim_config={"learning_rate": 0.1}, batch_size=20, num_epochs=2,
                    verbose=False, seed=0, callbacks=[snapshot, recorder, norms])
    solver.train()  # 12 iterations
    assert recorder.steps == [0, 3, 6, 9, 12] and recorder.layers == ["relu1", "relu2"]
    steps, saturated = recorder.history("saturated")
    assert saturated.shape == (5, 2) and recorder.history("grad_std")[1].shape == (5, 2)
    assert set(recorder.snapshots) == {0, 6}
    weights = dict(copies)
    acts = forward_activations(_with_params(model, weights[6]), X_probe, ["relu2"], mode="train")["relu2"]
    assert saturated[2, 1] == pytest.approx(np.mean(acts == 0))
    np.testing.assert_array_equal(recorder.snapshots[6]["acts"]["relu2"], acts)
    update_steps, ratios = recorder.update_history()
    np.testing.assert_array_equal(update_steps, np.arange(1, 13))
    assert ratios.shape == (12, 3)
    change = weights[5]["W2"] - weights[4]["W2"]
    assert ratios[4, 1] == pytest.approx(change.std() / weights[4]["W2"].std())
    steps, column_norms = norms.history("W1")
    np.testing.assert_array_equal(steps, [0, 2, 4, 6, 8, 10, 12])
    np.testing.assert_allclose(column_norms[3], np.linalg.norm(weights[6]["W1"], axis=0))
    with pytest.raises(ValueError, match="Unknown statistic"):
        recorder.history("variance")
    with pytest.raises(ValueError, match="Unknown weight 'W9'"):
        norms.history("W9")


def _with_params(model, params):
    model.params = {k: v.copy() for k, v in params.items()}
    return model


def test_update_ratio_recorder_skips_a_missing_iteration():
    class Fake:
        def __init__(self, iteration, W):
            self.iteration, self.model = iteration, type("M", (), {"params": {"W1": W}})()

    recorder = UpdateRatioRecorder()
    W = np.arange(6.0).reshape(2, 3)
    recorder(Fake(0, W))
    recorder(Fake(1, W + 1.0 * (np.arange(6.0).reshape(2, 3) % 2)))
    recorder(Fake(3, W))  # iteration 2 never seen: no ratio for step 3
    steps, ratios = recorder.history()
    np.testing.assert_array_equal(steps, [1])
    assert ratios[0, 0] == pytest.approx(0.5 / W.std())


def test_landscape_recorder_moves_along_the_gradient_and_puts_everything_back():
    d = data()
    model = relu_net("batchnorm")
    X, y = d["X_val"], d["y_val"]
    recorder = LandscapeRecorder(X, y, step_sizes=[0.1, 0.4], every=5)
    checked = []

    def check(solver):  # right after the recorder, at its steps: its numbers, recomputed by hand
        if solver.iteration % 5:
            return
        params = {k: v.copy() for k, v in solver.model.params.items()}
        running = [p["running_mean"].copy() for p in solver.model.bn_params if "running_mean" in p]
        loss0, g0 = solver.model.loss(X, y)
        for p, r in zip(solver.model.bn_params, running):
            p["running_mean"] = r
        assert recorder.loss_at_zero[-1] == pytest.approx(loss0)
        solver.model.params = {k: params[k] - 0.4 * g0[k] for k in params}
        loss, g = solver.model.loss(X, y)
        assert recorder.loss[-1][1] == pytest.approx(loss)
        change = np.sqrt(sum(np.sum((g[k] - g0[k]) ** 2) for k in params))
        assert recorder.grad_change[-1][1] == pytest.approx(change)
        assert recorder.distance[-1][1] == pytest.approx(0.4 * np.sqrt(sum(np.sum(g0[k] ** 2) for k in params)))
        solver.model.params = params
        checked.append(solver.iteration)

    solver = Solver(model, d, update_rule="sgd", optim_config={"learning_rate": 0.1}, batch_size=20, num_epochs=2,
                    verbose=False, seed=0, callbacks=[recorder, check])
    solver.train()
    assert checked == [0, 5, 10] and recorder.history()["loss"].shape == (3, 2)
    with pytest.raises(ValueError, match="step_sizes"):
        LandscapeRecorder(X, y, step_sizes=[0.1, -1.0])
