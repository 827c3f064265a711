"""Collector under load and faults, on loopback (a benchmark, not a timed test).

load:  N simulated nodes upload their windows concurrently (accelerated: no waiting between
       segments) to one `sea collect serve` process; prints ingest windows/s and upload
       latency (p50, p95) for SQLite and PostgreSQL.
faults: nodes run the real node-side Uploader (deploy/node/upload.py) against PostgreSQL
       while segments keep appearing; the collector is SIGKILLed and restarted, PostgreSQL is
       crash-stopped and restarted, one node's network is cut (its port closed) for a while,
       and malformed, oversized, replayed and wrongly-signed uploads are sent: each must get
       its expected answer (a logged 4xx; a byte-identical replay, which is a node's retry,
       200 with nothing stored). At the end the stored window count must equal the sent
       count, with no duplicates; the run exits 1 otherwise.

    python benchmarks/bench_collector.py load [--nodes 200] [--minutes 60] [--backend sqlite postgresql]
    python benchmarks/bench_collector.py faults [--nodes 20] [--cut-seconds 60]

PostgreSQL runs in a throwaway cluster (tests/collector/collector_support.py: Debian's
postgresql package, started as the `postgres` user when root).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import shutil
import socket
import socketserver
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "collector"))

from collector_support import CollectorProcess, PgServer, free_port, upload_headers  # noqa: E402

from deploy.node.upload import Uploader  # noqa: E402
from sea.collector.auth import add_node  # noqa: E402
from sea.collector.db import make_engine, migrate  # noqa: E402
from sea.collector.schema import windows  # noqa: E402
from sea.collector.simulate import segment_bytes, write_closed  # noqa: E402

SEGMENT_WINDOWS = 60  # one segment per minute of 1-s windows


def database(backend: str, workdir: Path, pg: PgServer | None) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'collector.db'}"
    return pg.create_database(f"bench_{int(time.time() * 1000)}")


def register(url: str, nodes: list[str]) -> dict[str, str]:
    engine = make_engine(url)
    migrate(engine)
    tokens = {node: add_node(engine, node) for node in nodes}
    engine.dispose()
    return tokens


def stored_counts(url: str) -> tuple[int, int]:
    """(stored windows, distinct (node, index) pairs)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(windows)).scalar_one()
        distinct = conn.execute(sa.select(sa.func.count()).select_from(
            sa.select(windows.c.node_id, windows.c.idx).distinct().subquery())).scalar_one()
    engine.dispose()
    return total, distinct


async def _upload_node(client: httpx.AsyncClient, url: str, node: str, token: str,
                       segments: list[bytes], latencies: list[float]) -> None:
    for seq, body in enumerate(segments):
        headers = upload_headers(node, token, seq, body)
        while True:
            start = time.perf_counter()
            try:
                reply = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                await asyncio.sleep(0.5)
                continue
            if reply.status_code == 200:
                latencies.append(time.perf_counter() - start)
                break
            await asyncio.sleep(0.5)


async def _load(url: str, tokens: dict[str, str], segments: dict[str, list[bytes]]) -> tuple:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(limits=limits, timeout=300) as client:
        start = time.perf_counter()
        await asyncio.gather(*(_upload_node(client, url + "/api/v1/segments", node, token,
                                            segments[node], latencies)
                               for node, token in tokens.items()))
        return time.perf_counter() - start, latencies


def load(args: argparse.Namespace) -> None:
    nodes = [f"node-{n:04d}" for n in range(args.nodes)]
    n_segments = args.minutes * 60 // SEGMENT_WINDOWS
    print(f"generating {args.nodes} nodes x {n_segments} segments of {SEGMENT_WINDOWS} windows "
          f"(embedding dim {args.dim})", flush=True)
    segments = {node: [segment_bytes(node, seq, seq * SEGMENT_WINDOWS, SEGMENT_WINDOWS,
                                     dim=args.dim) for seq in range(n_segments)]
                for node in nodes}
    sent = args.nodes * n_segments * SEGMENT_WINDOWS
    pg = PgServer(fsync=True) if "postgresql" in args.backend else None
    try:
        for backend in args.backend:
            with tempfile.TemporaryDirectory() as tmp:
                url = database(backend, Path(tmp), pg)
                tokens = register(url, nodes)
                collector = CollectorProcess(url, log_path=Path(tmp) / "collector.log").start()
                try:
                    wall, latencies = asyncio.run(_load(collector.url, tokens, segments))
                finally:
                    collector.stop()
                stored, distinct = stored_counts(url)
                print(json.dumps({
                    "backend": backend, "nodes": args.nodes, "uploads": len(latencies),
                    "windows_sent": sent, "windows_stored": stored, "distinct": distinct,
                    "wall_s": round(wall, 1), "windows_per_s": round(sent / wall),
                    "latency_p50_ms": round(1000 * float(np.percentile(latencies, 50))),
                    "latency_p95_ms": round(1000 * float(np.percentile(latencies, 95)))}),
                    flush=True)
    finally:
        if pg:
            pg.destroy()


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.server.target_port))
        sockets = [self.request, upstream]
        self.server.open_sockets.update(sockets)

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in sockets:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        other = threading.Thread(target=pump, args=(upstream, self.request), daemon=True)
        other.start()
        pump(self.request, upstream)
        other.join()
        upstream.close()


class _Relay(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # the collector being down while the link is up: the node sees a reset


class Link:
    """One node's network: a TCP relay to the collector that can be cut (its port closed)."""

    def __init__(self, target_port: int):
        self.port = free_port()
        self.target_port = target_port
        self.server: socketserver.ThreadingTCPServer | None = None

    def up(self) -> None:
        self.server = _Relay(("127.0.0.1", self.port), _Pipe)
        self.server.target_port = self.target_port
        self.server.open_sockets = set()
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def cut(self) -> None:
        """Close the port and every connection through it."""
        self.server.shutdown()
        self.server.server_close()
        for s in list(self.server.open_sockets):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _bad_uploads(url: str, node: str, token: str, delivered: Path) -> dict[str, tuple[str, str]]:
    """Malformed, oversized, wrongly-signed and replayed uploads: per case (answer, expected
    answer). Their windows lie at indexes no node sends, so a stored one shows in the count."""
    deadline = time.monotonic() + 300
    while not delivered.exists():  # the replays need seq 0 acknowledged first
        if time.monotonic() > deadline:
            raise RuntimeError(f"{delivered} not acknowledged after 300 s")
        time.sleep(0.2)
    stray = segment_bytes(node, 10_000, 10_000_000, 5)
    altered = segment_bytes(node, 0, 20_000_000, 5)  # seq 0 again, other windows
    replayed = delivered.read_bytes()
    oversized = b"x" * (2 * 1024 * 1024)
    cases = {
        "malformed": (b"{not json\n", upload_headers(node, token, 10_001, b"{not json\n"), "400"),
        "oversized": (oversized, upload_headers(node, token, 10_002, oversized), "413"),
        "wrong token": (stray, upload_headers(node, "stolen-or-wrong", 10_000, stray), "401"),
        "wrong digest": (stray, {**upload_headers(node, token, 10_000, stray),
                                 "X-Sea-Digest": "sha256=" + "0" * 64}, "400"),
        "replayed seq, other content": (altered, upload_headers(node, token, 0, altered), "409"),
        # byte for byte a node's retry after a lost acknowledgement: acknowledged, nothing stored
        "replayed segment": (replayed, upload_headers(node, token, 0, replayed), "200 stored 0"),
    }
    answers = {}
    for name, (body, headers, expected) in cases.items():
        reply = httpx.post(url + "/api/v1/segments", content=body, headers=headers, timeout=60)
        answer = str(reply.status_code)
        if reply.status_code == 200:
            answer += f" stored {reply.json()['stored']}"
        answers[name] = (answer, expected)
    return answers


def _refusals_logged(log_path: Path) -> int:
    """The collector's 'refused upload' log lines with a 4xx status."""
    return sum(bool(re.search(r"refused upload .*: 4\d\d ", line))
               for line in log_path.read_text(errors="replace").splitlines())


def faults(args: argparse.Namespace) -> bool:
    """The fault run; True when every check held."""
    logging.getLogger("sea.node.upload").setLevel(logging.ERROR)  # retries are expected here
    nodes = [f"node-{n:03d}" for n in range(args.nodes)]
    root = Path(tempfile.mkdtemp(prefix="sea-faults-"))
    pg = PgServer(fsync=True)
    url = database("postgresql", root, pg)
    tokens = register(url, nodes)
    collector = CollectorProcess(url, log_path=root / "collector.log",
                                 extra_args=("--max-segment-mb", "1")).start()
    link = Link(collector.port)  # node-000's network
    link.up()
    stop = threading.Event()
    uploaders = []
    for node in nodes:
        port = link.port if node == nodes[0] else collector.port
        uploader = Uploader(f"http://127.0.0.1:{port}", node, tokens[node], root / node,
                            backoff_initial_s=0.2, backoff_max_s=5.0, poll_s=0.2)
        uploaders.append(uploader)
        threading.Thread(target=uploader.run, args=(stop,), daemon=True).start()

    sent = 0
    step = args.segment_every_s

    def write_round(seq: int) -> None:
        nonlocal sent
        for node in nodes:
            write_closed(root / node, seq, segment_bytes(node, seq, seq * SEGMENT_WINDOWS,
                                                         SEGMENT_WINDOWS))
            sent += SEGMENT_WINDOWS

    events: list[str] = []

    def log(message: str) -> None:
        events.append(f"{time.monotonic() - t0:6.1f}s {message}")
        print(events[-1], flush=True)

    t0 = time.monotonic()
    seq = 0
    plan = {2: "kill collector", 4: "restart collector", 6: "restart database", 8: "cut link",
            8 + max(1, round(args.cut_seconds / step)): "restore link", 10: "bad uploads"}
    rounds = max(args.rounds, max(plan) + 2)
    for seq in range(rounds):
        write_round(seq)
        action = plan.get(seq)
        if action == "kill collector":
            collector.kill()
            log("collector SIGKILLed")
        elif action == "restart collector":
            collector.start()
            log("collector restarted")
        elif action == "restart database":
            pg.stop("immediate")  # a crash: no clean shutdown
            log("PostgreSQL crash-stopped")
            time.sleep(2 * step)
            pg.start()
            log("PostgreSQL restarted")
        elif action == "cut link":
            link.cut()
            log(f"{nodes[0]}'s network cut (port {link.port} closed)")
        elif action == "restore link":
            link.up()
            log(f"{nodes[0]}'s network restored")
        elif action == "bad uploads":
            logged_before = _refusals_logged(collector.log_path)
            bad = _bad_uploads(collector.url, nodes[1], tokens[nodes[1]],
                               root / nodes[1] / "delivered" / "seg-00000000.jsonl")
            bad_logged = _refusals_logged(collector.log_path) - logged_before
            log("bad uploads, answer (expected): " + ", ".join(
                f"{name} {got} ({want})" for name, (got, want) in bad.items()))
        time.sleep(step)
    deadline = time.monotonic() + 300
    while any(u.pending() for u in uploaders) and time.monotonic() < deadline:
        time.sleep(0.5)
    log("all segments delivered" if not any(u.pending() for u in uploaders) else "TIMEOUT")
    stop.set()
    collector.stop()
    stored, distinct = stored_counts(url)
    refusals = sum(want.startswith("4") for _, want in bad.values())
    checks = {"exactly_once": stored == sent == distinct,
              "bad_uploads_as_expected": all(got == want for got, want in bad.values()),
              "refusals_logged": bad_logged == refusals}
    print(json.dumps({"nodes": args.nodes, "segments": rounds * args.nodes, "windows_sent": sent,
                      "windows_stored": stored, "distinct": distinct, **checks,
                      "refusal_log_lines": bad_logged,
                      "rejected_segments": sum(len(list((root / n / "rejected").glob("*")))
                                               if (root / n / "rejected").exists() else 0
                                               for n in nodes)}), flush=True)
    pg.destroy()
    shutil.rmtree(root)
    return all(checks.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="run", required=True)
    p = sub.add_parser("load")
    p.add_argument("--nodes", type=int, default=200)
    p.add_argument("--minutes", type=int, default=60, help="windows per node: minutes x 60")
    p.add_argument("--dim", type=int, default=64, help="embedding size")
    p.add_argument("--backend", nargs="+", default=["sqlite", "postgresql"])
    p = sub.add_parser("faults")
    p.add_argument("--nodes", type=int, default=20)
    p.add_argument("--rounds", type=int, default=20, help="segments per node")
    p.add_argument("--segment-every-s", type=float, default=1.0,
                   help="a new segment per node this often (accelerated minutes)")
    p.add_argument("--cut-seconds", type=float, default=60.0)
    args = parser.parse_args()
    if args.run == "load":
        load(args)
    elif not faults(args):
        sys.exit(1)


if __name__ == "__main__":
    main()
