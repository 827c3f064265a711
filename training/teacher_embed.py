"""Teacher embeddings of every window of a clip store, sharded and resumable; optionally the
teacher's per-block pooled activations beside them (EMB/blocks, for intermediate-layer
distillation, so the teacher never runs during training)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from tqdm import tqdm

from sea.embedding_store import (KIND as EMBEDDING_KIND, SHARD_DIR, EmbeddingStoreWriter,
                                 clip_store_id)
from sea.models import Embedder as ModelEmbedder
from sea.output import claim_output
from sea.settings import SettingError
from sea.store import ClipStore
from training.embedder import Embedder
from training.kd.blocks import embed_windows_with_blocks
from training.kd.teacher_blocks import BLOCKS_DIR
from training.model import L3Net
from training.prefetch import Prefetcher
from training.settings.teacher_embed import TeacherEmbedSettings
from training.teacher import is_bundle, load_bundle_teacher, load_teacher
from training.windows import read_rows_at_rate

log = logging.getLogger(__name__)


def set_cpu_threads(device: torch.device, threads: int | None = None) -> None:
    """On CPU, let torch use `threads` threads, by default every core this process may use
    (torch's own default can be fewer inside containers). On a machine shared with other
    busy processes fewer threads can be much faster: intra-op threads then wait on each other."""
    if device.type == "cpu":
        torch.set_num_threads(threads or len(os.sched_getaffinity(0)))


def embed_store(settings: TeacherEmbedSettings) -> dict:
    """Write (or finish) the embedding store `settings.out` from the clip store
    `settings.store` with `settings.teacher`; returns its manifest. `overwrite` replaces an
    embedding store already there instead of resuming it.

    With `ray`, the missing shards are computed by Ray actors (`training.ray_embed`); the
    shards are the same, byte for byte on CPU at the same thread count per process.
    `block_features` also writes the teacher's pooled per-block activations to out/blocks
    (float32 on this process only). A bundle directory as the teacher runs its TFLite model
    (e.g. int8) in this process."""
    store = ClipStore(settings.store)
    if is_bundle(settings.teacher):
        _refuse_for_bundle_teacher(settings)
        embedder, teacher_info = load_bundle_teacher(settings.teacher, settings.threads,
                                                     settings.resampler)
        model = None
    else:
        model, teacher_info = load_teacher(settings.teacher, settings.weights, settings.seed)
        embedder = Embedder(model, batch_size=settings.batch_size, device=settings.device,
                            precision=settings.precision)
        set_cpu_threads(embedder.device, settings.threads)
    with claim_output(settings.out, EMBEDDING_KIND, inputs=(store.path,),
                      overwrite=settings.overwrite, layout=(SHARD_DIR, BLOCKS_DIR)):
        return _embed_store(settings, store, embedder, model, teacher_info)


def _refuse_for_bundle_teacher(settings: TeacherEmbedSettings) -> None:
    for name, given, why in (
            ("weights", settings.weights is not None, "a bundle holds its own weights"),
            ("precision", settings.precision != "float32",
             "a bundle runs in the precision it was exported in"),
            ("block_features", settings.block_features, "block features come from the torch "
                                                        "teacher"),
            ("ray", settings.ray is not None, "Ray actors run torch teachers")):
        if given:
            raise SettingError(name, f"{{{name}}} does not apply to a bundle {{teacher}}: {why}")


def _embed_store(settings: TeacherEmbedSettings, store: ClipStore, embedder: ModelEmbedder,
                 model: L3Net | None, teacher_info: dict[str, Any]) -> dict:
    """`model`: the torch teacher behind `embedder`, for Ray actors and block features (None
    for a bundle teacher, which takes neither)."""
    out, batch_size, resampler = settings.out, settings.batch_size, settings.resampler
    window_seconds = embedder.cfg.frontend.window_seconds
    index = store.window_index(window_seconds, settings.hop, settings.center)
    if len(index) == 0:
        raise ValueError(f"{store.path} has no windows to embed")
    # the store's format (`hop_seconds` is what its readers know the hop as)
    config = {"clip_store": clip_store_id(store), "window_seconds": window_seconds,
              "hop_seconds": settings.hop, "center": settings.center, "resampler": resampler,
              "producer": {k: v for k, v in teacher_info.items() if k != "path"}}
    if settings.precision != "float32":  # recorded so that a resume cannot mix precisions
        config["precision"] = settings.precision
    writer = EmbeddingStoreWriter(out, config, len(index), embedder.dim, settings.shard_rows,
                                  settings.dtype)
    blocks = (EmbeddingStoreWriter(Path(out) / BLOCKS_DIR,
                                   {**config, "block_widths": list(model.cfg.filters)}, len(index),
                                   sum(model.cfg.filters), settings.shard_rows, settings.dtype)
              if settings.block_features else None)
    finished = {"teacher": teacher_info, "settings": settings.record()}
    missing = sorted(set(writer.missing_shards())
                     | set(blocks.missing_shards() if blocks else ()))
    done_rows = len(index) - sum(e - b for b, e in map(writer.shard_rows_range, missing))
    if done_rows:
        log.info("resuming %s: %d of %d shards already done", out, writer.num_shards - len(missing),
                 writer.num_shards)

    ray = settings.ray_options()
    if ray is not None:
        from training.ray_embed import embed_shards_on_ray

        start = time.perf_counter()
        embed_shards_on_ray(store, index, model, writer, missing, ray, batch_size, resampler,
                            done_rows)
        elapsed = time.perf_counter() - start
        computed = len(index) - done_rows
        log.info("embedded %d windows in %.1f s (%.1f windows/s) on %d Ray workers", computed,
                 elapsed, computed / max(elapsed, 1e-9), ray.workers)
        return writer.finish(**finished, device=f"ray x{ray.workers}",
                             last_run={"windows": computed, "seconds": round(elapsed, 3)})

    def shards() -> Iterator[tuple[int, np.ndarray]]:
        for shard in missing:
            begin, end = writer.shard_rows_range(shard)
            yield shard, read_rows_at_rate(store, index, begin, end, embedder.sample_rate,
                                           resampler)

    start = time.perf_counter()
    with tqdm(total=len(index), initial=done_rows, unit="win", desc="teacher-embed",
              dynamic_ncols=True) as bar, Prefetcher(shards(), depth=2) as batches:
        for shard, windows in batches:
            parts, block_parts = [], []
            for i in range(0, len(windows), batch_size):
                if blocks is None:
                    parts.append(embedder.embed_windows(windows[i:i + batch_size]))
                else:
                    emb, feats = embed_windows_with_blocks(model, windows[i:i + batch_size],
                                                           batch_size, embedder.device)
                    parts.append(emb)
                    block_parts.append(feats)
                bar.update(len(parts[-1]))
            writer.write_shard(shard, np.concatenate(parts))
            if blocks is not None:
                blocks.write_shard(shard, np.concatenate(block_parts))
        wait = batches.wait_seconds
    elapsed = time.perf_counter() - start
    computed = len(index) - done_rows
    log.info("embedded %d windows in %.1f s (%.1f windows/s, %.0f%% waiting for audio) on %s",
             computed, elapsed, computed / max(elapsed, 1e-9), 100 * wait / max(elapsed, 1e-9),
             embedder.device)
    if blocks is not None:
        blocks.finish(**finished, device=str(embedder.device))
    return writer.finish(**finished, device=str(embedder.device),
                         last_run={"windows": computed, "seconds": round(elapsed, 3)})
