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

import argparse
import logging
from pathlib import Path

from deploy.micro.budget import BOARDS
from deploy.parity import QUANTIZED_MIN_COSINE
from sea.argtypes import cosine_bound, positive_int
from sea.quantization import Quantization

log = logging.getLogger("sea.export")

FRONTEND_CHOICES = {"in-graph": ("in-graph",), "outside": ("outside",),
                    "both": ("outside", "in-graph")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="CKPT_OR_NAME",
                        help="student checkpoint dir, config name (`sea models`) or Keras .h5")
    parser.add_argument("--weights", help="weight file for a named model (default: registry)")
    parser.add_argument("--config", help="architecture of a bare .h5 model (a `sea models` name)")
    parser.add_argument("--random-init", action="store_true",
                        help="named model with random weights (timing and smoke tests only)")
    parser.add_argument("--out", required=True, type=Path, help="bundle directory to create")
    parser.add_argument("--quantize", choices=Quantization.spellings(), default="none",
                        help="network weights: none (float32, default), float16, or int8 "
                             "(PT2E post-training quantization calibrated on real windows); "
                             "the frontend always stays float")
    parser.add_argument("--frontend", choices=tuple(FRONTEND_CHOICES), default="both",
                        help="graph variants to write (default: both)")
    parser.add_argument("--calibration", type=Path, metavar="STORE|DIR",
                        help="clip store, or folder of real recordings, for calibration and "
                             "parity windows (default: the store named in the checkpoint "
                             "manifest, else synthetic scenes, and the manifest says so)")
    parser.add_argument("--calibration-windows", type=positive_int, default=128,
                        help="windows used to calibrate int8 (128)")
    parser.add_argument("--parity-windows", type=positive_int, default=32,
                        help="held-out real windows for the parity report (32)")
    parser.add_argument("--quantized-min-cosine", type=cosine_bound,
                        default=QUANTIZED_MIN_COSINE, metavar="COS",
                        help="int8/float16: the lowest cosine to the float model any held-out "
                             f"real window may have ({QUANTIZED_MIN_COSINE}); lower it to ship "
                             "a model that misses it (the figure is reported either way)")
    parser.add_argument("--head", type=Path, metavar="HEAD",
                        help="classifier head directory (`sea head fit`) to ship with the "
                             "bundle; it must have been fitted on this model")
    parser.add_argument("--target", choices=("node", "micro"), default="node",
                        help="node (default): the bundle only; micro: also BUNDLE/micro/, the "
                             "TFLite Micro build (implies --quantize int8)")
    parser.add_argument("--board", default="stm32h7", choices=tuple(BOARDS),
                        help="micro board the build must fit: stm32h7 (2 MB flash, 1 MB RAM; "
                             "default) or cortex-m4 (1 MB flash, 256 KB RAM)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the calibration/parity window draw (default 0)")
    parser.add_argument("--sign", type=Path, metavar="PRIVATE_KEY",
                        help="sign the bundle's manifest with this Ed25519 key (`sea keys "
                             "new`): writes signature.json, which `sea-node run --trust` "
                             "requires")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a bundle already in --out")


def default_store(model_path: str) -> Path | None:
    """The clip store a student was distilled on: `clip_store.path` in a checkpoint manifest
    written by `sea distill`, when that store is still there."""
    from sea.manifest import read_manifest

    path = Path(model_path)
    if not path.is_dir():
        return None
    record = read_manifest(path).get("clip_store")
    store = record.get("path") if isinstance(record, dict) else record
    return Path(store) if isinstance(store, str) and Path(store).is_dir() else None


def model_sources(args: argparse.Namespace) -> dict:
    from sea.manifest import read_manifest, sha256_file

    path = Path(args.model)
    sources = {"model": args.model}
    if path.is_dir():
        manifest = read_manifest(path)
        weights = path / manifest.get("weights", "model.pt")
        sources["checkpoint"] = {"path": str(path.resolve()), "created": manifest.get("created"),
                                 "weights_sha256": sha256_file(weights)}
    elif args.weights or path.suffix == ".h5":
        weights = Path(args.weights or path)
        sources["weights"] = {"path": str(weights.resolve()), "sha256": sha256_file(weights)}
    elif args.random_init:
        sources["weights"] = "random-init"
    return sources


def exported_model_id(args: argparse.Namespace, model) -> str:
    """The id `sea head fit` records for this model (sea.models), which a --head must
    carry."""
    from sea.models import model_id, parse_model
    from sea.weights import has_pretrained

    path = Path(args.model)
    if path.is_dir():
        return model_id(parse_model(args.model))
    if path.suffix == ".h5":
        return model_id(parse_model(f"{model.cfg.name}={args.model}"))
    if args.random_init or not (args.weights or has_pretrained(model.cfg.name)):
        return f"{model.cfg.name}-random{args.seed}"  # torch.manual_seed(args.seed) weights
    return model_id(parse_model(args.model, args.weights))


def export_inputs(args: argparse.Namespace, store: Path | None) -> tuple[Path, ...]:
    """What the export reads from disk: --out must not overlap any of it."""
    paths = [Path(args.model), args.weights and Path(args.weights), store, args.head]
    return tuple(p for p in paths if p is not None and p.exists())


def run(args: argparse.Namespace) -> int:
    from deploy.exporter import ExportError, export_bundle
    from deploy.representative import folder_windows, generated_windows, store_windows
    import torch

    from sea.signing import key_id, load_private_key
    from training.checkpoint import build_model

    quantize = Quantization.parse(args.quantize)
    if args.target == "micro":
        if quantize is not Quantization.INT8:
            log.info("--target micro: quantizing to int8")
        quantize = Quantization.INT8
        if args.frontend == "in-graph":
            raise ExportError("--target micro runs the log-mel frontend in C: use "
                              "--frontend outside or both")
    # a bad key fails here, before the conversion's minutes
    signing_key = load_private_key(args.sign) if args.sign else None
    torch.manual_seed(args.seed)  # reproducible --random-init weights
    model = build_model(args.model, weights=args.weights, config=args.config,
                        pretrained=not args.random_init, dft_mode="matmul")
    rate = model.cfg.frontend.sample_rate
    needed = args.parity_windows + (args.calibration_windows if quantize.needs_calibration else 0)
    store = args.calibration or default_store(args.model)
    if store is None:
        # generated windows hide int8 errors (min cosine 0.944 on real windows for an SEA-64
        # int8 bundle calibrated on generated ones): say so, and how to do better
        log.warning("no clip store or recordings given: calibrating and checking parity on "
                    "synthetic scenes (the manifest says so; pass --calibration for real ones)")
        windows = generated_windows(rate, needed, seed=args.seed)
    else:
        draw = (folder_windows if store.is_dir() and not (store / "manifest.json").is_file()
                else store_windows)  # a folder of recordings, or a clip store
        try:
            windows = draw(store, rate, needed, seed=args.seed)
        except ValueError as exc:
            log.error("--calibration %s: %s", store, exc)
            return 2
    if args.quantized_min_cosine < QUANTIZED_MIN_COSINE and quantize.quantized:
        log.warning("--quantized-min-cosine %s: real windows may fall below the %s target",
                    args.quantized_min_cosine, QUANTIZED_MIN_COSINE)
    manifest = export_bundle(model, args.out, windows, quantize=quantize,
                             variants=FRONTEND_CHOICES[args.frontend],
                             num_calibration=args.calibration_windows, head=args.head,
                             sources=model_sources(args), overwrite=args.overwrite,
                             inputs=export_inputs(args, store),
                             quantized_min_cosine=args.quantized_min_cosine,
                             model_id=exported_model_id(args, model),
                             signing_key=signing_key)
    for variant, entry in manifest["variants"].items():
        p = manifest["parity"][variant]
        print(f"{variant:>9}: {entry['file']} {entry['size_bytes'] / 1024:.0f} KiB, "
              f"cosine mean {p['real']['mean_cosine']:.6f} min {p['real']['min_cosine']:.6f}")
    signed = f", signed by key {key_id(signing_key.public_key())}" if signing_key else ""
    print(f"bundle written to {args.out}{signed}")
    if args.target == "micro":
        return micro(args, model, windows)
    return 0


def micro(args: argparse.Namespace, model, windows) -> int:
    """The TFLite Micro build of the bundle just written (parity on the held-out windows)."""
    from deploy.exporter import torch_embed
    from deploy.micro.budget import KIB, describe
    from deploy.micro.build import build_micro

    real = windows.split(args.calibration_windows)[1]
    manifest = build_micro(args.out, torch_embed(model, real), real, board=args.board)
    p = manifest["parity"]
    print(f"    micro: {args.out / 'micro'}: ops {', '.join(manifest['ops'])}; arena "
          f"{manifest['arena_bytes'] / KIB:.1f} KiB (tflite-micro); TFLM vs TFLite int8 cosine "
          f"min {p['vs_tflite_int8']['min_cosine']:.6f}, vs float mean "
          f"{p['vs_float']['mean_cosine']:.5f}")
    for line in describe(manifest["budget"]):
        print(f"    {line}")
    return 0
