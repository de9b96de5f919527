"""Training ThreeLayerConvNet with and without normalization, for ConvolutionalNetworks.ipynb, section 7.

Nothing here is student work. A fair comparison starts every network from the same weights at a scale under which
each of them can learn: He initialization (He et al., 2015), a standard deviation of sqrt(2 / fan_in) for each
weight matrix, fan_in being the number of inputs of one output unit (C * filter_size**2 for the convolution). It
keeps the variance of the activations from layer to layer through ReLUs, so the network without normalization
does not start with signals that shrink layer after layer (as with one small weight_scale for every layer), which
the normalized networks would undo in their first layer.

    he_convnet(normalization=None, seed=0, **kwargs)     a ThreeLayerConvNet with He-initialized weights
    summarize(results, baseline=None)                    mean and spread over seeds, and paired differences
"""

import numpy as np

from cs231n_bn.classifiers.cnn import ThreeLayerConvNet

_WEIGHTS = ("W1", "W2", "W3")


def he_std(shape):
    """sqrt(2 / fan_in) for a weight of ``shape``: (F, C, HH, WW) for a convolution, (D, M) for an affine layer."""
    fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else int(shape[0])
    return float(np.sqrt(2.0 / fan_in))


def he_convnet(normalization=None, seed=0, **kwargs):
    """
    A ThreeLayerConvNet whose W1, W2 and W3 are He-initialized: the network's own draws with weight_scale=1 (each
    weight matrix weight_scale * N(0, 1), drawn from np.random.default_rng(seed)), each multiplied by he_std of its
    shape. The same seed gives the same draws with every normalization, so networks that differ in normalization
    start from the same weights; biases, gamma1 and beta1 are the network's own (0, 1, 0).

    Inputs:
    - normalization: None, 'batchnorm' or 'groupnorm' (ThreeLayerConvNet's).
    - seed: An int, the network's seed (required here: the comparison needs reproducible draws).
    - kwargs: Any other ThreeLayerConvNet keyword argument but weight_scale (input_dim, num_filters, ...).

    Returns:
    - model: The ThreeLayerConvNet; params W1, W2, W3 scaled (in the model's dtype).
    """
    if "weight_scale" in kwargs:
        raise TypeError("he_convnet: weight_scale is set by He initialization; leave it out")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"he_convnet: seed must be an int, got {seed!r}")
    model = ThreeLayerConvNet(normalization=normalization, weight_scale=1.0, seed=seed, **kwargs)
    for name in _WEIGHTS:
        w = model.params[name]
        model.params[name] = (w * he_std(w.shape)).astype(model.dtype)
    return model


def summarize(results, baseline=None):
    """
    Mean and standard deviation over seeds of one number per (variant, seed), and each variant's difference from
    ``baseline`` paired by seed.

    Inputs:
    - results: Dict mapping (variant, seed) to a number (e.g. a final validation accuracy).
    - baseline: A variant to compare the others with, or None.

    Returns:
    - summary: Dict mapping each variant to a dict with 'mean', 'std' (over seeds, ddof=0), 'values' (by seed,
      in sorted seed order) and, for variants other than baseline, 'diff mean', 'diff std', 'diffs' (variant
      minus baseline, seed by seed) and 'ahead' (the number of seeds in which the variant is above baseline).
    """
    variants = list(dict.fromkeys(variant for variant, _ in results))
    seeds = sorted({seed for _, seed in results})
    missing = [(v, s) for v in variants for s in seeds if (v, s) not in results]
    if missing:
        raise ValueError(f"summarize: every variant needs every seed; missing {missing}")
    if baseline is not None and baseline not in variants:
        raise ValueError(f"summarize: baseline {baseline!r} is not one of the variants {variants}")
    summary = {}
    for variant in variants:
        values = np.array([results[variant, s] for s in seeds], dtype=float)
        entry = {"mean": float(values.mean()), "std": float(values.std()), "values": values.tolist()}
        if baseline is not None and variant != baseline:
            diffs = values - np.array([results[baseline, s] for s in seeds], dtype=float)
            entry.update({"diff mean": float(diffs.mean()), "diff std": float(diffs.std()), "diffs": diffs.tolist(),
                          "ahead": int(np.sum(diffs > 0))})
        summary[variant] = entry
    return summary
