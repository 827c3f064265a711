"""Settings of `sea prepare` and of `data_prep.prepare.prepare` (the same object)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from data_prep.settings.sources import SourceOptions
from sea.cluster import RaySettings
from sea.settings import SAMPLE_RATE, CpuCount, OneOf, setting

AUDIO_DTYPES = ("auto", "float32", "int16")  # data_prep.sample_type


@dataclass(frozen=True, kw_only=True)
class PrepareSettings(SourceOptions, RaySettings):
    sources: tuple[str, ...] = setting(positional=True, nargs="+", metavar="SOURCE",
                                       help="NAME:ARG input spec")
    out: Path = setting(help="clip store directory (created or extended)")
    sample_rate: int = setting(48000, check=SAMPLE_RATE,
                               help="store sample rate in Hz (48000 is the OpenL3 teacher's)")
    workers: int = setting(1, check=CpuCount("workers"),
                           help="decoding processes (1: decode in this process)")
    overwrite: bool = setting(False,
                              help="replace the clip store in {out} instead of extending it")
    progress: bool = setting(True, flag="--no-progress", help="no progress bar")
    audio_dtype: str = setting(
        "auto", check=OneOf(AUDIO_DTYPES),
        help="stored sample type: int16 halves disk and I/O; auto picks int16 when every "
             "input is 16-bit PCM or narrower, float32 otherwise; an existing store keeps its "
             "type")
