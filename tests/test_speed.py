"""The speed warning (cs231n_bn/kit/speed.py): which profiles it calls slow, what it says, and that timing a step
leaves the model as it was. No timed assertions: the verdicts are tested on profiles written here."""

import numpy as np

from cs231n_bn.classifiers.fc_net import FullyConnectedNet
from cs231n_bn.kit import speed


def _profile(affine=(0.3e-3, 0.2e-3), batchnorm=0.2e-3, kit=0.0, step=1.2e-3):
    """A profile as speed.profile returns it: the affine layers' time, and their matrix products' (the baselines)."""
    layers = {"affine_backward": {"seconds": affine[0], "baseline": 0.3e-3, "kit": False},
              "affine_forward": {"seconds": affine[1], "baseline": 0.15e-3, "kit": False},
              "batchnorm_forward": {"seconds": batchnorm, "baseline": 0.1e-3, "kit": False},
              "conv_forward_fast": {"seconds": kit, "baseline": 0.05e-3, "kit": True}}
    layers = dict(sorted(layers.items(), key=lambda item: -item[1]["seconds"]))
    return {"step": step, "products": 0.45e-3, "layers": layers}


def test_a_step_like_the_kits_is_not_slow():
    slow, text = speed.verdict(_profile(), "A training step", steps=50_000)
    assert not slow
    assert text == ("A training step takes 1.2 ms, 2.7 times what BLAS needs for its matrix products (0.45 ms); "
                    "50,000 steps take about 60 s")


def test_an_affine_layer_several_times_its_products_is_named():
    slow, text = speed.verdict(_profile(affine=(2.3e-3, 1.1e-3), step=4e-3), "A training step")
    assert slow
    assert "The slowest layer is affine_backward: 2.3 ms per step (64% of the time in the layers), where its " \
           "matrix products on BLAS take 0.30 ms" in text


def test_the_kits_own_layers_and_a_small_excess_are_never_blamed():
    # The kit's convolution is far slower than its products (im2col copies): not the student's to fix.
    assert not speed.verdict(_profile(kit=50e-3, step=55e-3))[0]
    # Elementwise layers are judged against 20 passes over their input, and only when far slower than that (25x).
    assert not speed.verdict(_profile(batchnorm=1.5e-3, step=2.5e-3))[0]
    slow, text = speed.verdict(_profile(batchnorm=0.5, step=0.5))
    assert slow and "The slowest layer is batchnorm_forward" in text and "20 NumPy passes over its input" in text
    # A slow layer whose excess is a small share of the time in the layers is not worth a warning.
    assert not speed.verdict(_profile(affine=(0.3e-3, 0.8e-3), batchnorm=2e-3, step=4e-3))[0]


def test_profile_times_the_layers_and_leaves_the_model_as_it_was():
    model = FullyConnectedNet([6, 5], input_dim=8, num_classes=3, normalization="batchnorm", dtype=np.float64,
                              seed=0)
    X, y = np.random.default_rng(0).standard_normal((10, 8)), np.arange(10) % 3
    model.loss(X, y)
    before = ({k: v.copy() for k, v in model.params.items()},
              [{k: np.copy(v) for k, v in p.items()} for p in model.bn_params], np.random.get_state()[1].copy())
    result = speed.profile(model, X, y, repeats=2)
    assert result["step"] > 0 and result["products"] > 0
    assert {"affine_forward", "affine_backward", "batchnorm_forward", "softmax_loss"} <= set(result["layers"])
    from cs231n_bn import layers
    # a model may call the kit's sandwich layers (layer_utils) or the student's layers directly: either is timed
    assert all(entry["kit"] == (not hasattr(layers, name)) for name, entry in result["layers"].items())
    assert all(entry["baseline"] > 0 for entry in result["layers"].values() if not entry["kit"])
    assert all(np.array_equal(model.params[k], v) for k, v in before[0].items())
    assert all(np.array_equal(p[k], v) for p, saved in zip(model.bn_params, before[1]) for k, v in saved.items())
    assert np.array_equal(np.random.get_state()[1], before[2])
    assert layers.affine_forward.__module__ == "cs231n_bn.layers"  # the timing wrappers are gone


def test_report_prints_one_line(capsys):
    model = FullyConnectedNet([4], input_dim=5, num_classes=2, dtype=np.float64, seed=0)
    speed.report(model, np.ones((6, 5)), steps=1000)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(("A training step takes ", "Slow: A training step takes "))
    assert "1,000 steps take about" in out


def test_the_profile_measures_in_checks_sandbox():
    """check times a step in the child process, whose CPU-time limit makes the process's CPU clock count in ticks of
    4 ms on some kernels: every layer and baseline must still measure above zero (the thread's clock does)."""
    import time
    from pathlib import Path

    from cs231n_bn.kit.grading.remote import Child, Student

    with Child(Path(__file__).resolve().parents[1]) as child:
        result = Student(child, time.monotonic() + 60).module("kit.speed").section41_profile()
    assert result["products"] > 0
    assert all(entry["seconds"] > 0 and entry["baseline"] > 0 for entry in result["layers"].values()), result
