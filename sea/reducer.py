"""Reducer artifacts: the fitted map phi from teacher embeddings to student targets.

Linear reducers (PCA, incremental PCA, Gaussian random projection) and the identity are stored
as `reducer.npz` holding `mean` (n,) and `components` (d, n), so numpy alone applies them:
phi(x) = (x - mean) @ components.T. UMAP has no closed form; it is pickled (`umap.pkl`) and
needs umap-learn to apply. A pickle can run any code when loaded, so `load_reducer` opens one
only with `allow_pickle=True`, for a file from a trusted source; nothing in the CLI needs it,
because distillation reads the precomputed targets (`targets.npy`, plain numpy).
The reducer's id is the sha256 of its parameter file, so a student checkpoint can name exactly
which map produced its targets; the manifest also records sha256 and size of the targets.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from sea.errors import SeaError
from sea.integrity import IntegrityError, record_files, verify_files
from sea.manifest import atomic_save_npz, atomic_write_bytes, read_manifest, sha256_file, write_manifest
from sea.safe_npz import read_npy, read_npz

KIND = "reducer"
LINEAR_KINDS = ("pca", "incremental-pca", "random-projection", "identity")
KINDS = LINEAR_KINDS + ("umap",)
PARAMS_FILE = {"umap": "umap.pkl"}
DEFAULT_PARAMS_FILE = "reducer.npz"
TARGETS_FILE = "targets.npy"
MAX_PARAMS_BYTES = 1 << 30  # a 6144 x 6144 float32 projection is 151 MB


class ReducerError(SeaError, ValueError):
    """A reducer artifact whose manifest does not describe its files."""


class PickledReducer(SeaError, ValueError):
    """A UMAP reducer (a pickle) asked for without `allow_pickle=True`."""


def params_path(directory: str | Path, kind: str) -> Path:
    return Path(directory) / PARAMS_FILE.get(kind, DEFAULT_PARAMS_FILE)


class Reducer:
    """A loaded reducer: `transform(x (N, n)) -> (N, d) float32`."""

    def __init__(self, kind: str, in_dim: int, out_dim: int, mean: np.ndarray | None = None,
                 components: np.ndarray | None = None, model: Any = None,
                 reducer_id: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown reducer kind {kind!r}; known: {', '.join(KINDS)}")
        self.kind, self.in_dim, self.out_dim = kind, int(in_dim), int(out_dim)
        self.mean, self.components, self.model = mean, components, model
        self.reducer_id = reducer_id

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"reducer expects (N, {self.in_dim}) embeddings, got {x.shape}")
        if self.kind == "identity":
            return x.copy()
        if self.kind == "umap":
            return np.asarray(self.model.transform(x), dtype=np.float32)
        return ((x - self.mean) @ self.components.T).astype(np.float32)


def save_reducer(directory: str | Path, reducer: Reducer, config: dict[str, Any],
                 **fields: Any) -> str:
    """Write the reducer's parameters and manifest; returns the reducer id."""
    directory = Path(directory)
    path = params_path(directory, reducer.kind)
    if reducer.kind == "umap":
        atomic_write_bytes(path, pickle.dumps(reducer.model))
    else:
        mean = np.zeros(reducer.in_dim, np.float32) if reducer.mean is None else reducer.mean
        components = (np.zeros((0, reducer.in_dim), np.float32) if reducer.components is None
                      else reducer.components)
        atomic_save_npz(path, mean=mean.astype(np.float32),
                        components=components.astype(np.float32))
    reducer.reducer_id = sha256_file(path)
    listed = [path.name] + ([TARGETS_FILE] if (directory / TARGETS_FILE).is_file() else [])
    write_manifest(directory, KIND, {**config, "reducer": reducer.kind},
                   reducer_id=reducer.reducer_id, in_dim=reducer.in_dim,
                   out_dim=reducer.out_dim, params_file=path.name, **fields,
                   files=record_files(directory, listed))
    return reducer.reducer_id


def load_targets(directory: str | Path, manifest: dict | None = None) -> np.ndarray:
    """The reducer's student targets (N, d), memory-mapped, after checking their digest."""
    manifest = manifest if manifest is not None else read_manifest(directory, kind=KIND)
    path = verify_files(directory, manifest, [TARGETS_FILE], only=[TARGETS_FILE])[TARGETS_FILE]
    return read_npy(path, "reducer targets .npy", shape=(None, _dim(manifest, "out_dim")),
                    dtype=np.float32, mmap=True)


def load_reducer(directory: str | Path, allow_pickle: bool = False) -> Reducer:
    """Load a reducer artifact, checking its files against the recorded id and digests.

    A UMAP reducer is a pickle, which can run arbitrary code: it is refused unless
    `allow_pickle=True` is passed for a reducer from a trusted source."""
    manifest = read_manifest(directory, kind=KIND)
    kind = manifest["config"]["reducer"]
    if kind == "umap" and not allow_pickle:
        raise PickledReducer(
            f"{directory} is a UMAP reducer, stored as a pickle that could run code when "
            "loaded; pass allow_pickle=True only for a reducer you made or trust (training "
            f"needs only its {TARGETS_FILE}, which is plain numpy)")
    path = params_path(directory, kind)
    verify_files(directory, manifest, [path.name], only=[path.name])
    found = sha256_file(path)
    if found != manifest["reducer_id"]:
        raise IntegrityError(f"{path} does not match the reducer id in its manifest "
                             f"({found[:12]} != {manifest['reducer_id'][:12]}): damaged artifact")
    in_dim, out_dim = _dim(manifest, "in_dim"), _dim(manifest, "out_dim")
    common = dict(kind=kind, in_dim=in_dim, out_dim=out_dim, reducer_id=found)
    if kind == "umap":
        try:
            import umap  # noqa: F401  (unpickling needs it)
        except ImportError as exc:
            raise ImportError("this reducer is a UMAP model: pip install umap-learn") from exc
        return Reducer(model=pickle.loads(path.read_bytes()), **common)
    params = read_npz(path, "reducer .npz", {"mean": (in_dim,), "components": (None, in_dim)},
                      required=["mean", "components"], max_bytes=MAX_PARAMS_BYTES)
    return Reducer(mean=params["mean"], components=params["components"], **common)


def _dim(manifest: dict, field: str) -> int:
    """A dimension the reducer manifest records, refused unless a positive integer."""
    value = manifest.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ReducerError(f"reducer manifest field {field!r} is {value!r}, not a positive "
                           "integer: damaged artifact")
    return value
