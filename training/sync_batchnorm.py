"""BatchNorm whose batch statistics span every DDP rank, on CPU (gloo) as well as CUDA.

torch's SyncBatchNorm refuses CPU tensors. With per-rank statistics a rank's BatchNorm sees
only its share of the global batch, so N ranks train a different model than one process does
on the same global batch. Here each training forward all-reduces the per-channel sums (in
float64) with torch.distributed's autograd-aware all_reduce, so forward, backward and the
running statistics are those of one process on the whole batch, up to summation order.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
from torch import nn


class RankSyncedBatchNorm2d(nn.BatchNorm2d):
    """nn.BatchNorm2d with global-batch statistics in training mode (same parameters and
    buffers, so checkpoints are unchanged); eval mode is plain BatchNorm."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        channels = x.shape[1]
        wide = x.double()
        count = torch.full((1,), x.numel() / channels, dtype=torch.float64, device=x.device)
        stats = dist_nn.all_reduce(torch.cat([wide.sum((0, 2, 3)),
                                              (wide * wide).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:channels] / n
        var = (stats[channels:2 * channels] / n - mean * mean).clamp_min(0)
        self._update_running_stats(mean, var * n / (n - 1).clamp_min(1))
        scale = torch.rsqrt(var + self.eps).to(x.dtype)
        y = (x - mean.to(x.dtype)[None, :, None, None]) * scale[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        if not self.track_running_stats:
            return
        self.num_batches_tracked += 1
        momentum = (self.momentum if self.momentum is not None
                    else 1.0 / float(self.num_batches_tracked))
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
        self.running_var.lerp_(unbiased_var.to(self.running_var.dtype), momentum)


def synchronize_batchnorm(module: nn.Module) -> int:
    """Make every BatchNorm2d of `module` rank-synced, in place; returns how many."""
    converted = 0
    for sub in module.modules():
        if type(sub) is nn.BatchNorm2d:
            sub.__class__ = RankSyncedBatchNorm2d
            converted += 1
    return converted
