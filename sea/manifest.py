"""Artifact manifests and crash-safe file writes.

Every artifact (clip store, embedding store, reducer, checkpoint, bundle) is a directory with a
`manifest.json`; writes go through `sea.safe_write` (a temporary file renamed into place), so an
interrupted run never leaves a half-written file under the final name.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sea.errors import CorruptFile, SeaError, reading
from sea.paths import confined
from sea.safe_write import atomic_output
from sea.schema import NONE, Fields, check

SCHEMA_VERSION = 1
# What every reader of a manifest relies on; a reader checks the fields it uses itself
# (sea.schema.check).
COMMON_FIELDS = Fields({"kind": (str, NONE), "schema_version": (int, NONE)})


class ArtifactMismatch(SeaError, ValueError):
    """An artifact of another kind (or a newer schema) than the reader handles."""


def atomic_write_bytes(path: str | Path, data: bytes, permissions: int | None = None) -> None:
    """`data` into `path` via an exclusive temporary file renamed into place (sea.safe_write);
    `permissions` (default: the umask's) lets a rewritten file keep its own."""
    with atomic_output(path, "wb", permissions=permissions) as f:
        f.write(data)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


def atomic_save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def write_manifest(directory: str | Path, kind: str, config: dict[str, Any], **fields: Any) -> dict:
    """Write `<directory>/manifest.json` describing an artifact of type `kind`."""
    from sea import __version__

    manifest = {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "sea_version": __version__,
        "command": " ".join(sys.argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": config,
        **fields,
    }
    atomic_write_json(Path(directory) / "manifest.json", manifest)
    return manifest


def read_manifest(directory: str | Path, kind: str | None = None) -> dict:
    """Read an artifact's manifest; with `kind`, check the artifact is of that type. A
    manifest that is a link leading out of its artifact is refused (UnsafePath)."""
    if not Path(directory).exists():
        raise FileNotFoundError(f"{directory} does not exist")
    path = confined(directory, "manifest.json", "manifest")
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a sea artifact (no manifest.json)")
    with reading(path, "JSON manifest"):
        manifest = json.loads(path.read_text())
    if not isinstance(manifest, dict):
        raise CorruptFile(f"{path}: not a readable JSON manifest (not a JSON object)")
    check(manifest, COMMON_FIELDS, str(path))
    if kind is not None and manifest.get("kind") != kind:
        raise ArtifactMismatch(f"{directory} holds a {manifest.get('kind')!r} artifact, "
                               f"expected a {kind!r}")
    if (manifest.get("schema_version") or 0) > SCHEMA_VERSION:
        raise ArtifactMismatch(f"{directory} was written by a newer sea (schema "
                               f"{manifest['schema_version']}); upgrade sea")
    return manifest
