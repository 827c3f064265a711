"""Audio sources for the node: files read in blocks, and the microphone (sounddevice)."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from sea.audio import AudioError, iter_audio_blocks, read_info

log = logging.getLogger("sea.node")


@dataclass
class Source:
    name: str
    sample_rate: int
    total_samples: int | None  # None for live input
    blocks: Iterator[np.ndarray]
    live: bool = False


def file_source(path: str, block_seconds: float) -> Source:
    """A file streamed in mono float32 blocks; raises AudioError for unusable files."""
    info = read_info(path)
    block = max(1, int(block_seconds * info.samplerate))
    return Source(str(path), int(info.samplerate), int(info.frames),
                  iter_audio_blocks(path, block))


class Overruns:
    """Audio lost because the node fell behind real time: counted and reported, never silent.

    `events`: overrun occurrences (blocks dropped from the full queue, or PortAudio's own input
    overflow flag, whose length it does not say); `dropped_samples`: samples known dropped.
    `gap` is set, in the consumer's thread, to the samples lost just before the block being
    yielded, so a reader can restart its window grid there instead of splicing across a gap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events = 0
        self.dropped_samples = 0
        self.gap = 0

    def record(self, samples: int) -> None:
        with self.lock:
            self.events += 1
            self.dropped_samples += samples


def mic_source(sample_rate: int, block_seconds: float, stop: threading.Event,
               device: str | int | None = None, overruns: Overruns | None = None) -> Source:
    """Live input at the model's rate through sounddevice; blocks until `stop` is set.
    Blocks that do not fit the bounded queue (the reader is behind) are dropped and counted
    in `overruns`, with a warning naming how much audio was lost."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: PortAudio library missing
        raise AudioError(f"microphone input needs sounddevice and PortAudio "
                         f"(pip install sounddevice): {exc}") from exc
    overruns = overruns if overruns is not None else Overruns()
    # (samples dropped just before this block, block); bounded: we never buffer without limit
    blocks: queue.Queue[tuple[int, np.ndarray]] = queue.Queue(maxsize=64)
    pending = [0]  # samples dropped since the last queued block (audio thread only)

    def callback(indata, frames, time_info, status) -> None:
        if status and status.input_overflow:  # PortAudio lost input itself
            overruns.record(0)
        try:
            blocks.put_nowait((pending[0], indata[:, 0].copy()))
            pending[0] = 0
        except queue.Full:
            pending[0] += frames
            overruns.record(frames)

    def generate() -> Iterator[np.ndarray]:
        with sounddevice.InputStream(samplerate=sample_rate, channels=1, dtype="float32",
                                     blocksize=int(block_seconds * sample_rate),
                                     device=device, callback=callback):
            while not stop.is_set():
                try:
                    gap, block = blocks.get(timeout=0.2)
                except queue.Empty:
                    continue
                if gap:
                    log.warning("audio overrun: %.2f s of input dropped (the node is behind "
                                "real time)", gap / sample_rate)
                overruns.gap = gap
                yield block

    return Source("mic", sample_rate, None, generate(), live=True)
