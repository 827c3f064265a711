"""The C log-mel frontend (deploy/micro/c) built with gcc against CMSIS-DSP's real FFT, vs the
numpy frontend the bundles are exported with."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from deploy.micro.host_frontend import cmsis_dsp_root
from sea.configs import OPENL3_FRONTENDS, SEA_FRONTEND
from sea.frontend import LogMelFrontend, default_mel_basis

EPS32 = float(np.finfo(np.float32).eps)

pytestmark = [
    pytest.mark.skipif(shutil.which("gcc") is None, reason="no gcc to build the C frontend"),
    pytest.mark.skipif(cmsis_dsp_root() is None,
                       reason="CMSIS-DSP sources absent: set CMSIS_DSP or unpack the cmsisdsp "
                              "sdist into ~/.cache/sea/cmsis-dsp (see deploy/micro/host_frontend.py)"),
]


def windows(cfg, seed=0) -> tuple[np.ndarray, list[int]]:
    """Noise, an urban-like scene, a loud tone over a -80 dBFS floor, a quiet one, silence,
    generated scenes, and pure tones in digital silence (-60 to -1 dBFS, random frequencies);
    also the indices of the windows without a pure tone."""
    from deploy.representative import generated_windows

    rng = np.random.default_rng(seed)
    n = cfg.window_samples
    t = np.arange(n) / cfg.sample_rate
    floor = 1e-4 * rng.standard_normal(n)
    tones = [a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
             for a, f in zip(np.geomspace(1e-3, 0.9, 8),
                             rng.uniform(50, 0.45 * cfg.sample_rate, 8))]
    x = np.concatenate([
        np.stack([0.1 * rng.standard_normal(n), 0.5 * np.sin(2 * np.pi * 440 * t) + floor,
                  1e-3 * np.sin(2 * np.pi * 1234.5 * t) + 1e-2 * floor, np.zeros(n)]),
        generated_windows(cfg.sample_rate, 3, seed=seed).windows, np.stack(tones)])
    return x.astype(np.float32), [0, 3, 4, 5, 6]


def float32_fft_tolerance_db(reference_db: np.ndarray) -> np.ndarray:
    """0.01 dB plus float32 FFT round-off: about eps x the window's peak magnitude in every
    bin, which is a relative error of eps * 10^(-level / 10) at `level` dB (the frontends'
    dB are 10 log10 of a magnitude). Dominant only near -60 dB in tonal windows."""
    return 0.01 + 10 * np.log10(1 + 4 * EPS32 * 10 ** (-reference_db / 10))


@pytest.mark.parametrize("f64", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("cfg", [SEA_FRONTEND, OPENL3_FRONTENDS["mel128"]],
                         ids=["sea-kapre014", "openl3-mel128-kapre03"])
def test_c_frontend_matches_numpy(tmp_path, cfg, f64):
    """The float64 build (SEA_FRONTEND_F64) is within the issue's flat 0.01 dB above -60 dB on
    every window; the float32 build there only on windows without a pure tone in silence, and
    within float32 FFT round-off on the tones (benchmarks/micro_frontend_error.py: the float32
    FFT is the error above 0.01 dB there, the float32 window a few times less, power, mel and
    log in float32 below 1e-4 dB)."""
    from deploy.micro.host_frontend import HostLogMel, build_library

    basis = default_mel_basis(cfg)
    c_frontend = HostLogMel(build_library(cfg, basis, tmp_path, cmsis_dsp_root(), f64=f64), cfg)
    x, no_tone = windows(cfg)
    expected = LogMelFrontend(cfg, mel_basis=basis, dtype=np.float64)(x)
    got = c_frontend(x)
    above = expected > -60
    error = np.abs(got - expected)
    if f64:
        assert error[above].max() <= 0.01
    else:
        assert np.all(error[above] <= float32_fft_tolerance_db(expected[above]))
        assert error[no_tone][above[no_tone]].max() <= 0.01
    assert np.all(got >= -cfg.dynamic_range) and np.allclose(got.max(axis=(1, 2)), 0.0)


def test_c_quantizer_matches_the_input_rule(tmp_path):
    from deploy.micro.host_frontend import HostLogMel, build_library
    from deploy.micro.integer_model import InputRule

    cfg = SEA_FRONTEND
    c_frontend = HostLogMel(build_library(cfg, default_mel_basis(cfg), tmp_path,
                                          cmsis_dsp_root()), cfg)
    image = np.linspace(-60, 60, cfg.n_mels * cfg.n_frames, dtype=np.float32).reshape(
        cfg.n_mels, cfg.n_frames)  # wide enough to saturate at both ends
    rule = InputRule(gain=3.1890612, offset=-0.56245, zero_point=-3)
    got = c_frontend.quantize(image, rule.gain, rule.offset, rule.zero_point)
    # float32 (C) vs float64 (numpy) products may land on either side of a .5: one step
    assert np.abs(got.astype(int) - rule.apply(image).astype(int)).max() <= 1
    assert got.min() == -128 and got.max() == 127
