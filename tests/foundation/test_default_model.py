"""sea's default model ships with the package: with an empty weights cache and no network,
`sea embed FILE` and `sea.get_audio_embedding(audio, sr)` embed with the published EdgeL3
SEA-64 weights, checked against their published sha256 on every load."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest
import soundfile as sf

import sea
import sea.weights as weights
from sea.cli import main

RATE = 8000  # the model's rate: no resampling


@pytest.fixture
def offline_fresh_install(tmp_path, monkeypatch):
    """An empty weights cache ($SEA_HOME) and any download attempt an error."""
    monkeypatch.setenv("SEA_HOME", str(tmp_path / "home"))

    def no_network(*args, **kwargs):
        raise AssertionError("the default model must not be downloaded")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return tmp_path


def tone(seconds: float = 1.5) -> np.ndarray:
    return 0.5 * np.sin(2 * np.pi * 440 * np.arange(int(RATE * seconds)) / RATE)


def test_shipped_files_are_the_published_weights_with_their_licence():
    source = weights.WEIGHT_SOURCES[weights.DEFAULT_MODEL]
    path = weights.bundled_path(weights.DEFAULT_MODEL)
    assert path is not None and source.bundled
    assert weights.sha256_file(path) == source.h5_sha256
    licence = (weights.BUNDLED_DIR / "LICENSE-edgel3.txt").read_text()
    assert licence.startswith("MIT License") and "Sangeeta Kumari" in licence
    assert source.sha256 in (weights.BUNDLED_DIR / "NOTICE.md").read_text()


def test_api_embeds_offline_with_the_default_model(offline_fresh_install):
    emb, ts = sea.get_audio_embedding(tone(), RATE)
    assert emb.shape == (11, 64) and emb.dtype == np.float32  # PROVENANCE: T = 11 for 1.5 s
    np.testing.assert_array_equal(ts, np.arange(11) * 0.1)
    assert np.all(emb >= 0) and emb.max() > 1  # the final ReLU; real, non-zero features
    assert not (offline_fresh_install / "home").exists()  # nothing written to the cache


def test_sea_embed_file_works_offline_without_model_option(offline_fresh_install):
    clip = offline_fresh_install / "tone.wav"
    sf.write(clip, tone(), RATE, subtype="FLOAT")
    assert main(["embed", str(clip)]) == 0
    written = np.load(offline_fresh_install / "tone.npz", allow_pickle=False)
    settings = json.loads(str(written["settings_json"]))
    assert settings["model"] == "edgel3-sea-64" and settings["dim"] == 64
    np.testing.assert_array_equal(written["embedding"], sea.get_audio_embedding(tone(), RATE)[0])


def test_default_model_matches_the_reference_embeddings(offline_fresh_install, fixtures_dir):
    ref = np.load(fixtures_dir / "ref_edgel3_sea64_tone440.npz")
    emb, _ = sea.get_audio_embedding(ref["audio_in"], int(ref["sr_in"]))
    # PROVENANCE.md section 7: a float32 port matches EdgeL3 end to end to about 0.02
    np.testing.assert_allclose(emb, ref["embedding"], atol=0.02)


def test_a_damaged_shipped_file_is_refused(tmp_path, monkeypatch, offline_fresh_install):
    damaged = tmp_path / "shipped"
    damaged.mkdir()
    good = weights.bundled_path(weights.DEFAULT_MODEL)
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    (damaged / good.name).write_bytes(bytes(data))
    monkeypatch.setattr(weights, "BUNDLED_DIR", damaged)
    with pytest.raises(weights.WeightsUnavailable, match="published file"):
        sea.get_audio_embedding(tone(), RATE)
    assert main(["embed", str(tmp_path / "none.wav")]) == 2
