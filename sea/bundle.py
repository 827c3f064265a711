"""Read a deploy bundle and embed audio with it: numpy + a TFLite interpreter, nothing else.

A bundle (written by `sea export`) is a directory holding:
- `manifest.json` (kind `sea-bundle`): the model config, one entry per graph variant
  (`outside`: log-mel input, the frontend runs here in numpy; `in-graph`: raw 1-s audio input),
  sizes, parity figures and sources;
- the `.tflite` file of each variant;
- `frontend.npz`: the mel basis the model was exported with (and its frontend parameters);
- optionally `head.npz`: a small classifier applied to the embeddings (see `ClassifierHead`).

Every file is listed in the manifest's `files` map with its sha256 and size; `Bundle` checks
them all (sea.integrity) before any is parsed, so a damaged or altered copy is refused.

This module is what the sensor node and the evaluate stage use, so it must not import torch,
librosa or TensorFlow (TensorFlow only as the last interpreter fallback).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from sea.configs import ModelConfig, count_parameters
from sea.errors import SeaError, reading
from sea.framing import frame_resampled
from sea.frontend import LogMelFrontend
from sea.integrity import verify_files
from sea.manifest import read_manifest
from sea.models import Embedder, ModelKind
from sea.overlap import OverlapFrontend
from sea.quantization import Quantization
from sea.quiet import native_stderr_silenced
from sea.safe_npz import read_npz
from sea.schema import NONE, Fields, MapOf, check

if TYPE_CHECKING:
    from sea.models import LoadOptions, ModelSpec

BUNDLE_KIND = ModelKind.BUNDLE.artifact
FRONTEND_FILE = "frontend.npz"
# Per-dimension map of int8 outputs back to the embedding (training/equalize.py): `output_scale`
# and, for linear last layers, `output_offset` (embedding = out * scale + offset); absent for
# float bundles.
OUTPUT_SCALE_FILE = "output_scale.npz"
HEAD_FILE = "head.npz"
VARIANTS = ("outside", "in-graph")  # preference order: numpy frontend + small network first
# The manifest fields a reader uses (sea.schema; the config is checked by ModelConfig.from_dict).
MANIFEST_FIELDS = Fields({
    "config": dict,
    "variants": MapOf(Fields({"file": str}, required=("file",))),
    "head": (NONE, Fields({"file": str}, required=("file",))),
    "output_scale": (NONE, str),
    "quantization": (NONE, str),
    "files": (NONE, MapOf(Fields({"sha256": str, "size": int}, required=("sha256",)))),
}, required=("config", "variants"))
# (module, attribute) of each interpreter, in the order they are tried.
INTERPRETERS = (
    ("ai_edge_litert.interpreter", "Interpreter"),
    ("tflite_runtime.interpreter", "Interpreter"),
    ("tensorflow.lite", "Interpreter"),
)


class BundleError(SeaError):
    """A bundle that is missing, incomplete or cannot run here; the message says why."""


def load_interpreter() -> type:
    """The first TFLite Interpreter class available: ai-edge-litert, tflite-runtime, TensorFlow."""
    import importlib

    reasons = []
    for module_name, attr in INTERPRETERS:
        try:
            return getattr(importlib.import_module(module_name), attr)
        except ImportError as exc:  # a broken wheel (e.g. numpy ABI) also lands here
            reasons.append(f"{module_name}: {exc}")
    raise BundleError(
        "no TFLite interpreter is installed. Install one of: `pip install ai-edge-litert` "
        "(extra `node`; Linux x86-64/aarch64, macOS), `pip install tflite-runtime` (extra "
        "`node-legacy`; needs numpy<2), or TensorFlow. Tried: " + "; ".join(reasons))


def reference_resolver(interpreter_class: type):
    """The op resolver of TFLite's builtin kernels without the default (XNNPACK) delegate:
    the integer kernels tflite-micro also implements, with the same requantization rounding."""
    import importlib

    module = importlib.import_module(interpreter_class.__module__)
    resolver = getattr(module, "OpResolverType", None)
    if resolver is None:
        raise BundleError(f"{interpreter_class.__module__} cannot select TFLite's builtin "
                          "kernels (no OpResolverType); install ai-edge-litert")
    return resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES


class TFLiteModel:
    """One .tflite file with a batch-1 input; quantized (int8/uint8) inputs and outputs are
    converted with the tensors' own scale and zero point, so callers see float32 only."""

    def __init__(self, path: str | Path, num_threads: int = 1, reference_kernels: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise BundleError(f"model file missing: {self.path}")
        interpreter_class = load_interpreter()
        options = {"num_threads": num_threads}
        if reference_kernels:
            options["experimental_op_resolver_type"] = reference_resolver(interpreter_class)
        with reading(self.path, "TFLite model"), native_stderr_silenced():
            self.interpreter = interpreter_class(model_path=str(self.path), **options)
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.input_shape = tuple(int(s) for s in self.input["shape"])
        self.size_bytes = self.path.stat().st_size

    def _to_input(self, x: np.ndarray) -> np.ndarray:
        dtype = self.input["dtype"]
        if np.issubdtype(dtype, np.integer):
            scale, zero = self.input["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.round(x / scale + zero), info.min, info.max)
        return np.asarray(x, dtype=dtype).reshape(self.input_shape)

    def _from_output(self, y: np.ndarray) -> np.ndarray:
        if np.issubdtype(y.dtype, np.integer):
            scale, zero = self.output["quantization"]
            return (y.astype(np.float32) - zero) * np.float32(scale)
        return y.astype(np.float32, copy=False)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """One example (any shape with the input's size) -> flat float32 output."""
        self.interpreter.set_tensor(self.input["index"], self._to_input(x))
        self.interpreter.invoke()
        return self._from_output(self.interpreter.get_tensor(self.output["index"])).reshape(-1)


class ClassifierHead:
    """Numpy MLP on embeddings, stored as `head.npz`: `weights_0, bias_0, ...` (layer k maps
    `weights_k.shape[0]` -> `weights_k.shape[1]`, ReLU between layers), `labels` (one per
    output), `activation` ('sigmoid' for multi-label, 'softmax' for one label), and optionally
    `mean`/`scale` to standardise embeddings first."""

    def __init__(self, path: str | Path, input_dim: int | None = None):
        """`input_dim`: the embedding size the head must take (the bundle's model's)."""
        arrays = read_npz(path, "classifier head .npz", {"weights_0": (input_dim, None)})
        n_layers = sum(1 for k in arrays if k.startswith("weights_"))
        if n_layers == 0 or "labels" not in arrays:
            raise BundleError(f"{path}: a head needs weights_0.. and labels")
        self.weights = [_matrix(arrays, f"weights_{i}", path) for i in range(n_layers)]
        self.biases = [_vector(arrays, f"bias_{i}", w.shape[1], path)
                       for i, w in enumerate(self.weights)]
        if np.ndim(arrays["labels"]) != 1:
            raise BundleError(f"{path}: labels must be a 1-d array of names, not of shape "
                              f"{np.shape(arrays['labels'])}")
        self.labels = [str(label) for label in arrays["labels"]]
        self.activation = str(arrays.get("activation", "sigmoid"))
        if self.activation not in ("sigmoid", "softmax"):
            raise BundleError(f"{path}: activation {self.activation!r} not sigmoid/softmax")
        for k in range(1, n_layers):
            if self.weights[k].shape[0] != self.weights[k - 1].shape[1]:
                raise BundleError(f"{path}: layer {k} input does not match layer {k - 1} output")
        if self.weights[-1].shape[1] != len(self.labels):
            raise BundleError(f"{path}: {len(self.labels)} labels for "
                              f"{self.weights[-1].shape[1]} outputs")
        self.input_dim = self.weights[0].shape[0]
        if ("mean" in arrays) != ("scale" in arrays):
            raise BundleError(f"{path}: mean and scale standardise together: give both or none")
        self.mean, self.scale = ((_vector(arrays, "mean", self.input_dim, path),
                                  _vector(arrays, "scale", self.input_dim, path))
                                 if "mean" in arrays else (None, None))

    def __call__(self, embeddings: np.ndarray) -> np.ndarray:
        """(B, D) embeddings -> (B, n_labels) scores in [0, 1]."""
        x = np.atleast_2d(embeddings).astype(np.float32)
        if self.mean is not None:
            x = (x - self.mean) / self.scale
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = x @ w + b
            if k < len(self.weights) - 1:
                x = np.maximum(x, 0.0)
        if self.activation == "sigmoid":
            return 1.0 / (1.0 + np.exp(-x))
        x = np.exp(x - x.max(axis=1, keepdims=True))
        return x / x.sum(axis=1, keepdims=True)


def _numbers(arrays: dict[str, np.ndarray], name: str, path: str | Path) -> np.ndarray:
    """Array `name` of a head as finite float32 numbers."""
    if name not in arrays:
        raise BundleError(f"{path}: {name} is missing")
    array = arrays[name]
    if array.dtype.kind not in "fiu" or not np.all(np.isfinite(array)):
        raise BundleError(f"{path}: {name} must hold finite real numbers ({array.dtype})")
    return array.astype(np.float32)


def _matrix(arrays: dict[str, np.ndarray], name: str, path: str | Path) -> np.ndarray:
    array = _numbers(arrays, name, path)
    if array.ndim != 2 or 0 in array.shape:
        raise BundleError(f"{path}: {name} must be a non-empty 2-d matrix, not of shape "
                          f"{array.shape}")
    return array


def _vector(arrays: dict[str, np.ndarray], name: str, size: int, path: str | Path) -> np.ndarray:
    array = _numbers(arrays, name, path)
    if array.shape != (size,):
        raise BundleError(f"{path}: {name} has shape {array.shape}, expected ({size},)")
    return array


def read_frontend(path: Path, cfg: ModelConfig) -> LogMelFrontend:
    """The numpy frontend with the exact mel basis the bundle's model was exported with."""
    bins = (cfg.frontend.n_fft // 2 + 1, cfg.frontend.n_mels)
    basis = read_npz(path, "frontend .npz", {"mel_basis": bins}, keys=["mel_basis"]).get(
        "mel_basis")
    return LogMelFrontend(cfg.frontend, mel_basis=basis)


class Bundle:
    """The parsed bundle directory: manifest, config, variant files, optional head."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise BundleError(f"no bundle at {self.path}")
        try:
            self.manifest: dict[str, Any] = read_manifest(self.path, kind=BUNDLE_KIND)
        except (FileNotFoundError, ValueError, json.JSONDecodeError) as exc:
            raise BundleError(str(exc)) from exc
        check(self.manifest, MANIFEST_FIELDS, str(self.path / "manifest.json"))
        self.cfg = ModelConfig.from_dict(self.manifest["config"],
                                         source=str(self.path / "manifest.json"))
        self.variants: dict[str, dict] = self.manifest["variants"]
        if not self.variants:
            raise BundleError(f"{self.path}: manifest lists no model variants")
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown:
            raise BundleError(f"{self.path}: manifest names unknown variant {unknown[0]!r} "
                              f"(known: {', '.join(VARIANTS)})")
        head = self.manifest.get("head")
        self.files = self._verified_files(head)
        self.head = (ClassifierHead(self.files[head["file"]], self.cfg.embedding_dim)
                     if head else None)
        self.output_scale, self.output_offset = self._read_output_map()

    def _verified_files(self, head: dict | None) -> dict[str, Path]:
        """Name -> path of every file the manifest lists, each checked against its digest."""
        required = [v["file"] for v in self.variants.values()] + [FRONTEND_FILE]
        required += [head["file"]] if head else []
        required += [self.manifest["output_scale"]] if self.manifest.get("output_scale") else []
        try:
            return verify_files(self.path, self.manifest, required)
        except SeaError as exc:
            raise BundleError(f"refusing bundle: {exc}") from exc

    def _read_output_map(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        name = self.manifest.get("output_scale")
        if not name:
            return None, None
        dim = (self.cfg.embedding_dim,)
        try:
            arrays = read_npz(self.files[name], "output scale .npz",
                              {"output_scale": dim, "output_offset": dim},
                              required=["output_scale"], keys=["output_scale", "output_offset"])
        except SeaError as exc:
            raise BundleError(f"refusing bundle: {exc}") from exc
        offset = arrays.get("output_offset")
        return (arrays["output_scale"].astype(np.float32),
                None if offset is None else offset.astype(np.float32))

    def embedding(self, out: np.ndarray) -> np.ndarray:
        """The embedding from the model's output (B, D) or (D,): the output map undone."""
        if self.output_scale is not None:
            out = out * self.output_scale
        return out if self.output_offset is None else out + self.output_offset

    def choose_variant(self, variant: str | None = None) -> str:
        if variant is not None:
            if variant not in self.variants:
                raise BundleError(f"{self.path} has no {variant!r} variant "
                                  f"(has {', '.join(self.variants)})")
            return variant
        return next(v for v in VARIANTS if v in self.variants)

    def model_path(self, variant: str) -> Path:
        return self.files[self.variants[variant]["file"]]


class BundleEmbedder(Embedder):
    """The TFLite backend of sea.models.Embedder: a bundle's model in its interpreter.

    The `outside` variant (preferred when present) computes the log-mel here with the numpy
    frontend, exactly as the sensor node does; `in-graph` feeds raw windows to the model.
    `reference_kernels`: TFLite's builtin kernels without XNNPACK (as tflite-micro computes).
    """

    device: str

    def __init__(self, bundle_dir: str | Path, variant: str | None = None, num_threads: int = 1,
                 resampler: str = "soxr", name: str | None = None,
                 reference_kernels: bool = False):
        self.bundle = Bundle(bundle_dir)
        self.cfg = self.bundle.cfg
        self.variant = self.bundle.choose_variant(variant)
        self.model = TFLiteModel(self.bundle.model_path(self.variant), num_threads=num_threads,
                                 reference_kernels=reference_kernels)
        self.frontend = (read_frontend(self.bundle.files[FRONTEND_FILE], self.cfg)
                         if self.variant == "outside" else None)
        self.resampler = resampler
        self.device = "cpu"
        quantization = Quantization.of_manifest(self.bundle.manifest)
        self.name = name or f"{self.cfg.name}-tflite-{quantization.value}"
        self.dim = self.cfg.embedding_dim
        self.sample_rate = self.cfg.frontend.sample_rate
        self.window_samples = self.cfg.frontend.window_samples
        self.num_params = count_parameters(self.cfg)
        self.size_bytes = self.model.size_bytes
        self.head = self.bundle.head

    @classmethod
    def load(cls, spec: ModelSpec, options: LoadOptions) -> BundleEmbedder:
        """The bundle directory `spec` names, in an interpreter with `options.threads`."""
        return cls(spec.path, num_threads=options.threads or 1, resampler=options.resampler)

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """(B, window_samples) at the model's rate -> (B, D) float32."""
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 2 or windows.shape[1] != self.window_samples:
            raise ValueError(f"expected (B, {self.window_samples}) windows, got {windows.shape}")
        out = np.zeros((len(windows), self.dim), np.float32)
        for i, window in enumerate(windows):
            out[i] = self.model(self.frontend(window[None]) if self.frontend is not None
                                else window[None])
        return self.bundle.embedding(out)

    def stream_embedder(self, hop_length: int) -> Callable[[np.ndarray, int], np.ndarray]:
        """embed(window, index) -> (D,) for the consecutive windows of one stream, `hop_length`
        apart; the outside variant computes each shared STFT frame once (sea.overlap)."""
        if self.frontend is None:
            return lambda window, index: self.embed_windows(window[None])[0]
        overlap = OverlapFrontend(self.frontend, hop_length)

        def embed(window: np.ndarray, index: int) -> np.ndarray:
            return self.bundle.embedding(self.model(overlap(window, index)))

        return embed

    def embed(self, audio: np.ndarray, sr: int, hop_seconds: float = 0.1,
              center: bool = True) -> tuple[np.ndarray, np.ndarray]:
        windows, timestamps = frame_resampled(audio, sr, self.sample_rate, hop_seconds, center,
                                              self.cfg.frontend.window_seconds, self.resampler)
        return self.embed_windows(windows), timestamps
