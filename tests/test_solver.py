"""Solver: histories, reproducibility, checkpoints and resume, errors, output, callbacks.

Most tests use a small softmax classifier defined here, so that they depend on the Solver only; the tests at
the end train a FullyConnectedNet.
"""

import os
import zipfile

import numpy as np
import pytest

from cs231n_bn import optim
from cs231n_bn.solver import CheckpointError, NonFiniteLossError, Solver


class SoftmaxModel:
    """Linear softmax classifier with a running mean of its inputs used at test time, standing in for the
    running statistics of batch normalization (so checkpoints must carry model state)."""

    def __init__(self, D=6, C=3, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.params = {"W": (0.1 * rng.standard_normal((D, C))).astype(dtype), "b": np.zeros(C, dtype)}
        self.bn_params = [{"mode": "train"}]
        self.scale = 1.0

    def loss(self, X, y=None):
        W, b = self.params["W"], self.params["b"]
        bn = self.bn_params[0]
        if y is None:
            centred = X - bn.get("running_mean", 0.0)
            return centred @ W + b
        bn["running_mean"] = 0.9 * bn.get("running_mean", np.zeros(X.shape[1])) + 0.1 * X.mean(axis=0)
        scores = self.scale * (X @ W + b)
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        N = X.shape[0]
        loss = -log_probs[np.arange(N), y].mean()
        dscores = np.exp(log_probs)
        dscores[np.arange(N), y] -= 1
        dscores *= self.scale / N
        return loss, {"W": X.T @ dscores, "b": dscores.sum(axis=0)}


def make_data(N_train=50, N_val=20, D=6, C=3, seed=1):
    rng = np.random.default_rng(seed)
    centres = 2 * rng.standard_normal((C, D))
    y_train, y_val = rng.integers(C, size=N_train), rng.integers(C, size=N_val)
    return {"X_train": centres[y_train] + rng.standard_normal((N_train, D)), "y_train": y_train,
            "X_val": centres[y_val] + rng.standard_normal((N_val, D)), "y_val": y_val}


def quiet_solver(model, data, **kwargs):
    kwargs.setdefault("verbose", False)
    return Solver(model, data, **kwargs)


# --- histories ------------------------------------------------------------------------------------------------

def test_histories_have_documented_lengths():
    solver = quiet_solver(SoftmaxModel(), make_data(N_train=50), batch_size=10, num_epochs=3, seed=0)
    solver.train()
    assert solver.iterations_per_epoch == 5 and solver.num_iterations == 15
    assert len(solver.loss_history) == 15
    # One check after the first iteration, then one at the end of each epoch (the last iteration ends epoch 3).
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4
    assert solver.epoch == 3 and solver.iteration == 15
    assert all(isinstance(v, float) for v in solver.loss_history)


def test_batch_larger_than_training_set_gives_one_iteration_per_epoch():
    solver = quiet_solver(SoftmaxModel(), make_data(N_train=7), batch_size=100, num_epochs=2, seed=0)
    solver.train()
    assert solver.num_iterations == 2 and len(solver.loss_history) == 2


def test_train_ends_with_best_params_and_learns():
    model = SoftmaxModel()
    solver = quiet_solver(model, make_data(N_train=200, N_val=100), update_rule="sgd_momentum",
                          optim_config={"learning_rate": 0.1}, batch_size=20, num_epochs=5, seed=0)
    solver.train()
    assert solver.best_val_acc == max(solver.val_acc_history)
    for k, v in solver.best_params.items():
        np.testing.assert_array_equal(model.params[k], v)
    assert solver.best_val_acc > 0.8  # well-separated Gaussian blobs; chance is 1/3
    assert np.mean(solver.loss_history[-10:]) < np.mean(solver.loss_history[:10])


def test_lr_decay_applies_once_per_epoch():
    solver = quiet_solver(SoftmaxModel(), make_data(), optim_config={"learning_rate": 0.5}, lr_decay=0.5,
                          batch_size=25, num_epochs=3, seed=0)
    solver.train()
    for config in solver.optim_configs.values():
        assert config["learning_rate"] == 0.5 * 0.5**3


def test_check_accuracy_counts_correct_predictions():
    model = SoftmaxModel(D=2, C=2)
    model.params["W"] = np.array([[1.0, -1.0], [0.0, 0.0]])
    model.bn_params[0]["running_mean"] = np.zeros(2)
    X = np.array([[1.0, 0], [2.0, 5], [-1.0, 0], [-3.0, 1], [4.0, 0]])
    y = np.array([0, 0, 1, 0, 1])  # predictions are 0, 0, 1, 1, 0: 3 of 5 right
    solver = quiet_solver(model, make_data(D=2, C=2))
    assert solver.check_accuracy(X, y) == pytest.approx(0.6)
    assert solver.check_accuracy(X, y, batch_size=2) == pytest.approx(0.6)
    sub = solver.check_accuracy(X, y, num_samples=4)
    assert sub in (0.5, 0.75)


# --- reproducibility ----------------------------------------------------------------------------------------

def run(seed, **kwargs):
    solver = quiet_solver(SoftmaxModel(), make_data(), batch_size=10, num_epochs=2, seed=seed, **kwargs)
    solver.train()
    return solver


def test_same_seed_same_history_different_seed_different_history():
    a, b, c = run(3), run(3), run(4)
    assert a.loss_history == b.loss_history
    assert a.train_acc_history == b.train_acc_history
    assert a.loss_history != c.loss_history


def test_without_seed_the_global_generator_decides():
    np.random.seed(231)
    a = run(None)
    np.random.seed(231)
    b = run(None)
    assert a.loss_history == b.loss_history


def test_seed_may_be_a_generator():
    a = run(np.random.default_rng(11))
    b = run(np.random.default_rng(11))
    assert a.loss_history == b.loss_history


# --- checkpoints and resume ----------------------------------------------------------------------------------

@pytest.mark.parametrize("update_rule", ["sgd", "adam"])
def test_resume_from_checkpoint_equals_uninterrupted_training(tmp_path, update_rule):
    data = make_data(N_train=60)
    kwargs = dict(update_rule=update_rule, optim_config={"learning_rate": 0.05}, lr_decay=0.9, batch_size=10,
                  num_epochs=4, num_train_samples=30, seed=5)
    full = quiet_solver(SoftmaxModel(), data, checkpoint_name=str(tmp_path / "run"), **kwargs)
    full.train()
    names = sorted(os.listdir(tmp_path))
    assert names == [f"run_epoch_{e}.npz" for e in (1, 2, 3, 4)]  # atomic writes leave no temporary files

    model = SoftmaxModel(seed=99)  # different initial weights: all of them must come from the checkpoint
    resumed = quiet_solver(model, data, **kwargs)
    resumed.load_checkpoint(tmp_path / "run_epoch_2.npz")
    assert resumed.epoch == 2 and resumed.iteration == 12 and len(resumed.loss_history) == 12
    resumed.train()
    assert resumed.loss_history == full.loss_history  # bitwise, float64
    assert resumed.train_acc_history == full.train_acc_history
    assert resumed.val_acc_history == full.val_acc_history
    assert resumed.best_val_acc == full.best_val_acc
    for k in full.model.params:
        np.testing.assert_array_equal(resumed.model.params[k], full.model.params[k])
    np.testing.assert_array_equal(model.bn_params[0]["running_mean"], full.model.bn_params[0]["running_mean"])
    for p in full.optim_configs:
        assert sorted(resumed.optim_configs[p]) == sorted(full.optim_configs[p])


def test_checkpoint_is_plain_npz_without_pickle(tmp_path):
    solver = quiet_solver(SoftmaxModel(), make_data(), batch_size=25, num_epochs=1, seed=0,
                          update_rule="adam", checkpoint_name=str(tmp_path / "ck"))
    solver.train()
    with np.load(tmp_path / "ck_epoch_1.npz", allow_pickle=False) as f:
        files = set(f.files)
        assert {"params/W", "params/b", "optim/W/m", "optim/W/v", "bn_params/0/running_mean",
                "history/loss", "__meta__"} <= files
        assert all(f[k].dtype != object for k in files)


def save_one(tmp_path, **kwargs):
    solver = quiet_solver(SoftmaxModel(), make_data(), batch_size=25, num_epochs=1, seed=0,
                          checkpoint_name=str(tmp_path / "ck"), **kwargs)
    solver.train()
    return tmp_path / "ck_epoch_1.npz"


def test_truncated_checkpoint_raises_naming_the_path(tmp_path):
    path = save_one(tmp_path)
    raw = path.read_bytes()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(raw[: len(raw) // 2])
    solver = quiet_solver(SoftmaxModel(), make_data())
    with pytest.raises(CheckpointError, match="truncated.npz"):
        solver.load_checkpoint(bad)


def test_corrupted_member_raises(tmp_path):
    path = save_one(tmp_path)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("params/W.npy")
    raw[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF  # flip a byte inside W's data
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="flipped.npz"):
        quiet_solver(SoftmaxModel(), make_data()).load_checkpoint(bad)


@pytest.mark.parametrize("kind", ["foreign_npz", "npy", "text", "pickle"])
def test_foreign_files_raise_naming_the_path(tmp_path, kind):
    path = tmp_path / f"{kind}.npz"
    if kind == "foreign_npz":
        np.savez(path, W=np.zeros(3))
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif kind == "text":
        path.write_text("not a checkpoint\n")
    else:
        with open(path, "wb") as f:
            np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError, match=f"{kind}.npz"):
        quiet_solver(SoftmaxModel(), make_data()).load_checkpoint(path)


def test_missing_checkpoint_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        quiet_solver(SoftmaxModel(), make_data()).load_checkpoint(tmp_path / "nothing.npz")


def test_checkpoint_of_another_model_or_rule_raises_and_changes_nothing(tmp_path):
    path = save_one(tmp_path)
    model = SoftmaxModel(D=6, C=4)
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(CheckpointError, match="shape"):
        quiet_solver(model, make_data(C=4), batch_size=25).load_checkpoint(path)
    for k in before:
        np.testing.assert_array_equal(model.params[k], before[k])
    with pytest.raises(CheckpointError, match="update_rule"):
        quiet_solver(SoftmaxModel(), make_data(), update_rule="adam", batch_size=25).load_checkpoint(path)


# --- errors ----------------------------------------------------------------------------------------------------

def test_non_finite_loss_raises_with_iteration_and_advice():
    model = SoftmaxModel()

    def blow_up(solver):  # after the first iteration the logits become infinite and the loss nan
        if solver.iteration == 1:
            model.scale = np.inf

    solver = quiet_solver(model, make_data(), batch_size=10, seed=0, callbacks=[blow_up])
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError) as info:
        solver.train()
    assert isinstance(info.value, NonFiniteLossError)
    message = str(info.value)
    assert "iteration 2 of" in message and "lower learning rate" in message
    assert len(solver.loss_history) == 1 and solver.iteration == 1
    assert all(np.isfinite(solver.loss_history))


def test_unknown_keyword_raises_naming_it_and_listing_allowed():
    with pytest.raises(ValueError, match="learning_rate.*allowed: update_rule"):
        Solver(SoftmaxModel(), make_data(), learning_rate=0.1)


def test_unknown_update_rule_raises_listing_allowed():
    with pytest.raises(ValueError, match="'nesterov'.*'sgd', 'sgd_momentum', 'rmsprop', 'adam'"):
        Solver(SoftmaxModel(), make_data(), update_rule="nesterov")


def test_unknown_optim_config_key_raises():
    with pytest.raises(ValueError, match="'momentum'.*'rmsprop'"):
        Solver(SoftmaxModel(), make_data(), update_rule="rmsprop", optim_config={"momentum": 0.9})


def test_bad_data_raises_before_training():
    data = make_data()
    del data["y_val"]
    with pytest.raises(ValueError, match="'y_val'"):
        Solver(SoftmaxModel(), data)
    data = make_data()
    data["y_train"] = data["y_train"][:-1]
    with pytest.raises(ValueError, match="X_train has 50 examples but y_train has 49"):
        Solver(SoftmaxModel(), data)
    with pytest.raises(ValueError, match="batch_size"):
        Solver(SoftmaxModel(), make_data(), batch_size=0)


# --- output and callbacks ----------------------------------------------------------------------------------

def test_verbose_prints_cs231n_lines_and_quiet_prints_nothing(capsys):
    solver = Solver(SoftmaxModel(), make_data(), batch_size=10, num_epochs=2, print_every=4, seed=0)
    solver.train()
    out, err = capsys.readouterr()
    assert "(Iteration 1 / 10) loss:" in out and "(Iteration 5 / 10) loss:" in out
    assert "(Epoch 0 / 2) train acc:" in out and "(Epoch 2 / 2) train acc:" in out and "val_acc:" in out
    assert "10/10" in err  # the progress bar, on stderr
    quiet_solver(SoftmaxModel(), make_data(), batch_size=10, num_epochs=2, seed=0).train()
    assert capsys.readouterr() == ("", "")


def test_callbacks_run_at_start_and_after_every_iteration():
    seen = []
    solver = quiet_solver(SoftmaxModel(), make_data(), batch_size=10, num_epochs=2, seed=0,
                          callbacks=[lambda s: seen.append((s.iteration, len(s.loss_history)))])
    solver.train()
    assert seen == [(i, i) for i in range(11)]


# --- with FullyConnectedNet ----------------------------------------------------------------------------------

def small_data(N_train=50, D=12, C=5, seed=0):
    rng = np.random.default_rng(seed)
    return {"X_train": rng.standard_normal((N_train, D)), "y_train": rng.integers(C, size=N_train),
            "X_val": rng.standard_normal((20, D)), "y_val": rng.integers(C, size=20)}


def test_small_net_overfits_50_examples():
    from cs231n_bn.classifiers.fc_net import FullyConnectedNet

    data = small_data()  # random labels: only memorization reaches 100 %
    data["X_val"], data["y_val"] = data["X_train"], data["y_train"]  # so that the best parameters are the last
    model = FullyConnectedNet([50, 50], input_dim=12, num_classes=5, weight_scale=0.1, seed=0)
    solver = quiet_solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-2}, batch_size=25,
                          num_epochs=60, seed=0)
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert solver.check_accuracy(data["X_train"], data["y_train"]) == 1.0


def test_resume_with_batchnorm_and_unseeded_dropout_is_bitwise_equal(tmp_path):
    from cs231n_bn.classifiers.fc_net import FullyConnectedNet

    data = small_data(N_train=80)

    def make():
        return FullyConnectedNet([16, 16], input_dim=12, num_classes=5, normalization="batchnorm",
                                 dropout_keep_ratio=0.7, weight_scale=0.1, dtype=np.float64, seed=0)

    kwargs = dict(update_rule="rmsprop", optim_config={"learning_rate": 1e-3}, batch_size=20, num_epochs=3, seed=1)
    np.random.seed(5)  # unseeded dropout draws its masks from the global generator
    full = quiet_solver(make(), data, checkpoint_name=str(tmp_path / "fc"), **kwargs)
    full.train()
    running_var = full.model.bn_params[1]["running_var"].copy()

    np.random.seed(123)  # the checkpoint must restore the global generator too
    resumed = quiet_solver(make(), data, **kwargs)
    resumed.load_checkpoint(tmp_path / "fc_epoch_1.npz")
    resumed.train()
    assert resumed.loss_history == full.loss_history
    assert resumed.val_acc_history == full.val_acc_history
    np.testing.assert_array_equal(resumed.model.bn_params[1]["running_var"], running_var)
