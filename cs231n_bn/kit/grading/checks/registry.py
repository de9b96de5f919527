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
    needs: tuple = ()  # names (or name prefixes) of earlier checks of functions this one's may call
    timing: object = None  # a Timing: once the check passes, the training step it times (a warning if slow)


@dataclass(frozen=True)
class Timing:
    """A training step to time once a check passes: cs231n_bn.kit.speed.<function>(*args) in the student's process,
    judged here by speed.verdict; ``what`` names the step for the student, ``steps`` the length of its run."""
    function: str
    args: tuple
    what: str
    steps: int = 0


def check(name, notebook, functions=None, needs=(), timing=None):
    """Register the decorated function as the check of ``name``; registration order is notebook order.

    ``needs``: the checks of the functions that the checked code may call (a model calls the layers): when one of
    them failed earlier in the run, this check's failure says so first, since it may come from there.
    """
    def register(run):
        CHECKS.append(Check(name, notebook, tuple(functions or (name.rsplit(".", 1)[-1],)), run, tuple(needs),
                            timing))
        return run
    return register
