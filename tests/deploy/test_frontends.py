"""The node's numpy frontend against training's torch frontend (both DFT modes) and TFLite."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numerics import EPS32, assert_db_close

from sea.configs import OPENL3_FRONTENDS, SEA_FRONTEND
from sea.frontend import LogMelFrontend
from training.frontend import DFT_MODES, TorchLogMel

pytestmark = pytest.mark.numeric


def windows(cfg, seed=0):
    rng = np.random.default_rng(seed)
    n = cfg.window_samples
    t = np.arange(n) / cfg.sample_rate
    return np.stack([
        0.3 * rng.standard_normal(n),
        1e-4 * np.sin(2 * np.pi * 440 * t),  # very quiet: exercises the -80 dB floor
        np.zeros(n),
        0.5 * np.sin(2 * np.pi * 1000 * t) + 0.01 * rng.standard_normal(n),
    ]).astype(np.float32)


def reference(cfg, x):
    return LogMelFrontend(cfg, dtype=np.float64)(x)


@pytest.mark.parametrize("cfg", [SEA_FRONTEND, OPENL3_FRONTENDS["mel256"]], ids=["sea", "mel256"])
@pytest.mark.parametrize("dft_mode", DFT_MODES)
def test_numpy_matches_torch(cfg, dft_mode):
    """The node's float32 numpy frontend and each torch DFT path against a float64 numpy
    reference, every bin within its float32 error bound (near the -80 dB floor float32 cannot
    resolve a bin, PROVENANCE.md sec. 7 sees 2.6 dB there between TF and numpy)."""
    x = windows(cfg)
    truth = reference(cfg, x)
    ours = LogMelFrontend(cfg)(x)
    with torch.no_grad():
        theirs = TorchLogMel(cfg, dft_mode=dft_mode)(torch.from_numpy(x))[:, 0].numpy()
    assert ours.shape == theirs.shape == truth.shape == (len(x), cfg.n_bins, cfg.n_frames)
    assert_db_close(ours, truth, cfg.n_fft)
    assert_db_close(theirs, truth, cfg.n_fft)


def test_float64_spectrum_is_exact():
    """rfft64 (the default) agrees with the float64 numpy frontend to the float32 rounding of
    the dB values themselves, in every bin, including the quiet ones."""
    cfg = SEA_FRONTEND
    x = windows(cfg)
    with torch.no_grad():
        ours = TorchLogMel(cfg, dft_mode="rfft64")(torch.from_numpy(x))[:, 0].numpy()
    np.testing.assert_allclose(ours, reference(cfg, x), atol=4 * EPS32 * cfg.dynamic_range)


def test_tflite_frontend_matches_numpy(tmp_path):
    """The in-graph frontend as converted by litert-torch computes the same log-mel."""
    from deploy.convert import quiet_root_logger
    import litert_torch

    from sea.bundle import TFLiteModel

    cfg = SEA_FRONTEND
    with quiet_root_logger():
        edge = litert_torch.convert(TorchLogMel(cfg, dft_mode="matmul").eval(),
                                    (torch.zeros(1, cfg.window_samples),))
    path = tmp_path / "frontend.tflite"
    path.write_bytes(edge.model_content())
    model = TFLiteModel(path)
    x = windows(cfg, seed=1)
    tfl = np.stack([model(w[None]).reshape(cfg.n_bins, cfg.n_frames) for w in x])
    assert_db_close(tfl, reference(cfg, x), cfg.n_fft)
