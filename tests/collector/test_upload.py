"""The upload endpoint on SQLite and PostgreSQL: round trip, idempotent replay, refusals."""

from __future__ import annotations

import json
import logging

import pytest
from collector_support import post, upload_headers

from sea.collector.simulate import CLASSES, segment_bytes
from sea.collector.store import count_windows


def test_round_trip_and_queries(collector):
    client, engine = collector
    body = segment_bytes("node-1", 0, 0, 120)
    reply = post(client, body)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"stored": 120, "duplicates": 0, "seq": 0}
    sent = [json.loads(line) for line in body.decode().splitlines()[1:]]

    levels = client.get("/api/v1/nodes/node-1/levels").json()
    assert levels["index"] == list(range(120))
    assert levels["laeq"] == [w["laeq"] for w in sent]
    assert levels["top_label"] == [max(w["top"], key=lambda p: p[1])[0] for w in sent]
    first_minute = client.get("/api/v1/nodes/node-1/levels",
                              params={"end_ms": levels["t_ms"][60]}).json()
    assert first_minute["index"] == list(range(60))

    detections = client.get("/api/v1/nodes/node-1/detections", params={"min_prob": 0.5}).json()
    assert detections and all(d["prob"] >= 0.5 for d in detections)
    hourly = client.get("/api/v1/classes/hourly", params={"min_prob": 0}).json()
    assert sum(r["count"] for r in hourly) == 120
    assert {r["label"] for r in hourly} == set(CLASSES[:2])  # minute 0 and minute 1

    (status,) = client.get("/api/v1/nodes").json()
    assert status["node_id"] == "node-1" and status["windows"] == 120
    assert status["health"] == "ok" and status["last_seq"] == 0
    assert status["last_window_ms"] == levels["t_ms"][-1]
    assert count_windows(engine) == 120


def test_replay_and_overlap_store_each_window_once(collector):
    client, engine = collector
    body = segment_bytes("node-1", 3, 100, 50)
    assert post(client, body, seq=3).json()["stored"] == 50
    assert post(client, body, seq=3).json() == {"stored": 0, "duplicates": 50, "seq": 3}
    # a later segment overlapping the first (a node resent windows after a crash)
    overlapping = segment_bytes("node-1", 4, 140, 20)
    assert post(client, overlapping, seq=4).json() == {"stored": 10, "duplicates": 10, "seq": 4}
    assert count_windows(engine) == 60  # indexes 100..159


def test_same_seq_other_content_is_a_conflict(collector):
    client, engine = collector
    assert post(client, segment_bytes("node-1", 0, 0, 5)).status_code == 200
    reply = post(client, segment_bytes("node-1", 0, 5, 5))
    assert reply.status_code == 409
    assert count_windows(engine) == 5


def test_wrong_token_and_unknown_node_are_401(collector, caplog):
    client, engine = collector
    body = segment_bytes("node-1", 0, 0, 5)
    with caplog.at_level(logging.WARNING, logger="sea.collector"):
        assert post(client, body, token="not-the-token").status_code == 401
        assert post(client, segment_bytes("node-2", 0, 0, 5), node="node-2").status_code == 401
        headers = upload_headers("node-1", client.token, 0, body)
        del headers["Authorization"]
        assert client.post("/api/v1/segments", content=body, headers=headers).status_code == 401
    assert "refused upload" in caplog.text and "401" in caplog.text
    assert count_windows(engine) == 0


def test_digest_mismatch_is_400(collector, caplog):
    client, engine = collector
    body = segment_bytes("node-1", 0, 0, 5)
    with caplog.at_level(logging.WARNING, logger="sea.collector"):
        reply = post(client, body, **{"X-Sea-Digest": "sha256=" + "0" * 64})
    assert reply.status_code == 400 and "digest mismatch" in reply.json()["detail"]
    assert "digest mismatch" in caplog.text
    assert count_windows(engine) == 0


def test_oversized_is_413(collector):
    client, engine = collector
    body = segment_bytes("node-1", 0, 0, 2000)  # over the fixture's 200 kB limit
    assert len(body) > 200_000
    assert post(client, body).status_code == 413

    def chunks():  # no Content-Length: the limit holds while streaming
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]

    headers = upload_headers("node-1", client.token, 0, body)
    reply = client.post("/api/v1/segments", content=chunks(), headers=headers)
    assert reply.status_code == 413
    assert count_windows(engine) == 0


def _mutate(body: bytes, line: int, change) -> bytes:
    lines = body.decode().splitlines()
    record = json.loads(lines[line])
    change(record)
    lines[line] = json.dumps(record)
    return ("\n".join(lines) + "\n").encode()


MALFORMED = {
    "not json": lambda b: b + b"{not json\n",
    "bare NaN": lambda b: b.replace(b'"laeq": ', b'"laeq": NaN, "x": ', 1),
    "header node differs": lambda b: _mutate(b, 0, lambda r: r.update(node_id="node-9")),
    "header seq differs": lambda b: _mutate(b, 0, lambda r: r.update(seq=7)),
    "index not increasing": lambda b: _mutate(b, 3, lambda r: r.update(index=0)),
    "level missing": lambda b: _mutate(b, 2, lambda r: r.pop("laeq")),
    "bad utc": lambda b: _mutate(b, 2, lambda r: r.update(utc="yesterday")),
    "bad top": lambda b: _mutate(b, 2, lambda r: r.update(top=[["car_horn", 7]])),
    "unknown record": lambda b: _mutate(b, 2, lambda r: r.update(type="frame")),
    "index beyond BIGINT": lambda b: _mutate(b, 5, lambda r: r.update(index=2**63)),
    "deeply nested": lambda b: b + b"[" * 50_000 + b"]" * 50_000 + b"\n",
    "empty": lambda b: b"",
    "binary": lambda b: b"\xff\xfe\x00garbage",
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_is_400_and_nothing_stored(collector, case):
    client, engine = collector
    body = MALFORMED[case](segment_bytes("node-1", 0, 0, 5))
    reply = post(client, body)
    assert reply.status_code == 400, (case, reply.text)
    assert reply.json()["detail"].startswith("malformed segment")
    assert count_windows(engine) == 0


def test_bad_upload_headers_are_400(collector):
    client, _ = collector
    body = segment_bytes("node-1", 0, 0, 5)
    for seq in ("zero", "-1", str(2**63)):
        assert post(client, body, **{"X-Sea-Seq": seq}).status_code == 400
    assert post(client, body, **{"X-Sea-Digest": "md5=abc"}).status_code == 400


def test_error_windows_are_stored_without_levels(collector):
    client, engine = collector
    body = _mutate(segment_bytes("node-1", 0, 0, 5), 2,
                   lambda r: (r.pop("laeq"), r.update(error="frontend produced NaN")))
    assert post(client, body).json()["stored"] == 5
    (status,) = client.get("/api/v1/nodes").json()
    assert status["errors"] == 1 and status["health"] == "errors"
    assert client.get("/api/v1/nodes/node-1/levels").json()["laeq"][1] is None
