"""Wall-clock latency of a callable, as every latency figure of the project is measured."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def median_latency_ms(fn: Callable[[], object], warmup: int = 5, min_runs: int = 20,
                      max_runs: int = 300, budget_s: float = 3.0) -> float:
    """Median wall time of fn() in ms: `warmup` untimed calls, then as many timed calls as fit
    in `budget_s` (at least `min_runs`, at most `max_runs`)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs
                                     or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)
