"""Windows the exporter calibrates int8 on and checks parity with.

Real windows come from a clip store or a folder of recordings (clips resampled to the
model's rate, cut into 1-s windows without centring, drawn at random with a fixed seed). Without a store, synthetic
urban-like scenes stand in (noise beds, sirens, engine hum, impulsive events at levels from
very quiet to loud), and the manifest says so. Probes (silence, white noise, a sine) are
always checked too: silence and pure tones are where frontends and quantizers break; int8
calibration therefore also sees stress windows (other tones, noise, silence).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from sea.audio import resample
from sea.framing import frame_audio

log = logging.getLogger(__name__)
WINDOWS_PER_CLIP = 3  # spread the draw over many clips rather than a few long ones


@dataclass
class WindowSet:
    windows: np.ndarray  # (N, window_samples) float32 at the model's rate
    source: dict = field(default_factory=dict)  # what the manifest records about the origin

    def split(self, n_first: int) -> tuple[np.ndarray, np.ndarray]:
        return self.windows[:n_first], self.windows[n_first:]


def _draw(clips: int, read: Callable[[int], np.ndarray], sample_rate: int, count: int,
          seed: int, window_seconds: float) -> tuple[np.ndarray, list[int]]:
    """`count` windows from clips visited in a seeded random order, WINDOWS_PER_CLIP each;
    `read(i)` gives clip i at `sample_rate`. Returns (windows, positions of the clips used)."""
    rng = np.random.default_rng(seed)
    picked: list[np.ndarray] = []
    used: list[int] = []
    for pos in rng.permutation(clips):
        audio = read(int(pos))
        if audio.size == 0:  # unreadable (already logged): no silent stand-in window
            continue
        windows, _ = frame_audio(audio, sample_rate, hop_seconds=window_seconds,
                                 center=False, window_seconds=window_seconds)
        take = rng.permutation(len(windows))[:WINDOWS_PER_CLIP]
        picked.extend(windows[take].astype(np.float32))
        used.append(int(pos))
        if len(picked) >= count:
            break
    if not picked:
        raise ValueError("none of the clips could be read")
    return np.stack(picked[:count]), used


def store_windows(store_path: str | Path, sample_rate: int, count: int, seed: int = 0,
                  window_seconds: float = 1.0) -> WindowSet:
    """`count` windows drawn from a clip store (fewer if the store is smaller)."""
    from sea.store import ClipStore

    store = ClipStore(store_path)
    if len(store) == 0:
        raise ValueError(f"clip store {store_path} holds no clips")

    def read(pos: int) -> np.ndarray:
        return resample(np.asarray(store.audio_at(pos), dtype=np.float64), store.sample_rate,
                        sample_rate)

    windows, used = _draw(len(store), read, sample_rate, count, seed, window_seconds)
    source = {"kind": "clip_store", "path": str(Path(store_path).resolve()),
              "content_sha256": store.manifest.get("content_sha256"),
              "clips_used": len(used), "windows": len(windows), "seed": seed}
    return WindowSet(windows, source)


def folder_windows(folder: str | Path, sample_rate: int, count: int, seed: int = 0,
                   window_seconds: float = 1.0) -> WindowSet:
    """`count` windows from the audio files under `folder` (real recordings without a store);
    unreadable files are logged and skipped."""
    from sea.audio import AudioError, load_audio
    from sea.files import find_audio_files

    files, _ = find_audio_files([folder])
    if not files:
        raise ValueError(f"{folder} holds no audio files")

    def read(pos: int) -> np.ndarray:
        try:
            audio, sr = load_audio(files[pos])
        except AudioError as exc:
            log.warning("%s: skipped for calibration: %s", files[pos], exc)
            return np.zeros(0)
        return resample(audio, sr, sample_rate)

    windows, used = _draw(len(files), read, sample_rate, count, seed, window_seconds)
    source = {"kind": "audio_folder", "path": str(Path(folder).resolve()),
              "files_used": sorted(str(files[i].relative_to(folder)) for i in used),
              "windows": len(windows), "seed": seed}
    return WindowSet(windows, source)


def _scene(rng: np.random.Generator, sample_rate: int, n: int) -> np.ndarray:
    t = np.arange(n) / sample_rate
    nyquist = sample_rate / 2
    bed = np.cumsum(rng.standard_normal(n)) * 0.02  # brown-ish traffic rumble
    bed = bed - np.convolve(bed, np.ones(256) / 256, mode="same")
    out = bed * 10 ** rng.uniform(-2, 0) + rng.standard_normal(n) * 10 ** rng.uniform(-4, -1.5)
    kind = rng.integers(4)
    if kind == 0:  # siren: slow frequency sweep with harmonics
        f0 = rng.uniform(500, min(1500, nyquist / 3))
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t)))
        out += sum(np.sin(k * phase / sample_rate) / k for k in (1, 2, 3))
    elif kind == 1:  # engine hum: low harmonic stack
        f0 = rng.uniform(30, 120)
        out += sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6)) / k for k in range(1, 8))
    elif kind == 2:  # impulsive events (hammering, barking): decaying noise bursts
        for onset in rng.uniform(0, 1, size=rng.integers(1, 5)):
            start = int(onset * n)
            length = min(n - start, int(rng.uniform(0.02, 0.2) * sample_rate))
            decay = np.exp(-np.arange(length) / (0.2 * length + 1))
            out[start:start + length] += rng.standard_normal(length) * decay * 3
    level = 10 ** rng.uniform(-3.5, -0.3)  # -70 .. -6 dBFS peaks: quiet scenes matter
    return (out / (np.abs(out).max() + 1e-12) * level).astype(np.float32)


def generated_windows(sample_rate: int, count: int, seed: int = 0,
                      window_seconds: float = 1.0) -> WindowSet:
    rng = np.random.default_rng(seed)
    n = int(round(window_seconds * sample_rate))
    windows = np.stack([_scene(rng, sample_rate, n) for _ in range(count)])
    return WindowSet(windows, {"kind": "generated", "generator": "deploy.representative",
                               "windows": count, "seed": seed})


def stress_windows(sample_rate: int, count: int = 24, seed: int = 7,
                   window_seconds: float = 1.0) -> np.ndarray:
    """Pure tones and white noise at random frequencies and levels, plus silence, added to
    int8 calibration: real recordings rarely reach the activation ranges a steady tone (an
    alarm, a siren) produces, and values outside the calibrated range saturate."""
    rng = np.random.default_rng(seed)
    n = int(round(window_seconds * sample_rate))
    t = np.arange(n) / sample_rate
    out = [np.zeros(n)]
    for k in range(count - 1):
        level = 10 ** rng.uniform(-3, 0)
        if k % 4 == 3:
            out.append(rng.standard_normal(n) * level / 3)
        else:
            out.append(level * np.sin(2 * np.pi * rng.uniform(50, 0.48 * sample_rate) * t))
    return np.stack(out).astype(np.float32)


def probe_windows(sample_rate: int, window_seconds: float = 1.0) -> dict[str, np.ndarray]:
    """Single windows that stress the frontend and the quantizer."""
    n = int(round(window_seconds * sample_rate))
    t = np.arange(n) / sample_rate
    noise = np.random.default_rng(1234).standard_normal(n) * 0.1
    return {
        "silence": np.zeros(n, np.float32),
        "noise": noise.astype(np.float32),
        "sine": (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32),
    }
