"""Sample teacher embeddings, fit a reducer, and turn every embedding into a student target."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from sea.embedding_store import EmbeddingStore
from sea.manifest import sha256_file, atomic_save_npz
from sea.output import claim_output
from sea.safe_write import atomic_path
from sea.reducer import (DEFAULT_PARAMS_FILE, KIND as REDUCER_KIND, PARAMS_FILE, TARGETS_FILE, Reducer,
                         save_reducer)
from sea.store import ClipStore
from training.reducers import check_dims, fit_reducer
from training.sampling import group_ids, sample_rows
from training.settings.reduce import ReduceSettings

log = logging.getLogger(__name__)
FIT_ROWS_FILE = "fit_rows.npz"
# What a reduction writes in its --out besides the manifest.
REDUCER_LAYOUT = (DEFAULT_PARAMS_FILE, *PARAMS_FILE.values(), TARGETS_FILE, FIT_ROWS_FILE)


class ColumnStats:
    """Per-column mean and variance (Chan et al.'s pairwise merge, float64) and the minimum,
    accumulated block by block so the targets never have to be in memory at once."""

    def __init__(self, dim: int) -> None:
        self.n, self.mean, self.m2 = 0, np.zeros(dim), np.zeros(dim)
        self.minimum = np.inf

    def update(self, block: np.ndarray) -> None:
        if not len(block):
            return
        block = np.asarray(block, dtype=np.float64)
        n_b, mean_b = len(block), block.mean(axis=0)
        m2_b = ((block - mean_b) ** 2).sum(axis=0)
        n = self.n + n_b
        delta = mean_b - self.mean
        self.m2 += m2_b + delta ** 2 * self.n * n_b / n
        self.mean += delta * n_b / n
        self.n = n
        self.minimum = min(self.minimum, float(block.min()))

    @property
    def total_variance(self) -> float:
        """Sum over columns of the population variance (numpy's `var`, ddof 0)."""
        return float(self.m2.sum() / max(self.n, 1))


def write_targets(reducer: Reducer, embeddings: EmbeddingStore, path: Path) -> dict[str, Any]:
    """Transform every embedding (shard by shard) into `path` (.npy, renamed into place)."""
    start = time.perf_counter()
    stats = ColumnStats(reducer.out_dim)
    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                        shape=(len(embeddings), reducer.out_dim))
        for begin, shard in tqdm(embeddings.iter_shards(), total=embeddings.num_shards,
                                 desc="targets", unit="shard"):
            targets = reducer.transform(np.asarray(shard, dtype=np.float32))
            out[begin: begin + len(shard)] = targets
            stats.update(targets)
            if begin // embeddings.shard_rows % 64 == 63:
                out.flush()  # written pages go to disk instead of piling up as dirty memory
        out.flush()
        del out
    variance, minimum = stats.total_variance, stats.minimum
    return {"rows": len(embeddings), "dim": reducer.out_dim, "total_variance": variance,
            "min": minimum, "seconds": round(time.perf_counter() - start, 3)}


def reduce_embeddings(settings: ReduceSettings) -> dict[str, Any]:
    """Run the whole `sea reduce` step; returns the reducer manifest fields written.
    An existing reducer in `settings.out` is replaced only with `overwrite`."""
    embeddings = EmbeddingStore(settings.embeddings)
    dim = check_dims(settings.reducer, embeddings.dim, settings.dim,
                     min(settings.n_fit, len(embeddings)))
    store = ClipStore(settings.store or embeddings.config["clip_store"]["path"])
    embeddings.check_clip_store(store)
    with claim_output(settings.out, REDUCER_KIND, inputs=(settings.embeddings, store.path),
                      overwrite=settings.overwrite, resume=False, layout=REDUCER_LAYOUT):
        return _reduce(settings, embeddings, store, dim)


def _reduce(settings: ReduceSettings, embeddings: EmbeddingStore, store: ClipStore,
            dim: int) -> dict[str, Any]:
    sampling, n_fit, seed, out = settings.sampling, settings.n_fit, settings.seed, settings.out
    index = store.window_index(**embeddings.window_rules)
    groups, grouped_by = group_ids(store.records, index.clip_pos)
    loudness = store.window_loudness(index) if sampling in ("loudness", "dpp") else None

    start = time.perf_counter()
    rows = sample_rows(sampling, n_fit, groups, np.random.default_rng(seed), loudness,
                       embeddings.rows, settings.max_dpp_size)
    sampling_report = {"strategy": sampling, "grouped_by": grouped_by,
                       "groups": int(len(np.unique(groups))), "n_fit_requested": n_fit,
                       "n_fit": int(len(rows)), "rows_available": len(embeddings),
                       "seconds": round(time.perf_counter() - start, 3)}
    if sampling.startswith("dpp"):
        sampling_report["max_dpp_size"] = settings.max_dpp_size
    log.info("sampled %d of %d windows (%s, by %s) in %.2f s", len(rows), len(embeddings),
             sampling, grouped_by, sampling_report["seconds"])
    reducer, fit_report = fit_reducer(settings.reducer, rows, embeddings.rows, embeddings.dim,
                                      dim, seed)
    log.info("fitted %s (%d -> %d) in %.2f s%s", settings.reducer, embeddings.dim, reducer.out_dim,
             fit_report["fit_seconds"],
             f", explained variance {fit_report['explained_variance']:.3f}"
             if "explained_variance" in fit_report else "")
    out.mkdir(parents=True, exist_ok=True)
    atomic_save_npz(out / FIT_ROWS_FILE, rows=rows)
    targets = write_targets(reducer, embeddings, out / TARGETS_FILE)
    fields = {"embeddings": {"path": str(settings.embeddings.resolve()),
                             "manifest_sha256": sha256_file(settings.embeddings / "manifest.json"),
                             **{k: embeddings.config[k] for k in
                                ("clip_store", "window_seconds", "hop_seconds", "center",
                                 "num_rows", "dim", "producer")}},
              "sampling": sampling_report, "fit": fit_report, "targets": targets,
              "settings": settings.record()}
    config = {"sampling": sampling, "n_fit": n_fit, "dim": reducer.out_dim, "seed": seed}
    save_reducer(out, reducer, config, **fields)
    return fields
