"""The self-checks: one entry per student function, one module per notebook, in the order students meet them.

Each module registers its checks with ``@check(name, notebook)`` (registry.py); a check is a function of one
argument, the student's package as ``remote.Student`` shows it (``student.module("layers").affine_forward(...)``
runs in the student's process and returns data). It raises ``CheckFailed`` with the first reason; a stub's
NotImplementedError comes through as ``remote.StudentNotImplemented``. The runner imports this package, and so
every check, before any student code runs.
"""

# Imported in notebook order: registration order is the order of the checks.
from . import fully_connected_nets  # noqa: E402,F401  isort: skip
from . import batch_normalization  # noqa: E402,F401  isort: skip
from . import normalization_family  # noqa: E402,F401  isort: skip
from . import dropout  # noqa: E402,F401  isort: skip
from . import convolutional_networks  # noqa: E402,F401  isort: skip
from .registry import CHECKS, NOTEBOOK_ORDER, Check, Timing, check  # noqa: F401
