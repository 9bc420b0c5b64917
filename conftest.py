"""Root pytest configuration: one BLAS thread for tests and for the notebook kernels they start.

On 2 cores, oversubscribed BLAS threads made the notebooks about 4x slower.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
