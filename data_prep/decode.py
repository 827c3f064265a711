"""Turn a ClipTask into mono float32 blocks at the store rate, in bounded memory.

Files are decoded block by block (sea.audio.iter_audio_blocks) and resampled with a streaming
soxr resampler, so peak memory does not grow with file length. Worker processes cannot write
the store, so `materialize` hands results back either in memory (short clips) or through a
spool file (long ones) that the writer then streams in.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from data_prep.tasks import ClipTask
from sea.audio import AudioError, iter_audio_blocks, read_info

BLOCK_FRAMES = 1 << 18
SPOOL_SAMPLES = 1 << 23  # above this (~175 s at 48 kHz) a worker spools to disk


def decoded_blocks(path: str | Path, sr_out: int,
                   block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Mono float32 blocks of `path` resampled to `sr_out`; AudioError says why it fails.

    The output length is floor(n_in * sr_out / sr_in), as `sea.audio.resample` gives.
    """
    info = read_info(path)  # the shared decoding policy; iter_audio_blocks checks the length
    sr_in = int(info.samplerate)
    n_in = 0
    if sr_in == sr_out:
        for block in iter_audio_blocks(path, block_frames):
            n_in += len(block)
            yield block
    else:
        import soxr

        stream = soxr.ResampleStream(sr_in, sr_out, 1, dtype="float32", quality="HQ")
        produced, pending = 0, np.zeros(0, np.float32)
        for block in iter_audio_blocks(path, block_frames):
            n_in += len(block)
            out = stream.resample_chunk(block)
            if len(pending):
                yield pending
                produced += len(pending)
            pending = out
        pending = np.concatenate([pending, stream.resample_chunk(np.zeros(0, np.float32),
                                                                 last=True)])
        remaining = math.floor(n_in * sr_out / sr_in) - produced
        tail = np.pad(pending, (0, max(remaining - len(pending), 0)))[:max(remaining, 0)]
        if len(tail):
            yield tail


def task_blocks(task: ClipTask, sr: int) -> tuple[Iterator[np.ndarray], tuple]:
    """(blocks, events) for a task: decoded file blocks or a rendered scene."""
    if task.scene is not None:
        from data_prep.synth.scene import render_scene

        audio, events = render_scene(task.scene, sr)
        return iter((audio,)), events
    return decoded_blocks(task.path, sr), ()


@dataclass(frozen=True)
class Decoded:
    """A worker's result: audio in memory or in a spool file, or the reason it failed."""

    task: ClipTask
    audio: np.ndarray | None = None
    spool: str | None = None
    events: tuple = ()
    error: str | None = None

    def blocks(self, block_samples: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        if self.audio is not None:
            yield self.audio
            return
        with open(self.spool, "rb") as f:
            while chunk := f.read(block_samples * 4):
                yield np.frombuffer(chunk, dtype="<f4")

    def discard(self) -> None:
        if self.spool:
            Path(self.spool).unlink(missing_ok=True)


def materialize(task: ClipTask, sr: int, spool_dir: str) -> Decoded:
    """Decode a task completely (in a worker); never raises for a bad input."""
    spool_path, spool = None, None
    try:
        blocks, events = task_blocks(task, sr)
        kept: list[np.ndarray] = []
        held = 0
        for block in blocks:
            block = np.ascontiguousarray(block, dtype="<f4")
            if spool is None and held + len(block) > SPOOL_SAMPLES:
                name = hashlib.sha1(task.clip_id.encode()).hexdigest() + ".f32"
                spool_path = str(Path(spool_dir) / name)
                spool = open(spool_path, "wb")
                for k in kept:
                    spool.write(k.data)
                kept = []
            if spool is not None:
                spool.write(block.data)
            else:
                kept.append(block)
                held += len(block)
        if spool is not None:
            spool.close()
            return Decoded(task, spool=spool_path, events=events)
        audio = np.concatenate(kept) if kept else np.zeros(0, "<f4")
        return Decoded(task, audio=audio, events=events)
    except Exception as exc:  # a bad input must not stop the batch; its reason is kept
        if spool is not None:
            spool.close()
            Path(spool_path).unlink(missing_ok=True)
        return Decoded(task, error=describe_error(exc))


def describe_error(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, AudioError) else f"{type(exc).__name__}: {exc}"
