"""Audio sources for the node: files read in blocks, and the microphone (sounddevice)."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from sea.audio import AudioError, iter_audio_blocks, read_info


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


def mic_source(sample_rate: int, block_seconds: float, stop: threading.Event,
               device: str | int | None = None) -> Source:
    """Live input at the model's rate through sounddevice; blocks until `stop` is set."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: PortAudio library missing
        raise AudioError(f"microphone input needs sounddevice and PortAudio "
                         f"(pip install sounddevice): {exc}") from exc
    blocks: queue.Queue[np.ndarray] = queue.Queue(maxsize=64)  # bounded: drop if we fall behind

    def callback(indata, frames, time_info, status) -> None:
        try:
            blocks.put_nowait(indata[:, 0].copy())
        except queue.Full:
            pass

    def generate() -> Iterator[np.ndarray]:
        with sounddevice.InputStream(samplerate=sample_rate, channels=1, dtype="float32",
                                     blocksize=int(block_seconds * sample_rate),
                                     device=device, callback=callback):
            while not stop.is_set():
                try:
                    yield blocks.get(timeout=0.2)
                except queue.Empty:
                    continue

    return Source("mic", sample_rate, None, generate(), live=True)
