"""Numerical gradients by centred differences, to check analytic backward passes against.

The centred difference (f(x + h) - f(x - h)) / (2h) has error O(h^2), against O(h) for the one-sided
(f(x + h) - f(x)) / h; with h = 1e-5 in float64 it agrees with a correct analytic gradient to roughly 1e-8 relative
error or better. Use float64: in float32 the rounding error of f, divided by 2h, swamps the derivative.

Every function perturbs x IN PLACE, one entry at a time, and restores it afterwards (also when f raises), so f must
read its input from the array it is given.
"""

import numpy as np


def _check_input(x, h, fn):
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        got = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else f"{type(x).__name__}"
        raise TypeError(f"{fn}: x must be a floating-point numpy array (it is perturbed in place), got {got}")
    if not h > 0:
        raise ValueError(f"{fn}: the step h must be > 0, got {h!r}")


def _centred_difference(f, x, ix, h):
    """(f(x + h e_ix) - f(x - h e_ix)) / (2h) for whatever f returns, with x[ix] restored afterwards."""
    old_value = x[ix]
    try:
        x[ix] = old_value + h
        f_plus = np.array(f(x), copy=True)  # copy: f may return a view of a buffer it reuses
        x[ix] = old_value - h
        f_minus = np.array(f(x), copy=True)
    finally:
        x[ix] = old_value
    return f_plus, f_minus


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """
    Numerical gradient of a scalar function f at x, by centred differences.

    Inputs:
    - f: Function of one argument, an array of x's shape, returning a scalar.
    - x: Floating numpy array of any shape: the point at which to evaluate the gradient. Perturbed in place, one
      entry at a time, and restored.
    - verbose: If True, print each index and its partial derivative.
    - h: Step size.

    Returns:
    - grad: Array of x's shape; grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h).
    """
    _check_input(x, h, "eval_numerical_gradient")
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        f_plus, f_minus = _centred_difference(f, x, ix, h)
        grad[ix] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """
    Numerical gradient of sum(f(x) * df) at x, by centred differences: the gradient that the backward pass of a
    layer f should return for upstream derivative df.

    Inputs:
    - f: Function of one argument, an array of x's shape, returning an array of df's shape.
    - x: Floating numpy array of any shape; perturbed in place, one entry at a time, and restored.
    - df: Upstream derivative, an array of f(x)'s shape.
    - h: Step size.

    Returns:
    - grad: Array of x's shape; grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * df) / (2h).
    """
    _check_input(x, h, "eval_numerical_gradient_array")
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        f_plus, f_minus = _centred_difference(f, x, ix, h)
        grad[ix] = np.sum((f_plus - f_minus) * df) / (2 * h)
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, *, seed=None, verbose=True):
    """
    Compare an analytic gradient with centred differences at num_checks randomly chosen entries of x.

    The entries are drawn with np.random.RandomState(seed) when a seed is given, else from the global np.random
    state (so np.random.seed(...) beforehand makes the choice reproducible). An index may be drawn twice.

    Inputs:
    - f: Function of one argument, an array of x's shape, returning a scalar.
    - x: Floating numpy array; perturbed in place at the checked entries and restored.
    - analytic_grad: Array of x's shape, the gradient to check.
    - num_checks: Number of entries to check.
    - h: Step size.
    - seed: Optional integer seed for the choice of entries (keyword only).
    - verbose: If True, print one line per check: numerical, analytic, relative error (keyword only).

    Returns:
    - rel_errors: Array of shape (num_checks,): |numerical - analytic| / max(1e-8, |numerical| + |analytic|) per
      checked entry.
    """
    _check_input(x, h, "grad_check_sparse")
    if np.shape(analytic_grad) != x.shape:
        raise ValueError(
            f"grad_check_sparse: analytic_grad has shape {np.shape(analytic_grad)}, expected x's shape {x.shape}"
        )
    rng = np.random if seed is None else np.random.RandomState(seed)
    rel_errors = np.empty(num_checks)
    for i in range(num_checks):
        ix = tuple(int(rng.randint(n)) for n in x.shape)
        f_plus, f_minus = _centred_difference(f, x, ix, h)
        numerical = float((f_plus - f_minus) / (2 * h))
        analytic = float(analytic_grad[ix])
        rel_errors[i] = rel_error(numerical, analytic)
        if verbose:
            print(f"numerical: {numerical:f} analytic: {analytic:f}, relative error: {rel_errors[i]:e}")
    return rel_errors


def rel_error(x, y):
    """
    Largest elementwise relative error between x and y: max(|x - y| / max(1e-8, |x| + |y|)).

    The 1e-8 floor keeps entries where both are (nearly) zero from dividing by zero.

    Inputs:
    - x, y: Arrays (or scalars) of broadcastable shapes.

    Returns:
    - The relative error, a Python float.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
