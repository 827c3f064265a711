"""Thread settings of the node process, applied before numpy is imported.

The node runs one small matmul per window (the mel projection); a multi-threaded BLAS pool
spends more time waking threads than computing (measured 1.3 ms vs 16-48 ms per window on a
busy 2-core machine), and the TFLite interpreter has its own --threads.
"""

from __future__ import annotations

import os

NODE_ENV = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def single_threaded_blas() -> None:
    """Effective only before numpy's first import (the sea-node entry point calls it first)."""
    for key, value in NODE_ENV.items():
        os.environ.setdefault(key, value)
