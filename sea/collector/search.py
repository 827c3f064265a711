"""Query by example: the stored windows whose embeddings are nearest to a query embedding.

Debian's PostgreSQL has no pgvector package, and one code path should serve SQLite and
PostgreSQL alike, so the vector index lives in the collector process: a FAISS HNSW graph per
model (embeddings of different models are not comparable), over L2-normalized vectors so inner
product is cosine similarity. The database stays the only state: each index catches up with
the windows table before answering, so several collectors on one database agree.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sea.collector.schema import windows
from sea.errors import SeaError

HNSW_NEIGHBOURS = 32  # graph degree M: FAISS's usual default range 16-64
EF_CONSTRUCTION = 80
EF_SEARCH = 128  # candidates per query; recall against brute force: benchmarks/bench_search.py
RECONCILE_S = 10.0  # a window committed out of id order is searchable at most this much later


class SearchError(SeaError):
    """A query the index cannot answer (no such window, wrong embedding size, ...)."""


def normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


@dataclass
class _ModelIndex:
    graph: object  # faiss.IndexHNSWFlat
    index: object  # faiss.IndexIDMap over `graph`: searches return window row ids
    dim: int
    ids: set[int]
    max_id: int = 0
    reconciled: float = float("-inf")  # time.monotonic() of the last full count


def _model_index(dim: int) -> _ModelIndex:
    import faiss

    # One query at a time per request thread: an OpenMP team per single query costs more
    # than it saves (25 ms against under 1 ms per query on a busy 2-core host).
    faiss.omp_set_num_threads(1)
    graph = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = EF_CONSTRUCTION
    return _ModelIndex(graph, faiss.IndexIDMap(graph), dim, set())


class EmbeddingIndex:
    """One HNSW index per model_id, filled from the windows table on demand."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._models: dict[str, _ModelIndex] = {}
        self._lock = threading.Lock()

    def _fetch(self, conn, model_id: str, where) -> tuple[np.ndarray, np.ndarray]:
        rows = conn.execute(sa.select(windows.c.id, windows.c.embedding).where(
            windows.c.model_id == model_id, windows.c.embedding.is_not(None), where)
            .order_by(windows.c.id)).all()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        return ids, np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows])

    def _add(self, model_id: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        entry = self._models.get(model_id)
        if entry is None:
            entry = self._models[model_id] = _model_index(vectors.shape[1])
        if vectors.shape[1] != entry.dim:
            raise SearchError(f"model {model_id!r} has embeddings of {vectors.shape[1]} and "
                              f"{entry.dim} values")
        keep = np.array([i not in entry.ids for i in ids.tolist()])
        entry.index.add_with_ids(normalized(vectors[keep]), ids[keep])
        entry.ids.update(ids[keep].tolist())
        entry.max_id = max(entry.max_id, int(ids.max()))

    def refresh(self, model_id: str) -> int:
        """Add the windows stored since the last refresh; returns the index size.

        New ids usually exceed the largest seen (an index range scan), but concurrent
        PostgreSQL transactions may commit a smaller id later: every RECONCILE_S the count is
        compared (a scan of the model's rows) and missing ids are looked up."""
        with self._lock, self.engine.connect() as conn:
            entry = self._models.get(model_id)
            self._add(model_id, *self._fetch(conn, model_id,
                                             windows.c.id > (entry.max_id if entry else 0)))
            entry = self._models.get(model_id)
            if entry is None:
                return 0
            if time.monotonic() - entry.reconciled < RECONCILE_S:
                return len(entry.ids)
            entry.reconciled = time.monotonic()
            total = conn.execute(sa.select(sa.func.count()).select_from(windows).where(
                windows.c.model_id == model_id, windows.c.embedding.is_not(None))).scalar_one()
            if total != len(entry.ids):
                all_ids = conn.execute(sa.select(windows.c.id).where(
                    windows.c.model_id == model_id, windows.c.embedding.is_not(None))).scalars()
                missing = sorted(set(all_ids) - entry.ids)
                self._add(model_id, *self._fetch(conn, model_id, windows.c.id.in_(missing)))
            return len(entry.ids)

    def window_embedding(self, node_id: str, index: int) -> tuple[str, np.ndarray, int]:
        """(model_id, embedding, row id) of a stored window."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(windows.c.model_id, windows.c.embedding, windows.c.id)
                               .where(windows.c.node_id == node_id, windows.c.idx == index)).first()
        if row is None:
            raise SearchError(f"no window {index} of node {node_id!r} is stored")
        if row[1] is None:
            raise SearchError(f"window {index} of node {node_id!r} has no embedding")
        return row[0], np.frombuffer(row[1], dtype="<f4"), row[2]

    def search(self, model_id: str, embedding: np.ndarray, k: int = 10,
               exclude_id: int | None = None) -> list[tuple[int, float]]:
        """(window row id, cosine similarity) of the `k` nearest stored windows."""
        if self.refresh(model_id) == 0:
            return []
        entry = self._models[model_id]
        query = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        if query.shape[1] != entry.dim:
            raise SearchError(f"embedding has {query.shape[1]} values, model {model_id!r} "
                              f"stores {entry.dim}")
        with self._lock:
            entry.graph.hnsw.efSearch = max(EF_SEARCH, 2 * k)  # HNSW returns at most efSearch
            scores, ids = entry.index.search(normalized(query), k + (exclude_id is not None))
        hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0])
                if i >= 0 and i != exclude_id]
        return hits[:k]


def stored_embeddings(engine: Engine, model_id: str) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, embeddings) of every stored window of `model_id`: the exact search's input."""
    with engine.connect() as conn:
        return EmbeddingIndex(engine)._fetch(conn, model_id, sa.true())


def exact_search(ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray,
                 k: int) -> np.ndarray:
    """Row ids of the `k` most cosine-similar vectors per query, by brute force: the reference
    the HNSW index's recall is measured against."""
    scores = normalized(queries) @ normalized(vectors).T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return ids[top]


def describe(engine: Engine, hits: list[tuple[int, float]]) -> list[dict]:
    """The windows behind `hits` (node, index, time, levels, class), best first."""
    if not hits:
        return []
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(
            windows.c.id, windows.c.node_id, windows.c.idx, windows.c.t_ms, windows.c.laeq,
            windows.c.top_label).where(windows.c.id.in_([i for i, _ in hits])))}
    return [{"node_id": rows[i].node_id, "index": rows[i].idx, "t_ms": rows[i].t_ms,
             "laeq": rows[i].laeq, "top_label": rows[i].top_label, "similarity": s}
            for i, s in hits if i in rows]
