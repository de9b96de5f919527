"""Fast convolution and max pooling in NumPy: the same functions as the naive ones in layers.py, without loops
over the output positions. Nothing here is student work; read it after writing the naive versions.

Convolution as matrix products (im2col). sliding_window_view gives, without copying, an array of every
receptive field, windows[n, c, i, j, k, l] = x_pad[n, c, i * s + k, j * s + l]. Gathering the fields of image
n as the columns of a matrix cols[n] (C * HH * WW, H' * W') makes the layer, with w_rows = w.reshape(F, -1),

    out[n] = w_rows @ cols[n] + b                      (F, H' * W'), already in the layout of out
    dw = sum_n dout[n] @ cols[n].T,   db = sum of dout,   dcols[n] = w_rows.T @ dout[n]

and dx adds each entry of dcols back to the input pixel it was read from (col2im): one strided slice per filter
offset (k, l), so HH * WW vectorized additions instead of N * F * H' * W' small ones.

Max pooling keeps a running maximum over the pool_height * pool_width entries of the windows, each entry of all
windows at once being one strided view of x. The backward pass sends each dout value to the first maximum of
its window in row-major order, as max_pool_backward_naive does.

The results agree with layers.conv_*_naive and layers.max_pool_*_naive to rounding (1e-8 relative in float64).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .kit.validation import check_conv_inputs, check_pool_inputs


def _padded(x, pad):
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x


def conv_forward_fast(x, w, b, conv_param):
    """
    Forward pass for a convolutional layer, vectorized (im2col and one matrix product per image):

        out[n, f, i, j] = sum_{c, k, l} x_pad[n, c, i * s + k, j * s + l] * w[f, c, k, l] + b[f]

    Inputs:
    - x: Input data of shape (N, C, H, W).
    - w: Filter weights of shape (F, C, HH, WW).
    - b: Biases of shape (F,).
    - conv_param: Dict with keys 'stride' (integer >= 1) and 'pad' (integer >= 0), as for conv_forward_naive.

    Returns a tuple of:
    - out: Output of shape (N, F, H', W'), H' = 1 + (H + 2 * pad - HH) / stride, W' likewise.
    - cache: (x_shape, w, conv_param, cols) for conv_backward_fast; cols (N, C * HH * WW, H' * W') holds
      every receptive field of image n as a column of cols[n].
    """
    N, F, H_out, W_out = check_conv_inputs(x, w, b, conv_param, "conv_forward_fast")
    x, w = np.asarray(x), np.asarray(w)
    stride, pad = conv_param["stride"], conv_param["pad"]
    HH, WW = w.shape[2:]
    windows = sliding_window_view(_padded(x, pad), (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    # (N, C, H', W', HH, WW) -> (N, C, HH, WW, H', W'): the one copy of the forward pass. Keeping (H', W') last
    # copies whole image rows at a time, and the products below come out in the layout of out.
    cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(N, -1, H_out * W_out)
    out = w.reshape(F, -1) @ cols  # (F, C * HH * WW) @ (N, C * HH * WW, H' * W') -> (N, F, H' * W')
    out += np.reshape(b, (F, 1))
    return out.reshape(N, F, H_out, W_out), (x.shape, w, conv_param, cols)


def conv_backward_fast(dout, cache):
    """
    Backward pass for conv_forward_fast.

    Inputs:
    - dout: Upstream derivatives of shape (N, F, H', W').
    - cache: From conv_forward_fast.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W).
    - dw: Gradient with respect to w, of shape (F, C, HH, WW).
    - db: Gradient with respect to b, of shape (F,).
    """
    x_shape, w, conv_param, cols = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x_shape
    F, _, HH, WW = w.shape
    H_out, W_out = dout.shape[2:]
    dout_cols = dout.reshape(N, F, H_out * W_out)
    db = dout_cols.sum(axis=(0, 2))
    dw = (dout_cols @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)  # sum over n of dout_n @ cols_n.T
    dcols = (w.reshape(F, -1).T @ dout_cols).reshape(N, C, HH, WW, H_out, W_out)
    # col2im: entry (k, l) of every receptive field was read from x_pad[:, :, i * s + k, j * s + l].
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dcols.dtype)
    for k in range(HH):
        for l in range(WW):
            dx_pad[:, :, k:k + stride * H_out:stride, l:l + stride * W_out:stride] += dcols[:, :, k, l]
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W] if pad else dx_pad
    return dx, dw, db


def _window_entry(x, k, l, stride, out_shape):
    """Entry (k, l) of every pooling window at once: the view x[:, :, i * stride + k, j * stride + l], (N, C, H', W')."""
    H_out, W_out = out_shape[2:]
    return x[:, :, k:k + stride * H_out:stride, l:l + stride * W_out:stride]


def max_pool_forward_fast(x, pool_param):
    """
    Forward pass for max pooling, vectorized: out[n, c, i, j] = max of x[n, c] over window (i, j).

    Inputs:
    - x: Input data of shape (N, C, H, W).
    - pool_param: Dict with keys 'pool_height', 'pool_width', 'stride' (integers >= 1), as for
      max_pool_forward_naive.

    Returns a tuple of:
    - out: Output of shape (N, C, H', W'), H' = 1 + (H - pool_height) / stride, W' likewise.
    - cache: (x, pool_param, out) for max_pool_backward_fast.
    """
    out_shape = check_pool_inputs(x, pool_param, "max_pool_forward_fast")
    x = np.asarray(x)
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    # A running maximum over the pool_height * pool_width entries of the windows, each step one whole-array op.
    out = _window_entry(x, 0, 0, stride, out_shape).copy()
    for position in range(1, ph * pw):
        np.maximum(out, _window_entry(x, position // pw, position % pw, stride, out_shape), out=out)
    return out, (x, pool_param, out)


def max_pool_backward_fast(dout, cache):
    """
    Backward pass for max_pool_forward_fast: each dout[n, c, i, j] goes to the first maximum of its window;
    overlapping windows add up.

    Inputs:
    - dout: Upstream derivatives of shape (N, C, H', W').
    - cache: From max_pool_forward_fast.

    Returns:
    - dx: Gradient with respect to x, of shape (N, C, H, W).
    """
    x, pool_param, out = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(x.shape, dtype=dout.dtype)
    unrouted = np.ones(out.shape, dtype=bool)  # windows whose maximum has not received its gradient yet
    for position in range(ph * pw):  # row-major order: the first entry equal to the maximum takes dout
        k, l = position // pw, position % pw
        first = unrouted & (_window_entry(x, k, l, stride, out.shape) == out)
        _window_entry(dx, k, l, stride, out.shape)[...] += np.where(first, dout, 0)  # a view into dx
        unrouted &= ~first
    return dx
