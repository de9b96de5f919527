"""Building blocks of the checks: expectations on what the student's functions returned, computed here.

A check never holds a second implementation of the function it checks (that would hand the solution out with the
student edition). It tests what any correct implementation must satisfy instead:
- backward passes against centred differences of the student's own forward pass, in float64, taken here from
  the forward's outputs (``expect_gradient``);
- properties of the math: per-feature means and variances after normalization, the expectation of dropout,
  invariances of the losses;
- numbers worked out by hand from the update equations (written as literals with their derivation).
Each expectation raises CheckFailed with the first reason, worded for the student.
"""

import numpy as np

from ..remote import StudentError

H = 1e-5  # the step of the centred differences


class CheckFailed(AssertionError):
    """A check's first failed expectation, worded for the student."""


def rng(seed=0):
    return np.random.default_rng(seed)


def relative_error(a, b):
    """||a - b|| / (||a|| + ||b||): 0 for equal arrays, 1 for opposite ones."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def expect(condition, reason):
    if not condition:
        raise CheckFailed(reason)


def kind(value):
    """The type's name of a value the student's code returned ('cache' for an object left in the child)."""
    return getattr(value, "type_name", None) or type(value).__name__


def expect_array(what, value, shape):
    expect(isinstance(value, np.ndarray), f"{what} is a {kind(value)}, expected a numpy array")
    expect(value.shape == tuple(shape), f"{what} has shape {value.shape}, expected {tuple(shape)}")
    expect(np.all(np.isfinite(value)), f"{what} holds nan or inf")


def expect_close(what, got, want, tol):
    got = np.asarray(got)
    expect(got.shape == np.shape(want), f"{what} has shape {got.shape}, expected {np.shape(want)}")
    error = relative_error(got, want)
    expect(error <= tol, f"{what}: relative error {error:.1e} (tolerance {tol:.0e})")


def unpack(result, names, function):
    """The tuple a function returns, checked for its length."""
    expect(isinstance(result, tuple) and len(result) == len(names),
           f"{function} should return ({', '.join(names)}), got {kind(result)}"
           + (f" of length {len(result)}" if isinstance(result, tuple) else ""))
    return result


# ----------------------------------------------------------------------------------------------------------------
# Centred differences

def numerical_gradient(evaluate_many, x, dout, h=H):
    """The gradient of sum(f(x) * dout) with respect to x by centred differences, in float64.

    ``evaluate_many(list of arrays) -> list of outputs`` evaluates f at each array (the student's forward pass, all
    in one request); the differences are taken here.
    """
    x = np.asarray(x, dtype=np.float64)
    points = []
    for index in np.ndindex(x.shape):
        for step in (h, -h):
            moved = x.copy()
            moved[index] += step
            points.append(moved)
    outputs = evaluate_many(points)
    expect(isinstance(outputs, list) and len(outputs) == len(points), "the forward pass returned no output")
    grad = np.zeros_like(x)
    for k, index in enumerate(np.ndindex(x.shape)):
        plus, minus = (np.asarray(outputs[2 * k + i], dtype=np.float64) for i in (0, 1))
        expect(plus.shape == np.shape(dout) and minus.shape == np.shape(dout),
               f"the forward pass's output has shape {plus.shape}, expected {np.shape(dout)}")
        grad[index] = np.sum((plus - minus) * dout) / (2 * h)
    return grad


def at(function, args, wrt, pick=0, kwargs=None):
    """``evaluate_many`` for numerical_gradient: function(*args) with argument ``wrt`` replaced, output ``pick``."""
    def evaluate_many(points):
        calls = []
        for point in points:
            moved = list(args)
            moved[wrt] = point
            calls.append(moved)
        return function.many(calls, pick=pick, kwargs=kwargs)
    return evaluate_many


def expect_gradient(what, analytic, evaluate_many, x, dout, tol=1e-7, atol=1e-8):
    """``analytic`` must match centred differences of the forward pass at x (float64, h = 1e-5).

    Relative error at most ``tol``; a gradient that is zero in exact arithmetic (a bias followed by batch norm)
    is compared with ``atol`` instead, since both sides are then rounding noise of order 1e-11.
    """
    expect_array(what, analytic, np.shape(x))
    numeric = numerical_gradient(evaluate_many, x, dout)
    error = relative_error(analytic, numeric)
    difference = float(np.linalg.norm(np.asarray(analytic, dtype=np.float64) - numeric))
    expect(error <= tol or difference <= atol,
           f"{what} disagrees with centred differences: relative error {error:.1e} (tolerance {tol:.0e})")
    return numeric


def expect_param_gradient(what, grad, shape, param="gamma"):
    """A parameter's gradient has the parameter's shape; a gradient left per example was not summed."""
    expect(isinstance(grad, np.ndarray), f"{what} is a {kind(grad)}, expected a numpy array")
    if grad.shape != tuple(shape) and grad.size > int(np.prod(shape)):
        raise CheckFailed(f"{what} has shape {grad.shape}, expected {tuple(shape)} ({param}'s shape): every example "
                          f"uses the same {param}, so its gradient sums the contributions over the batch"
                          + (" and the spatial positions" if grad.ndim == 4 else ""))
    expect_array(what, grad, shape)


def expect_normalization_gradient(what, dx, evaluate_many, x, dout, axes, tol=1e-7, view=None):
    """Like expect_gradient for dx of a normalization layer, naming a missing path through the mean or the variance.

    The statistics are taken over ``axes`` of x. Without the path through the mean, dx is off by a constant over
    those axes; without the path through the variance, by a multiple of the centred input x - mean(x).
    """
    expect_array(what, dx, x.shape)
    numeric = numerical_gradient(evaluate_many, x, dout)
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


# ----------------------------------------------------------------------------------------------------------------
# What a function does besides returning

def pure(function, name, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` and fail if it changed any of its array arguments in place."""
    result = function(*args, **kwargs)
    for i, a in enumerate(args):
        expect(not (isinstance(a, np.ndarray) and function._student.changed(a)),
               f"{name} modifies its input {_argument_name(function, i)} in place (the caller's array changes); "
               f"compute the result into new arrays")
    return result


def _argument_name(function, index):
    try:
        return function.parameters()[index]
    except (StudentError, AttributeError, IndexError, TypeError):
        return f"number {index + 1}"


def backward_pure(backward, name, dout, cache, *inputs):
    """backward(dout, cache); fails if it changed dout or any of the forward ``inputs`` in place."""
    result = pure(backward, name, dout, cache)
    for a in inputs:
        expect(not backward._student.changed(a),
               f"{name} changes an input of the forward pass in place (an array in the cache is the caller's); "
               f"compute the gradients into new arrays")
    return result


def expect_nan_propagates(what, out, nan_where, finite_where):
    """NaN in the input must give NaN exactly where it should, and leave the rest finite (no error)."""
    expect(np.all(np.isnan(out[nan_where])), f"{what}: a NaN in the input must give NaN in the outputs that depend "
                                             f"on it (NaN is not an error; it propagates)")
    expect(np.all(np.isfinite(out[finite_where])), f"{what}: a NaN in the input spread to outputs that do not "
                                                    f"depend on it")


def expect_float32(what, value):
    expect(np.asarray(value).dtype == np.float32, f"{what} for float32 input is {np.asarray(value).dtype}, "
                                                  f"expected float32 (x's dtype)")


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


class errstate:
    """np.errstate for the student's calls: ``with errstate(student, over="raise"): layers.sigmoid_forward(x)``."""

    def __init__(self, student, **settings):
        self.student, self.settings = student, settings

    def __enter__(self):
        self.saved, self.student.errstate = self.student.errstate, dict(self.student.errstate, **self.settings)

    def __exit__(self, *exc):
        self.student.errstate = self.saved


# ----------------------------------------------------------------------------------------------------------------
# Models

class Model:
    """A model object of the student's (FullyConnectedNet, ThreeLayerConvNet) that lives in the child."""

    def __init__(self, obj):
        self.obj = obj

    @property
    def params(self):
        """A copy of model.params (a dict of arrays)."""
        return self.obj.get("params")

    def set_param(self, key, value):
        self.obj.setitem("params", key, value)

    def set(self, name, value):
        self.obj.set(name, value)

    def loss(self, X, y=None):
        return self.obj.loss(X) if y is None else self.obj.loss(X, y)

    def loss_at(self, key, X, y):
        """``evaluate_many`` for numerical_gradient: the loss with params[key] replaced by each point."""
        params = {"ref": self.obj.ref, "name": "params"}
        target = {"ref": self.obj.ref, "name": "loss"}

        def evaluate_many(points):
            original = self.params[key]
            try:
                losses = self.obj._student.map([(target, (X, y), {}, [(params, key, p)]) for p in points], 0,
                                               f"{self.obj.type_name}.loss")
            finally:
                self.set_param(key, original)
            return [np.asarray(loss, dtype=np.float64) for loss in losses]
        return evaluate_many
