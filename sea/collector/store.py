"""Writes that store every window exactly once, and the queries behind the API and dashboard.

Exactly once rests on the database, not on the collector process: windows are unique on
(node_id, idx) and inserted with ON CONFLICT DO NOTHING, so a replayed or concurrently uploaded
segment (two collectors, one PostgreSQL) adds nothing the second time.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from sea.collector.schema import nodes, periods, segments, windows
from sea.collector.segment import Segment
from sea.errors import SeaError

HOUR_MS = 3_600_000


class SegmentConflict(SeaError):
    """The node already delivered this sequence number with other content."""


def _insert(conn: Connection, table: sa.Table):
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def now_ms() -> int:
    return int(time.time() * 1000)


def store_segment(engine: Engine, segment: Segment) -> tuple[int, int]:
    """Store `segment` in one transaction; returns (new windows, windows already stored)."""
    with engine.begin() as conn:
        conn.execute(_insert(conn, segments).values(
            node_id=segment.node_id, seq=segment.seq, digest=segment.digest,
            model_id=segment.model_id, bundle_sha256=segment.bundle_sha256,
            hop_seconds=segment.hop_seconds, classes=segment.classes,
            created_ms=segment.created_ms, received_ms=now_ms(),
            n_windows=len(segment.windows)).on_conflict_do_nothing())
        digest = conn.execute(sa.select(segments.c.digest).where(
            segments.c.node_id == segment.node_id, segments.c.seq == segment.seq)).scalar_one()
        if digest != segment.digest:
            raise SegmentConflict(f"node {segment.node_id!r} seq {segment.seq} was stored with "
                                  f"digest {digest}, this upload has {segment.digest}")
        stored = 0
        if segment.windows:
            stmt = (_insert(conn, windows).on_conflict_do_nothing(index_elements=["node_id", "idx"])
                    .returning(windows.c.id))
            stored = len(conn.execute(stmt, segment.windows).all())
        if segment.periods:
            conn.execute(_insert(conn, periods).on_conflict_do_nothing(), segment.periods)
        conn.execute(nodes.update().where(nodes.c.node_id == segment.node_id)
                     .values(last_seen_ms=now_ms()))
    return stored, len(segment.windows) - stored


def _range(column, start_ms: int | None, end_ms: int | None) -> list:
    clauses = []
    if start_ms is not None:
        clauses.append(column >= start_ms)
    if end_ms is not None:
        clauses.append(column < end_ms)
    return clauses


def node_status(engine: Engine, stale_after_s: float = 600.0) -> list[dict]:
    """Latest status per node: last seen, newest window, window and error counts, health."""
    per_node = (sa.select(windows.c.node_id, sa.func.count().label("n"),
                          sa.func.max(windows.c.t_ms).label("last_t_ms"),
                          sa.func.count(windows.c.error).label("errors"))
                .group_by(windows.c.node_id).subquery())
    latest_seg = (sa.select(segments.c.node_id, sa.func.max(segments.c.seq).label("seq"))
                  .group_by(segments.c.node_id).subquery())
    query = (sa.select(nodes.c.node_id, nodes.c.last_seen_ms, per_node.c.n, per_node.c.last_t_ms,
                       per_node.c.errors, segments.c.model_id, segments.c.seq)
             .outerjoin(per_node, per_node.c.node_id == nodes.c.node_id)
             .outerjoin(latest_seg, latest_seg.c.node_id == nodes.c.node_id)
             .outerjoin(segments, sa.and_(segments.c.node_id == latest_seg.c.node_id,
                                          segments.c.seq == latest_seg.c.seq))
             .order_by(nodes.c.node_id))
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    now = now_ms()
    result = []
    for row in rows:
        last_seen = row["last_seen_ms"]
        if last_seen is None:
            health = "never seen"
        elif now - last_seen > stale_after_s * 1000:
            health = "stale"
        elif row["errors"]:
            health = "errors"
        else:
            health = "ok"
        result.append({"node_id": row["node_id"], "last_seen_ms": last_seen, "health": health,
                       "windows": row["n"] or 0, "errors": row["errors"] or 0,
                       "last_window_ms": row["last_t_ms"], "model_id": row["model_id"],
                       "last_seq": row["seq"]})
    return result


def levels(engine: Engine, node_id: str, start_ms: int | None = None, end_ms: int | None = None,
           limit: int = 100_000) -> dict:
    """Per-window levels of one node, in time order (columns, for plotting)."""
    query = (sa.select(windows.c.idx, windows.c.t_ms, windows.c.laeq, windows.c.lafmax,
                       windows.c.lceq, windows.c.top_label, windows.c.top_prob)
             .where(windows.c.node_id == node_id, *_range(windows.c.t_ms, start_ms, end_ms))
             .order_by(windows.c.t_ms).limit(limit))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    keys = ("index", "t_ms", "laeq", "lafmax", "lceq", "top_label", "top_prob")
    return {key: [row[i] for row in rows] for i, key in enumerate(keys)}


def detections(engine: Engine, node_id: str, start_ms: int | None = None,
               end_ms: int | None = None, min_prob: float = 0.5) -> list[dict]:
    """Windows of one node whose most probable class reaches `min_prob`, and the periods'
    aggregated classes."""
    query = (sa.select(windows.c.idx, windows.c.t_ms, windows.c.top_label, windows.c.top_prob)
             .where(windows.c.node_id == node_id, windows.c.top_prob >= min_prob,
                    *_range(windows.c.t_ms, start_ms, end_ms))
             .order_by(windows.c.t_ms))
    with engine.connect() as conn:
        return [{"index": i, "t_ms": t, "label": label, "prob": p}
                for i, t, label, p in conn.execute(query)]


def node_periods(engine: Engine, node_id: str, start_ms: int | None = None,
                 end_ms: int | None = None) -> list[dict]:
    query = (sa.select(periods).where(periods.c.node_id == node_id,
                                      *_range(periods.c.t_ms, start_ms, end_ms))
             .order_by(periods.c.t_ms))
    with engine.connect() as conn:
        return [{"start_index": r.start_idx, "end_index": r.end_idx, "t_ms": r.t_ms,
                 "laeq": r.laeq, "top": r.top} for r in conn.execute(query)]


def hourly_class_counts(engine: Engine, start_ms: int | None = None, end_ms: int | None = None,
                        min_prob: float = 0.5) -> list[dict]:
    """Detections per hour and class across all nodes (integer hour buckets in SQL)."""
    hour = (windows.c.t_ms // HOUR_MS).label("hour")
    query = (sa.select(hour, windows.c.top_label, sa.func.count())
             .where(windows.c.top_prob >= min_prob, *_range(windows.c.t_ms, start_ms, end_ms))
             .group_by(hour, windows.c.top_label).order_by(hour, windows.c.top_label))
    with engine.connect() as conn:
        return [{"hour_ms": int(h) * HOUR_MS, "label": label, "count": n}
                for h, label, n in conn.execute(query)]


def count_windows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(windows)).scalar_one()
