"""The node's numpy frontend against training's torch frontend (both DFT modes) and TFLite."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sea.configs import OPENL3_FRONTENDS, SEA_FRONTEND
from sea.frontend import LogMelFrontend
from training.frontend import TorchLogMel


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


def assert_close_db(a, b, mean_db: float = 0.01):
    """Loud bins agree tightly; near the -80 dB floor float32 round-off moves some bins by
    up to a few dB (PROVENANCE.md sec. 7 sees 2.6 dB there between TF and numpy)."""
    diff = np.abs(a - b)
    loud = (a > -40) | (b > -40)
    assert diff[loud].max() < 0.01
    assert diff.mean() < mean_db


def reference(cfg, x):
    return LogMelFrontend(cfg, dtype=np.float64)(x)


@pytest.mark.parametrize("cfg", [SEA_FRONTEND, OPENL3_FRONTENDS["mel256"]], ids=["sea", "mel256"])
@pytest.mark.parametrize("dft_mode", ["rfft", "matmul"])
def test_numpy_matches_torch(cfg, dft_mode):
    """Both float32 implementations against a float64 numpy reference. The torch rfft path is
    the least exact on very quiet input (about 0.08 dB mean at 1e-4 amplitude), still far
    inside what the embeddings notice; the node's numpy frontend stays within 0.003 dB."""
    x = windows(cfg)
    truth = reference(cfg, x)
    ours = LogMelFrontend(cfg)(x)
    with torch.no_grad():
        theirs = TorchLogMel(cfg, dft_mode=dft_mode)(torch.from_numpy(x))[:, 0].numpy()
    assert ours.shape == theirs.shape == truth.shape == (len(x), cfg.n_bins, cfg.n_frames)
    assert_close_db(ours, truth)
    assert_close_db(theirs, truth, mean_db=0.05)


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
    assert_close_db(tfl, reference(cfg, x), mean_db=0.05)
