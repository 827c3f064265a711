"""Distillation losses: the paper's MSE, cosine, and MSE plus a relational (distance) term."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from training.options import LOSSES


def relational_distance_loss(student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """RKD distance loss (Park et al. 2019): pairwise distances within the batch, each set
    divided by its mean, compared with a Huber loss. Keeps the batch's geometry."""
    def normalised(x: torch.Tensor) -> torch.Tensor:
        d = torch.cdist(x, x)
        return d / d[d > 0].mean().clamp_min(1e-8)

    return F.smooth_l1_loss(normalised(student.float()), normalised(target.float()))


def make_loss(name: str, relational_weight: float = 1.0
              ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if name == "mse":
        return lambda s, t: F.mse_loss(s.float(), t.float())
    if name == "cosine":
        return lambda s, t: (1.0 - F.cosine_similarity(s.float(), t.float(), dim=1)).mean()
    if name == "mse+relational":
        return lambda s, t: (F.mse_loss(s.float(), t.float())
                             + relational_weight * relational_distance_loss(s, t))
    raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
