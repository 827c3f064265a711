"""Embedding stores: one vector per window row of a clip store, in fixed-size shards (numpy only).

Row r of an embedding store is the embedding of row r of `ClipStore.window_index(window_seconds,
hop_seconds, center)` of the clip store it was computed from. Layout of a store directory:
- `manifest.json`: kind `embedding_store`, config (clip store id, window rules, producer, dim,
  dtype, shard size), status;
- `shards/emb-NNNNN.npy`: rows [N * shard_rows, (N + 1) * shard_rows), each written atomically,
  so a shard file exists only when complete and an interrupted job resumes at the first
  missing shard.

Lives in `sea` (not a stage) because training, evaluation and deploy checks all read it.
"""

from __future__ import annotations

import io
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from sea.manifest import atomic_write_bytes, read_manifest, write_manifest
from sea.paths import confined
from sea.safe_npz import read_npy
from sea.schema import Fields, SchemaError, check
from sea.settings import SettingError

KIND = "embedding_store"
SHARD_DIR = "shards"
DTYPES = ("float32", "float16")
OPEN_SHARDS = 64
# The geometry a reader relies on (sea.schema).
MANIFEST_FIELDS = Fields({"config": Fields({
    "num_rows": int, "dim": int, "shard_rows": int, "dtype": str,
    "window_seconds": (int, float), "hop_seconds": (int, float), "center": bool,
    "clip_store": dict}, required=("num_rows", "dim", "shard_rows", "dtype"))},
    required=("config",))


def shard_name(shard: int) -> str:
    return f"{SHARD_DIR}/emb-{shard:05d}.npy"


def shard_path(root: str | Path, shard: int) -> Path:
    return Path(root) / shard_name(shard)


def clip_store_id(store: Any) -> dict[str, Any]:
    """What identifies a clip store's content (its manifest digest, not a re-hash of audio)."""
    return {"path": str(Path(store.path).resolve()), "clips": len(store),
            "sample_rate": store.sample_rate,
            "content_sha256": store.manifest.get("content_sha256")}


class EmbeddingStoreWriter:
    """Create or resume an embedding store; `missing_shards()` says what is left to compute.

    Reopening a directory written with a different `config` raises ValueError instead of mixing
    two sets of embeddings.
    """

    def __init__(self, path: str | Path, config: dict[str, Any], num_rows: int, dim: int,
                 shard_rows: int = 4096, dtype: str = "float32") -> None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype {dtype!r} not in {DTYPES}")
        if shard_rows <= 0:
            raise ValueError(f"shard_rows must be positive, got {shard_rows}")
        self.path = Path(path)
        self.config = {**config, "num_rows": int(num_rows), "dim": int(dim),
                       "shard_rows": int(shard_rows), "dtype": dtype}
        self.num_rows, self.dim, self.shard_rows, self.dtype = num_rows, dim, shard_rows, dtype
        if (self.path / "manifest.json").is_file():
            old = read_manifest(self.path, kind=KIND)["config"]
            if old != _jsonable(self.config):
                diff = sorted(k for k in set(old) | set(self.config)
                              if old.get(k) != _jsonable(self.config).get(k))
                raise SettingError("out", f"{self.path} holds embeddings made with other "
                                   f"settings (differs in: {', '.join(diff)}); use another "
                                   "{out}")
        (self.path / SHARD_DIR).mkdir(parents=True, exist_ok=True)
        write_manifest(self.path, KIND, self.config, status="writing")

    @property
    def num_shards(self) -> int:
        return -(-self.num_rows // self.shard_rows)

    def shard_rows_range(self, shard: int) -> tuple[int, int]:
        begin = shard * self.shard_rows
        return begin, min(begin + self.shard_rows, self.num_rows)

    def missing_shards(self) -> list[int]:
        return [s for s in range(self.num_shards) if not shard_path(self.path, s).is_file()]

    def write_shard(self, shard: int, embeddings: np.ndarray) -> None:
        begin, end = self.shard_rows_range(shard)
        if embeddings.shape != (end - begin, self.dim):
            raise ValueError(f"shard {shard} needs shape {(end - begin, self.dim)}, "
                             f"got {embeddings.shape}")
        if not np.all(np.isfinite(embeddings)):
            raise ValueError(f"shard {shard} holds NaN/Inf embeddings")
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(embeddings, dtype=self.dtype))
        atomic_write_bytes(shard_path(self.path, shard), buf.getvalue())

    def finish(self, **fields: Any) -> dict:
        missing = self.missing_shards()
        if missing:
            raise RuntimeError(f"{len(missing)} shards of {self.path} are still missing")
        return write_manifest(self.path, KIND, self.config, status="complete", **fields)


def _jsonable(config: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(config, default=str))


class EmbeddingStore:
    """Read-only view of a complete embedding store (shards memory-mapped)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.manifest = read_manifest(self.path, kind=KIND)
        check(self.manifest, MANIFEST_FIELDS, str(self.path / "manifest.json"))
        if self.manifest.get("status") != "complete":
            raise ValueError(f"{self.path} is incomplete (interrupted?): re-run the same "
                             "`sea teacher-embed` command to finish it")
        self.config = self.manifest["config"]
        self.num_rows, self.dim, self.shard_rows = (self.config[k] for k in
                                                    ("num_rows", "dim", "shard_rows"))
        if self.num_rows < 0 or self.dim < 1 or self.shard_rows < 1 \
                or self.config["dtype"] not in DTYPES:
            raise SchemaError(f"{self.path / 'manifest.json'}: impossible geometry (num_rows "
                              f"{self.num_rows}, dim {self.dim}, shard_rows {self.shard_rows}, "
                              f"dtype {self.config['dtype']!r})")
        self.num_shards = -(-self.num_rows // self.shard_rows)
        self._shards: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return self.num_rows

    @property
    def window_rules(self) -> dict[str, Any]:
        """kwargs for `ClipStore.window_index` that reproduce this store's rows."""
        return {k: self.config[k] for k in ("window_seconds", "hop_seconds", "center")}

    def shard(self, shard: int) -> np.ndarray:
        """Shard `shard`, memory-mapped. The most recently used OPEN_SHARDS stay mapped: a
        store of tens of thousands of shards must not hold a file descriptor for each."""
        if shard in self._shards:
            self._shards.move_to_end(shard)
        else:
            # a shard linked to a file outside the store is refused, not read
            path = confined(self.path, shard_name(shard), "embedding shard")
            rows = min(self.shard_rows, self.num_rows - shard * self.shard_rows)
            self._shards[shard] = read_npy(path, "embedding shard .npy", (rows, self.dim),
                                           self.config.get("dtype", "float32"), mmap=True)
            if len(self._shards) > OPEN_SHARDS:
                self._shards.popitem(last=False)
        return self._shards[shard]

    def iter_shards(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, embeddings) per shard, in row order."""
        for s in range(self.num_shards):
            yield s * self.shard_rows, self.shard(s)

    def rows(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """Embeddings of the given rows as float32, in the given order."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.num_rows):
            raise IndexError(f"rows outside 0..{self.num_rows - 1}")
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        shard_of = rows // self.shard_rows
        for s in np.unique(shard_of):
            sel = shard_of == s
            out[sel] = self.shard(int(s))[rows[sel] - s * self.shard_rows]
        return out

    def all(self) -> np.ndarray:
        """Every embedding as one (num_rows, dim) float32 array (loads it into memory)."""
        return np.concatenate([np.asarray(e, dtype=np.float32) for _, e in self.iter_shards()])

    def check_clip_store(self, store: Any) -> None:
        """Raise ValueError unless `store` is the clip store these embeddings were made from."""
        expected = self.config["clip_store"]
        found = clip_store_id(store)
        for key in ("clips", "sample_rate", "content_sha256"):
            if expected.get(key) != found.get(key):
                raise ValueError(f"{store.path} is not the clip store {self.path} was computed "
                                 f"from ({key}: {found.get(key)} != {expected.get(key)})")
