"""Run a bundle over audio sources and write one JSON line per window as it is computed.

Line format (one object per line, flushed immediately):
- window: {"source", "time" (window start in seconds from the source start, `sea.framing`
  timestamps), "embedding" [D floats] (unless disabled), "top" [[label, score], ...] when the
  bundle has a classifier head, and "utc" (ISO 8601) for live input};
- a bad input: {"source", "error"} (also logged), after which the run goes on.
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
from sea.stream import StreamResampler, WindowStream
from sea.audio import AudioError
from sea.bundle import BundleEmbedder, ClassifierHead

log = logging.getLogger("sea.node")


def top_classes(head: ClassifierHead, embedding: np.ndarray, k: int) -> list[list]:
    """[[label, score], ...] of the head's k best classes for one embedding, best first."""
    scores = head(embedding[None])[0]
    return [[head.labels[i], round(float(scores[i]), 6)] for i in np.argsort(-scores)[:k]]


@dataclass
class RunStats:
    sources: int = 0
    windows: int = 0
    errors: int = 0


class NodeRunner:
    def __init__(self, embedder: BundleEmbedder, out: IO[str], hop_seconds: float = 0.5,
                 center: bool = True, top_k: int = 3, embeddings: bool = True,
                 stop: threading.Event | None = None):
        self.embedder = embedder
        self.out = out
        self.hop_seconds = hop_seconds
        self.center = center
        self.top_k = top_k
        self.embeddings = embeddings or embedder.head is None
        self.stop = stop or threading.Event()
        self.stats = RunStats()

    def write(self, record: dict) -> None:
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    def report_error(self, name: str, reason: str) -> None:
        log.error("%s: %s (skipped)", name, reason)
        self.stats.errors += 1
        self.write({"source": name, "error": reason})

    def record(self, source: Source, index: int, emb: np.ndarray, started: float) -> dict:
        t = index * self.hop_seconds
        rec: dict = {"source": source.name, "time": round(t, 6)}
        if source.live:
            rec["utc"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started + t)) + \
                f".{int((started + t) % 1 * 1000):03d}Z"
        if self.embedder.head is not None:
            rec["top"] = top_classes(self.embedder.head, emb, self.top_k)
        if self.embeddings:
            rec["embedding"] = emb.astype(np.float64).tolist()
        return rec

    def run_source(self, source: Source) -> None:
        """Stream one source to the output; decoding errors mid-way keep the lines written."""
        rate = self.embedder.sample_rate
        resampler = StreamResampler(source.sample_rate, rate, source.total_samples)
        hop = int(self.hop_seconds * rate)
        windows = WindowStream(self.embedder.window_samples, hop, self.center)
        embed = self.embedder.stream_embedder(hop)
        started = time.time()
        try:
            for block in source.blocks:
                for index, window in windows.push(resampler.push(block)):
                    self.write(self.record(source, index, embed(window, index), started))
                    self.stats.windows += 1
                    if self.stop.is_set():
                        return
                if self.stop.is_set():
                    return
            for index, window in itertools.chain(windows.push(resampler.finish()),
                                                 windows.finish()):
                self.write(self.record(source, index, embed(window, index), started))
                self.stats.windows += 1
            self.stats.sources += 1
        except AudioError as exc:
            self.report_error(source.name, str(exc))
