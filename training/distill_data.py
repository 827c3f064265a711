"""Training data for distillation: store windows at the student's rate, targets, clip split.

The clip store's audio is resampled once per clip to the student's rate and cached as one
flat float32 file (each clip zero-padded so its windows are plain slices), so an epoch is a
cheap gather from a memory map instead of a resampling job.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from sea.framing import hop_samples
from sea.manifest import atomic_write_json
from sea.safe_write import atomic_output
from sea.settings import SettingError
from sea.store import ClipStore, WindowIndex
from training.kd.batch_share import BatchShare
from training.windows import clip_row_ranges, padded_clip

log = logging.getLogger(__name__)


class WindowCache:
    """Every window of `index` at `sample_rate`, gathered from a cached resampled copy."""

    def __init__(self, store: ClipStore, index: WindowIndex, sample_rate: int,
                 cache_dir: str | Path, resampler: str = "soxr") -> None:
        self.sample_rate = sample_rate
        self.window = int(index.window_seconds * sample_rate)
        cache_dir = Path(cache_dir)
        key = {"store": store.manifest.get("content_sha256"), "clips": len(store),
               "sample_rate": sample_rate, "resampler": resampler,
               "window_seconds": index.window_seconds, "hop_seconds": index.hop_seconds,
               "center": index.center}
        audio_path = cache_dir / f"audio-{sample_rate}.f32"
        key_path = cache_dir / f"audio-{sample_rate}.json"
        offsets = clip_row_ranges(index, len(store))
        lengths = np.array([(offsets[p + 1] - offsets[p] - 1) * hop_samples(sample_rate,
                            index.hop_seconds) + self.window for p in range(len(store))])
        clip_start = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        fresh = (key_path.is_file() and json.loads(key_path.read_text()) == key
                 and audio_path.is_file() and audio_path.stat().st_size == 4 * lengths.sum())
        if not fresh:
            self._build(store, index, sample_rate, resampler, audio_path, offsets)
            atomic_write_json(key_path, key)
        self.audio = np.memmap(audio_path, dtype=np.float32, mode="r")
        hop = hop_samples(sample_rate, index.hop_seconds)
        self.row_start = clip_start[index.clip_pos] + index.window_in_clip * hop
        self._span = np.arange(self.window, dtype=np.int64)

    @staticmethod
    def _build(store: ClipStore, index: WindowIndex, sample_rate: int, resampler: str,
               path: Path, offsets: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path, "wb") as f:
            for pos in tqdm(range(len(store)), desc=f"cache {sample_rate} Hz audio", unit="clip"):
                count = int(offsets[pos + 1] - offsets[pos])
                f.write(padded_clip(store.audio_at(pos), store.sample_rate, sample_rate, index,
                                    count, resampler).data)

    def windows(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), window) float32 windows of the given rows."""
        return self.audio[self.row_start[rows][:, None] + self._span]


def split_clips(store: ClipStore, val_fraction: float = 0.1, val_folds: list[str] | None = None,
                seed: int = 0) -> tuple[np.ndarray, dict]:
    """Boolean mask over store positions: True for validation clips, and a split report.

    With `val_folds`, the clips of those folds validate. Else a seeded `val_fraction` of the
    recordings does (clips sharing a `group`, i.e. cut from one recording, stay together).
    """
    records = store.records
    if val_folds:
        known = {str(r.fold) for r in records}
        unknown = sorted(set(val_folds) - known)
        if unknown:
            raise SettingError("val_folds", f"{{val_folds}} {','.join(unknown)} not in the "
                               f"store's folds ({', '.join(sorted(known))})")
        mask = np.array([str(r.fold) in set(val_folds) for r in records])
        how = {"by": "fold", "val_folds": sorted(val_folds)}
    else:
        if not 0.0 < val_fraction < 1.0:
            raise SettingError("val_fraction", f"{{val_fraction}} must be in (0, 1), got "
                               f"{val_fraction}")
        groups = np.array([r.group or r.clip_id for r in records])
        unique = np.unique(groups)
        if len(unique) < 2:
            raise ValueError("need at least two clips (recordings) to hold some out")
        n_val = min(max(1, int(round(val_fraction * len(unique)))), len(unique) - 1)
        chosen = np.random.default_rng(seed).choice(unique, size=n_val, replace=False)
        mask = np.isin(groups, chosen)
        how = {"by": "recording" if any(r.group for r in records) else "clip",
               "val_fraction": val_fraction}
    if mask.all() or not mask.any():
        raise ValueError("the validation split leaves no training or no validation clips")
    return mask, {**how, "val_clips": int(mask.sum()), "train_clips": int((~mask).sum())}


def iter_batches(rows: np.ndarray, batch_size: int, rng: np.random.Generator | None,
                 cache: WindowCache, targets: np.ndarray, rank: int = 0, world: int = 1,
                 keep_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray, BatchShare]]:
    """(windows, targets, share) batches over `rows`, shuffled when `rng` is given; `share`
    holds the batch's rows and this rank's place among them.

    With `world` > 1 ranks, batches are cut from the same global order on every rank and each
    rank gets its strided share of each one; a last batch too small to give every rank a row is
    dropped (every rank must take the same number of steps) unless `keep_last` (evaluation:
    some ranks then get an empty share)."""
    order = rng.permutation(rows) if rng is not None else rows
    for begin in range(0, len(order), batch_size):
        chunk = np.sort(order[begin: begin + batch_size])  # sorted reads are sequential reads
        if len(chunk) < world and not keep_last:
            break
        share = BatchShare(chunk, rank, world)
        mine = share.local_rows
        yield cache.windows(mine), np.asarray(targets[mine], dtype=np.float32), share
