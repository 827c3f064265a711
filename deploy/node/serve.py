"""`sea-node serve --config node.toml`: the node as a service.

Audio (the microphone, or complete WAV files from a spool folder, deploy/node/spool.py) is cut
into 1-s windows `hop_seconds` apart (no centring: a window's `utc` is its first sample); each
window gets its embedding, the head's top classes and its calibrated levels (sea.levels, on the
input's own samples before resampling), written as one line of the open segment
(deploy/node/segments.py). With a head and an aggregation period, a "period" line follows each
period's last window: the head on the windows pooled as `sea evaluate` pools a clip. Segments rotate on `rotate_seconds` boundaries of
audio time (and after `rotate_seconds` of wall time, so an idle spool does not hold windows
back); each closed one is fsynced, linked into closed/ and its sha256 recorded in ledger.jsonl.

Window indices are node-global: they continue across segments, restarts and kills without a
gap or a repeat (deploy/node/state.py says how). Audio lost to overruns is counted in
status.json and logged. SIGTERM closes the open segment and saves the state.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Iterator

import numpy as np

from deploy.node.budget import disk_usage, enforce_budget
from deploy.node.config import ConfigError, NodeConfig, config_error
from deploy.node.runner import Period, PeriodAggregator, WindowLevels, top_classes
from deploy.node.segments import (CLOSED, DELIVERED, OPEN, REJECTED, OpenSegment,
                                  SegmentDirs)
from deploy.node.sources import Overruns, Source, file_source, mic_source
from deploy.node.spool import Spool, start_time
from deploy.node.state import load_state, reconcile
from sea.audio import AudioError
from sea.bundle import BundleEmbedder
from sea.levels import to_db
from sea.manifest import atomic_write_json, sha256_file
from sea.safe_write import open_lock_file
from sea.settings import SettingError
from sea.signing import verify_bundle_signature
from sea.stream import StreamResampler, WindowStream

log = logging.getLogger("sea.node")

STATUS_FILE = "status.json"
LOCK_FILE = "lock"
SCHEMA = 1
IDLE_POLL_SECONDS = 0.5
# Embedding values are written to 6 decimals: far below an int8 output's quantization step
# and float32 round-off of the values a student emits (|x| of order 1), a third of the bytes.
EMBEDDING_DECIMALS = 6

# The microphone is opened at this rate at least: class 1 A and C weighting up to 20 kHz
# needs the band (sea.levels); the window grid resamples to the model's rate.
MIC_RATE = 48000


def iso_utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def window_record(index: int, utc: float, levels: dict[str, float], top: list | None,
                  embedding: np.ndarray | None) -> dict:
    """One window line; a non-finite value is left out and named in "error" instead."""
    record: dict = {"type": "window", "index": index, "utc": iso_utc(utc)}
    bad = []
    for key, value in levels.items():
        if math.isfinite(value):
            record[key] = round(float(value), 2)
        else:
            bad.append(key)
    if top is not None:
        if all(math.isfinite(p) for _, p in top):
            record["top"] = top
        else:
            bad.append("top")
    if embedding is not None:
        if np.isfinite(embedding).all():
            record["embedding"] = np.round(embedding.astype(np.float64),
                                           EMBEDDING_DECIMALS).tolist()
        else:
            bad.append("embedding")
    if bad:
        record["error"] = "non-finite " + ", ".join(bad)
    return record


def check_trust(cfg: NodeConfig) -> None:
    """With `trust` set, refuse a bundle not signed by one of its keys, before loading it."""
    if cfg.node.trust:
        info = verify_bundle_signature(cfg.node.bundle, list(cfg.node.trust))
        log.info("bundle signed by trusted key %s (%s)", info.key_id[:16], info.trusted_key)


def start_uploader(cfg: NodeConfig, stop: threading.Event) -> threading.Thread | None:
    """The [upload] section's store-and-forward loop, in a thread sharing `stop`."""
    if cfg.upload is None:
        return None
    try:  # httpx comes with the node extra, which a spool-only node may lack
        from deploy.node.upload import Uploader, load_token
    except ImportError as exc:
        raise ConfigError(f"[upload] is set, but the uploader cannot load ({exc}): "
                          f'pip install "sea-embed[node]"') from None
    uploader = Uploader(cfg.upload.url, cfg.node_id, load_token(cfg.upload.token_file),
                        cfg.data_dir, verify_tls=cfg.upload.verify_tls)
    thread = threading.Thread(target=uploader.run, args=(stop,), name="sea-upload", daemon=True)
    thread.start()
    return thread


def lock_data_dir(data_dir: Path) -> IO[str]:
    """One serve process per data_dir (two would number windows twice); released on exit,
    also on SIGKILL (the kernel drops the lock with the process)."""
    lock = open_lock_file(data_dir / LOCK_FILE)  # never through a link planted there
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ConfigError(f"data_dir {data_dir} is in use by another sea-node serve") from None
    return lock


@dataclass
class Window:
    k: int  # position in its grid
    samples: np.ndarray  # at the model's rate
    levels: dict[str, float]  # laeq, lceq, lafmax in dB
    energy: tuple[float, int]  # A-weighted energy and samples of its hop span (periods' LAeq)


class Grid:
    """One continuous stretch of input: resampled to the model's rate and cut into windows
    `hop_length` samples apart (no centring), with the stream embedder that reuses the frames
    neighbouring windows share, and each window's levels measured on the input's own samples, its whole
    band (WindowLevels)."""

    def __init__(self, server: "Server", source_rate: int, total_samples: int | None = None):
        width = server.embedder.window_samples
        try:
            self.meter = WindowLevels(source_rate, server.rate, width, server.hop_length, False,
                                      server.offset_db)
        except ValueError as exc:
            raise AudioError(f"no levels at {source_rate} Hz: {exc}") from None
        self.resampler = StreamResampler(source_rate, server.rate, total_samples)
        self.windows = WindowStream(width, server.hop_length, center=False)
        self.embed = server.embedder.stream_embedder(server.hop_length)

    def push(self, block: np.ndarray) -> Iterator[Window]:
        self.meter.push(block)
        for k, samples in self.windows.push(self.resampler.push(block)):
            yield self._measured(k, samples)

    def drain(self) -> Iterator[Window]:
        """The whole windows still inside the resampler (the input stops here: a gap)."""
        for k, samples in self.windows.push(self.resampler.finish()):
            yield self._measured(k, samples)

    def finish(self) -> Iterator[Window]:
        """Every window left, the last ones padded (the input's end)."""
        yield from self.drain()
        for k, samples in self.windows.finish():
            yield self._measured(k, samples)

    def _measured(self, k: int, samples: np.ndarray) -> Window:
        levels, energy = self.meter.window(k)
        return Window(k, samples, levels.rounded() if levels is not None else {}, energy)


class Server:
    """One serve run: resume, process input until `stop` (or, with `drain`, until the spool
    is empty), then close the open segment and save the state."""

    def __init__(self, cfg: NodeConfig, stop: threading.Event, drain: bool = False):
        self.cfg, self.stop, self.drain = cfg, stop, drain
        check_trust(cfg)
        self.embedder = BundleEmbedder(cfg.node.bundle, num_threads=cfg.node.threads)
        self.rate = self.embedder.sample_rate
        try:
            self.hop_length = cfg.node.hop_length(self.rate, self.embedder.cfg.frontend.window_seconds)
        except SettingError as exc:
            raise config_error(exc) from None
        self.mic_rate = max(self.rate, MIC_RATE)
        self.offset_db = cfg.node.calibration_db or 0.0
        if cfg.node.calibration_db is None:
            log.warning("no [calibration] in the node config: levels are dB re full scale, not "
                        "dB SPL (measure a calibrator with `sea-node calibrate`)")
        self.periods = self._period_aggregator()
        self._window_utc: dict[int, float] = {}  # windows of the period being pooled
        self.model_id = self.embedder.name
        self.bundle_sha256 = sha256_file(cfg.node.bundle / "manifest.json")
        self.spool = (Spool(cfg.input.spool_dir, cfg.input.settle_seconds, cfg.input.after)
                      if cfg.input.source == "spool" else None)

        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = lock_data_dir(cfg.data_dir)
        self.dirs = SegmentDirs(cfg.data_dir)
        self.dirs.recover_open()
        self.state = reconcile(load_state(cfg.data_dir), self.dirs)
        self.state.save(cfg.data_dir)
        enforce_budget(self.dirs, cfg.max_disk_bytes)

        self.segment: OpenSegment | None = None
        self.segment_bucket = 0
        self.segment_opened = 0.0
        self.overruns = Overruns()
        self.started = time.time()
        self.windows_written = 0
        self.audio_seconds = 0.0
        self.failed_files = 0
        self.last_window: tuple[int, float] | None = None
        self.next_status = 0.0
        log.info("serving %s (%s) into %s from window %d, segment %d", self.model_id,
                 cfg.input.source, cfg.data_dir, self.state.next_index, self.state.next_seq)

    # ---- segments -------------------------------------------------------------------------
    def header(self, seq: int) -> dict:
        head = self.embedder.head
        return {"type": "segment", "schema": SCHEMA, "node_id": self.cfg.node_id, "seq": seq,
                "model_id": self.model_id, "bundle_sha256": self.bundle_sha256,
                "hop_seconds": self.hop_length / self.rate,
                "classes": list(head.labels) if head is not None else [],
                "created_utc": iso_utc(time.time())}

    def close_segment(self) -> None:
        if self.segment is None:
            return
        closed = self.segment.close()
        self.segment = None
        if closed is not None:
            self.state.next_seq = closed.seq + 1
        self.state.save(self.cfg.data_dir)
        enforce_budget(self.dirs, self.cfg.max_disk_bytes)
        self.write_status()

    def _segment_for(self, utc: float) -> OpenSegment:
        bucket = math.floor(utc / self.cfg.rotate_seconds)
        if self.segment is not None and bucket != self.segment_bucket:
            self.close_segment()
        if self.segment is None:
            self.segment = OpenSegment(self.dirs, self.state.next_seq,
                                       self.header(self.state.next_seq))
            self.segment_bucket, self.segment_opened = bucket, time.monotonic()
        return self.segment

    def rotate_if_old(self) -> None:
        """Close a segment open for `rotate_seconds` of wall time (input slower than time)."""
        if self.segment is not None and \
                time.monotonic() - self.segment_opened >= self.cfg.rotate_seconds:
            self.close_segment()

    # ---- windows --------------------------------------------------------------------------
    def _period_aggregator(self) -> PeriodAggregator | None:
        head = self.embedder.head
        entry = self.embedder.bundle.manifest.get("head", {}) if head is not None else {}
        period = self.cfg.period_seconds or entry.get("period_seconds")
        if head is None or not period:
            return None
        return PeriodAggregator.for_head(head, entry, period, self.hop_length / self.rate)

    def emit(self, grid: Grid, window: Window, index: int, utc: float) -> None:
        """Compute and write window number `index`, then the period it completes, if any."""
        emb = grid.embed(window.samples, window.k)
        head = self.embedder.head
        record = window_record(
            index, utc, window.levels,
            top_classes(head.labels, head(emb[None])[0], self.cfg.node.top_k) if head else None,
            emb if self.cfg.node.embeddings or head is None else None)
        self._segment_for(utc).write(record)
        self.state.next_index = index + 1
        self.windows_written += 1
        self.audio_seconds += self.hop_length / self.rate
        self.last_window = (index, utc)
        if self.periods is not None and "error" not in record:  # NaN must not poison a period
            self._window_utc[index] = utc
            for period in self.periods.add(index, emb, window.energy):
                self.write_period(period)
        self.tick()

    def end_period(self) -> None:
        """Write the partial period gathered so far (an input's end, a gap, a stop)."""
        period = self.periods.flush() if self.periods is not None else None
        if period is not None:
            self.write_period(period)

    def write_period(self, period: Period) -> None:
        utc = self._window_utc[period.start_index]
        record: dict = {"type": "period", "start_index": period.start_index,
                        "end_index": period.end_index, "utc": iso_utc(utc)}
        if np.isfinite(period.scores).all():
            record["top"] = top_classes(self.embedder.head.labels, period.scores,
                                        self.cfg.node.top_k)
        else:
            record["error"] = "non-finite top"
        if period.mean_square is not None:
            record["laeq"] = round(float(to_db(period.mean_square, self.offset_db)), 2)
        # in the segment of its last window (rotation follows the windows, not their periods)
        self._segment_for(self._window_utc[period.end_index]).write(record)
        self._window_utc = {i: t for i, t in self._window_utc.items() if i > period.end_index}

    def tick(self) -> None:
        self.rotate_if_old()
        if time.monotonic() >= self.next_status:
            self.write_status()

    # ---- inputs ---------------------------------------------------------------------------
    def run_live(self, source: Source, overruns: Overruns) -> None:
        """A live source; after an overrun's gap the window grid restarts at the block after it
        (its time advanced by the lost samples), never spliced."""
        rate = source.sample_rate
        grid = None
        base = 0.0  # utc of the current grid's first sample
        consumed = 0  # samples pushed into the current grid

        def emit_all(windows: Iterator[Window]) -> bool:
            for window in windows:
                self.emit(grid, window, self.state.next_index,
                          base + window.k * self.hop_length / self.rate)
                if self.stop.is_set():
                    return False
            return True

        for block in source.blocks:
            if grid is None or overruns.gap:
                if grid is None:
                    base = time.time() - len(block) / rate
                else:  # the audio before the gap ends there: its last whole windows first
                    if not emit_all(grid.drain()):
                        return
                    self.end_period()
                    base += (consumed + overruns.gap) / rate
                overruns.gap, consumed = 0, 0
                grid = Grid(self, rate)
            consumed += len(block)
            if not emit_all(grid.push(block)) or self.stop.is_set():
                return

    def run_spool(self) -> None:
        while not self.stop.is_set():
            # the file a killed run was in goes first, even if an earlier name arrived since
            files = sorted(self.spool.ready(), key=lambda p: p.name != self.state.spool_file)
            for path in files:
                self.run_file(path)
                if self.stop.is_set():
                    return
            if not files:
                if self.drain and self.spool.backlog() == 0:
                    return
                self.tick()
                self.stop.wait(IDLE_POLL_SECONDS)

    def run_file(self, path: Path) -> None:
        """One spool file; windows a killed run already wrote (by index) are skipped."""
        try:
            source = file_source(str(path), self.cfg.node.block_seconds)
            t0 = start_time(path, source.total_samples, source.sample_rate)
        except (AudioError, OSError) as exc:
            self._failed(path, str(exc))
            return
        if self.state.spool_file != path.name:
            self.state.spool_file, self.state.spool_base = path.name, self.state.next_index
            self.state.save(self.cfg.data_dir)
        base = self.state.spool_base
        try:
            grid = Grid(self, source.sample_rate, source.total_samples)
            for window in self._file_windows(grid, source):
                if base + window.k >= self.state.next_index:
                    self.emit(grid, window, base + window.k,
                              t0 + window.k * self.hop_length / self.rate)
                if self.stop.is_set():
                    return
        except AudioError as exc:  # damaged after some windows: those stay written
            self._failed(path, str(exc))
            return
        finally:
            self.end_period()  # periods never pool windows of two files
        self.spool.finish(path)
        self.state.spool_file = None

    def _file_windows(self, grid: Grid, source: Source) -> Iterator[Window]:
        for block in source.blocks:
            yield from grid.push(block)
            self.tick()
        yield from grid.finish()

    def _failed(self, path: Path, reason: str) -> None:
        self.failed_files += 1
        self.spool.fail(path, reason)
        self.state.spool_file = None

    # ---- status ---------------------------------------------------------------------------
    def write_status(self, running: bool = True) -> None:
        now = time.time()
        counts = {which: len(self.dirs.listing(which))
                  for which in (OPEN, CLOSED, DELIVERED, REJECTED)}
        last_index, last_utc = self.last_window or (None, None)
        atomic_write_json(self.cfg.data_dir / STATUS_FILE, {
            "node_id": self.cfg.node_id, "model_id": self.model_id,
            "bundle_sha256": self.bundle_sha256, "pid": os.getpid(),
            "state": "running" if running else "stopped", "input": self.cfg.input.source,
            "started_utc": iso_utc(self.started), "updated_utc": iso_utc(now),
            "uptime_seconds": round(now - self.started, 3),
            "last_window_index": last_index,
            "last_window_utc": None if last_utc is None else iso_utc(last_utc),
            "windows_written": self.windows_written, "next_index": self.state.next_index,
            "audio_seconds": round(self.audio_seconds, 3),
            "overruns": self.overruns.events,
            "dropped_audio_seconds": round(self.overruns.dropped_samples / self.mic_rate, 3),
            "spool_backlog_files": self.spool.backlog() if self.spool else None,
            "spool_failed_files": self.failed_files,
            "disk_bytes": disk_usage(self.cfg.data_dir),
            "max_disk_bytes": self.cfg.max_disk_bytes, "segments": counts})
        self.next_status = time.monotonic() + self.cfg.status_seconds

    # ---- the run --------------------------------------------------------------------------
    def serve(self) -> None:
        uploader = start_uploader(self.cfg, self.stop)
        self.write_status()
        try:
            if self.spool is not None:
                self.run_spool()
            else:
                node = self.cfg.node
                self.run_live(mic_source(self.mic_rate, node.block_seconds, self.stop,
                                         node.device, self.overruns), self.overruns)
        finally:
            self.end_period()
            self.close_segment()
            self.state.save(self.cfg.data_dir)
            self.write_status(running=False)
            if self.overruns.events:
                log.warning("%d audio overruns, %.1f s of input dropped", self.overruns.events,
                            self.overruns.dropped_samples / self.mic_rate)
            log.info("stopped after %d windows (next index %d)", self.windows_written,
                     self.state.next_index)
            if uploader is not None:
                self.stop.set()
                uploader.join(timeout=10)
            self.release()

    def release(self) -> None:
        """Give up the data_dir lock (serve does at its end; the process exit does too)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None
