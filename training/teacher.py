"""Choosing and loading the teacher network, with an honest record of what was loaded."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from sea.configs import get_config
from sea.bundle import BundleEmbedder
from sea.manifest import read_manifest, sha256_file
from sea.models import ModelKind
from sea.quantization import Quantization
from sea.settings import SettingError
from sea.weights import bundled_path, find_local, resolve_weights, unpublished_teacher
from training.checkpoint import build_model, is_checkpoint
from training.model import L3Net

log = logging.getLogger(__name__)

# `--teacher auto`: the first of these whose weights are on this machine (cache, installed
# openl3/edgel3 package, or the copy shipped with sea; auto never downloads, so it works
# offline), else an error: a
# random-weight teacher is only ever used when named, as `random:CONFIG`.
# Name a teacher explicitly (e.g. --teacher openl3-mel256-env) to download its weights.
AUTO_TEACHERS = ("openl3-mel256-env", "edgel3-sea-512", "edgel3-sea-64")
RANDOM_PREFIX = "random:"

RANDOM_BANNER = """
################################################################################
#  WARNING: NO PRETRAINED TEACHER WEIGHTS - USING A RANDOM-WEIGHT {name} (seed {seed})
#  Its embeddings carry no learned audio knowledge; students distilled from it are
#  only good for testing the pipeline. Put published weights in the cache
#  (see `sea models`) or name the teacher together with its weights file.
################################################################################"""


def _random_teacher(name: str, seed: int) -> tuple[L3Net, dict[str, Any]]:
    log.warning(RANDOM_BANNER.format(name=name, seed=seed))
    torch.manual_seed(seed)
    model = build_model(name, pretrained=False)
    return model, {"source": "random", "seed": seed}


def load_teacher(teacher: str, weights: str | Path | None = None,
                 seed: int = 0) -> tuple[L3Net, dict[str, Any]]:
    """(model in eval mode, identity record) for a config name, checkpoint dir, `auto`, or
    `random:CONFIG` (seeded random weights, asked for by name)."""
    if teacher == "auto":
        if weights is not None:
            raise SettingError("weights", "{weights} needs a named {teacher}, not auto")
        for name in AUTO_TEACHERS:
            path = find_local(name) or bundled_path(name)
            if path is not None:
                log.info("teacher auto: using %s (%s)", name, path)
                return load_teacher(name, seed=seed)  # by name: its digest is checked
        raise SettingError(
            "teacher",
            f"{{teacher}} auto found no pretrained weights on this machine (looked for "
            f"{', '.join(AUTO_TEACHERS)}; see `sea models`). Name a teacher to download its "
            f"weights ({{teacher}} {AUTO_TEACHERS[0]}), pass {{teacher}} NAME with {{weights}} "
            f"PATH, or ask for a random-weight network, only good for testing the pipeline, with "
            f"{{teacher}} {RANDOM_PREFIX}{AUTO_TEACHERS[0]}")
    elif teacher.startswith(RANDOM_PREFIX):
        if weights is not None:
            raise SettingError("weights", f"{{teacher}} {teacher} has random weights: it takes "
                               "no {weights}")
        model, info = _random_teacher(get_config(teacher[len(RANDOM_PREFIX):]).name, seed)
    elif is_checkpoint(teacher):
        if weights is not None:
            raise SettingError("weights", "{weights} cannot be combined with a checkpoint "
                               "directory {teacher}")
        model = build_model(teacher)
        info = {"source": "checkpoint", "path": str(Path(teacher).resolve()),
                "weights_sha256": sha256_file(Path(teacher) / read_manifest(teacher).get(
                    "weights", "model.pt"))}
    else:
        if Path(teacher).suffix == ".h5":
            raise SettingError("teacher", f"{{teacher}} {teacher} is a weight file: pass the "
                               f"architecture as {{teacher}} NAME and the file as {{weights}} "
                               f"{teacher}")
        get_config(teacher)  # KeyError with the known names for a typo
        refusal = unpublished_teacher(teacher, "weights") if weights is None else None
        if refusal:
            raise SettingError("teacher", refusal)
        path = resolve_weights(teacher, weights)
        model = build_model(teacher, weights=path)
        info = {"source": "weights", "path": str(path.resolve()),
                "weights_sha256": sha256_file(path)}
    info.update(name=model.cfg.name, config=model.cfg.to_dict())
    return model, info


def is_bundle(path: str | Path) -> bool:
    """Whether `path` is a `sea export` bundle directory (a TFLite teacher)."""
    manifest = Path(path) / "manifest.json"
    return manifest.is_file() and read_manifest(path).get("kind") == ModelKind.BUNDLE.artifact


def load_bundle_teacher(bundle: str | Path, threads: int | None,
                        resampler: str) -> tuple[BundleEmbedder, dict[str, Any]]:
    """(embedder, identity record) of a bundle used as the teacher: its TFLite model (int8,
    float16 or float32, as exported; digests verified on load) in an interpreter with
    `threads` threads (default 1)."""
    embedder = BundleEmbedder(bundle, num_threads=threads or 1, resampler=resampler)
    manifest = embedder.bundle.manifest
    info = {"source": "bundle", "path": str(Path(bundle).resolve()),
            "quantization": Quantization.of_manifest(manifest).value,
            "variant": embedder.variant,
            "manifest_sha256": sha256_file(Path(bundle) / "manifest.json"),
            "name": embedder.cfg.name, "config": embedder.cfg.to_dict()}
    return embedder, info
