"""Simulated node segments (contract: SEGMENTS.md) for tests, benchmarks and trying the
collector without a node: levels around a street's, one class per minute, embeddings near a
per-class centre so that query by example has neighbours to find."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from sea.manifest import atomic_write_bytes

CLASSES = ["car_horn", "dog_bark", "engine_idling", "siren", "street_music"]
EPOCH = datetime(2026, 6, 1, tzinfo=timezone.utc)


def segment_bytes(node_id: str, seq: int, start_index: int, n_windows: int, *,
                  hop_seconds: float = 1.0, dim: int = 16, model_id: str = "sea-sim",
                  start: datetime = EPOCH, seed: int = 0) -> bytes:
    """One segment of `n_windows` windows starting at node window `start_index`."""
    rng = np.random.default_rng([seed, seq, sum(node_id.encode())])
    centres = np.random.default_rng(seed).normal(size=(len(CLASSES), dim))
    header = {"type": "segment", "schema": 1, "node_id": node_id, "seq": seq,
              "model_id": model_id, "bundle_sha256": "0" * 64, "hop_seconds": hop_seconds,
              "classes": CLASSES, "created_utc": start.isoformat()}
    lines = [header]
    for index in range(start_index, start_index + n_windows):
        t = start + timedelta(seconds=index * hop_seconds)
        label = int(index * hop_seconds // 60) % len(CLASSES)
        probs = rng.dirichlet(np.ones(len(CLASSES)) * 0.3)
        probs[label] += 1.0
        probs /= probs.sum()
        order = np.argsort(probs)[::-1][:3]
        laeq = 55.0 + 10.0 * np.sin(index / 600.0) + rng.normal(0, 2)
        lines.append({"type": "window", "index": index, "utc": t.isoformat(),
                      "laeq": round(laeq, 2), "lafmax": round(laeq + 6, 2),
                      "lceq": round(laeq + 3, 2),
                      "top": [[CLASSES[i], round(float(probs[i]), 4)] for i in order],
                      "embedding": np.round(centres[label] + rng.normal(0, 0.5, dim), 4).tolist()})
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def write_closed(data_dir: Path, seq: int, body: bytes) -> Path:
    """Put a segment into `data_dir`/closed/ the way a node does (written, fsynced, renamed)."""
    path = Path(data_dir) / "closed" / f"seg-{seq:08d}.jsonl"
    atomic_write_bytes(path, body)
    return path
