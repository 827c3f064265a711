"""Parse and check an uploaded segment (docs: SEGMENTS.md) before anything is stored.

Every check that fails raises `SegmentError` with one line; the upload is then refused whole,
so a segment is stored completely or not at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from sea.errors import SeaError

SCHEMA = 1


class SegmentError(SeaError):
    """The upload is malformed or does not match its headers."""


@dataclass
class Segment:
    node_id: str
    seq: int
    digest: str
    model_id: str
    bundle_sha256: str
    hop_seconds: float
    classes: list[str]
    created_ms: int
    windows: list[dict] = field(default_factory=list)  # rows for the `windows` table
    periods: list[dict] = field(default_factory=list)  # rows for the `periods` table


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _fail(line_no: int, message: str) -> SegmentError:
    return SegmentError(f"line {line_no}: {message}")


def _epoch_ms(value: object, line_no: int, key: str) -> int:
    if not isinstance(value, str):
        raise _fail(line_no, f"{key} must be an ISO-8601 string")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(line_no, f"{key} {value!r} is not ISO-8601") from None
    if t.tzinfo is None:  # the contract writes UTC; a naive time is taken as UTC
        t = t.replace(tzinfo=timezone.utc)
    return round(t.timestamp() * 1000)


def _number(record: dict, key: str, line_no: int, required: bool) -> float | None:
    value = record.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(line_no, f"{key} must be a finite number")
    return float(value)


MAX_INT = 2**63 - 1  # the database's BIGINT


def _int(record: dict, key: str, line_no: int) -> int:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise _fail(line_no, f"{key} must be an integer from 0 to 2**63-1")
    return value


def _top(value: object, line_no: int) -> list[list]:
    if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
            and isinstance(p[1], (int, float)) and not isinstance(p[1], bool)
            and 0.0 <= p[1] <= 1.0 for p in value):
        raise _fail(line_no, "top must be a list of [label, probability in 0..1]")
    return [[label, float(prob)] for label, prob in value]


def _embedding(value: object, line_no: int) -> bytes:
    if not isinstance(value, list) or not value or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise _fail(line_no, "embedding must be a non-empty list of numbers")
    vector = np.asarray(value, dtype="<f4")
    if not np.isfinite(vector).all():
        raise _fail(line_no, "embedding must be finite")
    return vector.tobytes()


def _reject_constant(token: str) -> float:
    raise ValueError(f"bare {token} is not allowed")


def _json_line(raw: bytes, line_no: int) -> dict:
    try:
        record = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _fail(line_no, f"not a JSON object ({exc})") from None
    if not isinstance(record, dict):
        raise _fail(line_no, "not a JSON object")
    return record


def parse_segment(body: bytes, node_id: str, seq: int, digest: str) -> Segment:
    """Check `body` against the upload headers (node id, seq, sha256 digest) and the segment
    schema; returns the rows to store."""
    actual = sha256_hex(body)
    if not hmac.compare_digest(actual, digest.lower()):
        raise SegmentError(f"digest mismatch: the body's sha256 is {actual}, the header says {digest}")
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise SegmentError("empty segment")
    header = _json_line(lines[0], 1)
    if header.get("type") != "segment" or header.get("schema") != SCHEMA:
        raise _fail(1, f"not a segment header of schema {SCHEMA}")
    if header.get("node_id") != node_id or header.get("seq") != seq:
        raise _fail(1, f"header names node {header.get('node_id')!r} seq {header.get('seq')!r}, "
                       f"the upload node {node_id!r} seq {seq}")
    classes = header.get("classes", [])
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise _fail(1, "classes must be a list of strings")
    for key in ("model_id", "bundle_sha256"):
        if not isinstance(header.get(key), str):
            raise _fail(1, f"{key} must be a string")
    hop = _number(header, "hop_seconds", 1, required=True)
    segment = Segment(node_id=node_id, seq=seq, digest=actual, model_id=header["model_id"],
                      bundle_sha256=header["bundle_sha256"], hop_seconds=hop, classes=classes,
                      created_ms=_epoch_ms(header.get("created_utc"), 1, "created_utc"))
    last_index = -1
    for line_no, raw in enumerate(lines[1:], start=2):
        record = _json_line(raw, line_no)
        kind = record.get("type")
        if kind == "window":
            row = _window_row(record, line_no, segment)
            if row["idx"] <= last_index:
                raise _fail(line_no, f"index {row['idx']} does not increase")
            last_index = row["idx"]
            segment.windows.append(row)
        elif kind == "period":
            segment.periods.append(_period_row(record, line_no, node_id))
        else:
            raise _fail(line_no, f"unknown record type {kind!r}")
    dims = {len(w["embedding"]) for w in segment.windows if w["embedding"] is not None}
    if len(dims) > 1:
        raise SegmentError("embeddings of different sizes in one segment")
    return segment


def _window_row(record: dict, line_no: int, segment: Segment) -> dict:
    error = record.get("error")
    if error is not None and not isinstance(error, str):
        raise _fail(line_no, "error must be a string")
    levels = {key: _number(record, key, line_no, required=error is None)
              for key in ("laeq", "lafmax", "lceq")}
    top = _top(record["top"], line_no) if "top" in record else None
    best = max(top, key=lambda p: p[1]) if top else (None, None)
    embedding = record.get("embedding")
    return {"node_id": segment.node_id, "idx": _int(record, "index", line_no), "seq": segment.seq,
            "t_ms": _epoch_ms(record.get("utc"), line_no, "utc"), **levels, "error": error,
            "top_label": best[0], "top_prob": best[1], "top": top, "model_id": segment.model_id,
            "embedding": None if embedding is None else _embedding(embedding, line_no)}


def _period_row(record: dict, line_no: int, node_id: str) -> dict:
    start, end = _int(record, "start_index", line_no), _int(record, "end_index", line_no)
    if end < start:
        raise _fail(line_no, "end_index is before start_index")
    return {"node_id": node_id, "start_idx": start, "end_idx": end,
            "t_ms": _epoch_ms(record.get("utc"), line_no, "utc"),
            "laeq": _number(record, "laeq", line_no, required=False),
            "top": _top(record.get("top", []), line_no)}
