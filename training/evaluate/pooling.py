"""From frame embeddings to clip-level inputs: mean or max pooling, or multiple-instance
learning (every frame is an instance carrying its clip's label; frame scores are aggregated)."""

from __future__ import annotations

import numpy as np

from training.evaluate.embedding_cache import FrameEmbeddings

POOLINGS = ("mean", "max", "mil")
MIL_AGGREGATES = ("max", "mean")


def pooled_clips(emb: FrameEmbeddings, positions: np.ndarray, how: str) -> np.ndarray:
    """(N, D) clip vectors for store positions by mean or max over each clip's frames."""
    reduce = {"mean": np.mean, "max": np.max}[how]
    return np.stack([reduce(emb.clip(int(p)), axis=0) for p in positions]).astype(np.float32)


def clip_frames(emb: FrameEmbeddings, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All frames of the clips at `positions` and, per frame, the index of its clip (0..N-1)."""
    parts = [emb.clip(int(p)) for p in positions]
    owner = np.repeat(np.arange(len(parts)), [len(x) for x in parts])
    return np.concatenate(parts), owner


def aggregate(frame_scores: np.ndarray, owner: np.ndarray, n_clips: int, how: str) -> np.ndarray:
    """Clip scores from frame scores (rows grouped by `owner`) by max or mean."""
    out = np.empty((n_clips, frame_scores.shape[1]), dtype=np.float64)
    bounds = np.flatnonzero(np.diff(owner)) + 1
    for rows in np.split(np.arange(len(owner)), bounds):
        block = frame_scores[rows]
        out[owner[rows[0]]] = block.max(axis=0) if how == "max" else block.mean(axis=0)
    return out
