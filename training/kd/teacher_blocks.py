"""Teacher per-block pooled activations written by `sea teacher-embed --block-features`:
an embedding store in EMB/blocks whose rows follow EMB's rows, each row the concatenation of
the teacher's blocks' mean-pooled activations; `block_widths` in its config splits it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sea.embedding_store import EmbeddingStore
from sea.settings import SettingError

BLOCKS_DIR = "blocks"


def load_block_features(path: str | Path, window_rules: dict[str, Any], num_rows: int
                        ) -> tuple[np.ndarray, list[int]]:
    """(features (num_rows, sum(widths)) float32, widths), checked against the targets' rows."""
    path = Path(path)
    if not (path / "manifest.json").is_file():
        raise SettingError("teacher_blocks", f"{path} holds no teacher block features: run "
                           "`sea teacher-embed` with block features, or point {teacher_blocks} "
                           "at them")
    store = EmbeddingStore(path)
    if store.window_rules != window_rules or len(store) != num_rows:
        raise ValueError(f"{path}: block features follow other windows ({len(store)} rows, "
                         f"{store.window_rules}) than the targets ({num_rows}, {window_rules})")
    widths = [int(w) for w in store.config["block_widths"]]
    return np.asarray(store.all(), dtype=np.float32), widths
