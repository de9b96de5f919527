"""The one idea behind every normalization layer: standardize over some axes.

Batch norm, layer norm, spatial batch norm and group norm all compute

    mean    = mean(x, axes)                          one statistic per position of the axes NOT reduced
    var     = mean((x - mean)**2, axes)              two-pass: centre first, then square
    inv_std = 1 / sqrt(var + eps)
    x_hat   = (x - mean) * inv_std
    out     = gamma * x_hat + beta                   gamma, beta: one value per feature / channel

and differ only in `axes`, the axes the statistics are taken over:

    layer            x                          axes         one mean and variance per
    batch norm       (N, D)                     0            feature (over the mini-batch)
    layer norm       (N, D)                     1            sample (over its features)
    spatial BN       (N, C, H, W)               (0, 2, 3)    channel (over the batch and the image)
    group norm       (N, C, H, W) viewed as     (2, 3, 4)    sample and group of C/G contiguous channels
                     (N, G, C/G, H, W)

The statistics keep the reduced axes as size-1 axes (keepdims), so they broadcast against x.

The backward pass of x -> x_hat is just as shared: standardize_backward is the closed form derived for batch norm
in BatchNormalization.ipynb, and nothing in that derivation depends on which axes are reduced.
NormalizationFamily.ipynb, "One computation over different axes", puts the family side by side.
"""

import contextlib
import functools

import numpy as np

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@functools.lru_cache(maxsize=64)
def _einsum_plan(axis, shape):
    """
    For a sum of products over `axis` (an int or a tuple of ints, possibly negative) of arrays of this shape: the
    einsum subscripts, and the result's shape with the summed axes kept as size 1. Cached: working them out
    costs more than the einsum itself on small arrays.
    """
    axes = (axis,) if np.ndim(axis) == 0 else axis
    axes = {a % len(shape) for a in axes}
    subscripts = _LETTERS[: len(shape)]
    kept = "".join(letter for i, letter in enumerate(subscripts) if i not in axes)
    return f"{subscripts},{subscripts}->{kept}", tuple(1 if i in axes else n for i, n in enumerate(shape))


def sum_of_products(a, b, axis):
    """
    sum(a * b, axis, keepdims=True), without materializing the product a * b.

    np.einsum multiplies and accumulates in one pass, so e.g. the variance of an (N, D) array costs no
    (N, D) temporary; that is most of the forward pass's memory traffic saved.

    Inputs:
    - a, b: Arrays of the same shape.
    - axis: An int or a tuple of ints: the axes summed over.

    Returns:
    - s: Array of a's shape with the summed axes reduced to size 1.
    """
    subscripts, keepdims_shape = _einsum_plan(tuple(axis) if isinstance(axis, list) else axis, a.shape)
    return np.einsum(subscripts, a, b).reshape(keepdims_shape)


def row_buffers(x):
    """
    A context in which NumPy's ufunc buffers hold at most one row of x (its last axis), for the broadcasts of the
    normalization layers: x op s, where s (a statistic, gamma or beta) has size 1 along some axes of x, say
    (N, D) op (D,) in batch norm or (N, D) op (N, 1) in layer norm.

    Why: NumPy (up to at least 2.4) evaluates such a broadcast in chunks of its buffer size, 8192 elements. When a
    row is shorter than that, a chunk spans several rows and NumPy copies s into a buffer, chunk after chunk
    (numpy issue gh-13307), which costs as much as the arithmetic. With buffers no longer than a row, every inner
    loop is one row and reads s in place: such a pass gets 1.3x to 2x faster for rows of 2 KiB or more. Shorter
    rows keep the default, since looping row by row costs more than the copies there. Reductions over the batch
    axis (x.sum(axis=0)) are better off with the default buffers, so they stay outside. Buffers still serve dtype
    casts (say float32 x against float64 gamma), one row at a time.

    Inputs:
    - x: The array the enclosed operations broadcast against; its last axis is the row.

    Returns:
    - A context manager; it restores the previous buffer size on exit.
    """
    D = x.shape[-1] if x.ndim >= 2 else 0
    if D * x.itemsize < 2048 or D >= np.getbufsize():
        return _UNCHANGED
    return _BufferSize(D // 16 * 16)  # NumPy wants a multiple of 16


_UNCHANGED = contextlib.nullcontext()


class _BufferSize:
    """Context manager: np.setbufsize(size) inside, the previous size restored on exit."""

    def __init__(self, size):
        self.size = size

    def __enter__(self):
        self.previous = np.setbufsize(self.size)

    def __exit__(self, *exc_info):
        np.setbufsize(self.previous)


def standardize(x, axis, eps):
    """
    Standardize x with statistics taken over `axis`:

        mean = mean(x, axis);  var = mean((x - mean)**2, axis);  inv_std = 1 / sqrt(var + eps)
        x_hat = (x - mean) * inv_std

    The variance is computed in two passes (centre, then square), never as E[x^2] - E[x]^2, which cancels
    catastrophically when |mean| >> std (for x = 1e6 + N(0, 1) in float64 it loses every digit).

    Inputs:
    - x: Floating array of any shape.
    - axis: An int or a tuple of ints: the axes reduced over.
    - eps: Non-negative float added to the variance for numerical stability.

    Returns a tuple of (the statistics have x's shape with the reduced axes of size 1):
    - x_hat: Array of x's shape and dtype, zero mean and (up to eps) unit variance over `axis`.
    - mean, var, inv_std: The statistics.
    """
    # TODO: standardize x over `axis` (NormalizationFamily.ipynb, section 1 "One computation over different axes").
    ### BEGIN SOLUTION
    mean = x.mean(axis=axis, keepdims=True)
    with row_buffers(x):  # the statistics are broadcast over x's rows: see row_buffers
        x_hat = x - mean  # x_centered for now; scaled into x_hat in place below
        var = sum_of_products(x_hat, x_hat, axis) / (x.size // mean.size)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat *= inv_std
    ### END SOLUTION
    return x_hat, mean, var, inv_std


def standardize_backward(dx_hat, x_hat, inv_std, axis):
    """
    Backward pass of standardize() when its statistics are batch statistics (train mode), in closed form: dx from
    dx_hat, x_hat and inv_std alone. The layers call it with dx_hat = dout * gamma.

    Inputs:
    - dx_hat: Upstream derivative with respect to x_hat, of x_hat's shape.
    - x_hat: The standardized input returned by standardize().
    - inv_std: 1 / sqrt(var + eps) returned by standardize(), reduced axes of size 1.
    - axis: The axes standardize() reduced over.

    Returns:
    - dx: Gradient with respect to standardize()'s input x, of x_hat's shape.
    """
    # TODO: closed-form backward of standardize (NormalizationFamily.ipynb, section 1 "One computation over different axes").
    ### BEGIN SOLUTION
    m = x_hat.size // inv_std.size  # number of values behind each statistic
    mean_dx_hat = dx_hat.sum(axis=axis, keepdims=True) / m
    mean_dx_hat_x_hat = sum_of_products(dx_hat, x_hat, axis) / m
    # dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)): the two mean terms are the gradient
    # through the mean and through the variance. Evaluated in place, with one allocation:
    dx = x_hat * mean_dx_hat_x_hat
    dx += mean_dx_hat
    np.subtract(dx_hat, dx, out=dx)
    dx *= inv_std
    ### END SOLUTION
    return dx
