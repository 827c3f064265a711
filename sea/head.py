"""Classifier head artifacts (`sea head fit` writes them, `sea export --head` ships them).

A head is a directory holding `head.npz` (the weights as plain arrays, read by
`sea.bundle.ClassifierHead` without pickle) and `manifest.json` (kind `sea-head`): the classes,
the id of the embedding model it was fitted on, how windows are pooled and over what period
on the node, the cross-validated score, and the file's digest (sea.integrity), checked before
the weights are read. Numpy only: the export and the node read it without scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sea.bundle import HEAD_FILE, ClassifierHead
from sea.errors import SeaError
from sea.integrity import record_files, verify_files
from sea.manifest import atomic_save_npz, read_manifest, write_manifest

HEAD_KIND = "sea-head"
# What a bundle's manifest copies from the head's, for the node (pooling, period) and for
# the record (classifier, model id, score).
BUNDLE_FIELDS = ("model_id", "classifier", "pooling", "mil_aggregate", "period_seconds",
                 "hop_seconds", "multilabel", "score")


class HeadError(SeaError, ValueError):
    """A head that is missing, damaged, or fitted on another model than the one it meets."""


@dataclass(frozen=True)
class HeadArtifact:
    path: Path
    manifest: dict[str, Any]
    weights: Path  # head.npz, its digest verified
    head: ClassifierHead

    @property
    def model_id(self) -> str:
        return str(self.manifest["model_id"])

    def bundle_entry(self) -> dict[str, Any]:
        """The `head` entry of a bundle manifest that ships this head."""
        return {"file": HEAD_FILE, "labels": self.head.labels, "activation": self.head.activation,
                **{k: self.manifest[k] for k in BUNDLE_FIELDS if k in self.manifest}}


def write_head(out: str | Path, arrays: dict[str, np.ndarray], config: dict[str, Any],
               **fields: Any) -> dict[str, Any]:
    """Write `head.npz` from `arrays` (ClassifierHead's layout) and the manifest (which must
    name a `model_id` among `fields`) into the directory `out`; returns the manifest."""
    if not fields.get("model_id"):
        raise ValueError("a head needs the model_id of the embedding model it was fitted on")
    out = Path(out)
    atomic_save_npz(out / HEAD_FILE, **arrays)
    ClassifierHead(out / HEAD_FILE)  # the reader's checks, before anything claims it is a head
    return write_manifest(out, HEAD_KIND, config, **fields,
                          files=record_files(out, [HEAD_FILE]))


def read_head(path: str | Path) -> HeadArtifact:
    """The head directory at `path`, its weights checked against the recorded digest."""
    path = Path(path)
    if path.is_file():
        raise HeadError(f"{path} is a file: a head is the directory `sea head fit` writes "
                        "(manifest.json + head.npz)")
    try:
        manifest = read_manifest(path, kind=HEAD_KIND)
    except (FileNotFoundError, ValueError) as exc:
        raise HeadError(f"not a classifier head: {exc}") from exc
    if not manifest.get("model_id"):
        raise HeadError(f"{path}: its manifest names no model_id")
    try:
        weights = verify_files(path, manifest, required=[HEAD_FILE])[HEAD_FILE]
    except SeaError as exc:
        raise HeadError(f"refusing head: {exc}") from exc
    return HeadArtifact(path, manifest, weights, ClassifierHead(weights))


def check_head_model(head: HeadArtifact, model_id: str) -> None:
    """Refuse a head fitted on embeddings of another model than `model_id`."""
    if head.model_id != model_id:
        raise HeadError(f"head {head.path} was fitted on embeddings of model {head.model_id}, "
                        f"not of {model_id}: fit one on this model (`sea head fit`)")
