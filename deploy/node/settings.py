"""Settings of `sea-node run`, `calibrate` and `serve`. The ones `run` shares with node.toml
(`sea-node serve`) are declared once, in NodeSettings; deploy/node/config.py reads node.toml
keys into the same fields."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sea.bundle import VARIANTS
from sea.errors import InvalidArgument
from sea.framing import hop_samples
from sea.settings import (AT_LEAST_ONE, POSITIVE, CpuCount, OneOf, Settings, SettingError,
                          setting)
from sea.trust import TrustSettings


@dataclass(frozen=True, kw_only=True)
class NodeSettings(TrustSettings):
    """What a node runs and what each window's line holds: `sea-node run` options and
    node.toml keys (config.TOML_KEYS names them there)."""

    bundle: Path = setting(help="bundle directory (sea export)")
    hop: float = setting(0.5, check=POSITIVE, help="seconds between windows")
    threads: int = setting(1, check=CpuCount(), help="interpreter threads")
    top_k: int = setting(3, check=AT_LEAST_ONE, help="classes per line with a head")
    embeddings: bool = setting(True, flag="--no-embeddings",
                               help="with a classifier head, write only the top classes")
    block_seconds: float = setting(0.5, check=POSITIVE, help="audio read per block")
    device: str | None = setting(None, help="sounddevice input device for `mic`")
    calibration_db: float | None = setting(
        None, metavar="OFFSET", help="dB SPL = dB FS + OFFSET: write laeq, lceq, lafmax per window")

    def hop_length(self, rate: int, window_seconds: float) -> int:
        """The hop in samples at `rate` (sea.framing's rule), refused when it is longer than
        a window (audio between windows would be skipped) or shorter than one sample."""
        if self.hop > window_seconds:
            raise SettingError("hop", f"{{hop}} must be in (0, {window_seconds:g}] seconds "
                                      f"(one window), got {self.hop:g}")
        try:
            return hop_samples(rate, self.hop)
        except InvalidArgument as exc:
            raise SettingError("hop", f"{{hop}}: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class RunSettings(NodeSettings):
    input: tuple[str, ...] = setting(nargs="+", metavar="FILE|DIR|mic",
                                     help="audio files, directories (recursive) or `mic`")
    out: str = setting(help="output .jsonl file, or - for stdout")
    center: bool = setting(True, flag="--no-center",
                           help="do not pad half a window at the start (times mark window starts)")
    variant: str | None = setting(None, check=OneOf(VARIANTS),
                                  help="graph variant (default: outside)")
    period: float | None = setting(
        None, check=POSITIVE, metavar="SECONDS",
        help="with a head: also write the top classes of the windows pooled over each period "
             "of SECONDS (the head's manifest suggests one)")
    config: Path | None = setting(None, metavar="NODE_TOML",
                                  help="node config: its [calibration] offset_db turns levels on")

    def check(self) -> None:
        if self.config is not None and self.calibration_db is not None:
            raise SettingError("calibration_db", "{calibration_db} and {config} exclude each other")


@dataclass(frozen=True, kw_only=True)
class CalibrateSettings(Settings):
    input: Path = setting(help="recording of the calibrator")
    reference_db: float = setting(94.0, help="the calibrator's level in dB SPL")
    frequency: float = setting(1000.0, check=POSITIVE, metavar="HZ",
                               help="the calibrator's frequency in Hz")
    config: Path = setting(metavar="NODE_TOML",
                           help="node config to write [calibration] into (created if absent)")


@dataclass(frozen=True, kw_only=True)
class ServeSettings(Settings):
    config: Path = setting(help="node.toml")
    drain: bool = setting(False,
                          help="stop once the spool folder is empty (batch runs, benchmarks)")
