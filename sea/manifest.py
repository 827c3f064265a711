"""Artifact manifests and crash-safe file writes.

Every artifact (clip store, embedding store, reducer, checkpoint, bundle) is a directory with a
`manifest.json`; writes go to a temporary file first and are renamed into place, so an
interrupted run never leaves a half-written file under the final name.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sea.errors import CorruptFile, reading

SCHEMA_VERSION = 1


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask sets it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new regular file under the user's umask (0644 under umask 022)."""
    return 0o666 & ~current_umask()


def directory_mode() -> int:
    """Mode of a new directory under the user's umask (0755 under umask 022)."""
    return 0o777 & ~current_umask()


def fsync_dir(path: str | Path) -> None:
    """Make a rename inside `path` durable (a power cut must not undo the commit)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, file_mode())  # mkstemp makes it 0600: artifacts are meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    """Read an artifact's manifest; with `kind`, check the artifact is of that type."""
    path = Path(directory) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a sea artifact (no manifest.json)")
    with reading(path, "JSON manifest"):
        manifest = json.loads(path.read_text())
    if not isinstance(manifest, dict):
        raise CorruptFile(f"{path}: not a readable JSON manifest (not a JSON object)")
    if kind is not None and manifest.get("kind") != kind:
        raise ValueError(f"{directory} holds a {manifest.get('kind')!r} artifact, expected {kind!r}")
    if manifest.get("schema_version", 0) > SCHEMA_VERSION:
        raise ValueError(
            f"{directory} was written by a newer sea (schema {manifest['schema_version']}); upgrade sea"
        )
    return manifest
