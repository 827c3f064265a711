"""Settings of every command that runs a model over audio (`sea embed`, `sea teacher-embed`):
where it runs, how the audio reaches the model's rate, and in which precision."""

from __future__ import annotations

from dataclasses import dataclass

from sea.audio import RESAMPLERS
from sea.settings import OneOf, Settings, setting

PRECISIONS = ("float32", "bf16")


@dataclass(frozen=True, kw_only=True)
class DeviceSettings(Settings):
    """Where a torch model runs and how audio reaches its rate (inference and distillation)."""

    device: str | None = setting(
        None, help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda when present, else cpu; "
                   "a TFLite bundle always runs on the cpu)")
    resampler: str = setting(
        "soxr", check=OneOf(RESAMPLERS),
        help="audio rate -> model rate resampler: soxr (fast, high quality) or resampy "
             "kaiser_best (the one OpenL3/EdgeL3 used; exact only with resampy 0.2.2)")


@dataclass(frozen=True, kw_only=True)
class InferenceSettings(DeviceSettings):
    precision: str = setting(
        "float32", check=OneOf(PRECISIONS),
        help="float32 or bf16: 2x faster on CPUs with AVX512-BF16 (more with AMX or "
             "CUDA), cosine >= 0.999 to float32; refused elsewhere")
