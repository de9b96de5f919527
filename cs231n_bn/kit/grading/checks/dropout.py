"""Checks of Dropout.ipynb: inverted dropout forward and backward, FullyConnectedNet with dropout."""

import numpy as np

from .registry import check
from .expect import at, expect, expect_array, expect_close, expect_float32, expect_gradient, pure, rng, unpack
from .fully_connected_nets import expect_fc_gradients, fc_data, fc_net

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
        expect_close(f"dropout_forward kept units (inverted dropout divides by p = {p})", out[kept], x[kept] / p,
                     1e-12)
        expect(abs(out.mean() / x.mean() - 1) < 0.02,
               f"dropout_forward changes the mean activation by {out.mean() / x.mean() - 1:+.1%} (train mode "
               f"must keep the expectation)")
        again, _ = layers.dropout_forward(x, {"mode": "train", "p": p, "seed": 3})
        expect(np.array_equal(out, again), "dropout_forward: the same seed must give the same mask")
        test_out, _ = layers.dropout_forward(x, {"mode": "test", "p": p})
        expect(np.array_equal(test_out, x), "dropout_forward in test mode must return x unchanged")
    first, _ = layers.dropout_forward(x, {"mode": "train", "p": 0.5})
    second, _ = layers.dropout_forward(x, {"mode": "train", "p": 0.5})
    expect(not np.array_equal(first != 0, second != 0), "dropout_forward without a seed must draw a new mask on "
                                                        "every call")
    out32, _ = layers.dropout_forward(x.astype(np.float32), {"mode": "train", "p": 0.5, "seed": 1})
    expect_float32("dropout_forward out", out32)


@check("layers.dropout_backward", NOTEBOOK)
def check_dropout_backward(student):
    layers = student.module("layers")
    r = rng(16)
    x, dout = r.normal(size=(6, 5)), r.normal(size=(6, 5))
    param = {"mode": "train", "p": 0.4, "seed": 5}
    _, cache = layers.dropout_forward(x, dict(param))
    dx = layers.dropout_backward(dout, cache)
    expect_gradient("dropout_backward dx", dx, at(layers.dropout_forward, (x, param), 0), x, dout)
    _, cache = layers.dropout_forward(x, {"mode": "test", "p": 0.4})
    expect_close("dropout_backward in test mode", layers.dropout_backward(dout, cache), dout, 0)


@check("FullyConnectedNet (dropout)", NOTEBOOK, ("__init__", "loss"))
def check_fc_net_dropout(student):
    model = fc_net(student, dropout_keep_ratio=0.5, seed=123)
    expect_fc_gradients(model, "FullyConnectedNet (dropout_keep_ratio=0.5)")
    X, _ = fc_data()
    expect(np.array_equal(model.loss(X), model.loss(X)), "FullyConnectedNet: test-mode scores must not drop units")
    old = fc_net(student, dropout=0.5, seed=123)  # cs231n 2020's name for the keep ratio
    expect_fc_gradients(old, "FullyConnectedNet (dropout=0.5)")
