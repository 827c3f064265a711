"""A-weighted frame levels (numpy only), used for loudness-informed window sampling.

Levels are uncalibrated: dB relative to digital full scale after A-weighting (a full-scale
1 kHz sine reads about -3 dB). The weighting is applied in the frequency domain per frame, so
frames are independent and a stream can be measured block by block with the same result.
"""

from __future__ import annotations

import numpy as np

SILENCE_DB = -120.0  # floor for digital silence (mean square 1e-12)
_FLOOR = 10.0 ** (SILENCE_DB / 10.0)


def a_weighting_gain(freqs: np.ndarray) -> np.ndarray:
    """Power gain |A(f)|^2 of the IEC 61672 A-weighting curve (0 dB at 1 kHz)."""
    f2 = np.asarray(freqs, dtype=np.float64) ** 2
    ra = (12194.0**2 * f2**2) / (
        (f2 + 20.6**2) * np.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2)
    )
    return ra**2 * 10.0 ** (2.0 / 10.0)


def frame_samples(sample_rate: int, frame_seconds: float) -> int:
    n = int(round(frame_seconds * sample_rate))
    if n <= 0:
        raise ValueError(f"loudness frame of {frame_seconds} s is empty at {sample_rate} Hz")
    return n


def _weighted_mean_square(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """A-weighted mean square of each row of `frames` (Parseval over the one-sided spectrum)."""
    n = frames.shape[1]
    spec = np.abs(np.fft.rfft(frames.astype(np.float64), axis=1)) ** 2
    gain = a_weighting_gain(np.fft.rfftfreq(n, 1.0 / sample_rate))
    # Bins other than DC (and Nyquist for even n) stand for two conjugate bins.
    fold = np.full(spec.shape[1], 2.0)
    fold[0] = 1.0
    if n % 2 == 0:
        fold[-1] = 1.0
    return spec @ (gain * fold) / (n * n)


def power_to_db(power: np.ndarray) -> np.ndarray:
    return (10.0 * np.log10(np.maximum(power, _FLOOR))).astype(np.float32)


def db_to_power(db: np.ndarray) -> np.ndarray:
    return 10.0 ** (np.asarray(db, dtype=np.float64) / 10.0)


def frame_loudness(audio: np.ndarray, sample_rate: int, frame_seconds: float = 0.1) -> np.ndarray:
    """A-weighted level in dB of consecutive frames; the last frame may be shorter."""
    meter = LoudnessMeter(sample_rate, frame_seconds)
    meter.update(audio)
    return meter.finish()


class LoudnessMeter:
    """Streaming `frame_loudness`: feed blocks of any size, then `finish()`."""

    def __init__(self, sample_rate: int, frame_seconds: float = 0.1) -> None:
        self.sample_rate = int(sample_rate)
        self.frame = frame_samples(sample_rate, frame_seconds)
        self._rest = np.zeros(0, dtype=np.float64)
        self._levels: list[np.ndarray] = []

    def update(self, block: np.ndarray) -> None:
        data = np.concatenate([self._rest, np.asarray(block, dtype=np.float64).ravel()])
        n_full = len(data) // self.frame
        if n_full:
            frames = data[: n_full * self.frame].reshape(n_full, self.frame)
            self._levels.append(power_to_db(_weighted_mean_square(frames, self.sample_rate)))
        self._rest = data[n_full * self.frame:]

    def finish(self) -> np.ndarray:
        if len(self._rest):
            self._levels.append(
                power_to_db(_weighted_mean_square(self._rest[None, :], self.sample_rate))
            )
            self._rest = self._rest[:0]
        levels = np.concatenate(self._levels) if self._levels else np.zeros(0, np.float32)
        self._levels = []
        return levels.astype(np.float32)
