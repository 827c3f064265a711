"""The numpy frontend (the node's) against a plain float64 transcription of the rules.

Error model: the DFT runs in float64 in both, so what is left is the float32 mel projection of
non-negative terms (relative error <= n * eps32 for n = n_fft // 2 + 1 products, which
holds in every bin, quiet or loud), the dB step (kapre014 takes 5 log10 of the mel power,
kapre03 10 log10 of the mel magnitude: 10 / ln 10 * relative error at most), counted twice
for the per-window maximum, plus the final float32 cast of values in [-80, 0].
"""

from __future__ import annotations

import numpy as np
import pytest

from sea.configs import OPENL3_FRONTENDS, SEA_FRONTEND
from sea.framing import frame_audio
from sea.frontend import LogMelFrontend, default_mel_basis
from sea.overlap import OverlapFrontend

EPS32 = float(np.finfo(np.float32).eps)


def plain_float64(cfg, windows: np.ndarray) -> np.ndarray:
    """The frontend rules written out directly, everything in float64."""
    padded = np.pad(windows.astype(np.float64), ((0, 0), cfg.padding))
    starts = range(0, padded.shape[1] - cfg.n_fft + 1, cfg.hop_length)
    frames = np.stack([padded[:, s:s + cfg.n_fft] for s in starts], axis=1)[:, :cfg.n_frames]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.n_fft) / cfg.n_fft)
    spectrum = np.fft.rfft(frames * window, axis=-1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    if cfg.n_mels:
        basis = default_mel_basis(cfg).astype(np.float32).astype(np.float64)
        mel = np.sqrt(power @ basis) if cfg.sqrt_after_mel else np.sqrt(power) @ basis
    else:
        mel = np.sqrt(power)
    db = 10 * np.log10(np.maximum(mel.transpose(0, 2, 1), cfg.amin))
    db -= db.max(axis=(1, 2), keepdims=True)
    return np.maximum(db, -cfg.dynamic_range)


def sample_windows(cfg, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(cfg.window_samples) / cfg.sample_rate
    return np.stack([0.3 * rng.standard_normal(len(t)), 1e-4 * np.sin(2 * np.pi * 440 * t),
                     np.zeros(len(t)), 0.5 * np.sin(2 * np.pi * 1000 * t)]).astype(np.float32)


def roundoff_bound(cfg) -> float:
    n_terms = cfg.n_fft // 2 + 1
    per_db = 10 / np.log(10) / (2 if cfg.sqrt_after_mel else 1)
    return 2 * per_db * n_terms * EPS32 + cfg.dynamic_range * EPS32


@pytest.mark.parametrize("cfg", [SEA_FRONTEND, OPENL3_FRONTENDS["mel256"],
                                 OPENL3_FRONTENDS["linear"]], ids=["sea", "mel256", "linear"])
def test_node_frontend_within_float32_roundoff(cfg):
    x = sample_windows(cfg)
    out = LogMelFrontend(cfg)(x)
    truth = plain_float64(cfg, x)
    bound = roundoff_bound(cfg)
    assert out.dtype == np.float32 and out.shape == truth.shape
    assert np.abs(out - truth).max() <= bound
    assert np.all(out[2] == 0)  # silence: every bin equals the (0 dB) maximum


def test_frame_kernels_reuse_buffers_without_mixing_windows():
    """A kernel of some frames gives those rows of the all-frames kernel (to round-off: the
    FFT and BLAS group rows differently), and a kernel's buffers carry nothing from one
    window to the next (zero borders included)."""
    x = sample_windows(SEA_FRONTEND)
    frontend = LogMelFrontend(SEA_FRONTEND)
    frames = np.array([0, 1, 2, 7, 8, 30, 47, 48, 49])  # padded, inside, padded again
    everything, some = frontend.kernel(), frontend.kernel(frames)
    assert frontend.kernel(frames) is some  # cached per frame set
    for window in [*x, x[0]]:
        rows = everything(window).copy()
        assert np.abs(some(window) - rows[frames]).max() <= 2 * roundoff_bound(SEA_FRONTEND)
    assert np.array_equal(frontend(x), np.concatenate([frontend(w[None]) for w in x]))
    assert np.array_equal(rows, frontend.frame_db(x[:1])[0])


@pytest.mark.parametrize("hop_seconds", [0.1, 0.5, 0.13])
def test_overlap_frontend_equals_window_by_window(hop_seconds):
    """Reused STFT frames (0.1 s and 0.5 s hops: 5 and 25 frames of 160 samples) give the
    images of the plain frontend; a hop that is no multiple of the STFT hop reuses nothing."""
    cfg = SEA_FRONTEND
    rng = np.random.default_rng(3)
    signal = np.concatenate([0.2 * rng.standard_normal(2 * cfg.sample_rate),
                             np.zeros(cfg.sample_rate // 2),  # silence inside the stream
                             0.05 * rng.standard_normal(cfg.sample_rate)])
    windows, _ = frame_audio(signal, cfg.sample_rate, hop_seconds, center=True)
    frontend = LogMelFrontend(cfg)
    overlap = OverlapFrontend(frontend, int(round(hop_seconds * cfg.sample_rate)))
    assert (len(overlap.reuse) > 0) == (hop_seconds != 0.13)
    order = [*range(len(windows) - 2), len(windows) - 1]  # a gap: the last one is fresh
    streamed = np.concatenate([overlap(windows[i], i) for i in order])
    expected = frontend(windows[order].astype(np.float32))
    assert np.abs(streamed - expected).max() <= roundoff_bound(cfg)


def test_numpy_without_rfft_out_gives_the_same_rows(monkeypatch):
    """numpy 1.x (the tflite-runtime node) has no rfft(out=): the kernel copies instead."""
    import sea.frontend

    x = sample_windows(SEA_FRONTEND)
    expected = LogMelFrontend(SEA_FRONTEND)(x)
    monkeypatch.setattr(sea.frontend, "RFFT_HAS_OUT", False)
    assert np.array_equal(LogMelFrontend(SEA_FRONTEND)(x), expected)
