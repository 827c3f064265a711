"""The embedding cache: one row block per clip, keyed by store content, resumable by part."""

from __future__ import annotations

import numpy as np

from sea.store import ClipStore
from training.evaluate import embedding_cache
from training.evaluate.embedding_cache import cache_dir, load_or_compute


class CountingEmbedder:
    """Stands in for a model: frame t of a clip embeds as (clip mean, t, sr); counts calls."""

    name, dim, num_params, size_bytes, sample_rate = "fake", 3, 7, 28, 8000

    def __init__(self):
        self.calls = 0

    def embed(self, audio, sr, hop_seconds=0.1, center=True):
        self.calls += 1
        n = 1 + int(len(audio) / sr / hop_seconds)
        frames = np.stack([np.full(n, audio.mean()), np.arange(n), np.full(n, sr)], axis=1)
        return frames.astype(np.float32), np.arange(n) * hop_seconds


def test_cache_is_complete_aligned_and_resumed(tmp_path, toy_store, monkeypatch):
    monkeypatch.setattr(embedding_cache, "CLIPS_PER_PART", 16)
    store = ClipStore(toy_store)
    directory = cache_dir(tmp_path, "fake-1", store, 0.5)
    assert directory.name.startswith("fake-1__") and directory.name.endswith("__hop0.5")
    embedders = []

    def factory():
        embedders.append(CountingEmbedder())
        return embedders[-1]

    emb = load_or_compute(store, factory, directory, 0.5, progress=False)
    assert embedders[0].calls == len(store) + 1 == 61  # every clip, plus one untimed warm-up
    assert len(emb.offsets) == len(store) + 1 and emb.offsets[-1] == len(emb.frames)
    for pos in (0, 17, 59):
        np.testing.assert_allclose(emb.clip(pos)[:, 0], store.audio_at(pos).mean(), rtol=1e-5)
        assert emb.clip(pos)[:, 1].tolist() == list(range(len(emb.clip(pos))))
    assert emb.model_info == {"name": "fake", "dim": 3, "num_params": 7, "size_bytes": 28,
                              "sample_rate": 8000}
    assert emb.seconds_per_window > 0

    load_or_compute(store, factory, directory, 0.5, progress=False)
    assert len(embedders) == 1  # complete cache: no model built

    (directory / "part-00002.npz").unlink()  # clips 32-47, as if that part was never written
    again = load_or_compute(store, factory, directory, 0.5, progress=False)
    assert embedders[1].calls == 16 + 1  # only the missing part
    np.testing.assert_array_equal(again.frames, emb.frames)
