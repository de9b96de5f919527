"""pytest configuration shared by the unit tests and the notebooks (nbval).

The notebooks run under nbval through the kit's plugin (cs231n_bn/kit/reference/plugin.py): each cell runs from the
notebook on disk and is compared with the reference outputs (kept in cs231n_bn/kit/reference/ in the student
edition; in the solution edition, the notebook's own), never with what a student's editor saved. ``--executed DIR``
also writes each notebook that ran, executed, to DIR.

The kit's matrices are small: one BLAS thread per process is fastest, and the test processes (pytest-xdist
workers, notebook kernels) already keep every core busy. Oversubscribed BLAS threads made notebook training
an order of magnitude slower on a loaded 2-core machine. The kernels nbval starts inherit this environment.
"""

import os

pytest_plugins = ["cs231n_bn.kit.reference.plugin"]

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
