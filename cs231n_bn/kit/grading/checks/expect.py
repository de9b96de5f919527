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


def norm(a):
    """The Euclidean norm of an array's entries (summed here: BLAS's threads only slow such small sums down)."""
    return float(np.sqrt(np.sum(np.square(a))))


def relative_error(a, b):
    """||a - b|| / (||a|| + ||b||): 0 for equal arrays, 1 for opposite ones."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = norm(a) + norm(b)
    return 0.0 if scale == 0 else norm(a - b) / scale


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


def describe_difference(got, want, name=""):
    """'largest difference at dx[2, 1]: 0.53 where 1.07 is expected': where two arrays of one shape differ most."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape or got.size == 0:
        return ""
    difference = np.abs(got - want)
    difference[np.isnan(difference)] = np.inf
    index = np.unravel_index(np.argmax(difference), got.shape)
    where = "[" + ", ".join(str(int(i)) for i in index) + "]" if got.ndim else ""
    return f"largest difference at {name or 'index '}{where}: {got[index]:.6g} where {want[index]:.6g} is expected"


def expect_close(what, got, want, tol, probes=()):
    """got must equal want to relative error ``tol``; otherwise a probe that matches names the mistake.

    probes: [(candidate, message)]: the output of a specific wrong formula, and what to say when got is it.
    """
    got = np.asarray(got)
    expect(got.shape == np.shape(want), f"{what} has shape {got.shape}, expected {np.shape(want)}")
    error = relative_error(got, want)
    if error <= tol:
        return
    name_probes(got, probes)
    raise CheckFailed(f"{what}: relative error {error:.1e} (tolerance {tol:.0e}); {describe_difference(got, want)}")


def name_probes(got, probes, match=1e-6):
    """Raise CheckFailed(message) for the first probe (candidate, message) that got equals to rounding."""
    for candidate, message in probes:
        candidate = np.asarray(candidate, dtype=np.float64)
        if candidate.shape == np.shape(got) and np.all(np.isfinite(candidate)) and \
                relative_error(got, candidate) <= match:
            raise CheckFailed(message)


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


def expect_gradient(what, analytic, evaluate_many, x, dout, tol=1e-7, atol=1e-8, probes=None):
    """``analytic`` must match centred differences of the forward pass at x (float64, h = 1e-5).

    Relative error at most ``tol``; a gradient that is zero in exact arithmetic (a bias followed by batch norm)
    is compared with ``atol`` instead, since both sides are then rounding noise of order 1e-11. When it does not
    match, ``probes(numeric)`` -> [(candidate, message)] name a mistake whose output analytic is; otherwise the
    message says where it differs most, and by what factor if the whole gradient is off by one.
    """
    expect_array(what, analytic, np.shape(x))
    numeric = numerical_gradient(evaluate_many, x, dout)
    error = relative_error(analytic, numeric)
    difference = norm(np.asarray(analytic, dtype=np.float64) - numeric)
    if error <= tol or difference <= atol:
        return numeric
    if probes is not None:
        name_probes(analytic, probes(numeric))
    raise CheckFailed(f"{what} disagrees with centred differences: relative error {error:.1e} (tolerance "
                      f"{tol:.0e}); {describe_difference(analytic, numeric, array_name(what))}"
                      f"{_scaled(analytic, numeric)}")


def array_name(what):
    """The gradient a label names: "grads['W1']" in "FullyConnectedNet: grads['W1']", 'db' in "conv_backward_naive
    db (stride 1, pad 1)"; '' if none."""
    import re
    found = re.search(r"grads\[[^\]]*\]", what) or re.search(r"(?<=\s)d[a-z_]*(?=\s|$)", what)
    return found.group(0) if found else ""


def _scaled(analytic, numeric):
    """' (it is 2 times the centred differences everywhere)' when the whole gradient is off by one factor."""
    analytic, numeric = np.asarray(analytic, dtype=np.float64).ravel(), numeric.ravel()
    if not np.any(analytic):
        return " (it is zero everywhere)"
    if not np.any(numeric):
        return ""
    factor = float(analytic @ numeric / (numeric @ numeric))
    if abs(factor - 1) > 1e-3 and relative_error(analytic, factor * numeric) <= 1e-6:
        return f" (it is {factor:.4g} times the centred differences everywhere)"
    return ""


def expect_param_gradient(what, grad, shape, probes=()):
    """A parameter's gradient has the parameter's shape; ``probes`` [(candidate, message)] name the gradient of
    another shape that a specific mistake gives (left per example, summed over the wrong axes)."""
    expect(isinstance(grad, np.ndarray), f"{what} is a {kind(grad)}, expected a numpy array")
    if grad.shape != tuple(shape):
        for candidate, message in probes:
            if grad.shape == np.shape(candidate) and relative_error(grad, candidate) <= 1e-6:
                raise CheckFailed(f"{what} has shape {grad.shape}, expected {tuple(shape)}: {message}")
    expect_array(what, grad, shape)


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
