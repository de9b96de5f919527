"""The one computation behind every normalization layer: standardize over some axes.

Batch norm, layer norm, spatial batch norm and group norm all compute

    mean    = mean(x, axes)                          one statistic per position of the axes NOT reduced
    var     = mean((x - mean)**2, axes)              two passes: centre first, then square
    inv_std = 1 / sqrt(var + eps)
    x_hat   = (x - mean) * inv_std
    out     = gamma * x_hat + beta                   gamma, beta: one value per feature / channel

and differ only in the axes the statistics are taken over, that is, in what shares one mean and variance:

    batch norm       x (N, D)            each feature, over the mini-batch
    layer norm       x (N, D)            each sample, over its features
    spatial BN       x (N, C, H, W)      each channel, over the batch and every position
    group norm       x (N, C, H, W)      each sample and group of C/G consecutive channels, over the group's
                                         channels and every position

NormalizationFamily.ipynb, "One computation over different axes", puts the family side by side; standardize and
standardize_backward below are that shared computation, for any axes.
"""

import numpy as np

from .kit.validation import check_standardize_backward_inputs, check_standardize_inputs


def standardize(x, axis, eps):
    """
    Standardize x with statistics taken over `axis`:

        mean = mean(x, axis);    var = mean((x - mean)**2, axis)      (biased: divide by the number of values)
        inv_std = 1 / sqrt(var + eps)
        x_hat = (x - mean) * inv_std

    The variance is computed in two passes (centre, then square), never as E[x^2] - E[x]^2, which cancels
    catastrophically when |mean| >> std (for x = 1e6 + N(0, 1) in float64 it loses every digit).

    Inputs:
    - x: Array of any shape, float32 or float64.
    - axis: An int or a tuple of ints: the axes reduced over.
    - eps: Positive number added to the variance for numerical stability.

    Returns a tuple of:
    - x_hat: Array of x's shape and dtype: zero mean and (up to eps) unit variance over `axis`.
    - mean, var, inv_std: The statistics, of x's shape with the reduced axes of size 1 (so that they broadcast
      against x).
    """
    check_standardize_inputs(x, axis, eps)
    # TODO: standardize x over `axis` (NormalizationFamily.ipynb, section 1 "One computation over different axes").
    ### BEGIN SOLUTION
    mean = x.mean(axis=axis, keepdims=True)
    var = np.mean((x - mean) ** 2, axis=axis, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    ### END SOLUTION
    return x_hat, mean, var, inv_std


def standardize_backward(dx_hat, x_hat, inv_std, axis):
    """
    Backward pass of standardize() with batch statistics: the gradient with respect to standardize()'s input x,
    through every path (x_hat depends on x directly, through the mean and through the variance).

    Inputs:
    - dx_hat: Upstream derivative with respect to x_hat, of x_hat's shape.
    - x_hat: The standardized input returned by standardize().
    - inv_std: 1 / sqrt(var + eps) as returned by standardize(), with the reduced axes of size 1.
    - axis: The axes standardize() reduced over.

    Returns:
    - dx: Gradient with respect to standardize()'s input x, of x_hat's shape.
    """
    check_standardize_backward_inputs(dx_hat, x_hat, inv_std, axis)
    # TODO: closed-form backward of standardize (NormalizationFamily.ipynb, section 1 "One computation over different axes").
    ### BEGIN SOLUTION
    dx = inv_std * (dx_hat - dx_hat.mean(axis=axis, keepdims=True)
                    - x_hat * np.mean(dx_hat * x_hat, axis=axis, keepdims=True))
    ### END SOLUTION
    return dx
