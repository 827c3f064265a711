"""Mix labelled events over an urban background, Scaper style, deterministically per seed.

Events come from the procedural generators, or from user foreground files (label = sub-folder)
when given; the background from the generator or from user background files. Each event gets
a random class, onset, duration and SNR relative to the background; the annotation records
them. A scene is a pure function of (seed, index, sample rate, settings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_prep.synth.events import COARSE_CLASSES, DURATIONS, render_event, urban_background
from sea.audio import load_resampled
from sea.store import Event

BACKGROUND_DBFS = (-40.0, -28.0)


@dataclass(frozen=True)
class SynthSettings:
    duration: float = 10.0
    max_events: int = 4
    snr_db: tuple[float, float] = (3.0, 20.0)
    # User material: ((label, path), ...) and (path, ...); empty = procedural.
    foreground: tuple[tuple[str, str], ...] = ()
    background: tuple[str, ...] = ()


@dataclass(frozen=True)
class SceneSpec:
    seed: int
    index: int
    settings: SynthSettings

    @property
    def descriptor(self) -> str:
        return f"synth:seed={self.seed}:index={self.index}"


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


def _excerpt(rng: np.random.Generator, path: str, sr: int, n: int, loop: bool) -> np.ndarray:
    audio = load_resampled(path, sr)
    if loop and len(audio) < n:
        audio = np.tile(audio, -(-n // len(audio)))
    start = int(rng.integers(0, max(len(audio) - n, 0) + 1))
    return audio[start: start + n]


def _background(rng: np.random.Generator, spec: SceneSpec, sr: int, n: int) -> np.ndarray:
    files = spec.settings.background
    if files:
        bg = _excerpt(rng, files[rng.integers(len(files))], sr, n, loop=True)
        bg = bg / (_rms(bg) or 1.0)
    else:
        bg = urban_background(rng, sr, n / sr)
    return bg * 10 ** (rng.uniform(*BACKGROUND_DBFS) / 20)


def _event(rng: np.random.Generator, spec: SceneSpec, sr: int) -> tuple[str, np.ndarray]:
    files = spec.settings.foreground
    if files:
        label, path = files[rng.integers(len(files))]
        length = int(rng.uniform(0.5, min(6.0, spec.settings.duration)) * sr)
        sound = _excerpt(rng, path, sr, length, loop=False)
        return label, sound / (_rms(sound) or 1.0)
    label = COARSE_CLASSES[rng.integers(len(COARSE_CLASSES))]
    duration = min(rng.uniform(*DURATIONS[label]), spec.settings.duration)
    return label, render_event(label, rng, sr, duration)


def render_scene(spec: SceneSpec, sr: int) -> tuple[np.ndarray, tuple[Event, ...]]:
    """(mono float32 audio, event annotations sorted by onset)."""
    rng = np.random.default_rng([spec.seed, spec.index])
    n = int(spec.settings.duration * sr)
    bg = _background(rng, spec, sr, n)
    mix = bg.copy()
    bg_rms = _rms(bg)
    events = []
    for _ in range(int(rng.integers(1, spec.settings.max_events + 1))):
        label, sound = _event(rng, spec, sr)
        sound = sound[:n]
        at = int(rng.integers(0, n - len(sound) + 1))
        snr = float(rng.uniform(*spec.settings.snr_db))
        mix[at: at + len(sound)] += sound * bg_rms * 10 ** (snr / 20)
        events.append(Event(label, round(at / sr, 4), round((at + len(sound)) / sr, 4),
                            round(snr, 2)))
    peak = np.max(np.abs(mix))
    if peak > 0.99:  # keep the relative levels, avoid clipping
        mix *= 0.99 / peak
    return mix.astype(np.float32), tuple(sorted(events, key=lambda e: e.onset))
