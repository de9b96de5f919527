"""`python -m cs231n_bn reproduce` (cs231n_bn/kit/experiments/reproduce.py): its options, its files, and what it
does on bad arguments, a bad output folder and Ctrl-C.

The command's tests train for a few hundred steps on Fashion-MNIST (fetched by setup.sh); the experiment's own
tests (tests/test_figure1.py) use small synthetic data.
"""

import contextlib
import csv
import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from cs231n_bn.kit.experiments import figure1, reproduce

STEPS = 200
EVAL_EVERY = 100
SEEDS = "0,1"
# A tiny but complete run: the learning-rate search (2 candidates, 50 steps), Figure 1 over two seeds.
TINY = ["--steps", str(STEPS), "--eval-every", str(EVAL_EVERY), "--seeds", SEEDS, "--search-candidates", "0.1,1",
        "--search-steps", "50", "--no-progress"]
# The cheapest complete run, for the tests of the files and of Ctrl-C: given learning rates (no search), one seed.
FAST = ["--steps", "20", "--eval-every", "10", "--seeds", "0", "--learning-rates", "0.1", "--no-progress",
        "--workers", "1"]
SWEEP = ["--sweep", "--sweep-steps", "40", "--sweep-learning-rates", "0.1,1", "--sweep-weight-scales", "0.01,0.1"]
NEW_SET = {"figure1.png", "figure1a.png", "figure1b.png", "figure1c.png", "figure1.csv", "learning_rates.png",
           "learning_rates.csv", "summary.txt"}
FAST_SET = NEW_SET - {"learning_rates.png", "learning_rates.csv"}


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
    argv = [a for a in TINY if a != "--no-progress"] + SWEEP + ["--out", str(out_dir)]
    status, stdout, stderr = run_main(argv)
    return status, stdout, stderr, out_dir


def old_set(out_dir):
    """An earlier run's files (recognizable contents); returns {name: bytes}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {name: f"old {name}".encode() for name in NEW_SET}
    for name, content in files.items():
        (out_dir / name).write_bytes(content)
    return files


def contents(out_dir):
    return {p.name: p.read_bytes() for p in out_dir.iterdir() if not p.is_dir()}


@pytest.fixture
def small_data(monkeypatch):
    """The command on small synthetic data (tests of its files and of Ctrl-C, not of the experiment)."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((10, 784)).astype(np.float32)
    data = {}
    for split, n in (("train", 600), ("val", 200), ("test", 300)):
        y = rng.integers(10, size=n)
        data["X_" + split] = centres[y] + 0.5 * rng.standard_normal((n, 784)).astype(np.float32)
        data["y_" + split] = y
    monkeypatch.setattr(figure1, "load_data", lambda dataset, root=None: dict(data, dataset=dataset))


# ----------------------------------------------------------------------------------------------------------------
# What it writes
# ----------------------------------------------------------------------------------------------------------------


def test_command_writes_figures_csv_files_and_summary(command_run):
    status, stdout, _, out_dir = command_run
    assert status == 0
    names = {p.name for p in out_dir.iterdir()}
    assert names == NEW_SET | {"sensitivity.png", "sensitivity.csv"}  # no temporary files or folders left
    for name in names:
        assert (out_dir / name).stat().st_size > 0, name
        if name.endswith(".png"):
            assert (out_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_command_csv_has_one_row_per_seed_and_evaluation(command_run):
    _, _, _, out_dir = command_run
    with open(out_dir / "figure1.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == figure1.CSV_COLUMNS
    steps = list(range(EVAL_EVERY, STEPS + 1, EVAL_EVERY))
    assert [(int(r[0]), int(r[1])) for r in rows[1:]] == [(s, seed) for seed in (0, 1) for s in steps]
    values = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    assert np.all(np.isfinite(values))
    accuracies = values[:, :2]
    assert np.all((accuracies >= 0) & (accuracies <= 1))
    assert np.all(accuracies[len(steps) - 1::len(steps), 1] > 0.5)  # with BN, 200 steps beat chance (0.1) by far
    p = values[:, 2:].reshape(len(values), 2, 3)
    assert np.all(np.diff(p, axis=2) >= 0)  # 15th <= 50th <= 85th percentile


def test_command_search_and_sweep_csv_files(command_run):
    _, stdout, _, out_dir = command_run
    with open(out_dir / "learning_rates.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["network"], float(r["learning_rate"])) for r in rows] == [
        ("baseline", 0.1), ("baseline", 1.0), ("batchnorm", 0.1), ("batchnorm", 1.0)]
    chosen = {}
    for name in figure1.NETWORKS:  # one chosen rate per network, the one with the best final validation accuracy
        mine = [r for r in rows if r["network"] == name]
        assert [r["chosen"] for r in mine].count("yes") == 1
        best = max(mine, key=lambda r: float(r["val_acc_final"]))
        assert best["chosen"] == "yes"
        chosen[name] = float(best["learning_rate"])
    assert f"learning rate {chosen['baseline']:g} without BN, {chosen['batchnorm']:g} with BN" in stdout
    with open(out_dir / "sensitivity.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 2  # weight scales x learning rates x checkpoints
    assert {int(r["checkpoint_step"]) for r in rows} == {4, 40}
    assert {r["verdict"] for r in rows} <= {"helps", "hurts", "no difference"}


def test_command_prints_the_summary(command_run):
    _, stdout, _, out_dir = command_run
    assert "Figure 1 on Fashion-MNIST" in stdout
    assert f"{STEPS:,} steps of 60 examples" in stdout
    assert "seeds 0, 1" in stdout and "mean +- sd over 2 seeds" in stdout
    assert f"test accuracy, step {STEPS:,}" in stdout
    assert stdout.count(" of 2 seeds]") == 4  # one line per claim of the paper
    assert "learning-rate search (the rule)" in stdout and "chosen (*)" in stdout
    assert "Sensitivity sweep" in stdout and "old setting (weight scale 0.01, learning rate 0.1)" in stdout
    assert (out_dir / "summary.txt").read_text() in stdout


def test_command_shows_a_progress_bar(command_run):
    _, _, stderr, _ = command_run
    assert "Figure 1" in stderr and "800/800" in stderr  # 2 seeds x 2 networks x 200 steps


def test_learning_rates_given_skip_the_search_and_its_files(tmp_path, small_data):
    out_dir = tmp_path / "out"
    status, stdout, _ = run_main(FAST + ["--learning-rates", "0.5,0.2", "--seeds", "3", "--out", str(out_dir)])
    assert status == 0
    assert {p.name for p in out_dir.iterdir()} == FAST_SET
    assert "learning rate 0.5 without BN, 0.2 with BN" in stdout and "seeds 3" in stdout
    assert "learning-rate search" not in stdout


def test_a_new_run_replaces_the_whole_earlier_set(tmp_path, small_data):
    out_dir = tmp_path / "out"
    old = old_set(out_dir)
    (out_dir / "sensitivity.png").write_bytes(b"old")  # from an earlier --sweep run: not part of the new set
    (out_dir / "notes.txt").write_text("mine")  # not the command's: kept
    status, _, _ = run_main(FAST + ["--out", str(out_dir)])
    assert status == 0
    now = contents(out_dir)
    assert set(now) == FAST_SET | {"notes.txt"}  # the earlier search and sweep files went with their summary
    assert all(now[name] != old[name] for name in FAST_SET)


# ----------------------------------------------------------------------------------------------------------------
# Bad arguments and a bad output folder
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, expected", [
    (["--steps", "0"], "--steps: expected a number of steps in 1..1,000,000"),
    (["--steps", "-5"], "--steps: expected a number of steps in 1..1,000,000"),
    (["--steps", "many"], "--steps: expected a number of steps in 1..1,000,000"),
    # 10**17: refused at once, no list of evaluation steps is built (it used to end in a MemoryError)
    (["--steps", str(10**17)], f"--steps: expected a number of steps in 1..1,000,000 (the paper trains 50,000), "
                               f"got '{10**17}'"),
    (["--search-steps", str(10**17)], "--search-steps: expected a number of steps in 1..1,000,000"),
    (["--sweep-steps", "0"], "--sweep-steps: expected a number of steps"),
    (["--eval-every", "0"], "--eval-every: expected a positive integer"),
    (["--seeds", "-1"], "--seeds: expected distinct integers >= 0 separated by commas"),
    (["--seeds", "1,1"], "--seeds: expected distinct integers >= 0"),
    (["--seeds", "a,b"], "--seeds: expected distinct integers >= 0"),
    (["--learning-rates", "nan"], "--learning-rates: expected 'search', one positive number"),
    (["--learning-rates", "0.1,0.2,0.3"], "--learning-rates: expected 'search', one positive number"),
    (["--search-candidates", "0.1,-1"], "--search-candidates: expected positive numbers separated by commas"),
    (["--sweep-weight-scales", "inf"], "--sweep-weight-scales: expected positive numbers"),
    (["--weight-scale", "0"], "--weight-scale: expected a positive number"),
    (["--unit", "100"], "--unit: expected a unit index in 0..99"),
    (["--workers", "0"], "--workers: expected a positive integer"),
    (["--dataset", "cifar10"], "--dataset: invalid choice: 'cifar10'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--step", "10"], "unrecognized arguments: --step"),  # no abbreviations
    (["extra"], "unrecognized arguments: extra"),
])
def test_command_rejects_bad_arguments(argv, expected, tmp_path):
    start = time.perf_counter()
    status, stdout, stderr = run_main(argv + ["--out", str(tmp_path / "out")])
    assert status == 2
    assert expected in stderr
    assert stderr.startswith("usage: python -m cs231n_bn reproduce")
    assert not (tmp_path / "out").exists()
    assert time.perf_counter() - start < 10


def test_command_rejects_an_output_path_that_is_a_file(tmp_path):
    target = tmp_path / "taken"
    target.write_text("")
    status, _, stderr = run_main(["--steps", "1", "--out", str(target)])
    assert status == 1
    assert "is not a directory" in stderr


def test_a_folder_in_the_place_of_a_result_fails_before_anything_is_overwritten(tmp_path, small_data):
    out_dir = tmp_path / "out"
    old = old_set(out_dir)
    (out_dir / "summary.txt").unlink()
    (out_dir / "summary.txt").mkdir()
    del old["summary.txt"]
    start = time.perf_counter()
    status, _, stderr = run_main(FAST + ["--out", str(out_dir)])
    assert status == 1
    assert "summary.txt' exists and is not a regular file" in stderr and "nothing was written" in stderr
    assert time.perf_counter() - start < 10  # refused before training
    now = contents(out_dir)
    assert now.pop("summary.txt", None) is None and (out_dir / "summary.txt").is_dir()
    assert now == old


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
    for option in ("--dataset", "--steps", "--out", "--seeds", "--eval-every", "--learning-rates",
                   "--search-candidates", "--sweep", "--sweep-learning-rates", "--sweep-weight-scales", "--workers"):
        assert option in stdout
    assert "python -m cs231n_bn fetch mnist" in stdout


# ----------------------------------------------------------------------------------------------------------------
# Ctrl-C
# ----------------------------------------------------------------------------------------------------------------


def test_ctrl_c_while_writing_leaves_the_earlier_set_intact(tmp_path, monkeypatch, small_data):
    out_dir = tmp_path / "out"
    old = old_set(out_dir)
    real = figure1.save_csv

    def interrupted(result, path):
        real(result, path)  # the figures and this CSV are written by now
        raise KeyboardInterrupt

    monkeypatch.setattr(figure1, "save_csv", interrupted)
    status, _, stderr = run_main(FAST + ["--out", str(out_dir)])
    assert status == 130
    assert stderr.strip().splitlines() == [
        "python -m cs231n_bn reproduce: interrupted; nothing written (the files in --out are unchanged)"]
    assert contents(out_dir) == old  # nor any temporary file or folder


def test_ctrl_c_while_writing_into_a_new_folder_leaves_no_folder(tmp_path, monkeypatch, small_data):
    def interrupted(result, out_dir):
        raise KeyboardInterrupt

    monkeypatch.setattr(figure1, "save_figures", interrupted)
    status, _, _ = run_main(FAST + ["--out", str(tmp_path / "new")])
    assert status == 130
    assert not (tmp_path / "new").exists()


def test_ctrl_c_while_the_files_are_moved_into_place_completes_the_new_set(tmp_path, monkeypatch, small_data):
    out_dir = tmp_path / "out"
    old = old_set(out_dir)
    real_replace = os.replace
    sent = []

    def replace(src, dst):
        if os.path.dirname(os.fspath(dst)) == str(out_dir) and not sent:
            sent.append(dst)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C between the first and the second rename
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    status, stdout, stderr = run_main(FAST + ["--out", str(out_dir)])
    assert sent and status == 130
    assert "interrupted while moving the results into place; the new set is complete" in stderr
    now = contents(out_dir)
    assert set(now) == FAST_SET and all(now[name] != old[name] for name in FAST_SET)
    assert now["summary.txt"].decode() in stdout


def test_ctrl_c_while_loading_the_data_exits_130_with_one_line(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(figure1, "load_data", interrupted)
    status, stdout, stderr = run_main(FAST + ["--out", str(tmp_path / "out")])
    assert status == 130
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert not (tmp_path / "out").exists()


def _wait_for(proc, ready, timeout=60):
    """Poll until ready() or the process ends; True if ready."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.02)
    return False


def _maps(pid):
    try:
        with open(f"/proc/{pid}/maps") as f:
            return f.read()
    except OSError:
        return ""


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return f.read().split()
    except OSError:
        return []


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc to see the start-up's stages")
@pytest.mark.parametrize("stage", ["imports", "training"])
def test_sigint_during_start_up_from_the_shell(tmp_path, stage):
    """A real SIGINT once NumPy is being loaded (imports, then the data set), or once the workers have started."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-m", "cs231n_bn", "reproduce", "--no-progress",
                             "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        if stage == "imports":
            ready = _wait_for(proc, lambda: "numpy" in _maps(proc.pid))
        else:
            ready = _wait_for(proc, lambda: len(_children(proc.pid)) >= 1)
        assert ready, "the command ended before the stage was reached"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == [
        "python -m cs231n_bn reproduce: interrupted; nothing written (the files in --out are unchanged)"]
    assert not (tmp_path / "out").exists()
