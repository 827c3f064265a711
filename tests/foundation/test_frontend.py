"""Numpy vs torch vs librosa frontends, and the numpy mel filterbank vs librosa."""

import numpy as np
import pytest
import torch
from numerics import assert_db_close

from sea.configs import SEA_FRONTEND, get_config
from sea.frontend import LogMelFrontend
from sea.melfilters import mel_filterbank
from training.frontend import DFT_MODES, TorchLogMel

pytestmark = pytest.mark.numeric


@pytest.mark.parametrize("sr,n_fft,n_mels,fmax,htk", [
    (8000, 1024, 64, 4000, True), (48000, 2048, 256, None, False), (48000, 2048, 128, None, False),
    (16000, 512, 40, 7000, False),
])
def test_mel_filterbank_matches_librosa(sr, n_fft, n_mels, fmax, htk):
    librosa = pytest.importorskip("librosa")
    ours = mel_filterbank(sr, n_fft, n_mels, 0.0, fmax, htk)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=fmax, htk=htk,
                              norm="slaney").T
    np.testing.assert_allclose(ours, ref, atol=1e-8)


def _test_windows(sr, n=3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(sr) / sr
    return np.stack([
        0.3 * np.sin(2 * np.pi * 440 * t),
        0.1 * rng.standard_normal(sr),
        np.zeros(sr),  # silence: the dB floor must not produce NaN
    ][:n])


@pytest.mark.parametrize("name", ["student2", "openl3-mel128-env", "openl3-linear-env"])
@pytest.mark.parametrize("dft_mode", DFT_MODES)
def test_torch_frontend_matches_numpy(name, dft_mode):
    cfg = get_config(name).frontend
    windows = _test_windows(cfg.sample_rate)
    ref = LogMelFrontend(cfg, dtype=np.float64)(windows)
    out = TorchLogMel(cfg, dft_mode)(torch.tensor(windows, dtype=torch.float32))[:, 0].numpy()
    assert out.shape == (3, cfg.n_bins, cfg.n_frames)
    assert np.isfinite(out).all()
    assert_db_close(out, ref, cfg.n_fft)  # float32 round-off grows near the -80 dB floor
    assert np.all(ref[2] == 0)  # silence: everything equals the (0 dB) maximum


def test_openl3_linear_frames_are_kapres_without_end_padding():
    """OpenL3 0.4's linear frontend is kapre 0.3's STFT with pad_end=False: 1 + (48000 - 512)
    // 242 = 197 frames, frame j the samples [242 j, 242 j + 512), no zeros appended; then
    10 log10 of the magnitude, 0 dB at the maximum, floored at -80 dB."""
    cfg = get_config("openl3-linear-env").frontend
    assert (cfg.n_bins, cfg.n_frames, cfg.padding) == (257, 197, (0, 0))
    window = _test_windows(48000, 2)[1]  # noise: every frame differs
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(512) / 512)  # periodic
    frames = np.stack([window[242 * j:242 * j + 512] * hann for j in range(197)])
    db = 10 * np.log10(np.maximum(np.abs(np.fft.rfft(frames, axis=-1)).T, 1e-10))
    expected = np.maximum(db - db.max(), -80)
    np.testing.assert_allclose(LogMelFrontend(cfg, dtype=np.float64)(window[None])[0], expected,
                               atol=1e-9)


def test_frontend_range_and_layout():
    fe = LogMelFrontend(SEA_FRONTEND)
    out = fe(_test_windows(8000, 2))
    assert out.shape == (2, 64, 50) and out.dtype == np.float32
    assert out.max() == 0 and out.min() >= -80
    # A 440 Hz tone is loudest in the mel band containing 440 Hz.
    centre_hz = np.argmax(fe.mel_basis, axis=0) * 8000 / 1024
    assert abs(centre_hz[out[0].mean(axis=1).argmax()] - 440) < 60


def test_frontend_rejects_wrong_window_length():
    with pytest.raises(ValueError, match="8000 samples"):
        LogMelFrontend(SEA_FRONTEND)(np.zeros((1, 7999)))
