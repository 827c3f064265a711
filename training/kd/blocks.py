"""Per-block pooled activations of an L3-family body (teacher and student alike).

A block's output is the activation its max-pool would consume (for the last block: the map
before the embedding pool); each is averaged over frequency and time to one vector per block.
Read through forward hooks, so the model's own forward runs unchanged.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch
from torch import nn

from sea.errors import batch_allocation
from training.model import L3Body, L3Net


def block_output_modules(body: L3Body) -> list[nn.Module]:
    """The module whose output ends each block (the second conv unit of each block)."""
    units = [m for m in body.blocks if not isinstance(m, nn.MaxPool2d)]
    return units[1::2]


@contextmanager
def pooled_blocks(body: L3Body, enabled: bool = True) -> Iterator[list[torch.Tensor]]:
    """While open, each forward of `body` appends its blocks' globally mean-pooled activations
    (B, filters_b) to the yielded list (nothing when not `enabled`)."""
    pooled: list[torch.Tensor] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: pooled.append(out.float().mean((2, 3))))
               for m in (block_output_modules(body) if enabled else ())]
    try:
        yield pooled
    finally:
        for h in handles:
            h.remove()


def forward_with_blocks(body: L3Body, logmel: torch.Tensor
                        ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(embedding, [per-block globally mean-pooled activations (B, filters_b)])."""
    with pooled_blocks(body) as pooled:
        return body(logmel), pooled


@torch.inference_mode()
def embed_windows_with_blocks(model: L3Net, windows: np.ndarray, batch_size: int,
                              device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings (N, D), concatenated pooled block features (N, sum(filters))) of windows."""
    model = model.eval().to(device)
    embs, feats = [], []
    for i in range(0, len(windows), batch_size):
        with batch_allocation(batch_size):
            batch = torch.from_numpy(np.array(windows[i:i + batch_size],
                                              dtype=np.float32)).to(device)
            emb, blocks = forward_with_blocks(model.body, model.frontend(batch))
            embs.append(emb.float().cpu().numpy())
            feats.append(torch.cat(blocks, dim=1).cpu().numpy())
    return np.concatenate(embs), np.concatenate(feats)
