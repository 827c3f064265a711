"""Frame embeddings of every clip of a store, computed once per (model, store, hop) and kept
on disk in parts of a few clips each, so an interrupted run resumes where it stopped."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sea.cluster import RayOptions
from sea.manifest import atomic_save_npz, read_manifest, write_manifest
from sea.safe_npz import read_npz
from sea.store import ClipStore

log = logging.getLogger(__name__)
CACHE_KIND = "embedding_cache"
CLIPS_PER_PART = 32
PART_ARRAYS = ("frames", "counts", "seconds")


@dataclass(frozen=True)
class FrameEmbeddings:
    """Window embeddings of all clips back to back; clip i owns rows offsets[i]:offsets[i+1]."""

    frames: np.ndarray  # (windows, dim) float32
    offsets: np.ndarray  # (clips + 1,) int64
    seconds_per_window: float | None  # measured embedding time on this host, when known
    model_info: dict = field(default_factory=dict)  # name, dim, num_params, size_bytes, rate

    def clip(self, pos: int) -> np.ndarray:
        return self.frames[self.offsets[pos]: self.offsets[pos + 1]]


def store_digest(store: ClipStore) -> str:
    """The store's content digest (from its manifest; recomputed if an old store lacks it)."""
    return store.manifest.get("content_sha256") or store.content_sha256()


def cache_dir(root: Path, model_key: str, store: ClipStore, hop_seconds: float) -> Path:
    return Path(root) / f"{model_key}__{store_digest(store)[:16]}__hop{hop_seconds:g}"


def _part_path(directory: Path, part: int) -> Path:
    return directory / f"part-{part:05d}.npz"


def _embed_part(store: ClipStore, embedder, positions: range, hop_seconds: float) -> dict:
    frames, counts = [], []
    start = time.perf_counter()
    for pos in positions:
        emb, _ = embedder.embed(store.audio_at(pos), store.sample_rate, hop_seconds=hop_seconds,
                                center=True)
        frames.append(np.asarray(emb, dtype=np.float32).reshape(len(emb), -1))
        counts.append(len(emb))
    return {"frames": np.concatenate(frames), "counts": np.asarray(counts, dtype=np.int64),
            "seconds": np.float64(time.perf_counter() - start)}


def embedder_info(embedder) -> dict:
    """What the report shows about a model: name, dimension, parameters, size, sample rate."""
    return {k: getattr(embedder, k, None)
            for k in ("name", "dim", "num_params", "size_bytes", "sample_rate")}


def write_part(store: ClipStore, embedder, directory: Path, part: int, hop_seconds: float,
               clips_per_part: int) -> None:
    """Embed the clips of cache part `part` and write it atomically."""
    begin = part * clips_per_part
    positions = range(begin, min(begin + clips_per_part, len(store)))
    atomic_save_npz(_part_path(directory, part),
                    **_embed_part(store, embedder, positions, hop_seconds))


def load_or_compute(store: ClipStore, embedder_factory, directory: Path, hop_seconds: float,
                    progress: bool = True, ray: RayOptions | None = None) -> FrameEmbeddings:
    """Embeddings of every clip of `store`; parts already on disk are reused, not recomputed.

    `embedder_factory()` is only called when something is missing (loading a model is slow).
    The manifest, written once every part exists, marks the cache complete. With `ray`, the
    missing parts are computed by Ray actors (`training.evaluate.ray_cache`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    parts = range(0, -(-len(store) // CLIPS_PER_PART))
    missing = [p for p in parts if not _part_path(directory, p).is_file()]
    embedder = None
    if missing or not (directory / "manifest.json").is_file():
        embedder = embedder_factory()
        # One untimed call first, so one-off set-up does not count as per-window latency.
        embedder.embed(np.zeros(store.sample_rate, np.float32), store.sample_rate,
                       hop_seconds=hop_seconds, center=True)
    bar = tqdm(missing, desc=f"embed {directory.name.split('__')[0]}", unit="part",
               disable=not progress, leave=False)
    if ray is not None and missing:
        from training.evaluate.ray_cache import write_parts_on_ray

        write_parts_on_ray(store, embedder_factory, directory, hop_seconds, CLIPS_PER_PART,
                           missing, ray, on_done=bar.update)
    else:
        for part in bar:
            write_part(store, embedder, directory, part, hop_seconds, CLIPS_PER_PART)
    bar.close()
    loaded = [read_npz(_part_path(directory, p), "embedding cache part .npz",
                       required=PART_ARRAYS, max_bytes=None) for p in parts]
    counts = np.concatenate([d["counts"] for d in loaded])
    if len(counts) != len(store):
        raise ValueError(f"{directory} holds {len(counts)} clips, the store {len(store)}: "
                         "delete the cache directory")
    frames = np.concatenate([d["frames"] for d in loaded])
    seconds = float(sum(float(d["seconds"]) for d in loaded))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    per_window = seconds / len(frames) if len(frames) else None
    if embedder is not None:
        write_manifest(directory, CACHE_KIND, {"hop_seconds": hop_seconds, "center": True},
                       store=str(store.path), store_content_sha256=store_digest(store),
                       model=embedder_info(embedder), clips=len(counts),
                       windows=int(len(frames)), seconds_per_window=per_window)
    info = read_manifest(directory, CACHE_KIND)["model"]
    return FrameEmbeddings(frames, offsets, per_window, info)
