"""Throwaway PostgreSQL servers and collector processes for the collector tests and
benchmarks/bench_collector.py (which imports this file)."""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


class Unavailable(Exception):
    """PostgreSQL cannot be started here (not installed, no unprivileged user, ...)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    path = found[-1] if found else shutil.which(name)
    if not path:
        raise Unavailable(f"{name} not found (apt-get install -y postgresql)")
    return path


class PgServer:
    """A PostgreSQL cluster in a temporary directory, run by an unprivileged user when root
    (the server refuses to run as root), listening on 127.0.0.1:`port`, trust auth."""

    def __init__(self, fsync: bool = False):
        self.root = Path(tempfile.mkdtemp(prefix="sea-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.fsync = fsync
        self.user = "postgres" if os.geteuid() == 0 else None
        self.superuser = "postgres"
        if self.user:
            try:
                shutil.chown(self.root, self.user)
            except (LookupError, OSError) as exc:
                raise Unavailable(f"running as root and no usable 'postgres' user: {exc}") from exc
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", self.superuser, "-A", "trust",
                  "--no-sync", "-E", "UTF8")
        self.start()

    def _run(self, *cmd: str) -> None:
        if self.user:
            cmd = ("runuser", "-u", self.user, "--", *cmd)
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if result.returncode:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise Unavailable(f"{Path(cmd[0]).name} failed: {' / '.join(tail)}")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   f"-c fsync={'on' if self.fsync else 'off'} -c max_connections=300")
        self._run(_pg_bin("pg_ctl"), "start", "-w", "-D", str(self.data), "-l",
                  str(self.root / "server.log"), "-o", options)

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "stop", "-w", "-D", str(self.data), "-m", mode)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=self.superuser,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except Unavailable:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class CollectorProcess:
    """`sea collect serve` in a subprocess on a free port (this checkout's code)."""

    def __init__(self, db_url: str, port: int | None = None, log_path: Path | None = None,
                 tls: tuple[Path, Path] | None = None, extra_args: tuple[str, ...] = ()):
        """`tls`: (certificate, key) PEM files to serve HTTPS with; `extra_args` for serve."""
        self.db_url = db_url
        self.port = port or free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.log_path = log_path or Path(tempfile.mkstemp(prefix="sea-collector-", suffix=".log")[1])
        tls_args = ("--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])) if tls else ()
        self.extra_args = tls_args + tuple(extra_args)
        self.verify = ssl.create_default_context(cafile=str(tls[0])) if tls else True
        self.proc: subprocess.Popen | None = None

    def start(self, wait_s: float = 60.0) -> CollectorProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sea.cli", "collect", "serve", "--db", self.db_url,
                 "--port", str(self.port), *self.extra_args],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/v1/nodes", timeout=2,
                             verify=self.verify).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"collector not up after {wait_s} s: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: a crash, not a clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def upload_headers(node_id: str, token: str, seq: int, body: bytes) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Sea-Node": node_id, "X-Sea-Seq": str(seq),
            "X-Sea-Digest": "sha256=" + hashlib.sha256(body).hexdigest(),
            "Content-Type": "application/x-ndjson"}


def post(client, body: bytes, seq: int = 0, node: str = "node-1", token: str | None = None,
         **header_overrides):
    """Upload `body` through a test client of the `collector` fixture (its token by default)."""
    headers = upload_headers(node, token or client.token, seq, body)
    headers.update(header_overrides)
    return client.post("/api/v1/segments", content=body, headers=headers)
