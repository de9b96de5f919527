"""Expectations on the normalization layers, with the probes that name their mistakes.

A mistake is named only when its probe matches; otherwise the message says what is observed: which output or
gradient, where, and by how much. Like every check, these hold no implementation of the layers (that would hand the
solution out with the student edition): they test properties any correct implementation has.

- Forward: z = (out - beta) / gamma has mean 0 and variance var / (var + eps) over the normalized axes, var being
  the input's biased variance there (np.var). A classic mistake leaves its own mark on these statistics: the
  variance of z is var / (var_unbiased + eps), var / (sqrt(var) + eps)**2 or 1; or z is normalized over other axes.
- Backward: over each group of values that share a mean and a variance, the gradient of a normalization is made of
  three parts, one per path of the forward graph from x to the output: a multiple of the upstream gradient into
  x_hat (through x - mean), a constant (through the mean) and a multiple of x - mean (through the variance). Fitting
  the centred differences and the student's dx on those three directions, group by group, gives the factor by which
  each path of the student's dx differs from the true one.
"""

import numpy as np

from .expect import CheckFailed, array_name, describe_difference, expect_array, name_probes, norm, numerical_gradient, \
    relative_error

TOL = 1e-6  # mean and variance of z, against 0 and var / (var + eps)


def normalized(z, x, axes, eps, tol=TOL):
    """True if z has mean 0 and variance var / (var + eps) over ``axes``, var being x's biased variance there."""
    var = np.var(x, axis=axes)
    return bool(np.max(np.abs(np.mean(z, axis=axes))) <= tol and
                np.max(np.abs(np.var(z, axis=axes) - var / (var + eps))) <= tol)


def variance_mistakes(x, axes, eps):
    """[(the variance z has over ``axes`` when a classic mistake is made, the mistake)]."""
    var = np.var(x, axis=axes)
    count = np.size(x) // np.size(var)
    mistakes = [
        (var / (var * count / (count - 1) + eps),
         f"normalizes with the unbiased variance (divides by N - 1 = {count - 1}); normalization divides by the "
         f"number of values N = {count} (the biased variance)"),
        (var / (np.sqrt(var) + eps) ** 2,
         "divides by sqrt(var) + eps; eps goes inside the square root: x_hat = (x - mean) / sqrt(var + eps)"),
        (np.ones_like(var), "leaves eps out: x_hat = (x - mean) / sqrt(var + eps)"),
    ]
    if eps != 1e-5:
        mistakes.append((var / (var + 1e-5), f"ignores the eps it is given ({eps:g}) and uses 1e-5: read it from "
                                             f"the param dict"))
    return mistakes


def expect_standardized(what, z, x, axes, eps, out=None, candidates=(), shifted=None):
    """z = (out - beta) / gamma must be x normalized over ``axes`` with ``eps``: mean 0, variance var / (var + eps).

    The named mistakes: out is normalized itself (gamma and beta left out, when ``out`` is given); the variance of
    another formula (variance_mistakes); normalization over other axes or groups (``candidates``: [(z in another
    layout, x in that layout, axes, what the mistake does)]); and, with ``shifted`` = (offset, function giving z for
    x - offset), a one-pass variance: right once the large offset of x is taken away, wrong with it.
    """
    expect_array(what, z, np.shape(x))
    if normalized(z, x, axes, eps):
        return
    if out is not None and normalized(out, x, axes, eps):
        raise CheckFailed(f"{what}: out is x_hat itself; scale by gamma and shift by beta (out = gamma * x_hat + beta)")
    var = np.var(x, axis=axes)
    want, mean, got = var / (var + eps), np.mean(z, axis=axes), np.var(z, axis=axes)
    if np.max(np.abs(mean)) <= TOL:
        for expected, mistake in variance_mistakes(x, axes, eps):
            apart = np.abs(expected - want)
            if np.min(apart) > 1e-12 and np.all(np.abs(got - expected) <= 0.1 * apart):
                raise CheckFailed(f"{what} {mistake}")
    for z_view, x_view, other_axes, mistake in candidates:
        if normalized(z_view, x_view, other_axes, eps):
            raise CheckFailed(f"{what} {mistake}")
    if np.allclose(z, x, rtol=1e-9, atol=0):
        raise CheckFailed(f"{what} leaves x unnormalized")
    if shifted is not None:
        offset, normalize = shifted
        if normalized(normalize(x - offset), x - offset, axes, eps):
            raise CheckFailed(f"{what} computes the variance as E[x^2] - E[x]^2 (or another one-pass formula): its "
                              f"output is right for x - {offset:g} and wrong for x, whose mean {offset:g} is much "
                              f"larger than its spread, where E[x^2] - E[x]^2 loses every digit; centre first, then "
                              f"square (two passes)")
    worst = np.unravel_index(np.argmax(np.abs(mean)), np.shape(mean))
    at = "[" + ", ".join(str(int(i)) for i in worst) + "]" if np.ndim(mean) else ""
    if abs(mean[worst]) > TOL:
        raise CheckFailed(f"{what}: (out - beta) / gamma has mean {mean[worst]:.3g} over axes {axes} at {at}, "
                          f"expected 0")
    worst = np.unravel_index(np.argmax(np.abs(got - want)), np.shape(got))
    at = "[" + ", ".join(str(int(i)) for i in worst) + "]" if np.ndim(got) else ""
    raise CheckFailed(f"{what}: (out - beta) / gamma has variance {got[worst]:.6f} over axes {axes} at {at}, "
                      f"expected var / (var + eps) = {want[worst]:.6f}")


# ----------------------------------------------------------------------------------------------------------------
# Backward: which path of the graph is off, and by what factor

def _groups(a, axes):
    """a as (groups, values): one row per group of values that share the statistics (``axes`` reduced)."""
    a = np.asarray(a, dtype=np.float64)
    axes = tuple(np.atleast_1d(axes))
    kept = [i for i in range(a.ndim) if i not in axes]
    return np.transpose(a, kept + list(axes)).reshape(int(np.prod([a.shape[i] for i in kept])), -1)


def path_fit(dx, upstream, x, axes):
    """Group by group, dx = a * upstream + b + c * (x - mean): the coefficients (groups, 3) of the paths through
    x - mean, through the mean and through the variance, and the relative residual of the fit."""
    dx, upstream, x = _groups(dx, axes), _groups(upstream, axes), _groups(x, axes)
    centred = x - x.mean(axis=1, keepdims=True)
    coefficients, residual = [], 0.0
    for g in range(dx.shape[0]):
        basis = np.stack([upstream[g], np.ones_like(centred[g]), centred[g]], axis=1)
        c, *_ = np.linalg.lstsq(basis, dx[g], rcond=None)
        coefficients.append(c)
        residual += float(np.sum((basis @ c - dx[g]) ** 2))
    return np.array(coefficients), np.sqrt(residual) / max(norm(dx), 1e-300)


# Where each path goes wrong in the staged graph of batchnorm_backward (its docstring numbers the nodes (1) to (9)).
STAGED = {
    "all": "from node (8) on, dx_hat = dgamma_x_hat * gamma, or before it",
    "direct": "at node (7), whose gradient into x_centred is dx_hat * inv_std",
    "variance": "between node (7) and node (3): dinv_std, dstd, dvar, dsq and their gradient into x_centred",
    "mean": "at nodes (2) and (1): dmean = -sum(dx_centred) and the share dmean / N of every x",
}
PATHS = {"direct": "through x - mean", "mean": "through the mean", "variance": "through the variance"}


def _factor_hint(path, factor, count, staged):
    """A mistake that makes a path ``factor`` times what it should be, for the factors known mistakes give."""
    def near(value):
        return abs(factor - value) <= 1e-4 * max(1.0, abs(value))

    def node(text):
        return f" ({text})" if staged else ""
    hints = {
        "variance": [(2, "as when the 1/2 of d sqrt(v) / dv = 1 / (2 * sqrt(v)) is left out" + node("node (5)")),
                     (0.5, "as when the 2 of d(x_centred**2) / dx_centred = 2 * x_centred is left out"
                      + node("node (3)")),
                     (count, "as when the 1/N of var = sum(sq) / N is left out" + node("node (4)")),
                     (1 / count, "as when it is divided by N twice"),
                     (-1, "as when the minus of d(1/std) / dstd = -1 / std**2 is lost" + node("node (6)"))],
        "mean": [(count, "as when the 1/N of mean = sum(x) / N is left out" + node("node (1)")),
                 (1 / count, "as when it is divided by N twice"),
                 (-1, "as when the minus of x - mean is lost" + node("node (2)"))],
        "all": [(count, "as when a 1/N is left out of the whole of dx"),
                (1 / count, "as when dx is divided by N once too often"),
                (-1, "its sign is flipped")],
    }
    return next((hint for value, hint in hints.get(path, []) if near(value)), "")


def _number(factor, count):
    if abs(factor - count) <= 1e-4 * count:
        return f"N = {count}"
    if abs(factor - 1 / count) <= 1e-4 / count:
        return f"1/N = 1/{count}"
    return f"{factor:.3g}"


def expect_normalization_gradient(what, dx, evaluate_many, x, dout, axes, tol=1e-7, view=None, scale=None,
                                  staged=False, probes=None):
    """dx of a normalization layer against centred differences of its forward pass; when it is off, the path of the
    graph that is off is named, with the factor, and for the staged batch norm backward where it goes wrong.

    ``scale``: gamma, broadcastable to x (the upstream gradient into x_hat is dout * gamma), or None
    (standardize_backward: dout itself); ``view``: a reshape of x's shape to the one the statistics are taken in
    (group norm's (N, G, C // G, H, W)); ``probes(numeric)`` -> [(candidate, message)]: mistakes named first.
    """
    expect_array(what, dx, np.shape(x))
    numeric = numerical_gradient(evaluate_many, x, dout)
    error = relative_error(dx, numeric)
    if error <= tol:
        return
    observed = f"{what} disagrees with centred differences: relative error {error:.1e} (tolerance {tol:.0e}); " \
               f"{describe_difference(dx, numeric, array_name(what))}"
    if probes is not None:
        name_probes(dx, probes(numeric))
    dx = np.asarray(dx, dtype=np.float64)
    if not np.any(dx):
        raise CheckFailed(f"{what} is zero everywhere; relative error {error:.1e}")
    reshape = view or (lambda a: a)
    dout = np.asarray(dout, dtype=np.float64)
    gamma = np.ones_like(dout) if scale is None else np.broadcast_to(scale, dout.shape)
    x_view = reshape(np.asarray(x, dtype=np.float64))
    count = int(np.prod([x_view.shape[a] for a in np.atleast_1d(axes)]))
    true, residual = path_fit(reshape(numeric), reshape(dout * gamma), x_view, axes)
    if residual > 1e-6:  # the forward pass is not a normalization over these axes yet
        raise CheckFailed(observed + " (the forward pass's own check fails too: fix it first)")
    got, residual = path_fit(reshape(dx), reshape(dout * gamma), x_view, axes)
    if residual <= 1e-6:
        factors = _factors(got, true)
        if factors is not None:
            _name_path(what, factors, count, staged, error)
        per_group = got[:, 0] / true[:, 0]  # one factor per group, the same on every path: gamma's doing?
        if np.allclose(got, true * per_group[:, None], rtol=1e-4, atol=1e-9) and scale is not None:
            gamma_groups = _groups(gamma, axes) if view is None else _groups(reshape(gamma), axes)
            if np.allclose(gamma_groups, gamma_groups[:, :1]):  # gamma is constant over each group (batch norm)
                for power, mistake in ((-1, "leaves gamma out: the gradient into x_hat is dout * gamma"),
                                       (1, "multiplies by gamma twice: the gradient into x_hat is dout * gamma")):
                    if np.allclose(per_group, gamma_groups[:, 0] ** power, rtol=1e-4):
                        raise CheckFailed(f"{what} {mistake}; relative error {error:.1e}")
    if scale is not None:
        for upstream, mistake in ((dout, "leaves gamma out: the gradient into x_hat is dout * gamma"),
                                  (dout * gamma * gamma, "multiplies by gamma twice: the gradient into x_hat is "
                                                         "dout * gamma")):
            got, residual = path_fit(reshape(dx), reshape(upstream), x_view, axes)
            if residual <= 1e-6 and np.allclose(got[:, 0], true[:, 0], rtol=1e-4):
                raise CheckFailed(f"{what} {mistake}; relative error {error:.1e}")
    raise CheckFailed(observed)


def _factors(got, true):
    """(a, b, c): the factors of the three paths, the same in every group; None if they differ between groups or if
    every factor is 1 (then dx is off by less than the fit can tell)."""
    factors = []
    for k in range(3):
        usable = np.abs(true[:, k]) > 1e-9 * np.max(np.abs(true))
        if not np.any(usable):
            factors.append(1.0 if np.allclose(got[:, k], 0, atol=1e-9) else np.nan)
            continue
        ratios = got[usable, k] / true[usable, k]
        if np.max(np.abs(ratios - ratios.mean())) > 1e-4 * max(1.0, abs(ratios.mean())):
            return None
        factors.append(float(ratios.mean()))
    if np.any(np.isnan(factors)) or np.allclose(factors, 1, rtol=0, atol=1e-4):
        return None
    return factors


def _name_path(what, coefficients, count, staged, error):
    """Raise naming the path (and factor) by which dx = a * direct + b * mean + c * variance differs."""
    a, b, c = coefficients
    one = [abs(v - 1) <= 1e-4 for v in coefficients]
    tail = f"; relative error {error:.1e}"
    if one[0] and one[1] and not one[2]:
        path, factor = "variance", c
    elif one[0] and one[2] and not one[1]:
        path, factor = "mean", b
    elif np.allclose(coefficients, a, rtol=1e-4, atol=1e-6):
        path, factor = "all", a
    elif abs(a - b) <= 1e-4 * max(1, abs(a)) and one[2]:
        path, factor = "direct", a
    else:
        raise CheckFailed(f"{what}: dx is {a:.3g} times the gradient through x - mean, {b:.3g} times the gradient "
                          f"through the mean and {c:.3g} times the gradient through the variance (each should be 1)"
                          f"{tail}")
    where = f" ({STAGED[path]})" if staged else ""
    if abs(factor) <= 1e-4 and path in ("variance", "mean"):
        raise CheckFailed(f"{what} misses the path {PATHS[path]}{where}: x reaches the output through x - mean, "
                          f"through the mean and through the variance, and dx adds the gradients of every path"
                          f"{tail}")
    hint = _factor_hint(path, factor, count, staged)
    hint = f": {hint}" if hint else ""
    if path == "all":
        raise CheckFailed(f"{what} is {_number(factor, count)} times the gradient, on every path{where}{hint}{tail}")
    raise CheckFailed(f"{what}: the path {PATHS[path]} contributes {_number(factor, count)} times what it should"
                      f"{where}{hint}{tail}")
