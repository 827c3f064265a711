"""The collector's HTTP application (FastAPI): segment upload, query API, dashboard.

Stateless by design: everything lives in the database, so any number of collector processes
can serve one PostgreSQL behind a load balancer. Database calls are blocking (SQLAlchemy), so
handlers run them in Starlette's thread pool.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sea.collector import store
from sea.collector.auth import token_matches
from sea.collector.db import make_engine, migrate
from sea.collector.search import EmbeddingIndex, SearchError, describe
from sea.collector.segment import MAX_INT, SegmentError, parse_segment
from sea.collector.store import SegmentConflict

log = logging.getLogger("sea.collector")

STATIC = Path(__file__).with_name("static")
DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024  # an hour of 1-s windows with 512-d embeddings: ~20 MB
DIGEST = re.compile(r"sha256=([0-9a-fA-F]{64})")


class Refused(HTTPException):
    """An upload refused with a 4xx: logged with the node and reason, nothing stored."""


class SearchRequest(BaseModel):
    embedding: list[float] | None = None
    model_id: str | None = None
    node_id: str | None = None
    index: int | None = None
    k: int = Field(10, ge=1, le=1000)


def _upload_headers(request: Request) -> tuple[str, str, int, str]:
    """(node_id, token, seq, digest hex) from the upload headers, or 400/401."""
    auth = request.headers.get("authorization", "")
    node_id = request.headers.get("x-sea-node", "")
    if not auth.startswith("Bearer ") or not node_id:
        raise Refused(401, "missing bearer token or X-Sea-Node")
    seq_text = request.headers.get("x-sea-seq", "")
    if not seq_text.isdigit() or int(seq_text) > MAX_INT:
        raise Refused(400, "X-Sea-Seq must be an integer from 0 to 2**63-1")
    seq = int(seq_text)
    match = DIGEST.fullmatch(request.headers.get("x-sea-digest", ""))
    if not match:
        raise Refused(400, "X-Sea-Digest must be sha256=<64 hex digits>")
    return node_id, auth[len("Bearer "):], seq, match.group(1)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it exceeds `limit` (whatever Content-Length says)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"segment of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"segment exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(db_url: str, max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
               stale_after_s: float = 600.0) -> FastAPI:
    """The collector for the database at `db_url`, its schema upgraded first."""
    engine = make_engine(db_url)
    migrate(engine)
    index = EmbeddingIndex(engine)
    app = FastAPI(title="sea collector", docs_url="/api/docs", redoc_url=None)
    app.state.engine = engine

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        log.warning("refused upload from %s (node %r, seq %r): %d %s",
                    request.client.host if request.client else "?",
                    request.headers.get("x-sea-node"), request.headers.get("x-sea-seq"),
                    exc.status_code, exc.detail)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    async def database_down(request: Request, exc: sa.exc.SQLAlchemyError) -> JSONResponse:
        # restarting, unreachable or saturated: the node keeps the segment and retries
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        log.error("database unavailable: %s", reason[0] if reason else type(exc).__name__)
        return JSONResponse({"detail": "database unavailable, retry later"}, status_code=503)

    app.add_exception_handler(sa.exc.OperationalError, database_down)
    app.add_exception_handler(sa.exc.TimeoutError, database_down)  # connection pool exhausted

    @app.exception_handler(SearchError)
    async def bad_search(request: Request, exc: SearchError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.post("/api/v1/segments")
    async def upload(request: Request) -> dict:
        node_id, token, seq, digest = _upload_headers(request)
        if not await run_in_threadpool(token_matches, engine, node_id, token):
            raise Refused(401, "unknown node or wrong token")
        body = await _read_body(request, max_segment_bytes)
        try:
            segment = await run_in_threadpool(parse_segment, body, node_id, seq, digest)
            stored, duplicates = await run_in_threadpool(store.store_segment, engine, segment)
        except SegmentError as exc:
            raise Refused(400, f"malformed segment: {exc}") from None
        except SegmentConflict as exc:
            raise Refused(409, str(exc)) from None
        log.info("node %s seq %d: %d windows stored, %d already stored", node_id, seq, stored,
                 duplicates)
        return {"stored": stored, "duplicates": duplicates, "seq": seq}

    @app.get("/api/v1/nodes")
    def nodes() -> list[dict]:
        return store.node_status(engine, stale_after_s)

    @app.get("/api/v1/nodes/{node_id}/levels")
    def levels(node_id: str, start_ms: int | None = None, end_ms: int | None = None) -> dict:
        return store.levels(engine, node_id, start_ms, end_ms)

    @app.get("/api/v1/nodes/{node_id}/detections")
    def detections(node_id: str, start_ms: int | None = None, end_ms: int | None = None,
                   min_prob: float = Query(0.5, ge=0, le=1)) -> list[dict]:
        return store.detections(engine, node_id, start_ms, end_ms, min_prob)

    @app.get("/api/v1/nodes/{node_id}/periods")
    def periods(node_id: str, start_ms: int | None = None, end_ms: int | None = None) -> list[dict]:
        return store.node_periods(engine, node_id, start_ms, end_ms)

    @app.get("/api/v1/classes/hourly")
    def hourly(start_ms: int | None = None, end_ms: int | None = None,
               min_prob: float = Query(0.5, ge=0, le=1)) -> list[dict]:
        return store.hourly_class_counts(engine, start_ms, end_ms, min_prob)

    @app.post("/api/v1/search")
    def search(query: SearchRequest) -> dict:
        """Nearest stored windows to an embedding (with model_id) or to a stored window
        (node_id and index; the window itself is left out)."""
        exclude = None
        if query.node_id is not None and query.index is not None:
            model_id, embedding, exclude = index.window_embedding(query.node_id, query.index)
        elif query.embedding is not None and query.model_id is not None:
            model_id, embedding = query.model_id, query.embedding
        else:
            raise SearchError("give node_id and index, or embedding and model_id")
        hits = index.search(model_id, embedding, query.k, exclude_id=exclude)
        return {"model_id": model_id, "results": describe(engine, hits)}

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
