"""Where check's slow-step warning (cs231n_bn/kit/speed.py) puts the kit's layers and an affine layer written with
np.einsum: each layer's time over its baseline, the ratio the warning compares with speed.SLOW (5 for the affine
layers, against their matrix products on BLAS) and speed.SLOW_ELEMENTWISE (25 for the others, against 20 passes
over their input).

    .venv/bin/python benchmarks/speed_warning.py [--rounds 5]

For the Section 4.1 network (batch 60) and ConvolutionalNetworks.ipynb's ThreeLayerConvNet with batch norm
(batch 50), with the kit's affine layers and with np.einsum ones, it prints the median over the rounds of each
student layer's ratio, and how many rounds the warning fired. One BLAS thread, as check's child process runs.
"""

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from cs231n_bn import layer_utils, layers  # noqa: E402
from cs231n_bn.classifiers import cnn, fc_net  # noqa: E402
from cs231n_bn.kit import speed  # noqa: E402


def einsum_affine_forward(x, w, b):
    """affine_forward with np.einsum: correct, without BLAS."""
    # TODO: nothing to write here: an affine layer of the solution edition, timed in benchmarks/README.md (FullyConnectedNets.ipynb, section 2 "The affine layer").
    ### BEGIN SOLUTION
    return np.einsum("nd,dm->nm", x.reshape(len(x), -1), w) + b, (x, w)
    ### END SOLUTION


def einsum_affine_backward(dout, cache):
    """affine_backward with np.einsum."""
    # TODO: nothing to write here: an affine layer of the solution edition, timed in benchmarks/README.md (FullyConnectedNets.ipynb, section 2 "The affine layer").
    ### BEGIN SOLUTION
    x, w = cache
    return (np.einsum("nm,dm->nd", dout, w).reshape(x.shape), np.einsum("nd,nm->dm", x.reshape(len(x), -1), dout),
            dout.sum(axis=0))
    ### END SOLUTION


einsum_affine_forward.__module__ = einsum_affine_backward.__module__ = "cs231n_bn.layers"
KIT_AFFINE = (layers.affine_forward, layers.affine_backward)


def with_einsum(use):
    replacement = (einsum_affine_forward, einsum_affine_backward) if use else KIT_AFFINE
    for module in (layers, layer_utils, fc_net, cnn):
        module.affine_forward, module.affine_backward = replacement


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    nets = {"Section 4.1 net": speed.section41_profile,
            "conv net (batch norm)": lambda: speed.convnet_profile("batchnorm")}
    try:
        einsum_affine_forward(np.ones((1, 1)), np.ones((1, 1)), np.ones(1))
        kinds = (False, True)
    except NotImplementedError:  # the student edition: the einsum layers are solution code
        print("(the np.einsum affine layers are in the solution edition only: the kit's layers alone here)")
        kinds = (False,)
    print(f"{'net':<22} {'affine':<8} {'layer':<26} {'median time / baseline':>22} {'warned':>8}")
    for net, profile in nets.items():
        for einsum in kinds:
            with_einsum(einsum)
            ratios, warned = {}, 0
            for _ in range(args.rounds):
                result = profile()
                warned += speed.verdict(result)[0]
                for name, entry in result["layers"].items():
                    if not entry["kit"] and entry["baseline"] > 0:
                        ratios.setdefault(name, []).append(entry["seconds"] / entry["baseline"])
            for name, values in sorted(ratios.items(), key=lambda item: -np.median(item[1])):
                print(f"{net:<22} {'einsum' if einsum else '@':<8} {name:<26} {np.median(values):>22.1f} "
                      f"{warned:>5}/{args.rounds}")
    with_einsum(False)


if __name__ == "__main__":
    main()
