"""Recorded file digests of an artifact and their check before use (numpy-free, torch-free).

An artifact's manifest carries `files: {name: {"sha256", "size"}}` for every file a reader
opens. `record_files` writes that map at the end of an export or save; `verify_files` checks
each listed file once at load (size first, which is free, then sha256), after confining its
name to the artifact directory. A copy damaged in transit or edited by hand is refused with
one line naming the file, before any of its bytes reach a parser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from sea.errors import SeaError
from sea.manifest import sha256_file
from sea.paths import confined

FILES_FIELD = "files"


class IntegrityError(SeaError, ValueError):
    """A file that does not match the digest its artifact's manifest records."""


def file_record(path: str | Path) -> dict[str, object]:
    path = Path(path)
    return {"sha256": sha256_file(path), "size": path.stat().st_size}


def record_files(root: str | Path, names: Iterable[str]) -> dict[str, dict[str, object]]:
    """`{name: {"sha256", "size"}}` of files under `root`, for a manifest's `files` field."""
    return {name: file_record(confined(root, name, "file")) for name in names}


def verify_file(path: Path, record: Mapping[str, object], label: str) -> None:
    """Raise IntegrityError unless `path` exists with the recorded size and sha256."""
    if not path.is_file():
        raise IntegrityError(f"{label}: file missing ({path})")
    size = path.stat().st_size
    if "size" in record and size != record["size"]:
        raise IntegrityError(f"{label}: {path.name} is {size} bytes, its manifest records "
                             f"{record['size']}: damaged or altered copy")
    found = sha256_file(path)
    if found != record.get("sha256"):
        raise IntegrityError(f"{label}: {path.name} does not match its recorded sha256 "
                             f"({found[:12]} != {str(record.get('sha256'))[:12]}): damaged "
                             "or altered copy")


def verify_files(root: str | Path, manifest: Mapping[str, object], required: Iterable[str] = (),
                 only: Iterable[str] | None = None) -> dict[str, Path]:
    """Check the files the manifest's `files` map lists (all, or those in `only`); each name
    in `required` must be listed. Returns name -> confined path of each file checked, the
    only paths a reader should open."""
    records = manifest.get(FILES_FIELD) or {}
    if not isinstance(records, Mapping):
        raise IntegrityError(f"{root}: manifest field {FILES_FIELD!r} is not a mapping")
    unrecorded = [name for name in required if name not in records]
    if unrecorded:
        raise IntegrityError(f"{root}: its manifest records no digest for "
                             f"{', '.join(unrecorded)} (written by an older sea? re-create it)")
    wanted = None if only is None else set(only)
    paths = {}
    for name, record in records.items():
        if wanted is not None and name not in wanted:
            continue
        path = confined(root, name, f"{root}: manifest file")
        if not isinstance(record, Mapping):
            raise IntegrityError(f"{root}: manifest entry for {name!r} is not a mapping")
        verify_file(path, record, str(root))
        paths[name] = path
    return paths
