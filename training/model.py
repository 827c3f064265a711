"""The L3 network family in torch: one parameterised module for teacher and students.

Layout follows the Keras originals: BatchNorm on the log-mel image, four blocks of two 3x3
'same' convs (each + BN + ReLU, ReLU6 in the students' hidden layers), 2x2 valid max-pools
after blocks 1-3, then a max-pool to the embedding. OpenL3's last conv is linear; EdgeL3/SEA
students add BN+ReLU after it.
"""

from __future__ import annotations

import torch
from torch import nn

from sea.configs import ModelConfig
from training.frontend import DEFAULT_DFT_MODE, TorchLogMel

BN_EPS = 1e-3  # Keras BatchNormalization default, used by every BN in both originals


class ConvBNReLU(nn.Sequential):
    """Conv, then (with `bn_relu`) BN and the activation: ReLU, or ReLU6 (`bounded`)."""

    def __init__(self, c_in: int, c_out: int, bn_relu: bool = True, bounded: bool = False):
        layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1)]
        if bn_relu:
            activation = nn.ReLU6(inplace=True) if bounded else nn.ReLU(inplace=True)
            layers += [nn.BatchNorm2d(c_out, eps=BN_EPS), activation]
        super().__init__(*layers)


class L3Body(nn.Module):
    """Log-mel image (B, 1, bins, frames) -> embedding (B, dim)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        layers: list[nn.Module] = []
        c_in = 1
        bounded = cfg.activation == "relu6"
        for block, c_out in enumerate(cfg.filters):
            last_block = block == len(cfg.filters) - 1
            layers.append(ConvBNReLU(c_in, c_out, bounded=bounded))
            # the last layer keeps a plain ReLU: training.equalize rescales its channels
            layers.append(ConvBNReLU(c_out, c_out, bn_relu=not last_block or cfg.final_bn_relu,
                                     bounded=bounded and not last_block))
            if not last_block:
                layers.append(nn.MaxPool2d(2, 2))
            c_in = c_out
        self.blocks = nn.Sequential(*layers)

    def feature_map(self, logmel: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.input_bn(logmel))

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        fmap = self.feature_map(logmel)
        if self.cfg.embedding_pool is None:
            return fmap.amax(dim=(2, 3))
        pooled = nn.functional.max_pool2d(fmap, self.cfg.embedding_pool, ceil_mode=True)
        return pooled.permute(0, 2, 3, 1).flatten(1)  # Keras flattens channels-last


class L3Net(nn.Module):
    """Raw 1-s windows (B, window_samples) at the config's rate -> embeddings (B, dim)."""

    def __init__(self, cfg: ModelConfig, dft_mode: str = DEFAULT_DFT_MODE):
        super().__init__()
        self.cfg = cfg
        self.frontend = TorchLogMel(cfg.frontend, dft_mode=dft_mode)
        self.body = L3Body(cfg)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.body(self.frontend(audio))
