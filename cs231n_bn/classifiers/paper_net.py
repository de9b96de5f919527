"""The MNIST network of Ioffe & Szegedy (2015), Section 4.1, as a FullyConnectedNet configuration.

Kept only for the code that still imports the name; new code writes the FullyConnectedNet call below directly.
"""

import numpy as np

from cs231n_bn.classifiers.fc_net import FullyConnectedNet


def PaperNet(normalization=None, input_dim=28 * 28, hidden_dims=(100, 100, 100), num_classes=10,
             weight_scale=1e-1, reg=0.0, dtype=np.float32, seed=None):
    """
    FullyConnectedNet(hidden_dims, input_dim, num_classes, nonlinearity='sigmoid', normalization=normalization,
    weight_scale=weight_scale, reg=reg, dtype=dtype, seed=seed): three hidden layers of 100 sigmoid units, with
    batch norm before each sigmoid when normalization='batchnorm'.

    Returns:
    - model: A FullyConnectedNet.
    """
    if normalization not in (None, "batchnorm"):
        raise ValueError(f"Unknown normalization {normalization!r}; allowed: None, 'batchnorm'")
    return FullyConnectedNet(list(hidden_dims), input_dim=input_dim, num_classes=num_classes,
                             nonlinearity="sigmoid", normalization=normalization, reg=reg,
                             weight_scale=weight_scale, dtype=dtype, seed=seed)
