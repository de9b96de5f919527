"""cs231n_bn: batch normalization end to end in NumPy, in the style of cs231n assignment 2."""

__version__ = "0.1.0"
