"""One rank's share of a global batch, and the gathers that make batch-level state the state
of one process on the whole batch.

Under DDP (training.ddp) every rank reads the same global batch `rows` (sorted) and takes
`rows[rank::world]`. Per-window terms need nothing more: DDP averages the gradients. Terms that
look across the batch (the relational loss's in-batch anchors, the censor's batch mean, the
censored loss's normaliser) and state kept per run (anchor queue, censor estimates) gather the
whole batch in its global order on every rank, so each rank computes exactly what one process
would and their states stay identical. On one process every gather is the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn


@dataclass(frozen=True)
class BatchShare:
    rows: np.ndarray  # the global batch's rows, sorted
    rank: int = 0
    world: int = 1

    @classmethod
    def whole(cls, rows: np.ndarray | torch.Tensor | int) -> "BatchShare":
        """A one-process batch (`rows` or just their count)."""
        return cls(np.arange(rows) if isinstance(rows, int) else np.asarray(rows))

    @property
    def local_rows(self) -> np.ndarray:
        return self.rows[self.rank::self.world]

    @property
    def local(self) -> torch.Tensor:
        """Positions of this rank's windows in the global batch."""
        return torch.arange(self.rank, len(self.rows), self.world)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """(len(rows), ...) from every rank's (local share, ...), in global order; gradients
        flow back to the rank that computed each row."""
        if self.world == 1:
            return x
        counts = [len(self.rows[r::self.world]) for r in range(self.world)]
        padded = torch.cat([x, x.new_zeros((max(counts) - len(x), *x.shape[1:]))])
        if x.requires_grad:
            parts = dist_nn.all_gather(padded)
        else:
            parts = [torch.empty_like(padded) for _ in range(self.world)]
            dist.all_gather(parts, padded.contiguous())
        rank_major = torch.cat([part[:n] for part, n in zip(parts, counts)])
        # global position i is row i // world of rank i % world
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        i = np.arange(len(self.rows))
        return rank_major[torch.from_numpy(offsets[i % self.world] + i // self.world).to(x.device)]
