"""Teacher embedding on Ray: one actor per model copy, one embedding-store shard per call.

Each actor loads the model once (from Ray's object store), opens the clip store itself and
writes each finished shard atomically with the driver's `EmbeddingStoreWriter`, so the shard
files are exactly those of a single-process run: same rows, same batches, same bytes on CPU.
"""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from sea.cluster import RayOptions, run_units
from sea.embedding_store import EmbeddingStoreWriter
from sea.store import ClipStore, WindowIndex
from training.model import L3Net


class ShardEmbedder:
    """Ray actor body: embeds and writes whole shards of one embedding store."""

    def __init__(self, model: L3Net, store_path: str, window_rules: dict,
                 writer: EmbeddingStoreWriter, batch_size: int, resampler: str,
                 threads: int) -> None:
        from training.embedder import Embedder
        from training.teacher_embed import set_cpu_threads

        self.store = ClipStore(store_path)
        self.index = self.store.window_index(**window_rules)
        self.embedder = Embedder(model, batch_size=batch_size)
        set_cpu_threads(self.embedder.device, threads)
        self.writer, self.resampler = writer, resampler

    def process(self, shard: int) -> int:
        """Embed and write `shard`; returns how many windows it holds."""
        from training.windows import read_rows_at_rate

        begin, end = self.writer.shard_rows_range(shard)
        windows = read_rows_at_rate(self.store, self.index, begin, end,
                                    self.embedder.sample_rate, self.resampler)
        self.writer.write_shard(shard, self.embedder.embed_windows(windows))
        return end - begin


def embed_shards_on_ray(store: ClipStore, index: WindowIndex, model: L3Net,
                        writer: EmbeddingStoreWriter, shards: list[int], opts: RayOptions,
                        batch_size: int, resampler: str, done_rows: int = 0) -> None:
    """Compute and write `shards` of `writer`'s store on a pool of Ray actors."""
    writer.path = Path(writer.path).resolve()  # actors may run in another working directory
    rules = {"window_seconds": index.window_seconds, "hop_seconds": index.hop_seconds,
             "center": index.center}
    init = (model.cpu().eval(), str(Path(store.path).resolve()), rules, writer, batch_size,
            resampler, opts.torch_threads)
    with tqdm(total=len(index), initial=done_rows, unit="win", desc="teacher-embed (ray)",
              dynamic_ncols=True) as bar:
        run_units(ShardEmbedder, init, shards, opts, on_done=bar.update)
