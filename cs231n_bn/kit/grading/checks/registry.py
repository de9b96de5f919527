"""The registry of the self-checks: ``@check(name, notebook)`` files a check under its notebook, in order."""

from dataclasses import dataclass

CHECKS = []

# The order in which a student meets the notebooks (README's order); the checks are registered in this order.
NOTEBOOK_ORDER = ("FullyConnectedNets.ipynb", "BatchNormalization.ipynb", "NormalizationFamily.ipynb",
                  "Dropout.ipynb", "PaperReproduction.ipynb", "ConvolutionalNetworks.ipynb")


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
