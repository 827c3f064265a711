"""`sea reduce` on stores larger than memory: statistics stream, shards stay bounded."""

from __future__ import annotations

import numpy as np

from sea import embedding_store
from sea.cli import main
from sea.embedding_store import EmbeddingStore
from sea.manifest import read_manifest
from sea.reducer import TARGETS_FILE
from training.reduce import ColumnStats


def test_streamed_column_stats_equal_numpy_on_the_whole_array():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((1000, 7)) * rng.uniform(0.1, 50, 7) + 1e3).astype(np.float32)
    stats = ColumnStats(7)
    for block in np.split(x, [3, 4, 250, 251, 900]):  # uneven blocks, one of a single row
        stats.update(block)
    # float64 accumulation of float32 data: relative error ~1e-13, far below float32's 1e-7.
    np.testing.assert_allclose(stats.total_variance, x.astype(np.float64).var(axis=0).sum(),
                               rtol=1e-9)
    assert stats.minimum == float(x.min())


def test_incremental_pca_reduce_over_many_small_shards(embed_store_cli, tmp_path, monkeypatch):
    emb = embed_store_cli(tmp_path / "emb", 0.25, "--shard-rows", "8")
    monkeypatch.setattr(embedding_store, "OPEN_SHARDS", 2)  # as if memory held two shards
    store = EmbeddingStore(emb)
    everything = store.all()
    assert store.num_shards > 10 and len(store._shards) <= 2
    rows = np.arange(len(store))[::-1]  # reads wander over every shard
    np.testing.assert_array_equal(store.rows(rows), everything[rows])
    assert len(store._shards) <= 2
    assert main(["reduce", str(emb), "--out", str(tmp_path / "red"), "--reducer",
                 "incremental-pca", "--dim", "4", "--n-fit", "80"]) == 0
    targets = np.load(tmp_path / "red" / TARGETS_FILE)
    manifest = read_manifest(tmp_path / "red", kind="reducer")
    np.testing.assert_allclose(manifest["targets"]["total_variance"],
                               targets.astype(np.float64).var(axis=0).sum(), rtol=1e-6)
    assert manifest["targets"]["min"] == float(targets.min())
