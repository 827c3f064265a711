"""What an export reads (deploy.exporter): the model its settings name, the real windows it
is calibrated and checked on, and the record of both in the bundle's sources."""

from __future__ import annotations

from pathlib import Path

import torch

from deploy.representative import WindowSet, folder_windows, generated_windows, store_windows
from deploy.settings.export import ExportSettings
from sea.manifest import read_manifest, sha256_file
from sea.settings import SettingError


def default_store(model_path: str) -> Path | None:
    """The clip store a student was distilled on: `clip_store.path` in a checkpoint manifest
    written by `sea distill`, when that store is still there."""
    path = Path(model_path)
    if not path.is_dir():
        return None
    record = read_manifest(path).get("clip_store")
    store = record.get("path") if isinstance(record, dict) else record
    return Path(store) if isinstance(store, str) and Path(store).is_dir() else None


def calibration_source(settings: ExportSettings) -> Path | None:
    """The store or folder the windows come from (None: synthetic scenes)."""
    return settings.calibration or default_store(settings.model)


def build_exported_model(settings: ExportSettings) -> torch.nn.Module:
    """The model `settings.model` names, with the exporter's DFT (a matmul TFLite converts)."""
    from training.checkpoint import build_model

    torch.manual_seed(settings.seed)  # reproducible random_init weights
    return build_model(settings.model, weights=settings.weights, config=settings.config,
                       pretrained=not settings.random_init, dft_mode="matmul")


def draw_windows(settings: ExportSettings, rate: int) -> WindowSet:
    """Calibration (int8) and parity windows at `rate` from the calibration source."""
    needed = settings.parity_windows + (settings.calibration_windows
                                        if settings.quantization.needs_calibration else 0)
    store = calibration_source(settings)
    if store is None:  # the manifest says so (windows_kind "generated")
        return generated_windows(rate, needed, seed=settings.seed)
    draw = (folder_windows if store.is_dir() and not (store / "manifest.json").is_file()
            else store_windows)  # a folder of recordings, or a clip store
    try:
        return draw(store, rate, needed, seed=settings.seed)
    except ValueError as exc:
        raise SettingError("calibration", f"{{calibration}} {store}: {exc}") from None


def model_sources(settings: ExportSettings) -> dict:
    """Where the exported weights came from, with their digests."""
    path = Path(settings.model)
    sources: dict = {"model": settings.model}
    if path.is_dir():
        manifest = read_manifest(path)
        weights = path / manifest.get("weights", "model.pt")
        sources["checkpoint"] = {"path": str(path.resolve()), "created": manifest.get("created"),
                                 "weights_sha256": sha256_file(weights)}
    elif settings.weights or path.suffix == ".h5":
        weights = Path(settings.weights or path)
        sources["weights"] = {"path": str(weights.resolve()), "sha256": sha256_file(weights)}
    elif settings.random_init:
        sources["weights"] = "random-init"
    return sources


def exported_model_id(settings: ExportSettings, model: torch.nn.Module) -> str:
    """The id `sea head fit` records for this model (sea.models), which
    a head must carry."""
    from sea.weights import has_pretrained
    from sea.models import model_id, parse_model

    path = Path(settings.model)
    if path.is_dir():
        return model_id(parse_model(settings.model))
    if path.suffix == ".h5":
        return model_id(parse_model(f"{model.cfg.name}={settings.model}"))
    if settings.random_init or not (settings.weights or has_pretrained(model.cfg.name)):
        return f"{model.cfg.name}-random{settings.seed}"  # torch.manual_seed(seed) weights
    return model_id(parse_model(settings.model, settings.weights))


def export_inputs(settings: ExportSettings) -> tuple[Path, ...]:
    """What the export reads from disk: `out` must not overlap any of it."""
    paths = [Path(settings.model), settings.weights and Path(settings.weights),
             calibration_source(settings), settings.head]
    return tuple(p for p in paths if p is not None and p.exists())
