"""Update rules: each checked against the cs231n expected arrays and against steps worked out by hand."""

from pathlib import Path

import numpy as np
import pytest

from cs231n_bn import optim
from cs231n_bn.gradient_check import rel_error
from cs231n_bn.kit.edition.markers import find_regions

_SOURCE = Path(optim.__file__)
reference_only = pytest.mark.skipif(
    not find_regions(_SOURCE.read_text(encoding="utf-8"), _SOURCE.name),
    reason="a property of the kit's reference solution (solution edition only), not of the contract",
)


def cs231n_inputs():
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    return w, dw


# --- the cs231n FullyConnectedNets.ipynb checks -------------------------------------------------------------

def test_sgd_momentum_matches_cs231n_expected_values():
    w, dw = cs231n_inputs()
    v = np.linspace(0.6, 0.9, num=20).reshape(4, 5)
    next_w, config = optim.sgd_momentum(w, dw, config={"learning_rate": 1e-3, "velocity": v})
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    assert rel_error(next_w, expected_next_w) < 1e-7  # the expected values carry 8 decimals
    assert rel_error(config["velocity"], expected_velocity) < 1e-7


def test_rmsprop_and_adam_match_cs231n_expected_first_row():
    w, dw = cs231n_inputs()
    cache = np.linspace(0.6, 0.9, num=20).reshape(4, 5)
    next_w, config = optim.rmsprop(w.copy(), dw, config={"learning_rate": 1e-2, "cache": cache})
    assert rel_error(next_w[0], [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247]) < 1e-7
    assert rel_error(config["cache"][0], [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321]) < 1e-7

    m = np.linspace(0.6, 0.9, num=20).reshape(4, 5)
    v = np.linspace(0.7, 0.5, num=20).reshape(4, 5)
    next_w, config = optim.adam(w.copy(), dw, config={"learning_rate": 1e-2, "m": m, "v": v, "t": 5})
    assert rel_error(next_w[0], [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977]) < 1e-7
    assert rel_error(config["m"][0], [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474]) < 1e-7
    assert config["t"] == 6


# --- several steps, worked out by hand ----------------------------------------------------------------------
# Each rule takes three steps from w = 1 with the gradients listed; the numbers were chosen so that every
# square root is exact. Wrong formulas (no bias correction, beta1 and beta2 swapped, epsilon inside the square
# root, decay applied to the wrong term, t used before its increment) miss these values by more than 1e-2.
#
# sgd, lr = 0.1, g = 2, -4, 1:                w = 1 - 0.2 = 0.8;  0.8 + 0.4 = 1.2;  1.2 - 0.1 = 1.1
# sgd_momentum, lr = 0.1, momentum = 0.5, g = 2, -4, 1:
#   v1 = -0.2                   w1 = 0.8
#   v2 = 0.5*(-0.2) + 0.4 = 0.3   w2 = 1.1
#   v3 = 0.5*0.3 - 0.1 = 0.05     w3 = 1.15
# rmsprop, lr = 0.1, decay_rate = 8/9, epsilon = 1, g = 6, 7, -7:
#   cache1 = 36/9 = 4                  w1 = 1 - 0.1*6/(2 + 1) = 0.8
#   cache2 = 8/9*4 + 49/9 = 9          w2 = 0.8 - 0.1*7/(3 + 1) = 0.625
#   cache3 = 8 + 49/9 = 121/9          w3 = 0.625 + 0.1*7/(11/3 + 1) = 0.625 + 0.15 = 0.775
# adam, lr = 0.6, beta1 = 0.5, beta2 = 0.75, epsilon = 1, g = 2, 5, -4:
#   t=1: m = 1,    v = 1,    m_hat = 1/0.5 = 2,       v_hat = 1/0.25 = 4      w1 = 1 - 0.6*2/(2 + 1) = 0.6
#   t=2: m = 3,    v = 7,    m_hat = 3/0.75 = 4,      v_hat = 7/(7/16) = 16   w2 = 0.6 - 0.6*4/(4 + 1) = 0.12
#   t=3: m = -0.5, v = 9.25, m_hat = -0.5/(7/8) = -4/7, v_hat = 9.25/(37/64) = 16
#                                                       w3 = 0.12 + 0.6*(4/7)/(4 + 1) = 0.12 + 12/175 = 33/175
# The second weight starts at -1 and sees the negated gradients; every rule is odd in (w, g), so it mirrors
# the first.
HAND_WORKED = {
    "sgd": (dict(learning_rate=0.1), [2.0, -4.0, 1.0], [0.8, 1.2, 1.1], {}),
    "sgd_momentum": (dict(learning_rate=0.1, momentum=0.5), [2.0, -4.0, 1.0], [0.8, 1.1, 1.15],
                     {"velocity": [0.05, -0.05]}),
    "rmsprop": (dict(learning_rate=0.1, decay_rate=8 / 9, epsilon=1.0), [6.0, 7.0, -7.0], [0.8, 0.625, 0.775],
                {"cache": [121 / 9, 121 / 9]}),
    "adam": (dict(learning_rate=0.6, beta1=0.5, beta2=0.75, epsilon=1.0), [2.0, 5.0, -4.0],
             [0.6, 0.12, 33 / 175], {"m": [-0.5, 0.5], "v": [9.25, 9.25], "t": 3}),
}


@pytest.mark.parametrize("rule", sorted(HAND_WORKED))
def test_rule_matches_hand_worked_steps(rule):
    hp, grads, expected_w, expected_state = HAND_WORKED[rule]
    update = optim.UPDATE_RULES[rule]
    w, config = np.array([1.0, -1.0]), dict(hp)
    for g, expected in zip(grads, expected_w):
        w, config = update(w, np.array([g, -g]), config)
        # float64 rounding only: agreement to ~1e-15 relative; 1e-12 leaves room
        np.testing.assert_allclose(w, [expected, -expected], rtol=1e-12, atol=1e-15)
    for key, value in expected_state.items():
        np.testing.assert_allclose(config[key], value, rtol=1e-12, err_msg=key)


def test_adam_increments_t_before_use():
    # After one step from t=0 with bias correction, m_hat = dw and v_hat = dw**2, so each weight moves by
    # almost exactly learning_rate * sign(dw).
    w = np.zeros(4)
    dw = np.array([-3.0, -0.5, 0.25, 7.0])
    next_w, config = optim.adam(w, dw)
    assert config["t"] == 1
    np.testing.assert_allclose(next_w, -1e-3 * np.sign(dw), rtol=1e-6)


def test_defaults_follow_the_contract():
    w, dw = np.zeros(3), np.ones(3)
    expected = {"sgd": {"learning_rate": 1e-2},
                "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
                "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
                "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}}
    for name, defaults in expected.items():
        _, config = optim.UPDATE_RULES[name](w.copy(), dw, None)
        for key, value in defaults.items():
            assert config[key] == value, (name, key)


@reference_only  # the contract leaves next_w's dtype to the rule; the Solver stores each parameter in its own dtype
@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_rules_keep_float32(rule):
    w = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    dw = np.linspace(1, -1, 6, dtype=np.float32).reshape(2, 3)
    config = None
    for _ in range(3):
        w, config = optim.UPDATE_RULES[rule](w, dw, config)
    assert w.dtype == np.float32
    for value in config.values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32


def test_config_must_be_a_dict():
    with pytest.raises(TypeError, match="config must be a dict"):
        optim.sgd(np.zeros(2), np.zeros(2), config=[("learning_rate", 1.0)])


@pytest.mark.parametrize("rule,key,value,allowed", [
    ("sgd", "learning_rate", "1e-2", "a finite number >= 0"),
    ("sgd", "learning_rate", -1.0, "a finite number >= 0"),
    ("sgd_momentum", "learning_rate", float("nan"), "a finite number >= 0"),
    ("sgd_momentum", "momentum", 1.0, "a number in \\[0, 1\\)"),
    ("rmsprop", "decay_rate", -0.1, "a number in \\[0, 1\\)"),
    ("rmsprop", "epsilon", 0.0, "a finite number > 0"),
    ("adam", "beta2", float("inf"), "a number in \\[0, 1\\)"),
    ("adam", "t", -1, "an integer >= 0"),
    ("adam", "t", 1.5, "an integer >= 0"),
])
def test_bad_hyperparameters_are_named(rule, key, value, allowed):
    w = np.ones(3)
    with pytest.raises(ValueError, match=f"{rule}: {key} must be {allowed}, got {value!r}"):
        optim.UPDATE_RULES[rule](w, np.ones(3), {key: value})
    np.testing.assert_array_equal(w, np.ones(3))  # nothing updated
