"""The check of the experiment the student designs in BatchNormalization.ipynb, section 7.2: a learning rate at which
plain SGD makes the plain net diverge and lets the batch-normalized one train. It accepts a setting that shows the
effect and rejects, saying what the runs showed and which way to move, settings that do not."""

import numpy as np
import pytest

from cs231n_bn.kit.experiments.bn_design import check_learning_rate


@pytest.fixture(scope="module")
def data():
    """Four Gaussian classes in 30 dimensions, close enough to need a few steps to separate."""
    rng = np.random.default_rng(0)
    means = 0.7 * rng.standard_normal((4, 30))
    y = rng.integers(4, size=300)
    X = (means[y] + rng.standard_normal((300, 30))).astype(np.float32)
    return {"X_train": X[:200], "y_train": y[:200], "X_val": X[200:], "y_val": y[200:]}


SMALL = dict(hidden_dims=(32, 32, 32), batch_size=20, num_epochs=2, min_accuracy=0.6)


def test_a_learning_rate_that_shows_the_effect_passes(data, capsys):
    runs = check_learning_rate(data, 2.0, **SMALL)
    assert all(run.diverged for run in runs["baseline"]) and len(runs["baseline"]) == 3
    assert all(not run.diverged and run.best_val_acc >= 0.6 for run in runs["batchnorm"])
    out = capsys.readouterr().out
    assert "your learning rate shows the effect in all 3 seeds" in out
    assert "2.0" not in out and "learning rate 2" not in out  # the stored output never shows the setting


def test_a_learning_rate_too_low_fails_saying_the_plain_net_trained(data):
    with pytest.raises(AssertionError, match=r"learning rate 0\.1 does not show the effect: the plain net trained in "
                                             r"3 of 3 seeds \(seed 0: final loss .*try a higher one") as error:
        check_learning_rate(data, 0.1, **SMALL)
    assert "batch-normalized" not in str(error.value)


def test_a_learning_rate_too_high_fails_saying_batch_norm_did_not_train(data):
    with pytest.raises(AssertionError, match=r"learning rate 30 does not show the effect: the batch-normalized net did "
                                             r"not train in 3 of 3 seeds \(seed 0: diverged .*it must reach 0\.6 in "
                                             r"every seed\): .*try a lower one") as error:
        check_learning_rate(data, 30.0, **SMALL)
    assert "the plain net trained" not in str(error.value)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "2", True])
def test_a_learning_rate_that_is_not_a_positive_number_is_refused(data, bad):
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        check_learning_rate(data, bad, **SMALL)
