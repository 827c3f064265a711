"""Run a bundle over audio sources and write one JSON line per window as it is computed.

Line format (one object per line, flushed immediately):
- window: {"source", "time" (window start in seconds from the source start, `sea.framing`
  timestamps), "embedding" [D floats] (unless disabled), "top" [[label, score], ...] when the
  bundle has a classifier head, "laeq", "lceq", "lafmax" (dB, calibrated) when levels are on,
  and "utc" (ISO 8601) for live input};
- period (with a head and an aggregation period): {"type": "period", "source", "time", "end",
  "start_index", "end_index", "top", "laeq" with levels, "utc" for live input}: the windows'
  embeddings pooled over the period as `sea evaluate` pools a clip's (PeriodAggregator);
- a bad input: {"source", "error"} (also logged), after which the run goes on;
- a window whose embedding or scores are not finite (NaN/Inf, never valid JSON): {"source",
  "time", "error"}, counted in `RunStats.non_finite` (logged once per source) and left out of
  its period.
Levels are measured on the source's own samples (its full bandwidth), before resampling.
A stop request (SIGINT/SIGTERM) is honoured between windows, so the last line is complete.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import IO

import numpy as np

from deploy.node.sources import Source
from sea.framing import hop_samples
from sea.audio import AudioError
from sea.bundle import BundleEmbedder, ClassifierHead
from sea.levels import LevelMeter, Levels, to_db
from sea.stream import StreamResampler, WindowStream

log = logging.getLogger("sea.node")
POOLINGS = ("mean", "max", "mil")


@dataclass
class RunStats:
    sources: int = 0
    windows: int = 0
    errors: int = 0
    non_finite: int = 0  # windows written as an error line: NaN/Inf in the embedding or scores


def top_classes(labels: list[str], scores: np.ndarray, k: int) -> list[list]:
    """[[label, score], ...] of the k highest scores, highest first."""
    best = np.argsort(-scores, kind="stable")[:k]
    return [[labels[i], round(float(scores[i]), 6)] for i in best]


def utc_stamp(seconds: float) -> str:
    """ISO 8601 UTC with milliseconds, from a POSIX time."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        f".{int(seconds % 1 * 1000):03d}Z"


@dataclass
class Period:
    start_index: int  # first window
    end_index: int  # last window (inclusive)
    scores: np.ndarray  # (n_labels,) the head's output for the period
    mean_square: float | None  # A-weighted, over the windows' hop spans (None: no levels)


class PeriodAggregator:
    """Pools the windows of each aggregation period and classifies them as `sea evaluate`
    classifies a clip: mean or max of the embeddings, then the head; MIL: the head on every
    window, then the max or mean of the scores. Periods are `windows` consecutive window
    indices aligned to multiples of it; `flush()` ends a partial one (a source's end).
    Accumulators are running sums, so a long period costs no memory."""

    def __init__(self, head: ClassifierHead, windows: int, pooling: str = "mean",
                 mil_aggregate: str = "max"):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling {pooling!r} not in {POOLINGS}")
        if windows < 1:
            raise ValueError(f"windows must be at least 1, got {windows}")
        self.head, self.windows = head, windows
        self.pooling, self.mil_aggregate = pooling, mil_aggregate
        self._reset()

    @classmethod
    def for_head(cls, head: ClassifierHead, entry: dict, period_seconds: float,
                 hop_seconds: float) -> "PeriodAggregator":
        """The aggregator a bundle's head entry asks for (its pooling), over `period_seconds`
        of windows `hop_seconds` apart."""
        return cls(head, max(1, round(period_seconds / hop_seconds)),
                   entry.get("pooling", "mean"), entry.get("mil_aggregate", "max"))

    def _reset(self) -> None:
        self._first: int | None = None
        self._last = -1
        self._count = 0
        self._pooled: np.ndarray | None = None
        self._energy = 0.0
        self._samples = 0

    def add(self, index: int, embedding: np.ndarray,
            energy: tuple[float, int] | None = None) -> list[Period]:
        """Take window `index` (and the A-weighted energy of its hop span); returns the
        periods it completes: the previous one when `index` lies beyond it, and its own."""
        done = []
        if self._first is not None and index // self.windows != self._first // self.windows:
            done.append(self.flush())
        if self._first is None:
            self._first = index
        vector = (self.head(embedding[None])[0] if self.pooling == "mil"
                  else np.asarray(embedding, np.float64))
        if self._pooled is None:
            self._pooled = np.array(vector, np.float64)
        elif self.pooling == "max" or (self.pooling == "mil" and self.mil_aggregate == "max"):
            np.maximum(self._pooled, vector, out=self._pooled)
        else:
            self._pooled += vector
        self._count += 1
        self._last = index
        if energy is not None:
            self._energy += energy[0]
            self._samples += energy[1]
        if (index + 1) % self.windows == 0:
            done.append(self.flush())
        return done

    def flush(self) -> Period | None:
        """The period gathered so far (None when empty), and a fresh start."""
        if self._first is None:
            return None
        pooled = self._pooled
        if self.pooling == "mean" or (self.pooling == "mil" and self.mil_aggregate == "mean"):
            pooled = pooled / self._count
        scores = pooled if self.pooling == "mil" else self.head(pooled.astype(np.float32)[None])[0]
        period = Period(self._first, self._last, np.asarray(scores),
                        self._energy / self._samples if self._samples else None)
        self._reset()
        return period


class WindowLevels:
    """Levels of the node's windows, measured on a source's own samples (its whole band, before
    resampling): window `index` spans the model-rate samples [index * hop_length - pad, + width)
    (`sea.framing`; pad = width // 2 when centred), mapped to source samples. Each window also
    gives the A-weighted energy of its first `hop_length` samples: consecutive windows' hop spans tile
    the stream, so their sums are the exact energy of any run of windows."""

    def __init__(self, source_rate: int, model_rate: int, width: int, hop_length: int,
                 center: bool, offset_db: float):
        self.meter = LevelMeter(source_rate, offset_db)
        self.ratio = source_rate / model_rate
        self.width, self.hop_length, self.pad = width, hop_length, width // 2 if center else 0

    def push(self, block: np.ndarray) -> None:
        self.meter.push(block)

    def window(self, index: int) -> tuple[Levels | None, tuple[float, int]]:
        """(levels over the window, (energy, samples) of its hop span); forgets what lies
        before the window, which no later window needs."""
        start = index * self.hop_length - self.pad
        first, end, hop_end = (round(s * self.ratio) for s in
                               (start, start + self.width, start + self.hop_length))
        levels, energy = self.meter.levels(first, end), self.meter.energy(first, hop_end)
        self.meter.discard(first)
        return levels, energy


class NodeRunner:
    def __init__(self, embedder: BundleEmbedder, out: IO[str], hop_seconds: float = 0.5,
                 center: bool = True, top_k: int = 3, embeddings: bool = True,
                 stop: threading.Event | None = None, period_seconds: float | None = None,
                 offset_db: float | None = None):
        self.embedder = embedder
        self.out = out
        self.hop_seconds = hop_seconds
        self.center = center
        self.top_k = top_k
        self.embeddings = embeddings or embedder.head is None
        self.stop = stop or threading.Event()
        self.period_seconds = period_seconds if embedder.head is not None else None
        self.offset_db = offset_db  # None: no levels
        self.stats = RunStats()
        self._non_finite_sources: set[str] = set()

    def write(self, record: dict) -> None:
        self.out.write(json.dumps(record, allow_nan=False) + "\n")
        self.out.flush()

    def report_error(self, name: str, reason: str) -> None:
        log.error("%s: %s (skipped)", name, reason)
        self.stats.errors += 1
        self.write({"source": name, "error": reason})

    def record(self, source: Source, index: int, emb: np.ndarray, started: float) -> dict:
        t = index * self.hop_seconds
        rec: dict = {"source": source.name, "time": round(t, 6)}
        if source.live:
            rec["utc"] = utc_stamp(started + t)
        scores = self.embedder.head(emb[None])[0] if self.embedder.head is not None else None
        if not np.isfinite(emb).all() or (scores is not None and not np.isfinite(scores).all()):
            return self.non_finite(rec)
        if scores is not None:
            rec["top"] = top_classes(self.embedder.head.labels, scores, self.top_k)
        if self.embeddings:
            rec["embedding"] = emb.astype(np.float64).tolist()
        return rec

    def non_finite(self, rec: dict) -> dict:
        """The line of a window with NaN/Inf values: an error, never a bare NaN token."""
        self.stats.non_finite += 1
        if rec["source"] not in self._non_finite_sources:
            self._non_finite_sources.add(rec["source"])
            log.error("%s: window at %s s has NaN/Inf values (damaged bundle, or audio far "
                      "outside [-1, 1]); written as an error line", rec["source"], rec["time"])
        return {**rec, "error": "embedding or scores not finite (NaN/Inf)"}

    def period_record(self, source: Source, period: Period, started: float) -> dict:
        t = period.start_index * self.hop_seconds
        rec: dict = {"type": "period", "source": source.name, "time": round(t, 6),
                     "end": round((period.end_index + 1) * self.hop_seconds, 6),
                     "start_index": period.start_index, "end_index": period.end_index}
        if source.live:
            rec["utc"] = utc_stamp(started + t)
        rec["top"] = top_classes(self.embedder.head.labels, period.scores, self.top_k)
        if period.mean_square is not None:
            rec["laeq"] = round(float(to_db(period.mean_square, self.offset_db)), 2)
        return rec

    def run_source(self, source: Source) -> None:
        """Stream one source to the output; decoding errors mid-way keep the lines written."""
        rate = self.embedder.sample_rate
        resampler = StreamResampler(source.sample_rate, rate, source.total_samples)
        hop_length = hop_samples(rate, self.hop_seconds)
        width = self.embedder.window_samples
        windows = WindowStream(width, hop_length, self.center)
        embed = self.embedder.stream_embedder(hop_length)
        try:
            meter = (None if self.offset_db is None else WindowLevels(
                source.sample_rate, rate, width, hop_length, self.center, self.offset_db))
        except ValueError as exc:
            self.report_error(source.name, f"no levels at {source.sample_rate} Hz: {exc}")
            return
        periods = (None if self.period_seconds is None else PeriodAggregator.for_head(
            self.embedder.head, self.embedder.bundle.manifest["head"], self.period_seconds,
            self.hop_seconds))
        started = time.time()

        def emit(index: int, window: np.ndarray) -> None:
            emb = embed(window, index)
            rec = self.record(source, index, emb, started)
            levels, energy = meter.window(index) if meter is not None else (None, None)
            if levels is not None and "error" not in rec:
                rec.update(levels.rounded())
            self.write(rec)
            self.stats.windows += 1
            if "error" in rec:
                return
            for period in periods.add(index, emb, energy) if periods is not None else ():
                self.write(self.period_record(source, period, started))

        def feed() -> None:
            for block in source.blocks:
                if meter is not None:
                    meter.push(block)
                for index, window in windows.push(resampler.push(block)):
                    emit(index, window)
                    if self.stop.is_set():
                        return
                if self.stop.is_set():
                    return
            for index, window in itertools.chain(windows.push(resampler.finish()),
                                                 windows.finish()):
                emit(index, window)
            self.stats.sources += 1

        try:
            feed()
        except AudioError as exc:
            self.report_error(source.name, str(exc))
        last = periods.flush() if periods is not None else None
        if last is not None:  # the windows written so far make a (partial) period
            self.write(self.period_record(source, last, started))
