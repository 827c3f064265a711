"""Query by example over stored embeddings: the HNSW index against exact search."""

from __future__ import annotations

import numpy as np
from collector_support import post

from sea.collector.search import EmbeddingIndex, exact_search, stored_embeddings
from sea.collector.simulate import segment_bytes


def test_search_by_stored_window_finds_same_class(collector):
    client, engine = collector
    for seq in range(3):
        assert post(client, segment_bytes("node-1", seq, seq * 200, 200), seq=seq).status_code == 200
    levels = client.get("/api/v1/nodes/node-1/levels").json()
    reply = client.post("/api/v1/search", json={"node_id": "node-1", "index": 30, "k": 10})
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert len(results) == 10 and all(r["index"] != 30 for r in results)
    assert [r["similarity"] for r in results] == sorted((r["similarity"] for r in results),
                                                         reverse=True)
    # windows of one minute share a class, and embeddings cluster by class
    same_class = levels["top_label"][30]
    minute_class = {levels["index"][i]: levels["top_label"][i] for i in range(len(levels["index"]))}
    assert sum(minute_class[r["index"]] == same_class for r in results) >= 8
    assert all(isinstance(r["t_ms"], int) for r in results)

    # windows stored after the first query are found by the next one
    post(client, segment_bytes("node-1", 3, 600, 60), seq=3)
    reply = client.post("/api/v1/search", json={"node_id": "node-1", "index": 610, "k": 50})
    found = [r["index"] for r in reply.json()["results"]]
    assert len(found) == 50 and 610 not in found and any(i >= 600 for i in found)


def test_search_errors_are_400(collector):
    client, _ = collector
    post(client, segment_bytes("node-1", 0, 0, 5))
    for query in ({"node_id": "node-1", "index": 99}, {"k": 3},
                  {"embedding": [1.0, 2.0], "model_id": "sea-sim"}):
        reply = client.post("/api/v1/search", json=query)
        assert reply.status_code == 400, (query, reply.text)
    reply = client.post("/api/v1/search", json={"embedding": [0.0] * 16, "model_id": "other"})
    assert reply.json()["results"] == []


def test_hnsw_recall_at_10_against_exact(collector):
    client, engine = collector
    for seq in range(30):
        reply = post(client, segment_bytes("node-1", seq, seq * 100, 100, dim=32), seq=seq)
        assert reply.status_code == 200
    index = EmbeddingIndex(engine)
    assert index.refresh("sea-sim") == 3000
    ids, vectors = stored_embeddings(engine, "sea-sim")
    queries = np.random.default_rng(0).normal(size=(50, 32)) + vectors[::60]
    exact = exact_search(ids, vectors, queries, 10)
    found = [[i for i, _ in index.search("sea-sim", q, 10)] for q in queries]
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])
    assert recall >= 0.9, recall
