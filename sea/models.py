"""Which model is this: what `--model` (or `sea.load_model`) names, its stable id, and its
embedder, for every kind of model the family has.

A model is a config name (published weights or a seeded random init), `CONFIG=FILE.h5`, a
student checkpoint, a TFLite bundle or the micro build inside one. Each `ModelKind` carries
what it implies; its backend (the class that embeds with it) is named by import path and
imported on demand, as sea/cli.py's command table does, so this torch-free module imports no
stage and loads torch, TFLite or tflite-micro only when a model of that kind is loaded.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sea.configs import MODEL_CONFIGS, ModelConfig, UnknownModel, get_config
from sea.errors import InvalidArgument
from sea.manifest import read_manifest
from sea.quantization import Quantization

if TYPE_CHECKING:
    import numpy as np

RANDOM_INIT_SEED = 0  # models without published weights are evaluated as a seeded random init
TORCH_BACKEND = "training.embedder:Embedder"


class ModelKind(Enum):
    """Member value: the kind's name. `artifact`: the manifest kind of its directory (None: a
    config name or Keras file); `backend`: "module:Class" of its embedder; `torch`: whether it
    runs on torch (else on the cpu in a TFLite interpreter); `word`: how reports call it;
    `in_bundle`: a directory inside the bundle whose frontend it uses."""

    CONFIG = "config", None, TORCH_BACKEND, True, "torch", False
    KERAS = "keras", None, TORCH_BACKEND, True, "torch", False
    CHECKPOINT = "checkpoint", "student-checkpoint", TORCH_BACKEND, True, "torch checkpoint", False
    BUNDLE = "bundle", "sea-bundle", "sea.bundle:BundleEmbedder", False, "TFLite bundle", False
    MICRO = ("micro", "sea-micro", "deploy.micro.embedder:MicroEmbedder", False,
             "TFLite Micro build", True)

    artifact: str | None
    backend: str
    torch: bool
    word: str
    in_bundle: bool

    def __new__(cls, name: str, artifact: str | None, backend: str, torch: bool, word: str,
                in_bundle: bool) -> ModelKind:
        member = object.__new__(cls)
        member._value_ = name
        member.artifact, member.backend, member.torch = artifact, backend, torch
        member.word, member.in_bundle = word, in_bundle
        return member

    def __str__(self) -> str:
        return self.value

    def backend_class(self) -> type[Embedder]:
        """The embedder class of this kind, imported now (torch, TFLite or tflite-micro)."""
        module_name, _, attr = self.backend.partition(":")
        return getattr(importlib.import_module(module_name), attr)


@dataclass(frozen=True)
class ModelSpec:
    text: str  # the --model argument as given
    kind: ModelKind
    name: str  # display name (config name or directory name)
    path: Path | None = None  # weights file, checkpoint dir, bundle dir or BUNDLE/micro
    weights: Path | None = None  # --weights for a config name

    @property
    def bundle_dir(self) -> Path | None:
        """The bundle this model is or lives in (None for a torch model)."""
        if self.kind.torch or self.path is None:
            return None
        return self.path.parent if self.kind.in_bundle else self.path

    def weights_file(self) -> Path | None:
        """The .h5 of a config name or Keras file: given, else published (downloaded if
        needed), else None (a seeded random init). Not for directory kinds."""
        from sea.weights import has_pretrained, resolve_weights

        given = self.path or self.weights
        if given is not None or has_pretrained(self.name):
            return resolve_weights(self.name, given)
        return None


@dataclass(frozen=True)
class LoadOptions:
    """How to run a loaded model (each backend uses those that apply to it)."""

    batch_size: int = 64
    device: str | None = None  # torch device (default cuda when present); TFLite: the cpu
    threads: int | None = None  # torch's or the TFLite interpreter's CPU threads (default 1)
    precision: str = "float32"  # float32 or bf16 for torch models (a bundle's is its own)
    resampler: str = "soxr"  # soxr, or resampy (openl3/edgel3's exact resampling)


@runtime_checkable
class Embedder(Protocol):
    """What every backend implements: openl3-style framing of audio at any rate into windows
    at the model's rate, embedded in batches (training.embedder.Embedder for torch,
    sea.bundle.BundleEmbedder for TFLite, deploy.micro.embedder.MicroEmbedder for TFLM).
    The backends subclass it, so a type checker holds each to every member."""

    name: str
    dim: int
    num_params: int
    size_bytes: int
    sample_rate: int
    resampler: str
    cfg: ModelConfig
    device: object  # a torch.device, or "cpu" for an interpreter

    @classmethod
    def load(cls, spec: ModelSpec, options: LoadOptions) -> Embedder:
        """The embedder of `spec` (of this backend's kind), run as `options` say."""
        ...

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """(B, window_samples) at the model's rate -> (B, D) float32."""
        ...

    def embed(self, audio: np.ndarray, sr: int, hop_seconds: float = 0.1,
              center: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(T x D embeddings, T timestamps in seconds) of `audio` at `sr` Hz."""
        ...


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12]


def _directory_spec(text: str, path: Path) -> ModelSpec:
    artifact = read_manifest(path).get("kind")
    kind = next((k for k in ModelKind if k.artifact is not None and k.artifact == artifact), None)
    if kind is None:
        raise InvalidArgument(f"{path} holds a {artifact!r} artifact, not a student checkpoint, "
                         "bundle or micro build")
    resolved = path.resolve()
    name = f"{resolved.parent.name}-{kind.value}" if kind.in_bundle else resolved.name
    return ModelSpec(text, kind, name, path)


def parse_model(text: str, weights: str | None = None) -> ModelSpec:
    """Interpret one `--model` argument; raises ValueError with the reason when it is none."""
    if "=" in text:
        name, _, path_text = text.partition("=")
        get_config(name)  # KeyError lists the known names
        path = Path(path_text)
        if not path.is_file():
            raise InvalidArgument(f"{text}: weights file {path} does not exist")
        return ModelSpec(text, ModelKind.KERAS, name, path)
    path = Path(text)
    if path.is_dir():
        return _directory_spec(text, path)
    if path.suffix == ".h5" and path.exists():
        raise InvalidArgument(f"{text}: name the architecture of a Keras file as CONFIG={text}")
    if text not in MODEL_CONFIGS:
        # Written as a path ("runs/s", "./s", "s.tflite"): a path that is missing. A bare word
        # may be a mistyped name or a missing directory: the message says both.
        if path.suffix or "/" in text or "\\" in text:
            raise InvalidArgument(f"{text} does not exist (neither a path nor a model name, see "
                             "`sea models`)")
        raise UnknownModel(f"unknown model {text!r}, and no file or directory of that name "
                           f"here; known: {', '.join(MODEL_CONFIGS)}")
    return ModelSpec(text, ModelKind.CONFIG, text, weights=Path(weights) if weights else None)


def describe(spec: ModelSpec) -> str:
    """What a model is, for a reader of the report: its architecture, numeric precision and
    kind, e.g. "student3, int8 TFLite bundle" (sea evaluate runs torch models in float32)."""
    if spec.kind.artifact is None:  # a config name or Keras file: say whose weights
        from sea.weights import has_pretrained

        given = spec.path or spec.weights
        weights = ("weights " + given.name if given is not None else
                   "published weights" if has_pretrained(spec.name) else
                   "seeded random weights")
        return f"{spec.name}, float32 {spec.kind.word}, {weights}"
    architecture = read_manifest(spec.path).get("config", {}).get("name", spec.name)
    bundle = spec.bundle_dir
    precision = (Quantization.of_manifest(read_manifest(bundle)).label if bundle is not None
                 else Quantization.FLOAT32.label)
    return f"{architecture}, {precision} {spec.kind.word}"


def _artifact_files(spec: ModelSpec) -> list[Path]:
    """The files whose bytes make a directory model what it is."""
    if spec.kind is ModelKind.CHECKPOINT:
        weights_name = read_manifest(spec.path).get("weights", "model.pt")
        return [spec.path / weights_name, spec.path / "config.json"]
    if spec.kind.in_bundle:  # the micro model and the bundle manifest that ties its frontend
        return [*(p for p in spec.path.iterdir() if p.is_file()), spec.bundle_dir / "manifest.json"]
    return [p for p in spec.path.rglob("*") if p.is_file()]


def model_id(spec: ModelSpec) -> str:
    """Short id that changes whenever the weights do (the embedding cache key)."""
    if spec.kind.artifact is not None:
        return f"{spec.name}-{_digest(_artifact_files(spec))}"
    weights = spec.weights_file()
    return f"{spec.name}-{_digest([weights]) if weights else f'random{RANDOM_INIT_SEED}'}"


def source_model_id(spec: ModelSpec) -> str:
    """The id of the model `sea export` takes to make this embedder: `model_id` for a
    checkpoint, Keras file or named model; for a bundle (or its micro build), the id its export
    recorded (`sources.model_id`), so a head fitted on a bundle's own embeddings can ship with
    another export of the same model. An older bundle without that record keeps its own id."""
    if spec.bundle_dir is not None:
        recorded = read_manifest(spec.bundle_dir).get("sources", {}).get("model_id")
        if recorded:
            return str(recorded)
    return model_id(spec)


def load_embedder(spec: ModelSpec, batch_size: int = 64, device: str | None = None,
                  threads: int | None = None, precision: str = "float32",
                  resampler: str = "soxr") -> Embedder:
    """The embedder of any kind of model, from its kind's backend (see `LoadOptions`)."""
    options = LoadOptions(batch_size, device, threads, precision, resampler)
    return spec.kind.backend_class().load(spec, options)

