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


class LogMelFrontend:
    """Windows (B, window_samples) -> log spectrogram images (B, n_bins, n_frames) float32."""

    def __init__(self, cfg: FrontendConfig, mel_basis: np.ndarray | None = None,
                 dtype: type = np.float32, max_batch: int = 16):
        self.cfg = cfg
        self.dtype = dtype  # of the mel projection and the dB step (the DFT is always float64)
        self.max_batch = max_batch
        basis = default_mel_basis(cfg) if mel_basis is None else np.asarray(mel_basis)
        if basis is not None and basis.shape != (cfg.n_fft // 2 + 1, cfg.n_mels):
            raise ValueError(f"mel basis shape {basis.shape} != {(cfg.n_fft // 2 + 1, cfg.n_mels)}")
        self.mel_basis = None if basis is None else basis.astype(dtype)
        # float64 on purpose: numpy's float32 FFT is several times slower than its float64 one
        # (and less exact); the window is applied while the frames are upcast.
        self.window = periodic_hann(cfg.n_fft)
        # sample positions of every STFT frame in the padded window: one gather slices them
        self._frame_index = (np.arange(cfg.n_frames)[:, None] * cfg.hop_length
                             + np.arange(cfg.n_fft))

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
        return self.image(self.frame_db(windows))

    def frame_db(self, windows: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
        """(B, len(frames), n_bins) 10 log10 mel (or linear) magnitudes of the STFT frames
        `frames` (default: all) of each window, before the per-window maximum is subtracted:
        one row per frame, so rows of frames two windows share are the same numbers."""
        cfg = self.cfg
        left = cfg.padding[0]
        padded = np.zeros((len(windows), cfg.window_samples + sum(cfg.padding)))
        padded[:, left:left + cfg.window_samples] = windows  # the float64 upcast, in place
        index = self._frame_index if frames is None else self._frame_index[frames]
        sliced = padded[:, index]  # (B, frames, n_fft)
        spectrum = np.fft.rfft(sliced * self.window, axis=-1)  # (B, frames, n_fft//2+1)
        if self.mel_basis is None:
            spec = np.abs(spectrum)
        elif cfg.sqrt_after_mel:
            power = np.square(spectrum.real) + np.square(spectrum.imag)
            spec = np.sqrt(power.astype(self.dtype, copy=False) @ self.mel_basis)
        else:
            spec = np.abs(spectrum).astype(self.dtype, copy=False) @ self.mel_basis
        return 10.0 * np.log10(np.maximum(spec.astype(self.dtype, copy=False), cfg.amin))

    def image(self, frame_db: np.ndarray) -> np.ndarray:
        """frame_db of whole windows -> (B, n_bins, n_frames) images, 0 dB at each maximum."""
        db = np.swapaxes(frame_db, 1, 2)  # (B, bins, frames): mel is the image height
        db = db - db.reshape(len(db), -1).max(axis=1)[:, None, None]
        return np.maximum(db, -self.cfg.dynamic_range)
