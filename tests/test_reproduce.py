"""`python -m cs231n_bn reproduce` and the Figure 1 experiment behind it (cs231n_bn/kit/experiments/figure1.py).

The command's tests train for a few hundred steps on Fashion-MNIST (fetched by setup.sh); the experiment's
unit tests use small synthetic data.
"""

import contextlib
import csv
import io
import os
import subprocess
import sys

import numpy as np
import pytest

from cs231n_bn.classifiers.paper_net import PaperNet
from cs231n_bn.kit.experiments import figure1, reproduce
from cs231n_bn.kit.monitors import forward_activations

STEPS = 200
EVAL_EVERY = 100


def run_main(argv):
    """Run the command in this process; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = reproduce.main(argv)
        except SystemExit as exc:  # argparse exits on bad arguments
            status = exc.code
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def command_run(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("reproduce") / "results"
    status, stdout, stderr = run_main(["--steps", str(STEPS), "--eval-every", str(EVAL_EVERY), "--out", str(out_dir)])
    return status, stdout, stderr, out_dir


def synthetic_data(num_train=600, num_test=300, seed=0):
    """Ten Gaussian blobs in 784 dimensions: learnable in a few hundred steps."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, 784)).astype(np.float32)
    y_train, y_test = rng.integers(10, size=num_train), rng.integers(10, size=num_test)
    X_train = centres[y_train] + 0.5 * rng.standard_normal((num_train, 784)).astype(np.float32)
    X_test = centres[y_test] + 0.5 * rng.standard_normal((num_test, 784)).astype(np.float32)
    return {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test, "dataset": "synthetic"}


# ----------------------------------------------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------------------------------------------


def test_command_writes_figures_csv_and_summary(command_run):
    status, stdout, _, out_dir = command_run
    assert status == 0
    for name in ("figure1.png", "figure1a.png", "figure1b.png", "figure1c.png", "figure1.csv", "summary.txt"):
        path = out_dir / name
        assert path.is_file() and path.stat().st_size > 0, name
    for name in ("figure1.png", "figure1a.png"):
        assert (out_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p.name for p in out_dir.iterdir() if p.name.endswith(".tmp")]  # atomic writes leave no temp files


def test_command_csv_has_one_row_per_evaluation(command_run):
    _, _, _, out_dir = command_run
    with open(out_dir / "figure1.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == figure1.CSV_COLUMNS
    assert [int(r[0]) for r in rows[1:]] == list(range(EVAL_EVERY, STEPS + 1, EVAL_EVERY))
    values = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    assert np.all(np.isfinite(values))
    accuracies = values[:, :2]
    assert np.all((accuracies >= 0) & (accuracies <= 1))
    assert accuracies[-1, 1] > 0.5  # with batch norm, 200 steps already beat chance (0.1) by far
    p = values[:, 2:].reshape(len(values), 2, 3)
    assert np.all(np.diff(p, axis=2) >= 0)  # 15th <= 50th <= 85th percentile


def test_command_prints_the_summary_table(command_run):
    _, stdout, _, out_dir = command_run
    assert "Figure 1 on Fashion-MNIST" in stdout
    assert f"{STEPS:,} steps of 60 examples" in stdout
    assert "without BN" in stdout and "with BN" in stdout
    assert f"test accuracy at step {STEPS:,}" in stdout
    assert stdout.count("held") >= 4  # one line per claim of the paper
    assert (out_dir / "summary.txt").read_text() in stdout
    assert len(stdout.splitlines()) <= 25  # one screen


def test_command_shows_a_progress_bar(command_run):
    _, _, stderr, _ = command_run
    assert f"{STEPS}/{STEPS}" in stderr


@pytest.mark.parametrize("argv, expected", [
    (["--steps", "0"], "--steps: expected a positive integer, got '0'"),
    (["--steps", "-5"], "--steps: expected a positive integer, got '-5'"),
    (["--steps", "many"], "--steps: expected a positive integer, got 'many'"),
    (["--eval-every", "0"], "--eval-every: expected a positive integer"),
    (["--seed", "-1"], "--seed: expected an integer >= 0"),
    (["--learning-rate", "nan"], "--learning-rate: expected a positive number"),
    (["--unit", "100"], "--unit: expected a unit index in 0..99"),
    (["--dataset", "cifar10"], "--dataset: invalid choice: 'cifar10'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--step", "10"], "unrecognized arguments: --step"),  # no abbreviations
    (["extra"], "unrecognized arguments: extra"),
])
def test_command_rejects_bad_arguments(argv, expected, tmp_path):
    status, stdout, stderr = run_main(argv + ["--out", str(tmp_path / "out")])
    assert status == 2
    assert expected in stderr
    assert stderr.startswith("usage: python -m cs231n_bn reproduce")
    assert not (tmp_path / "out").exists()


def test_command_rejects_an_output_path_that_is_a_file(tmp_path):
    target = tmp_path / "taken"
    target.write_text("")
    status, _, stderr = run_main(["--steps", "1", "--out", str(target)])
    assert status == 1
    assert "is not a directory" in stderr


def test_missing_dataset_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("CS231N_BN_DATA", str(tmp_path / "empty"))
    status, stdout, stderr = run_main(["--dataset", "mnist", "--steps", "10", "--out", str(tmp_path / "out")])
    assert status == 1
    assert "python -m cs231n_bn fetch mnist" in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "out").exists()


def test_missing_dataset_from_the_shell_exits_without_traceback(tmp_path):
    env = dict(os.environ, CS231N_BN_DATA=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "cs231n_bn", "reproduce", "--dataset", "mnist",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert "python -m cs231n_bn fetch mnist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_describes_the_command():
    status, stdout, _ = run_main(["--help"])
    assert status == 0
    for option in ("--dataset", "--steps", "--out", "--seed", "--eval-every"):
        assert option in stdout
    assert "python -m cs231n_bn fetch mnist" in stdout


# ----------------------------------------------------------------------------------------------------------------
# The experiment
# ----------------------------------------------------------------------------------------------------------------


def test_eval_steps_end_with_the_last_step():
    assert figure1.eval_steps(1000, 500).tolist() == [500, 1000]
    assert figure1.eval_steps(1200, 500).tolist() == [500, 1000, 1200]
    assert figure1.eval_steps(30, 500).tolist() == [30]


def test_run_records_curves_of_the_right_shapes_and_learns():
    data = synthetic_data()
    result = figure1.run(data, steps=250, eval_every=100, seed=3, weight_scale=0.1)
    assert result.steps.tolist() == [100, 200, 250]
    for name in figure1.NETWORKS:
        assert result.accuracy[name].shape == (3,)
        assert result.percentiles[name].shape == (3, 3)
        assert np.all(np.diff(result.percentiles[name], axis=1) >= 0)
    assert result.accuracy["batchnorm"][-1] > 0.9  # the blobs are easy: chance is 0.1
    assert result.config == dict(dataset="synthetic", steps=250, batch_size=60,
                                 learning_rate=figure1.LEARNING_RATE, weight_scale=0.1, eval_every=100, seed=3,
                                 unit=0, num_test=300)
    assert result.seconds > 0


def test_run_is_deterministic_given_the_seed():
    data = synthetic_data()
    a = figure1.run(data, steps=60, eval_every=30, seed=1)
    b = figure1.run(data, steps=60, eval_every=30, seed=1)
    c = figure1.run(data, steps=60, eval_every=30, seed=2)
    for name in figure1.NETWORKS:
        np.testing.assert_array_equal(a.percentiles[name], b.percentiles[name])
        np.testing.assert_array_equal(a.accuracy[name], b.accuracy[name])
    assert not np.array_equal(a.percentiles["baseline"], c.percentiles["baseline"])


def test_evaluate_reports_accuracy_and_percentiles_of_one_sigmoid_input():
    data = synthetic_data(num_test=200)
    model = PaperNet(normalization="batchnorm", weight_scale=0.1, seed=0)
    model.loss(data["X_train"][:60], data["y_train"][:60])  # one train-mode pass: running statistics exist
    acc, pct = figure1.evaluate(model, data["X_test"], data["y_test"], unit=7)
    acts = forward_activations(model, data["X_test"])
    # With batch norm the sigmoid's input is the batch norm output, gamma * x_hat + beta, at test time.
    np.testing.assert_array_equal(acts["preact3"], acts["norm3"])
    np.testing.assert_allclose(pct, np.percentile(acts["preact3"][:, 7], [15, 50, 85]), rtol=1e-6)
    assert acc == np.mean(acts["scores"].argmax(axis=1) == data["y_test"])


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(steps=0), ValueError, "steps must be an integer >= 1, got 0"),
    (dict(steps=2.5), ValueError, "steps must be an integer >= 1, got 2.5"),
    (dict(batch_size=1), ValueError, "batch_size must be an integer >= 2, got 1"),
    (dict(eval_every=-1), ValueError, "eval_every must be an integer >= 1"),
    (dict(learning_rate=0.0), ValueError, "learning_rate must be a finite number > 0, got 0.0"),
    (dict(unit=100), ValueError, "unit must be an integer in [0, 100), got 100"),
    (dict(seed=-1), ValueError, "seed must be an integer >= 0, got -1"),
    (dict(lr=0.1), TypeError, "unexpected keyword argument(s) 'lr'"),
])
def test_run_rejects_bad_arguments(kwargs, error, text):
    with pytest.raises(error) as info:
        figure1.run(synthetic_data(num_train=100, num_test=10), **kwargs)
    assert text in str(info.value)


def test_run_stops_on_a_non_finite_loss():
    data = synthetic_data(num_train=100, num_test=10)
    data["X_train"][:] = np.nan
    with pytest.raises(FloatingPointError, match="loss of the without BN network is nan at step 1"):
        figure1.run(data, steps=50)


def make_result(acc_baseline, acc_batchnorm, median_baseline, median_batchnorm, spread_baseline, spread_batchnorm):
    steps = np.arange(1, len(acc_baseline) + 1) * 2500

    def pct(median, spread):
        median, spread = np.asarray(median, float), np.asarray(spread, float)
        return np.stack([median - spread / 2, median, median + spread / 2], axis=1)

    return figure1.Figure1Result(
        steps=steps, accuracy={"baseline": np.array(acc_baseline), "batchnorm": np.array(acc_batchnorm)},
        percentiles={"baseline": pct(median_baseline, spread_baseline),
                     "batchnorm": pct(median_batchnorm, spread_batchnorm)},
        config=dict(dataset="fashion-mnist", steps=int(steps[-1]), batch_size=60, learning_rate=0.1,
                    weight_scale=0.01, eval_every=2500, seed=0, unit=0, num_test=10000))


def test_claims_hold_when_the_paper_is_right_and_fail_when_not():
    good = make_result([0.5, 0.6, 0.7], [0.8, 0.85, 0.86], [0, 1, 3], [0, 0.1, 0.2], [1, 2, 4], [2, 2.1, 2.2])
    assert [holds for _, holds in figure1.claims(good)] == [True, True, True, True]
    # Early is step 5000 (the second evaluation): BN behind there; ahead at the end; no drift difference.
    bad = make_result([0.5, 0.9, 0.7], [0.8, 0.85, 0.86], [0, 0.1, 0.2], [0, 1, 3], [2, 2.1, 2.2], [1, 2, 4])
    assert [holds for _, holds in figure1.claims(bad)] == [False, True, False, False]
    d = figure1.drift(good, "baseline")
    assert d == {"median_range": 3.0, "spread_range": 3.0, "final_median": 3.0, "final_spread": 4.0}
    table = figure1.summary_table(bad)
    assert "[NOT held] BN trains faster (higher test accuracy at step 5,000)" in table
    assert "[held] BN reaches higher test accuracy (step 7,500)" in table
    assert "0.9000" in table and "0.8500" in table


def test_csv_and_figures_round_trip(tmp_path):
    result = make_result([0.5, 0.6, 0.7], [0.8, 0.85, 0.86], [0, 1, 3], [0, 0.1, 0.2], [1, 2, 4], [2, 2.1, 2.2])
    path = figure1.save_csv(result, tmp_path / "sub" / "curves.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2500, 5000, 7500]
    assert float(rows[2]["test_acc_batchnorm"]) == 0.86
    assert float(rows[2]["p85_baseline"]) == 5.0 and float(rows[2]["p15_baseline"]) == 1.0
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # not the private mode of a temp file
    paths = figure1.save_figures(result, tmp_path / "figs")
    assert [os.path.basename(p) for p in paths] == ["figure1.png", "figure1a.png", "figure1b.png", "figure1c.png"]
    fig = figure1.plot(result)
    assert len(fig.axes) == 3
    assert fig.axes[1].get_ylim() == fig.axes[2].get_ylim()  # (b) and (c) share their scale
