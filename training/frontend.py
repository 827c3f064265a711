"""Torch log-mel frontend, numerically the same as sea.frontend.LogMelFrontend.

Two DFT implementations: `rfft` (unfold + torch.fft.rfft; fast for training) and `matmul`
(windowed DFT basis as a strided conv1d, kapre 0.1.4's own formulation; no complex tensors,
so it converts to TFLite). Both give the same numbers to float32 round-off.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sea.configs import FrontendConfig
from sea.frontend import default_mel_basis, periodic_hann

DFT_MODES = ("rfft", "matmul")


def windowed_dft_kernels(n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """(real, imaginary) periodic-Hann-windowed DFT bases, each (n_fft // 2 + 1, n_fft):
    kapre 0.1.4's kernels, which EdgeL3 files also store."""
    n = np.arange(n_fft)
    angle = 2 * np.pi * np.arange(n_fft // 2 + 1)[:, None] * n / n_fft
    window = periodic_hann(n_fft)
    return np.cos(angle) * window, -np.sin(angle) * window


class TorchLogMel(nn.Module):
    """(B, window_samples) audio -> (B, 1, n_bins, n_frames) dB image."""

    def __init__(self, cfg: FrontendConfig, dft_mode: str = "rfft"):
        super().__init__()
        if dft_mode not in DFT_MODES:
            raise ValueError(f"dft_mode {dft_mode!r} not in {DFT_MODES}")
        self.cfg = cfg
        self.dft_mode = dft_mode
        window = periodic_hann(cfg.n_fft)
        self.register_buffer("window", torch.tensor(window, dtype=torch.float32), persistent=False)
        basis = default_mel_basis(cfg)
        self.register_buffer(
            "mel_basis",
            torch.tensor(basis, dtype=torch.float32) if basis is not None else torch.empty(0),
        )
        if dft_mode == "matmul":
            kernels = np.concatenate(windowed_dft_kernels(cfg.n_fft))
            self.register_buffer("dft_kernels", torch.tensor(kernels[:, None, :], dtype=torch.float32),
                                 persistent=False)
        self.log10_scale = 10.0 / math.log(10.0)

    def set_mel_basis(self, basis: np.ndarray) -> None:
        """Use a stored filterbank (e.g. the one in an EdgeL3 .h5) instead of the computed one."""
        expected = tuple(self.mel_basis.shape)
        if tuple(basis.shape) != expected:
            raise ValueError(f"mel basis shape {tuple(basis.shape)} != {expected}")
        self.mel_basis.copy_(torch.as_tensor(np.asarray(basis), dtype=torch.float32))

    def power_spectrum(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        padded = F.pad(x, cfg.padding)
        if self.dft_mode == "rfft":
            frames = padded.unfold(-1, cfg.n_fft, cfg.hop_length) * self.window
            spec = torch.fft.rfft(frames, dim=-1)
            power = spec.real.square() + spec.imag.square()  # (B, frames, bins)
        else:
            out = F.conv1d(padded.unsqueeze(1), self.dft_kernels, stride=cfg.hop_length)
            re, im = out.chunk(2, dim=1)
            power = (re.square() + im.square()).transpose(1, 2)
        return power

    def magnitude(self, x: torch.Tensor) -> torch.Tensor:
        """(B, bins, frames) (mel) magnitude before decibels."""
        cfg = self.cfg
        power = self.power_spectrum(x)
        if cfg.n_mels is None:
            spec = power.sqrt()
        elif cfg.sqrt_after_mel:
            spec = (power @ self.mel_basis).sqrt()
        else:
            spec = power.sqrt() @ self.mel_basis
        return spec.transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        spec = self.magnitude(x)  # (B, bins, frames)
        db = self.log10_scale * torch.log(spec.clamp_min(cfg.amin))
        db = db - db.amax(dim=(1, 2), keepdim=True)
        return db.clamp_min(-cfg.dynamic_range).unsqueeze(1)
