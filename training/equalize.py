"""Per-channel output ranging before int8 quantization.

PT2E gives the embedding output (and the last conv's activations) one scale per tensor. PCA
targets have per-dimension spreads that differ by 100x or more, so most dimensions would get
one or two int8 levels: cosine parity still looks fine (the large dimensions dominate it) but
downstream accuracy collapses. So each output channel is mapped onto the full int8 range,
folded exactly into the last layer, and the node maps it back (`output_scale` and
`output_offset` in the bundle):

- a last layer with BN + ReLU (non-negative features) is divided by its calibration peak;
- a linear last layer (students of PCA targets) is worse off: the max-pool keeps only each
  channel's largest value, but the conv's whole feature map (whose negative side is 10-100x
  wider than the pooled values, measured on quickstart students) sets the int8 range, so the
  embedding got ~1/15 of the levels. There the channel is shifted and scaled so that its
  pooled calibration range (widened by MARGIN_BELOW and MARGIN_ABOVE) becomes [0, 1], and a
  ReLU is appended: it clips only values below the widened range, which the max-pool never
  keeps unless a window's embedding falls under that range (then it reads the range's floor).
  The margins are uneven because a max-pooled value is an extreme-value statistic: its upper
  tail is long, its lower one short. Over 512 held-out windows of six students (PCA targets,
  128 calibration windows) pooled values reached 1.3-2.1 calibration widths above the
  calibration maximum but at most 0.75 below its minimum. Output rounding alone (the rest
  float), worst window of 12 students (those six, six quickstart students on 172 windows):
  an even 0.5 margin 0.984 (a saturated loud window), 0.25 below / 1.0 above 0.993.

The int8 export (deploy.exporter) and quantization-aware training (training.qat) both apply it,
so it lives in training/, below the export.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

# Channels that never vary in calibration keep a floor so their scale stays finite.
RELATIVE_FLOOR = 1e-3
# Shares of a linear channel's pooled calibration range added below and above it.
MARGIN_BELOW = 0.25
MARGIN_ABOVE = 1.0
# Where every equalized output channel lies: the int8 output's range (deploy.convert).
EQUALIZED_RANGE = (0.0, 1.0)


@dataclass(frozen=True)
class OutputRange:
    """Per-channel map of the last layer: equalized = (original - offsets) / scales, with a
    ReLU appended when `clamped` (linear last layer)."""

    scales: np.ndarray
    offsets: np.ndarray
    clamped: bool

    def per_dimension(self, embedding_dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(scale, offset) of the flattened embedding, channels last: original = out * scale
        + offset."""
        reps = embedding_dim // len(self.scales)
        return (np.tile(self.scales, reps).astype(np.float32),
                np.tile(self.offsets, reps).astype(np.float32))

    @torch.no_grad()
    def apply(self, model: nn.Module) -> None:
        """Equalize `model`'s last layer in place."""
        last = model.body.blocks[-1]
        _affine_last_layer(last, 1.0 / self.scales, -self.offsets / self.scales)
        if self.clamped:
            last.append(nn.ReLU())

    @torch.no_grad()
    def undo(self, model: nn.Module) -> None:
        """Restore the layer `apply` changed (in place)."""
        last = model.body.blocks[-1]
        if self.clamped:
            del last[-1]
        _affine_last_layer(last, self.scales, self.offsets)


def _affine_last_layer(last: nn.Sequential, factors: np.ndarray, shifts: np.ndarray) -> None:
    """Output channel c of the last ConvBNReLU becomes out * factors[c] + shifts[c], folded
    into its BN affine (shifts must be 0 there: ReLU commutes only with a positive scale) or
    its conv."""
    layer = last[1] if isinstance(last[-1], nn.ReLU) and len(last) == 3 else last[0]
    device = layer.weight.device
    factor = torch.as_tensor(factors, dtype=torch.float32, device=device)
    shift = torch.as_tensor(shifts, dtype=torch.float32, device=device)
    if isinstance(layer, nn.BatchNorm2d):
        if shift.abs().max() > 0:
            raise ValueError("a BN + ReLU output can only be scaled, not shifted")
        layer.weight.mul_(factor)
    else:
        layer.weight.mul_(factor[:, None, None, None])
    layer.bias.mul_(factor).add_(shift)


@torch.inference_mode()
def measure(model: nn.Module, logmels: np.ndarray, batch: int = 32) -> OutputRange:
    """The output range of `model` over calibration log-mel images (N, 1, bins, frames)."""
    last = model.body.blocks[-1]
    linear = not isinstance(last[-1], nn.ReLU)
    low = high = None
    device = next(model.parameters()).device
    for i in range(0, len(logmels), batch):
        images = torch.as_tensor(logmels[i:i + batch], dtype=torch.float32).to(device)
        if linear:  # the pooled values, per channel (channels-last flattening)
            pooled = model.body(images).reshape(len(images), -1, len(last[0].bias))
            batch_low, batch_high = pooled.amin(dim=(0, 1)), pooled.amax(dim=(0, 1))
        else:
            batch_high = model.body.feature_map(images).amax(dim=(0, 2, 3))
            batch_low = torch.zeros_like(batch_high)
        low = batch_low if low is None else torch.minimum(low, batch_low)
        high = batch_high if high is None else torch.maximum(high, batch_high)
    if high is None:
        raise ValueError("output equalization needs at least one calibration window")
    low, high = low.double().cpu().numpy(), high.double().cpu().numpy()
    if linear:
        width = high - low
        low, high = low - MARGIN_BELOW * width, high + MARGIN_ABOVE * width
    span = high - low
    span = np.maximum(span, max(float(span.max()) * RELATIVE_FLOOR, 1e-12))
    return OutputRange(span.astype(np.float32), low.astype(np.float32), clamped=linear)


def equalized_copy(model: nn.Module, output_range: OutputRange) -> nn.Module:
    """A copy of `model` whose outputs are mapped by `output_range`."""
    model = copy.deepcopy(model)
    output_range.apply(model)
    return model
