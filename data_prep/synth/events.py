"""Procedural sound events for the 8 SONYC-UST coarse classes, and urban backgrounds.

Each generator takes a numpy Generator, a sample rate and a duration and returns float64
audio at unit RMS (the scene mixer sets levels). The recipes follow what makes each class
recognisable: engines are low harmonic drones with firing-rate modulation, machinery impacts
are fast periodic damped bursts, non-machinery impacts are isolated thuds, saws are bright
buzzing harmonics with load-dependent pitch, alert signals are sweeping or steady tones,
music is pitched notes on a beat, voices are formant-filtered glottal pulses in syllables,
dogs bark in short pitched bursts.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import signal

COARSE_CLASSES = ("engine", "machinery-impact", "non-machinery-impact", "powered-saw",
                  "alert-signal", "music", "human-voice", "dog")


def _times(sr: int, duration: float) -> np.ndarray:
    return np.arange(max(int(duration * sr), 1)) / sr


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = np.sqrt(np.mean(x**2))
    return x / rms if rms > 0 else x


def _band(x: np.ndarray, sr: int, lo: float | None, hi: float | None, order: int = 4) -> np.ndarray:
    nyq = 0.5 * sr
    hi = None if hi is None or hi >= 0.95 * nyq else hi
    if lo and hi:
        sos = signal.butter(order, [lo, hi], btype="bandpass", fs=sr, output="sos")
    elif hi:
        sos = signal.butter(order, hi, btype="lowpass", fs=sr, output="sos")
    elif lo:
        sos = signal.butter(order, min(lo, 0.9 * nyq), btype="highpass", fs=sr, output="sos")
    else:
        return x
    return signal.sosfilt(sos, x)


def _harmonics(f0: np.ndarray, sr: int, n_harm: int, tilt: float,
               rng: np.random.Generator, max_freq: float = 8000.0) -> np.ndarray:
    """Sum of harmonics of a time-varying f0 with amplitude k^-tilt, band-limited."""
    phase = 2 * np.pi * np.cumsum(f0) / sr
    limit = min(max_freq, 0.45 * sr)
    out = np.zeros_like(f0)
    for k in range(1, n_harm + 1):
        audible = k * f0 < limit
        if not audible.any():
            break
        out += audible * k**-tilt * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    return out


def _fade(n: int, sr: int, attack: float, release: float) -> np.ndarray:
    env = np.ones(n)
    a, r = min(int(attack * sr), n // 2), min(int(release * sr), n // 2)
    if a:
        env[:a] = np.linspace(0, 1, a)
    if r:
        env[-r:] = np.minimum(env[-r:], np.linspace(1, 0, r))
    return env


def _burst(rng: np.random.Generator, sr: int, decay: float, length: float) -> np.ndarray:
    t = _times(sr, length)
    return rng.standard_normal(len(t)) * np.exp(-t / decay)


def _place(out: np.ndarray, sound: np.ndarray, at: int) -> None:
    at = max(at, 0)
    end = min(len(out), at + len(sound))
    if end > at:
        out[at:end] += sound[: end - at]


def engine(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    t = _times(sr, duration)
    f0 = rng.uniform(25, 60) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t))
    tone = _harmonics(f0, sr, 40, 0.9, rng, max_freq=1500)
    firing = 1 + 0.5 * np.sin(2 * np.pi * np.cumsum(f0 / 2) / sr)
    rumble = _band(rng.standard_normal(len(t)), sr, 30, 400)
    x = _unit_rms(tone * firing) + 0.5 * _unit_rms(rumble)
    return _unit_rms(x * _fade(len(t), sr, 0.4, 0.4))


def machinery_impact(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    out = np.zeros(len(_times(sr, duration)))
    rate = rng.uniform(10, 25)
    ring = rng.uniform(1200, 3000)
    hit_t = _times(sr, 0.06)
    for at in np.arange(0, duration, 1 / rate):
        hit = _band(_burst(rng, sr, rng.uniform(0.004, 0.012), 0.06), sr, 300, 4000, 2)
        hit += 0.6 * np.sin(2 * np.pi * ring * hit_t) * np.exp(-hit_t / 0.015)
        _place(out, hit * rng.uniform(0.7, 1.0), int((at + rng.normal(0, 0.002)) * sr))
    return _unit_rms(out)


def non_machinery_impact(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    out = np.zeros(len(_times(sr, duration)))
    hits = rng.integers(1, 4)
    starts = np.sort(rng.uniform(0, max(duration - 0.3, 0.01), hits))
    for at in starts:
        t = _times(sr, 0.4)
        body = np.sin(2 * np.pi * rng.uniform(60, 200) * t) * np.exp(-t / rng.uniform(0.04, 0.12))
        click = _band(_burst(rng, sr, rng.uniform(0.003, 0.015), 0.4), sr, 200, 6000, 2)
        _place(out, body + rng.uniform(0.5, 1.5) * click, int(at * sr))
    return _unit_rms(out)


def powered_saw(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    t = _times(sr, duration)
    load = np.clip(np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 6)), 0, 1)
    f0 = rng.uniform(110, 260) * (1 - 0.25 * load)
    buzz = _harmonics(f0, sr, 60, 0.4, rng, max_freq=9000)
    hiss = _band(rng.standard_normal(len(t)), sr, 2000, 8000) * (0.3 + load)
    x = _unit_rms(buzz) + 0.6 * _unit_rms(hiss)
    return _unit_rms(x * _fade(len(t), sr, 0.1, 0.2))


def alert_signal(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    t = _times(sr, duration)
    kind = rng.integers(3)
    if kind == 0:  # siren: wail or yelp
        period = rng.choice([rng.uniform(2.5, 5.0), rng.uniform(0.25, 0.5)])
        f = 1000 + 450 * np.sin(2 * np.pi * t / period) + rng.uniform(-150, 150)
        x = _harmonics(f, sr, 4, 1.5, rng)
    elif kind == 1:  # car horn: two steady tones
        base = rng.uniform(350, 450)
        x = (_harmonics(np.full(len(t), base), sr, 8, 1.0, rng)
             + _harmonics(np.full(len(t), base * 1.26), sr, 8, 1.0, rng))
    else:  # reverse beeper
        on = (np.floor(t / rng.uniform(0.4, 0.6)) % 2 == 0)
        x = np.sin(2 * np.pi * rng.uniform(900, 1300) * t) * on
    return _unit_rms(x * _fade(len(t), sr, 0.02, 0.05))


def music(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    n = len(_times(sr, duration))
    out = np.zeros(n)
    beat = 60 / rng.uniform(90, 140)
    root = rng.uniform(180, 300)
    scale = root * 2 ** (np.array([0, 2, 4, 7, 9, 12, 14, 16]) / 12)
    for i, at in enumerate(np.arange(0, duration, beat / 2)):
        t = _times(sr, beat)
        env = np.exp(-t / (beat / 3))
        note = _harmonics(np.full(len(t), rng.choice(scale)), sr, 6, 1.2, rng) * env
        if i % 4 == 0:  # bass note and chord on the downbeat
            note += 0.8 * _harmonics(np.full(len(t), root / 2), sr, 4, 1.0, rng) * env
            note += 0.5 * _harmonics(np.full(len(t), root * 1.5), sr, 4, 1.5, rng) * env
        _place(out, note, int(at * sr))
    return _unit_rms(out * _fade(n, sr, 0.02, 0.2))


# Formant frequencies (F1, F2, F3) of a few vowels.
_VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240],
                    [530, 1840, 2480], [570, 840, 2410]])


def human_voice(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    t = _times(sr, duration)
    f0 = rng.uniform(95, 240) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t))
    source = _harmonics(f0, sr, 40, 1.0, rng, max_freq=4000)
    syllable = 1 / rng.uniform(3.5, 6.0)
    out = np.zeros(len(t))
    for at in np.arange(0, duration, syllable):
        a, b = int(at * sr), min(int((at + syllable) * sr), len(t))
        seg = source[a:b]
        vowel = _VOWELS[rng.integers(len(_VOWELS))]
        voiced = sum(_band(seg, sr, f * 0.85, f * 1.15, 2) / (k + 1) for k, f in enumerate(vowel))
        env = np.sin(np.linspace(0, np.pi, len(seg))) ** 2 * (rng.random() > 0.15)
        out[a:b] = voiced * env
    return _unit_rms(out)


def dog(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    out = np.zeros(len(_times(sr, duration)))
    at = rng.uniform(0, 0.1)
    while at < duration - 0.1:
        length = rng.uniform(0.08, 0.25)
        t = _times(sr, length)
        contour = np.sin(np.pi * t / length)
        f0 = rng.uniform(300, 700) * (0.8 + 0.4 * contour)
        bark = _harmonics(f0, sr, 12, 0.8, rng, max_freq=5000)
        bark += 0.4 * _band(rng.standard_normal(len(t)), sr, 500, 2500) * _unit_rms(bark).std()
        bark = _band(bark, sr, 400, 3000, 2) * contour**0.5
        _place(out, bark, int(at * sr))
        at += length + rng.uniform(0.15, 0.6)
    return _unit_rms(out)


GENERATORS: dict[str, Callable[[np.random.Generator, int, float], np.ndarray]] = {
    "engine": engine, "machinery-impact": machinery_impact,
    "non-machinery-impact": non_machinery_impact, "powered-saw": powered_saw,
    "alert-signal": alert_signal, "music": music, "human-voice": human_voice, "dog": dog,
}

# Typical event durations (seconds) per class: (min, max).
DURATIONS = {"engine": (2.0, 6.0), "machinery-impact": (1.5, 5.0),
             "non-machinery-impact": (0.4, 1.5), "powered-saw": (2.0, 6.0),
             "alert-signal": (1.0, 5.0), "music": (3.0, 8.0), "human-voice": (1.5, 5.0),
             "dog": (0.5, 3.0)}


def render_event(label: str, rng: np.random.Generator, sr: int,
                 duration: float | None = None) -> np.ndarray:
    """One procedural event of class `label` at unit RMS."""
    if duration is None:
        duration = rng.uniform(*DURATIONS[label])
    return GENERATORS[label](rng, sr, duration)


def urban_background(rng: np.random.Generator, sr: int, duration: float) -> np.ndarray:
    """Distant traffic rumble, broadband city hiss and mains hum, slowly varying, unit RMS."""
    t = _times(sr, duration)
    brown = np.cumsum(rng.standard_normal(len(t)))
    rumble = _band(brown - np.mean(brown), sr, 20, 300, 2)
    hiss = _band(rng.standard_normal(len(t)), sr, 300, 6000, 2)
    mains = rng.choice([50.0, 60.0])
    hum = _harmonics(np.full(len(t), mains), sr, 5, 1.0, rng)
    swell = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.02, 0.1) * t + rng.uniform(0, 6))
    x = (_unit_rms(rumble) + rng.uniform(0.2, 0.6) * _unit_rms(hiss)
         + rng.uniform(0.0, 0.2) * _unit_rms(hum))
    return _unit_rms(x * swell)
