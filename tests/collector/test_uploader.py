"""The node's Uploader against a real collector process: store and forward, restarts, refusals,
backoff and TLS verification."""

from __future__ import annotations

import datetime
import ipaddress
import random
import threading
import time

import httpx
import pytest
from collector_support import CollectorProcess, free_port, upload_headers

from deploy.node.upload import Uploader
from sea.collector.auth import add_node
from sea.collector.db import make_engine, migrate
from sea.collector.simulate import segment_bytes, write_closed
from sea.collector.store import count_windows
from sea.errors import SeaError


@pytest.fixture
def sqlite_node(tmp_path):
    """(db url, engine, token) of a migrated SQLite database with node-1 registered."""
    url = f"sqlite:///{tmp_path / 'collector.db'}"
    engine = make_engine(url)
    migrate(engine)
    yield url, engine, add_node(engine, "node-1")
    engine.dispose()


def write_segments(data_dir, n: int, windows: int = 30) -> int:
    for seq in range(n):
        write_closed(data_dir, seq, segment_bytes("node-1", seq, seq * windows, windows))
    return n * windows


def wait_for(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_retries_while_collector_down_then_delivers(sqlite_node, tmp_path):
    url, engine, token = sqlite_node
    data_dir = tmp_path / "node"
    sent = write_segments(data_dir, 3)
    port = free_port()  # nothing listens here yet: connection refused
    uploader = Uploader(f"http://127.0.0.1:{port}", "node-1", token, data_dir,
                        backoff_initial_s=0.05, backoff_max_s=0.4, rng=random.Random(0))
    stop = threading.Event()
    thread = threading.Thread(target=uploader.run, args=(stop,))
    thread.start()
    collector = CollectorProcess(url, port=port, log_path=tmp_path / "collector.log")
    try:
        wait_for(lambda: uploader.failures >= 3)
        assert len(uploader.pending()) == 3 and "ConnectError" in uploader.last_error
        collector.start()
        wait_for(lambda: not uploader.pending())
    finally:
        stop.set()
        thread.join()
        uploader.close()
        collector.stop()
    assert sorted(p.name for p in (data_dir / "delivered").iterdir()) == [
        f"seg-{seq:08d}.jsonl" for seq in range(3)]
    assert uploader.failures == 0 and count_windows(engine) == sent


@pytest.fixture
def live(sqlite_node, tmp_path):
    url, engine, token = sqlite_node
    collector = CollectorProcess(url, log_path=tmp_path / "collector.log").start()
    yield collector, engine, token
    collector.stop()


def test_restart_after_unacknowledged_upload_stores_once(live, tmp_path):
    collector, engine, token = live
    data_dir = tmp_path / "node"
    sent = write_segments(data_dir, 2)
    # the node crashed after the collector committed seq 0 but before renaming it
    body = (data_dir / "closed" / "seg-00000000.jsonl").read_bytes()
    reply = httpx.post(collector.url + "/api/v1/segments", content=body,
                       headers=upload_headers("node-1", token, 0, body))
    assert reply.json()["stored"] == 30
    uploader = Uploader(collector.url, "node-1", token, data_dir)  # the restarted node
    assert uploader.upload_once() == 2
    assert not uploader.pending() and count_windows(engine) == sent


def test_refused_segment_moves_to_rejected_and_queue_goes_on(live, tmp_path):
    collector, engine, token = live
    data_dir = tmp_path / "node"
    write_segments(data_dir, 2)
    broken = data_dir / "closed" / "seg-00000000.jsonl"
    broken.write_bytes(broken.read_bytes() + b"{oops\n")
    uploader = Uploader(collector.url, "node-1", token, data_dir)
    assert uploader.upload_once() == 1
    assert [p.name for p in (data_dir / "rejected").iterdir()] == ["seg-00000000.jsonl"]
    assert count_windows(engine) == 30


def test_wrong_token_keeps_segment_and_backs_off(live, tmp_path):
    collector, engine, _ = live
    data_dir = tmp_path / "node"
    write_segments(data_dir, 1)
    uploader = Uploader(collector.url, "node-1", "wrong", data_dir)
    assert uploader.upload_once() == 0
    assert uploader.failures == 1 and "401" in uploader.last_error
    assert len(uploader.pending()) == 1 and count_windows(engine) == 0


def test_200_without_acknowledgement_is_not_delivery(tmp_path):
    data_dir = tmp_path / "node"
    write_segments(data_dir, 1)
    portal = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>login</html>"))
    uploader = Uploader("http://collector", "node-1", "t", data_dir, transport=portal)
    assert uploader.upload_once() == 0 and len(uploader.pending()) == 1


def test_backoff_is_exponential_capped_and_jittered(tmp_path):
    uploader = Uploader("http://collector", "node-1", "t", tmp_path, backoff_initial_s=1.0,
                        backoff_max_s=60.0, rng=random.Random(1))
    for failures, ceiling in [(1, 1.0), (2, 2.0), (5, 16.0), (20, 60.0)]:
        uploader.failures = failures
        delays = [uploader.backoff_s() for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not lockstep


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_is_verified_by_default(sqlite_node, tmp_path):
    url, engine, token = sqlite_node
    cert, key = _self_signed(tmp_path)
    collector = CollectorProcess(url, log_path=tmp_path / "collector.log", tls=(cert, key))
    data_dir = tmp_path / "node"
    write_segments(data_dir, 1)
    try:
        collector.start()
        untrusting = Uploader(collector.url, "node-1", token, data_dir)
        assert untrusting.upload_once() == 0
        assert "CERTIFICATE_VERIFY_FAILED" in untrusting.last_error
        trusting = Uploader(collector.url, "node-1", token, data_dir, verify_tls=str(cert))
        assert trusting.upload_once() == 1
    finally:
        collector.stop()
    assert count_windows(engine) == 30


def test_upload_table_of_node_toml_reads_the_token_file(tmp_path):
    from deploy.node.config import ConfigError, parse_config
    from deploy.node.upload import load_token

    (tmp_path / "token").write_text("secret-token\n")
    base = {"bundle": "b", "data_dir": "d", "input": {"source": "mic"}}
    cfg = parse_config({**base, "upload": {"url": "https://collector:8443/",
                                           "token_file": "token", "verify_tls": "ca.pem"}},
                       tmp_path).upload
    assert load_token(cfg.token_file) == "secret-token" and cfg.verify_tls == tmp_path / "ca.pem"
    uploader = Uploader(cfg.url, "node-1", load_token(cfg.token_file), tmp_path)
    assert uploader.url == "https://collector:8443/api/v1/segments"
    with pytest.raises(SeaError, match="token_file"):
        load_token(tmp_path / "none")
    for bad in ({"url": "https://c"}, {"url": "https://c", "token_file": "token", "verify_tls": 1}):
        with pytest.raises(ConfigError, match="upload"):
            parse_config({**base, "upload": bad}, tmp_path)
