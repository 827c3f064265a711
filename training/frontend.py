"""Torch log-mel frontend, numerically the same as sea.frontend.LogMelFrontend.

Three DFT implementations:
- `rfft64` (the default): unfold + torch.fft.rfft with the spectrum, mel and log computed in
  float64, the dB image handed to the network in float32. Float32 round-off near the -80 dB
  floor is what differs between CPUs' FFT kernels (AVX2, AVX-512, NEON); in float64 it is 1e9
  times smaller, so every CPU gives the exact log-mel, and the cost is a fraction of a
  millisecond per window.
- `rfft`: the same in float32 (devices without float64, e.g. Apple MPS).
- `matmul`: the windowed DFT basis as a strided conv1d, kapre 0.1.4's own formulation; no
  complex tensors, so it converts to TFLite. Ten times the frontend's float32 work.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sea.configs import FrontendConfig
from sea.frontend import default_mel_basis, periodic_hann

DFT_MODES = ("rfft64", "rfft", "matmul")
DEFAULT_DFT_MODE = "rfft64"


def windowed_dft_kernels(n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """(real, imaginary) periodic-Hann-windowed DFT bases, each (n_fft // 2 + 1, n_fft):
    kapre 0.1.4's kernels, which EdgeL3 files also store."""
    n = np.arange(n_fft)
    angle = 2 * np.pi * np.arange(n_fft // 2 + 1)[:, None] * n / n_fft
    window = periodic_hann(n_fft)
    return np.cos(angle) * window, -np.sin(angle) * window


class TorchLogMel(nn.Module):
    """(B, window_samples) audio -> (B, 1, n_bins, n_frames) dB image."""

    def __init__(self, cfg: FrontendConfig, dft_mode: str = DEFAULT_DFT_MODE):
        super().__init__()
        if dft_mode not in DFT_MODES:
            raise ValueError(f"dft_mode {dft_mode!r} not in {DFT_MODES}")
        self.cfg = cfg
        self.dft_mode = dft_mode
        # rfft64's window and filterbank stay float64: a float32-rounded window alone leaks
        # about 1e-8 of the peak into every bin, which is the -80 dB floor itself.
        dtype = torch.float64 if dft_mode == "rfft64" else torch.float32
        window = periodic_hann(cfg.n_fft)
        self.register_buffer("window", torch.tensor(window, dtype=dtype), persistent=False)
        basis = default_mel_basis(cfg)
        self.register_buffer(
            "mel_basis", torch.tensor(basis, dtype=dtype) if basis is not None else torch.empty(0),
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
        self.mel_basis.copy_(torch.as_tensor(np.asarray(basis)))

    def power_spectrum(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        padded = F.pad(x, cfg.padding)
        if self.dft_mode.startswith("rfft"):
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
        work = x.double() if self.dft_mode == "rfft64" else x
        power = self.power_spectrum(work)
        mel_basis = self.mel_basis.to(power.dtype)
        if cfg.n_mels is None:
            spec = power.sqrt()
        elif cfg.sqrt_after_mel:
            spec = (power @ mel_basis).sqrt()
        else:
            spec = power.sqrt() @ mel_basis
        return spec.transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        spec = self.magnitude(x)  # (B, bins, frames)
        db = self.log10_scale * torch.log(spec.clamp_min(cfg.amin))
        db = db - db.amax(dim=(1, 2), keepdim=True)
        return db.clamp_min(-cfg.dynamic_range).unsqueeze(1).to(x.dtype)
