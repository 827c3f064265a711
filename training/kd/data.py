"""Batches for the distillation objective: windows, targets and the rows they came from
(rows let the censor keep per-window estimates and the ALP term look up teacher blocks)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from training.distill_data import WindowCache


def iter_kd_batches(order: np.ndarray, batch_size: int, cache: WindowCache, targets: np.ndarray
                    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(windows, targets, rows) for consecutive chunks of `order` (already shuffled or not)."""
    for begin in range(0, len(order), batch_size):
        rows = np.sort(order[begin: begin + batch_size])  # sorted reads are sequential reads
        yield cache.windows(rows), np.asarray(targets[rows], dtype=np.float32), rows
