"""Tests of the non-normalization layers: affine, ReLU, sigmoid, dropout, and the softmax and SVM losses.

They check the contract (values, shapes, the documented dtypes, errors for bad input), nothing incidental (no
cache layout, no global random state, no particular subgradient of ReLU at 0), so that a correct solution in any
style passes. Tests marked reference_only check what the kit's own reference solution adds (dout's shape checked
in every backward pass); they run in the solution edition only.
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from cs231n_bn import layers
from cs231n_bn.gradient_check import eval_numerical_gradient, rel_error
from cs231n_bn.kit.edition.markers import find_regions
from fixtures.gradients import gradient_errors
from cs231n_bn.layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_loss,
    svm_loss,
)

# float64, h = 1e-5, largest elementwise relative error: correct gradients measure below 1e-8 here;
# a wrong one is off by more than 1e-2.
GRAD_TOL = 1e-7

_SOURCE = Path(layers.__file__)
reference_only = pytest.mark.skipif(
    not find_regions(_SOURCE.read_text(encoding="utf-8"), _SOURCE.name),
    reason="a property of the kit's reference solution (solution edition only), not of the contract",
)


# --------------------------------------------------------------------------------------------------------------
# Affine


def test_affine_forward_flattens_each_example():
    x = np.arange(12.0).reshape(2, 3, 2)  # rows [0..5] and [6..11]
    w = np.zeros((6, 2))
    w[0, 0], w[5, 1] = 1.0, 2.0  # column 0 picks input 0, column 1 doubles input 5
    out, _ = affine_forward(x, w, np.array([0.5, -1.0]))
    assert np.array_equal(out, [[0.5, 9.0], [6.5, 21.0]])


@pytest.mark.parametrize("x_shape, M", [((3, 2, 2), 5), ((2, 7), 3), ((1, 3, 1, 2), 1)])
def test_affine_gradients(x_shape, M):
    rng = np.random.default_rng(sum(x_shape) + M)
    D = int(np.prod(x_shape[1:]))
    inputs = [rng.standard_normal(x_shape), rng.standard_normal((D, M)), rng.standard_normal(M)]
    errors = gradient_errors(affine_forward, affine_backward, inputs, rng.standard_normal((x_shape[0], M)))
    assert max(errors) < GRAD_TOL, errors


def test_affine_leaves_its_inputs_alone():
    rng = np.random.default_rng(3)
    x, w, b, dout = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), rng.standard_normal(5), \
        rng.standard_normal((4, 5))
    copies = [a.copy() for a in (x, w, b, dout)]
    _, cache = affine_forward(x, w, b)
    affine_backward(dout, cache)
    assert all(np.array_equal(a, c) for a, c in zip((x, w, b, dout), copies))


@reference_only
def test_affine_backward_refuses_dout_of_the_wrong_shape():
    _, cache = affine_forward(np.ones((4, 2, 3)), np.ones((6, 5)), np.zeros(5))
    for shape in [(1, 5), (4, 1), (5,), (5, 4)]:
        with pytest.raises(ValueError, match=re.escape(f"affine_backward: dout has shape {shape}, expected (4, 5)")):
            affine_backward(np.ones(shape), cache)


def test_affine_bad_shapes():
    with pytest.raises(ValueError, match=re.escape("(3, 4)") + ".*D = 5"):
        affine_forward(np.ones((3, 4)), np.ones((5, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=re.escape("b has shape (3,), expected (2,)")):
        affine_forward(np.ones((3, 5)), np.ones((5, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=re.escape("got shape (5,)")):
        affine_forward(np.ones((3, 5)), np.ones(5), np.zeros(1))
    with pytest.raises(TypeError, match="x must be a numpy array, got list"):
        affine_forward([[1.0, 2.0]], np.ones((2, 2)), np.zeros(2))


# --------------------------------------------------------------------------------------------------------------
# ReLU and sigmoid


def test_relu_forward_and_nan():
    x = np.array([[-2.0, -0.0, 0.0, 3.0, np.nan]])
    out, _ = relu_forward(x)
    assert np.array_equal(out[0, :4], [0.0, 0.0, 0.0, 3.0]) and np.isnan(out[0, 4])
    assert np.array_equal(x[0, :4], [-2.0, -0.0, 0.0, 3.0])  # the input is left alone


def test_relu_backward_values_and_any_subgradient_at_0():
    x = np.array([-1.0, 0.0, 2.0, -3.0])
    _, cache = relu_forward(x)
    dx = relu_backward(np.array([5.0, 1.0, -2.0, 4.0]), cache)
    assert dx[0] == 0 and dx[2] == -2.0 and dx[3] == 0
    assert 0 <= dx[1] <= 1  # at the kink any subgradient in [0, 1] times dout = 1 is correct


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 3), (1, 7)])
def test_relu_gradients(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 2.0, size=shape)  # away from the kink at 0
    errors = gradient_errors(relu_forward, relu_backward, [x], rng.standard_normal(shape))
    assert max(errors) < GRAD_TOL, errors


def test_sigmoid_values():
    # Relative error 1e-14, a few dozen ulp: what any correct formula meets in float64 (exp(-logaddexp(0, -x)) is
    # 5 ulp, 1.1e-15, off at x = -30; 1 / (1 + exp(-x)) is exact to an ulp or two).
    x = np.array([-30.0, -1.0, 0.0, 1.0, 30.0])
    out, _ = sigmoid_forward(x)
    assert np.allclose(out, 1 / (1 + np.exp(-x)), rtol=1e-14, atol=0)
    assert out[2] == 0.5
    # Tiny outputs keep their relative precision: sigmoid(-30) = e^-30 / (1 + e^-30).
    assert abs(out[0] / (np.exp(-30.0) / (1 + np.exp(-30.0))) - 1) < 1e-14


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_sigmoid_large_inputs_no_overflow_warnings(dtype):
    x = np.array([-1e4, -1000.0, -100.0, 100.0, 1000.0, 1e4], dtype=dtype)
    if dtype == np.float16:
        x = x[np.isfinite(x)]
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out, cache = sigmoid_forward(x)
        dx = sigmoid_backward(np.ones_like(x), cache)
    assert np.all(out[x <= -1000] == 0) and np.all(out[x > 0] == 1)
    assert np.all((0 <= dx) & (dx.astype(np.float64) < 1e-40))
    if dtype == np.float64:
        assert out[2] == pytest.approx(np.exp(-100.0), rel=1e-15)  # not flushed to 0: sigmoid(-100) ~ e^-100


@pytest.mark.parametrize("shape", [(4, 5), (3,), (2, 1, 3)])
def test_sigmoid_gradients(shape):
    rng = np.random.default_rng(sum(shape))
    x = 3 * rng.standard_normal(shape)
    errors = gradient_errors(sigmoid_forward, sigmoid_backward, [x], rng.standard_normal(shape))
    assert max(errors) < GRAD_TOL, errors


@reference_only
@pytest.mark.parametrize("forward, backward", [(relu_forward, relu_backward), (sigmoid_forward, sigmoid_backward)])
def test_activation_backward_refuses_dout_of_the_wrong_shape(forward, backward):
    _, cache = forward(np.ones((3, 4)))
    with pytest.raises(ValueError, match=re.escape(f"{backward.__name__}: dout has shape (1, 4), expected (3, 4)")):
        backward(np.ones((1, 4)), cache)


def test_sigmoid_nan_and_bad_dtype():
    out, _ = sigmoid_forward(np.array([np.nan, 0.0]))
    assert np.isnan(out[0]) and out[1] == 0.5
    with pytest.raises(TypeError, match="int64"):
        sigmoid_forward(np.arange(3))


# --------------------------------------------------------------------------------------------------------------
# Dropout


def test_dropout_keeps_the_expectation_and_drops_about_1_minus_p():
    x = 1.0 + np.random.default_rng(0).random((500, 400))
    for p in (0.25, 0.5, 0.9, 1.0):
        out, _ = dropout_forward(x, {"p": p, "mode": "train", "seed": 1})
        kept = out != 0
        assert abs(kept.mean() - p) < 0.01  # 200k units: the std of the kept fraction is below 0.0012
        assert np.allclose(out[kept], x[kept] / p, rtol=1e-15)  # inverted dropout
        assert abs(out.mean() / x.mean() - 1) < 0.01


def test_dropout_seed_reproduces_the_mask():
    x = np.ones((50, 40))
    a, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 7})
    b, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 7})
    c, _ = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 8})
    # Two different seeds give the same 2000-unit mask with probability 2^-2000.
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_dropout_without_seed_draws_a_new_mask_every_call():
    x = np.ones((30, 30))
    a, _ = dropout_forward(x, {"p": 0.5, "mode": "train"})
    b, _ = dropout_forward(x, {"p": 0.5, "mode": "train"})
    assert not np.array_equal(a, b)


def test_dropout_leaves_its_input_alone():
    x = np.random.default_rng(4).standard_normal((10, 10))
    copy = x.copy()
    dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 0})
    assert np.array_equal(x, copy)


def test_dropout_test_mode_is_the_identity():
    x = np.random.default_rng(1).standard_normal((4, 5))
    out, cache = dropout_forward(x, {"p": 0.3, "mode": "test"})
    assert np.array_equal(out, x)
    dout = np.random.default_rng(2).standard_normal((4, 5))
    assert np.array_equal(dropout_backward(dout, cache), dout)


def test_dropout_output_keeps_x_s_dtype():
    # The template casts the output to x's dtype after the student's code.
    x = np.ones((20, 20), dtype=np.float32)
    for mode in ("train", "test"):
        assert dropout_forward(x, {"p": 0.3, "mode": mode, "seed": 0})[0].dtype == np.float32


@reference_only
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_activations_keep_the_dtype(dtype):
    # Not part of the contract (a layer may compute and return float64); the reference keeps float32 and float16.
    x = np.array([-1e4, -2.0, 0.0, 3.0, 1e4], dtype=dtype)
    for forward, backward in ((relu_forward, relu_backward), (sigmoid_forward, sigmoid_backward)):
        out, cache = forward(x)
        assert out.dtype == dtype and backward(np.ones_like(x), cache).dtype == dtype, forward.__name__


@pytest.mark.parametrize("shape, p", [((6, 5), 0.4), ((3, 2, 3), 0.75), ((1, 9), 1.0)])
def test_dropout_gradients(shape, p):
    rng = np.random.default_rng(sum(shape))
    param = {"p": p, "mode": "train", "seed": 5}
    forward = lambda x: dropout_forward(x, dict(param))  # noqa: E731
    errors = gradient_errors(forward, dropout_backward, [rng.standard_normal(shape)], rng.standard_normal(shape))
    assert max(errors) < GRAD_TOL, errors


@pytest.mark.parametrize("p", [0, 0.0, -0.1, 1.5, float("nan")])
def test_dropout_rejects_a_keep_probability_outside_0_1(p):
    with pytest.raises(ValueError, match=re.escape(f"got {p!r}") + ".*|.*" + re.escape("(0, 1]")):
        dropout_forward(np.ones(3), {"p": p, "mode": "train"})
    with pytest.raises(ValueError, match=re.escape(f"got {p!r}")):
        dropout_forward(np.ones(3), {"p": p, "mode": "train"})


def test_dropout_bad_params():
    with pytest.raises(ValueError, match="'Train'"):
        dropout_forward(np.ones(3), {"p": 0.5, "mode": "Train"})
    with pytest.raises(ValueError, match="'keep_prob'.*allowed keys are 'p', 'mode', 'seed'"):
        dropout_forward(np.ones(3), {"p": 0.5, "mode": "train", "keep_prob": 0.5})
    with pytest.raises(ValueError, match="'p'"):
        dropout_forward(np.ones(3), {"mode": "train"})
    with pytest.raises(TypeError, match="'0.5'"):
        dropout_forward(np.ones(3), {"p": "0.5", "mode": "train"})
    with pytest.raises(TypeError, match="int64"):
        dropout_forward(np.ones(3, dtype=np.int64), {"p": 0.5, "mode": "train"})


@pytest.mark.parametrize("seed, error, text", [
    (-1, ValueError, "dropout_param['seed'] must be an integer in [0, 4294967295] (2**32 - 1), got -1"),
    (2**32, ValueError, "got 4294967296"),
    (1.5, TypeError, "got 1.5 of type float"),
    ("7", TypeError, "got '7' of type str"),
    (True, TypeError, "got True of type bool"),
])
def test_dropout_rejects_a_bad_seed(seed, error, text):
    with pytest.raises(error, match=re.escape(text)):
        dropout_forward(np.ones(3), {"p": 0.5, "mode": "train", "seed": seed})


@reference_only
def test_dropout_backward_refuses_dout_of_the_wrong_shape():
    _, cache = dropout_forward(np.ones((4, 3)), {"p": 0.5, "mode": "train", "seed": 1})
    with pytest.raises(ValueError, match=re.escape("dropout_backward: dout has shape (1, 3), expected (4, 3)")):
        dropout_backward(np.ones((1, 3)), cache)


# --------------------------------------------------------------------------------------------------------------
# Losses


def test_softmax_loss_values():
    # Uniform scores: every class has probability 1/C.
    loss, dx = softmax_loss(np.zeros((4, 5)), np.array([0, 1, 2, 4]))
    assert loss == pytest.approx(np.log(5), rel=1e-14)
    # scores [1, 2, 3], label 2: -log(e^3 / (e + e^2 + e^3)) = log(1 + e^-1 + e^-2); averaged with label 0's loss.
    loss, _ = softmax_loss(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]), np.array([2, 0]))
    expected = (np.log(1 + np.exp(-1) + np.exp(-2)) + np.log(1 + np.exp(1) + np.exp(2))) / 2
    assert loss == pytest.approx(expected, rel=1e-14)


def test_softmax_loss_is_stable_for_huge_scores():
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        loss, dx = softmax_loss(np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]]), np.array([0, 0]))
    assert loss == pytest.approx(1e4 / 2)  # sample 0: loss 0; sample 1: loss 1e4
    assert np.all(np.isfinite(dx))
    shifted, _ = softmax_loss(np.array([[1.0, 2.0]]) + 1e6, np.array([1]))
    assert shifted == pytest.approx(np.log(1 + np.exp(-1)), rel=1e-9)


def test_svm_loss_values():
    x = np.array([[3.0, 1.0, 2.5], [0.0, 0.0, 0.0]])
    y = np.array([0, 2])
    # Sample 0: margins max(0, 1 - 3 + 1) = 0 and max(0, 2.5 - 3 + 1) = 0.5; sample 1: 1 + 1.
    loss, dx = svm_loss(x, y)
    assert loss == pytest.approx((0.5 + 2.0) / 2, rel=1e-15)
    assert np.allclose(dx, np.array([[-1.0, 0.0, 1.0], [1.0, 1.0, -2.0]]) / 2)


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
@pytest.mark.parametrize("N, C", [(6, 4), (1, 3), (5, 2)])
def test_loss_gradients(loss_fn, N, C):
    rng = np.random.default_rng(N * C)
    x, y = rng.standard_normal((N, C)), rng.integers(0, C, size=N)
    loss, dx = loss_fn(x, y)
    numeric = eval_numerical_gradient(lambda v: loss_fn(v, y)[0], x, verbose=False)
    assert rel_error(dx, numeric) < GRAD_TOL, rel_error(dx, numeric)


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
def test_losses_leave_the_scores_alone(loss_fn):
    x = np.random.default_rng(5).standard_normal((4, 3))
    copy = x.copy()
    loss_fn(x, np.array([0, 2, 1, 1]))
    assert np.array_equal(x, copy)


@pytest.mark.parametrize("loss_fn", [softmax_loss, svm_loss])
def test_losses_reject_bad_labels(loss_fn):
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=re.escape("[0, 3]") + ".*got 4 at index 1"):
        loss_fn(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="got -1 at index 2"):
        loss_fn(x, np.array([0, 1, -1]))
    with pytest.raises(TypeError, match="float64"):
        loss_fn(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=re.escape("shape (2,), expected (3,)")):
        loss_fn(x, np.array([0, 1]))
    with pytest.raises(ValueError, match=re.escape("shape (3, 1), expected (3,)")):
        loss_fn(x, np.array([[0], [1], [2]]))
    with pytest.raises(TypeError, match="int64"):
        loss_fn(np.zeros((3, 4), dtype=np.int64), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=re.escape("got shape (4,)")):
        loss_fn(np.zeros(4), np.array([0]))
