"""Query by example: recall@k of the collector's HNSW index against exact (brute-force) search.

Stores simulated windows (sea.collector.simulate: embeddings near one of five class centres)
through the collector's own write path into a SQLite database, builds the index from the
database as the collector does, and compares the k nearest neighbours of query embeddings
(stored windows plus noise) with the exact cosine neighbours.

    python benchmarks/bench_search.py [--windows 50000] [--dim 64] [--queries 500] [--k 10]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from sea.collector.auth import add_node
from sea.collector.db import make_engine, migrate
from sea.collector.search import EF_SEARCH, HNSW_NEIGHBOURS, EmbeddingIndex, exact_search, \
    stored_embeddings
from sea.collector.segment import parse_segment, sha256_hex
from sea.collector.simulate import segment_bytes
from sea.collector.store import store_segment

PER_SEGMENT = 600


def fill(engine, windows: int, dim: int, nodes: int = 10) -> None:
    for n in range(nodes):
        add_node(engine, f"node-{n}")
    per_node = windows // nodes
    for n in range(nodes):
        for seq in range(per_node // PER_SEGMENT):
            body = segment_bytes(f"node-{n}", seq, seq * PER_SEGMENT, PER_SEGMENT, dim=dim,
                                 seed=n)
            store_segment(engine, parse_segment(body, f"node-{n}", seq, sha256_hex(body)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'collector.db'}")
        migrate(engine)
        fill(engine, args.windows, args.dim)
        index = EmbeddingIndex(engine)
        start = time.perf_counter()
        size = index.refresh("sea-sim")
        build_s = time.perf_counter() - start
        ids, vectors = stored_embeddings(engine, "sea-sim")
        rng = np.random.default_rng(0)
        queries = vectors[rng.choice(len(vectors), args.queries, replace=False)]
        queries = queries + rng.normal(0, 0.25, queries.shape).astype(np.float32)
        start = time.perf_counter()
        exact = exact_search(ids, vectors, queries, args.k)
        exact_ms = 1000 * (time.perf_counter() - start) / args.queries
        start = time.perf_counter()
        found = [[i for i, _ in index.search("sea-sim", q, args.k)] for q in queries]
        hnsw_ms = 1000 * (time.perf_counter() - start) / args.queries
        recall = float(np.mean([len(set(f) & set(e)) / args.k for f, e in zip(found, exact)]))
        print(json.dumps({"windows": size, "dim": args.dim, "queries": args.queries, "k": args.k,
                          "hnsw_M": HNSW_NEIGHBOURS, "ef_search": EF_SEARCH,
                          f"recall_at_{args.k}": round(recall, 4),
                          "index_build_s": round(build_s, 2),
                          "hnsw_query_ms": round(hnsw_ms, 3),
                          "exact_query_ms_batched": round(exact_ms, 3)}))
        engine.dispose()


if __name__ == "__main__":
    main()
