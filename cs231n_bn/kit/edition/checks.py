"""The self-checks behind ``python -m cs231n_bn check``: one entry per student function, in notebook order.

A check never holds a second implementation of the function it checks (that would hand the solution out with
the student edition). It tests what any correct implementation must satisfy instead:
- backward passes against centred differences of the student's own forward pass, in float64;
- properties of the math: per-feature means and variances after normalization, the expectation of dropout,
  the closed form agreeing with the staged backward pass, invariances of the losses;
- numbers worked out by hand from the update equations (written as literals with their derivation).
Each check raises CheckFailed with the first reason; a stub's NotImplementedError passes through.
"""

import importlib
from dataclasses import dataclass

import numpy as np

from cs231n_bn.gradient_check import eval_numerical_gradient_array

CHECKS = []

# The order in which a student meets the notebooks; the checks are registered in this order.
NOTEBOOK_ORDER = ("FullyConnectedNets.ipynb", "BatchNormalization.ipynb", "NormalizationFamily.ipynb",
                  "Dropout.ipynb", "PaperReproduction.ipynb",
                  "ConvolutionalNetworks.ipynb")  # README's order


class CheckFailed(AssertionError):
    """A check's first failed expectation, worded for the student."""


@dataclass(frozen=True)
class Check:
    name: str        # what the student sees, e.g. "layers.batchnorm_backward"
    notebook: str    # where the function is introduced
    functions: tuple  # function names whose stub means "this one is not implemented yet"
    run: object      # callable() -> None; raises CheckFailed or NotImplementedError


def check(name, notebook, functions=None):
    """Register the decorated function as the check of ``name``; registration order is notebook order."""
    def register(run):
        CHECKS.append(Check(name, notebook, tuple(functions or (name.rsplit(".", 1)[-1],)), run))
        return run
    return register


# ----------------------------------------------------------------------------------------------------------------
# Building blocks of the checks

def _module(name):
    return importlib.import_module(f"cs231n_bn.{name}")


def _rng(seed=0):
    return np.random.default_rng(seed)


def relative_error(a, b):
    """||a - b|| / (||a|| + ||b||): 0 for equal arrays, 1 for opposite ones."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def expect(condition, reason):
    if not condition:
        raise CheckFailed(reason)


def expect_array(what, value, shape):
    expect(isinstance(value, np.ndarray), f"{what} is a {type(value).__name__}, expected a numpy array")
    expect(value.shape == tuple(shape), f"{what} has shape {value.shape}, expected {tuple(shape)}")
    expect(np.all(np.isfinite(value)), f"{what} holds nan or inf")


def expect_close(what, got, want, tol):
    got = np.asarray(got)
    expect(got.shape == np.shape(want), f"{what} has shape {got.shape}, expected {np.shape(want)}")
    error = relative_error(got, want)
    expect(error <= tol, f"{what}: relative error {error:.1e} (tolerance {tol:.0e})")


def expect_gradient(what, analytic, f, x, dout, tol=1e-7, atol=1e-8):
    """``analytic`` must match centred differences of f at x (float64, h = 1e-5).

    Relative error at most ``tol``; a gradient that is zero in exact arithmetic (a bias followed by batch norm)
    is compared with ``atol`` instead, since both sides are then rounding noise of order 1e-11.
    """
    expect_array(what, analytic, x.shape)
    numeric = eval_numerical_gradient_array(f, x, dout)
    error = relative_error(analytic, numeric)
    difference = float(np.linalg.norm(np.asarray(analytic, dtype=np.float64) - numeric))
    expect(error <= tol or difference <= atol,
           f"{what} disagrees with centred differences: relative error {error:.1e} (tolerance {tol:.0e})")


def expect_param_gradient(what, grad, shape, param="gamma"):
    """A parameter's gradient has the parameter's shape; a gradient left per example was not summed."""
    expect(isinstance(grad, np.ndarray), f"{what} is a {type(grad).__name__}, expected a numpy array")
    if grad.shape != tuple(shape) and grad.size > int(np.prod(shape)):
        raise CheckFailed(f"{what} has shape {grad.shape}, expected {tuple(shape)} ({param}'s shape): every example "
                          f"uses the same {param}, so its gradient sums the contributions over the batch"
                          + (" and the spatial positions" if grad.ndim == 4 else ""))
    expect_array(what, grad, shape)


def pure(function, name, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` and fail if it changed any of its array arguments in place."""
    before = [(i, a.copy()) for i, a in enumerate(args) if isinstance(a, np.ndarray)]
    result = function(*args, **kwargs)
    for i, copy in before:
        expect(np.array_equal(args[i], copy, equal_nan=True),
               f"{name} modifies its input {_argument_name(function, i)} in place (the caller's array changes); "
               f"compute the result into new arrays")
    return result


def _argument_name(function, index):
    try:
        return function.__code__.co_varnames[index]
    except (AttributeError, IndexError):
        return f"number {index + 1}"


def expect_normalization_gradient(what, dx, f, x, dout, axes, tol=1e-7, view=None):
    """Like expect_gradient for dx of a normalization layer, naming a missing path through the mean or the variance.

    The statistics are taken over ``axes`` of x. Without the path through the mean, dx is off by a constant over
    those axes; without the path through the variance, by a multiple of the centred input x - mean(x).
    """
    expect_array(what, dx, x.shape)
    numeric = eval_numerical_gradient_array(f, x, dout)
    error = relative_error(dx, numeric)
    if error <= tol:
        return
    r = np.asarray(dx, dtype=np.float64) - numeric
    if view is not None:  # e.g. (N, C, H, W) -> (N, G, C // G, H, W) for group norm
        r, x = view(r), view(x)
    constant = r.mean(axis=axes, keepdims=True)
    centred = x - x.mean(axis=axes, keepdims=True)
    rest = r - constant
    along = (rest * centred).sum(axis=axes, keepdims=True) / (centred * centred).sum(axis=axes, keepdims=True)
    rest = rest - along * centred
    size = np.linalg.norm(r)
    mean_part, var_part = np.linalg.norm(constant * np.ones_like(r)), np.linalg.norm(along * centred)
    if np.linalg.norm(rest) <= 1e-3 * size:
        missing = [name for name, part in (("the mean", mean_part), ("the variance", var_part)) if part > 1e-2 * size]
        if missing:
            raise CheckFailed(f"{what} misses the path through {' and through '.join(missing)} (dx is off by "
                              + (" plus ".join([t for t, part in (("a constant over the normalized axes", mean_part),
                                                                  ("a multiple of x - mean", var_part))
                                                if part > 1e-2 * size]))
                              + f"): x reaches the output through x - mean, through the mean and through the "
                                f"variance, and dx adds the gradients of every path; relative error {error:.1e}")
    raise CheckFailed(f"{what} disagrees with centred differences: relative error {error:.1e} (tolerance {tol:.0e})")


def expect_nan_propagates(what, out, nan_where, finite_where):
    """NaN in the input must give NaN exactly where it should, and leave the rest finite (no error)."""
    expect(np.all(np.isnan(out[nan_where])), f"{what}: a NaN in the input must give NaN in the outputs that depend "
                                             f"on it (NaN is not an error; it propagates)")
    expect(np.all(np.isfinite(out[finite_where])), f"{what}: a NaN in the input spread to outputs that do not "
                                                    f"depend on it")


def expect_float32(what, value):
    expect(np.asarray(value).dtype == np.float32, f"{what} for float32 input is {np.asarray(value).dtype}, "
                                                  f"expected float32 (x's dtype)")


def backward_pure(backward, name, dout, cache, *inputs):
    """backward(dout, cache); fails if it changed dout or any of the forward ``inputs`` in place."""
    copies = [a.copy() for a in inputs]
    result = pure(backward, name, dout, cache)
    for a, copy in zip(inputs, copies):
        expect(np.array_equal(a, copy, equal_nan=True),
               f"{name} changes an input of the forward pass in place (an array in the cache is the caller's); "
               f"compute the gradients into new arrays")
    return result


def unpack(result, names, function):
    """The tuple a function returns, checked for its length."""
    expect(isinstance(result, tuple) and len(result) == len(names),
           f"{function} should return ({', '.join(names)}), got {type(result).__name__}"
           + (f" of length {len(result)}" if isinstance(result, tuple) else ""))
    return result


def expect_normalized(what, z, axes, var, eps, tol=1e-6, out=None):
    """z = (out - beta) / gamma must have mean 0 and variance var / (var + eps) over ``axes``.

    With ``out`` (the layer's output), an output that is x_hat itself (gamma and beta left out) is named as such;
    a variance that divides by count - 1 (unbiased) or was computed as E[x^2] - E[x]^2 is named too.
    """
    got_mean, got = z.mean(axis=axes), z.var(axis=axes)
    var = np.reshape(var, got.shape)  # the caller's statistics, with or without the reduced axes
    want = var / (var + eps)
    if out is not None and (np.max(np.abs(got_mean)) > tol or np.max(np.abs(got - want)) > tol):
        if np.max(np.abs(out.mean(axis=axes))) <= tol and np.max(np.abs(out.var(axis=axes) - want)) <= tol:
            raise CheckFailed(f"{what}: out is x_hat itself; scale by gamma and shift by beta "
                              f"(out = gamma * x_hat + beta)")
    expect(np.max(np.abs(got_mean)) <= tol, f"{what}: mean of (out - beta) / gamma is "
                                            f"{np.max(np.abs(got_mean)):.2e} away from 0")
    error = np.max(np.abs(got - want))
    if error > tol:
        count = z.size // got.size
        if np.max(np.abs(got - want * (count - 1) / count)) <= 1e-4:
            raise CheckFailed(f"{what}: normalizes with the unbiased variance (divides by N - 1 = {count - 1}); "
                              f"normalization divides by the number of values N = {count} (the biased variance)")
        raise CheckFailed(f"{what}: variance of (out - beta) / gamma is {got.ravel()[0]:.6f}, expected "
                          f"{want.ravel()[0]:.6f} (biased variance, divide by N; computed in two passes, centre "
                          f"first: E[x^2] - E[x]^2 loses every digit when |mean| >> std)")


# ----------------------------------------------------------------------------------------------------------------
# FullyConnectedNets.ipynb

@check("layers.affine_forward", "FullyConnectedNets.ipynb")
def check_affine_forward():
    layers = _module("layers")
    x = _rng(1).normal(size=(3, 2, 4))  # flattened to (3, 8) in C order
    pick = np.array([5, 0, 7])          # w selects inputs 5, 0, 7 of each flattened row
    w = np.zeros((8, 3))
    w[pick, np.arange(3)] = 1.0
    b = np.array([0.5, -1.0, 2.0])
    out, _ = unpack(pure(layers.affine_forward, "affine_forward", x, w, b), ("out", "cache"), "affine_forward")
    expect_array("affine_forward out", out, (3, 3))
    expect_close("affine_forward out (w picking single inputs)", out, x.reshape(3, 8)[:, pick] + b, 1e-12)
    out, _ = layers.affine_forward(x, np.ones((8, 1)), np.zeros(1))
    expect_close("affine_forward out (w of ones sums each example)", out[:, 0], x.sum(axis=(1, 2)), 1e-12)


@check("layers.affine_backward", "FullyConnectedNets.ipynb")
def check_affine_backward():
    layers = _module("layers")
    rng = _rng(2)
    x, w, b = rng.normal(size=(4, 2, 3)), rng.normal(size=(6, 5)), rng.normal(size=5)
    dout = rng.normal(size=(4, 5))
    _, cache = layers.affine_forward(x, w, b)
    dx, dw, db = unpack(backward_pure(layers.affine_backward, "affine_backward", dout, cache, x, w, b),
                        ("dx", "dw", "db"), "affine_backward")
    expect_gradient("affine_backward dx", dx, lambda v: layers.affine_forward(v, w, b)[0], x, dout)
    expect_gradient("affine_backward dw", dw, lambda v: layers.affine_forward(x, v, b)[0], w, dout)
    expect_gradient("affine_backward db", db, lambda v: layers.affine_forward(x, w, v)[0], b, dout)


@check("layers.relu_forward", "FullyConnectedNets.ipynb")
def check_relu_forward():
    layers = _module("layers")
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = unpack(pure(layers.relu_forward, "relu_forward", x), ("out", "cache"), "relu_forward")
    expect_array("relu_forward out", out, x.shape)
    expect(np.all(out[x <= 0] == 0), "relu_forward: negative inputs must give 0")
    expect(np.all(out[x > 0] == x[x > 0]), "relu_forward: positive inputs must pass through unchanged")
    nan_out, _ = layers.relu_forward(np.array([[np.nan, 1.0, -1.0]]))
    expect_nan_propagates("relu_forward", nan_out, (0, 0), (0, slice(1, 3)))


@check("layers.relu_backward", "FullyConnectedNets.ipynb")
def check_relu_backward():
    layers = _module("layers")
    rng = _rng(3)
    x = rng.choice([-1.0, 1.0], size=(4, 5)) * rng.uniform(0.1, 1.0, size=(4, 5))  # away from the kink
    dout = rng.normal(size=x.shape)
    _, cache = layers.relu_forward(x)
    dx = layers.relu_backward(dout, cache)
    expect_gradient("relu_backward dx", dx, lambda v: layers.relu_forward(v)[0], x, dout)


@check("layers.sigmoid_forward", "FullyConnectedNets.ipynb")
def check_sigmoid_forward():
    layers = _module("layers")
    x = np.array([[-1000.0, -30.0, -1.0, 0.0], [0.5, 2.0, 30.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise"):  # a stable sigmoid never overflows
        try:
            out, _ = unpack(pure(layers.sigmoid_forward, "sigmoid_forward", x), ("out", "cache"), "sigmoid_forward")
        except FloatingPointError as error:
            raise CheckFailed(f"sigmoid_forward overflows for large |x| ({error}); exp(-|x|) never does")
    expect_array("sigmoid_forward out", out, x.shape)
    expect(out[0, 3] == 0.5, f"sigmoid_forward(0) is {out[0, 3]}, expected 0.5")
    mirrored, _ = layers.sigmoid_forward(-x)
    expect_close("sigmoid_forward symmetry: sigmoid(x) + sigmoid(-x) must be 1", out + mirrored, np.ones_like(x),
                 1e-12)
    expect(out[0, 0] == 0.0 and out[1, 3] == 1.0, "sigmoid_forward(-1000) must be 0 and sigmoid(1000) must be 1")
    expect(abs(out[0, 2] - 0.2689414213699951) < 1e-12, f"sigmoid_forward(-1) is {out[0, 2]}, expected "
                                                         f"1 / (1 + e) = 0.26894142137")
    _check_sigmoid_dtypes(layers)


def _check_sigmoid_dtypes(layers):
    for dtype in (np.float32, np.float16):
        x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=dtype)
        with np.errstate(over="raise", invalid="raise"):
            try:
                out, _ = layers.sigmoid_forward(x)
            except FloatingPointError as error:
                raise CheckFailed(f"sigmoid_forward overflows for large |x| in {np.dtype(dtype).name} ({error})")
        expect(out.dtype == dtype, f"sigmoid_forward turned {np.dtype(dtype).name} input into {out.dtype}")
        expect(out[0] == 0 and out[2] == 0.5 and out[4] == 1, f"sigmoid_forward in {np.dtype(dtype).name} gives "
                                                              f"{out.tolist()} for x = {x.tolist()}")
    nan_out, _ = layers.sigmoid_forward(np.array([np.nan, 0.0]))
    expect_nan_propagates("sigmoid_forward", nan_out, 0, 1)


@check("layers.sigmoid_backward", "FullyConnectedNets.ipynb")
def check_sigmoid_backward():
    layers = _module("layers")
    rng = _rng(30)
    x, dout = rng.normal(size=(3, 4)) * 3, rng.normal(size=(3, 4))
    _, cache = layers.sigmoid_forward(x)
    dx = layers.sigmoid_backward(dout, cache)
    expect_gradient("sigmoid_backward dx", dx, lambda v: layers.sigmoid_forward(v)[0], x, dout)


def _check_loss(name, zero_scores_loss):
    layers = _module("layers")
    loss_fn = getattr(layers, name)
    num_classes = 5
    y = np.array([0, 3, 1, 4, 2, 3])
    loss, dx = unpack(loss_fn(np.zeros((6, num_classes)), y), ("loss", "dx"), name)
    expect(abs(float(loss) - zero_scores_loss) < 1e-9,
           f"{name} of all-zero scores is {float(loss):.6f}, expected {zero_scores_loss:.6f}")
    scores = _rng(4).normal(size=(6, num_classes))
    loss, dx = pure(loss_fn, name, scores, y)
    expect_gradient(f"{name} dx", dx, lambda v: np.array(loss_fn(v, y)[0]), scores, np.array(1.0))
    shifted, _ = loss_fn(scores + 7.0, y)
    expect(abs(float(shifted) - float(loss)) < 1e-9, f"{name} changes when every score moves by the same amount")


@check("layers.softmax_loss", "FullyConnectedNets.ipynb")
def check_softmax_loss():
    _check_loss("softmax_loss", float(np.log(5)))  # uniform probabilities 1/5
    layers = _module("layers")
    with np.errstate(all="ignore"):  # the mistake below warns about the overflow it makes
        loss, dx = layers.softmax_loss(np.array([[1000.0, 0.0, -1000.0]]), np.array([0]))
    expect(np.isfinite(loss) and abs(float(loss)) < 1e-9 and np.all(np.isfinite(dx)),
           "softmax_loss overflows for large scores (exp(1000) is inf): subtract each row's maximum before exp, "
           "which leaves the softmax unchanged")


@check("layers.svm_loss", "FullyConnectedNets.ipynb")
def check_svm_loss():
    _check_loss("svm_loss", 4.0)  # every wrong class violates the margin of 1 by exactly 1


def _sandwich(name, forward_args, param_names, seed):
    """Gradient check of a layer_utils sandwich: forward_args are the float arrays, then fixed extras."""
    utils = _module("layer_utils")
    forward, backward = getattr(utils, f"{name}_forward"), getattr(utils, f"{name}_backward")
    arrays, extra = forward_args
    out, cache = unpack(forward(*arrays, *extra), ("out", "cache"), f"{name}_forward")
    dout = _rng(seed).normal(size=out.shape)
    grads = backward(dout, cache)
    expect(isinstance(grads, tuple) and len(grads) == len(arrays),
           f"{name}_backward should return ({', '.join('d' + p for p in param_names)})")
    for i, (grad, label) in enumerate(zip(grads, param_names)):
        def f(v, i=i):
            args = list(arrays)
            args[i] = v
            return forward(*args, *extra)[0]
        expect_gradient(f"{name}_backward d{label}", grad, f, arrays[i], dout)


@check("layer_utils.affine_relu", "FullyConnectedNets.ipynb", ("affine_relu_forward", "affine_relu_backward"))
def check_affine_relu():
    rng = _rng(5)
    x, w, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=5)
    _sandwich("affine_relu", ((x, w, b), ()), ("x", "w", "b"), 6)


def _fc_net(**kwargs):
    fc_net = _module("classifiers.fc_net")
    options = dict(input_dim=6, num_classes=3, weight_scale=0.5, dtype=np.float64, seed=0)
    options.update(kwargs)
    return fc_net.FullyConnectedNet([5, 4], **options)


def _fc_data(seed=7):
    rng = _rng(seed)
    return rng.normal(size=(4, 6)), np.array([0, 2, 1, 2])


def _expect_model_gradients(model, X, y, label, loss_name, offset_keys, rng, tol=1e-6):
    """model.loss(X, y) returns a finite loss and a gradient for every parameter, each agreeing with centred
    differences of the loss; the parameters in offset_keys first get positive offsets, which keep ReLU inputs off
    the kink at 0 (a dropped row is all zeros)."""
    for key in offset_keys:
        model.params[key] = model.params[key] + rng.uniform(0.1, 0.3, size=model.params[key].shape)
    loss, grads = unpack(model.loss(X, y), ("loss", "grads"), loss_name)
    expect(np.isfinite(loss), f"{label}: the loss is not finite")
    expect(set(grads) == set(model.params), f"{label}: grads has keys {sorted(grads)}, expected the keys of "
                                            f"params {sorted(model.params)}")
    for key in sorted(model.params):
        expect_gradient(f"{label}: grads[{key!r}]", grads[key], lambda v: np.array(model.loss(X, y)[0]),
                        model.params[key], np.array(1.0), tol=tol)


def _expect_fc_gradients(model, label, tol=1e-6):
    X, y = _fc_data()
    biases_and_betas = [key for key in model.params if key.startswith("b")]
    _expect_model_gradients(model, X, y, label, "FullyConnectedNet.loss", biases_and_betas, _rng(11), tol)


@check("FullyConnectedNet", "FullyConnectedNets.ipynb", ("__init__", "loss"))
def check_fc_net():
    model = _fc_net()
    shapes = {"W1": (6, 5), "b1": (5,), "W2": (5, 4), "b2": (4,), "W3": (4, 3), "b3": (3,)}
    expect(set(model.params) == set(shapes), f"params has keys {sorted(model.params)}, expected {sorted(shapes)}")
    for key, shape in shapes.items():
        expect_array(f"params[{key!r}]", model.params[key], shape)
        expect(model.params[key].dtype == np.float64, f"params[{key!r}] is {model.params[key].dtype}, "
                                                      f"expected the model's dtype float64")
        if key.startswith("b"):
            expect(np.all(model.params[key] == 0), f"params[{key!r}] must start at zero")
    wide = _fc_net(input_dim=200, weight_scale=0.1)
    std = float(np.std(wide.params["W1"]))
    expect(0.08 < std < 0.12, f"params['W1'] has standard deviation {std:.3f}, expected weight_scale = 0.1")

    X, y = _fc_data()
    scores = model.loss(X)
    expect_array("loss(X) scores", scores, (4, 3))
    tiny = _fc_net(weight_scale=1e-4)
    loss, _ = tiny.loss(X, y)
    expect(abs(float(loss) - np.log(3)) < 1e-3, f"with tiny weights the loss is {float(loss):.4f}, expected "
                                                f"log(3) = {np.log(3):.4f}")
    _expect_fc_gradients(model, "FullyConnectedNet")

    model.reg = 0.7
    loss_reg, _ = model.loss(X, y)
    model.reg = 0.0
    loss_plain, _ = model.loss(X, y)
    penalty = 0.5 * 0.7 * sum(np.sum(model.params[k] ** 2) for k in ("W1", "W2", "W3"))
    expect(abs((loss_reg - loss_plain) - penalty) < 1e-9 * max(1.0, penalty),
           f"reg = 0.7 adds {loss_reg - loss_plain:.6f} to the loss, expected 0.5 * reg * sum(W**2) = {penalty:.6f}")
    model.reg = 0.7
    _expect_fc_gradients(model, "FullyConnectedNet with reg = 0.7")

    _expect_fc_gradients(_fc_net(nonlinearity="sigmoid"), "FullyConnectedNet (nonlinearity='sigmoid')")
    again, other = _fc_net(), _fc_net(seed=1)
    expect(all(np.array_equal(model.params[k], again.params[k]) for k in ("W1", "W2", "W3")),
           "FullyConnectedNet: the same seed must give the same initial weights (draw W1, W2, ... in order from "
           "np.random after the template seeds it)")
    expect(not np.array_equal(model.params["W1"], other.params["W1"]), "FullyConnectedNet: another seed must give "
                                                                        "other weights")
    net32 = _fc_net(dtype=np.float32)
    scores32 = net32.loss(X.astype(np.float32))
    expect_float32("FullyConnectedNet(dtype=np.float32).loss(X) scores", scores32)
    _, grads32 = net32.loss(X, y)
    for key in sorted(grads32):
        expect_float32(f"FullyConnectedNet(dtype=np.float32) grads[{key!r}]", grads32[key])


def _updates(rule, grads, config):
    """Apply ``rule`` once per gradient to a fresh w; returns the successive weights."""
    optim = _module("optim")
    w = np.array([1.0, -2.0, 0.5])
    history = []
    for g in grads:
        w, config = unpack(getattr(optim, rule)(w.copy(), np.array(g, dtype=np.float64), config),
                           ("next_w", "config"), rule)
        expect_array(f"{rule} next_w", w, (3,))
        history.append(w.copy())
    return history, config


@check("optim.sgd_momentum", "FullyConnectedNets.ipynb")
def check_sgd_momentum():
    g = [0.5, -1.0, 2.0]
    history, _ = _updates("sgd_momentum", [g, g, g], {"learning_rate": 0.1, "momentum": 0.9})
    # Constant gradient g from v = 0: v_k = -lr * g * (1 + 0.9 + ... + 0.9**(k-1)), so after 3 steps
    # w moves by -0.1 * g * (1 + 1.9 + 2.71) = -0.561 * g.
    expect_close("sgd_momentum after 1 step", history[0] - [1.0, -2.0, 0.5], -0.1 * np.array(g), 1e-12)
    expect_close("sgd_momentum after 3 steps", history[2] - [1.0, -2.0, 0.5], -0.561 * np.array(g), 1e-12)


@check("optim.rmsprop", "FullyConnectedNets.ipynb")
def check_rmsprop():
    g = [0.5, -1.0, 2.0]
    history, _ = _updates("rmsprop", [g, g], {"learning_rate": 0.01, "decay_rate": 0.99, "epsilon": 1e-8})
    # cache_k = (1 - 0.99**k) g**2, so step k moves every coordinate by lr * sign(g) / sqrt(1 - 0.99**k):
    # 0.1 after step 1 (sqrt(0.01) = 0.1), then 0.01 / sqrt(0.0199) = 0.0708881...
    sign = np.sign(g)
    expect_close("rmsprop after 1 step", history[0] - [1.0, -2.0, 0.5], -0.1 * sign, 1e-6)
    expect_close("rmsprop after 2 steps", history[1] - history[0], -0.070888120500 * sign, 1e-6)


@check("optim.adam", "FullyConnectedNets.ipynb")
def check_adam():
    g = np.array([0.5, -1.0, 2.0])
    history, config = _updates("adam", [g, g, g], {"learning_rate": 0.01})
    # With bias correction, a constant gradient gives m_hat = g and v_hat = g**2: each step is lr * sign(g).
    # Without it, the first step is lr * 0.1 / sqrt(0.001) = 3.1623 * lr.
    first = history[0] - [1.0, -2.0, 0.5]
    expect(np.all(np.isfinite(first)), "adam: the first step is not finite; t is incremented before it is used "
                                       "(the first step uses t = 1)")
    if relative_error(first, -0.031622776601683794 * np.sign(g)) <= 1e-5:
        raise CheckFailed("adam has no bias correction: its first step is 3.16 * learning_rate; use m / (1 - beta1**t) "
                          "and v / (1 - beta2**t), with t incremented first")
    expect_close("adam steps for a constant gradient", history[2] - [1.0, -2.0, 0.5], -0.03 * np.sign(g), 1e-6)
    expect(config.get("t") == 3, f"adam: config['t'] is {config.get('t')!r} after 3 steps, expected 3")
    history, _ = _updates("adam", [g, -g], {"learning_rate": 0.01})
    # Gradient g then -g: m_hat = -(0.1 * 0.1) g / (1 - 0.9**2) = -0.0526316 g, v_hat = g**2 exactly,
    # so the second step moves by +0.01 * 0.0526316 * sign(g).
    expect_close("adam second step after the gradient flips", history[1] - history[0],
                 0.01 * 0.052631578947 * np.sign(g), 1e-6)


@check("optim (defaults and dtypes)", "FullyConnectedNets.ipynb", ("sgd_momentum", "rmsprop", "adam"))
def check_optim_defaults():
    optim = _module("optim")
    g = np.array([0.5, -1.0, 2.0])
    # First steps with config=None, from the contract's defaults: sgd_momentum moves by -lr * g (lr 1e-2);
    # rmsprop by -lr * g / (sqrt(0.01 * g**2) + 1e-8) = -0.1 * sign(g) (lr 1e-2); adam by -lr * sign(g) (lr 1e-3).
    for rule, step in (("sgd_momentum", -0.01 * g), ("rmsprop", -0.1 * np.sign(g)), ("adam", -1e-3 * np.sign(g))):
        w = np.array([1.0, -2.0, 0.5])
        next_w, config = unpack(getattr(optim, rule)(w.copy(), g.copy()), ("next_w", "config"), rule)
        expect(isinstance(config, dict), f"{rule}(w, dw) with no config must return the new config dict")
        expect_close(f"{rule} first step with the default config (config=None)", next_w - w, step, 1e-6)
        w32, g32 = w.astype(np.float32), g.astype(np.float32)
        next32, config32 = getattr(optim, rule)(w32.copy(), g32, None)
        next32, config32 = getattr(optim, rule)(next32, g32, config32)
        expect_float32(f"{rule} next_w", next32)
        for key, value in config32.items():
            if isinstance(value, np.ndarray):
                expect_float32(f"{rule} config[{key!r}]", value)


# ----------------------------------------------------------------------------------------------------------------
# BatchNormalization.ipynb

def _bn_inputs(seed, shape=(6, 4)):
    rng = _rng(seed)
    x = 1e8 + rng.normal(size=shape) * rng.uniform(0.5, 3.0, size=shape[1])  # a large offset: two-pass variance
    gamma, beta = rng.uniform(0.5, 2.0, size=shape[1]), rng.normal(size=shape[1])
    return x, gamma, beta


def _expect_running(what, got, want, batch_statistic, momentum, unbiased=None):
    """bn_param's running average after one train step from zeros, with the classic mistakes named."""
    expect(got is not None, f"bn_param has no {what!r} after a train step")
    got = np.asarray(got)
    expect(got.shape == np.shape(want), f"bn_param[{what!r}] has shape {got.shape}, expected {np.shape(want)}")
    if relative_error(got, want) <= 1e-9:
        return
    expect(np.any(got != 0), f"bn_param[{what!r}] is still zero after a train step: store the updated running "
                             f"average in bn_param")
    if relative_error(got, momentum * batch_statistic) <= 1e-9:
        raise CheckFailed(f"bn_param[{what!r}]: the momentum is the wrong way round; running = momentum * running "
                          f"+ (1 - momentum) * batch statistic (momentum {momentum:g} keeps {momentum:.0%} of the "
                          f"old value)")
    if unbiased is not None and relative_error(got, (1 - momentum) * unbiased) <= 1e-9:
        raise CheckFailed(f"bn_param[{what!r}] averages the unbiased variance (divide by N - 1); it averages the "
                          f"same biased variance (divide by N) that train mode normalizes with")
    expect_close(f"bn_param[{what!r}] after one train step (from zeros, momentum {momentum:g})", got, want, 1e-9)


def _expect_test_mode(name, forward, x, gamma, beta, running_mean, running_var, eps, **extra):
    """Test mode normalizes with the running statistics: inputs mean + sqrt(var + eps) * z give gamma * z + beta."""
    test_param = {"mode": "test", "running_mean": running_mean.copy(), "running_var": running_var.copy()}
    out, _ = pure(forward, name, x, gamma, beta, test_param)
    want = extra["want"]
    if relative_error(out, want) > 1e-9:
        axes = extra["axes"]
        shape = [1] * x.ndim
        shape[1] = -1
        g, b = np.reshape(gamma, shape), np.reshape(beta, shape)
        z = (out - b) / g
        if np.max(np.abs(z.mean(axis=axes))) < 1e-6 and np.max(np.abs(z.var(axis=axes) - 1)) < 1e-3:
            raise CheckFailed(f"{name} in test mode normalizes with the batch's own statistics; test mode uses "
                              f"bn_param's running_mean and running_var")
        if relative_error(out, extra["z"]) <= 1e-9:
            raise CheckFailed(f"{name} in test mode leaves out gamma and beta (out = gamma * x_hat + beta at test "
                              f"time too)")
        expect_close(f"{name} (test mode, running statistics)", out, want, 1e-9)
    expect(np.array_equal(test_param["running_mean"], running_mean) and
           np.array_equal(test_param["running_var"], running_var),
           f"{name} must not change the running statistics in test mode")


@check("layers.batchnorm_forward", "BatchNormalization.ipynb")
def check_batchnorm_forward():
    layers = _module("layers")
    name = "batchnorm_forward"
    x, gamma, beta = _bn_inputs(8)
    eps = 1e-5
    bn_param = {"mode": "train", "momentum": 0.8}
    out, _ = unpack(pure(layers.batchnorm_forward, name, x, gamma, beta, bn_param), ("out", "cache"), name)
    expect_array("batchnorm_forward out", out, x.shape)
    var = x.var(axis=0)
    expect_normalized("batchnorm_forward (train)", (out - beta) / gamma, 0, var, eps, out=out)
    mean, N = x.mean(axis=0), x.shape[0]
    _expect_running("running_mean", bn_param.get("running_mean"), 0.2 * mean, mean, 0.8)
    _expect_running("running_var", bn_param.get("running_var"), 0.2 * var, var, 0.8, unbiased=var * N / (N - 1))
    x2 = x[::-1] * 2.0 - 1e8
    layers.batchnorm_forward(x2, gamma, beta, bn_param)
    expect_close("bn_param['running_mean'] after a second step", bn_param["running_mean"],
                 0.8 * 0.2 * mean + 0.2 * x2.mean(axis=0), 1e-12)

    default = {"mode": "train"}
    layers.batchnorm_forward(x, gamma, beta, default)
    expect_close("bn_param['running_mean'] with the default momentum 0.9", default.get("running_mean"),
                 0.1 * mean, 1e-12)

    running_mean, running_var = np.array([1.0, -2.0, 0.0, 3.0]), np.array([4.0, 0.25, 1.0, 9.0])
    z = _rng(9).normal(size=(5, 4))
    x_test = running_mean + np.sqrt(running_var + eps) * z
    _expect_test_mode(name, layers.batchnorm_forward, x_test, gamma, beta, running_mean, running_var, eps,
                      want=gamma * z + beta, z=z, axes=0)

    x32, gamma32, beta32 = x.astype(np.float32) - np.float32(1e8), gamma.astype(np.float32), beta.astype(np.float32)
    param32 = {"mode": "train"}
    out32, _ = layers.batchnorm_forward(x32, gamma32, beta32, param32)
    expect_float32("batchnorm_forward out", out32)
    for key in ("running_mean", "running_var"):
        value = param32.get(key)
        expect(value is not None and value.dtype == np.float32,
               f"bn_param[{key!r}] for float32 input is {getattr(value, 'dtype', value)}, expected float32 "
               f"(x's dtype)")
    x_nan = x - 1e8
    x_nan[2, 1] = np.nan
    with np.errstate(invalid="ignore"):
        out_nan, _ = layers.batchnorm_forward(x_nan, gamma, beta, {"mode": "train"})
    expect_nan_propagates("batchnorm_forward", out_nan, (slice(None), 1), (slice(None), [0, 2, 3]))


def _bn_gradients(backward_name, seed):
    layers = _module("layers")
    x, gamma, beta = _bn_inputs(seed, shape=(5, 3))
    x -= 1e8  # gradients are checked on well-scaled inputs
    dout = _rng(seed + 1).normal(size=x.shape)
    forward = layers.batchnorm_forward
    _, cache = forward(x, gamma, beta, {"mode": "train"})
    grads = unpack(backward_pure(getattr(layers, backward_name), backward_name, dout, cache, x, gamma, beta),
                   ("dx", "dgamma", "dbeta"), backward_name)
    dx, dgamma, dbeta = grads
    expect_param_gradient(f"{backward_name} dgamma", dgamma, gamma.shape)
    expect_param_gradient(f"{backward_name} dbeta", dbeta, beta.shape, "beta")
    expect_normalization_gradient(f"{backward_name} dx", dx, lambda v: forward(v, gamma, beta, {"mode": "train"})[0],
                                  x, dout, 0)
    expect_gradient(f"{backward_name} dgamma", dgamma, lambda v: forward(x, v, beta, {"mode": "train"})[0],
                    gamma, dout)
    expect_gradient(f"{backward_name} dbeta", dbeta, lambda v: forward(x, gamma, v, {"mode": "train"})[0],
                    beta, dout)


@check("layers.batchnorm_backward", "BatchNormalization.ipynb")
def check_batchnorm_backward():
    _bn_gradients("batchnorm_backward", 10)


@check("layers.batchnorm_backward_alt", "BatchNormalization.ipynb")
def check_batchnorm_backward_alt():
    # Checked against centred differences of batchnorm_forward only: a staged backward that is still wrong (or
    # missing) never makes a correct closed form fail.
    _bn_gradients("batchnorm_backward_alt", 12)


@check("layers.layernorm_forward", "BatchNormalization.ipynb")
def check_layernorm_forward():
    layers = _module("layers")
    x, gamma, beta = _bn_inputs(17, shape=(4, 7))
    out, _ = unpack(pure(layers.layernorm_forward, "layernorm_forward", x, gamma, beta, {}), ("out", "cache"),
                    "layernorm_forward")
    expect_array("layernorm_forward out", out, x.shape)
    z = (out - beta) / gamma
    if np.max(np.abs(z.mean(axis=0))) < 1e-6 and np.max(np.abs(z.mean(axis=1))) > 1e-3:
        raise CheckFailed("layernorm_forward normalizes each feature over the batch (axis 0), as batch norm does; "
                          "layer norm normalizes each example over its features (axis 1)")
    expect_normalized("layernorm_forward (each row)", z, 1, x.var(axis=1), 1e-5, out=out)
    again, _ = layers.layernorm_forward(x, gamma, beta, {"mode": "test"})
    expect_close("layernorm_forward in test mode (same as train)", again, out, 1e-12)
    out32, _ = layers.layernorm_forward((x - 1e8).astype(np.float32), gamma.astype(np.float32),
                                        beta.astype(np.float32), {})
    expect_float32("layernorm_forward out", out32)
    x_nan = x - 1e8
    x_nan[1, 3] = np.nan
    with np.errstate(invalid="ignore"):
        out_nan, _ = layers.layernorm_forward(x_nan, gamma, beta, {})
    expect_nan_propagates("layernorm_forward", out_nan, 1, [0, 2, 3])


@check("layers.layernorm_backward", "BatchNormalization.ipynb")
def check_layernorm_backward():
    layers = _module("layers")
    x, gamma, beta = _bn_inputs(18, shape=(3, 5))
    x -= 1e8
    dout = _rng(19).normal(size=x.shape)
    forward = layers.layernorm_forward
    _, cache = forward(x, gamma, beta, {})
    dx, dgamma, dbeta = unpack(backward_pure(layers.layernorm_backward, "layernorm_backward", dout, cache, x, gamma,
                                             beta), ("dx", "dgamma", "dbeta"), "layernorm_backward")
    expect_param_gradient("layernorm_backward dgamma", dgamma, gamma.shape)
    expect_param_gradient("layernorm_backward dbeta", dbeta, beta.shape, "beta")
    expect_normalization_gradient("layernorm_backward dx", dx, lambda v: forward(v, gamma, beta, {})[0], x, dout, 1)
    expect_gradient("layernorm_backward dgamma", dgamma, lambda v: forward(x, v, beta, {})[0], gamma, dout)
    expect_gradient("layernorm_backward dbeta", dbeta, lambda v: forward(x, gamma, v, {})[0], beta, dout)


@check("layer_utils.affine_bn_relu", "BatchNormalization.ipynb", ("affine_bn_relu_forward", "affine_bn_relu_backward"))
def check_affine_bn_relu():
    rng = _rng(13)
    x, w, b = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    gamma, beta = rng.uniform(0.5, 2.0, size=3), rng.normal(size=3)
    _sandwich("affine_bn_relu", ((x, w, b, gamma, beta), ({"mode": "train"},)), ("x", "w", "b", "gamma", "beta"), 14)


@check("FullyConnectedNet (batchnorm)", "BatchNormalization.ipynb", ("__init__", "loss"))
def check_fc_net_batchnorm():
    _check_fc_normalized("batchnorm")


def _check_fc_normalized(normalization):
    model = _fc_net(normalization=normalization)
    for i, width in ((1, 5), (2, 4)):
        for key, value in ((f"gamma{i}", 1.0), (f"beta{i}", 0.0)):
            expect(key in model.params, f"normalization={normalization!r}: params has no {key!r}")
            expect_array(f"params[{key!r}]", model.params[key], (width,))
            expect(np.all(model.params[key] == value), f"params[{key!r}] must start at {value:g}")
    expect("gamma3" not in model.params, "the last affine layer has no normalization: params has 'gamma3'")
    _expect_fc_gradients(model, f"FullyConnectedNet (normalization={normalization!r})")
    X, _ = _fc_data()
    expect_array("loss(X) scores", model.loss(X), (4, 3))


@check("layer_utils.affine_ln_relu", "BatchNormalization.ipynb", ("affine_ln_relu_forward", "affine_ln_relu_backward"))
def check_affine_ln_relu():
    rng = _rng(20)
    x, w, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    gamma, beta = rng.uniform(0.5, 2.0, size=5), rng.normal(size=5)
    _sandwich("affine_ln_relu", ((x, w, b, gamma, beta), ({},)), ("x", "w", "b", "gamma", "beta"), 21)


@check("FullyConnectedNet (layernorm)", "BatchNormalization.ipynb", ("__init__", "loss"))
def check_fc_net_layernorm():
    _check_fc_normalized("layernorm")


# ----------------------------------------------------------------------------------------------------------------
# NormalizationFamily.ipynb

@check("normalization.standardize", "NormalizationFamily.ipynb")
def check_standardize():
    normalize = _module("normalization")
    x = 1e8 + _rng(31).normal(size=(3, 4, 2, 5))  # offset 1e8: the variance must be two-pass
    for axis in (0, 1, (0, 2, 3), (1, 2, 3)):
        result = unpack(normalize.standardize(x, axis, 1e-5), ("x_hat", "mean", "var", "inv_std"), "standardize")
        x_hat, mean, var, inv_std = result
        reduced = tuple(1 if i in np.atleast_1d(axis) else n for i, n in enumerate(x.shape))
        expect_array(f"standardize x_hat (axis={axis})", x_hat, x.shape)
        for name, value in (("mean", mean), ("var", var), ("inv_std", inv_std)):
            expect_array(f"standardize {name} (axis={axis}, reduced axes kept with size 1)", value, reduced)
        want_var = x.var(axis=axis, keepdims=True)
        expect_close(f"standardize var (axis={axis}; biased, two-pass)", var, want_var, 1e-8)
        expect_close(f"standardize inv_std (axis={axis}) must be 1 / sqrt(var + eps)", inv_std ** -2 - 1e-5, var,
                     1e-8)
        expect_normalized(f"standardize x_hat (axis={axis})", x_hat, axis, want_var, 1e-5)
    pure(normalize.standardize, "standardize", x, 0, 1e-5)


@check("normalization.standardize_backward", "NormalizationFamily.ipynb")
def check_standardize_backward():
    normalize = _module("normalization")
    rng = _rng(32)
    x = rng.normal(size=(3, 2, 2, 2)) * 2 + 1
    dx_hat = rng.normal(size=x.shape)
    for axis in (0, 1, (0, 2, 3)):
        x_hat, _, _, inv_std = normalize.standardize(x, axis, 1e-5)
        dx = normalize.standardize_backward(dx_hat, x_hat, inv_std, axis)
        expect_normalization_gradient(f"standardize_backward dx (axis={axis})", dx,
                                      lambda v: normalize.standardize(v, axis, 1e-5)[0], x, dx_hat, axis)


def _spatial_inputs(seed, shape):
    rng = _rng(seed)
    x = rng.normal(size=shape) * rng.uniform(0.5, 3.0, size=(1, shape[1], 1, 1)) + 4.0
    return x, rng.uniform(0.5, 2.0, size=shape[1]), rng.normal(size=shape[1])


def _normalized_over(z, axes, tol=1e-6):
    """True if z has mean 0 and variance at most 1, about 1 on average, over ``axes`` (statistics of a few close
    values lose more to eps, so the variance is not tested value by value)."""
    var = z.var(axis=axes)
    return bool(np.max(np.abs(z.mean(axis=axes))) < tol and np.max(var) <= 1 + tol and np.mean(var) > 0.9)


def _precisely_normalized(z, axes, x, eps=1e-5, tol=1e-6):
    """True if z has mean 0 and variance var / (var + eps) over ``axes``, var being x's biased variance there."""
    var = x.var(axis=axes)
    return bool(np.max(np.abs(z.mean(axis=axes))) <= tol and np.max(np.abs(z.var(axis=axes) - var / (var + eps))) <= tol)


# Candidate mistakes, finest statistics first: normalizing over fewer axes also normalizes (roughly) over more.
_SPATIAL_AXES = {(0,): "the batch only (axis 0)", (2, 3): "each example's H x W positions (axes 2, 3)",
                 (0, 2): "axes (0, 2)", (0, 3): "axes (0, 3)", (1,): "the channels", (0, 1): "the batch and the "
                 "channels (axes 0, 1)", (1, 2, 3): "each example (axes 1, 2, 3)", (0, 1, 2, 3): "the whole array"}


@check("layers.spatial_batchnorm_forward", "NormalizationFamily.ipynb")
def check_spatial_batchnorm_forward():
    layers = _module("layers")
    name = "spatial_batchnorm_forward"
    x, gamma, beta = _spatial_inputs(22, (3, 4, 2, 5))
    bn_param = {"mode": "train"}
    out, _ = unpack(pure(layers.spatial_batchnorm_forward, name, x, gamma, beta, bn_param), ("out", "cache"), name)
    expect_array("spatial_batchnorm_forward out", out, x.shape)
    g, b = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)
    z = (out - b) / g
    if not _precisely_normalized(z, (0, 2, 3), x):
        wrong = [text for axes, text in _SPATIAL_AXES.items() if _normalized_over(z, axes)]
        if wrong:
            raise CheckFailed(f"{name} takes its statistics over {wrong[0]}; spatial batch norm takes one mean and "
                              f"variance per channel, over the batch and every position (axes 0, 2, 3)")
        if not _normalized_over(out, (0, 2, 3)):
            raise CheckFailed(f"{name}: the output is not normalized per channel over (N, H, W); to use "
                              f"batchnorm_forward, move the channels last (N, H, W, C) before reshaping to "
                              f"(N * H * W, C), and back the same way")
    expect_normalized("spatial_batchnorm_forward (each channel over N, H, W)", z, (0, 2, 3), x.var(axis=(0, 2, 3)),
                      1e-5, out=out)
    mean = x.mean(axis=(0, 2, 3))
    _expect_running("running_mean", bn_param.get("running_mean"), 0.1 * mean, mean, 0.9)
    running_mean, running_var = np.array([1.0, -2.0, 0.0, 3.0]), np.array([4.0, 0.25, 1.0, 9.0])
    zt = _rng(9).normal(size=x.shape)
    x_test = running_mean.reshape(1, -1, 1, 1) + np.sqrt(running_var.reshape(1, -1, 1, 1) + 1e-5) * zt
    _expect_test_mode(name, layers.spatial_batchnorm_forward, x_test, gamma, beta, running_mean, running_var, 1e-5,
                      want=g * zt + b, z=zt, axes=(0, 2, 3))
    out32, _ = layers.spatial_batchnorm_forward(x.astype(np.float32), gamma.astype(np.float32),
                                                beta.astype(np.float32), {"mode": "train"})
    expect_float32("spatial_batchnorm_forward out", out32)
    x_nan = x.copy()
    x_nan[0, 1, 0, 0] = np.nan
    with np.errstate(invalid="ignore"):
        out_nan, _ = layers.spatial_batchnorm_forward(x_nan, gamma, beta, {"mode": "train"})
    expect_nan_propagates("spatial_batchnorm_forward", out_nan, (slice(None), 1), (slice(None), [0, 2, 3]))


@check("layers.spatial_batchnorm_backward", "NormalizationFamily.ipynb")
def check_spatial_batchnorm_backward():
    layers = _module("layers")
    x, gamma, beta = _spatial_inputs(23, (2, 3, 2, 2))
    dout = _rng(24).normal(size=x.shape)
    forward = layers.spatial_batchnorm_forward
    _, cache = forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = unpack(backward_pure(layers.spatial_batchnorm_backward, "spatial_batchnorm_backward", dout,
                                             cache, x, gamma, beta), ("dx", "dgamma", "dbeta"),
                               "spatial_batchnorm_backward")
    expect_param_gradient("spatial_batchnorm_backward dgamma", dgamma, gamma.shape)
    expect_param_gradient("spatial_batchnorm_backward dbeta", dbeta, beta.shape, "beta")
    expect_normalization_gradient("spatial_batchnorm_backward dx", dx,
                                  lambda v: forward(v, gamma, beta, {"mode": "train"})[0], x, dout, (0, 2, 3))
    expect_gradient("spatial_batchnorm_backward dgamma", dgamma,
                    lambda v: forward(x, v, beta, {"mode": "train"})[0], gamma, dout)
    expect_gradient("spatial_batchnorm_backward dbeta", dbeta,
                    lambda v: forward(x, gamma, v, {"mode": "train"})[0], beta, dout)


def _group_norm_statistics_axes(z, G, x):
    """What the statistics of a group norm output z (N, C, H, W) of x were taken over, in words; '' if correct."""
    N, C, H, W = z.shape
    grouped = (N, G, C // G, H, W)
    if _precisely_normalized(z.reshape(grouped), (2, 3, 4), x.reshape(grouped)):
        return ""
    if _normalized_over(z.reshape(grouped), 2):
        return ("statistics per pixel (over a group's channels at one position): a group's statistics cover its "
                "C / G channels and all H x W positions")
    if G != C and _normalized_over(z, (2, 3)):
        return "one group per channel (instance norm) whatever G is"
    if G not in (1, C) and _normalized_over(z.reshape(N, C // G, G, H, W), (1, 3, 4)):
        return ("interleaved groups (channels c, c + G, c + 2G, ...): a group is a contiguous block of C / G "
                "channels, x.reshape(N, G, C // G, H, W)")
    if G != 1 and _normalized_over(z, (1, 2, 3)):
        return "one group per example (layer norm over C, H, W) whatever G is"
    return "not normalized over each example's groups of C / G contiguous channels and their H x W positions"


def _at_G(G, C, name, function, *args):
    """function(*args); a crash is reported naming G (G = 1 and G = C are the edge cases of group norm)."""
    try:
        return function(*args)
    except (CheckFailed, NotImplementedError):
        raise
    except Exception as error:
        case = {1: ", one group: layer norm over (C, H, W)", C: ", one channel per group: instance norm"}.get(G, "")
        raise CheckFailed(f"{name} fails at G = {G} (C = {C}{case}): {type(error).__name__}: {error}") from error


@check("layers.spatial_groupnorm_forward", "NormalizationFamily.ipynb")
def check_spatial_groupnorm_forward():
    layers = _module("layers")
    name = "spatial_groupnorm_forward"
    x, gamma, beta = _spatial_inputs(25, (2, 6, 2, 3))
    gamma, beta = gamma.reshape(1, 6, 1, 1), beta.reshape(1, 6, 1, 1)
    for G in (3, 1, 6):  # G = 1 is layer norm over (C, H, W), G = C is instance norm
        out, _ = unpack(_at_G(G, 6, name, pure, layers.spatial_groupnorm_forward, name, x, gamma, beta, G, {}),
                        ("out", "cache"), name)
        expect_array(f"spatial_groupnorm_forward out (G = {G})", out, x.shape)
        z = (out - beta) / gamma
        wrong = _group_norm_statistics_axes(z, G, x)
        if wrong and not _group_norm_statistics_axes(out, G, x):
            raise CheckFailed(f"{name} (G = {G}): out is x_hat itself; scale by gamma and shift by beta")
        expect(not wrong, f"{name} (G = {G}, C = 6): {wrong}")
        grouped = z.reshape(2, G, -1)
        expect_normalized(f"{name} (G = {G}: each example and group of C/G channels)", grouped, 2,
                          x.reshape(2, G, -1).var(axis=2), 1e-5)
    out32, _ = layers.spatial_groupnorm_forward(x.astype(np.float32), gamma.astype(np.float32),
                                                beta.astype(np.float32), 3, {})
    expect_float32("spatial_groupnorm_forward out", out32)
    x_nan = x.copy()
    x_nan[0, 1, 0, 0] = np.nan
    with np.errstate(invalid="ignore"):
        out_nan, _ = layers.spatial_groupnorm_forward(x_nan, gamma, beta, 3, {})
    expect_nan_propagates("spatial_groupnorm_forward (G = 3)", out_nan, (0, slice(0, 2)), (0, slice(2, 6)))


@check("layers.spatial_groupnorm_backward", "NormalizationFamily.ipynb")
def check_spatial_groupnorm_backward():
    layers = _module("layers")
    x, gamma, beta = _spatial_inputs(26, (2, 4, 2, 2))
    gamma, beta = gamma.reshape(1, 4, 1, 1), beta.reshape(1, 4, 1, 1)
    dout = _rng(27).normal(size=x.shape)
    forward = layers.spatial_groupnorm_forward
    for G in (2, 1, 4):
        _, cache = forward(x, gamma, beta, G, {})
        dx, dgamma, dbeta = unpack(_at_G(G, 4, "spatial_groupnorm_backward", backward_pure,
                                         layers.spatial_groupnorm_backward, "spatial_groupnorm_backward", dout, cache,
                                         x, gamma, beta), ("dx", "dgamma", "dbeta"), "spatial_groupnorm_backward")
        what = f"spatial_groupnorm_backward (G = {G})"
        expect_param_gradient(f"{what} dgamma", dgamma, gamma.shape)
        expect_param_gradient(f"{what} dbeta", dbeta, beta.shape, "beta")
        expect_normalization_gradient(f"{what} dx", dx, lambda v: forward(v, gamma, beta, G, {})[0], x, dout,
                                      (2, 3, 4), view=lambda a: a.reshape(2, G, 4 // G, 2, 2))
        expect_gradient(f"{what} dgamma", dgamma, lambda v: forward(x, v, beta, G, {})[0], gamma, dout)
        expect_gradient(f"{what} dbeta", dbeta, lambda v: forward(x, gamma, v, G, {})[0], beta, dout)


# ----------------------------------------------------------------------------------------------------------------
# Dropout.ipynb

@check("layers.dropout_forward", "Dropout.ipynb")
def check_dropout_forward():
    layers = _module("layers")
    x = 10.0 + _rng(15).normal(size=(200, 200))
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


@check("layers.dropout_backward", "Dropout.ipynb")
def check_dropout_backward():
    layers = _module("layers")
    rng = _rng(16)
    x, dout = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    param = {"mode": "train", "p": 0.4, "seed": 5}
    _, cache = layers.dropout_forward(x, dict(param))
    dx = layers.dropout_backward(dout, cache)
    expect_gradient("dropout_backward dx", dx, lambda v: layers.dropout_forward(v, dict(param))[0], x, dout)
    _, cache = layers.dropout_forward(x, {"mode": "test", "p": 0.4})
    expect_close("dropout_backward in test mode", layers.dropout_backward(dout, cache), dout, 0)


@check("FullyConnectedNet (dropout)", "Dropout.ipynb", ("__init__", "loss"))
def check_fc_net_dropout():
    model = _fc_net(dropout_keep_ratio=0.5, seed=123)
    _expect_fc_gradients(model, "FullyConnectedNet (dropout_keep_ratio=0.5)")
    X, _ = _fc_data()
    expect(np.array_equal(model.loss(X), model.loss(X)), "FullyConnectedNet: test-mode scores must not drop units")
    old = _fc_net(dropout=0.5, seed=123)  # cs231n 2020's name for the keep ratio
    _expect_fc_gradients(old, "FullyConnectedNet (dropout=0.5)")


# ----------------------------------------------------------------------------------------------------------------
# ConvolutionalNetworks.ipynb

@check("layers.conv_forward_naive", "ConvolutionalNetworks.ipynb")
def check_conv_forward_naive():
    layers = _module("layers")
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    out, _ = unpack(layers.conv_forward_naive(x, np.ones((1, 1, 2, 2)), np.array([1.0]), {"stride": 1, "pad": 0}),
                    ("out", "cache"), "conv_forward_naive")
    # Each output is the sum of a 2x2 block of 0..8 plus the bias 1, worked out by hand.
    expect_close("conv_forward_naive out (2x2 filter of ones, bias 1, on [[0 1 2] [3 4 5] [6 7 8]])", out,
                 np.array([[[[9.0, 13.0], [21.0, 25.0]]]]), 1e-12)
    rng = _rng(40)
    x = rng.normal(size=(2, 3, 5, 7))
    # A filter that is 1 at offset (k, l) of channel c reads x_pad[n, c, i * s + k, j * s + l].
    for stride, pad, (HH, WW), (c, k, l) in ((1, 1, (3, 3), (2, 0, 2)), (2, 1, (3, 3), (0, 1, 1)),
                                             (2, 2, (5, 5), (1, 3, 4)), (1, 0, (2, 3), (1, 1, 0))):
        w = np.zeros((1, 3, HH, WW))
        w[0, c, k, l] = 1.0
        H_out, W_out = 1 + (5 + 2 * pad - HH) // stride, 1 + (7 + 2 * pad - WW) // stride
        out, _ = layers.conv_forward_naive(x, w, np.array([0.5]), {"stride": stride, "pad": pad})
        expect_array(f"conv_forward_naive out (x {x.shape}, w {w.shape}, stride {stride}, pad {pad})", out,
                     (2, 1, H_out, W_out))
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        want = x_pad[:, c, k:k + stride * H_out:stride, l:l + stride * W_out:stride] + 0.5
        expect_close(f"conv_forward_naive out (stride {stride}, pad {pad}, a filter that reads one pixel)",
                     out[:, 0], want, 1e-12)
    w, b = rng.normal(size=(4, 3, 1, 1)), rng.normal(size=4)
    out, _ = layers.conv_forward_naive(x, w, b, {"stride": 1, "pad": 0})
    expect_close("conv_forward_naive out (1x1 filters: out[n, f] = sum_c w[f, c] * x[n, c] + b[f])", out,
                 np.einsum("fc,nchw->nfhw", w[:, :, 0, 0], x) + b[:, None, None], 1e-12)


@check("layers.conv_backward_naive", "ConvolutionalNetworks.ipynb")
def check_conv_backward_naive():
    layers = _module("layers")
    rng = _rng(41)
    for stride, pad in ((1, 1), (2, 1)):
        x, w, b = rng.normal(size=(2, 3, 5, 5)), rng.normal(size=(2, 3, 3, 3)), rng.normal(size=2)
        conv_param = {"stride": stride, "pad": pad}
        out, cache = layers.conv_forward_naive(x, w, b, conv_param)
        dout = rng.normal(size=out.shape)
        dx, dw, db = unpack(layers.conv_backward_naive(dout, cache), ("dx", "dw", "db"), "conv_backward_naive")
        where = f"(stride {stride}, pad {pad})"
        expect_gradient(f"conv_backward_naive dx {where}", dx,
                        lambda v: layers.conv_forward_naive(v, w, b, conv_param)[0], x, dout)
        expect_gradient(f"conv_backward_naive dw {where}", dw,
                        lambda v: layers.conv_forward_naive(x, v, b, conv_param)[0], w, dout)
        expect_gradient(f"conv_backward_naive db {where}", db,
                        lambda v: layers.conv_forward_naive(x, w, v, conv_param)[0], b, dout)


def _pool_input(seed, shape, pool_param):
    """Values in [0, 1), plus one planted maximum of 10 + t in window t (windows must not overlap)."""
    rng = _rng(seed)
    x = rng.uniform(size=shape)
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = shape
    H_out, W_out = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    want = np.zeros((N, C, H_out, W_out))
    t = 0
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    k, l = rng.integers(ph), rng.integers(pw)
                    x[n, c, i * stride + k, j * stride + l] = want[n, c, i, j] = 10.0 + t
                    t += 1
    return x, want


@check("layers.max_pool_forward_naive", "ConvolutionalNetworks.ipynb")
def check_max_pool_forward_naive():
    layers = _module("layers")
    for shape, pool_param in (((2, 3, 4, 6), {"pool_height": 2, "pool_width": 2, "stride": 2}),
                              ((1, 2, 5, 6), {"pool_height": 2, "pool_width": 3, "stride": 3})):
        x, want = _pool_input(42, shape, pool_param)
        out, _ = unpack(layers.max_pool_forward_naive(x, pool_param), ("out", "cache"), "max_pool_forward_naive")
        expect_array(f"max_pool_forward_naive out ({pool_param})", out, want.shape)
        expect_close(f"max_pool_forward_naive out ({pool_param}): the largest value of each window", out, want,
                     1e-12)
    x = np.array([[[[1.0, 5.0, 2.0], [3.0, 4.0, 7.0], [0.0, 9.0, 1.0]]]])
    out, _ = layers.max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    expect_close("max_pool_forward_naive out (overlapping 2x2 windows, stride 1, on [[1 5 2] [3 4 7] [0 9 1]])",
                 out, np.array([[[[5.0, 7.0], [9.0, 9.0]]]]), 1e-12)


@check("layers.max_pool_backward_naive", "ConvolutionalNetworks.ipynb")
def check_max_pool_backward_naive():
    layers = _module("layers")
    rng = _rng(43)
    for shape, pool_param in (((2, 3, 4, 6), {"pool_height": 2, "pool_width": 2, "stride": 2}),
                              ((1, 2, 5, 5), {"pool_height": 3, "pool_width": 3, "stride": 1})):
        x = rng.normal(size=shape)  # no ties: the maximum is differentiable
        out, cache = layers.max_pool_forward_naive(x, pool_param)
        dout = rng.normal(size=out.shape)
        dx = layers.max_pool_backward_naive(dout, cache)
        expect_gradient(f"max_pool_backward_naive dx ({pool_param})", dx,
                        lambda v: layers.max_pool_forward_naive(v, pool_param)[0], x, dout)


def _fold_case(seed, w_shape, units):
    rng = _rng(seed)
    bn_param = {"mode": "test", "eps": 1e-3, "running_mean": rng.normal(size=units),
                "running_var": rng.uniform(0.2, 3.0, size=units)}
    return (rng.normal(size=w_shape), rng.normal(size=units), rng.uniform(0.5, 2.0, size=units),
            rng.normal(size=units), bn_param)


def _test_mode_bn(z, gamma, beta, bn_param, shape):
    """gamma * (z - running_mean) / sqrt(running_var + eps) + beta, per unit (the definition)."""
    mean, var = (np.reshape(bn_param[k], shape) for k in ("running_mean", "running_var"))
    return np.reshape(gamma, shape) * (z - mean) / np.sqrt(var + bn_param["eps"]) + np.reshape(beta, shape)


@check("layer_utils.fold_batchnorm", "ConvolutionalNetworks.ipynb")
def check_fold_batchnorm():
    layer_utils = _module("layer_utils")
    fast = _module("fast_layers")
    w, b, gamma, beta, bn_param = _fold_case(44, (6, 5), 5)
    x = _rng(45).normal(size=(8, 6))
    w_folded, b_folded = unpack(layer_utils.fold_batchnorm(w, b, gamma, beta, dict(bn_param)),
                                ("w_folded", "b_folded"), "fold_batchnorm")
    expect_array("fold_batchnorm w_folded (affine w)", w_folded, w.shape)
    expect_array("fold_batchnorm b_folded (affine w)", b_folded, b.shape)
    expect_close("x @ w_folded + b_folded against affine then test-mode batch norm", x @ w_folded + b_folded,
                 _test_mode_bn(x @ w + b, gamma, beta, bn_param, (1, 5)), 1e-10)
    w, b, gamma, beta, bn_param = _fold_case(46, (4, 3, 3, 3), 4)
    x = _rng(47).normal(size=(2, 3, 5, 5))
    conv_param = {"stride": 1, "pad": 1}
    w_folded, b_folded = layer_utils.fold_batchnorm(w, b, gamma, beta, dict(bn_param))
    expect_array("fold_batchnorm w_folded (conv w)", w_folded, w.shape)
    expect_array("fold_batchnorm b_folded (conv w)", b_folded, b.shape)
    folded, _ = fast.conv_forward_fast(x, w_folded, b_folded, conv_param)
    conv, _ = fast.conv_forward_fast(x, w, b, conv_param)
    expect_close("conv with (w_folded, b_folded) against conv then test-mode spatial batch norm", folded,
                 _test_mode_bn(conv, gamma, beta, bn_param, (1, 4, 1, 1)), 1e-10)


def _conv_net(**kwargs):
    cnn = _module("classifiers.cnn")
    options = dict(input_dim=(2, 4, 4), num_filters=3, filter_size=3, hidden_dim=5, num_classes=3,
                   weight_scale=0.5, dtype=np.float64, seed=0)
    options.update(kwargs)
    return cnn.ThreeLayerConvNet(**options)


@check("ThreeLayerConvNet", "ConvolutionalNetworks.ipynb", ("__init__", "loss"))
def check_three_layer_convnet():
    model = _conv_net()
    shapes = {"W1": (3, 2, 3, 3), "b1": (3,), "W2": (3 * 2 * 2, 5), "b2": (5,), "W3": (5, 3), "b3": (3,)}
    expect(set(model.params) == set(shapes), f"params has keys {sorted(model.params)}, expected {sorted(shapes)}")
    for key, shape in shapes.items():
        expect_array(f"params[{key!r}]", model.params[key], shape)
        expect(model.params[key].dtype == np.float64, f"params[{key!r}] is {model.params[key].dtype}, "
                                                      f"expected the model's dtype float64")
        if key.startswith("b"):
            expect(np.all(model.params[key] == 0), f"params[{key!r}] must start at zero")
    wide = _conv_net(input_dim=(2, 20, 20), weight_scale=0.1)
    std = float(np.std(wide.params["W2"]))
    expect(0.08 < std < 0.12, f"params['W2'] has standard deviation {std:.3f}, expected weight_scale = 0.1")
    bn = _conv_net(normalization="batchnorm")
    for key, value in (("gamma1", 1.0), ("beta1", 0.0)):
        expect(key in bn.params, f"with normalization='batchnorm', params needs {key!r}")
        expect_array(f"params[{key!r}]", bn.params[key], (3,))
        expect(np.all(bn.params[key] == value), f"params[{key!r}] must start at {value:g}")

    rng = _rng(48)
    X, y = rng.normal(size=(4, 2, 4, 4)), np.array([0, 2, 1, 2])
    expect_array("loss(X) scores", model.loss(X), (4, 3))
    loss, _ = _conv_net(weight_scale=1e-4).loss(X, y)
    expect(abs(float(loss) - np.log(3)) < 1e-3, f"with tiny weights the loss is {float(loss):.4f}, expected "
                                                f"log(3) = {np.log(3):.4f}")
    for label, net in (("ThreeLayerConvNet", _conv_net(reg=0.7)),
                       ("ThreeLayerConvNet (batchnorm)", _conv_net(normalization="batchnorm")),
                       ("ThreeLayerConvNet (groupnorm, 3 groups)", _conv_net(normalization="groupnorm",
                                                                             num_groups=3))):
        _expect_model_gradients(net, X, y, label, "ThreeLayerConvNet.loss", ("b1", "b2", "b3"), rng)
    model.reg = 0.7
    loss_reg, _ = model.loss(X, y)
    model.reg = 0.0
    loss_plain, _ = model.loss(X, y)
    penalty = 0.5 * 0.7 * sum(np.sum(model.params[k] ** 2) for k in ("W1", "W2", "W3"))
    expect(abs((loss_reg - loss_plain) - penalty) < 1e-9 * max(1.0, penalty),
           f"reg = 0.7 adds {loss_reg - loss_plain:.6f} to the loss, expected 0.5 * reg * sum(W**2) = {penalty:.6f}")
