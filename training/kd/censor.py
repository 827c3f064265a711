"""Censoring (scaffolding) of windows too hard for a small student.

A running estimate (exponential moving average) of each training window's distillation error
is kept. A window whose estimate is far above the batch's (more than `factor` times the batch
mean of the estimates) gets weight `weight` (0: dropped) instead of 1 while that lasts; its error is
still measured every time it is seen, so a window the student learns to fit comes back. The
first `warmup` observations of each window are never censored (no estimate yet).
"""

from __future__ import annotations

import torch
from torch import nn


class ScaffoldCensor(nn.Module):
    def __init__(self, num_rows: int, factor: float = 3.0, weight: float = 0.0,
                 momentum: float = 0.9, warmup: int = 1) -> None:
        super().__init__()
        if not factor > 1 or not 0 <= weight < 1 or not 0 <= momentum < 1 or warmup < 1:
            raise ValueError("censor needs factor > 1, 0 <= weight < 1, 0 <= momentum < 1, "
                             "warmup >= 1")
        self.factor, self.weight, self.momentum, self.warmup = factor, weight, momentum, warmup
        self.register_buffer("error", torch.zeros(num_rows))
        self.register_buffer("seen", torch.zeros(num_rows, dtype=torch.long))

    @torch.no_grad()
    def forward(self, rows: torch.Tensor, error: torch.Tensor) -> torch.Tensor:
        """Update the estimates of `rows` with this step's per-window `error`; (B,) weights."""
        rows = rows.to(self.error.device)
        error = error.detach().float().to(self.error.device)
        fresh = self.seen[rows] == 0
        blended = self.momentum * self.error[rows] + (1 - self.momentum) * error
        self.error[rows] = torch.where(fresh, error, blended)
        self.seen[rows] += 1
        estimate = self.error[rows]
        # the mean, not the median: once most windows fit almost exactly, a median near 0
        # would censor ordinary round-off-sized errors
        hard = (estimate > self.factor * estimate.mean()) & (self.seen[rows] > self.warmup)
        return torch.where(hard, self.weight, 1.0)
