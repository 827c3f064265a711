"""Settings of `sea export` and of `deploy.exporter.export_bundle` (the same object)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deploy.micro.budget import BOARDS
from deploy.parity import QUANTIZED_MIN_COSINE
from sea.quantization import Quantization
from sea.settings import AT_LEAST_ONE, COSINE, OneOf, SettingError, Settings, setting

# --frontend -> the graph variants written, in this order
FRONTEND_CHOICES = {"in-graph": ("in-graph",), "outside": ("outside",),
                    "both": ("outside", "in-graph")}
TARGETS = ("node", "micro")


@dataclass(frozen=True, kw_only=True)
class ExportSettings(Settings):
    model: str = setting(positional=True, metavar="CKPT_OR_NAME",
                         help="student checkpoint dir, config name (`sea models`) or Keras .h5")
    weights: str | None = setting(None,
                                  help="weight file for a named model (default: registry)")
    config: str | None = setting(None,
                                 help="architecture of a bare .h5 model (a `sea models` name)")
    random_init: bool = setting(
        False, help="named model with random weights (timing and smoke tests only)")
    out: Path = setting(help="bundle directory to create")
    quantize: Quantization = setting(
        Quantization.FLOAT32,
        help="network weights: none (float32), float16, or int8 (PT2E post-training "
             "quantization calibrated on real windows); the frontend always stays float")
    frontend: str = setting("both", check=OneOf(tuple(FRONTEND_CHOICES)),
                            help="graph variants to write")
    calibration: Path | None = setting(
        None, metavar="STORE|DIR",
        help="clip store, or folder of real recordings, for calibration and parity windows "
             "(default: the store named in the checkpoint manifest, else synthetic scenes, "
             "and the manifest says so)")
    calibration_windows: int = setting(128, check=AT_LEAST_ONE,
                                       help="windows used to calibrate int8")
    parity_windows: int = setting(32, check=AT_LEAST_ONE,
                                  help="held-out real windows for the parity report")
    quantized_min_cosine: float = setting(
        QUANTIZED_MIN_COSINE, check=COSINE, metavar="COS",
        help="int8/float16: the lowest cosine to the float model any held-out real window "
             "may have; lower it to ship a model that misses it (the figure is reported "
             "either way)")
    head: Path | None = setting(
        None, metavar="HEAD",
        help="classifier head directory (`sea head fit`) to ship with the bundle; it must "
             "have been fitted on this model")
    target: str = setting(
        "node", check=OneOf(TARGETS),
        help="node: the bundle only; micro: also BUNDLE/micro/, the TFLite Micro build "
             "(implies {quantize} int8)")
    board: str = setting(
        "stm32h7", check=OneOf(tuple(BOARDS)),
        help="micro board the build must fit: stm32h7 (2 MB flash, 1 MB RAM) or cortex-m4 "
             "(1 MB flash, 256 KB RAM)")
    seed: int = setting(0, help="seed of the calibration/parity window draw")
    sign: Path | None = setting(
        None, metavar="PRIVATE_KEY",
        help="sign the bundle's manifest with this Ed25519 key (`sea keys new`): writes "
             "signature.json, which `sea-node run --trust` requires")
    overwrite: bool = setting(False, help="replace a bundle already in {out}")

    def check(self) -> None:
        if self.target == "micro" and self.frontend == "in-graph":
            raise SettingError("frontend", "{target} micro runs the log-mel frontend in C: "
                               "use {frontend} outside or both")

    @property
    def quantization(self) -> Quantization:
        """What the network is quantized to: `quantize`, int8 for the micro target."""
        return Quantization.INT8 if self.target == "micro" else self.quantize

    @property
    def variants(self) -> tuple[str, ...]:
        """The graph variants `frontend` names."""
        return FRONTEND_CHOICES[self.frontend]
