"""Export a teacher or student to a TFLite bundle for sensor nodes (litert-torch, no TensorFlow).

The bundle holds one .tflite per graph variant (`in-graph`: raw 1-s audio in; `outside`:
log-mel in, computed on the node by the numpy frontend), frontend.npz (mel basis and
parameters), an optional classifier head, and manifest.json with sizes, parity and sources.
int8 (PT2E post-training quantization) and float16 apply to the network only, never to the
frontend. Parity against the torch model is measured on real windows (from --calibration, a
clip store or a folder of recordings; synthetic scenes when none is given) and on silence, noise and a sine; the export
fails (exit 2) when float32 cosine < 0.9999, or a quantized model has a real window below
0.99 cosine (--quantized-min-cosine lowers it) or a mean below 0.99.

`--target micro` (implies int8) also writes `BUNDLE/micro/`: the fully integer model as C
source for TensorFlow Lite Micro, its op resolver, the arena measured by tflite-micro, the
log-mel frontend in C on CMSIS-DSP, and the flash/RAM budget per board; it refuses (exit 2,
report in BUNDLE/micro-refused.json) when the model misses its TFLM parity or does not fit
`--board`.
"""

from __future__ import annotations

import logging

from deploy.parity import QUANTIZED_MIN_COSINE
from deploy.settings.export import ExportSettings
from sea.errors import printable
from sea.quantization import Quantization
from sea.settings_cli import Command

log = logging.getLogger("sea.export")


def run(settings: ExportSettings) -> int:
    from deploy.export_inputs import calibration_source
    from deploy.exporter import export_bundle
    from sea.manifest import read_manifest

    if settings.target == "micro" and settings.quantize is not Quantization.INT8:
        log.info("--target micro: quantizing to int8")
    if calibration_source(settings) is None:
        # generated windows hide int8 errors (min cosine 0.944 on real windows for an SEA-64
        # int8 bundle calibrated on generated ones): say so, and how to do better
        log.warning("no clip store or recordings given: calibrating and checking parity on "
                    "synthetic scenes (the manifest says so; pass --calibration for real ones)")
    if settings.quantized_min_cosine < QUANTIZED_MIN_COSINE and settings.quantization.quantized:
        log.warning("--quantized-min-cosine %s: real windows may fall below the %s target",
                    settings.quantized_min_cosine, QUANTIZED_MIN_COSINE)
    manifest = export_bundle(settings)
    for variant, entry in manifest["variants"].items():
        p = manifest["parity"][variant]
        print(f"{variant:>9}: {entry['file']} {entry['size_bytes'] / 1024:.0f} KiB, "
              f"cosine mean {p['real']['mean_cosine']:.6f} min {p['real']['min_cosine']:.6f}")
    signed = ""
    if settings.sign:
        from sea.signing import key_id, load_private_key

        signed = f", signed by key {key_id(load_private_key(settings.sign).public_key())}"
    print(f"bundle written to {printable(settings.out)}{signed}")
    if settings.target == "micro":
        print_micro(settings, read_manifest(settings.out / "micro"))
    return 0


def print_micro(settings: ExportSettings, manifest: dict) -> None:
    """What the TFLite Micro build holds and how it compares."""
    from deploy.micro.budget import KIB, describe

    p = manifest["parity"]
    print(f"    micro: {printable(settings.out / 'micro')}: ops {', '.join(manifest['ops'])}; "
          f"arena {manifest['arena_bytes'] / KIB:.1f} KiB (tflite-micro); TFLM vs TFLite int8 "
          f"cosine min {p['vs_tflite_int8']['min_cosine']:.6f}, vs float mean "
          f"{p['vs_float']['mean_cosine']:.5f}")
    for line in describe(manifest["budget"]):
        print(f"    {line}")


COMMAND = Command(ExportSettings, run)
