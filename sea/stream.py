"""Streaming audio: resample blocks as they arrive and cut windows with a ring buffer.

Used by the sensor node (live and file input) and by `sea embed` (files of any length).

Windows follow `sea.framing` exactly (same count, same start samples, same end padding), so a
streamed file gives the same windows as `frame_audio` on the whole file, with memory bounded
by one window plus one block whatever the input's length.
"""

from __future__ import annotations

import math
from itertools import chain
from typing import Iterator

import numpy as np

from sea.audio import iter_audio_blocks, read_info
from sea.framing import hop_samples


class StreamResampler:
    """Block-wise soxr resampling; with `total_in` known (files), the output length is trimmed
    or zero-padded to floor(total_in * sr_out / sr_in), as `sea.audio.resample` does."""

    def __init__(self, sr_in: int, sr_out: int, total_in: int | None = None):
        self.passthrough = sr_in == sr_out
        self.target = None if total_in is None else math.floor(total_in * sr_out / sr_in)
        self.emitted = 0
        if not self.passthrough:
            import soxr

            self.stream = soxr.ResampleStream(sr_in, sr_out, 1, dtype="float32", quality="HQ")

    def _limit(self, block: np.ndarray) -> np.ndarray:
        if self.target is not None:
            block = block[:max(self.target - self.emitted, 0)]
        self.emitted += len(block)
        return block

    def push(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float32)
        if not self.passthrough:
            block = self.stream.resample_chunk(block, last=False)
        return self._limit(block)

    def finish(self) -> np.ndarray:
        tail = (np.zeros(0, np.float32) if self.passthrough
                else self.stream.resample_chunk(np.zeros(0, np.float32), last=True))
        tail = self._limit(tail)
        if self.target is not None and self.emitted < self.target:
            missing = self.target - self.emitted
            self.emitted += missing
            tail = np.concatenate([tail, np.zeros(missing, np.float32)])
        return tail


class WindowStream:
    """Ring buffer of one window: push blocks, get each completed window (a copy) with its
    index; `finish()` pads the end like `sea.framing.pad_for_framing`."""

    def __init__(self, window: int, hop_length: int, center: bool = True):
        if not 0 < hop_length <= window:
            raise ValueError(f"hop_length ({hop_length} samples) must be in (0, window = "
                             f"{window}]")
        self.window, self.hop_length = window, hop_length
        self.ring = np.zeros(window, np.float32)
        self.write = 0  # next write position in the ring
        self.filled = 0  # valid samples in the ring (<= window)
        self.total = 0  # samples pushed, centring pad included
        self.emitted = 0  # windows returned so far
        if center:
            list(self.push(np.zeros(window // 2, np.float32)))

    def push(self, block: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        block = np.asarray(block, dtype=np.float32)
        pos = 0
        while pos < len(block):
            take = min(len(block) - pos, self.window - self.filled,
                       self.window - self.write)
            self.ring[self.write:self.write + take] = block[pos:pos + take]
            self.write = (self.write + take) % self.window
            self.filled += take
            self.total += take
            pos += take
            if self.filled == self.window:
                # oldest sample sits at `write` once the ring is full
                yield self.emitted, np.concatenate([self.ring[self.write:], self.ring[:self.write]])
                self.emitted += 1
                self.filled -= self.hop_length

    def finish(self) -> Iterator[tuple[int, np.ndarray]]:
        """The last window(s) covering the end, zero-padded (framing's window count)."""
        needed = 1 + math.ceil(max(self.total - self.window, 0) / self.hop_length)
        while self.emitted < needed:
            yield from self.push(np.zeros(self.window - self.filled, np.float32))


def iter_file_windows(path: str, sample_rate: int, hop_seconds: float, center: bool = True,
                      window_seconds: float = 1.0, block_seconds: float = 10.0
                      ) -> Iterator[np.ndarray]:
    """The windows `frame_audio` would cut from the whole resampled file, streamed: memory is
    bounded by one block and one window, whatever the file's length."""
    info = read_info(path)
    resampler = StreamResampler(int(info.samplerate), sample_rate, int(info.frames))
    windows = WindowStream(int(round(window_seconds * sample_rate)),
                           hop_samples(sample_rate, hop_seconds), center)
    for block in iter_audio_blocks(path, max(1, int(block_seconds * info.samplerate))):
        for _, window in windows.push(resampler.push(block)):
            yield window
    for _, window in chain(windows.push(resampler.finish()), windows.finish()):
        yield window
