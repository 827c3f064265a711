"""Two collector processes on one PostgreSQL, the same segments uploaded to both at once:
every window is stored exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import sqlalchemy as sa
from collector_support import CollectorProcess, upload_headers

from sea.collector.auth import add_node
from sea.collector.db import make_engine, migrate
from sea.collector.schema import windows
from sea.collector.simulate import segment_bytes
from sea.collector.store import count_windows


def test_two_collectors_one_postgresql_store_each_window_once(pg_url, tmp_path):
    engine = make_engine(pg_url)
    migrate(engine)
    tokens = {f"node-{n}": add_node(engine, f"node-{n}") for n in range(6)}
    collectors = [CollectorProcess(pg_url, log_path=tmp_path / f"collector-{i}.log")
                  for i in range(2)]
    try:
        for collector in collectors:
            collector.start()
        uploads = [(node, seq, segment_bytes(node, seq, seq * 40, 40))
                   for node in tokens for seq in range(5)]

        def send(job):  # every segment to both collectors at the same time: racing replays
            node, seq, body = job
            headers = upload_headers(node, tokens[node], seq, body)
            with ThreadPoolExecutor(2) as both:
                replies = list(both.map(lambda c: httpx.post(
                    c.url + "/api/v1/segments", content=body, headers=headers, timeout=60),
                    collectors))
            return [r.json() for r in replies]

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(send, uploads))
    finally:
        for collector in collectors:
            collector.stop()
    for (node, seq, _), pair in zip(uploads, results):
        assert sorted(r["stored"] for r in pair) == [0, 40], (node, seq, pair)
        assert all(r["stored"] + r["duplicates"] == 40 for r in pair)
    assert count_windows(engine) == len(uploads) * 40
    with engine.connect() as conn:
        per_node = dict(conn.execute(sa.select(windows.c.node_id, sa.func.count(
            sa.distinct(windows.c.idx))).group_by(windows.c.node_id)).all())
    assert per_node == {node: 200 for node in tokens}
    engine.dispose()
