"""The checks of the experiments students design in the notebooks: each passes a setting that shows its effect,
and fails one that does not with an AssertionError saying what the runs showed.

The checks train the notebooks' own set-ups on Fashion-MNIST (skipped without it), here from one seed instead of
the notebooks' three, to keep each test to seconds. The settings that pass are those of the solution edition; those
that fail sit clearly on the wrong side of the effect.
"""

import pytest

from cs231n_bn.data_utils import get_data
from cs231n_bn.kit.data.store import DatasetNotFoundError
from cs231n_bn.kit.experiments import fc_experiments, figure1, norm_family


def fashion_mnist(**kwargs):
    try:
        return get_data("fashion-mnist", **kwargs)
    except DatasetNotFoundError as error:
        pytest.skip(f"Fashion-MNIST is not fetched: {error}")


def first(data, num_train):
    """The notebooks' training subsets: the first num_train training images, and the whole validation split."""
    return {"X_train": data["X_train"][:num_train], "y_train": data["y_train"][:num_train],
            "X_val": data["X_val"], "y_val": data["y_val"]}


# ----------------------------------------------------------------------------------------------------------------
# FullyConnectedNets.ipynb, section 10.5: a learning rate at which plain SGD comes within 0.06 of Adam
# ----------------------------------------------------------------------------------------------------------------

def test_sgd_at_its_own_learning_rate_comes_close_to_adam_and_at_adams_does_not():
    data = first(fashion_mnist(num_training=10000, num_validation=1000, num_test=0, seed=231), 4000)
    shown = fc_experiments.check_sgd_learning_rate(data, 0.3, seeds=[0])
    assert shown["seeds"] == [0] and shown["adam"][0] - shown["sgd"][0] <= fc_experiments.SGD_TOLERANCE
    with pytest.raises(AssertionError, match=r"plain SGD at learning rate 0\.01 does not come within 0\.06 of Adam: "
                                             r"it is more than 0\.06 behind in 1 of 1 seeds \(best validation "
                                             r"accuracy 0\.\d+ against Adam's 0\.8\d+, seeds 0\)"):
        fc_experiments.check_sgd_learning_rate(data, 1e-2, seeds=[0])


def test_sgd_check_says_when_the_loss_diverged_and_refuses_a_bad_rate():
    data = first(fashion_mnist(num_training=10000, num_validation=1000, num_test=0, seed=231), 400)
    with pytest.raises(AssertionError, match=r"its loss diverged in seed 0: try a smaller learning rate"):
        fc_experiments.check_sgd_learning_rate(data, 1e3, seeds=[0])
    for bad in (0, -1e-2, float("nan"), "0.1"):
        with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
            fc_experiments.check_sgd_learning_rate(data, bad)


# ----------------------------------------------------------------------------------------------------------------
# Dropout.ipynb, section 4.1: a keep ratio that narrows the gap by 0.03 at a cost of at most 0.02
# ----------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dropout_data():
    return first(fashion_mnist(num_training=4000, num_validation=1000, num_test=0, seed=231), 500)


def test_a_moderate_keep_ratio_regularizes(dropout_data):
    shown = fc_experiments.check_keep_ratio(dropout_data, 0.6, seeds=[0])
    narrowing = shown["no dropout"]["gap"] - shown["dropout"]["gap"]
    assert narrowing[0] >= fc_experiments.MIN_NARROWING
    assert shown["no dropout"]["val"][0] - shown["dropout"]["val"][0] <= fc_experiments.MAX_COST


def test_too_little_dropout_is_named(dropout_data):
    with pytest.raises(AssertionError, match=r"keep ratio 0\.95 does not show the effect: the gap narrows by less than "
                                             r"0\.03 in 1 of 1 seeds \(by -?0\.\d+\): too little dropout to regularize"):
        fc_experiments.check_keep_ratio(dropout_data, 0.95, seeds=[0])


def test_too_much_dropout_is_named_and_a_bad_ratio_refused(dropout_data):
    with pytest.raises(AssertionError, match=r"keep ratio 0\.15 does not show the effect: .*validation accuracy drops "
                                             r"by more than 0\.02 in 1 of 1 seeds \(by 0\.\d+\): so much dropout that "
                                             r"the network underfits"):
        fc_experiments.check_keep_ratio(dropout_data, 0.15, seeds=[0])
    for bad in (0, 1, 1.5, True):
        with pytest.raises(ValueError, match=r"keep_ratio must be a number in \(0, 1\)"):
            fc_experiments.check_keep_ratio(dropout_data, bad)


def test_mean_sd_is_the_spread_over_seeds_and_one_seed_alone():
    assert fc_experiments.mean_sd([0.5, 0.7, 0.9]) == "0.700 +- 0.200"
    assert fc_experiments.mean_sd([0.75]) == "0.750"


# ----------------------------------------------------------------------------------------------------------------
# NormalizationFamily.ipynb, section 5.1: the smallest batch whose means are within 0.04 population stds
# ----------------------------------------------------------------------------------------------------------------

def test_the_smallest_accurate_batch_passes_and_its_neighbours_fail():
    shown = norm_family.check_batch_size(512, seeds=[0])
    assert shown["error"][0] < norm_family.MEAN_TOLERANCE <= shown["half_error"][0]
    with pytest.raises(AssertionError, match=r"batch size 256 is too small: the batch means are off by 0\.05\d "
                                             r"population standard deviations \(seeds 0\), not below 0\.04"):
        norm_family.check_batch_size(256, seeds=[0])
    with pytest.raises(AssertionError, match=r"batch size 1024 is not the smallest: half of it, 512, already gives "
                                             r"batch means off by only 0\.03\d"):
        norm_family.check_batch_size(1024, seeds=[0])
    for bad in (300, 0, 2048, True):
        with pytest.raises(ValueError, match="batch_size must be one of 1, 2, 4, .*, 1024"):
            norm_family.check_batch_size(bad)


def test_batch_mean_error_falls_like_one_over_the_square_root_of_the_batch():
    population = norm_family.make_feature_population(M=512, seed=1)
    errors = [norm_family.batch_mean_error(population, B, num_batches=100, seed=1) for B in (4, 16)]
    assert errors[1] == pytest.approx(errors[0] / 2, rel=0.2)


# ----------------------------------------------------------------------------------------------------------------
# PaperReproduction.ipynb, section 4.1: a learning rate at which only the batch-normalized network trains
# ----------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def paper_data():
    try:
        return figure1.load_data("fashion-mnist")
    except DatasetNotFoundError as error:
        pytest.skip(f"Fashion-MNIST is not fetched: {error}")


def test_a_rate_only_batch_norm_survives_passes(paper_data):
    shown = figure1.check_high_learning_rate(paper_data, 30.0, seeds=[0], workers=1)
    assert shown["baseline"][0] < figure1.FAILS_BELOW < figure1.TRAINS_ABOVE < shown["batchnorm"][0]


def test_a_rate_the_plain_network_trains_at_is_named(paper_data):
    with pytest.raises(AssertionError, match=r"learning rate 1 is not one that only batch norm survives: the plain "
                                             r"network learned \(validation accuracy 0\.2 or more\) in seed 0: try a "
                                             r"higher rate \(validation accuracy after 500 steps without BN 0\.\d+, "
                                             r"with BN 0\.\d+; seeds 0\)"):
        figure1.check_high_learning_rate(paper_data, 1.0, seeds=[0], steps=500, workers=1)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        figure1.check_high_learning_rate(paper_data, -30)


def test_a_rate_too_high_for_batch_norm_is_named(paper_data):
    small = {key: value[:2000] if key.startswith(("X_", "y_")) else value for key, value in paper_data.items()}
    with pytest.raises(AssertionError, match=r"the batch-normalized network did not train .* in seed 0: try a lower "
                                             r"rate"):
        figure1.check_high_learning_rate(small, 1000.0, seeds=[0], steps=200, workers=1)
