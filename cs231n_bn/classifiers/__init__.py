"""Models trained by the Solver: FullyConnectedNet (cs231n; with sigmoid units, Ioffe & Szegedy 2015, Section 4.1)
and ThreeLayerConvNet (cs231n ConvolutionalNetworks)."""

from cs231n_bn.classifiers.fc_net import FullyConnectedNet
from cs231n_bn.classifiers.cnn import ThreeLayerConvNet

__all__ = ["FullyConnectedNet", "ThreeLayerConvNet"]
