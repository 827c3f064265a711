"""Numpy log-mel frontend reproducing kapre 0.1.4 (EdgeL3/SEA) and OpenL3 0.4 (kapre 0.3).

Used on the sensor node (no torch, no librosa) and as the reference the torch and TFLite
frontends are checked against. Rules are in FrontendConfig and PROVENANCE.md:
  1. pad each window (both sides for kapre014, end only for kapre03) and slice STFT frames;
  2. periodic Hann window, DFT;
  3. kapre014: sqrt(power @ mel)   kapre03: |X| @ mel   (linear: |X|);
  4. dB = 10 log10(max(x, amin)), minus the per-window maximum, floored at -dynamic_range.
"""

from __future__ import annotations

import numpy as np

from sea.configs import FrontendConfig
from sea.melfilters import mel_filterbank


def periodic_hann(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def default_mel_basis(cfg: FrontendConfig) -> np.ndarray | None:
    """(n_fft//2+1, n_mels) Slaney-normalised filterbank, or None for a linear frontend."""
    if not cfg.n_mels:
        return None
    return mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax, cfg.htk)


def to_decibels(x: np.ndarray, amin: float, dynamic_range: float) -> np.ndarray:
    """10 log10 with the maximum of each example (all axes but the first) set to 0 dB."""
    db = 10.0 * np.log10(np.maximum(x, amin))
    db -= db.reshape(len(db), -1).max(axis=1).reshape((-1,) + (1,) * (db.ndim - 1))
    return np.maximum(db, -dynamic_range)


class LogMelFrontend:
    """Windows (B, window_samples) -> log spectrogram images (B, n_bins, n_frames) float32."""

    def __init__(self, cfg: FrontendConfig, mel_basis: np.ndarray | None = None,
                 dtype: type = np.float32, max_batch: int = 16):
        self.cfg = cfg
        self.dtype = dtype
        self.max_batch = max_batch
        basis = default_mel_basis(cfg) if mel_basis is None else np.asarray(mel_basis)
        if basis is not None and basis.shape != (cfg.n_fft // 2 + 1, cfg.n_mels):
            raise ValueError(f"mel basis shape {basis.shape} != {(cfg.n_fft // 2 + 1, cfg.n_mels)}")
        self.mel_basis = None if basis is None else basis.astype(dtype)
        self.window = periodic_hann(cfg.n_fft).astype(dtype)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        windows = np.atleast_2d(np.asarray(windows, dtype=self.dtype))
        if windows.shape[1] != self.cfg.window_samples:
            raise ValueError(f"expected windows of {self.cfg.window_samples} samples "
                             f"({self.cfg.window_seconds} s at {self.cfg.sample_rate} Hz), "
                             f"got {windows.shape[1]}")
        parts = [self._compute(windows[i:i + self.max_batch])
                 for i in range(0, len(windows), self.max_batch)]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def _compute(self, windows: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        padded = np.pad(windows, ((0, 0), cfg.padding))
        frames = np.lib.stride_tricks.sliding_window_view(padded, cfg.n_fft, axis=1)[:, ::cfg.hop_length]
        spectrum = np.fft.rfft(frames * self.window, axis=-1)  # (B, n_frames, n_fft//2+1)
        if self.mel_basis is None:
            spec = np.abs(spectrum)
        elif cfg.sqrt_after_mel:
            power = spectrum.real ** 2 + spectrum.imag ** 2
            spec = np.sqrt(power.astype(self.dtype) @ self.mel_basis)
        else:
            spec = np.abs(spectrum).astype(self.dtype) @ self.mel_basis
        spec = np.swapaxes(spec, 1, 2)  # (B, bins, frames): mel is the image height
        return to_decibels(spec.astype(self.dtype), cfg.amin, cfg.dynamic_range)
