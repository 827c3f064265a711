"""Calibrated levels (sea.levels, sea-node calibrate, levels in sea-node run) against the
standard and against an independent reference built with scipy's filter design.

Reference values are IEC 61672-1:2013's: Table 3 (A and C design goals at the nominal
one-third-octave frequencies, whose exact values are 1000 * 10^(n/10) Hz, and the class 1
acceptance limits) and Table 4 (Fast tone-burst response, 10 lg(1 - exp(-Tb / 0.125 s))).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from deploy.node.calibration import tomllib
from sea import levels
from sea.levels import CalibrationError, LevelMeter, calibration_offset, levels_per_second

signal = pytest.importorskip("scipy.signal")

EXACT_HZ = 1000.0 * 10.0 ** (np.arange(-20, 14) / 10.0)  # nominal 10 Hz ... 20 kHz
A_GOAL = [-70.4, -63.4, -56.7, -50.5, -44.7, -39.4, -34.6, -30.2, -26.2, -22.5, -19.1, -16.1,
          -13.4, -10.9, -8.6, -6.6, -4.8, -3.2, -1.9, -0.8, 0.0, 0.6, 1.0, 1.2, 1.3, 1.2, 1.0,
          0.5, -0.1, -1.1, -2.5, -4.3, -6.6, -9.3]
C_GOAL = [-14.3, -11.2, -8.5, -6.2, -4.4, -3.0, -2.0, -1.3, -0.8, -0.5, -0.3, -0.2, -0.1, 0.0,
          0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.1, -0.2, -0.3, -0.5, -0.8, -1.3, -2.0,
          -3.0, -4.4, -6.2, -8.5, -11.2]
CLASS1_UPPER = [3.0, 2.5, 2.0, 2.0, 2.0, 1.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
                1.0, 1.0, 1.0, 1.0, 0.7, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.5, 1.5, 1.5, 2.0, 2.0,
                2.5, 3.0]
CLASS1_LOWER = [-np.inf, -np.inf, -4.0, -2.0, -1.5, -1.5, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0,
                -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -0.7, -1.0, -1.0, -1.0, -1.0,
                -1.0, -1.0, -1.5, -2.0, -2.5, -3.0, -5.0, -16.0, -np.inf]
FS = 48000
# Both sides run in float64: levels agree to round-off (1e-9 relative is 4e-9 dB); the issue
# asks for 0.1 dB, a bound 1e-6 dB keeps the test able to catch a real difference.
REFERENCE_DB = 1e-6


def analog_reference(curve: str) -> tuple[np.ndarray, np.ndarray]:
    """The standard's analog poles and zeros, written out here independently of sea.levels."""
    f1, f2, f3, f4 = 20.598997, 107.65265, 737.86223, 12194.217
    w = lambda f: -2 * np.pi * f  # noqa: E731
    if curve == "A":
        return np.zeros(4), np.array([w(f1), w(f1), w(f2), w(f3), w(f4), w(f4)])
    return np.zeros(2), np.array([w(f1), w(f1), w(f4), w(f4)])


def reference_sos(curve: str, fs: int) -> np.ndarray:
    """scipy: bilinear transform, 0 dB at 1 kHz, second-order sections."""
    z, p = analog_reference(curve)
    zd, pd, kd = signal.bilinear_zpk(z, p, 1.0, fs)
    _, h = signal.freqz_zpk(zd, pd, kd, worN=[1000.0], fs=fs)
    return signal.zpk2sos(zd, pd, kd / abs(h[0]))


def reference_levels(x: np.ndarray, fs: int, spans: list[tuple[int, int]]) -> np.ndarray:
    """(laeq, lceq, lafmax) per span from scipy's sosfilt/lfilter over the whole signal."""
    a2 = signal.sosfilt(reference_sos("A", fs), x) ** 2
    c2 = signal.sosfilt(reference_sos("C", fs), x) ** 2
    alpha = np.exp(-1.0 / (0.125 * fs))
    fast = signal.lfilter([1 - alpha], [1, -alpha], a2)
    return np.array([[10 * np.log10(a2[s:e].mean()), 10 * np.log10(c2[s:e].mean()),
                      10 * np.log10(fast[s:e].max())] for s, e in spans])


def pink_noise(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    spectrum[0] = 0
    x = np.fft.irfft(spectrum, n)
    return 0.1 * x / x.std()


def tone(freq: float, seconds: float, amplitude: float = 0.1, fs: int = FS) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(int(seconds * fs)) / fs)


def bursts(fs: int = FS) -> np.ndarray:
    """4 kHz tone bursts of 200, 20 and 2 ms, each in 1 s of silence."""
    parts = []
    for ms in (200, 20, 2):
        quiet = np.zeros(fs)
        quiet[fs // 4: fs // 4 + int(ms * fs / 1000)] = tone(4000, ms / 1000, 0.5, fs)
        parts.append(quiet)
    return np.concatenate(parts)


@pytest.mark.parametrize("fs", [44100, 48000])
@pytest.mark.parametrize("curve,goal", [("A", A_GOAL), ("C", C_GOAL)])
def test_weighting_within_class1_acceptance_limits(fs, curve, goal):
    deviation = levels.response_db(curve, EXACT_HZ, fs) - np.array(goal)
    assert np.all(deviation <= np.array(CLASS1_UPPER)), deviation
    assert np.all(deviation >= np.array(CLASS1_LOWER)), deviation


@pytest.mark.parametrize("curve,goal", [("A", A_GOAL), ("C", C_GOAL)])
def test_analog_design_reproduces_the_tabled_goals(curve, goal):
    """Far below Nyquist the digital filter is the analog one: the goals, to their 0.1 dB
    rounding, up to 2 kHz at 48 kHz (bilinear warping there: 0.01 dB)."""
    low = EXACT_HZ <= 2000
    np.testing.assert_allclose(levels.response_db(curve, EXACT_HZ[low], FS),
                               np.array(goal)[low], atol=0.05 + 0.01)


@pytest.mark.parametrize("name,x", [
    ("sine 31.5 Hz", tone(31.5, 3.0)), ("sine 100 Hz", tone(100, 3.0)),
    ("sine 1 kHz", tone(1000, 3.0)), ("sine 4 kHz", tone(4000, 3.0)),
    ("sine 12.5 kHz", tone(12500, 3.0)), ("pink noise", pink_noise(3 * FS)),
    ("bursts", bursts()),
])
def test_levels_match_scipy_reference(name, x):
    spans = [(i, i + FS) for i in range(0, len(x), FS)]
    ours = np.array([[lv.laeq, lv.lceq, lv.lafmax] for lv in levels_per_second(x, FS)])
    np.testing.assert_allclose(ours, reference_levels(x, FS, spans), atol=REFERENCE_DB)
    meter = LevelMeter(FS)  # streamed in uneven blocks: the same levels
    for chunk in np.array_split(x, [777, 5000, 5001, 70000]):
        meter.push(chunk)
    streamed = [meter.levels(s, e) for s, e in spans]
    np.testing.assert_allclose([[lv.laeq, lv.lceq, lv.lafmax] for lv in streamed], ours,
                               atol=REFERENCE_DB)


def test_sine_levels_are_the_weighting_at_its_frequency():
    """A sine of amplitude a: 20 lg(a / sqrt 2) plus the curve's gain, steady after 0.5 s."""
    for freq in (100.0, 1000.0, 8000.0):
        lv = LevelMeter(FS)
        lv.push(tone(freq, 2.0, 0.2))
        got = lv.levels(FS // 2, 2 * FS)
        expected = 20 * np.log10(0.2 / np.sqrt(2))
        assert got.laeq == pytest.approx(expected + levels.response_db("A", [freq], FS)[0],
                                         abs=0.01)
        assert got.lceq == pytest.approx(expected + levels.response_db("C", [freq], FS)[0],
                                         abs=0.01)


@pytest.mark.parametrize("ms", [1000, 500, 200, 100, 20, 2])
def test_fast_toneburst_response(ms):
    """IEC 61672-1 Table 4: LAFmax of a 4 kHz burst relative to the steady tone's level is
    10 lg(1 - exp(-Tb / tau)); class 1 accepts +-0.5 dB (>= 200 ms) or +-1 dB (shorter)."""
    steady = LevelMeter(FS)
    steady.push(tone(4000, 3.0, 0.3))
    reference = steady.levels(2 * FS, 3 * FS).laeq
    x = np.zeros(2 * FS)
    x[FS // 2: FS // 2 + int(ms * FS / 1000)] = tone(4000, ms / 1000, 0.3)
    meter = LevelMeter(FS)
    meter.push(x)
    delta = meter.levels(0, len(x)).lafmax - reference
    expected = 10 * np.log10(1 - np.exp(-ms / 1000 / 0.125))
    assert abs(delta - expected) <= (0.5 if ms >= 200 else 1.0)
    assert abs(delta - expected) <= 0.1  # what this implementation achieves


def test_silence_and_empty_spans():
    meter = LevelMeter(FS, offset_db=100.0)
    meter.push(np.zeros(FS))
    assert meter.levels(0, FS).laeq == pytest.approx(-100.0)  # floor -200 dB FS + offset
    assert meter.levels(FS, 2 * FS) is None  # nothing pushed there yet
    meter.discard(FS // 2)
    assert meter.energy(0, FS) == (0.0, FS // 2)


def write_tone(path, db_below_full_scale: float, seconds: float = 3.0, freq: float = 1000.0,
               fs: int = FS, seed: int = 0):
    rng = np.random.default_rng(seed)
    amplitude = np.sqrt(2) * 10 ** (db_below_full_scale / 20)
    x = tone(freq, seconds, amplitude, fs) + 1e-5 * rng.standard_normal(int(seconds * fs))
    sf.write(path, x.astype(np.float32), fs, subtype="PCM_24")
    return path


def test_calibration_round_trip(tmp_path):
    from deploy.node.cli import main

    config = tmp_path / "node.toml"
    config.write_text('# my node\nnode_id = "n1"\n\n[calibration]\noffset_db = 1.0\n\n'
                      '[upload]\nurl = "https://c.example"\n')
    config.chmod(0o600)  # it may name a token file: the rewrite keeps the mode
    cal = write_tone(tmp_path / "cal.wav", -20.0)  # 94 dB SPL reads -20 dB FS here
    assert main(["calibrate", "--input", str(cal), "--reference-db", "94",
                 "--config", str(config)]) == 0
    text = config.read_text()
    parsed = tomllib.loads(text)
    assert text.startswith("# my node\n") and parsed["node_id"] == "n1"
    assert parsed["upload"] == {"url": "https://c.example"}
    offset = parsed["calibration"]["offset_db"]
    assert offset == pytest.approx(114.0, abs=0.01)
    assert parsed["calibration"]["reference_db"] == 94.0
    assert config.stat().st_mode & 0o777 == 0o600

    again = LevelMeter(FS, offset)  # the same tone, recorded again, reads 94.0
    audio, fs = sf.read(write_tone(tmp_path / "again.wav", -20.0, seed=1))
    again.push(audio)
    assert round(again.levels(FS // 2, len(audio)).laeq, 1) == 94.0


def test_run_writes_calibrated_levels(float_bundle, tmp_path):
    from deploy.node.cli import main

    path = write_tone(tmp_path / "t.wav", -40.0, seconds=4.0)
    out = tmp_path / "out.jsonl"
    assert main(["run", "--bundle", str(float_bundle), "--input", str(path), "--hop", "0.5",
                 "--no-center", "--calibration-db", "114", "--no-embeddings",
                 "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    inner = [line for line in lines if 1.0 <= line["time"] <= 2.0]  # whole 1-s windows
    for line in inner:
        assert line["laeq"] == pytest.approx(74.0, abs=0.02)
        assert line["lceq"] == pytest.approx(74.0, abs=0.02)
        assert line["lafmax"] == pytest.approx(74.0, abs=0.05)
    assert all({"laeq", "lceq", "lafmax"} <= set(line) for line in lines)


@pytest.mark.parametrize("audio,message", [
    (tone(440, 3.0, 0.3), "dominant frequency 440 Hz"),
    (tone(1000, 3.0, 1.2), "clips"),
    (tone(1000, 1.2, 0.3), "at least 1.5 s"),
    (np.concatenate([tone(1000, 1.5, 0.3), tone(1000, 1.5, 0.03)]), "varies by"),
])
def test_bad_calibration_recordings_are_refused(audio, message):
    with pytest.raises(CalibrationError, match=message):
        calibration_offset(audio, FS)


def test_calibrate_refuses_a_config_it_cannot_edit(tmp_path, caplog):
    from deploy.node.cli import main

    cal = write_tone(tmp_path / "cal.wav", -20.0)
    dotted = tmp_path / "dotted.toml"
    dotted.write_text("calibration.offset_db = 3.0\n")
    assert main(["calibrate", "--input", str(cal), "--config", str(dotted)]) == 2
    assert dotted.read_text() == "calibration.offset_db = 3.0\n"  # untouched
    broken = tmp_path / "broken.toml"
    broken.write_text("[calibration\n")
    assert main(["calibrate", "--input", str(cal), "--config", str(broken)]) == 2
    assert "not valid TOML" in caplog.text
