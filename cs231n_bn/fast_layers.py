"""Fast convolution and max pooling in NumPy: the same functions as the naive ones in layers.py, without loops
over the output positions. Nothing here is student work; read it after writing the naive versions.

Convolution as one matrix product (im2col). sliding_window_view gives, without copying, an array of every
receptive field, windows[n, c, i, j, k, l] = x_pad[n, c, i * s + k, j * s + l]. Gathering the fields as the
rows of a matrix cols (N * H' * W', C * HH * WW) makes the layer

    out = cols @ w.reshape(F, -1).T + b                 (rows in (n, i, j) order, then moved to (N, F, H', W'))
    dw  = dout_rows.T @ cols,   db = sum of dout_rows,  dcols = dout_rows @ w.reshape(F, -1)

and dx adds each column of dcols back to the input pixels it was read from (col2im): one strided slice per
filter offset (k, l), so HH * WW vectorized additions instead of N * F * H' * W' small ones.

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
    Forward pass for a convolutional layer, vectorized (im2col and one matrix product):

        out[n, f, i, j] = sum_{c, k, l} x_pad[n, c, i * s + k, j * s + l] * w[f, c, k, l] + b[f]

    Inputs:
    - x: Input data of shape (N, C, H, W).
    - w: Filter weights of shape (F, C, HH, WW).
    - b: Biases of shape (F,).
    - conv_param: Dict with keys 'stride' (integer >= 1) and 'pad' (integer >= 0), as for conv_forward_naive.

    Returns a tuple of:
    - out: Output of shape (N, F, H', W'), H' = 1 + (H + 2 * pad - HH) / stride, W' likewise.
    - cache: (x_shape, w, conv_param, cols) for conv_backward_fast; cols is the (N * H' * W', C * HH * WW)
      matrix of receptive fields.
    """
    N, F, H_out, W_out = check_conv_inputs(x, w, b, conv_param, "conv_forward_fast")
    x, w = np.asarray(x), np.asarray(w)
    stride, pad = conv_param["stride"], conv_param["pad"]
    HH, WW = w.shape[2:]
    windows = sliding_window_view(_padded(x, pad), (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    # (N, C, H', W', HH, WW) -> rows (n, i, j), columns (c, k, l): the one copy of the forward pass.
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * H_out * W_out, -1)
    out_rows = cols @ w.reshape(F, -1).T
    out_rows += b
    out = np.ascontiguousarray(out_rows.reshape(N, H_out, W_out, F).transpose(0, 3, 1, 2))
    return out, (x.shape, w, conv_param, cols)


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
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, F)  # rows (n, i, j), as cols
    db = dout_rows.sum(axis=0)
    dw = (dout_rows.T @ cols).reshape(w.shape)
    dcols = (dout_rows @ w.reshape(F, -1)).reshape(N, H_out, W_out, C, HH, WW).transpose(0, 3, 4, 5, 1, 2)
    # col2im: the (k, l) entry of every receptive field came from x_pad[:, :, i * s + k, j * s + l].
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
    - cache: (x_shape, pool_param, first_max) for max_pool_backward_fast; first_max (N, C, H', W') is the
      row-major position of each window's first maximum.
    """
    out_shape = check_pool_inputs(x, pool_param, "max_pool_forward_fast")
    x = np.asarray(x)
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    # A running maximum over the pool_height * pool_width entries of the windows, each step one whole-array op.
    out = _window_entry(x, 0, 0, stride, out_shape).copy()
    first_max = np.zeros(out_shape, dtype=np.intp)
    for position in range(1, ph * pw):
        entry = _window_entry(x, position // pw, position % pw, stride, out_shape)
        larger = entry > out  # strictly: on a tie the earlier entry stays the first maximum
        np.copyto(out, entry, where=larger)
        np.copyto(first_max, position, where=larger)
    return out, (x.shape, pool_param, first_max)


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
    x_shape, pool_param, first_max = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for position in range(ph * pw):
        routed = np.where(first_max == position, dout, 0)
        _window_entry(dx, position // pw, position % pw, stride, dout.shape)[...] += routed  # a view into dx
    return dx
