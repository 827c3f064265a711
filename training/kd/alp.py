"""Intermediate-layer distillation by attention-based layer projection (ALP-KD, Passban et al.,
AAAI 2021), for CNN blocks of any number and width.

Each student block's pooled activation s_b is mapped by a learned linear projection W_bj into
the width of every teacher block j and compared with that teacher block's standardised pooled
activation t_j. The teacher blocks are weighted by attention a_bj = softmax_j(cos(W_bj s_b, t_j)
/ temperature): every teacher block contributes, by its relevance to this student block, and
none is skipped. The loss of block b is sum_j a_bj * mean((W_bj s_b - t_j)^2); the weights are
treated as constants (detached), so the student cannot lower the loss by attending elsewhere.
Teacher features are standardised with statistics of the training windows, so blocks of very
different scales weigh alike and the (fixed) targets cannot collapse.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class LayerProjection(nn.Module):
    def __init__(self, student_widths: Sequence[int], teacher_widths: Sequence[int],
                 teacher_mean: torch.Tensor, teacher_std: torch.Tensor,
                 temperature: float = 0.1) -> None:
        super().__init__()
        if sum(teacher_widths) != len(teacher_mean):
            raise ValueError(f"teacher block widths {list(teacher_widths)} do not add up to the "
                             f"stored block features' {len(teacher_mean)} dims")
        self.teacher_widths = list(teacher_widths)
        self.temperature = temperature
        self.proj = nn.ModuleList(nn.ModuleList(nn.Linear(s, t) for t in teacher_widths)
                                  for s in student_widths)
        self.register_buffer("mean", teacher_mean.float())
        self.register_buffer("std", teacher_std.float().clamp_min(1e-6))

    def forward(self, student_blocks: list[torch.Tensor], teacher_features: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """((B,) per-window loss averaged over student blocks, (S, T) mean attention)."""
        teacher = ((teacher_features.float() - self.mean) / self.std).split(self.teacher_widths, 1)
        losses, attention = [], []
        for s_block, projections in zip(student_blocks, self.proj):
            mapped = [p(s_block.float()) for p in projections]
            sims = torch.stack([F.cosine_similarity(m, t, dim=1) for m, t in zip(mapped, teacher)],
                               dim=1)
            weights = (sims / self.temperature).softmax(dim=1).detach()
            errors = torch.stack([((m - t) ** 2).mean(dim=1) for m, t in zip(mapped, teacher)],
                                 dim=1)
            losses.append((weights * errors).sum(dim=1))
            attention.append(weights.mean(dim=0))
        return torch.stack(losses).mean(dim=0), torch.stack(attention)
