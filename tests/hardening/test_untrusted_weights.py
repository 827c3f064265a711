"""Every downloadable weight file has a checksum policy (published digest, else trust on
first use), and failed or partial downloads leave no file behind."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest

from sea import weights


@pytest.fixture
def sea_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _toy(monkeypatch, url: str, **digests) -> weights.WeightSource:
    source = weights.WeightSource("toy.h5", url, "no_such_package_xyz", **digests)
    monkeypatch.setitem(weights.WEIGHT_SOURCES, "toy", source)
    return source


def _served(tmp_path, payload: bytes) -> str:
    gz = tmp_path / "toy.h5.gz"
    gz.write_bytes(gzip.compress(payload))
    return gz.as_uri()


def test_first_use_is_recorded_and_checked_later(tmp_path, sea_home, monkeypatch):
    _toy(monkeypatch, _served(tmp_path, b"original weights"))
    path = weights.resolve_weights("toy")
    record = json.loads((sea_home / "weights" / weights.DIGESTS_FILE).read_text())["toy.h5"]
    assert record["sha256"] == hashlib.sha256(b"original weights").hexdigest()
    assert record["size"] == len(b"original weights") and record["origin"].startswith("file:")
    assert weights.resolve_weights("toy") == path  # unchanged: accepted again
    path.write_bytes(b"replaced weights")
    with pytest.raises(weights.WeightsUnavailable, match="first use"):
        weights.resolve_weights("toy")


def test_known_digest_is_enforced_on_local_files(tmp_path, sea_home, monkeypatch):
    """A cached or package-installed copy of a file with a published digest must match it."""
    _toy(monkeypatch, "http://127.0.0.1:9/unused.h5.gz",
         h5_sha256=hashlib.sha256(b"published").hexdigest())
    (sea_home / "weights").mkdir(parents=True)
    (sea_home / "weights" / "toy.h5").write_bytes(b"published")
    assert weights.resolve_weights("toy") == sea_home / "weights" / "toy.h5"
    (sea_home / "weights" / "toy.h5").write_bytes(b"impostor")
    with pytest.raises(weights.WeightsUnavailable, match="the published file"):
        weights.resolve_weights("toy")


def test_every_registered_weight_has_a_policy(sea_home):
    """Each registered file found in the cache is either checked against its published digest
    (a stand-in is refused) or recorded on first use: no source escapes verification."""
    cache = sea_home / "weights"
    cache.mkdir(parents=True)
    sources = dict(weights.WEIGHT_SOURCES)
    for source in sources.values():
        (cache / source.filename).write_bytes(source.filename.encode())
    published = set()
    for name, source in sources.items():
        if source.h5_sha256:
            published.add(name)
            with pytest.raises(weights.WeightsUnavailable, match="published file"):
                weights.resolve_weights(name)
        else:
            weights.resolve_weights(name)
    records = json.loads((cache / weights.DIGESTS_FILE).read_text())
    assert "edgel3-sea-64" in published
    assert set(records) == {s.filename for n, s in sources.items() if n not in published}


def test_wrong_h5_after_download_is_not_kept(tmp_path, sea_home, monkeypatch):
    _toy(monkeypatch, _served(tmp_path, b"not what was published"),
         h5_sha256=hashlib.sha256(b"published").hexdigest())
    with pytest.raises(weights.WeightsUnavailable, match="published file"):
        weights.resolve_weights("toy")
    assert list((sea_home / "weights").iterdir()) == []


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""
    claimed = 0  # Content-Length sent; more than len(body) simulates a dropped connection

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(self.claimed or len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("case", ["truncated", "not-gzip", "cut-gzip"])
def test_failed_downloads_leave_nothing(sea_home, monkeypatch, server, case):
    noise = b"".join(hashlib.sha256(i.to_bytes(4, "little")).digest() for i in range(4000))
    good = gzip.compress(noise)  # incompressible: 128 KB on the wire
    _Handler.body, _Handler.claimed = {
        "truncated": (good[:1000], len(good)),
        "not-gzip": (b"<html>rate limited</html>", 0),
        "cut-gzip": (good[: len(good) // 2], 0),
    }[case]
    _toy(monkeypatch, f"http://127.0.0.1:{server.server_address[1]}/toy.h5.gz")
    with pytest.raises(weights.WeightsUnavailable):
        weights.resolve_weights("toy")
    assert list((sea_home / "weights").iterdir()) == []
