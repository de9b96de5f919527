"""Batch norm in practice, for ConvolutionalNetworks.ipynb: the experiments behind its last section.

Nothing here is student work. The functions run a trained ThreeLayerConvNet (cs231n_bn/classifiers/cnn.py)
in the ways people get wrong, and fix them:

    evaluate(model, X, y, mode="train", batch_size=..., order=...)   evaluating with batch statistics
    class_sorted_order(y, seed)                                       batches that each hold one class
    train_on_batches(model, X, y, batches, ...)                       training on batches in a given order
    recalibrate_bn(model, X, method="pass" | "exact")                 running statistics that match the weights
    stale_statistics(make_model, momentum, data, seeds=...)           trained with a given momentum, recalibrated
    check_stale_statistics(momentum, rows)                            did that momentum leave them stale?
    fold_convnet(model)                                               batch norm folded into the conv layer

They read the network's parameters and call the kit's layers; a model's bn_param is only written by
train_on_batches (through the model's own loss), by stale_statistics (its momentum) and by recalibrate_bn.
"""

import numpy as np

from cs231n_bn import optim
from cs231n_bn.classifiers.cnn import ThreeLayerConvNet
from cs231n_bn.fast_layers import conv_forward_fast
from cs231n_bn.layer_utils import (
    affine_relu_forward,
    conv_bn_relu_pool_forward,
    fold_batchnorm,
)
from cs231n_bn.layers import affine_forward, spatial_batchnorm_forward

_POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


def _check_bn_model(model, fn):
    if not isinstance(model, ThreeLayerConvNet) or model.normalization != "batchnorm":
        raise ValueError(f"{fn}: model must be a ThreeLayerConvNet with normalization='batchnorm', got "
                         f"{type(model).__name__} with normalization {getattr(model, 'normalization', None)!r}")


def _conv_param(model):
    return {"stride": 1, "pad": (model.filter_size - 1) // 2}


def _batches(N, batch_size, order, fn):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{fn}: batch_size must be an integer >= 1, got {batch_size!r}")
    order = np.arange(N) if order is None else np.asarray(order)
    if order.shape != (N,) or not np.array_equal(np.sort(order), np.arange(N)):
        raise ValueError(f"{fn}: order must be a permutation of range({N}), got an array of shape {order.shape}")
    return [order[k:k + batch_size] for k in range(0, N, batch_size)]


def train_mode_scores(model, X):
    """
    Class scores of a batch-normalized ThreeLayerConvNet computed as at training time: the batch norm layer
    normalizes with the mean and variance of this batch X, not with its running statistics. The model's
    bn_param is not changed (a scratch dict takes the update).

    Inputs:
    - model: ThreeLayerConvNet with normalization='batchnorm'; reads params and bn_param['eps'].
    - X: Batch of shape (N, C, H, W), N * H * W >= 2.

    Returns:
    - scores: Array of shape (N, num_classes).
    """
    _check_bn_model(model, "train_mode_scores")
    p = model.params
    scratch = {"mode": "train", "eps": model.bn_param.get("eps", 1e-5)}
    h1, _ = conv_bn_relu_pool_forward(X.astype(model.dtype, copy=False), p["W1"], p["b1"], p["gamma1"],
                                      p["beta1"], _conv_param(model), scratch, _POOL)
    h2, _ = affine_relu_forward(h1, p["W2"], p["b2"])
    scores, _ = affine_forward(h2, p["W3"], p["b3"])
    return scores


def evaluate(model, X, y, mode="test", batch_size=100, order=None):
    """
    Classification accuracy of model on (X, y), computed batch by batch.

    Inputs:
    - model: A ThreeLayerConvNet (mode 'train' needs normalization='batchnorm').
    - X: Images of shape (N, C, H, W); y: labels of shape (N,).
    - mode: 'test' (running statistics: what inference should do) or 'train' (each batch normalized with its
      own statistics: the mistake of evaluating a network left in training mode).
    - batch_size: Images per batch; in 'train' mode it decides which images share their statistics.
    - order: Optional permutation of range(N): the batches are order[0:batch_size], order[batch_size:...], ...

    Returns:
    - accuracy: Fraction of correctly classified images, a float.
    """
    if mode not in ("train", "test"):
        raise ValueError(f"evaluate: mode must be 'train' or 'test', got {mode!r}")
    correct = 0
    for batch in _batches(len(X), batch_size, order, "evaluate"):
        scores = model.loss(X[batch]) if mode == "test" else train_mode_scores(model, X[batch])
        correct += int(np.sum(np.argmax(scores, axis=1) == y[batch]))
    return correct / len(X)


def class_sorted_order(y, seed=0):
    """
    A permutation of range(len(y)) that lists the images of class 0 first, then class 1, and so on (shuffled
    within each class): cut into batches, almost every batch holds a single class.

    Inputs:
    - y: Integer labels of shape (N,).
    - seed: Seed of the shuffle within each class.

    Returns:
    - order: int array of shape (N,).
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(y))
    return shuffled[np.argsort(y[shuffled], kind="stable")]


def single_class_batches(y, batch_size, num_batches, seed=0):
    """
    num_batches batches of batch_size indices, each drawn from ONE class (the class chosen at random per
    batch): the most correlated batches there are.

    Inputs:
    - y: Integer labels of shape (N,); every class needs at least batch_size images.
    - batch_size, num_batches: Positive integers.
    - seed: Seed for the classes and the images.

    Returns:
    - batches: List of num_batches int arrays of shape (batch_size,).
    """
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    by_class = {c: np.flatnonzero(y == c) for c in classes}
    short = [int(c) for c in classes if len(by_class[c]) < batch_size]
    if short:
        raise ValueError(f"single_class_batches: classes {short} have fewer than batch_size={batch_size} images")
    return [rng.choice(by_class[c], size=batch_size, replace=False) for c in rng.choice(classes, size=num_batches)]


def random_batches(N, batch_size, num_batches, seed=0):
    """num_batches batches of batch_size indices drawn uniformly from range(N) (as the Solver samples)."""
    rng = np.random.default_rng(seed)
    return [rng.choice(N, size=batch_size, replace=False) for _ in range(num_batches)]


def train_on_batches(model, X, y, batches, learning_rate=1e-3):
    """
    Train model with Adam on the given batches, in the given order (one update per batch).

    Inputs:
    - model: Any model with params and loss(X, y) -> (loss, grads), e.g. a ThreeLayerConvNet.
    - X: Images of shape (N, C, H, W); y: labels of shape (N,).
    - batches: Sequence of index arrays into X.
    - learning_rate: Adam's learning rate.

    Returns:
    - loss_history: List of the training losses, one per batch.
    """
    configs = {name: {"learning_rate": learning_rate} for name in model.params}
    loss_history = []
    for batch in batches:
        loss, grads = model.loss(X[batch], y[batch])
        for name, value in model.params.items():
            model.params[name], configs[name] = optim.adam(value, grads[name], configs[name])
        loss_history.append(float(loss))
    return loss_history


def conv_outputs(model, X, batch_size=500):
    """The conv layer's outputs (the batch norm layer's inputs) for X, batch by batch, as float64 batches."""
    p = model.params
    for k in range(0, len(X), batch_size):
        a, _ = conv_forward_fast(X[k:k + batch_size].astype(model.dtype, copy=False), p["W1"], p["b1"],
                                 _conv_param(model))
        yield a.astype(np.float64)


def recalibrate_bn(model, X, method="pass", batch_size=100):
    """
    Replace the running statistics of a batch-normalized ThreeLayerConvNet by statistics of its current weights
    on X, with the weights frozen.

    - method 'pass': one pass over X in train mode, batch by batch, the layer updating its own running averages
      with momentum (k - 1) / k at batch k: the result is the average of the batch means and of the (biased)
      batch variances, with nothing left of the old values (PyTorch's update_bn does the same).
    - method 'exact': the mean and the biased variance of every channel over all N * H * W conv outputs of X,
      computed in two passes (mean first, then the mean squared deviation), in float64.

    Inputs:
    - model: ThreeLayerConvNet with normalization='batchnorm'. Reads params and bn_param['eps'];
      writes bn_param['running_mean'] and bn_param['running_var'] (shape (F,), the model's dtype).
    - X: Images of shape (N, C, H, W).
    - method: 'pass' or 'exact'.
    - batch_size: Images per batch ('pass': the batches of the pass; 'exact': only memory).

    Returns:
    - None.
    """
    _check_bn_model(model, "recalibrate_bn")
    F = model.params["W1"].shape[0]
    if method == "pass":
        scratch = {"mode": "train", "eps": model.bn_param.get("eps", 1e-5)}
        for k, a in enumerate(conv_outputs(model, X, batch_size), start=1):
            scratch["momentum"] = (k - 1) / k  # running = ((k - 1) * running + statistic) / k
            spatial_batchnorm_forward(a, np.ones(F), np.zeros(F), scratch)
        mean, var = scratch["running_mean"], scratch["running_var"]
    elif method == "exact":
        total, count = np.zeros(F), 0
        for a in conv_outputs(model, X, batch_size):
            total += a.sum(axis=(0, 2, 3))
            count += a.shape[0] * a.shape[2] * a.shape[3]
        mean = total / count
        squares = np.zeros(F)
        for a in conv_outputs(model, X, batch_size):  # second pass: deviations from the exact mean
            squares += ((a - mean[None, :, None, None]) ** 2).sum(axis=(0, 2, 3))
        var = squares / count
    else:
        raise ValueError(f"recalibrate_bn: method must be 'pass' or 'exact', got {method!r}")
    model.bn_param["running_mean"] = np.asarray(mean).astype(model.dtype)
    model.bn_param["running_var"] = np.asarray(var).astype(model.dtype)


def stale_statistics(make_model, momentum, data, seeds=(0, 1, 2), steps=100, batch_size=50, learning_rate=2e-3,
                     recalibration_images=2000):
    """
    The experiment of running statistics that lag behind the weights, once per seed: a batch-normalized network
    whose running averages use ``momentum`` is trained with Adam on ``steps`` random batches, then evaluated on the
    validation images in test mode with the running statistics training left ('stale'), in train mode (batches of
    100: what the current weights do with statistics that match them), and in test mode after recalibrate_bn on
    the first ``recalibration_images`` training images, by one pass ('one pass') and exactly ('exact').

    Inputs:
    - make_model: Function seed -> a ThreeLayerConvNet with normalization='batchnorm' (its bn_param['momentum'] is
      set here).
    - momentum: The running averages' momentum, a number in [0, 1].
    - data: Dict with X_train, y_train, X_val, y_val (images (N, C, H, W), labels (N,)).
    - seeds: Seeds of the networks; network ``seed`` trains on random_batches(..., seed=2 + seed).
    - steps, batch_size, learning_rate: The training run (one Adam step per batch).
    - recalibration_images: How many training images the recalibration reads.

    Returns:
    - rows: One dict per seed: 'seed', the accuracies 'stale', 'train mode', 'one pass', 'exact'; 'var ratio', the
      median over channels of the stale running variance over the exact one; 'pass against exact', the largest
      relative difference between the one-pass and the exact variances.
    """
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.floating)) or not 0 <= momentum <= 1:
        raise ValueError(f"stale_statistics: momentum must be a number in [0, 1], got {momentum!r}")
    X_train, y_train, X_val, y_val = (data[k] for k in ("X_train", "y_train", "X_val", "y_val"))
    rows = []
    for seed in seeds:
        model = make_model(seed)
        _check_bn_model(model, "stale_statistics")
        model.bn_param["momentum"] = float(momentum)
        train_on_batches(model, X_train, y_train, random_batches(len(X_train), batch_size, steps, seed=2 + seed),
                         learning_rate=learning_rate)
        row = {"seed": seed, "stale": evaluate(model, X_val, y_val),
               "train mode": evaluate(model, X_val, y_val, mode="train")}
        stale_var = model.bn_param["running_var"].astype(np.float64)
        recalibrate_bn(model, X_train[:recalibration_images], method="pass")
        row["one pass"] = evaluate(model, X_val, y_val)
        pass_var = model.bn_param["running_var"].astype(np.float64)
        recalibrate_bn(model, X_train[:recalibration_images], method="exact")
        row["exact"] = evaluate(model, X_val, y_val)
        exact_var = model.bn_param["running_var"].astype(np.float64)
        row["var ratio"] = float(np.median(stale_var / exact_var))
        row["pass against exact"] = float(np.max(np.abs(pass_var / exact_var - 1)))
        rows.append(row)
    return rows


def check_stale_statistics(momentum, rows, max_var_ratio=0.5, min_gain=0.01):
    """
    Check that ``momentum`` showed running statistics that lag behind the weights and cost accuracy, over the
    networks of ``rows`` (from stale_statistics): in every network the median running variance is below
    ``max_var_ratio`` times the exact one, and recalibrating gains at least ``min_gain`` validation accuracy on
    average. Raises AssertionError saying what the runs showed otherwise.

    Returns:
    - gain: The mean gain, exact minus stale, a float.
    """
    gains = [row["exact"] - row["stale"] for row in rows]
    ratios = [row["var ratio"] for row in rows]
    gain = float(np.mean(gains))
    if not (max(ratios) < max_var_ratio and gain >= min_gain):
        raise AssertionError(
            f"with momentum {momentum:g} the running statistics did not lag enough to show: the median running "
            f"variance was {', '.join(f'{r:.2f}' for r in ratios)} of the exact one in the {len(rows)} networks "
            f"(asked: below {max_var_ratio:g} in every one), and recalibrating them gained {gain:+.3f} validation "
            f"accuracy on average ({', '.join(f'{g:+.3f}' for g in gains)}; asked: at least {min_gain:g})")
    return gain


def fold_convnet(model):
    """
    The ThreeLayerConvNet without normalization that computes what a batch-normalized one computes at test time:
    conv with (W1, b1) folded by layer_utils.fold_batchnorm, the other layers as they are.

    Inputs:
    - model: ThreeLayerConvNet with normalization='batchnorm' and running statistics (trained).

    Returns:
    - folded: A new ThreeLayerConvNet (normalization None, same dtype, copies of the parameters).
    """
    _check_bn_model(model, "fold_convnet")
    if "running_mean" not in model.bn_param:
        raise ValueError("fold_convnet: the model's bn_param has no running statistics yet; train it first")
    p = model.params
    folded = ThreeLayerConvNet(input_dim=model.input_dim, num_filters=p["W1"].shape[0],
                               filter_size=model.filter_size, hidden_dim=p["W3"].shape[0],
                               num_classes=p["W3"].shape[1], dtype=model.dtype, seed=0)
    w1, b1 = fold_batchnorm(p["W1"], p["b1"], p["gamma1"], p["beta1"], model.bn_param)
    folded.params = {"W1": w1.astype(model.dtype), "b1": b1.astype(model.dtype),
                     **{k: p[k].copy() for k in ("W2", "b2", "W3", "b3")}}
    return folded
