"""Calibrated sound levels (numpy only): IEC 61672-1 A and C weighting, Fast time weighting,
LAeq, LCeq and LAFmax over any span of a stream.

The weightings are the standard's analog filters (IEC 61672-1:2013, Annex E: poles at
f1 = 20.598997, f2 = 107.65265, f3 = 737.86223 and f4 = 12194.217 Hz; A has four zeros at
0 Hz, C two), mapped to the sample rate by the bilinear transform and normalised to exactly
0 dB at 1 kHz. Bilinear warping bends the response only near Nyquist: at 44.1 kHz and above
the A and C responses stay inside the class 1 tolerances from 10 Hz to 20 kHz
(tests/deploy/test_levels.py); a lower rate cannot measure what lies above its Nyquist.
Fast time weighting is the exponential average of the A-weighted square with tau = 125 ms.

Levels are `10 log10(mean square) + offset_db`: with offset 0, dB relative to digital full
scale (a full-scale sine reads -3.01 dB); with the offset a calibration found
(`calibration_offset`), dB SPL. The filters run in float64, block by block with their state
carried over, so a stream measured in pieces gives the levels of the whole signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sea.errors import SeaError

REFERENCE_HZ = 1000.0
# IEC 61672-1:2013, Annex E (E.2, E.3): the weighting filters' pole frequencies.
POLE_HZ = {"f1": 20.598997, "f2": 107.65265, "f3": 737.86223, "f4": 12194.217}
CURVES = ("A", "C")
FAST_SECONDS = 0.125
FLOOR_MEAN_SQUARE = 1e-20  # digital silence reads -200 dB FS (+ offset), a finite number
BLOCK = 256  # samples per block of the vectorised filter: BLOCK multiply-adds per sample


def analog_zpk(curve: str) -> tuple[np.ndarray, np.ndarray]:
    """Zeros and poles (rad/s) of the standard's analog A or C weighting filter."""
    w = {k: 2 * np.pi * f for k, f in POLE_HZ.items()}
    if curve == "A":
        return np.zeros(4), -np.array([w["f1"], w["f1"], w["f2"], w["f3"], w["f4"], w["f4"]])
    if curve == "C":
        return np.zeros(2), -np.array([w["f1"], w["f1"], w["f4"], w["f4"]])
    raise ValueError(f"curve {curve!r} is not one of {', '.join(CURVES)}")


def digital_zpk(curve: str, sample_rate: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The bilinear transform of `analog_zpk` at `sample_rate`, gain set to 0 dB at 1 kHz.
    s -> 2 fs (z - 1) / (z + 1) maps each root r to (2 fs + r) / (2 fs - r), and puts the
    surplus poles' zeros at z = -1 (Nyquist)."""
    if sample_rate <= 2 * REFERENCE_HZ:
        raise ValueError(f"sample_rate {sample_rate} Hz cannot carry the {REFERENCE_HZ:g} Hz "
                         "reference frequency")
    zeros, poles = analog_zpk(curve)
    fs2 = 2.0 * sample_rate
    z = np.concatenate([(fs2 + zeros) / (fs2 - zeros), -np.ones(len(poles) - len(zeros))])
    p = (fs2 + poles) / (fs2 - poles)
    gain = 1.0 / abs(_zpk_response(z, p, 1.0, np.array([REFERENCE_HZ]), sample_rate)[0])
    return z, p, gain


def _zpk_response(z: np.ndarray, p: np.ndarray, k: float, freqs: np.ndarray,
                  sample_rate: float) -> np.ndarray:
    e = np.exp(2j * np.pi * np.asarray(freqs, dtype=np.float64) / sample_rate)[:, None]
    return k * np.prod(e - z, axis=1) / np.prod(e - p, axis=1)


def response_db(curve: str, freqs: np.ndarray, sample_rate: float) -> np.ndarray:
    """The digital weighting's gain in dB at `freqs` (Hz)."""
    z, p, k = digital_zpk(curve, sample_rate)
    return 20.0 * np.log10(np.abs(_zpk_response(z, p, k, freqs, sample_rate)))


@dataclass(frozen=True)
class StateSpace:
    """x[n+1] = A x[n] + B u[n], y[n] = C x[n] + D u[n] (single input, single output)."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: float

    @classmethod
    def section(cls, b: tuple[float, float, float], a: tuple[float, float]) -> "StateSpace":
        """(b0 + b1 z^-1 + b2 z^-2) / (1 + a1 z^-1 + a2 z^-2), transposed direct form II."""
        (b0, b1, b2), (a1, a2) = b, a
        return cls(np.array([[-a1, 1.0], [-a2, 0.0]]), np.array([b1 - a1 * b0, b2 - a2 * b0]),
                   np.array([1.0, 0.0]), float(b0))

    def then(self, other: "StateSpace") -> "StateSpace":
        """This system followed by `other` (their series connection)."""
        n, m = len(self.B), len(other.B)
        A = np.zeros((n + m, n + m))
        A[:n, :n], A[n:, :n], A[n:, n:] = self.A, np.outer(other.B, self.C), other.A
        return StateSpace(A, np.concatenate([self.B, other.B * self.D]),
                          np.concatenate([other.D * self.C, other.C]), other.D * self.D)


def weighting_system(curve: str, sample_rate: float) -> StateSpace:
    """The digital A or C weighting as a cascade of second-order sections (all its roots are
    real: each section takes two zeros and the two poles nearest them)."""
    z, p, k = digital_zpk(curve, sample_rate)
    z, p = np.sort(z.real)[::-1], np.sort(p.real)[::-1]  # z = 1 zeros with the poles near 1
    system = None
    for i in range(0, len(p), 2):
        gain = k if i == 0 else 1.0
        section = StateSpace.section(
            (gain, -gain * (z[i] + z[i + 1]), gain * z[i] * z[i + 1]),
            (-(p[i] + p[i + 1]), p[i] * p[i + 1]))
        system = section if system is None else system.then(section)
    return system


def fast_system(sample_rate: float, tau: float = FAST_SECONDS) -> StateSpace:
    """Exponential time weighting y[n] = a y[n-1] + (1 - a) u[n], a = exp(-1 / (tau fs))."""
    a = float(np.exp(-1.0 / (tau * sample_rate)))
    return StateSpace(np.array([[a]]), np.array([a * (1.0 - a)]), np.array([1.0]), 1.0 - a)


class BlockFilter:
    """A state-space filter run on blocks of `block` samples at once: within a block the output
    is the impulse-response matrix times the input plus the state's response, so the per-sample
    work is a matrix product instead of a Python loop; the state carries across calls."""

    def __init__(self, system: StateSpace, block: int = BLOCK):
        n = len(system.B)
        powers = [np.eye(n)]
        for _ in range(block):
            powers.append(system.A @ powers[-1])
        self.block = block
        self.powers = np.stack(powers)  # A^0 .. A^block
        self.observe = np.stack([system.C @ P for P in powers[:block]])  # (block, n): C A^i
        h = np.concatenate([[system.D], self.observe[:-1] @ system.B])  # impulse response
        index = np.arange(block)[:, None] - np.arange(block)[None, :]
        self.toeplitz = np.where(index >= 0, h[np.clip(index, 0, None)], 0.0)  # y = T u
        self.drive = np.stack([P @ system.B for P in powers[block - 1::-1]], axis=1)  # (n, block)
        self.state = np.zeros(n)

    def reset(self) -> None:
        self.state[:] = 0.0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).ravel()
        L = self.block
        full = len(x) // L * L
        out = np.empty(len(x))
        if full:
            blocks = x[:full].reshape(-1, L)
            inputs = blocks @ self.drive.T  # (K, n): each block's effect on the next state
            states = np.empty((len(blocks) + 1, len(self.state)))
            states[0] = self.state
            step = self.powers[L]
            for k in range(len(blocks)):
                states[k + 1] = step @ states[k] + inputs[k]
            out[:full] = (blocks @ self.toeplitz.T + states[:-1] @ self.observe.T).ravel()
            self.state = states[-1]
        rest = len(x) - full
        if rest:
            tail = x[full:]
            out[full:] = self.toeplitz[:rest, :rest] @ tail + self.observe[:rest] @ self.state
            self.state = self.powers[rest] @ self.state + self.drive[:, L - rest:] @ tail
        return out


def to_db(mean_square: float | np.ndarray, offset_db: float = 0.0) -> float | np.ndarray:
    return 10.0 * np.log10(np.maximum(mean_square, FLOOR_MEAN_SQUARE)) + offset_db


@dataclass(frozen=True)
class Levels:
    laeq: float
    lceq: float
    lafmax: float

    def rounded(self, digits: int = 2) -> dict[str, float]:
        return {k: round(float(v), digits) for k, v in self.__dict__.items()}


class LevelMeter:
    """A-weighted and C-weighted squares and the Fast envelope of a stream, kept from the oldest
    sample still asked for: `push` blocks, then `levels(start, end)` and `energy(start, end)`
    over absolute sample positions, and `discard(before)` what no later span needs."""

    def __init__(self, sample_rate: int, offset_db: float = 0.0, block: int = BLOCK):
        self.sample_rate = int(sample_rate)
        self.offset_db = float(offset_db)
        self._a = BlockFilter(weighting_system("A", sample_rate), block)
        self._c = BlockFilter(weighting_system("C", sample_rate), block)
        self._fast = BlockFilter(fast_system(sample_rate), block)
        self.start = 0  # absolute position of the oldest kept sample
        self._a2 = self._c2 = self._env = np.zeros(0)

    @property
    def end(self) -> int:
        """Absolute position after the last sample pushed."""
        return self.start + len(self._a2)

    def push(self, block: np.ndarray) -> None:
        a2 = self._a(block) ** 2
        self._a2 = np.concatenate([self._a2, a2])
        self._c2 = np.concatenate([self._c2, self._c(block) ** 2])
        self._env = np.concatenate([self._env, self._fast(a2)])

    def _span(self, start: int, end: int) -> slice:
        lo, hi = max(start, self.start), min(end, self.end)
        return slice(lo - self.start, max(hi, lo) - self.start)

    def energy(self, start: int, end: int) -> tuple[float, int]:
        """(sum of A-weighted squares, samples) over [start, end) clipped to what was pushed."""
        span = self._span(start, end)
        return float(self._a2[span].sum()), len(self._a2[span])

    def levels(self, start: int, end: int) -> Levels | None:
        """LAeq, LCeq and LAFmax over [start, end), clipped to what was pushed; None if empty.
        LAFmax is the Fast envelope's highest value inside the span (its memory reaches back
        before `start`, as a sound level meter's does)."""
        span = self._span(start, end)
        if span.stop <= span.start:
            return None
        return Levels(to_db(self._a2[span].mean(), self.offset_db),
                      to_db(self._c2[span].mean(), self.offset_db),
                      to_db(self._env[span].max(), self.offset_db))

    def discard(self, before: int) -> None:
        drop = min(max(before - self.start, 0), len(self._a2))
        self._a2, self._c2, self._env = self._a2[drop:], self._c2[drop:], self._env[drop:]
        self.start += drop


def levels_per_second(audio: np.ndarray, sample_rate: int, offset_db: float = 0.0,
                      seconds: float = 1.0) -> list[Levels]:
    """Levels of each consecutive `seconds` span of `audio` (the last one may be shorter)."""
    meter = LevelMeter(sample_rate, offset_db)
    meter.push(audio)
    step = max(1, int(round(seconds * sample_rate)))
    return [meter.levels(i, i + step) for i in range(0, len(audio), step)]


@dataclass(frozen=True)
class Calibration:
    offset_db: float  # add to dB FS to get dB SPL
    measured_db: float  # the tone's LAeq in dB FS
    reference_db: float
    frequency_hz: float  # the recording's dominant frequency
    spread_db: float  # max - min of its 0.1-s LAeq: how steady the tone was


class CalibrationError(SeaError, ValueError):
    """A recording that cannot calibrate (too short, clipped, unsteady or not the tone)."""


def calibration_offset(audio: np.ndarray, sample_rate: int, reference_db: float = 94.0,
                       frequency_hz: float = REFERENCE_HZ, settle_seconds: float = 0.5,
                       max_spread_db: float = 1.0) -> Calibration:
    """The offset that makes a calibrator recording read `reference_db`: its LAeq after the
    first `settle_seconds` (the filters' and the calibrator's settling). Refuses a recording
    whose dominant frequency is not within 5 % of `frequency_hz`, that clips, or whose 0.1-s
    levels spread more than `max_spread_db` (the calibrator was not held on the microphone)."""
    audio = np.asarray(audio, dtype=np.float64).ravel()
    skip = int(settle_seconds * sample_rate)
    if len(audio) - skip < sample_rate:
        raise CalibrationError(f"audio is {len(audio) / sample_rate:.2f} s long: a calibration "
                               f"needs at least {settle_seconds + 1:g} s of the tone")
    if np.max(np.abs(audio)) >= 0.999:
        raise CalibrationError("audio clips (samples at full scale): lower the input gain")
    steady = audio[skip:]
    spectrum = np.abs(np.fft.rfft(steady * np.hanning(len(steady))))
    peak = float(np.fft.rfftfreq(len(steady), 1.0 / sample_rate)[np.argmax(spectrum)])
    if abs(peak - frequency_hz) > 0.05 * frequency_hz:
        raise CalibrationError(f"dominant frequency {peak:.0f} Hz, not a {frequency_hz:g} Hz "
                               "calibrator tone")
    meter = LevelMeter(sample_rate)
    meter.push(audio)
    step = sample_rate // 10
    parts = [meter.levels(i, i + step).laeq for i in range(skip, len(audio) - step + 1, step)]
    spread = float(max(parts) - min(parts))
    if spread > max_spread_db:
        raise CalibrationError(f"the tone's level varies by {spread:.2f} dB (more than "
                               f"{max_spread_db:g} dB): hold the calibrator on the microphone")
    measured = float(meter.levels(skip, len(audio)).laeq)
    return Calibration(reference_db - measured, measured, float(reference_db), peak, spread)
