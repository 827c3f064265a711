"""The embedding step of `sea evaluate --ray`: the cache parts equal a local run's."""

from __future__ import annotations

import functools

import numpy as np

from sea.cluster import RayOptions
from sea.store import ClipStore
from training.checkpoint import build_model
from training.embedder import Embedder
from training.evaluate import embedding_cache
from training.evaluate.embedding_cache import load_or_compute


def test_ray_cache_parts_equal_local_ones(ray_local, tiny_store, tiny_teacher, tmp_path,
                                          monkeypatch):
    monkeypatch.setattr(embedding_cache, "CLIPS_PER_PART", 3)  # 12 clips: 4 parts
    store = ClipStore(tiny_store)
    factory = functools.partial(Embedder, build_model(str(tiny_teacher)), 8, "cpu")
    local = load_or_compute(store, factory, tmp_path / "local", 0.5, progress=False)
    remote = load_or_compute(store, factory, tmp_path / "ray", 0.5, progress=False,
                             ray=RayOptions("local", workers=2))
    np.testing.assert_array_equal(remote.offsets, local.offsets)
    np.testing.assert_array_equal(remote.frames, local.frames)
    assert remote.model_info == local.model_info
    assert len(list((tmp_path / "ray").glob("part-*.npz"))) == 4
