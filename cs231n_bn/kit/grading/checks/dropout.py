"""Checks of Dropout.ipynb: inverted dropout forward and backward, FullyConnectedNet with dropout."""

import numpy as np

from .registry import check
from .expect import at, expect, expect_array, expect_close, expect_gradient, pure, rng, unpack
from .fully_connected_nets import expect_fc_architecture, expect_fc_gradients, fc_data, fc_net

NOTEBOOK = "Dropout.ipynb"


@check("layers.dropout_forward", NOTEBOOK)
def check_dropout_forward(student):
    layers = student.module("layers")
    x = 10.0 + rng(15).normal(size=(200, 200))
    for p in (0.25, 0.6):
        out, _ = unpack(pure(layers.dropout_forward, "dropout_forward", x, {"mode": "train", "p": p, "seed": 3}),
                        ("out", "cache"), "dropout_forward")
        expect_array("dropout_forward out", out, x.shape)
        kept = out != 0
        expect(abs(kept.mean() - p) < 0.02, f"dropout_forward with p = {p} keeps {kept.mean():.3f} of the units; "
                                            f"p is the probability of KEEPING a unit")
        expect_close(f"dropout_forward kept units (p = {p})", out[kept], x[kept] / p, 1e-12, probes=[
            (x[kept], f"dropout_forward leaves the kept units unscaled; inverted dropout divides them by p = {p} at "
                      f"train time, so that test time needs no scaling"),
            (x[kept] * p, f"dropout_forward multiplies the kept units by p = {p}; inverted dropout divides them by p")])
        expect(abs(out.mean() / x.mean() - 1) < 0.02,
               f"dropout_forward changes the mean activation by {out.mean() / x.mean() - 1:+.1%} (train mode "
               f"must keep the expectation)")
        again, _ = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": 3})
        expect(np.array_equal(out, again), "dropout_forward: the same seed must give the same mask")
        test_out, _ = layers.dropout_forward(x, {"mode": "test", "p": p})
        if not np.array_equal(test_out, x):
            expect_close(f"dropout_forward in test mode (p = {p}) must return x unchanged", test_out, x, 0, probes=[
                (x * p, f"dropout_forward multiplies x by p = {p} at test time; with inverted dropout test mode "
                        f"returns x unchanged")])
    first, _ = layers.dropout_forward(x, {"mode": "train", "p": 0.5})
    second, _ = layers.dropout_forward(x, {"mode": "train", "p": 0.5})
    expect(not np.array_equal(first != 0, second != 0), "dropout_forward without a seed must draw a new mask on "
                                                        "every call")
    out32, _ = layers.dropout_forward(x.astype(np.float32), {"mode": "train", "p": 0.5, "seed": 1})
    expect_array("dropout_forward out for float32 x", out32, x.shape)


@check("layers.dropout_backward", NOTEBOOK, needs=("layers.dropout_forward",))
def check_dropout_backward(student):
    layers = student.module("layers")
    r = rng(16)
    x, dout = r.normal(size=(6, 5)), r.normal(size=(6, 5))
    param = {"mode": "train", "p": 0.4, "seed": 5}
    out, cache = layers.dropout_forward(x, dict(param))
    dx = layers.dropout_backward(dout, cache)
    kept = np.asarray(out) != 0
    expect_gradient("dropout_backward dx", dx, at(layers.dropout_forward, (x, param), 0), x, dout,
                    probes=lambda numeric: [
                        (dout / 0.4, "dropout_backward divides dout by p but does not apply the mask: the dropped "
                                     "units get no gradient"),
                        (dout * kept, "dropout_backward applies the mask without dividing by p = 0.4: the forward "
                                      "pass scaled the kept units by 1 / p"),
                        (dout, "dropout_backward passes dout through unchanged in train mode; the dropped units get "
                               "no gradient and the kept ones are scaled by 1 / p")])
    _, cache = layers.dropout_forward(x, {"mode": "test", "p": 0.4})
    expect_close("dropout_backward in test mode", layers.dropout_backward(dout, cache), dout, 0)


@check("FullyConnectedNet (dropout)", NOTEBOOK, ("__init__", "loss"), needs=("FullyConnectedNet", "layers.dropout"))
def check_fc_net_dropout(student):
    model = fc_net(student, dropout_keep_ratio=0.5, seed=123)
    expect_fc_gradients(model, "FullyConnectedNet (dropout_keep_ratio=0.5)")
    X, _ = fc_data()
    expect(np.array_equal(model.loss(X), model.loss(X)), "FullyConnectedNet: two test-mode calls on the same X give "
                                                         "different scores; test mode is deterministic (dropout "
                                                         "passes x unchanged)")
    expect_fc_architecture(student, "FullyConnectedNet (dropout_keep_ratio=0.5)", keep=0.5)
    old = fc_net(student, dropout=0.5, seed=123)  # cs231n 2020's name for the keep ratio
    expect_fc_gradients(old, "FullyConnectedNet (dropout=0.5)")
