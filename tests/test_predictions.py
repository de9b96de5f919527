"""Predictions: refused when malformed (naming the value), printed beside the result, never asserted."""

import pytest

from cs231n_bn.kit.predictions import Prediction, beside


def test_a_choice_must_be_one_of_the_choices_and_come_with_a_reason():
    with pytest.raises(ValueError, match=r"'maybe': choose one of 'plain', 'bn'"):
        Prediction("maybe", why="x", choices=("plain", "bn"))
    with pytest.raises(ValueError, match="why=' '"):
        Prediction("plain", why=" ", choices=("plain", "bn"))


def test_a_number_must_be_finite_and_in_range():
    for bad in (float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="finite number"):
            Prediction(bad, why="x")
    with pytest.raises(ValueError, match="between 0 and 1"):
        Prediction(1.5, why="x", between=(0, 1))


def test_beside_prints_both_and_says_whether_they_agree(capsys):
    assert Prediction("bn", why=" smoother ", choices=("plain", "bn")).text() == "bn (because: smoother)"
    assert beside(Prediction("bn", why="smoother", choices=("plain", "bn")), "bn", detail="0.81 vs 0.10")
    out = capsys.readouterr().out
    assert "you predicted: bn\n" in out and "the run shows: bn (0.81 vs 0.10)" in out
    assert "smoother" not in out  # the reasons stay in the prediction cell (stored outputs ship to students)
    assert not beside(Prediction(0.5, why="guess"), 0.9)
    assert "not what you predicted" in capsys.readouterr().out
    assert beside(Prediction(0.85, why="guess"), 0.9)
