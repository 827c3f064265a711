"""The embedding step of `sea evaluate --ray`: Ray actors write the embedding-cache parts.

Each actor builds the model once from the same factory the single-process path uses and
writes whole cache parts atomically, so the cache is the one a local run writes (the frames
and counts; the recorded timings are each host's own).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from sea.cluster import RayOptions, run_units
from sea.store import ClipStore


class PartEmbedder:
    """Ray actor body: one embedder, whole cache parts of one store."""

    def __init__(self, store_path: str, embedder_factory: Callable, directory: str,
                 hop_seconds: float, clips_per_part: int, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self.store = ClipStore(store_path)
        self.embedder = embedder_factory()
        self.directory, self.hop_seconds = Path(directory), hop_seconds
        self.clips_per_part = clips_per_part

    def process(self, part: int) -> int:
        from training.evaluate.embedding_cache import write_part

        write_part(self.store, self.embedder, self.directory, part, self.hop_seconds,
                   self.clips_per_part)
        return 1


def write_parts_on_ray(store: ClipStore, embedder_factory: Callable, directory: Path,
                       hop_seconds: float, clips_per_part: int, parts: list[int],
                       opts: RayOptions, on_done: Callable[[int], object]) -> None:
    """Compute and write the cache `parts` on a pool of Ray actors."""
    init = (str(Path(store.path).resolve()), embedder_factory, str(Path(directory).resolve()),
            hop_seconds, clips_per_part, opts.torch_threads)
    run_units(PartEmbedder, init, parts, opts, on_done=on_done)
