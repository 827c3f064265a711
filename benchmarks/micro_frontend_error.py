"""Where the C log-mel frontend's error comes from: the float32 and float64 (SEA_FRONTEND_F64)
builds of deploy/micro/c/sea_logmel.c, and numpy copies of the frontend with one step at a time
in float32, against the float64 numpy frontend, on pure tones in silence and on noise.

    python benchmarks/micro_frontend_error.py [--tones 24]

Prints, per frontend (SEA kapre014, OpenL3 mel128 kapre03) and signal set, the largest |dB
error| in bins above -60 dB. Needs gcc and CMSIS-DSP's sources (see deploy/micro/host_frontend.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from deploy.micro.host_frontend import HostLogMel, build_library, cmsis_dsp_root
from sea.configs import OPENL3_FRONTENDS, SEA_FRONTEND, FrontendConfig
from sea.frontend import LogMelFrontend, default_mel_basis, periodic_hann

FLOOR_DB = -60.0


def one_step_in_float32(cfg: FrontendConfig, basis: np.ndarray, x: np.ndarray,
                        step: str) -> np.ndarray:
    """The frontend in float64 except `step` (window | fft | mel-log) in float32."""
    f32 = np.float32
    left = cfg.padding[0]
    padded = np.zeros((len(x), cfg.window_samples + sum(cfg.padding)))
    padded[:, left:left + cfg.window_samples] = x
    frames = padded[:, np.arange(cfg.n_frames)[:, None] * cfg.hop_length + np.arange(cfg.n_fft)]
    window = periodic_hann(cfg.n_fft)
    if step == "window":
        window = window.astype(f32).astype(np.float64)
    if step == "fft":  # numpy >= 2 transforms float32 input in float32 (pocketfft)
        spectrum = np.fft.rfft(frames.astype(f32) * window.astype(f32), axis=-1)
    else:
        spectrum = np.fft.rfft(frames * window, axis=-1)
    dtype = f32 if step == "mel-log" else np.float64
    power = np.square(spectrum.real.astype(dtype)) + np.square(spectrum.imag.astype(dtype))
    mel = basis.astype(dtype)
    spec = np.sqrt(power @ mel) if cfg.sqrt_after_mel else np.sqrt(power) @ mel
    db = np.swapaxes(10 * np.log10(np.maximum(spec, dtype(cfg.amin))), 1, 2).astype(np.float64)
    return np.maximum(db - db.max(axis=(1, 2), keepdims=True), -cfg.dynamic_range)


def signals(cfg: FrontendConfig, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(cfg.window_samples) / cfg.sample_rate
    tones = [a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
             for a, f in zip(np.geomspace(1e-3, 0.9, count),
                             rng.uniform(50, 0.45 * cfg.sample_rate, count))]
    noise = [a * rng.standard_normal(cfg.window_samples) for a in np.geomspace(1e-3, 0.3, count)]
    return {"pure tones": np.stack(tones).astype(np.float32),
            "noise": np.stack(noise).astype(np.float32)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tones", type=int, default=24, help="windows per signal set")
    args = parser.parse_args()
    cmsis = cmsis_dsp_root()
    if cmsis is None:
        print("CMSIS-DSP sources absent (see deploy/micro/host_frontend.py)", file=sys.stderr)
        return 2
    print(f"max |dB error| above {FLOOR_DB:.0f} dB vs the float64 numpy frontend")
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in (("SEA (kapre014)", SEA_FRONTEND),
                          ("OpenL3 mel128 (kapre03)", OPENL3_FRONTENDS["mel128"])):
            basis = default_mel_basis(cfg)
            builds = {f"C float32 (CMSIS arm_rfft_fast_f32)": False,
                      f"C float64 (SEA_FRONTEND_F64, arm_rfft_fast_f64)": True}
            c = {label: HostLogMel(build_library(cfg, basis, Path(tmp) / f"{cfg.n_mels}-{f64}",
                                                 cmsis, f64=f64), cfg)
                 for label, f64 in builds.items()}
            for kind, x in signals(cfg, args.tones).items():
                reference = LogMelFrontend(cfg, mel_basis=basis, dtype=np.float64)(x)
                above = reference > FLOOR_DB
                rows = {**{label: run(x) for label, run in c.items()},
                        **{f"numpy, only the {step} in float32":
                           one_step_in_float32(cfg, basis, x, step)
                           for step in ("window", "fft", "mel-log")}}
                print(f"\n{name}, {kind} ({len(x)} windows)")
                for label, got in rows.items():
                    print(f"  {label:48s} {np.abs(got - reference)[above].max():.5f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
