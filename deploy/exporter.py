"""Write a deploy bundle: .tflite variant(s), frontend.npz, optional head, parity, manifest.

The bundle is assembled in a temporary sibling directory and moved into place only when every
parity target is met, so a failed export never leaves something that looks like a bundle;
the failing report is kept as `<out>.failed-parity.json` for inspection.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deploy import convert
from deploy.export_inputs import (build_exported_model, draw_windows, export_inputs,
                                  exported_model_id, model_sources)
from deploy.micro.build import MICRO_DIR, REFUSED_FILE, build_micro
from deploy.parity import (FLOAT_MIN_COSINE, QUANTIZED_MEAN_COSINE, QUANTIZED_PROBE_FLOOR,
                           ParityError, check, compare)
from deploy.representative import WindowSet, probe_windows, stress_windows
from deploy.settings.export import ExportSettings
from sea.bundle import BUNDLE_KIND, FRONTEND_FILE, HEAD_FILE, OUTPUT_SCALE_FILE, TFLiteModel
from sea.configs import count_parameters
from sea.errors import SeaError
from sea.frontend import LogMelFrontend
from sea.head import check_head_model, read_head
from sea.integrity import record_files, verify_file
from sea.manifest import (atomic_save_npz, atomic_write_bytes, atomic_write_json, sha256_file,
                          write_manifest)
from sea.output import MANIFEST_FILE, claim_output
from sea.quantization import Quantization
from sea.safe_write import directory_mode
from sea.settings import SettingError
from sea.signing import SIGNATURE_FILE, load_private_key, sign_bundle
from training import equalize

log = logging.getLogger(__name__)


class ExportError(SeaError, ValueError):
    """The export cannot run with the given inputs (the message says what to change)."""


@torch.inference_mode()
def torch_embed(model: torch.nn.Module, windows: np.ndarray, batch: int = 16) -> np.ndarray:
    parts = [model(torch.from_numpy(np.ascontiguousarray(windows[i:i + batch], np.float32))).numpy()
             for i in range(0, len(windows), batch)]
    return np.concatenate(parts)


@torch.inference_mode()
def torch_logmel(model: torch.nn.Module, windows: np.ndarray, batch: int = 16) -> np.ndarray:
    parts = [model.frontend(torch.from_numpy(np.ascontiguousarray(windows[i:i + batch],
                                                                  np.float32))).numpy()
             for i in range(0, len(windows), batch)]
    return np.concatenate(parts)


def mel_basis_of(model: torch.nn.Module) -> np.ndarray | None:
    basis = model.frontend.mel_basis
    return basis.numpy().astype(np.float32) if basis.numel() else None


def tflite_embed(model: TFLiteModel, windows: np.ndarray, frontend: LogMelFrontend | None,
                 output_map: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """What the node computes: numpy log-mel (outside variant) or raw audio into TFLite, then
    the bundle's per-dimension output map (scale, offset) when it has one."""
    out = np.stack([model(frontend(w[None]) if frontend is not None else w[None])
                    for w in windows])
    return out if output_map is None else out * output_map[0] + output_map[1]


def variant_file(variant: str, quantize: Quantization) -> str:
    return f"model_{variant.replace('-', '_')}_{quantize.label}.tflite"


# What an export (and a later micro build) writes in a bundle besides the manifest.
BUNDLE_LAYOUT = ("model_*.tflite", FRONTEND_FILE, OUTPUT_SCALE_FILE, HEAD_FILE, MICRO_DIR,
                 REFUSED_FILE, SIGNATURE_FILE)


def build_variant(model: torch.nn.Module, variant: str, quantize: Quantization,
                  quantized: tuple[torch.nn.Module, torch.nn.Module] | None) -> bytes:
    """`quantized`: (equalized float model, its int8 body) for int8 exports."""
    if quantize is Quantization.INT8:
        return convert.convert_int8(*quantized, variant)
    tflite = convert.convert_float(model, variant)
    return convert.to_float16(tflite) if quantize is Quantization.FLOAT16 else tflite


def parity_report(model: torch.nn.Module, tfl: TFLiteModel, frontend: LogMelFrontend | None,
                  real: np.ndarray, probes: dict[str, np.ndarray],
                  output_map: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    report = {"real": compare(torch_embed(model, real),
                              tflite_embed(tfl, real, frontend, output_map))}
    report["probes"] = {
        name: compare(torch_embed(model, w[None]),
                      tflite_embed(tfl, w[None], frontend, output_map))
        for name, w in probes.items()}
    return report


def export_bundle(settings: ExportSettings, model: torch.nn.Module | None = None,
                  windows: WindowSet | None = None) -> dict:
    """Export the model `settings` name into a bundle at `settings.out`; returns the
    manifest. `model` (built with dft_mode='matmul') and `windows` replace the ones the
    settings name (deploy.export_inputs) for a caller that has them in memory; the sources
    still record `settings.model`, and its model id (the one `sea head fit` records) is what a
    `head` must have been fitted on. With `sign` the manifest is signed (sea.signing,
    `signature.json`); the micro target also writes BUNDLE/micro/ (deploy.micro.build).

    Raises ParityError (after writing the report) when a target is missed (a quantized
    model: any real window below `quantized_min_cosine`), MicroBuildError (the bundle is
    kept) when the micro build is refused. A bundle already in `out` is replaced only with
    `overwrite`; `out` must not overlap what the export reads."""
    signing_key = load_private_key(settings.sign) if settings.sign else None  # fails early
    model = (model if model is not None else build_exported_model(settings)).eval()
    if windows is None:
        windows = draw_windows(settings, model.cfg.frontend.sample_rate)
    sources = {**model_sources(settings), "model_id": exported_model_id(settings, model)}
    out = settings.out
    created = not out.exists()
    lock = claim_output(out, BUNDLE_KIND, inputs=export_inputs(settings),
                        overwrite=settings.overwrite, resume=False, layout=BUNDLE_LAYOUT)
    try:
        lock.clear()  # what an interrupted export moved in before its manifest
        manifest = _export(model, settings, windows, sources, signing_key)
    except BaseException:
        if created:  # a failed export leaves nothing that looks like an output
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        lock.release()
    if settings.target == "micro":
        real = windows.split(settings.calibration_windows)[1]
        build_micro(out, torch_embed(model, real), real, board=settings.board)
    return manifest


def _export(model: torch.nn.Module, settings: ExportSettings, windows: WindowSet,
            sources: dict, signing_key: Ed25519PrivateKey | None) -> dict:
    cfg, out, head = model.cfg, settings.out, settings.head
    quantize, num_calibration = settings.quantization, settings.calibration_windows
    calibration, real = windows.split(num_calibration if quantize.needs_calibration else 0)
    if len(real) == 0:
        raise SettingError("parity_windows", f"no windows left for the parity check: "
                           f"{len(windows.windows)} drawn from the calibration source, "
                           f"{num_calibration} used for calibration; use a larger "
                           "{calibration} store or lower {calibration_windows} / "
                           "{parity_windows}")
    probes = probe_windows(cfg.frontend.sample_rate, cfg.frontend.window_seconds)
    mel_basis = mel_basis_of(model)
    numpy_frontend = LogMelFrontend(cfg.frontend, mel_basis=mel_basis)
    head_artifact = read_head(head) if head else None
    if head_artifact is not None:
        check_head_model(head_artifact, sources["model_id"])
        if head_artifact.head.input_dim != cfg.embedding_dim:
            raise ExportError(f"{head}: the head takes {head_artifact.head.input_dim}-d input, "
                              f"the model gives {cfg.embedding_dim}-d embeddings")

    quantized, output_map = None, None
    if quantize is Quantization.INT8:
        calibration = np.concatenate([calibration, stress_windows(
            cfg.frontend.sample_rate, window_seconds=cfg.frontend.window_seconds)])
        log.info("calibrating int8 on %d windows", len(calibration))
        logmels = torch_logmel(model, calibration)
        output_range = equalize.measure(model, logmels)
        output_map = output_range.per_dimension(cfg.embedding_dim)
        equalized = equalize.equalized_copy(model, output_range)
        quantized = (equalized, convert.quantize_body(equalized, logmels,
                                                      output_range=equalize.EQUALIZED_RANGE))

    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        entries, parity = {}, {}
        for variant in settings.variants:
            log.info("converting %s variant (%s)", variant, quantize)
            name = variant_file(variant, quantize)
            atomic_write_bytes(work / name, build_variant(model, variant, quantize, quantized))
            tfl = TFLiteModel(work / name)
            parity[variant] = parity_report(model, tfl, numpy_frontend if variant == "outside"
                                            else None, real, probes, output_map)
            parity[variant]["failures"] = check(
                parity[variant], quantized=quantize.quantized,
                quantized_min_cosine=settings.quantized_min_cosine)
            entries[variant] = {
                "file": name, "input": "logmel" if variant == "outside" else "audio",
                "input_shape": list(tfl.input_shape), "input_dtype": tfl.input["dtype"].__name__,
                "output_dtype": tfl.output["dtype"].__name__,
                "size_bytes": tfl.size_bytes, "sha256": sha256_file(work / name),
            }
        failures = [f"{v}: {f}" for v, r in parity.items() for f in r["failures"]]
        failed = out.parent / f"{out.name}.failed-parity.json"
        failed.unlink(missing_ok=True)  # a report from an earlier attempt would mislead
        if failures:
            atomic_write_json(failed, parity)
            hint = ("" if windows.source.get("kind") != "generated" else
                    " (calibrated and checked on synthetic scenes: real recordings as the "
                    "calibration source calibrate int8 far better)")
            raise ParityError(f"export missed its parity targets (report: {failed}): "
                              + "; ".join(failures) + hint)
        frontend_arrays = {"params_json": np.array(json.dumps(dataclasses.asdict(cfg.frontend)))}
        if mel_basis is not None:
            frontend_arrays["mel_basis"] = mel_basis
        atomic_save_npz(work / FRONTEND_FILE, **frontend_arrays)
        if output_map is not None:
            scale, offset = output_map
            atomic_save_npz(work / OUTPUT_SCALE_FILE, output_scale=scale,
                            **({"output_offset": offset} if offset.any() else {}))
        head_entry = None
        if head_artifact is not None:
            shutil.copyfile(head_artifact.weights, work / HEAD_FILE)
            # the copy, not only the file read at the start, is the head that was checked
            verify_file(work / HEAD_FILE, head_artifact.manifest["files"][HEAD_FILE],
                        str(head_artifact.path))
            head_entry = head_artifact.bundle_entry()
        listed = [e["file"] for e in entries.values()] + [FRONTEND_FILE]
        listed += [OUTPUT_SCALE_FILE] if output_map is not None else []
        listed += [HEAD_FILE] if head_entry is not None else []
        manifest = write_manifest(
            work, BUNDLE_KIND, cfg.to_dict(), model_name=cfg.name, quantization=quantize.value,
            variants=entries, frontend={"file": FRONTEND_FILE,
                                        "quantized": False, "style": cfg.frontend.style},
            head=head_entry, output_scale=OUTPUT_SCALE_FILE if output_map is not None else None,
            sizes={"params": count_parameters(cfg), "float32_bytes": 4 * count_parameters(cfg),
                   **{v: e["size_bytes"] for v, e in entries.items()}},
            parity={"targets": {"float_min_cosine": FLOAT_MIN_COSINE,
                                "quantized_mean_cosine": QUANTIZED_MEAN_COSINE,
                                "quantized_min_cosine": settings.quantized_min_cosine,
                                "quantized_probe_floor": QUANTIZED_PROBE_FLOOR},
                    "parity_windows": int(len(real)), "calibration_windows": int(len(calibration)),
                    # "real" windows are recordings only when this is not "generated"
                    "windows_kind": windows.source.get("kind", "unknown"),
                    "reference": "torch float32 model (training.model.L3Net, matmul DFT)",
                    **parity},
            sources={**sources, "windows": windows.source},
            files=record_files(work, listed))
        if signing_key is not None:
            sign_bundle(work, signing_key)
        work.chmod(directory_mode())  # mkdtemp makes it private; a bundle is meant to be shared
        # Into the locked `out`: every file first, the manifest (the commit point) last. A
        # signature of the bundle this one replaces must not stay beside the new manifest.
        (out / SIGNATURE_FILE).unlink(missing_ok=True)
        for entry in sorted(work.iterdir(), key=lambda p: p.name == MANIFEST_FILE):
            os.replace(entry, out / entry.name)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)
