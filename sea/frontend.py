"""Numpy log-mel frontend reproducing kapre 0.1.4 (EdgeL3/SEA) and OpenL3 0.4 (kapre 0.3).

Used on the sensor node (no torch, no librosa) and as the reference the torch and TFLite
frontends are checked against. Rules are in FrontendConfig and PROVENANCE.md:
  1. pad each window (both sides for kapre014, end only for kapre03) and slice STFT frames;
  2. periodic Hann window, DFT;
  3. kapre014: sqrt(power @ mel)   kapre03: |X| @ mel   (linear: |X|);
  4. dB = 10 log10(max(x, amin)), minus the per-window maximum, floored at -dynamic_range.
"""

from __future__ import annotations

import inspect

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


# numpy >= 2.0 writes the FFT into a given array; 1.x (the tflite-runtime node) cannot.
RFFT_HAS_OUT = "out" in inspect.signature(np.fft.rfft).parameters


class FrameKernel:
    """dB rows of a fixed set of STFT frames of one window at a time, computed in buffers
    allocated once: fresh per-window arrays (a 50-frame float64 batch is ~400 KB, above
    malloc's mmap threshold) were mapped and page-faulted by the kernel on every call, 3/4 of
    the frontend's time on the node. The returned rows are overwritten by the next call, and a
    kernel is not for use from two threads at once."""

    def __init__(self, frontend: "LogMelFrontend", frames: np.ndarray):
        cfg = frontend.cfg
        self.cfg, self.mel_basis, self.dtype = cfg, frontend.mel_basis, frontend.dtype
        self.window = frontend.window
        self.frames = np.asarray(frames, dtype=np.intp)
        n, bins = len(self.frames), cfg.n_fft // 2 + 1
        self._padded = np.zeros(cfg.window_samples + sum(cfg.padding))  # borders stay zero
        # every STFT frame of the padded window as a read-only view (no copy)
        self._all_frames = np.lib.stride_tricks.as_strided(
            self._padded, (cfg.n_frames, cfg.n_fft),
            (cfg.hop_length * self._padded.itemsize, self._padded.itemsize), writeable=False)
        # runs of consecutive frames (source start, stop, row): one strided ufunc call each
        breaks = np.flatnonzero(np.diff(self.frames) != 1) + 1
        self._runs = [(int(run[0]), int(run[-1]) + 1, int(row)) for run, row in
                      zip(np.split(self.frames, breaks), np.r_[0, breaks]) if len(run)]
        self._sliced = np.empty((n, cfg.n_fft))
        self._spectrum = np.empty((n, bins), np.complex128)
        self._squares = np.empty((n, 2 * bins))  # (re, im) squared, interleaved
        self._magnitude = np.empty((n, bins), self.dtype)
        self._rows = np.empty((n, cfg.n_bins), self.dtype)

    def __call__(self, window: np.ndarray) -> np.ndarray:
        """(window_samples,) -> (len(frames), n_bins) 10 log10 mel (or linear) magnitudes."""
        cfg = self.cfg
        left = cfg.padding[0]
        self._padded[left:left + cfg.window_samples] = window  # the float64 upcast, in place
        for start, stop, row in self._runs:  # windowed frames, sliced in the same pass
            np.multiply(self._all_frames[start:stop], self.window,
                        out=self._sliced[row:row + stop - start])
        if RFFT_HAS_OUT:
            np.fft.rfft(self._sliced, axis=-1, out=self._spectrum)
        else:  # numpy 1.x: one spectrum temporary per window
            self._spectrum[...] = np.fft.rfft(self._sliced, axis=-1)
        if self.mel_basis is not None and cfg.sqrt_after_mel:  # float64 power, then dtype
            np.square(self._spectrum.view(np.float64), out=self._squares)
            np.add(self._squares[:, 0::2], self._squares[:, 1::2], out=self._magnitude,
                   casting="same_kind")
        else:
            np.abs(self._spectrum, out=self._magnitude, casting="same_kind")
        rows = self._rows
        if self.mel_basis is None:
            rows[...] = self._magnitude
        else:
            np.matmul(self._magnitude, self.mel_basis, out=rows)
            if cfg.sqrt_after_mel:
                np.sqrt(rows, out=rows)
        np.maximum(rows, cfg.amin, out=rows)
        np.log10(rows, out=rows)
        np.multiply(rows, 10.0, out=rows)
        return rows


class LogMelFrontend:
    """Windows (B, window_samples) -> log spectrogram images (B, n_bins, n_frames) float32.

    Windows are computed one at a time by a FrameKernel (cached per frame set), so an
    instance holds work buffers: use one instance per thread."""

    def __init__(self, cfg: FrontendConfig, mel_basis: np.ndarray | None = None,
                 dtype: type = np.float32):
        self.cfg = cfg
        self.dtype = dtype  # of the mel projection and the dB step (the DFT is always float64)
        basis = default_mel_basis(cfg) if mel_basis is None else np.asarray(mel_basis)
        if basis is not None and basis.shape != (cfg.n_fft // 2 + 1, cfg.n_mels):
            raise ValueError(f"mel basis shape {basis.shape} != {(cfg.n_fft // 2 + 1, cfg.n_mels)}")
        self.mel_basis = None if basis is None else basis.astype(dtype)
        # float64 on purpose: numpy's float32 FFT is several times slower than its float64 one
        # (and less exact); the window is applied while the frames are upcast.
        self.window = periodic_hann(cfg.n_fft)
        self._kernels: dict[bytes, FrameKernel] = {}

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        windows = np.atleast_2d(np.asarray(windows))
        if windows.shape[1] != self.cfg.window_samples:
            raise ValueError(f"expected windows of {self.cfg.window_samples} samples "
                             f"({self.cfg.window_seconds} s at {self.cfg.sample_rate} Hz), "
                             f"got {windows.shape[1]}")
        return self.image(self.frame_db(windows)).astype(np.float32, copy=False)

    def kernel(self, frames: np.ndarray | None = None) -> FrameKernel:
        """The (cached) kernel of the STFT frames `frames` (default: all) of a window."""
        frames = np.arange(self.cfg.n_frames) if frames is None else np.asarray(frames, np.intp)
        key = frames.tobytes()
        if key not in self._kernels:
            self._kernels[key] = FrameKernel(self, frames)
        return self._kernels[key]

    def frame_db(self, windows: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
        """(B, len(frames), n_bins) 10 log10 mel (or linear) magnitudes of the STFT frames
        `frames` (default: all) of each window, before the per-window maximum is subtracted:
        one row per frame, so rows of frames two windows share are the same numbers."""
        kernel = self.kernel(frames)
        out = np.empty((len(windows), len(kernel.frames), self.cfg.n_bins), self.dtype)
        for i, window in enumerate(windows):
            out[i] = kernel(window)
        return out

    def image(self, frame_db: np.ndarray) -> np.ndarray:
        """frame_db of whole windows -> (B, n_bins, n_frames) images, 0 dB at each maximum."""
        db = np.swapaxes(frame_db, 1, 2)  # (B, bins, frames): mel is the image height
        db = db - db.reshape(len(db), -1).max(axis=1)[:, None, None]
        return np.maximum(db, -self.cfg.dynamic_range)
