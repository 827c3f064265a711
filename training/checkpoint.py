"""Student checkpoints and one entry point to build any model of the family.

A checkpoint directory holds `model.pt` (state dict), `config.json` (the full ModelConfig,
frontend included), `manifest.json` (with the sha256 and size of both files, checked at load:
a manifest without them is refused),
and whatever the trainer adds (history.csv, ...). Torch files are only ever read with
`load_tensors`, which refuses anything but tensors and plain containers (no pickled code).
"""

from __future__ import annotations

import io
import json
import logging
import pickle
from pathlib import Path
from typing import Any

import torch

from sea.configs import ModelConfig, get_config
from sea.errors import SeaError, reading
from sea.integrity import record_files, verify_files
from sea.manifest import atomic_write_bytes, atomic_write_json, read_manifest, write_manifest
from sea.models import ModelKind
from sea.paths import confined
from sea.settings import SettingError
from sea.weights import has_pretrained, resolve_weights
from training.keras_h5 import load_keras_weights
from training.frontend import DEFAULT_DFT_MODE
from training.model import L3Net

log = logging.getLogger(__name__)
CHECKPOINT_KIND = ModelKind.CHECKPOINT.artifact
CONFIG_FILE = "config.json"


class UnsafeTorchFile(SeaError, ValueError):
    """A torch file holding objects other than tensors and plain containers."""


def load_tensors(path: str | Path) -> Any:
    """`torch.load` restricted to tensors, numbers, strings and containers (weights_only):
    a pickle that would import or call anything is refused before it runs."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsafeTorchFile(f"refusing {path}: it holds more than tensors and plain data, "
                              f"so loading it could run code ({first})") from exc


def save_checkpoint(directory: str | Path, model: L3Net, extra: dict[str, Any] | None = None,
                    weights_name: str = "model.pt") -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    atomic_write_bytes(directory / weights_name, buf.getvalue())
    atomic_write_json(directory / CONFIG_FILE, model.cfg.to_dict())
    write_manifest(directory, CHECKPOINT_KIND, model.cfg.to_dict(), weights=weights_name,
                   **(extra or {}), files=record_files(directory, [weights_name, CONFIG_FILE]))


def is_checkpoint(path: str | Path) -> bool:
    return (Path(path) / "config.json").is_file() and (Path(path) / "manifest.json").is_file()


def load_checkpoint(directory: str | Path, weights_name: str | None = None,
                    dft_mode: str = DEFAULT_DFT_MODE) -> L3Net:
    directory = Path(directory)
    manifest = read_manifest(directory, CHECKPOINT_KIND)
    name = weights_name or manifest.get("weights", "model.pt")
    confined(directory, name, "checkpoint weights file")
    # Every file read must have a recorded digest: deleting `files` from the manifest must
    # not turn the check off (a swapped model.pt would then load), as for bundles.
    verified = verify_files(directory, manifest, required=[name, CONFIG_FILE])
    config, weights = verified[CONFIG_FILE], verified[name]
    with reading(config, "checkpoint config"):
        cfg = ModelConfig.from_dict(json.loads(config.read_text()))
    model = L3Net(cfg, dft_mode=dft_mode)
    with reading(weights, "torch weight file"):
        model.load_state_dict(load_tensors(weights))
    return model.eval()


def build_model(name_or_path: str, weights: str | Path | None = None, pretrained: bool = True,
                dft_mode: str = DEFAULT_DFT_MODE, config: str | None = None) -> L3Net:
    """A model in eval mode from a config name (with its published weights), a student
    checkpoint directory, or a Keras .h5 file (then `config` names its architecture)."""
    path = Path(name_or_path)
    if path.is_dir():
        return load_checkpoint(path, dft_mode=dft_mode)
    if path.suffix == ".h5" and path.is_file():
        if config is None:
            raise SettingError("config", f"{path} is a Keras file: name its architecture with "
                               "{config}")
        model = L3Net(get_config(config), dft_mode=dft_mode)
        load_keras_weights(model, path)
        return model.eval()
    cfg = get_config(name_or_path)
    model = L3Net(cfg, dft_mode=dft_mode)
    if weights is not None or (pretrained and has_pretrained(cfg.name)):
        load_keras_weights(model, resolve_weights(cfg.name, weights))
    elif pretrained:
        log.info("%s has no published weights: randomly initialised", cfg.name)
    return model.eval()
