"""What `--model` names: a model-family config, Keras weights, a student checkpoint or a
deploy bundle; each gets a stable id (for the embedding cache) and an embedder."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sea.configs import MODEL_CONFIGS, get_config
from sea.manifest import read_manifest

CHECKPOINT_KIND = "student-checkpoint"  # training.checkpoint.CHECKPOINT_KIND (no torch import)
MICRO_KIND = "sea-micro"  # deploy.micro.build.MICRO_KIND (no tflite-micro import)
RANDOM_INIT_SEED = 0  # models without published weights are evaluated as a seeded random init


class EmbedderLike(Protocol):
    name: str
    dim: int
    num_params: int
    size_bytes: int
    sample_rate: int

    def embed(self, audio: Any, sr: int, hop_seconds: float = 0.1, center: bool = True) -> Any: ...


@dataclass(frozen=True)
class ModelSpec:
    text: str  # the --model argument as given
    kind: str  # "config" | "keras" | "checkpoint" | "bundle" | "micro"
    name: str  # display name (config name or directory name)
    path: Path | None = None  # weights file, checkpoint dir, bundle dir or BUNDLE/micro
    weights: Path | None = None  # --weights for a config name


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12]


def parse_model(text: str, weights: str | None = None) -> ModelSpec:
    """Interpret one `--model` argument; raises ValueError with the reason when it is none."""
    if "=" in text:
        name, _, path = text.partition("=")
        get_config(name)  # KeyError lists the known names
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"{text}: weights file {path} does not exist")
        return ModelSpec(text, "keras", name, path)
    path = Path(text)
    if path.is_dir():
        from sea.bundle import BUNDLE_KIND  # numpy-only module; its interpreter loads lazily

        kind = read_manifest(path).get("kind")
        if kind == CHECKPOINT_KIND:
            return ModelSpec(text, "checkpoint", path.resolve().name, path)
        if kind == BUNDLE_KIND:
            return ModelSpec(text, "bundle", path.resolve().name, path)
        if kind == MICRO_KIND:
            return ModelSpec(text, "micro", f"{path.resolve().parent.name}-micro", path)
        raise ValueError(f"{path} holds a {kind!r} artifact, not a student checkpoint, bundle "
                         "or micro build")
    if path.suffix == ".h5" and path.exists():
        raise ValueError(f"{text}: name the architecture of a Keras file as CONFIG={text}")
    if text not in MODEL_CONFIGS and (path.suffix or len(path.parts) > 1):
        raise ValueError(f"{text} does not exist (neither a path nor a model name, see "
                         "`sea models`)")
    get_config(text)
    return ModelSpec(text, "config", text, weights=Path(weights) if weights else None)


BUNDLE_PRECISION = {"none": "float32", "float16": "float16", "int8": "int8"}  # --quantize


def describe(spec: ModelSpec) -> str:
    """What a model is, for a reader of the report: its architecture, numeric precision and
    kind, e.g. "student3, int8 TFLite bundle" (sea evaluate runs torch models in float32)."""
    if spec.kind == "config":
        from sea.weights import has_pretrained

        weights = ("weights " + spec.weights.name if spec.weights is not None else
                   "published weights" if has_pretrained(spec.name) else
                   "seeded random weights")
        return f"{spec.name}, float32 torch, {weights}"
    if spec.kind == "keras":
        return f"{spec.name}, float32 torch, weights {spec.path.name}"
    manifest = read_manifest(spec.path)
    architecture = manifest.get("config", {}).get("name", spec.name)
    if spec.kind == "checkpoint":
        return f"{architecture}, float32 torch checkpoint"
    if spec.kind == "micro":
        return f"{architecture}, int8 TFLite Micro build"
    precision = BUNDLE_PRECISION.get(manifest.get("quantization", "none"), "float32")
    return f"{architecture}, {precision} TFLite bundle"


def model_id(spec: ModelSpec) -> str:
    """Short id that changes whenever the weights do (the embedding cache key)."""
    if spec.kind == "keras":
        return f"{spec.name}-{_digest([spec.path])}"
    if spec.kind == "checkpoint":
        weights_name = read_manifest(spec.path).get("weights", "model.pt")
        return f"{spec.name}-{_digest([spec.path / weights_name, spec.path / 'config.json'])}"
    if spec.kind == "bundle":
        files = [p for p in spec.path.rglob("*") if p.is_file()]
        return f"{spec.name}-{_digest(files)}"
    if spec.kind == "micro":  # its model and the bundle that holds its frontend
        files = [p for p in spec.path.iterdir() if p.is_file()]
        return f"{spec.name}-{_digest([*files, spec.path.parent / 'manifest.json'])}"
    from sea.weights import has_pretrained, resolve_weights

    if spec.weights is not None or has_pretrained(spec.name):
        return f"{spec.name}-{_digest([resolve_weights(spec.name, spec.weights)])}"
    return f"{spec.name}-random{RANDOM_INIT_SEED}"


def source_model_id(spec: ModelSpec) -> str:
    """The id of the model `sea export` takes to make this embedder: `model_id` for a
    checkpoint, Keras file or named model; for a bundle (or its micro build), the id its export
    recorded (`sources.model_id`), so a head fitted on a bundle's own embeddings can ship with
    another export of the same model. An older bundle without that record keeps its own id."""
    if spec.kind in ("bundle", "micro"):
        bundle = spec.path if spec.kind == "bundle" else spec.path.parent
        recorded = read_manifest(bundle).get("sources", {}).get("model_id")
        if recorded:
            return str(recorded)
    return model_id(spec)


def load_embedder(spec: ModelSpec, batch_size: int = 64, device: str | None = None,
                  threads: int | None = None, precision: str = "float32") -> EmbedderLike:
    """An object with the `training.embedder.Embedder` interface for any kind of model;
    `threads`: CPU threads of torch or of the TFLite interpreter (default: torch's, 1);
    `precision`: float32 or bf16 for torch models (a bundle's precision is its own)."""
    if spec.kind == "bundle":
        from sea.bundle import BundleEmbedder  # deploy's numpy + TFLite runtime, loaded on demand

        return BundleEmbedder(spec.path, num_threads=threads or 1)
    if spec.kind == "micro":
        from deploy.micro.embedder import MicroEmbedder  # the tflite-micro interpreter

        return MicroEmbedder(spec.path)
    import torch

    from training.checkpoint import build_model
    from training.embedder import Embedder

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(RANDOM_INIT_SEED)  # deterministic random init for weightless configs
    if spec.kind == "keras":
        model = build_model(str(spec.path), config=spec.name)
    elif spec.kind == "checkpoint":
        model = build_model(str(spec.path))
    else:
        model = build_model(spec.name, weights=spec.weights)
    return Embedder(model, batch_size=batch_size, device=device, name=spec.name,
                    precision=precision)
