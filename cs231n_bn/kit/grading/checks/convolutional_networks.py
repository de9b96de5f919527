"""Checks of ConvolutionalNetworks.ipynb: naive convolution and max pooling, folding batch norm, ThreeLayerConvNet."""

import re

import numpy as np

from cs231n_bn import fast_layers  # the kit's own layers, read by students, never completed by them

from .registry import Timing, check
from .expect import CheckFailed, Model, at, expect, expect_array, expect_close, expect_gradient, rng, unpack
from .fully_connected_nets import expect_model_gradients
from ..remote import StudentError

NOTEBOOK = "ConvolutionalNetworks.ipynb"


@check("layers.conv_forward_naive", NOTEBOOK)
def check_conv_forward_naive(student):
    layers = student.module("layers")
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    out, _ = unpack(layers.conv_forward_naive(x, np.ones((1, 1, 2, 2)), np.array([1.0]), {"stride": 1, "pad": 0}),
                    ("out", "cache"), "conv_forward_naive")
    # Each output is the sum of a 2x2 block of 0..8 plus the bias 1, worked out by hand.
    want = np.array([[[[9.0, 13.0], [21.0, 25.0]]]])
    expect_close("conv_forward_naive out (2x2 filter of ones, bias 1, on [[0 1 2] [3 4 5] [6 7 8]])", out, want, 1e-12,
                 probes=[(want - 1, "conv_forward_naive leaves out the bias b: out[n, f] adds b[f] to every position")])
    r = rng(40)
    x = r.normal(size=(2, 3, 5, 7))
    # A filter that is 1 at offset (k, l) of channel c reads x_pad[n, c, i * s + k, j * s + l].
    for stride, pad, (HH, WW), (c, k, l) in ((1, 1, (3, 3), (2, 0, 2)), (2, 1, (3, 3), (0, 1, 1)),
                                             (2, 2, (5, 5), (1, 3, 4)), (1, 0, (2, 3), (1, 1, 0)),
                                             (2, 0, (3, 3), (2, 2, 0))):
        w = np.zeros((1, 3, HH, WW))
        w[0, c, k, l] = 1.0
        H_out, W_out = 1 + (5 + 2 * pad - HH) // stride, 1 + (7 + 2 * pad - WW) // stride
        try:
            out, _ = layers.conv_forward_naive(x, w, np.array([0.5]), {"stride": stride, "pad": pad})
        except StudentError as error:
            _pads_channels(error, 3, pad)
            raise
        expect_array(f"conv_forward_naive out (x {x.shape}, w {w.shape}, stride {stride}, pad {pad})", out,
                     (2, 1, H_out, W_out))
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))

        def reading(k, l):
            return x_pad[:, c, k:k + stride * H_out:stride, l:l + stride * W_out:stride]
        want = reading(k, l) + 0.5
        expect_close(f"conv_forward_naive out (stride {stride}, pad {pad}, a filter that reads one pixel)",
                     out[:, 0], want, 1e-12, probes=[
                         (reading(HH - 1 - k, WW - 1 - l) + 0.5,
                          "conv_forward_naive flips the filter (a convolution in the textbook sense); the layer "
                          "computes a cross-correlation: out[n, f, i, j] = sum_{c, k, l} x_pad[n, c, i * s + k, "
                          "j * s + l] * w[f, c, k, l] + b[f]"),
                         (want - 0.5, "conv_forward_naive leaves out the bias b")])
    w, b = r.normal(size=(4, 3, 1, 1)), r.normal(size=4)
    out, _ = layers.conv_forward_naive(x, w, b, {"stride": 1, "pad": 0})
    expect_close("conv_forward_naive out (1x1 filters: out[n, f] = sum_c w[f, c] * x[n, c] + b[f])", out,
                 np.einsum("fc,nchw->nfhw", w[:, :, 0, 0], x) + b[:, None, None], 1e-12)


def _pads_channels(error, C, pad):
    """Name the padding of the channel axis when the error's message shows a window of C + 2 * pad channels
    against the filter's C (NumPy's broadcasting message lists both shapes)."""
    shapes = [tuple(int(n) for n in group.split(",") if n.strip())
              for group in re.findall(r"\(([\d,\s]+)\)", error.message)]
    if pad > 0 and any(s and s[0] == C + 2 * pad for s in shapes) and any(s and s[0] == C for s in shapes):
        raise CheckFailed(f"conv_forward_naive pads the channel axis: at pad {pad} a window of x_pad has C + 2 * pad "
                          f"= {C + 2 * pad} channels where w has C = {C} (it works at pad 0); pad only the height and "
                          f"width axes, 2 and 3 ({error.describe()})") from error


@check("layers.conv_backward_naive", NOTEBOOK, needs=("layers.conv_forward_naive",))
def check_conv_backward_naive(student):
    layers = student.module("layers")
    r = rng(41)
    for stride, pad, N, C in ((1, 1, 2, 3), (2, 1, 2, 3), (1, 0, 1, 2)):  # pad 0 too: the contract allows pad >= 0
        x, w, b = r.normal(size=(N, C, 5, 5)), r.normal(size=(2, C, 3, 3)), r.normal(size=2)
        conv_param = {"stride": stride, "pad": pad}
        out, cache = layers.conv_forward_naive(x, w, b, conv_param)
        dout = r.normal(size=out.shape)
        dx, dw, db = unpack(layers.conv_backward_naive(dout, cache), ("dx", "dw", "db"), "conv_backward_naive")
        where = f"(stride {stride}, pad {pad})"
        if pad == 0 and isinstance(dx, np.ndarray) and dx.ndim == 4 and 0 in dx.shape[2:]:
            raise CheckFailed(f"conv_backward_naive dx has shape {dx.shape} at pad 0, expected {x.shape}: a slice "
                              f"pad:-pad is empty when pad = 0 (-0 is 0); take dx_pad[:, :, pad:pad + H, pad:pad + W]")
        args = (x, w, b, conv_param)
        expect_gradient(f"conv_backward_naive dx {where}", dx, at(layers.conv_forward_naive, args, 0), x, dout)
        expect_gradient(f"conv_backward_naive dw {where}", dw, at(layers.conv_forward_naive, args, 1), w, dout)
        expect_gradient(f"conv_backward_naive db {where}", db, at(layers.conv_forward_naive, args, 2), b, dout)


def pool_input(seed, shape, pool_param):
    """Values in [0, 1), plus one planted maximum of 10 + t in window t (windows must not overlap)."""
    r = rng(seed)
    x = r.uniform(size=shape)
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = shape
    H_out, W_out = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    want = np.zeros((N, C, H_out, W_out))
    t = 0
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    k, l = r.integers(ph), r.integers(pw)
                    x[n, c, i * stride + k, j * stride + l] = want[n, c, i, j] = 10.0 + t
                    t += 1
    return x, want


@check("layers.max_pool_forward_naive", NOTEBOOK)
def check_max_pool_forward_naive(student):
    layers = student.module("layers")
    for shape, pool_param in (((2, 3, 4, 6), {"pool_height": 2, "pool_width": 2, "stride": 2}),
                              ((1, 2, 5, 6), {"pool_height": 2, "pool_width": 3, "stride": 3})):
        x, want = pool_input(42, shape, pool_param)
        out, _ = unpack(layers.max_pool_forward_naive(x, pool_param), ("out", "cache"), "max_pool_forward_naive")
        expect_array(f"max_pool_forward_naive out ({pool_param})", out, want.shape)
        unstrided = {**pool_param, "stride": 1}
        expect_close(f"max_pool_forward_naive out ({pool_param}): the largest value of each window", out, want,
                     1e-12, probes=[(pool_max(x, unstrided)[..., :want.shape[2], :want.shape[3]],
                                     "max_pool_forward_naive: window (i, j) starts at row i, column j; it starts at "
                                     "row i * stride, column j * stride")])
    x = np.array([[[[1.0, 5.0, 2.0], [3.0, 4.0, 7.0], [0.0, 9.0, 1.0]]]])
    out, _ = layers.max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    expect_close("max_pool_forward_naive out (overlapping 2x2 windows, stride 1, on [[1 5 2] [3 4 7] [0 9 1]])",
                 out, np.array([[[[5.0, 7.0], [9.0, 9.0]]]]), 1e-12)


@check("layers.max_pool_backward_naive", NOTEBOOK, needs=("layers.max_pool_forward_naive",))
def check_max_pool_backward_naive(student):
    layers = student.module("layers")
    r = rng(43)
    for shape, pool_param in (((2, 3, 4, 6), {"pool_height": 2, "pool_width": 2, "stride": 2}),
                              ((1, 2, 5, 5), {"pool_height": 3, "pool_width": 3, "stride": 1})):
        x = r.normal(size=shape)  # no ties: the maximum is differentiable
        out, cache = layers.max_pool_forward_naive(x, pool_param)
        dout = r.normal(size=out.shape)
        dx = layers.max_pool_backward_naive(dout, cache)
        expect_gradient(f"max_pool_backward_naive dx ({pool_param})", dx,
                        at(layers.max_pool_forward_naive, (x, pool_param), 0), x, dout,
                        probes=lambda numeric, x=x, dout=dout, pool_param=pool_param: pool_backward_mistakes(
                            x, dout, pool_param))


def windows(shape, pool_param):
    """(i, j, rows, cols) of every pooling window of an input of ``shape``, in the order of the output."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out, W_out = 1 + (shape[2] - ph) // stride, 1 + (shape[3] - pw) // stride
    for i in range(H_out):
        for j in range(W_out):
            yield i, j, slice(i * stride, i * stride + ph), slice(j * stride, j * stride + pw)


def pool_max(x, pool_param):
    """The maximum of every window (the forward definition)."""
    found = list(windows(x.shape, pool_param))
    out = np.zeros(x.shape[:2] + (found[-1][0] + 1, found[-1][1] + 1))
    for i, j, rows, cols in found:
        out[:, :, i, j] = x[:, :, rows, cols].max(axis=(2, 3))
    return out


def pool_backward_mistakes(x, dout, pool_param):
    """[(dx, message)]: what max-pool backward gives when it assigns where windows overlap, and when it sends each
    dout to the whole window (both computed here from the windows' maxima)."""
    N, C = x.shape[:2]
    n, c = np.indices((N, C))
    assigned, everywhere = np.zeros_like(x), np.zeros_like(x)
    for i, j, rows, cols in windows(x.shape, pool_param):
        window = x[:, :, rows, cols]
        k, l = np.unravel_index(window.reshape(N, C, -1).argmax(axis=2), window.shape[2:])
        assigned[n, c, rows.start + k, cols.start + l] = dout[:, :, i, j]
        everywhere[:, :, rows, cols] += dout[:, :, i, j, None, None]
    return [(assigned, "max_pool_backward_naive assigns instead of adding: where overlapping windows share their "
                       "maximum, dx keeps one window's dout; each input adds up the dout of every window whose "
                       "maximum it is"),
            (everywhere, "max_pool_backward_naive sends each dout to every position of its window; only the "
                         "window's maximum receives it (the others do not change the output)")]


def fold_case(seed, w_shape, units):
    r = rng(seed)
    bn_param = {"mode": "test", "eps": 1e-3, "running_mean": r.normal(size=units),
                "running_var": r.uniform(0.2, 3.0, size=units)}
    return (r.normal(size=w_shape), r.normal(size=units), r.uniform(0.5, 2.0, size=units),
            r.normal(size=units), bn_param)


def test_mode_bn(z, gamma, beta, bn_param, shape):
    """gamma * (z - running_mean) / sqrt(running_var + eps) + beta, per unit (the definition)."""
    mean, var = (np.reshape(bn_param[k], shape) for k in ("running_mean", "running_var"))
    return np.reshape(gamma, shape) * (z - mean) / np.sqrt(var + bn_param["eps"]) + np.reshape(beta, shape)


@check("layer_utils.fold_batchnorm", NOTEBOOK)
def check_fold_batchnorm(student):
    layer_utils = student.module("layer_utils")
    w, b, gamma, beta, bn_param = fold_case(44, (6, 5), 5)
    x = rng(45).normal(size=(8, 6))
    w_folded, b_folded = unpack(layer_utils.fold_batchnorm(w, b, gamma, beta, dict(bn_param)),
                                ("w_folded", "b_folded"), "fold_batchnorm")
    expect_array("fold_batchnorm w_folded (affine w)", w_folded, w.shape)
    expect_array("fold_batchnorm b_folded (affine w)", b_folded, b.shape)
    expect_close("x @ w_folded + b_folded against affine then test-mode batch norm", x @ w_folded + b_folded,
                 test_mode_bn(x @ w + b, gamma, beta, bn_param, (1, 5)), 1e-10,
                 probes=fold_mistakes(x @ w + b, gamma, beta, bn_param, (1, 5)))
    w, b, gamma, beta, bn_param = fold_case(46, (4, 3, 3, 3), 4)
    x = rng(47).normal(size=(2, 3, 5, 5))
    conv_param = {"stride": 1, "pad": 1}
    w_folded, b_folded = unpack(layer_utils.fold_batchnorm(w, b, gamma, beta, dict(bn_param)),
                                ("w_folded", "b_folded"), "fold_batchnorm")
    expect_array("fold_batchnorm w_folded (conv w)", w_folded, w.shape)
    expect_array("fold_batchnorm b_folded (conv w)", b_folded, b.shape)
    folded, _ = fast_layers.conv_forward_fast(x, w_folded, b_folded, conv_param)
    conv, _ = fast_layers.conv_forward_fast(x, w, b, conv_param)
    expect_close("conv with (w_folded, b_folded) against conv then test-mode spatial batch norm", folded,
                 test_mode_bn(conv, gamma, beta, bn_param, (1, 4, 1, 1)), 1e-10,
                 probes=fold_mistakes(conv, gamma, beta, bn_param, (1, 4, 1, 1)))


def fold_mistakes(z, gamma, beta, bn_param, shape):
    """[(output, message)]: what the layer gives when the fold leaves out one part of test-mode batch norm (each
    is test-mode batch norm with that part changed in bn_param, gamma or beta)."""
    eps, var = bn_param["eps"], bn_param["running_var"]
    changed = [({"running_mean": np.zeros_like(var)}, "fold_batchnorm leaves out the running mean: the folded bias "
                                                      "must subtract it, as test-mode batch norm does"),
               ({"eps": 0.0}, "fold_batchnorm leaves out eps: test-mode batch norm divides by sqrt(running_var + eps)"),
               ({"running_var": (var + eps) ** 2 - eps}, "fold_batchnorm divides by running_var + eps; batch norm "
                                                         "divides by its square root")]
    return [(test_mode_bn(z, gamma, beta, dict(bn_param, **change), shape), message) for change, message in changed] + [
        (test_mode_bn(z, np.ones_like(gamma), beta, bn_param, shape), "fold_batchnorm leaves out gamma"),
        (test_mode_bn(z, gamma, np.zeros_like(beta), bn_param, shape), "fold_batchnorm leaves out beta")]


def conv_net(student, **kwargs):
    cnn = student.module("classifiers.cnn")
    options = dict(input_dim=(2, 4, 4), num_filters=3, filter_size=3, hidden_dim=5, num_classes=3,
                   weight_scale=0.5, dtype=np.float64, seed=0)
    options.update(kwargs)
    return Model(cnn.ThreeLayerConvNet(**options))


CONVNET = Timing("convnet_profile", ("batchnorm",), "A training step of ThreeLayerConvNet with batch norm "
                                                   "(ConvolutionalNetworks.ipynb: 16 filters of 5 x 5, a batch of 50)")


@check("ThreeLayerConvNet", NOTEBOOK, ("__init__", "loss"), timing=CONVNET,
       needs=("layers.affine", "layers.relu", "layers.softmax", "layer_utils.affine_relu", "layers.spatial",
              "layers.batchnorm", "normalization"))
def check_three_layer_convnet(student):
    model = conv_net(student)
    shapes = {"W1": (3, 2, 3, 3), "b1": (3,), "W2": (3 * 2 * 2, 5), "b2": (5,), "W3": (5, 3), "b3": (3,)}
    params = model.params
    expect(isinstance(params, dict) and set(params) == set(shapes),
           f"params has keys {sorted(params) if isinstance(params, dict) else params!r}, expected {sorted(shapes)}")
    for key, shape in shapes.items():
        if key == "W2" and np.shape(params[key]) == (3 * 4 * 4, 5):
            raise CheckFailed("params['W2'] has shape (48, 5), expected (12, 5): sized for the conv layer's output "
                              "before the 2x2 max pool (F * H * W = 3 * 4 * 4); the pool halves H and W, so W2 has "
                              "F * H / 2 * W / 2 = 12 rows")
        expect_array(f"params[{key!r}]", params[key], shape)
        expect(params[key].dtype == np.float64, f"params[{key!r}] is {params[key].dtype}, "
                                                f"expected the model's dtype float64")
        if key.startswith("b"):
            expect(np.all(params[key] == 0), f"params[{key!r}] must start at zero")
    wide = conv_net(student, input_dim=(2, 20, 20), weight_scale=0.1)
    std = float(np.std(wide.params["W2"]))
    expect(0.08 < std < 0.12, f"params['W2'] has standard deviation {std:.3f}, expected weight_scale = 0.1")
    bn = conv_net(student, normalization="batchnorm").params
    for key, value in (("gamma1", 1.0), ("beta1", 0.0)):
        expect(key in bn, f"with normalization='batchnorm', params needs {key!r}")
        expect_array(f"params[{key!r}]", bn[key], (3,))
        expect(np.all(bn[key] == value), f"params[{key!r}] must start at {value:g}")

    r = rng(48)
    X, y = r.normal(size=(4, 2, 4, 4)), np.array([0, 2, 1, 2])
    expect_array("loss(X) scores", model.loss(X), (4, 3))
    loss, _ = conv_net(student, weight_scale=1e-4).loss(X, y)
    expect(abs(float(loss) - np.log(3)) < 1e-3, f"with tiny weights the loss is {float(loss):.4f}, expected "
                                                f"log(3) = {np.log(3):.4f}")
    for label, net in (("ThreeLayerConvNet", conv_net(student, reg=0.7)),
                       ("ThreeLayerConvNet (batchnorm)", conv_net(student, normalization="batchnorm")),
                       ("ThreeLayerConvNet (groupnorm, 3 groups)", conv_net(student, normalization="groupnorm",
                                                                            num_groups=3))):
        expect_model_gradients(net, X, y, label, "ThreeLayerConvNet.loss", ("b1", "b2", "b3"), r)
    model.set("reg", 0.7)
    loss_reg, _ = model.loss(X, y)
    model.set("reg", 0.0)
    loss_plain, _ = model.loss(X, y)
    params = model.params
    penalty = 0.5 * 0.7 * sum(np.sum(params[k] ** 2) for k in ("W1", "W2", "W3"))
    expect(abs((loss_reg - loss_plain) - penalty) < 1e-9 * max(1.0, penalty),
           f"reg = 0.7 adds {loss_reg - loss_plain:.6f} to the loss, expected 0.5 * reg * sum(W**2) = {penalty:.6f}")
