"""Checks of FullyConnectedNets.ipynb: affine, ReLU, sigmoid, the losses, the sandwich, FullyConnectedNet, the
update rules."""

import numpy as np

from .registry import check
from .expect import (CheckFailed, Model, at, backward_pure, describe_difference, errstate, expect, expect_array,
                     expect_close, expect_gradient, expect_nan_propagates, name_probes, pure, relative_error, rng,
                     unpack)
from ..remote import StudentError

NOTEBOOK = "FullyConnectedNets.ipynb"


@check("layers.affine_forward", NOTEBOOK)
def check_affine_forward(student):
    layers = student.module("layers")
    x = rng(1).normal(size=(3, 2, 4))  # flattened to (3, 8) in C order
    pick = np.array([5, 0, 7])         # w selects inputs 5, 0, 7 of each flattened row
    w = np.zeros((8, 3))
    w[pick, np.arange(3)] = 1.0
    b = np.array([0.5, -1.0, 2.0])
    out, _ = unpack(pure(layers.affine_forward, "affine_forward", x, w, b), ("out", "cache"), "affine_forward")
    expect_array("affine_forward out", out, (3, 3))
    expect_close("affine_forward out (w picking single inputs)", out, x.reshape(3, 8)[:, pick] + b, 1e-12)
    out, _ = layers.affine_forward(x, np.ones((8, 1)), np.zeros(1))
    expect_close("affine_forward out (w of ones sums each example)", out[:, 0], x.sum(axis=(1, 2)), 1e-12)


@check("layers.affine_backward", NOTEBOOK, needs=("layers.affine_forward",))
def check_affine_backward(student):
    layers = student.module("layers")
    r = rng(2)
    x, w, b = r.normal(size=(4, 2, 3)), r.normal(size=(6, 5)), r.normal(size=5)
    dout = r.normal(size=(4, 5))
    _, cache = layers.affine_forward(x, w, b)
    dx, dw, db = unpack(backward_pure(layers.affine_backward, "affine_backward", dout, cache, x, w, b),
                        ("dx", "dw", "db"), "affine_backward")
    forward = layers.affine_forward
    if isinstance(dx, np.ndarray) and dx.shape == (4, 6):
        raise CheckFailed("affine_backward dx has shape (4, 6), the flattened (N, D), expected x's shape (4, 2, 3): "
                          "reshape it to x's shape")
    if isinstance(dw, np.ndarray) and dw.shape == (3, 2, 5):
        raise CheckFailed("affine_backward dw has shape (3, 2, 5), expected (6, 5): that is x.T @ dout with x of shape "
                          "(4, 2, 3) left unflattened; flatten x to (N, D) = (4, 6) first")
    expect_gradient("affine_backward dx", dx, at(forward, (x, w, b), 0), x, dout)
    expect_gradient("affine_backward dw", dw, at(forward, (x, w, b), 1), w, dout)
    expect_gradient("affine_backward db", db, at(forward, (x, w, b), 2), b, dout, probes=lambda numeric: [
        (dout.mean(axis=0), "affine_backward db averages dout over the batch; b is added to every example's output, "
                            "so db sums dout over the batch (N = 4)")])


@check("layers.relu_forward", NOTEBOOK)
def check_relu_forward(student):
    layers = student.module("layers")
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = unpack(pure(layers.relu_forward, "relu_forward", x), ("out", "cache"), "relu_forward")
    expect_array("relu_forward out", out, x.shape)
    expect(np.all(out[x <= 0] == 0), "relu_forward: negative inputs must give 0")
    expect(np.all(out[x > 0] == x[x > 0]), "relu_forward: positive inputs must pass through unchanged")
    nan_out, _ = layers.relu_forward(np.array([[np.nan, 1.0, -1.0]]))
    expect_nan_propagates("relu_forward", nan_out, (0, 0), (0, slice(1, 3)))


@check("layers.relu_backward", NOTEBOOK, needs=("layers.relu_forward",))
def check_relu_backward(student):
    layers = student.module("layers")
    r = rng(3)
    x = r.choice([-1.0, 1.0], size=(4, 5)) * r.uniform(0.1, 1.0, size=(4, 5))  # away from the kink
    dout = r.normal(size=x.shape)
    _, cache = layers.relu_forward(x)
    dx = layers.relu_backward(dout, cache)
    expect_gradient("relu_backward dx", dx, at(layers.relu_forward, (x,), 0), x, dout, probes=lambda numeric: [
        (dout * (dout > 0), "relu_backward masks dout by its own sign (dout > 0); the mask is where the forward "
                            "pass's input x was positive")])


@check("layers.sigmoid_forward", NOTEBOOK)
def check_sigmoid_forward(student):
    layers = student.module("layers")
    x = np.array([[-1000.0, -30.0, -1.0, 0.0], [0.5, 2.0, 30.0, 1000.0]])
    with errstate(student, over="raise", invalid="raise"):  # a stable sigmoid never overflows
        try:
            out, _ = unpack(pure(layers.sigmoid_forward, "sigmoid_forward", x), ("out", "cache"), "sigmoid_forward")
        except StudentError as error:
            if error.type_name != "FloatingPointError":
                raise
            raise CheckFailed(f"sigmoid_forward overflows for large |x| ({error.message}); exp(-|x|) never does")
    expect_array("sigmoid_forward out", out, x.shape)
    expect(out[0, 3] == 0.5, f"sigmoid_forward(0) is {out[0, 3]}, expected 0.5")
    mirrored, _ = layers.sigmoid_forward(-x)
    expect_close("sigmoid_forward symmetry: sigmoid(x) + sigmoid(-x) must be 1", out + mirrored, np.ones_like(x),
                 1e-12)
    expect(out[0, 0] == 0.0 and out[1, 3] == 1.0, "sigmoid_forward(-1000) must be 0 and sigmoid(1000) must be 1")
    expect(abs(out[0, 2] - 0.2689414213699951) < 1e-12, f"sigmoid_forward(-1) is {out[0, 2]}, expected "
                                                         f"1 / (1 + e) = 0.26894142137")
    _check_sigmoid_dtypes(student, layers)


def _check_sigmoid_dtypes(student, layers):
    for dtype in (np.float32, np.float16):
        x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=dtype)
        with errstate(student, over="raise", invalid="raise"):
            try:
                out, _ = layers.sigmoid_forward(x)
            except StudentError as error:
                if error.type_name != "FloatingPointError":
                    raise
                raise CheckFailed(f"sigmoid_forward overflows for large |x| in {np.dtype(dtype).name} "
                                  f"({error.message})")
        expect(out[0] == 0 and out[2] == 0.5 and out[4] == 1, f"sigmoid_forward in {np.dtype(dtype).name} gives "
                                                              f"{out.tolist()} for x = {x.tolist()}")
    nan_out, _ = layers.sigmoid_forward(np.array([np.nan, 0.0]))
    expect_nan_propagates("sigmoid_forward", nan_out, 0, 1)


@check("layers.sigmoid_backward", NOTEBOOK, needs=("layers.sigmoid_forward",))
def check_sigmoid_backward(student):
    layers = student.module("layers")
    r = rng(30)
    x, dout = r.normal(size=(3, 4)) * 3, r.normal(size=(3, 4))
    _, cache = layers.sigmoid_forward(x)
    dx = layers.sigmoid_backward(dout, cache)
    expect_gradient("sigmoid_backward dx", dx, at(layers.sigmoid_forward, (x,), 0), x, dout, probes=lambda numeric: [
        (dout * x * (1 - x), "sigmoid_backward multiplies dout by x * (1 - x); the derivative is sigmoid(x) * "
                             "(1 - sigmoid(x)), from the forward pass's output")])


def _check_loss(student, name, zero_scores_loss, zero_probes=()):
    layers = student.module("layers")
    loss_fn = getattr(layers, name)
    num_classes = 5
    y = np.array([0, 3, 1, 4, 2, 3])
    loss, dx = unpack(loss_fn(np.zeros((6, num_classes)), y), ("loss", "dx"), name)
    expect(np.ndim(loss) == 0 and np.isreal(loss), f"{name} returned a loss of shape {np.shape(loss)}, expected a "
                                                   f"number")
    if abs(float(loss) - zero_scores_loss) >= 1e-9:
        name_probes(float(loss), [(6 * zero_scores_loss, f"{name} sums the loss over the N = 6 examples; it averages "
                                                         f"it (divide by N)")] + list(zero_probes))
        raise CheckFailed(f"{name} of all-zero scores is {float(loss):.6f}, expected {zero_scores_loss:.6f}")
    scores = rng(4).normal(size=(6, num_classes))
    loss, dx = pure(loss_fn, name, scores, y)
    expect_gradient(f"{name} dx", dx, at(loss_fn, (scores, y), 0), scores, np.array(1.0), probes=lambda numeric: [
        (6 * numeric, f"{name} dx is N = 6 times the gradient: the loss averages over the N examples, so dx is "
                      f"divided by N too"),
        (numeric / 6, f"{name} dx is the gradient divided by N = 6 once too often")])
    shifted, _ = loss_fn(scores + 7.0, y)
    expect(abs(float(shifted) - float(loss)) < 1e-9, f"{name} changes when every score moves by the same amount")


@check("layers.softmax_loss", NOTEBOOK)
def check_softmax_loss(student):
    _check_loss(student, "softmax_loss", float(np.log(5)))  # uniform probabilities 1/5
    layers = student.module("layers")
    with errstate(student, all="ignore"):  # the mistake below warns about the overflow it makes
        loss, dx = layers.softmax_loss(np.array([[1000.0, 0.0, -1000.0]]), np.array([0]))
    expect(np.isfinite(loss) and abs(float(loss)) < 1e-9 and np.all(np.isfinite(dx)),
           "softmax_loss overflows for large scores (exp(1000) is inf): subtract each row's maximum before exp, "
           "which leaves the softmax unchanged")


@check("layers.svm_loss", NOTEBOOK)
def check_svm_loss(student):
    # Every wrong class violates the margin of 1 by exactly 1; the correct class's own margin would add 1 more.
    _check_loss(student, "svm_loss", 4.0, [(5.0, "svm_loss counts the correct class's own margin (1 per example, "
                                                  "as x[n, y[n]] - x[n, y[n]] + 1 = 1): the sum is over j != y[n]")])


def sandwich(student, name, arrays, extra, param_names, seed):
    """Gradient check of a layer_utils sandwich: ``arrays`` are the float inputs, ``extra`` fixed ones after them."""
    utils = student.module("layer_utils")
    forward, backward = getattr(utils, f"{name}_forward"), getattr(utils, f"{name}_backward")
    out, cache = unpack(forward(*arrays, *extra), ("out", "cache"), f"{name}_forward")
    dout = rng(seed).normal(size=out.shape)
    grads = backward(dout, cache)
    expect(isinstance(grads, tuple) and len(grads) == len(arrays),
           f"{name}_backward should return ({', '.join('d' + p for p in param_names)})")
    for i, (grad, label) in enumerate(zip(grads, param_names)):
        expect_gradient(f"{name}_backward d{label}", grad, at(forward, (*arrays, *extra), i), arrays[i], dout)


@check("layer_utils.affine_relu", NOTEBOOK, ("affine_relu_forward", "affine_relu_backward"),
       needs=("layers.affine", "layers.relu"))
def check_affine_relu(student):
    r = rng(5)
    x, w, b = r.normal(size=(3, 4)), r.normal(size=(4, 5)), r.normal(size=5)
    sandwich(student, "affine_relu", (x, w, b), (), ("x", "w", "b"), 6)


def fc_net(student, **kwargs):
    fc = student.module("classifiers.fc_net")
    options = dict(input_dim=6, num_classes=3, weight_scale=0.5, dtype=np.float64, seed=0)
    options.update(kwargs)
    return Model(fc.FullyConnectedNet([5, 4], **options))


def fc_data(seed=7):
    r = rng(seed)
    return r.normal(size=(4, 6)), np.array([0, 2, 1, 2])


def expect_model_gradients(model, X, y, label, loss_name, offset_keys, r, tol=1e-6, probes=None):
    """model.loss(X, y) returns a finite loss and a gradient for every parameter, each agreeing with centred
    differences of the loss; the parameters in offset_keys first get positive offsets, which keep ReLU inputs off
    the kink at 0 (a dropped row is all zeros). ``probes(key, grad, numeric)`` -> [(candidate, message)] name the
    mistakes of a gradient."""
    params = model.params
    for key in offset_keys:
        model.set_param(key, params[key] + r.uniform(0.1, 0.3, size=params[key].shape))
    loss, grads = unpack(model.loss(X, y), ("loss", "grads"), loss_name)
    expect(np.isfinite(loss), f"{label}: the loss is not finite")
    params = model.params
    expect(isinstance(grads, dict) and set(grads) == set(params),
           f"{label}: grads has keys {sorted(grads) if isinstance(grads, dict) else grads!r}, expected the keys of "
           f"params {sorted(params)}")
    for key in sorted(params):
        expect_gradient(f"{label}: grads[{key!r}]", grads[key], model.loss_at(key, X, y), params[key],
                        np.array(1.0), tol=tol,
                        probes=None if probes is None else lambda numeric, key=key: probes(key, grads[key], numeric))
    return grads


def expect_fc_gradients(model, label, tol=1e-6, probes=None):
    X, y = fc_data()
    biases_and_betas = [key for key in model.params if key.startswith("b")]
    return expect_model_gradients(model, X, y, label, "FullyConnectedNet.loss", biases_and_betas, rng(11), tol,
                                  probes)


def expect_fc_architecture(student, label, normalization=None, keep=1, nonlinearity="relu"):
    """The test-mode scores of a net with one hidden layer are affine - [norm] - nonlinearity - affine of X.

    The second affine layer is the identity plus a bias with negative entries, so that the scores show the hidden
    layer: what comes before the nonlinearity, whether units are dropped at test time and whether the scores go
    through the nonlinearity too. Batch norm runs on running statistics set here; the scores of one example alone
    must be those it gets in the batch (test mode at N = 1).
    """
    fc = student.module("classifiers.fc_net")
    H, D = 5, 6
    options = dict(input_dim=D, num_classes=H, weight_scale=0.5, dtype=np.float64, seed=0, nonlinearity=nonlinearity)
    if normalization is not None:
        options["normalization"] = normalization
    if keep != 1:
        options["dropout_keep_ratio"] = keep
    model = Model(fc.FullyConnectedNet([H], **options))
    r = rng(60)
    X, W1, b1 = r.normal(size=(4, D)), r.normal(size=(D, H)), r.normal(size=H) * 0.5
    b2 = np.array([-2.0, -1.0, -0.5, 0.5, 1.0])
    for key, value in (("W1", W1), ("b1", b1), ("W2", np.eye(H)), ("b2", b2)):
        model.set_param(key, value)
    a = X @ W1 + b1
    gamma, beta = r.uniform(0.5, 2.0, size=H), r.normal(size=H) - 0.5
    layers = student.module("layers")  # the net's layers are checked on their own; here, how the net combines them
    if normalization == "batchnorm":
        running_mean, running_var = r.normal(size=H), r.uniform(0.5, 2.0, size=H)
        model.set("bn_params", [{"mode": "test", "running_mean": running_mean, "running_var": running_var}])

        def normalize(v, mode="test"):
            return layers.batchnorm_forward(v, gamma, beta, {"mode": mode, "running_mean": running_mean.copy(),
                                                             "running_var": running_var.copy()})[0]
    elif normalization == "layernorm":
        def normalize(v):
            return layers.layernorm_forward(v, gamma, beta, {})[0]
    else:
        def normalize(v):
            return v
    if normalization is not None:
        model.set_param("gamma1", gamma)
        model.set_param("beta1", beta)
    unit = (lambda v: np.maximum(v, 0)) if nonlinearity == "relu" else (lambda v: 1 / (1 + np.exp(-v)))
    name = "the ReLU" if nonlinearity == "relu" else "the sigmoid"
    hidden = unit(normalize(a))
    want = hidden + b2
    scores = model.loss(X)
    expect_array(f"{label}: loss(X) scores", scores, want.shape)
    if relative_error(scores, want) > 1e-9:
        probes = [(unit(want), f"{label} applies {name} to the scores: the last affine layer's output goes to the "
                               f"softmax as it is")]
        if normalization is not None:
            probes += [(normalize(unit(a)) + b2, f"{label} normalizes after {name}; the order is affine - "
                                                 f"{normalization} - {name[4:]} (normalization before the "
                                                 f"nonlinearity)"),
                       (unit(normalize(unit(a))) + b2, f"{label} applies {name} twice, before and after "
                                                       f"{normalization}")]
        if normalization == "batchnorm":
            probes.append((unit(normalize(a, "train")) + b2,
                           f"{label} normalizes with the batch's own statistics at test time (loss(X) without y "
                           f"is test mode: bn_params[i]['mode'] is 'test')"))
        probes.append((normalize(a) + b2, f"{label} leaves {name} out of the hidden layer"))
        name_probes(scores, probes)
        seen = np.asarray(scores, dtype=np.float64) - b2
        if keep != 1 and np.any(np.abs(seen) < 1e-12) and \
                np.all((np.abs(seen) < 1e-12) | (np.abs(seen - hidden / keep) <= 1e-9 * (1 + np.abs(hidden)))):
            raise CheckFailed(f"{label} drops units at test time (test-mode hidden units are 0 or divided by p = "
                              f"{keep:g}): loss(X) without y is test mode, where dropout passes x unchanged")
        raise CheckFailed(f"{label}: the test-mode scores of a net with one hidden layer, W2 the identity, are not "
                          f"affine - {normalization + ' - ' if normalization else ''}{name[4:]} - affine of X: "
                          f"{describe_difference(scores, want, 'scores')}")
    one = model.loss(X[:1])
    expect_close(f"{label}: test-mode scores of one example alone (N = 1) against its scores in a batch", one,
                 want[:1], 1e-9)


@check("FullyConnectedNet", NOTEBOOK, ("__init__", "loss"),
       needs=("layers.affine", "layers.relu", "layers.sigmoid", "layers.softmax", "layer_utils.affine_relu"))
def check_fc_net(student):
    model = fc_net(student)
    shapes = {"W1": (6, 5), "b1": (5,), "W2": (5, 4), "b2": (4,), "W3": (4, 3), "b3": (3,)}
    params = model.params
    expect(isinstance(params, dict) and set(params) == set(shapes),
           f"params has keys {sorted(params) if isinstance(params, dict) else params!r}, expected {sorted(shapes)}")
    for key, shape in shapes.items():
        expect_array(f"params[{key!r}]", params[key], shape)
        expect(params[key].dtype == np.float64, f"params[{key!r}] is {params[key].dtype}, "
                                                f"expected the model's dtype float64")
        if key.startswith("b"):
            expect(np.all(params[key] == 0), f"params[{key!r}] must start at zero")
    wide = fc_net(student, input_dim=200, weight_scale=0.1)
    std = float(np.std(wide.params["W1"]))
    expect(0.08 < std < 0.12, f"params['W1'] has standard deviation {std:.3f}, expected weight_scale = 0.1")

    X, y = fc_data()
    scores = model.loss(X)
    expect_array("loss(X) scores", scores, (4, 3))
    tiny = fc_net(student, weight_scale=1e-4)
    loss, _ = tiny.loss(X, y)
    expect(abs(float(loss) - np.log(3)) < 1e-3, f"with tiny weights the loss is {float(loss):.4f}, expected "
                                                f"log(3) = {np.log(3):.4f}")
    expect_fc_gradients(model, "FullyConnectedNet")
    expect_fc_architecture(student, "FullyConnectedNet")

    expect_fc_penalty(model)
    model.set("reg", 0.7)
    unregularized = {}

    def reg_probes(key, grad, numeric):
        if not unregularized:  # the gradients without the penalty, at the parameters of this gradient check
            model.set("reg", 0.0)
            unregularized.update(model.loss(*fc_data())[1], params=model.params)
            model.set("reg", 0.7)
        plain_grads, params = unregularized, unregularized["params"]
        if not key.startswith("W"):
            return [(plain_grads[key] + 0.7 * params[key], f"FullyConnectedNet grads[{key!r}] adds reg * {key} to a "
                                                           f"bias's gradient; the penalty is on the weights only")]
        return [(plain_grads[key], f"FullyConnectedNet with reg = 0.7: grads[{key!r}] leave out the penalty's "
                                   f"gradient reg * {key}"),
                (plain_grads[key] + 1.4 * params[key], f"FullyConnectedNet with reg = 0.7: grads[{key!r}] adds "
                                                        f"2 * reg * {key}; the gradient of 0.5 * reg * sum(W**2) is "
                                                        f"reg * W")]
    expect_fc_gradients(model, "FullyConnectedNet with reg = 0.7", probes=reg_probes)

    expect_fc_gradients(fc_net(student, nonlinearity="sigmoid"), "FullyConnectedNet (nonlinearity='sigmoid')")
    first, again, other = fc_net(student).params, fc_net(student).params, fc_net(student, seed=1).params
    expect(all(np.array_equal(first[k], again[k]) for k in ("W1", "W2", "W3")),
           "FullyConnectedNet: the same seed must give the same initial weights (draw W1, W2, ... in order from "
           "np.random after the template seeds it)")
    expect(not np.array_equal(first["W1"], other["W1"]), "FullyConnectedNet: another seed must give other weights")
    net32 = fc_net(student, dtype=np.float32)
    expect_array("FullyConnectedNet(dtype=np.float32).loss(X) scores", net32.loss(X.astype(np.float32)), (4, 3))
    _, grads32 = net32.loss(X, y)
    for key in sorted(grads32):  # the template casts the gradients to the model's dtype (FullyConnectedNet.loss)
        expect(np.asarray(grads32[key]).dtype == np.float32, f"FullyConnectedNet(dtype=np.float32) grads[{key!r}] is "
                                                             f"{np.asarray(grads32[key]).dtype}, expected float32 "
                                                             f"(the template casts them after your code)")


def expect_fc_penalty(model, reg=0.7):
    """The loss a FullyConnectedNet adds at ``reg`` (against reg = 0, on fc_data) is its L2 penalty over W1..W3;
    leaves the model at reg = 0."""
    X, y = fc_data()
    model.set("reg", reg)
    loss_reg, _ = model.loss(X, y)
    model.set("reg", 0.0)
    loss_plain, _ = model.loss(X, y)
    expect_penalty(model.params, loss_reg - loss_plain, reg, ("W1", "W2", "W3"))


def expect_penalty(params, added, reg, weights):
    """The L2 penalty a model adds at ``reg``: 0.5 * reg * sum(W**2) over ``weights``, with its mistakes named."""
    weights = list(weights)

    def total(keys, half=0.5):
        return half * reg * sum(float(np.sum(np.asarray(params[k], dtype=np.float64) ** 2)) for k in keys)
    penalty = total(weights)
    if abs(added - penalty) < 1e-9 * max(1.0, penalty):
        return
    others = [k for k in params if k not in weights]
    biases = [k for k in others if k.startswith("b") and not k.startswith("beta")]
    gammas = [k for k in others if k.startswith("gamma")]
    probes = [(total(weights, 1.0), f"reg = {reg} adds reg * sum(W**2) without the 1/2 ({added:.6f}, expected "
                                    f"0.5 * reg * sum(W**2) = {penalty:.6f})"),
              (total(weights + biases), f"reg = {reg} adds {added:.6f}: the penalty includes the biases; it is "
                                        f"0.5 * reg * sum(W**2) over the weights only ({penalty:.6f})"),
              (total(weights + gammas), f"reg = {reg} adds {added:.6f}: the penalty includes "
                                        f"{', '.join(gammas)}; it is 0.5 * reg * sum(W**2) over the weights only "
                                        f"({penalty:.6f}), not over batch or layer norm's gamma and beta"),
              (total(weights + others), f"reg = {reg} adds {added:.6f}: the penalty includes every parameter; it is "
                                        f"0.5 * reg * sum(W**2) over the weights only ({penalty:.6f})"),
              (total(weights[:-1]), f"reg = {reg} adds {added:.6f}: the penalty leaves out the last layer's "
                                    f"{weights[-1]} ({penalty:.6f} with every weight)")]
    name_probes(added, [(value, message) for value, message in probes if abs(value - penalty) > 1e-9 * penalty])
    raise CheckFailed(f"reg = {reg} adds {added:.6f} to the loss, expected 0.5 * reg * sum(W**2) = {penalty:.6f}")


def _updates(student, rule, grads, config):
    """Apply ``rule`` once per gradient to a fresh w; returns the successive weights and the last config."""
    optim = student.module("optim")
    w = np.array([1.0, -2.0, 0.5])
    history = []
    for g in grads:
        w, config = unpack(getattr(optim, rule)(w.copy(), np.array(g, dtype=np.float64), config),
                           ("next_w", "config"), rule)
        expect_array(f"{rule} next_w", w, (3,))
        history.append(w.copy())
    return history, config


@check("optim.sgd_momentum", NOTEBOOK)
def check_sgd_momentum(student):
    g = np.array([0.5, -1.0, 2.0])
    history, _ = _updates(student, "sgd_momentum", [g, g, g], {"learning_rate": 0.1, "momentum": 0.9})
    # Constant gradient g from v = 0: v_k = -lr * g * (1 + 0.9 + ... + 0.9**(k-1)), so after 3 steps
    # w moves by -0.1 * g * (1 + 1.9 + 2.71) = -0.561 * g.
    expect_close("sgd_momentum after 1 step", history[0] - [1.0, -2.0, 0.5], -0.1 * g, 1e-12, probes=[
        (0.1 * g, "sgd_momentum moves w up the gradient: its first step is +learning_rate * dw, and a step goes "
                  "down the gradient (-learning_rate * dw)")])
    expect_close("sgd_momentum after 3 steps", history[2] - [1.0, -2.0, 0.5], -0.561 * g, 1e-12, probes=[
        # Every step the first one (-0.1 * g each): the velocity starts from zero at every call.
        (-0.3 * g, "sgd_momentum: config['velocity'] is not kept between steps (three steps move w by 3 times the "
                   "first one); store the new velocity in config['velocity']"),
        # v_k = 0.9 * v_(k-1) + 0.1 * g... with the momentum on the gradient: (1 - 0.9) instead of the learning rate
        (-0.1 * g * (1 + 0.1 + 0.01), "sgd_momentum multiplies the old velocity by 1 - momentum (0.1); it keeps "
                                      "momentum (0.9) of it")])


@check("optim.rmsprop", NOTEBOOK)
def check_rmsprop(student):
    g = np.array([0.5, -1.0, 2.0])
    history, _ = _updates(student, "rmsprop", [g, g], {"learning_rate": 0.01, "decay_rate": 0.99, "epsilon": 1e-8})
    # cache_k = (1 - 0.99**k) g**2, so step k moves every coordinate by lr * sign(g) / sqrt(1 - 0.99**k):
    # 0.1 after step 1 (sqrt(0.01) = 0.1), then 0.01 / sqrt(0.0199) = 0.0708881...
    sign = np.sign(g)
    expect_close("rmsprop after 1 step", history[0] - [1.0, -2.0, 0.5], -0.1 * sign, 1e-6, probes=[
        # cache = 0.01 * g**2: without the square root the step is lr * g / (0.01 * g**2) = 1 / g.
        (-0.01 * g / (0.01 * g ** 2 + 1e-8), "rmsprop divides by the cache itself; it divides by its square root, "
                                             "sqrt(cache) + epsilon"),
        # cache = 0.99 * g**2 when decay_rate weighs the new gradient: step lr / sqrt(0.99) = 0.0100504.
        (-0.01 / np.sqrt(0.99) * sign, "rmsprop has the decay rate the wrong way round: cache = decay_rate * cache "
                                       "+ (1 - decay_rate) * dw**2 keeps 99% of the old cache"),
        (-0.01 * g, "rmsprop leaves the cache out of the step: it divides by sqrt(cache) + epsilon")])
    expect_close("rmsprop after 2 steps", history[1] - history[0], -0.070888120500 * sign, 1e-6, probes=[
        (-0.1 * sign, "rmsprop: config['cache'] is not kept between steps (the second step equals the first); "
                      "store the new cache in config['cache']")])


@check("optim.adam", NOTEBOOK)
def check_adam(student):
    g = np.array([0.5, -1.0, 2.0])
    try:
        history, config = _updates(student, "adam", [g, g, g], {"learning_rate": 0.01})
    except StudentError as error:
        _adam_uses_t_first(student, g, error.describe())
        raise
    # With bias correction, a constant gradient gives m_hat = g and v_hat = g**2: each step is lr * sign(g).
    # Without it, the first step is lr * 0.1 / sqrt(0.001) = 3.1623 * lr.
    first = history[0] - [1.0, -2.0, 0.5]
    if not np.all(np.isfinite(first)):
        _adam_uses_t_first(student, g, f"its first step is {first.tolist()}")
        raise CheckFailed(f"adam: the first step is not finite: {first.tolist()}")
    if relative_error(first, -0.031622776601683794 * np.sign(g)) <= 1e-5:
        raise CheckFailed("adam has no bias correction: its first step is 3.16 * learning_rate; use m / (1 - beta1**t) "
                          "and v / (1 - beta2**t), with t incremented first")
    expect_close("adam steps for a constant gradient", history[2] - [1.0, -2.0, 0.5], -0.03 * np.sign(g), 1e-6)
    expect(isinstance(config, dict) and config.get("t") == 3,
           f"adam: config['t'] is {config.get('t') if isinstance(config, dict) else config!r} after 3 steps, "
           f"expected 3")
    history, _ = _updates(student, "adam", [g, -g], {"learning_rate": 0.01})
    # Gradient g then -g: m_hat = -(0.1 * 0.1) g / (1 - 0.9**2) = -0.0526316 g, v_hat = g**2 exactly,
    # so the second step moves by +0.01 * 0.0526316 * sign(g).
    expect_close("adam second step after the gradient flips", history[1] - history[0],
                 0.01 * 0.052631578947 * np.sign(g), 1e-6)


def _adam_uses_t_first(student, g, what):
    """Name the mistake if adam's first step fails from t = 0 but is right from t = 1: t is used, then incremented."""
    try:
        history, _ = _updates(student, "adam", [g], {"learning_rate": 0.01, "t": 1})
    except (StudentError, CheckFailed):
        return
    if relative_error(history[0] - [1.0, -2.0, 0.5], -0.01 * np.sign(g)) <= 1e-6:
        raise CheckFailed(f"adam uses t before incrementing it: its first step divides by 1 - beta1**0 = 0 ({what}); "
                          f"increment t first, so that the first step uses t = 1")


@check("optim (defaults and dtypes)", NOTEBOOK, ("sgd_momentum", "rmsprop", "adam"), needs=("optim",))
def check_optim_defaults(student):
    optim = student.module("optim")
    g = np.array([0.5, -1.0, 2.0])
    # First steps with config=None, from the contract's defaults: sgd_momentum moves by -lr * g (lr 1e-2);
    # rmsprop by -lr * g / (sqrt(0.01 * g**2) + 1e-8) = -0.1 * sign(g) (lr 1e-2); adam by -lr * sign(g) (lr 1e-3).
    for rule, step in (("sgd_momentum", -0.01 * g), ("rmsprop", -0.1 * np.sign(g)), ("adam", -1e-3 * np.sign(g))):
        w = np.array([1.0, -2.0, 0.5])
        next_w, config = unpack(getattr(optim, rule)(w.copy(), g.copy()), ("next_w", "config"), rule)
        expect(isinstance(config, dict), f"{rule}(w, dw) with no config must return the new config dict")
        expect_array(f"{rule} next_w", next_w, w.shape)
        expect_close(f"{rule} first step with the default config (config=None)", next_w - w, step, 1e-6)
        w32, g32 = w.astype(np.float32), g.astype(np.float32)  # float32 works too (its dtype is the rule's choice)
        next32, config32 = getattr(optim, rule)(w32.copy(), g32, None)
        next32, _ = getattr(optim, rule)(np.asarray(next32, dtype=np.float32), g32, config32)
        expect_array(f"{rule} next_w for float32 w", next32, w.shape)
