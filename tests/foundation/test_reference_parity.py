"""Parity with outputs produced by EdgeL3's and OpenL3's own code (../shared/fixtures).

Audio enters as the references' own resampled signal (audio_8k / audio_48k), so the model is
tested apart from resampling; resampling is tested against the references separately.
Tolerances are those PROVENANCE.md section 7 shows reachable for a float32 port.
"""

import numpy as np
import pytest
import torch

from sea.audio import load_audio, resample
from sea.configs import get_config
from sea.framing import frame_audio, pad_for_framing
from sea.frontend import LogMelFrontend
from training.checkpoint import build_model

EDGEL3 = ["chirp_44k", "chirp_mono", "noise_seed0", "tone440", "click"]
OPENL3 = ["chirp_44k", "noise_seed0", "click"]
CASES = ([("edgel3", n) for n in EDGEL3] + [("openl3", n) for n in OPENL3])
SETUP = {
    # family: (model name, weight file, reference prefix, resampled key, end-to-end max abs)
    "edgel3": ("edgel3-sea-64", "edgel3_sea_ust_audio_emb_64.h5", "ref_edgel3_sea64_", "audio_8k", 0.02),
    "openl3": ("openl3-mel256-env", "openl3_mel256_random_seed0.h5", "ref_openl3_mel256_random_",
               "audio_48k", 0.1),
}


@pytest.fixture(scope="module")
def models(fixtures_dir):
    return {fam: build_model(name, weights=fixtures_dir / h5) for fam, (name, h5, *_) in SETUP.items()}


def _reference(fixtures_dir, family, clip):
    return dict(np.load(fixtures_dir / f"{SETUP[family][2]}{clip}.npz"))


def _cosine(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


@pytest.mark.parametrize("family,clip", CASES)
def test_framing_reproduces_padded_audio(fixtures_dir, family, clip):
    ref = _reference(fixtures_dir, family, clip)
    sr = get_config(SETUP[family][0]).frontend.sample_rate
    padded = pad_for_framing(ref[SETUP[family][3]], sr, 0.1, center=True)
    np.testing.assert_array_equal(padded, ref["audio_padded"])
    _, timestamps = frame_audio(ref[SETUP[family][3]], sr, 0.1, center=True)
    np.testing.assert_array_equal(timestamps, ref["timestamps"])


@pytest.mark.parametrize("family,clip", CASES)
def test_numpy_frontend_matches_stored_logmel(fixtures_dir, family, clip):
    ref = _reference(fixtures_dir, family, clip)
    cfg = get_config(SETUP[family][0]).frontend
    windows, _ = frame_audio(ref[SETUP[family][3]], cfg.sample_rate, 0.1, center=True)
    out = LogMelFrontend(cfg, dtype=np.float64)(windows)
    diff = np.abs(out - ref["logmel_db"])
    assert diff[ref["logmel_db"] > -40].max() < 2e-3
    assert diff[ref["logmel_db"] > -60].max() < 0.1


@pytest.mark.parametrize("family,clip", CASES)
def test_network_alone_on_stored_logmel(fixtures_dir, models, family, clip):
    ref = _reference(fixtures_dir, family, clip)
    with torch.no_grad():
        emb = models[family].body(torch.from_numpy(ref["logmel_db"])[:, None]).numpy()
    scale = np.abs(ref["embedding"]).max()
    assert np.abs(emb - ref["embedding"]).max() / scale < 1e-4


def test_first_batchnorm_matches_conv1_input(fixtures_dir, models):
    for clip in EDGEL3:
        ref = _reference(fixtures_dir, "edgel3", clip)
        with torch.no_grad():
            out = models["edgel3"].body.input_bn(torch.from_numpy(ref["logmel_db"])[:, None])
        np.testing.assert_allclose(out[:, 0].numpy(), ref["conv1_input"], atol=1e-4)


def test_prepool_activations(fixtures_dir, models):
    ref = _reference(fixtures_dir, "edgel3", "chirp_mono")
    with torch.no_grad():
        fmap = models["edgel3"].body.feature_map(torch.from_numpy(ref["logmel_db"])[:, None])
    np.testing.assert_allclose(fmap.permute(0, 2, 3, 1).numpy(), ref["prepool"], atol=1e-3)


@pytest.mark.parametrize("dft_mode", ["rfft", "matmul"])
@pytest.mark.parametrize("family,clip", CASES)
def test_end_to_end_from_resampled_audio(fixtures_dir, family, clip, dft_mode, models):
    from training.embedder import Embedder

    name, h5, _, key, max_abs = SETUP[family]
    model = models[family] if dft_mode == "rfft" else build_model(name, weights=fixtures_dir / h5,
                                                                    dft_mode=dft_mode)
    ref = _reference(fixtures_dir, family, clip)
    emb, ts = Embedder(model).embed(ref[key], model.cfg.frontend.sample_rate, 0.1, center=True)
    np.testing.assert_array_equal(ts, ref["timestamps"])
    assert emb.shape == ref["embedding"].shape
    assert _cosine(emb, ref["embedding"]).min() >= 0.999
    assert np.abs(emb - ref["embedding"]).max() <= max_abs


@pytest.mark.parametrize("family,clip", CASES)
def test_resampy_022_reproduces_reference_resampling(fixtures_dir, family, clip):
    import importlib.metadata

    if not importlib.metadata.version("resampy").startswith("0.2."):
        pytest.skip("exact reproduction needs resampy 0.2.x")
    ref = _reference(fixtures_dir, family, clip)
    audio, sr = load_audio(fixtures_dir / "audio" / f"{clip}.wav")
    np.testing.assert_array_equal(audio, ref["audio_in"])
    target_sr = get_config(SETUP[family][0]).frontend.sample_rate
    np.testing.assert_array_equal(resample(audio, sr, target_sr, "resampy"), ref[SETUP[family][3]])


def test_soxr_resampling_stays_close_to_reference(fixtures_dir, models):
    """The default resampler is not bit-exact; bound how far SEA-64 embeddings move."""
    from training.embedder import Embedder

    ref = _reference(fixtures_dir, "edgel3", "chirp_mono")
    audio, sr = load_audio(fixtures_dir / "audio" / "chirp_mono.wav")
    emb, _ = Embedder(models["edgel3"], resampler="soxr").embed(audio, sr)
    assert _cosine(emb, ref["embedding"]).min() > 0.99
