"""Per-channel output equalization before int8 quantization.

PT2E gives the embedding output (and the last conv's activations) one scale per tensor. PCA
targets have per-dimension spreads that differ by 100x or more, so most dimensions would get
one or two int8 levels: cosine parity still looks fine (the large dimensions dominate it) but
downstream accuracy collapses. Dividing each output channel by its calibration range (measured
on the feature map before pooling: its negative values need the range too), folded
exactly into the last layer (BN affine or conv weights; ReLU and max-pooling commute with a
positive scale), gives every dimension the full int8 range; the node multiplies the scale
back (`output_scale` in the bundle).

The int8 export (deploy.exporter) and quantization-aware training (training.qat) both apply it,
so it lives in training/, below the export.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

# Channels that never fire in calibration keep a floor so their scale stays finite.
RELATIVE_FLOOR = 1e-3


@torch.inference_mode()
def channel_scales(model: nn.Module, logmels: np.ndarray, batch: int = 32) -> np.ndarray:
    """Max |activation| per channel of the last layer's feature map (before the embedding
    pool, whose maxima hide the large negative values int8 must also hold) over calibration
    log-mel images (N, 1, bins, frames)."""
    peak = None
    for i in range(0, len(logmels), batch):
        images = torch.as_tensor(logmels[i:i + batch], dtype=torch.float32)
        fmap = model.body.feature_map(images.to(next(model.parameters()).device))
        batch_peak = fmap.abs().amax(dim=(0, 2, 3)).cpu().numpy()
        peak = batch_peak if peak is None else np.maximum(peak, batch_peak)
    if peak is None:
        raise ValueError("output equalization needs at least one calibration window")
    return np.maximum(peak, max(float(peak.max()) * RELATIVE_FLOOR, 1e-12)).astype(np.float32)


def equalized_copy(model: nn.Module, scales: np.ndarray) -> nn.Module:
    """A copy of `model` whose outputs are the original's divided by `scales` per channel."""
    model = copy.deepcopy(model)
    scale_output_channels(model, 1.0 / scales)
    return model


@torch.no_grad()
def scale_output_channels(model: nn.Module, factors: np.ndarray) -> None:
    """Multiply `model`'s output channels by `factors` (> 0) in place, folded into its last
    layer (BN affine or conv weights; ReLU and max-pooling commute with a positive scale)."""
    last = model.body.blocks[-1]  # the final ConvBNReLU (conv, or conv + BN + ReLU)
    factor = torch.as_tensor(factors, dtype=torch.float32)
    if isinstance(last[-1], nn.ReLU):
        bn = last[1]
        bn.weight.mul_(factor.to(bn.weight.device))
        bn.bias.mul_(factor.to(bn.bias.device))
    else:
        conv = last[0]
        conv.weight.mul_(factor.to(conv.weight.device)[:, None, None, None])
        conv.bias.mul_(factor.to(conv.bias.device))


def output_scale(scales: np.ndarray, embedding_dim: int) -> np.ndarray:
    """The per-dimension multiplier that undoes `equalized_copy` on the flattened output."""
    return np.tile(scales, embedding_dim // len(scales)).astype(np.float32)
