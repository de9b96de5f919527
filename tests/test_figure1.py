"""The Figure 1 experiment (cs231n_bn/kit/experiments/figure1.py), its runs (runs.py) and the sensitivity sweep
(sweep.py), on small synthetic data: seconds, not minutes."""

import csv
import os

import numpy as np
import pytest

from cs231n_bn.kit.experiments import figure1, runs, sweep
from cs231n_bn.kit.monitors import forward_activations


def synthetic_data(num_train=600, num_val=200, num_test=300, seed=0):
    """Ten Gaussian blobs in 784 dimensions: learnable in a few hundred steps."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((10, 784)).astype(np.float32)
    data = {"dataset": "synthetic"}
    for split, n in (("train", num_train), ("val", num_val), ("test", num_test)):
        y = rng.integers(10, size=n)
        data["X_" + split] = centres[y] + 0.5 * rng.standard_normal((n, 784)).astype(np.float32)
        data["y_" + split] = y
    return data


DATA = synthetic_data()


# ----------------------------------------------------------------------------------------------------------------
# One run (runs.py)
# ----------------------------------------------------------------------------------------------------------------


def test_a_run_records_every_eval_every_steps_and_the_last_step():
    spec = runs.RunSpec("batchnorm", 0.1, 0.1, seed=3, steps=250, eval_every=100, track_unit=7)
    r = runs.train(DATA, spec)
    assert r["steps"].tolist() == [100, 200, 250]
    assert r["accuracy"].shape == (3,) and r["percentiles"].shape == (3, 3)
    assert np.all(np.diff(r["percentiles"], axis=1) >= 0)
    assert r["accuracy"][-1] > 0.9  # the blobs are easy: chance is 0.1
    assert r["diverged_at"] is None and r["seconds"] > 0


def test_a_run_is_the_section_4_1_network_and_records_its_sigmoid_input():
    spec = runs.RunSpec("batchnorm", 0.1, 0.1, seed=0, steps=10, eval_every=10, track_unit=7)
    model = runs.build_model(spec)
    assert sorted(model.params) == sorted([f"W{i}" for i in range(1, 5)] + [f"b{i}" for i in range(1, 5)]
                                          + [f"gamma{i}" for i in range(1, 4)] + [f"beta{i}" for i in range(1, 4)])
    assert [model.params[f"W{i}"].shape for i in range(1, 5)] == [(784, 100), (100, 100), (100, 100), (100, 10)]
    model.loss(DATA["X_train"][:60], DATA["y_train"][:60])
    acts = forward_activations(model, DATA["X_test"])
    assert "sigmoid3" in acts
    # With batch norm the sigmoid's input is the batch norm output, gamma * x_hat + beta, at test time.
    np.testing.assert_array_equal(acts["preact3"], acts["norm3"])
    np.testing.assert_allclose(acts["sigmoid3"], 1 / (1 + np.exp(-acts["preact3"].astype(np.float64))), rtol=1e-5)


def test_runs_of_one_seed_start_from_the_same_weights_whatever_the_normalization():
    plain = runs.build_model(runs.RunSpec(None, 0.1, 0.1, seed=5, steps=1))
    normed = runs.build_model(runs.RunSpec("batchnorm", 3.0, 0.1, seed=5, steps=1))
    for key in plain.params:
        np.testing.assert_array_equal(plain.params[key], normed.params[key])


def test_results_do_not_depend_on_the_number_of_workers():
    specs = [runs.RunSpec(norm, 0.3, 0.1, seed=s, steps=60, eval_every=30, track_unit=0)
             for s in (0, 1) for norm in (None, "batchnorm")]
    one = runs.run_all(DATA, specs, workers=1)
    two = runs.run_all(DATA, specs, workers=2)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a["accuracy"], b["accuracy"])
        np.testing.assert_array_equal(a["percentiles"], b["percentiles"])
        assert a["spec"] == b["spec"]


def test_a_diverging_run_stops_and_says_where():
    data = dict(DATA, X_train=np.full(DATA["X_train"].shape, 1e300))  # finite, but not in the float32 net: a non-finite loss
    r = runs.train(data, runs.RunSpec(None, 0.1, 0.1, seed=0, steps=50, eval_every=10))
    assert r["diverged_at"] == 1 and r["steps"].size == 0


@pytest.mark.parametrize("kwargs, text", [
    (dict(steps=0), "steps must be an integer in [1, 1,000,000], got 0"),
    (dict(steps=10**17), "steps must be an integer in [1, 1,000,000], got 100000000000000000"),
    (dict(steps=2.5), "steps must be an integer in [1, 1,000,000], got 2.5"),
    (dict(batch_size=1), "batch_size must be an integer >= 2, got 1"),
    (dict(eval_every=-1), "eval_every must be an integer >= 1"),
    (dict(learning_rate=0.0), "learning_rate must be a finite number > 0, got 0.0"),
    (dict(weight_scale=float("nan")), "weight_scale must be a finite number > 0, got nan"),
    (dict(track_unit=100), "track_unit must be an integer in [0, 99], got 100"),
    (dict(seed=-1), "seed must be an integer >= 0, got -1"),
    (dict(normalization="layernorm"), "normalization must be None or 'batchnorm', got 'layernorm'"),
    (dict(split="train"), "split must be one of 'val', 'test', got 'train'"),
])
def test_run_spec_rejects_bad_values(kwargs, text):
    args = dict(normalization=None, learning_rate=0.1, weight_scale=0.1, seed=0, steps=10)
    args.update(kwargs)
    with pytest.raises(ValueError) as info:
        runs.RunSpec(**args)
    assert text in str(info.value)


# ----------------------------------------------------------------------------------------------------------------
# The rule's search and Figure 1 (figure1.py)
# ----------------------------------------------------------------------------------------------------------------


def test_the_search_picks_each_networks_best_validation_accuracy():
    search = figure1.search_learning_rates(DATA, candidates=(1.0, 0.01, 0.3), steps=60, early_step=20, workers=1)
    assert search.candidates.tolist() == [0.01, 0.3, 1.0]  # sorted
    assert search.steps == (20, 60)
    for name in figure1.NETWORKS:
        acc = search.accuracy[name]
        assert acc.shape == (3, 2) and np.all((acc >= 0) & (acc <= 1))
        assert search.chosen[name] == search.candidates[int(np.argmax(acc[:, 1]))]
    # It is the validation split that decides: the accuracies are those of runs recorded on X_val.
    r = runs.train(DATA, runs.RunSpec("batchnorm", 0.3, figure1.WEIGHT_SCALE, seed=figure1.SEARCH_SEED, steps=60,
                                      eval_every=20, split="val"))
    assert search.accuracy["batchnorm"][1].tolist() == [r["accuracy"][0], r["accuracy"][-1]]
    table = figure1.search_table(search)
    assert "chosen (*)" in table and table.count("*") == 3


def test_the_search_breaks_ties_towards_the_smaller_rate_and_counts_divergence_as_zero():
    data = dict(DATA, X_train=np.full(DATA["X_train"].shape, 1e300))  # finite, but not in the float32 net: every run diverges at step 1
    search = figure1.search_learning_rates(data, candidates=(0.1, 1.0), steps=20, early_step=10, workers=1)
    assert search.chosen == {"baseline": 0.1, "batchnorm": 0.1}
    assert search.diverged_at["baseline"] == [1, 1] and np.all(np.isnan(search.accuracy["baseline"]))
    assert "diverged@1" in figure1.search_table(search)


def test_run_records_curves_over_seeds_and_learns():
    result = figure1.run(DATA, {"baseline": 0.3, "batchnorm": 0.1}, seeds=(0, 4), steps=250, eval_every=100,
                         workers=1)
    assert result.steps.tolist() == [100, 200, 250] and result.seeds.tolist() == [0, 4]
    for name in figure1.NETWORKS:
        assert result.accuracy[name].shape == (2, 3)
        assert result.percentiles[name].shape == (2, 3, 3)
        assert np.all(np.diff(result.percentiles[name], axis=2) >= 0)
    assert np.all(result.accuracy["batchnorm"][:, -1] > 0.9)
    assert result.config == dict(dataset="synthetic", steps=250, batch_size=60,
                                 learning_rates={"baseline": 0.3, "batchnorm": 0.1}, weight_scale=figure1.WEIGHT_SCALE,
                                 eval_every=100, seeds=[0, 4], unit=0, num_test=300)
    assert result.seconds > 0 and result.cpu_seconds > 0


def test_run_is_deterministic_given_the_seeds():
    a = figure1.run(DATA, 0.1, seeds=(1,), steps=60, eval_every=30, workers=1)
    b = figure1.run(DATA, 0.1, seeds=(1,), steps=60, eval_every=30, workers=1)
    c = figure1.run(DATA, 0.1, seeds=(2,), steps=60, eval_every=30, workers=1)
    for name in figure1.NETWORKS:
        np.testing.assert_array_equal(a.percentiles[name], b.percentiles[name])
        np.testing.assert_array_equal(a.accuracy[name], b.accuracy[name])
    assert not np.array_equal(a.percentiles["baseline"], c.percentiles["baseline"])


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(steps=10**17), ValueError, "steps must be an integer in [1, 1,000,000]"),
    (dict(learning_rates=0.0), ValueError, "learning rate of the without BN network must be a finite number > 0"),
    (dict(learning_rates={"baseline": 0.1}), ValueError, "learning_rates must be a number or a dict"),
    (dict(seeds=(1, 1)), ValueError, "seeds must be one or more distinct integers"),
    (dict(seeds=()), ValueError, "seeds must be one or more distinct integers"),
    (dict(seeds=(-1,)), ValueError, "seed must be an integer >= 0, got -1"),
    (dict(unit=100), ValueError, "track_unit must be an integer in [0, 99], got 100"),
    (dict(lr=0.1), TypeError, "unexpected keyword argument(s) 'lr'"),
])
def test_run_rejects_bad_arguments(kwargs, error, text):
    args = dict(learning_rates=0.1, steps=10, workers=1)
    args.update(kwargs)
    with pytest.raises(error) as info:
        figure1.run(DATA, **args)
    assert text in str(info.value)


def test_run_stops_on_a_non_finite_loss():
    data = dict(DATA, X_train=np.full(DATA["X_train"].shape, 1e300))  # finite, but not in the float32 net: a non-finite loss
    with pytest.raises(FloatingPointError, match=r"without BN network \(seed 0\) became non-finite at step 1"):
        figure1.run(data, 0.1, seeds=(0,), steps=50, workers=1)


def make_result(acc_baseline, acc_batchnorm, median_baseline, median_batchnorm, spread_baseline, spread_batchnorm):
    """A Figure1Result from per-seed lists (S, T) of accuracies, medians and spreads; steps 2500, 5000, ..."""
    acc_baseline, acc_batchnorm = np.atleast_2d(acc_baseline), np.atleast_2d(acc_batchnorm)
    S, T = acc_baseline.shape
    steps = np.arange(1, T + 1) * 2500

    def pct(median, spread):
        median, spread = np.atleast_2d(np.asarray(median, float)), np.atleast_2d(np.asarray(spread, float))
        return np.stack([median - spread / 2, median, median + spread / 2], axis=2)

    return figure1.Figure1Result(
        steps=steps, seeds=np.arange(S), accuracy={"baseline": acc_baseline, "batchnorm": acc_batchnorm},
        percentiles={"baseline": pct(median_baseline, spread_baseline),
                     "batchnorm": pct(median_batchnorm, spread_batchnorm)},
        config=dict(dataset="fashion-mnist", steps=int(steps[-1]), batch_size=60,
                    learning_rates={"baseline": 0.3, "batchnorm": 1.0}, weight_scale=0.1, eval_every=2500,
                    seeds=list(range(S)), unit=0, num_test=10000))


def test_claims_count_the_seeds_in_which_they_hold():
    good = make_result([[0.5, 0.6, 0.7]] * 2, [[0.8, 0.85, 0.86]] * 2, [[0, 1, 3]] * 2, [[0, 0.1, 0.2]] * 2,
                       [[1, 2, 4]] * 2, [[2, 2.1, 2.2]] * 2)
    assert [(held, n) for _, held, n in figure1.claims(good)] == [(2, 2)] * 4
    # Early is step 5000 (the second evaluation): BN behind there in seed 0 only; ahead at the end in both.
    mixed = make_result([[0.5, 0.9, 0.7], [0.5, 0.6, 0.7]], [[0.8, 0.85, 0.86]] * 2,
                        [[0, 0.1, 0.2]] * 2, [[0, 1, 3]] * 2, [[2, 2.1, 2.2]] * 2, [[1, 2, 4]] * 2)
    assert [held for _, held, _ in figure1.claims(mixed)] == [1, 2, 0, 0]
    d = figure1.drift(good, "baseline")
    assert d["median_range"].tolist() == [3.0, 3.0] and d["final_spread"].tolist() == [4.0, 4.0]
    table = figure1.summary_table(mixed)
    assert "[mixed in 1 of 2 seeds] BN trains faster (higher test accuracy at step 5,000)" in table
    assert "[held in 2 of 2 seeds] BN reaches higher test accuracy (step 7,500)" in table
    assert "[NOT held in 0 of 2 seeds] sigmoid input: median drifts more without BN" in table
    # step 5,000 without BN: 0.9 and 0.6 -> mean 0.75, sd 0.2121, range [0.600, 0.900]
    assert "0.7500 +- 0.2121 [0.600, 0.900]" in table
    assert "learning rate 0.3 without BN, 1 with BN" in table


def test_spread_is_mean_sample_sd_and_range():
    assert figure1.spread([1.0, 2.0, 3.0]) == {"mean": 2.0, "sd": 1.0, "min": 1.0, "max": 3.0}
    assert figure1.spread([0.5])["sd"] == 0.0


def test_csv_and_figures_round_trip(tmp_path):
    result = make_result([[0.5, 0.6, 0.7], [0.4, 0.6, 0.8]], [[0.8, 0.85, 0.86]] * 2, [[0, 1, 3]] * 2,
                         [[0, 0.1, 0.2]] * 2, [[1, 2, 4]] * 2, [[2, 2.1, 2.2]] * 2)
    path = figure1.save_csv(result, tmp_path / "sub" / "curves.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["step"]), int(r["seed"])) for r in rows] == [(s, seed) for seed in (0, 1)
                                                                 for s in (2500, 5000, 7500)]
    assert float(rows[5]["test_acc_baseline"]) == 0.8 and float(rows[2]["test_acc_batchnorm"]) == 0.86
    assert float(rows[2]["p85_baseline"]) == 5.0 and float(rows[2]["p15_baseline"]) == 1.0
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # not the private mode of a temp file
    paths = figure1.save_figures(result, tmp_path / "figs")
    assert [os.path.basename(p) for p in paths] == ["figure1.png", "figure1a.png", "figure1b.png", "figure1c.png"]
    fig = figure1.plot(result)
    assert len(fig.axes) == 3
    assert fig.axes[1].get_ylim() == fig.axes[2].get_ylim()  # (b) and (c) share their scale
    # 15th and 85th percentiles are told apart by their line style, not only by their position.
    styles = {line.get_label(): line.get_linestyle() for line in fig.axes[1].get_lines()}
    assert len({styles["15th percentile"], styles["50th percentile"], styles["85th percentile"]}) == 3


def test_learning_rate_figure_and_csv(tmp_path):
    search = figure1.search_learning_rates(DATA, candidates=(0.1, 1.0), steps=20, early_step=10, workers=1)
    fig = figure1.plot_learning_rates(search)
    assert len(fig.axes) == 2 and fig.axes[0].get_xscale() == "log"
    path = figure1.save_search_csv(search, tmp_path / "lr.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and [r["chosen"] for r in rows].count("yes") == 2


# ----------------------------------------------------------------------------------------------------------------
# The sensitivity sweep (sweep.py), on a tiny grid
# ----------------------------------------------------------------------------------------------------------------


def test_sweep_on_a_tiny_grid(tmp_path):
    result = sweep.sweep(DATA, learning_rates=(1.0, 0.1), weight_scales=(0.01, 0.1), steps=40, early_step=10,
                         workers=2)
    assert result.learning_rates.tolist() == [0.1, 1.0] and result.weight_scales.tolist() == [0.01, 0.1]
    assert result.steps == (10, 40)
    for name in figure1.NETWORKS:
        assert result.accuracy[name].shape == (2, 2, 2)
        assert np.all((result.accuracy[name] >= 0) & (result.accuracy[name] <= 1))
    # Each cell is the run of that (weight scale, learning rate), read at both checkpoints.
    r = runs.train(DATA, runs.RunSpec(None, 1.0, 0.01, seed=sweep.SEED, steps=40, eval_every=10))
    assert result.accuracy["baseline"][0, 1].tolist() == [r["accuracy"][0], r["accuracy"][-1]]
    d, v = result.difference(), result.verdicts()
    assert np.array_equal(v == "helps", d > sweep.MARGIN) and np.array_equal(v == "hurts", d < -sweep.MARGIN)
    assert sum(sweep.counts(result)[1].values()) == 4
    text = sweep.summary(result)
    assert "old setting (weight scale 0.01, learning rate 0.1)" in text and "after 40 steps" in text
    fig = sweep.plot(result)
    assert len([ax for ax in fig.axes if ax.get_title()]) == 6
    sweep.save_figure(result, tmp_path / "s.png")
    with open(sweep.save_csv(result, tmp_path / "s.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and tuple(rows[0]) == sweep.CSV_COLUMNS


def test_sweep_counts_a_diverged_run_as_chance():
    data = dict(DATA, X_train=np.full(DATA["X_train"].shape, 1e300))  # finite, but not in the float32 net: a non-finite loss
    result = sweep.sweep(data, learning_rates=(0.1,), weight_scales=(0.1,), steps=20, early_step=10, workers=1)
    chance = np.bincount(DATA["y_test"]).max() / len(DATA["y_test"])
    for name in figure1.NETWORKS:
        assert result.diverged_at[name].tolist() == [[1]]
        np.testing.assert_array_equal(result.accuracy[name], chance)
    assert result.verdicts().tolist() == [[["no difference", "no difference"]]]
    assert "d/d" in sweep.summary(result)


@pytest.mark.parametrize("kwargs, text", [
    (dict(learning_rates=()), "learning rates must hold at least one value"),
    (dict(weight_scales=(0.1, -1)), "weight scale must be a finite number > 0, got -1"),
    (dict(steps=10, early_step=20), "early_step must be an integer in [1, 10], got 20"),
    (dict(margin=1.5), "margin must be in [0, 1), got 1.5"),
])
def test_sweep_rejects_bad_arguments(kwargs, text):
    with pytest.raises(ValueError) as info:
        sweep.sweep(DATA, **kwargs)
    assert text in str(info.value)
