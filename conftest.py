"""pytest configuration shared by the unit tests and the notebooks (nbval).

The kit's matrices are small: one BLAS thread per process is fastest, and the test processes (pytest-xdist
workers, notebook kernels) already keep every core busy. Oversubscribed BLAS threads made notebook training
an order of magnitude slower on a loaded 2-core machine. The kernels nbval starts inherit this environment.
"""

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
