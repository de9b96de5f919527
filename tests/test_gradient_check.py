"""Tests of cs231n_bn.gradient_check on functions whose derivatives are known in closed form."""

import re

import numpy as np
import pytest

from cs231n_bn.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)


def test_rel_error_is_the_largest_elementwise_relative_error():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    # |1 - 3| / (1 + 3) = 0.5 beats |2 - 2| / 4 = 0.
    assert rel_error(np.array([1.0, 2.0]), np.array([3.0, 2.0])) == pytest.approx(0.5)
    assert rel_error(np.array([-1.0]), np.array([1.0])) == pytest.approx(1.0)  # opposite signs: the maximum


def test_rel_error_floor_keeps_zero_gradients_finite():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    # Both tiny: divided by the 1e-8 floor, not by |x| + |y| = 1e-9.
    assert rel_error(np.array([0.0]), np.array([1e-9])) == pytest.approx(0.1)
    assert isinstance(rel_error(1.0, 2.0), float)


def test_eval_numerical_gradient_of_a_cubic():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    x_before = x.copy()
    grad = eval_numerical_gradient(lambda v: np.sum(v**3), x, verbose=False)
    assert grad.shape == x.shape
    assert rel_error(grad, 3 * x**2) < 1e-7  # roundoff of the sum over 12 entries, / 2h, vs gradients ~5e-3
    assert np.array_equal(x, x_before)  # perturbed in place, restored exactly


def test_eval_numerical_gradient_uses_centred_differences():
    # f(x) = x**3 at x = 1, h = 1e-3: the centred difference is 3 + h**2 = 3.000001,
    # a one-sided difference would be 3 + 3h + h**2 = 3.003001.
    x = np.array([1.0])
    grad = eval_numerical_gradient(lambda v: float(v[0] ** 3), x, verbose=False, h=1e-3)
    assert abs(grad[0] - 3.000001) < 1e-9


def test_eval_numerical_gradient_verbose_prints_each_index(capsys):
    eval_numerical_gradient(lambda v: np.sum(v**2), np.array([1.0, 2.0]), verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("(0,)") and lines[1].startswith("(1,)")
    assert float(lines[1].split()[-1]) == pytest.approx(4.0)


def test_eval_numerical_gradient_array_of_an_elementwise_function():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 2))
    df = rng.standard_normal((2, 3, 2))
    x_before = x.copy()
    grad = eval_numerical_gradient_array(lambda v: 2 * np.sin(v), x, df)
    assert rel_error(grad, 2 * np.cos(x) * df) < 1e-8
    assert np.array_equal(x, x_before)


def test_eval_numerical_gradient_array_of_a_matrix_product():
    # f(x) = x @ w, so d sum(f(x) * df) / dx = df @ w.T.
    rng = np.random.default_rng(2)
    x, w, df = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((3, 5))
    grad = eval_numerical_gradient_array(lambda v: v @ w, x, df)
    assert rel_error(grad, df @ w.T) < 1e-8


def test_eval_numerical_gradient_array_copes_with_a_reused_output_buffer():
    buffer = np.empty(3)

    def f(v):
        np.multiply(v, v, out=buffer)  # returns the same array every call
        return buffer

    x = np.array([1.0, -2.0, 0.5])
    grad = eval_numerical_gradient_array(f, x, np.ones(3))
    assert rel_error(grad, 2 * x) < 1e-8


def test_x_is_restored_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])
    calls = []

    def f(v):
        calls.append(v.copy())
        if len(calls) == 2:
            raise RuntimeError("boom")
        return np.sum(v)

    with pytest.raises(RuntimeError, match="boom"):
        eval_numerical_gradient(f, x, verbose=False)
    assert np.array_equal(x, [1.0, 2.0, 3.0])
    assert calls[1][0] == 1.0 - 1e-5  # the second call did see the perturbed entry


def test_grad_check_sparse_small_errors_for_the_right_gradient(capsys):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 6))
    errors = grad_check_sparse(lambda v: np.sum(np.exp(v)), x, np.exp(x), num_checks=7, seed=0)
    assert errors.shape == (7,)
    assert errors.max() < 1e-8
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 7 and all(line.startswith("numerical: ") and "relative error" in line for line in lines)


def test_grad_check_sparse_flags_a_wrong_gradient():
    x = np.random.default_rng(4).standard_normal(10)
    # Analytic gradient off by a factor 2: relative error |2g - g| / (|2g| + |g|) = 1/3 at every entry.
    errors = grad_check_sparse(lambda v: np.sum(v**2), x, 4 * x, num_checks=5, seed=1, verbose=False)
    assert np.allclose(errors, 1 / 3, atol=1e-6)


def _checked_entries(x, **kwargs):
    """The entries grad_check_sparse perturbs, recorded by a spy f."""
    seen = []
    base = x.copy()

    def f(v):
        changed = np.flatnonzero(v != base)
        seen.extend(changed.tolist())
        return np.sum(v)

    grad_check_sparse(f, x, np.ones_like(x), num_checks=6, verbose=False, **kwargs)
    return seen


def test_grad_check_sparse_is_reproducible_under_np_random_seed():
    x = np.arange(50.0).reshape(5, 10)
    np.random.seed(123)
    first = _checked_entries(x)
    np.random.seed(123)
    second = _checked_entries(x)
    assert first == second
    assert len(set(first)) > 1  # the entries do vary


def test_grad_check_sparse_seed_is_reproducible_and_leaves_the_global_state_alone():
    x = np.arange(50.0).reshape(5, 10)
    np.random.seed(7)
    state = np.random.get_state()[1].copy()
    first = _checked_entries(x, seed=11)
    assert np.array_equal(np.random.get_state()[1], state)
    assert first == _checked_entries(x, seed=11)
    assert first != _checked_entries(x, seed=12)


@pytest.mark.parametrize("function", [eval_numerical_gradient, eval_numerical_gradient_array, grad_check_sparse])
def test_integer_input_is_rejected(function):
    x = np.arange(4)  # x + h would be truncated back to x
    args = {
        eval_numerical_gradient: (lambda v: np.sum(v), x),
        eval_numerical_gradient_array: (lambda v: v, x, np.ones(4)),
        grad_check_sparse: (lambda v: np.sum(v), x, np.ones(4)),
    }[function]
    with pytest.raises(TypeError, match="int64"):
        function(*args)


def test_bad_step_and_gradient_shape_are_rejected():
    x = np.ones(3)
    with pytest.raises(ValueError, match=re.escape("got 0")):
        eval_numerical_gradient(np.sum, x, h=0)
    with pytest.raises(ValueError, match=re.escape("(2,)")):
        grad_check_sparse(np.sum, x, np.ones(2))
