"""The self-checks: one entry per student function, one module per notebook, in the order students meet them.

Each module registers its checks with ``@check(name, notebook)``; a check is a function of one argument, the
student's package as ``remote.Student`` shows it (``student.module("layers").affine_forward(...)`` runs in the
student's process and returns data). It raises ``CheckFailed`` with the first reason; a stub's
NotImplementedError comes through as ``remote.StudentNotImplemented``. The runner loads this package, and so
every check, before any student code runs.
"""

import importlib
from dataclasses import dataclass

CHECKS = []

# The order in which a student meets the notebooks (README's order); the checks are registered in this order.
NOTEBOOK_ORDER = ("FullyConnectedNets.ipynb", "BatchNormalization.ipynb", "NormalizationFamily.ipynb",
                  "Dropout.ipynb", "PaperReproduction.ipynb", "ConvolutionalNetworks.ipynb")
MODULES = ("fully_connected_nets", "batch_normalization", "normalization_family", "dropout",
           "convolutional_networks")


@dataclass(frozen=True)
class Check:
    name: str         # what the student sees, e.g. "layers.batchnorm_backward"
    notebook: str     # where the function is introduced
    functions: tuple  # function names whose stub means "this one is not implemented yet"
    run: object       # callable(student) -> None; raises CheckFailed or StudentNotImplemented


def check(name, notebook, functions=None):
    """Register the decorated function as the check of ``name``; registration order is notebook order."""
    def register(run):
        CHECKS.append(Check(name, notebook, tuple(functions or (name.rsplit(".", 1)[-1],)), run))
        return run
    return register


for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")
