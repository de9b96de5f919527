"""Solver: histories, reproducibility, checkpoints and resume, validation, errors, output, callbacks.

Most tests use a small nearest-centroid classifier defined here (its loss is none of the functions students
write), so that they depend on the Solver only; the tests at the end train a FullyConnectedNet.
"""

import json
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from cs231n_bn import optim
from cs231n_bn.solver import CheckpointError, NonFiniteLossError, Solver


class CentroidModel:
    """Nearest-centroid classifier with a running mean of its inputs, standing in for the running statistics
    of batch normalization (so checkpoints must carry model state).

    Class k scores -0.5 * ||z - centres[k]||^2 + bias[k], where z is x minus the mini-batch mean in training and
    minus the running mean at test time. The loss is scale * 0.5 * mean_i ||z_i - centres[y_i]||^2 + 0.5 *
    ||bias||^2: gradient descent moves each centre to its class's mean and the bias to zero.
    """

    def __init__(self, D=6, C=3, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.params = {"centres": rng.standard_normal((C, D)).astype(dtype),
                       "bias": (0.1 * rng.standard_normal(C)).astype(dtype)}
        self.bn_params = [{"mode": "train"}]
        self.scale = 1.0

    def loss(self, X, y=None):
        centres, bias = self.params["centres"], self.params["bias"]
        bn = self.bn_params[0]
        if y is None:
            z = X - bn.get("running_mean", 0.0)
            return -0.5 * ((z[:, None, :] - centres[None]) ** 2).sum(axis=2) + bias
        mean = X.mean(axis=0)
        bn["running_mean"] = 0.9 * bn.get("running_mean", np.zeros(X.shape[1])) + 0.1 * mean
        diff = (X - mean) - centres[y]
        N = X.shape[0]
        loss = self.scale * 0.5 * (diff ** 2).sum() / N + 0.5 * (bias ** 2).sum()
        dcentres = np.zeros_like(centres)
        np.add.at(dcentres, y, -self.scale * diff / N)
        return loss, {"centres": dcentres, "bias": bias.copy()}


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
    solver = quiet_solver(CentroidModel(), make_data(N_train=50), batch_size=10, num_epochs=3, seed=0)
    solver.train()
    assert solver.iterations_per_epoch == 5 and solver.num_iterations == 15
    assert len(solver.loss_history) == 15
    # One check after the first iteration, then one at the end of each epoch (the last iteration ends epoch 3).
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4
    assert solver.epoch == 3 and solver.iteration == 15
    assert all(isinstance(v, float) for v in solver.loss_history)


def test_batch_larger_than_training_set_gives_one_iteration_per_epoch():
    solver = quiet_solver(CentroidModel(), make_data(N_train=7), batch_size=100, num_epochs=2, seed=0)
    solver.train()
    assert solver.num_iterations == 2 and len(solver.loss_history) == 2


def test_train_ends_with_best_params_and_learns():
    model = CentroidModel()
    solver = quiet_solver(model, make_data(N_train=200, N_val=100), update_rule="sgd_momentum",
                          optim_config={"learning_rate": 0.1}, batch_size=20, num_epochs=5, seed=0)
    solver.train()
    assert solver.best_val_acc == max(solver.val_acc_history)
    for k, v in solver.best_params.items():
        np.testing.assert_array_equal(model.params[k], v)
    assert solver.best_val_acc > 0.8  # well-separated Gaussian blobs; chance is 1/3
    assert np.mean(solver.loss_history[-10:]) < np.mean(solver.loss_history[:10])


def test_lr_decay_applies_once_per_epoch():
    solver = quiet_solver(CentroidModel(), make_data(), optim_config={"learning_rate": 0.5}, lr_decay=0.5,
                          batch_size=25, num_epochs=3, seed=0)
    solver.train()
    for config in solver.optim_configs.values():
        assert config["learning_rate"] == 0.5 * 0.5**3


def test_check_accuracy_counts_correct_predictions():
    model = CentroidModel(D=2, C=2)
    model.params["centres"] = np.array([[1.0, 0.0], [-1.0, 0.0]])
    model.params["bias"] = np.zeros(2)
    model.bn_params[0]["running_mean"] = np.zeros(2)
    X = np.array([[1.0, 0], [2.0, 5], [-1.0, 0], [-3.0, 1], [4.0, 0]])
    y = np.array([0, 0, 1, 0, 1])  # the nearer centre: 0, 0, 1, 1, 0; 3 of 5 right
    solver = quiet_solver(model, make_data(D=2, C=2))
    assert solver.check_accuracy(X, y) == pytest.approx(0.6)
    assert solver.check_accuracy(X, y, batch_size=2) == pytest.approx(0.6)
    sub = solver.check_accuracy(X, y, num_samples=4)
    assert sub in (0.5, 0.75)


# --- reproducibility ----------------------------------------------------------------------------------------

def run(seed, **kwargs):
    solver = quiet_solver(CentroidModel(), make_data(), batch_size=10, num_epochs=2, seed=seed, **kwargs)
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
    full = quiet_solver(CentroidModel(), data, checkpoint_name=str(tmp_path / "run"), **kwargs)
    full.train()
    names = sorted(os.listdir(tmp_path))
    assert names == [f"run_epoch_{e}.npz" for e in (1, 2, 3, 4)]  # atomic writes leave no temporary files

    model = CentroidModel(seed=99)  # different initial weights: all of them must come from the checkpoint
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
    solver = quiet_solver(CentroidModel(), make_data(), batch_size=25, num_epochs=1, seed=0,
                          update_rule="adam", checkpoint_name=str(tmp_path / "ck"))
    solver.train()
    with np.load(tmp_path / "ck_epoch_1.npz", allow_pickle=False) as f:
        files = set(f.files)
        assert {"params/centres", "params/bias", "optim/centres/m", "optim/centres/v", "bn_params/0/running_mean",
                "history/loss", "__meta__"} <= files
        assert all(f[k].dtype != object for k in files)


def save_one(tmp_path, **kwargs):
    solver = quiet_solver(CentroidModel(), make_data(), batch_size=25, num_epochs=1, seed=0,
                          checkpoint_name=str(tmp_path / "ck"), **kwargs)
    solver.train()
    return tmp_path / "ck_epoch_1.npz"


def test_truncated_checkpoint_raises_naming_the_path(tmp_path):
    path = save_one(tmp_path)
    raw = path.read_bytes()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(raw[: len(raw) // 2])
    solver = quiet_solver(CentroidModel(), make_data())
    with pytest.raises(CheckpointError, match="truncated.npz"):
        solver.load_checkpoint(bad)


def test_corrupted_member_raises(tmp_path):
    path = save_one(tmp_path)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("params/centres.npy")
    raw[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF  # flip a byte inside the centres
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="flipped.npz"):
        quiet_solver(CentroidModel(), make_data()).load_checkpoint(bad)


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
        quiet_solver(CentroidModel(), make_data()).load_checkpoint(path)


def test_missing_checkpoint_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        quiet_solver(CentroidModel(), make_data()).load_checkpoint(tmp_path / "nothing.npz")


def test_checkpoint_of_another_model_or_rule_raises_and_changes_nothing(tmp_path):
    path = save_one(tmp_path)
    model = CentroidModel(D=6, C=4)
    before = {k: v.copy() for k, v in model.params.items()}
    with pytest.raises(CheckpointError, match="shape"):
        quiet_solver(model, make_data(C=4), batch_size=25).load_checkpoint(path)
    for k in before:
        np.testing.assert_array_equal(model.params[k], before[k])
    with pytest.raises(CheckpointError, match="update_rule"):
        quiet_solver(CentroidModel(), make_data(), update_rule="adam", batch_size=25).load_checkpoint(path)


# --- errors ----------------------------------------------------------------------------------------------------

def test_non_finite_loss_raises_with_iteration_and_advice():
    model = CentroidModel()

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
        Solver(CentroidModel(), make_data(), learning_rate=0.1)


def test_unknown_update_rule_raises_listing_allowed():
    with pytest.raises(ValueError, match="'nesterov'.*'sgd', 'sgd_momentum', 'rmsprop', 'adam'"):
        Solver(CentroidModel(), make_data(), update_rule="nesterov")


def test_unknown_optim_config_key_raises():
    with pytest.raises(ValueError, match="'momentum'.*'rmsprop'"):
        Solver(CentroidModel(), make_data(), update_rule="rmsprop", optim_config={"momentum": 0.9})


def test_bad_data_raises_before_training():
    data = make_data()
    del data["y_val"]
    with pytest.raises(ValueError, match="'y_val'"):
        Solver(CentroidModel(), data)
    data = make_data()
    data["y_train"] = data["y_train"][:-1]
    with pytest.raises(ValueError, match="X_train has 50 examples but y_train has 49"):
        Solver(CentroidModel(), data)
    with pytest.raises(ValueError, match="batch_size"):
        Solver(CentroidModel(), make_data(), batch_size=0)


# --- validation at construction --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    (dict(optim_config={"learning_rate": -1.0}), ValueError, r"optim_config\['learning_rate'\] must be a finite number > 0, got -1.0"),
    (dict(optim_config={"learning_rate": float("nan")}), ValueError, r"optim_config\['learning_rate'\].*got nan"),
    (dict(optim_config={"learning_rate": float("inf")}), ValueError, r"optim_config\['learning_rate'\].*got inf"),
    (dict(optim_config={"learning_rate": "1e-3"}), TypeError, r"optim_config\['learning_rate'\] must be a finite number > 0, got '1e-3' of type str"),
    (dict(optim_config={"learning_rate": True}), TypeError, r"optim_config\['learning_rate'\]"),
    (dict(update_rule="sgd_momentum", optim_config={"momentum": 1.5}), ValueError, r"optim_config\['momentum'\] must be a finite number in \[0, 1\), got 1.5"),
    (dict(update_rule="adam", optim_config={"beta2": -0.1}), ValueError, r"optim_config\['beta2'\]"),
    (dict(update_rule="rmsprop", optim_config={"epsilon": 0}), ValueError, r"optim_config\['epsilon'\] must be a finite number > 0"),
    (dict(update_rule="adam", optim_config={"t": -1}), ValueError, r"optim_config\['t'\] must be an integer >= 0"),
    (dict(lr_decay=-1.0), ValueError, r"lr_decay must be a finite number > 0, got -1.0"),
    (dict(lr_decay=float("nan")), ValueError, r"lr_decay must be a finite number > 0, got nan"),
    (dict(lr_decay="0.95"), TypeError, r"lr_decay must be a finite number > 0, got '0.95'"),
    (dict(batch_size=0), ValueError, r"batch_size must be an integer >= 1, got 0"),
    (dict(batch_size=2.5), ValueError, r"batch_size must be an integer >= 1, got 2.5"),
    (dict(num_epochs=-1), ValueError, r"num_epochs must be an integer >= 0, got -1"),
    (dict(num_epochs="3"), ValueError, r"num_epochs must be an integer >= 0, got '3'"),
    (dict(num_train_samples=0), ValueError, r"num_train_samples must be an integer >= 1 or None, got 0"),
    (dict(print_every=0), ValueError, r"print_every must be an integer >= 1, got 0"),
    (dict(seed=-1), ValueError, r"seed must be an int >= 0.*got -1"),
    (dict(seed="0"), TypeError, r"seed must be an int >= 0.*got '0'"),
    (dict(callbacks=[1]), TypeError, r"callbacks must be callables"),
    (dict(checkpoint_name=3), TypeError, r"checkpoint_name must be a str"),
])
def test_bad_hyperparameters_are_refused_at_construction_naming_the_value(kwargs, error, message):
    with pytest.raises(error, match=message):
        Solver(CentroidModel(), make_data(), **kwargs)


def test_every_keyword_of_the_cs231n_notebooks_is_accepted(tmp_path):
    # cs231n 2020 and 2021 (FullyConnectedNets, BatchNormalization, Dropout) pass these; seed and callbacks
    # are this kit's.
    solver = Solver(CentroidModel(), make_data(), update_rule="sgd_momentum",
                    optim_config={"learning_rate": 1e-2, "momentum": 0.9}, lr_decay=0.95, batch_size=25,
                    num_epochs=1, num_train_samples=10, num_val_samples=10, checkpoint_name=str(tmp_path / "c"),
                    print_every=100, verbose=False, seed=0, callbacks=[lambda s: None])
    solver.train()
    assert solver.iteration == 2 and (tmp_path / "c_epoch_1.npz").is_file()


def bad_data(change):
    data = make_data()
    change(data)
    return data


def _nan_row(key, row):
    def change(data):
        data[key] = data[key].copy()
        data[key][row, 2] = np.nan
    return change


@pytest.mark.parametrize("change, error, message", [
    (lambda d: d.__setitem__("y_val", np.where(np.arange(20) == 4, 3, d["y_val"])), ValueError,
     r"y_val holds the label 3 at index 4 \(1 such label\(s\)\), but the model scores 3 classes: labels must lie in 0 .. 2"),
    (lambda d: d.__setitem__("y_train", np.where(np.arange(50) == 7, 99, d["y_train"])), ValueError,
     r"y_train holds the label 99 at index 7"),
    (lambda d: d.__setitem__("y_train", np.where(np.arange(50) == 1, -1, d["y_train"])), ValueError,
     r"y_train holds the negative label -1 at index 1"),
    (lambda d: d.__setitem__("y_val", d["y_val"].astype(np.float64)), TypeError,
     r"y_val must hold integer class labels, got dtype float64"),
    (_nan_row("X_val", 5), ValueError, r"X_val has NaN or infinite values in 1 example\(s\), the first at index 5"),
    (_nan_row("X_train", 11), ValueError, r"X_train has NaN or infinite values in 1 example\(s\), the first at index 11"),
    (lambda d: d.__setitem__("X_val", d["X_val"][:, :5]), ValueError,
     r"X_train examples have shape \(6,\) but X_val examples have shape \(5,\)"),
    (lambda d: d.__setitem__("X_train", d["X_train"][:, 0]), ValueError, r"X_train must have shape \(N, d_1, ..., d_k\), got \(50,\)"),
    (lambda d: d.__setitem__("X_train", d["X_train"].astype(str)), TypeError, r"X_train must hold real numbers"),
])
def test_bad_data_is_refused_at_construction_naming_it(change, error, message):
    with pytest.raises(error, match=message):
        Solver(CentroidModel(), bad_data(change), verbose=False)


def test_parameters_that_are_not_finite_are_refused_before_training():
    model = CentroidModel()
    model.params["bias"][1] = np.nan  # as FullyConnectedNet(weight_scale=nan) would build
    with pytest.raises(ValueError, match=r"model.params\['bias'\] holds NaN or infinite values before training"):
        Solver(model, make_data())


def test_check_accuracy_refuses_labels_the_model_cannot_predict():
    solver = quiet_solver(CentroidModel(), make_data())
    X = make_data()["X_val"][:4]
    with pytest.raises(ValueError, match=r"y holds the label 5 at index 2.*scores 3 classes"):
        solver.check_accuracy(X, np.array([0, 1, 5, 2]))


# --- checkpoints that were tampered with --------------------------------------------------------------------

def _rewrite(path, change):
    """Rewrite the checkpoint at path with change(arrays, meta) applied (arrays without '__meta__')."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays.pop("__meta__")))
    change(arrays, meta)
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def _set_meta(key, value):
    def change(arrays, meta):
        meta[key] = value
    return change


def _set_array(key, value):
    def change(arrays, meta):
        arrays[key] = value(arrays[key]) if callable(value) else value
    return change


def _bad_generator(arrays, meta):
    meta["rng"]["bit_generator"] = "os.system"


def _bad_generator_state(arrays, meta):
    meta["rng"]["state"] = {"state": "not a number", "inc": 1}


def _drop_optimizer_state(arrays, meta):
    del meta["optim"]["bias"]


def _negative_learning_rate(arrays, meta):
    meta["optim"]["bias"]["learning_rate"] = {"value": -0.1}


TAMPERED = {
    "global key of the wrong length": (_set_array("global_rng/key", lambda key: key[:100]), "624 integers"),
    "unknown bit generator": (_bad_generator, "unknown bit generator 'os.system'"),
    "bad generator state": (_bad_generator_state, "does not fit"),
    "epoch not an integer": (_set_meta("epoch", "one"), r"epoch must be an integer >= 0, got 'one'"),
    "negative iteration": (_set_meta("iteration", -2), r"iteration must be an integer >= 0"),
    "best_val_acc above 1": (_set_meta("best_val_acc", 7), r"best_val_acc must be a number in \[0, 1\]"),
    "adam m of the wrong shape": (_set_array("optim/centres/m", np.zeros((2, 2))),
                                  r"optimizer state centres/m must be a float array of shape \(3, 6\)"),
    "negative adam v": (_set_array("optim/centres/v", lambda v: v - 1.0), r"centres/v holds NaN, infinite or negative"),
    "optimizer state missing": (_drop_optimizer_state, r"optimizer state for \['centres'\]"),
    "negative learning rate": (_negative_learning_rate, r"optim_config\['learning_rate'\] must be a finite number > 0"),
    "NaN parameter": (_set_array("params/bias", lambda b: b * np.nan), r"params 'bias' holds NaN"),
    "negative running variance": (_set_array("bn_params/0/running_var", -np.ones(6)), r"negative variances"),
    "running mean of the wrong shape": (_set_array("bn_params/0/running_mean", np.zeros(4)),
                                        r"bn_params\[0\]\['running_mean'\] has shape \(4,\)"),
    "history of the wrong length": (_set_array("history/loss", lambda h: h[:-1]), r"loss history of length 1"),
    "accuracy history of text": (_set_array("history/val_acc", np.array(["a", "b"])), r"history/val_acc must be"),
    "missing array": (_set_array("params/centres", None), r"params/centres"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_checkpoint_is_refused_before_anything_changes(tmp_path, case):
    path = save_one(tmp_path, update_rule="adam")
    change, message = TAMPERED[case]
    if case == "missing array":
        def change(arrays, meta):
            del arrays["params/centres"]
    _rewrite(path, change)

    model = CentroidModel(seed=7)
    model.bn_params[0]["running_mean"] = np.full(6, 0.5)
    solver = quiet_solver(model, make_data(), update_rule="adam", batch_size=25, seed=3)
    before = {k: v.copy() for k, v in model.params.items()}
    configs = json.dumps({p: sorted(c) for p, c in solver.optim_configs.items()})
    np.random.seed(42)
    global_before = np.random.get_state()[1].copy()
    sample_before = solver._rng.bit_generator.state
    with pytest.raises(CheckpointError, match=message) as info:
        solver.load_checkpoint(path)
    assert str(path) in str(info.value)
    for k in before:
        np.testing.assert_array_equal(model.params[k], before[k])
    np.testing.assert_array_equal(model.bn_params[0]["running_mean"], np.full(6, 0.5))
    assert "running_var" not in model.bn_params[0]
    assert solver.iteration == 0 and solver.epoch == 0 and solver.loss_history == [] and solver.best_params == {}
    assert json.dumps({p: sorted(c) for p, c in solver.optim_configs.items()}) == configs
    np.testing.assert_array_equal(np.random.get_state()[1], global_before)
    assert solver._rng.bit_generator.state == sample_before


def test_untampered_checkpoint_still_loads(tmp_path):
    path = save_one(tmp_path, update_rule="adam")
    _rewrite(path, lambda arrays, meta: None)
    solver = quiet_solver(CentroidModel(), make_data(), update_rule="adam", batch_size=25)
    solver.load_checkpoint(path)
    assert solver.epoch == 1 and solver.iteration == 2


def _killed_pid():
    """The id of a process that ran and was killed with SIGKILL (so it no longer runs)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    process.kill()
    process.wait(timeout=10)
    return process.pid


def test_stale_temporaries_of_the_checkpoint_are_removed_on_the_next_write(tmp_path):
    from cs231n_bn.kit.atomic import _host

    dead, alive = _killed_pid(), os.getppid()
    stale = [f".ck_epoch_{e}.npz.{_host()}-{dead}.abc123_x.tmp" for e in (1, 7)]
    kept = [f".ck_epoch_3.npz.{_host()}-{alive}.abc123_x.tmp",  # its process still runs
            f".other_epoch_1.npz.{_host()}-{dead}.abc123_x.tmp",  # another checkpoint's
            ".ck_epoch_1.npz.notes.tmp"]  # not a temporary of atomic_write
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x" * 1000)
    save_one(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(kept + ["ck_epoch_1.npz"])


# --- output and callbacks ----------------------------------------------------------------------------------

def test_verbose_prints_cs231n_lines_and_quiet_prints_nothing(capsys):
    solver = Solver(CentroidModel(), make_data(), batch_size=10, num_epochs=2, print_every=4, seed=0)
    solver.train()
    out, err = capsys.readouterr()
    assert "(Iteration 1 / 10) loss:" in out and "(Iteration 5 / 10) loss:" in out
    assert "(Epoch 0 / 2) train acc:" in out and "(Epoch 2 / 2) train acc:" in out and "val_acc:" in out
    assert "10/10" in err  # the progress bar, on stderr
    quiet_solver(CentroidModel(), make_data(), batch_size=10, num_epochs=2, seed=0).train()
    assert capsys.readouterr() == ("", "")


def test_callbacks_run_at_start_and_after_every_iteration():
    seen = []
    solver = quiet_solver(CentroidModel(), make_data(), batch_size=10, num_epochs=2, seed=0,
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
