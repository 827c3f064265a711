"""`sea-node serve`: rotation, kills and restarts, SIGTERM, disk budget, status, spool rules.

All on generated audio and the tiny bundle of conftest.py. Spool files get fixed modification
times, so window times (and the audio-time segment boundaries) are the same in every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from deploy.node.budget import disk_usage
from deploy.node.config import ConfigError, load_config, parse_config
from deploy.node.segments import CLOSED, DELIVERED, OPEN
from deploy.node.serve import MIC_RATE, Server
from sea.errors import SeaError

REPO = Path(__file__).resolve().parents[2]
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z: start of the first spool file
RATE = 8000


@pytest.fixture(autouse=True)
def single_threaded_blas():
    """As `sea-node` runs (deploy/node/threads.py): a BLAS thread pool per window's small
    matmul costs 10-30x on a busy machine, and in-process servers here share pytest's numpy."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1):
        yield


def write_spool(folder: Path, files: int, seconds: float, seed: int = 0) -> list[Path]:
    """Back-to-back recordings named by start time, mtime = start + duration."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(files):
        t = np.arange(int(seconds * RATE)) / RATE
        audio = 0.05 * rng.standard_normal(len(t)) + 0.2 * np.sin(2 * np.pi * (300 + 100 * i) * t)
        path = folder / f"rec-{i:04d}.wav"
        sf.write(path, audio.astype(np.float32), RATE, subtype="PCM_16")
        end = T0 + (i + 1) * seconds
        os.utime(path, (end, end))
        paths.append(path)
    return paths


def write_config(root: Path, bundle: Path, **settings) -> Path:
    """node.toml with a spool input (settle 0: the test's files are complete when written)."""
    inp = {"source": "spool", "spool_dir": str(root / "spool"), "settle_seconds": 0.0,
           **settings.pop("input", {})}
    top = {"node_id": "test-node", "bundle": str(bundle), "data_dir": str(root / "data"),
           "hop_seconds": 0.5, "rotate_seconds": 3600, "status_seconds": 0.2, **settings}

    def value(v) -> str:
        return json.dumps(v)  # TOML strings, numbers and booleans are JSON's here

    lines = [f"{k} = {value(v)}" for k, v in top.items()]
    lines += ["[input]"] + [f"{k} = {value(v)}" for k, v in inp.items()]
    path = root / "node.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def serve_drain(config: Path, **kwargs) -> Server:
    server = Server(load_config(config), threading.Event(), drain=True, **kwargs)
    server.serve()
    return server


def segments(data_dir: Path) -> list[tuple[dict, list[dict]]]:
    """(header, window lines) of every closed or delivered segment, by seq."""
    found = sorted((p.name, p) for which in (CLOSED, DELIVERED)
                   for p in (data_dir / which).glob("seg-*.jsonl"))
    out = []
    for _, path in found:
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert lines[0]["type"] == "segment"
        out.append((lines[0], [r for r in lines[1:] if r["type"] == "window"]))
    return out


def all_windows(data_dir: Path) -> list[dict]:
    return [w for _, windows in segments(data_dir) for w in windows]


def check_every_window_once(windows: list[dict], expected: int) -> None:
    indices = [w["index"] for w in windows]
    assert indices == list(range(expected)), "window indices must be 0..n-1, each once, in order"


def n_windows(seconds: float, hop: float) -> int:
    """Windows of a file without centring: 1-s windows `hop` apart, the last one padded."""
    return 1 + math.ceil(max(seconds - 1.0, 0.0) / hop - 1e-9)


def utc_seconds(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ---- config ---------------------------------------------------------------------------------
def test_config_refuses_unknown_keys_and_bad_values(tmp_path):
    base = {"bundle": "b", "data_dir": "d", "input": {"source": "mic"}}
    cfg = parse_config(base, tmp_path)
    assert cfg.data_dir == tmp_path / "d" and cfg.rotate_seconds == 3600 and cfg.node.trust == ()
    for doc, key in [({**base, "rotate_secs": 60}, "rotate_secs"),
                     ({**base, "max_disk_mb": "big"}, "max_disk_mb"),
                     ({**base, "hop_seconds": 0}, "hop_seconds"),
                     ({**base, "input": {"source": "spool"}}, "input.spool_dir"),
                     ({**base, "input": {"source": "mic", "after": "keep"}}, "input.after"),
                     ({**base, "upload": {"url": "http://x"}}, "upload"),
                     ({**base, "trust": []}, "trust")]:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            parse_config(doc, tmp_path)
    (tmp_path / "bad.toml").write_text("bundle = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "bad.toml")


def test_node_toml_reads_the_options_of_sea_node_run_into_the_same_settings(tmp_path):
    """A key `sea-node run` has as an option is the same NodeSettings field, checked by the
    same constraint; the error names the key as node.toml spells it."""
    from deploy.node.config import SERVE_HOP, TOML_KEYS
    from deploy.node.settings import NodeSettings, RunSettings
    from sea.settings_cli import flags_of

    base = {"bundle": "b", "data_dir": "d", "top_k": 5, "calibration": {"offset_db": 93.5},
            "input": {"source": "mic", "device": "hw:1", "block_seconds": 0.25}}
    assert parse_config(base, tmp_path).node == NodeSettings(
        bundle=tmp_path / "b", hop=SERVE_HOP, top_k=5, device="hw:1", block_seconds=0.25,
        calibration_db=93.5)
    for doc, message in [
            ({**base, "top_k": 0}, "top_k must be at least 1, got 0"),
            ({**base, "hop_seconds": -1}, "hop_seconds must be greater than 0, got -1"),
            ({**base, "input": {"source": "mic", "block_seconds": 0}},
             "input.block_seconds must be greater than 0"),
            ({**base, "calibration": {"offset_db": "loud"}},
             "calibration.offset_db: expected float"),
            ({**base, "embeddings": 1}, "embeddings: expected bool")]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_config(doc, tmp_path)
    flags = flags_of(RunSettings)
    assert sorted(flags[name] for name in TOML_KEYS) == [
        "--block-seconds", "--bundle", "--calibration-db", "--device", "--hop", "--no-embeddings",
        "--threads", "--top-k", "--trust"]


# ---- rotation, segment format, status --------------------------------------------------------
def test_rotation_across_segment_boundaries(float_bundle, tmp_path):
    write_spool(tmp_path / "spool", files=3, seconds=5.0)
    server = serve_drain(write_config(tmp_path, float_bundle, rotate_seconds=4))
    segs = segments(tmp_path / "data")
    windows = [w for _, ws in segs for w in ws]
    check_every_window_once(windows, 3 * n_windows(5.0, 0.5))
    assert [h["seq"] for h, _ in segs] == list(range(len(segs)))
    buckets = [{utc_seconds(w["utc"]) // 4 for w in ws} for _, ws in segs]
    assert all(len(b) == 1 for b in buckets), "a segment holds one rotation period"
    assert len(segs) == 4  # 15 s of audio from a 4-s boundary: [0,4) [4,8) [8,12) [12,15)
    assert utc_seconds(windows[0]["utc"]) == T0 and utc_seconds(windows[11]["utc"]) == T0 + 6.0
    header = segs[0][0]
    assert header["node_id"] == "test-node" and header["hop_seconds"] == 0.5
    assert header["classes"] == ["siren", "engine", "dog"] and header["model_id"]
    assert header["bundle_sha256"] == hashlib.sha256(
        (float_bundle / "manifest.json").read_bytes()).hexdigest()
    assert all(len(w["top"]) == 3 and len(w["embedding"]) == 16 for w in windows)
    assert all(-120 <= w["laeq"] <= w["lafmax"] <= 0 for w in windows)
    ledger = [json.loads(x) for x in (tmp_path / "data/ledger.jsonl").read_text().splitlines()]
    for entry in ledger:
        data = (tmp_path / "data" / CLOSED / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert not list((tmp_path / "data" / OPEN).iterdir())
    assert not list((tmp_path / "spool").glob("*.wav"))  # after = "delete"

    status = json.loads((tmp_path / "data/status.json").read_text())
    assert status["state"] == "stopped" and status["windows_written"] == 27
    assert status["last_window_index"] == 26 and status["next_index"] == 27
    assert status["last_window_utc"] == windows[-1]["utc"]
    assert status["model_id"] == server.model_id and status["overruns"] == 0
    assert status["dropped_audio_seconds"] == 0 and status["spool_backlog_files"] == 0
    assert status["segments"] == {"open": 0, "closed": 4, "delivered": 0,
                                  "rejected": 0}
    assert 0 < status["disk_bytes"] <= status["max_disk_bytes"]
    state = json.loads((tmp_path / "data/state.json").read_text())
    assert state["next_index"] == 27 and state["next_seq"] == 4


def period_lines(data_dir: Path) -> list[dict]:
    lines = [json.loads(line) for which in (CLOSED, DELIVERED)
             for path in sorted((data_dir / which).glob("seg-*.jsonl"))
             for line in path.read_text().splitlines()]
    return [line for line in lines if line["type"] == "period"]


def test_calibration_offset_and_period_lines(float_bundle, tmp_path):
    """[calibration] offset_db shifts every level by exactly that many dB; with a head and
    period_seconds, each period of 4 windows (2 s at hop 0.5) gets one line with its classes
    and LAeq, in the segment of its last window."""
    plain, calibrated = tmp_path / "plain", tmp_path / "calibrated"
    for root in (plain, calibrated):
        write_spool(root / "spool", files=1, seconds=6.0)
    serve_drain(write_config(plain, float_bundle))
    config = write_config(calibrated, float_bundle, period_seconds=2.0)
    with open(config, "a") as f:
        f.write("[calibration]\noffset_db = 94.0\nreference_db = 94.0\n")
    serve_drain(config)
    quiet, loud = all_windows(plain / "data"), all_windows(calibrated / "data")
    assert len(quiet) == len(loud) == n_windows(6.0, 0.5)
    for a, b in zip(quiet, loud):  # both rounded to 0.01 dB
        for key in ("laeq", "lceq", "lafmax"):
            assert abs(b[key] - a[key] - 94.0) <= 0.0101
    suggested = json.loads((float_bundle / "manifest.json").read_text())["head"]
    assert bool(period_lines(plain / "data")) == bool(suggested.get("period_seconds"))
    periods = period_lines(calibrated / "data")
    spans = [(p["start_index"], p["end_index"]) for p in periods]
    assert spans == [(0, 3), (4, 7), (8, 10)]  # the file's last, shorter period at its end
    by_index = {w["index"]: w for w in loud}
    for p in periods:
        assert len(p["top"]) == 3 and p["utc"] == by_index[p["start_index"]]["utc"]
        inside = [by_index[i]["laeq"] for i in range(p["start_index"], p["end_index"] + 1)]
        assert min(inside) - 1.0 <= p["laeq"] <= max(inside) + 1.0


def test_restart_continues_the_window_index(float_bundle, tmp_path):
    config = write_config(tmp_path, float_bundle, input={"after": "move"})
    write_spool(tmp_path / "spool", files=1, seconds=3.0)
    serve_drain(config)
    write_spool(tmp_path / "spool", files=2, seconds=3.0, seed=1)[0].unlink()  # a new file
    serve_drain(config)
    check_every_window_once(all_windows(tmp_path / "data"), 2 * n_windows(3.0, 0.5))
    assert sorted(p.name for p in (tmp_path / "spool/done").iterdir()) == ["rec-0000.wav",
                                                                           "rec-0001.wav"]


def test_a_stopped_file_is_finished_first_after_restart(float_bundle, tmp_path):
    """Stopped inside rec-0001 (after its second window), then rec-0000a arrives: the restart
    finishes rec-0001 from where it stopped before taking the newcomer."""
    config = write_config(tmp_path, float_bundle, input={"after": "move"})
    write_spool(tmp_path / "spool", files=2, seconds=3.0)
    stop = threading.Event()
    server = Server(load_config(config), stop)
    emit = server.emit

    def emit_then_stop(*args) -> None:
        emit(*args)
        if server.windows_written == 7:  # 5 windows of rec-0000, 2 of rec-0001
            stop.set()

    server.emit = emit_then_stop
    server.serve()
    assert json.loads((tmp_path / "data/state.json").read_text())["spool_file"] == "rec-0001.wav"
    late = tmp_path / "spool/rec-0000a.wav"
    shutil.copy(tmp_path / "spool/rec-0001.wav", late)
    os.utime(late, (T0 + 100, T0 + 100))
    serve_drain(config)
    windows = all_windows(tmp_path / "data")
    check_every_window_once(windows, 15)
    times = [utc_seconds(w["utc"]) - T0 for w in windows]
    assert times[5:10] == [3.0, 3.5, 4.0, 4.5, 5.0]  # rec-0001 whole, in order
    assert times[10] == 97.0  # then rec-0000a (3 s ending at T0 + 100)


# ---- kills and signals -----------------------------------------------------------------------
def serve_command(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "deploy.node.cli", "serve", "--config", str(config), *extra]


def node_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def lines_written(data_dir: Path, *folders: str) -> int:
    total = 0
    for folder in folders:
        for path in (data_dir / folder).glob("seg-*"):
            try:
                total += path.read_bytes().count(b"\n")
            except FileNotFoundError:  # closed meanwhile: counted in closed/ next time
                continue
    return total


def test_sigkill_at_random_points_then_restart_writes_every_window_once(float_bundle,
                                                                        tmp_path):
    settings = {"rotate_seconds": 7, "hop_seconds": 0.25, "embeddings": True}
    clean = tmp_path / "clean"
    write_spool(clean / "spool", files=6, seconds=20.0)
    serve_drain(write_config(clean, float_bundle, **settings))
    reference = all_windows(clean / "data")
    check_every_window_once(reference, 6 * n_windows(20.0, 0.25))

    killed = tmp_path / "killed"
    write_spool(killed / "spool", files=6, seconds=20.0)
    config = write_config(killed, float_bundle, **settings)
    rng = random.Random(0)
    kills = 0
    while True:
        proc = subprocess.Popen(serve_command(config, "--drain"), env=node_env(),
                                stderr=subprocess.PIPE, text=True)
        if kills < 4:  # kill once windows are flowing (a random number of them in)
            target = lines_written(killed / "data", OPEN, CLOSED) + rng.randint(1, 60)
            deadline = time.monotonic() + 60
            while proc.poll() is None and \
                    lines_written(killed / "data", OPEN, CLOSED) < target \
                    and time.monotonic() < deadline:
                time.sleep(0.005)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        break
    assert kills >= 3
    windows = all_windows(killed / "data")
    check_every_window_once(windows, len(reference))
    assert [w["utc"] for w in windows] == [w["utc"] for w in reference]
    # a resumed file recomputes its first window's STFT frames instead of reusing them
    np.testing.assert_allclose([w["embedding"] for w in windows],
                               [w["embedding"] for w in reference], atol=1e-4)
    assert [w["laeq"] for w in windows] == [w["laeq"] for w in reference]
    assert not list((killed / "data" / OPEN).iterdir())


def test_sigterm_closes_the_open_segment(float_bundle, tmp_path):
    write_spool(tmp_path / "spool", files=2, seconds=4.0)
    config = write_config(tmp_path, float_bundle)
    proc = subprocess.Popen(serve_command(config), env=node_env(), stderr=subprocess.PIPE,
                            text=True)
    status = tmp_path / "data/status.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the spool is done once its files are gone
        if status.exists() and not list((tmp_path / "spool").glob("*.wav")):
            break
        time.sleep(0.05)
    assert lines_written(tmp_path / "data", OPEN) > 1, "windows are in the open segment"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "SIGTERM" in err
    assert not list((tmp_path / "data" / OPEN).iterdir())
    check_every_window_once(all_windows(tmp_path / "data"), 2 * n_windows(4.0, 0.5))
    assert json.loads(status.read_text())["state"] == "stopped"
    assert json.loads((tmp_path / "data/state.json").read_text())["next_index"] == 14


def test_second_server_on_the_same_data_dir_is_refused(float_bundle, tmp_path):
    (tmp_path / "spool").mkdir()
    config = write_config(tmp_path, float_bundle)
    first = Server(load_config(config), threading.Event())
    try:
        with pytest.raises(ConfigError, match="in use"):
            Server(load_config(config), threading.Event())
    finally:
        first.release()


# ---- disk budget -----------------------------------------------------------------------------
def test_disk_budget_deletes_delivered_first_then_undelivered_with_a_warning(
        float_bundle, tmp_path, caplog):
    data = tmp_path / "data"
    write_spool(tmp_path / "spool", files=4, seconds=4.0)
    serve_drain(write_config(tmp_path, float_bundle, rotate_seconds=2))
    closed = sorted((data / CLOSED).iterdir())
    assert len(closed) == 8
    sizes = [p.stat().st_size for p in closed]
    node_files = disk_usage(data) - sum(sizes)  # state, status, ledger, lock
    for path in closed[2:4]:  # the uploader delivered these two (not the oldest)
        path.rename(data / DELIVERED / path.name)
    # room for segments 1 and 4-7, the node's files and a small new segment (< 1000 bytes,
    # less than segment 0): the two delivered ones go first, then segment 0 with a warning
    keep = sizes[1] + sum(sizes[4:])
    assert sizes[0] > 1000
    write_spool(tmp_path / "spool", files=1, seconds=1.0, seed=9)
    with caplog.at_level(logging.INFO, logger="sea.node"):
        serve_drain(write_config(tmp_path, float_bundle, rotate_seconds=2,
                                 max_disk_mb=(keep + node_files + 1000) / 2 ** 20))
    assert not list((data / DELIVERED).iterdir())
    remaining = sorted(p.name for p in (data / CLOSED).iterdir())
    assert remaining == sorted([closed[1].name] + [p.name for p in closed[4:]]
                               + ["seg-00000008.jsonl"])
    warned = [r.getMessage() for r in caplog.records if "UNDELIVERED" in r.getMessage()]
    assert len(warned) == 1 and closed[0].name in warned[0]
    status = json.loads((data / "status.json").read_text())
    assert status["disk_bytes"] <= status["max_disk_bytes"]


def test_disk_budget_deletes_refused_segments_before_undelivered_ones(tmp_path, caplog):
    """A segment the collector refused (rejected/) can never be delivered: after the delivered
    ones it goes before any undelivered one, with a warning; rejected/ counts toward the
    budget, so a full rejected/ no longer starves it."""
    from deploy.node.budget import enforce_budget
    from deploy.node.segments import REJECTED, SegmentDirs, segment_name

    dirs = SegmentDirs(tmp_path)
    placed = {}
    for which, seq in ((CLOSED, 0), (REJECTED, 1), (DELIVERED, 2), (CLOSED, 3)):
        placed[seq] = tmp_path / which / segment_name(seq)
        placed[seq].write_bytes(b"x" * 1000)
    with caplog.at_level(logging.INFO, logger="sea.node"):
        assert enforce_budget(dirs, 2500) == [placed[2], placed[1]]
        assert enforce_budget(dirs, 1500) == [placed[0]]  # then the oldest undelivered one
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "REJECTED" in warnings[0] and segment_name(1) in warnings[0]
    assert "UNDELIVERED" in warnings[1] and segment_name(0) in warnings[1]
    assert placed[3].exists()


def test_disk_budget_on_a_tiny_tmpfs(float_bundle, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    data = tmp_path / "data"
    data.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(data)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        write_spool(tmp_path / "spool", files=6, seconds=20.0)
        # ~200 KB of segments into a 50-KB budget on a 1-MiB file system
        serve_drain(write_config(tmp_path, float_bundle, rotate_seconds=5, hop_seconds=0.25,
                                 max_disk_mb=0.05))
        status = json.loads((data / "status.json").read_text())
        assert status["disk_bytes"] <= 0.05 * 2 ** 20
        windows = all_windows(data)
        total = 6 * n_windows(20.0, 0.25)
        assert windows[-1]["index"] == total - 1  # the newest windows are kept
        assert [w["index"] for w in windows] == list(range(windows[0]["index"], total))
    finally:
        subprocess.run(["umount", str(data)], check=True)


# ---- spool rules -----------------------------------------------------------------------------
def test_spool_file_being_written_is_not_read_early(float_bundle, tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "next.wav.part").write_bytes(b"RIFF")  # a recorder's temporary name: never read
    config = write_config(tmp_path, float_bundle, input={"settle_seconds": 1.0})
    rng = np.random.default_rng(5)

    def record() -> None:  # writes x.wav in place, one 0.5-s block every 0.25 s
        with sf.SoundFile(spool / "x.wav", "w", samplerate=RATE, channels=1,
                          subtype="PCM_16") as f:
            for _ in range(8):
                f.write(0.1 * rng.standard_normal(RATE // 2))
                f.flush()
                time.sleep(0.25)

    writer = threading.Thread(target=record)
    writer.start()
    time.sleep(0.1)
    try:
        server = serve_drain(config)  # x.wav counts as backlog until it is read
    finally:
        writer.join()
    windows = all_windows(tmp_path / "data")
    check_every_window_once(windows, 7)  # 4 s at hop 0.5 (no centring): all of it, once
    assert not (spool / "failed").exists() and (spool / "next.wav.part").exists()
    assert server.failed_files == 0


def test_unreadable_spool_file_moves_to_failed(float_bundle, tmp_path):
    write_spool(tmp_path / "spool", files=1, seconds=2.0)
    (tmp_path / "spool/rec-0000a.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    server = serve_drain(write_config(tmp_path, float_bundle))
    assert (tmp_path / "spool/failed/rec-0000a.wav").exists()
    assert server.failed_files == 1
    check_every_window_once(all_windows(tmp_path / "data"), 3)


# ---- live input and overruns -----------------------------------------------------------------
def test_mic_overruns_are_counted_and_restart_the_window_grid(float_bundle, tmp_path,
                                                              monkeypatch):
    """A stand-in sounddevice delivers 80 blocks at once into the 64-block queue (16 dropped:
    4 s), then, once the node caught up, 12 more: no window spans the gap, its time skips it.
    The 16th window before the gap comes out of the resampler when the gap is seen."""
    import types

    block = MIC_RATE // 4  # the microphone runs at 48 kHz for the levels' band
    server_box: list[Server] = []

    class BurstyInputStream:
        def __init__(self, samplerate, channels, dtype, blocksize, device, callback):
            assert samplerate == MIC_RATE and blocksize == block
            self.callback = callback
            self.rng = np.random.default_rng(0)

        def deliver(self, n: int) -> None:
            for _ in range(n):
                self.callback((0.1 * self.rng.standard_normal((block, 1))).astype(np.float32),
                              block, None, None)

        def later(self) -> None:
            server = server_box[0]
            wait_until(lambda: server.windows_written >= 15)  # 64 blocks: 16 s at hop 1
            self.deliver(12)
            wait_until(lambda: server.windows_written >= 18)
            server.stop.set()

        def __enter__(self):
            self.deliver(80)  # before the node reads any: 64 fit the queue, 16 are dropped
            threading.Thread(target=self.later, daemon=True).start()
            return self

        def __exit__(self, *exc):
            return None

    monkeypatch.setitem(sys.modules, "sounddevice",
                        types.SimpleNamespace(InputStream=BurstyInputStream))
    config = write_config(tmp_path, float_bundle, hop_seconds=1.0,
                          input={"source": "mic", "block_seconds": 0.25})
    server = Server(load_config(config), threading.Event())
    server_box.append(server)
    server.serve()
    windows = all_windows(tmp_path / "data")
    check_every_window_once(windows, 18)
    gaps = np.diff([utc_seconds(w["utc"]) for w in windows])
    assert np.allclose(gaps, [1] * 15 + [5] + [1], atol=2e-3)  # 16 s, 4 s lost, then on
    status = json.loads((tmp_path / "data/status.json").read_text())
    assert status["overruns"] == 16 and status["dropped_audio_seconds"] == 4.0


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# ---- signed bundles and upload ------------------------------------------------------------
def test_trust_runs_only_a_bundle_signed_by_a_trusted_key(float_bundle, tmp_path):
    from sea.signing import load_private_key, new_key_pair, sign_bundle

    operator_private, operator_public, _ = new_key_pair(tmp_path / "operator")
    _, stranger_public, _ = new_key_pair(tmp_path / "stranger")
    (tmp_path / "spool").mkdir()
    unsigned = write_config(tmp_path, float_bundle, trust=[str(operator_public)])
    with pytest.raises(SeaError, match="signature"):
        Server(load_config(unsigned), threading.Event())
    assert not (tmp_path / "data").exists()  # refused before anything ran or was written

    bundle = tmp_path / "signed-bundle"
    shutil.copytree(float_bundle, bundle)
    sign_bundle(bundle, load_private_key(operator_private))
    strange = write_config(tmp_path, bundle, trust=[str(stranger_public)])
    with pytest.raises(SeaError, match="signature|trusted"):
        Server(load_config(strange), threading.Event())
    assert not (tmp_path / "data").exists()
    server = Server(load_config(write_config(tmp_path, bundle, trust=[str(operator_public)])),
                    threading.Event(), drain=True)
    server.serve()
    assert json.loads((tmp_path / "data/status.json").read_text())["state"] == "stopped"


def test_upload_section_delivers_closed_segments(float_bundle, tmp_path):
    """[upload] starts the store-and-forward uploader: a closed segment reaches a collector
    (here a loopback endpoint that checks it with the collector's own segment parser and
    acknowledges per SEGMENTS.md) and moves to delivered/."""
    pytest.importorskip("deploy.node.upload")
    import http.server

    from sea.collector.segment import SegmentError, parse_segment

    received: list[tuple[dict, bytes]] = []
    refused: list[str] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            seq = int(self.headers["X-Sea-Seq"])
            try:  # what the collector stores: every window of the segment, or a 400
                segment = parse_segment(body, self.headers["X-Sea-Node"], seq,
                                        self.headers["X-Sea-Digest"].removeprefix("sha256="))
                status, reply = 200, {"stored": len(segment.windows), "duplicates": 0, "seq": seq}
            except SegmentError as exc:
                refused.append(str(exc))
                status, reply = 400, {"detail": str(exc)}
            reply = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args) -> None:
            return None

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    (tmp_path / "token").write_text("secret-token\n")
    write_spool(tmp_path / "spool", files=1, seconds=3.0)
    config = write_config(tmp_path, float_bundle, rotate_seconds=1)
    with open(config, "a") as f:
        f.write(f'[upload]\nurl = "http://127.0.0.1:{httpd.server_port}"\n'
                f'token_file = "{tmp_path / "token"}"\nverify_tls = false\n')
    server = Server(load_config(config), threading.Event())
    runner = threading.Thread(target=server.serve)
    runner.start()
    try:
        wait_until(lambda: refused or list((tmp_path / "data" / DELIVERED).glob("seg-*.jsonl")))
    finally:
        server.stop.set()
        runner.join(timeout=30)
        httpd.shutdown()
    assert not refused, refused
    headers, body = received[0]
    assert headers["Authorization"] == "Bearer secret-token"
    windows = [json.loads(line) for line in body.splitlines()[1:]]
    assert windows and all("laeq" in w and "top" in w and "embedding" in w for w in windows
                           if w["type"] == "window")
    assert headers["X-Sea-Digest"] == "sha256=" + hashlib.sha256(body).hexdigest()
    delivered = tmp_path / "data" / DELIVERED / f"seg-{int(headers['X-Sea-Seq']):08d}.jsonl"
    assert delivered.read_bytes() == body


def test_serve_imports_no_torch_or_scipy():
    code = ("import sys, deploy.node.cli, deploy.node.serve\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'scipy', 'librosa', 'tensorflow', 'sklearn')))")
    out = subprocess.run([sys.executable, "-c", code], env=node_env(), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_cli_reports_a_bad_config_in_one_line(tmp_path):
    (tmp_path / "node.toml").write_text('bundle = "b"\ndata_dir = "d"\nrotate = 5\n[input]\n'
                                        'source = "mic"\n')
    out = subprocess.run(serve_command(tmp_path / "node.toml"), env=node_env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "rotate" in out.stderr


def test_systemd_unit_verifies_and_runs_serve(tmp_path):
    """The unit in the repository passes systemd's own check (its ExecStart pointed at this
    interpreter, as the venv's `sea-node` is not installed here) and starts `serve`."""
    unit = (REPO / "deploy/node/systemd/sea-node.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = exec_start.split("=", 1)[1].split()
    assert argv[0].endswith("/sea-node") and argv[1:3] == ["serve", "--config"]
    for directive in ("User=sea-node", "ProtectSystem=strict", "StateDirectory=sea-node",
                      "Restart=on-failure", "ReadOnlyPaths=/opt/sea-node/bundle"):
        assert directive in unit.splitlines()
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    local = tmp_path / "sea-node.service"
    local.write_text(unit.replace(argv[0], sys.executable))
    out = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
