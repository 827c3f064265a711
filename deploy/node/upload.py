"""Store and forward: deliver a node's closed segments to the collector (SEGMENTS.md).

Segments wait in data_dir/closed/ and are uploaded oldest first; one moves to
data_dir/delivered/ only after the collector answered 200. A crash between the collector's
commit and the rename re-sends the segment on restart, which the collector acknowledges
without storing anything twice (windows are unique per node and index). While the collector or
the network is down the uploader backs off exponentially with jitter, so a city of nodes does
not retry in lockstep. A segment the collector refuses as malformed (400, 409, 413) can never
succeed: it moves to data_dir/rejected/ with a logged error instead of blocking the queue.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import ssl
import threading
from enum import Enum
from pathlib import Path

import httpx

from deploy.node.segments import CLOSED, DELIVERED, REJECTED
from sea.errors import SeaError
from sea.safe_write import fsync_directory

log = logging.getLogger("sea.node.upload")

PERMANENT = {400, 409, 413, 422}  # the same bytes will be refused again


class Outcome(Enum):
    DELIVERED = "delivered"
    REJECTED = "rejected"
    RETRY = "retry"


def load_token(token_file: str | Path) -> str:
    """The node's bearer token from `token_file` (first line, surrounding blanks removed)."""
    try:
        token = Path(token_file).read_text().strip()
    except OSError as exc:
        raise SeaError(f"token_file {token_file}: cannot read the node token ({exc.strerror})") from exc
    if not token:
        raise SeaError(f"token_file {token_file}: empty")
    return token


class Uploader:
    """Uploads data_dir/closed/*.jsonl to `collector_url` as node `node_id` with `token`."""

    def __init__(self, collector_url: str, node_id: str, token: str, data_dir: str | Path, *,
                 verify_tls: bool | str | Path = True, timeout_s: float = 30.0,
                 backoff_initial_s: float = 1.0, backoff_max_s: float = 300.0,
                 poll_s: float = 5.0, rng: random.Random | None = None,
                 transport: httpx.BaseTransport | None = None):
        self.url = collector_url.rstrip("/") + "/api/v1/segments"
        self.node_id = node_id
        self.token = token
        self.data_dir = Path(data_dir)
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.poll_s = poll_s
        self.failures = 0  # consecutive failed attempts; sets the backoff
        self.last_error: str | None = None
        self._rng = rng or random.Random()
        # verify_tls: True (system CAs), False, or a CA bundle path for a private collector CA
        verify = ssl.create_default_context(cafile=str(verify_tls)) \
            if isinstance(verify_tls, (str, Path)) else verify_tls
        self._client = httpx.Client(timeout=timeout_s, verify=verify, transport=transport)

    def pending(self) -> list[Path]:
        """Closed segments not yet delivered, oldest (lowest seq) first."""
        return sorted((self.data_dir / CLOSED).glob("seg-*.jsonl"))

    def backoff_s(self) -> float:
        """Delay before the next attempt: exponential in the failures, jittered to 50-100 %."""
        ceiling = min(self.backoff_max_s, self.backoff_initial_s * 2 ** max(self.failures - 1, 0))
        return ceiling * self._rng.uniform(0.5, 1.0)

    def _move(self, path: Path, folder: str) -> None:
        target = self.data_dir / folder
        target.mkdir(parents=True, exist_ok=True)
        os.replace(path, target / path.name)
        fsync_directory(target)
        fsync_directory(path.parent)

    def deliver(self, path: Path) -> Outcome:
        """One upload attempt of the segment at `path`."""
        body = path.read_bytes()
        try:
            seq = json.loads(body.split(b"\n", 1)[0])["seq"]
        except (ValueError, KeyError, TypeError):
            log.error("%s: no readable segment header; moved to rejected/", path.name)
            self._move(path, REJECTED)
            return Outcome.REJECTED
        headers = {"Authorization": f"Bearer {self.token}", "X-Sea-Node": self.node_id,
                   "X-Sea-Seq": str(seq), "Content-Type": "application/x-ndjson",
                   "X-Sea-Digest": "sha256=" + hashlib.sha256(body).hexdigest()}
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("upload of %s failed: %s", path.name, self.last_error)
            return Outcome.RETRY
        if response.status_code == 200:
            try:
                reply = response.json()
                acknowledged = reply.get("seq") == seq
            except (ValueError, AttributeError):
                acknowledged = False
            if not acknowledged:  # a proxy's page, not the collector's acknowledgement
                self.last_error = f"HTTP 200 without an acknowledgement of seq {seq}"
                log.warning("upload of %s: %s", path.name, self.last_error)
                return Outcome.RETRY
            self._move(path, DELIVERED)
            log.info("%s delivered: %s new windows, %s already stored", path.name,
                     reply.get("stored"), reply.get("duplicates"))
            return Outcome.DELIVERED
        detail = response.text[:300]
        if response.status_code in PERMANENT:
            log.error("collector refused %s (%d %s); moved to rejected/", path.name,
                      response.status_code, detail)
            self._move(path, REJECTED)
            return Outcome.REJECTED
        # 401 (token not yet registered or rotated), 5xx, proxies' 502/503/504: try again later
        self.last_error = f"HTTP {response.status_code} {detail}"
        log.warning("upload of %s: %s", path.name, self.last_error)
        return Outcome.RETRY

    def upload_once(self) -> int:
        """Upload pending segments oldest first until one fails; returns how many were
        delivered. After a failure `failures` > 0 and `last_error` says why."""
        delivered = 0
        for path in self.pending():
            try:
                outcome = self.deliver(path)
            except FileNotFoundError:  # evicted by the node's storage budget meanwhile
                continue
            if outcome is Outcome.RETRY:
                self.failures += 1
                return delivered
            self.failures = 0
            self.last_error = None
            delivered += outcome is Outcome.DELIVERED
        return delivered

    def run(self, stop: threading.Event) -> None:
        """Upload until `stop` is set: pending segments as they appear, backing off after
        failures. Interruptible at every wait."""
        while not stop.is_set():
            try:
                self.upload_once()
            except OSError as exc:  # the data dir itself (disk full, removed): keep trying
                self.failures += 1
                self.last_error = f"{exc}"
                log.error("uploader: %s", exc)
            stop.wait(self.backoff_s() if self.failures else self.poll_s)

    def close(self) -> None:
        self._client.close()
