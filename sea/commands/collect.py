"""The collector: `sea collect serve | add-node | migrate`.

    sea collect serve [--db URL] [--host 127.0.0.1] [--port 8080]
    sea collect add-node [--db URL] NODE_ID      prints the node's token once
    sea collect migrate [--db URL]               upgrade the schema (serve does it too)

URL is sqlite:///PATH (default: sea-collector.db in the current directory) or
postgresql://USER@HOST:PORT/DB. Several `serve` processes may share one PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from sea.settings import AT_LEAST_ONE, Interval, Settings, setting
from sea.settings_cli import Command


@dataclass(frozen=True, kw_only=True)
class CollectSettings(Settings):
    """The database every action works on (`sea collect migrate` has nothing else)."""

    db: str = setting("sqlite:///sea-collector.db", metavar="URL",
                      help="database URL: sqlite:///PATH (relative to the current directory) "
                           "or postgresql://USER@HOST:PORT/DB")


@dataclass(frozen=True, kw_only=True)
class ServeSettings(CollectSettings):
    host: str = setting("127.0.0.1", help="address to listen on")
    port: int = setting(8080, check=Interval(1, 65535), help="port to listen on")
    max_segment_mb: int = setting(64, check=AT_LEAST_ONE,
                                  help="larger uploads are refused with 413")
    stale_after: int = setting(600, check=AT_LEAST_ONE, metavar="SECONDS",
                               help="a node unseen this long is shown as stale")
    ssl_certfile: str | None = setting(None, help="serve HTTPS with this certificate (PEM)")
    ssl_keyfile: str | None = setting(None, help="the certificate's private key (PEM)")


@dataclass(frozen=True, kw_only=True)
class AddNodeSettings(CollectSettings):
    node_id: str = setting(positional=True, help="the node's id, as in its node.toml")
    replace: bool = setting(False, help="give an already registered node a new token")


def run_serve(settings: ServeSettings) -> int:
    import uvicorn

    from sea.collector.app import create_app

    app = create_app(settings.db, max_segment_bytes=settings.max_segment_mb * 1024 * 1024,
                     stale_after_s=settings.stale_after)
    uvicorn.run(app, host=settings.host, port=settings.port,
                ssl_certfile=settings.ssl_certfile, ssl_keyfile=settings.ssl_keyfile,
                log_level="info")
    return 0


def _migrated(db: str):
    from sea.collector.db import make_engine, migrate

    engine = make_engine(db)
    return engine, migrate(engine)


def run_add_node(settings: AddNodeSettings) -> int:
    from sea.collector.auth import NodeExists, add_node

    engine, _ = _migrated(settings.db)
    try:
        print(add_node(engine, settings.node_id, replace=settings.replace))
    except NodeExists as exc:
        raise NodeExists(f"{exc} (give it a new token with --replace)") from None
    return 0


def run_migrate(settings: CollectSettings) -> int:
    _, revision = _migrated(settings.db)
    print(f"schema at revision {revision}")
    return 0


COMMAND = {
    "serve": Command(ServeSettings, run_serve,
                     help="run the collector (upload endpoint, query API, dashboard)"),
    "add-node": Command(AddNodeSettings, run_add_node,
                        help="register a node and print its token (shown once)"),
    "migrate": Command(CollectSettings, run_migrate, help="create or upgrade the database schema"),
}
