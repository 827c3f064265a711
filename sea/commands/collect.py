"""The collector: `sea collect serve | add-node | migrate`.

    sea collect serve [--db URL] [--host 127.0.0.1] [--port 8080]
    sea collect add-node [--db URL] NODE_ID      prints the node's token once
    sea collect migrate [--db URL]               upgrade the schema (serve does it too)

URL is sqlite:///PATH (default: sea-collector.db in the current directory) or
postgresql://USER@HOST:PORT/DB. Several `serve` processes may share one PostgreSQL.
"""

from __future__ import annotations

import argparse

from sea.argtypes import positive_int

DEFAULT_DB = "sqlite:///sea-collector.db"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="collect_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--db", default=DEFAULT_DB,
                       help=f"database URL (default {DEFAULT_DB}, in the current directory)")
        return p

    serve = action("serve", "run the collector (upload endpoint, query API, dashboard)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=positive_int, default=8080, help="port to listen on")
    serve.add_argument("--max-segment-mb", type=positive_int, default=64,
                       help="larger uploads are refused with 413 (default 64)")
    serve.add_argument("--stale-after", type=positive_int, default=600, metavar="SECONDS",
                       help="a node unseen this long is shown as stale (default 600)")
    serve.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    add = action("add-node", "register a node and print its token (shown once)")
    add.add_argument("node_id", help="the node's id, as in its node.toml")
    add.add_argument("--replace", action="store_true",
                     help="give an already registered node a new token")
    action("migrate", "create or upgrade the database schema")


def run(args: argparse.Namespace) -> int:
    from sea.collector.db import make_engine, migrate

    if args.collect_command == "serve":
        import uvicorn

        from sea.collector.app import create_app

        app = create_app(args.db, max_segment_bytes=args.max_segment_mb * 1024 * 1024,
                         stale_after_s=args.stale_after)
        uvicorn.run(app, host=args.host, port=args.port, ssl_certfile=args.ssl_certfile,
                    ssl_keyfile=args.ssl_keyfile, log_level="info")
        return 0
    engine = make_engine(args.db)
    revision = migrate(engine)
    if args.collect_command == "add-node":
        from sea.collector.auth import NodeExists, add_node

        try:
            print(add_node(engine, args.node_id, replace=args.replace))
        except NodeExists as exc:
            raise NodeExists(f"{exc} (give it a new token with --replace)") from None
    else:
        print(f"schema at revision {revision}")
    return 0
