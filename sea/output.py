"""The one output guard every writing command goes through (nothing lost or replaced silently).

`claim_output(out, kind, layout=...)` decides whether a command may write the artifact
directory `out`, then holds the directory's write lock until `release()`. `layout` names the
top-level entries (names or glob patterns) the command's writer creates; with `manifest.json`,
`.lock` and sea's temporary files they are the only entries sea ever counts as its own:
- a directory holding another kind of artifact (its manifest, or an interrupted run's lock,
  says which) is refused;
- without a manifest, a directory holding anything else is no sea artifact and is refused: a
  lock is no proof, anyone can write one;
- an artifact of the same kind is resumed (commands whose re-run continues the same job), or
  replaced only with `overwrite=True`, which removes the manifest first (so a crash while
  replacing never leaves the old manifest describing new files), then the files the manifest
  lists and the layout's entries, and nothing else: a user's file in that folder survives;
- an output that is one of the inputs, lies inside one or contains one is refused;
- the lock is a POSIX record lock on `OUT/.lock` (opened without following a link), which also
  records the kind being written, so an interrupted first run (no manifest yet) is recognised
  as the same kind on the next run.
"""

from __future__ import annotations

import fcntl
import fnmatch
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Iterable

from sea.paths import UnsafePath, confined, relative_parts
from sea.safe_write import (OutputError, check_not_an_input, open_lock_file, read_regular_text,
                            temporary_prefix)
from sea.settings import SettingError

LOCK_FILE = ".lock"
MANIFEST_FILE = "manifest.json"
log = logging.getLogger("sea.output")

_HELD: set[str] = set()  # outputs this process holds (POSIX locks do not exclude one process)


class OutputBusy(OutputError):
    """Another writer holds the output."""


class OutputTaken(SettingError, OutputError):
    """The output holds a finished artifact that only the `overwrite` setting may replace."""


def _read_json(path: Path) -> dict | None:
    text = read_regular_text(path)
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _sea_manifest(path: Path) -> dict | None:
    """The manifest in `path` when it is sea's (a JSON object naming its kind), else None."""
    manifest = _read_json(path / MANIFEST_FILE)
    return manifest if manifest is not None and isinstance(manifest.get("kind"), str) else None


def existing_kind(path: str | Path) -> str | None:
    """The artifact kind a directory holds (its manifest) or an interrupted run claims (its
    lock; a claim only ever used to refuse another kind, never as proof of an artifact)."""
    path = Path(path)
    kind = (_sea_manifest(path) or _read_json(path / LOCK_FILE) or {}).get("kind")
    return kind if isinstance(kind, str) else None


def _is_own(name: str, layout: tuple[str, ...]) -> bool:
    """Whether a top-level entry is one the writer's layout names, or a temporary file of one
    or of the manifest (left by a killed run)."""
    return (any(fnmatch.fnmatchcase(name, pattern) for pattern in (LOCK_FILE, *layout)) or
            any(fnmatch.fnmatchcase(name, temporary_prefix(pattern) + "*")
                for pattern in (MANIFEST_FILE, *layout)))


def _remove_listed(root: Path, name: object) -> None:
    """Remove one file a manifest lists, never through a link and never outside `root`; then
    the directories it leaves empty."""
    try:
        parts = relative_parts(root, str(name), "manifest file")
        parent = confined(root, "/".join(parts[:-1])) if len(parts) > 1 else root
    except UnsafePath:
        return  # a name leading outside the artifact is nothing sea wrote there
    path = parent / parts[-1]
    if path.is_symlink() or path.is_file():
        path.unlink()
    for directory in path.parents:
        if directory == root:
            break
        try:
            directory.rmdir()
        except OSError:
            break


def clear_output(path: Path, layout: Iterable[str] = ()) -> list[str]:
    """Remove what sea wrote in an artifact directory: its manifest first (the commit point of
    every artifact), then the files the manifest lists and the `layout` entries. Returns the
    names of the entries left in place (not sea's)."""
    layout = tuple(layout)
    manifest = _sea_manifest(path)
    if manifest is not None:
        (path / MANIFEST_FILE).unlink()
        listed = manifest.get("files")
        for name in listed if isinstance(listed, dict) else ():
            _remove_listed(path, name)
    kept = []
    for entry in path.iterdir():
        if entry.name == LOCK_FILE:
            continue
        if not _is_own(entry.name, layout):
            kept.append(entry.name)
        elif entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return sorted(kept)


class OutputLock:
    """The claim on an output directory; `release()` (or leaving the `with`) unlocks it."""

    def __init__(self, path: Path, kind: str, layout: Iterable[str] = ()) -> None:
        self.path, self.kind, self.layout = path, kind, tuple(layout)
        self._key = str(path.resolve())
        if self._key in _HELD:
            raise OutputBusy(f"{path} is already open for writing in this process")
        self._file = open_lock_file(path / LOCK_FILE)
        try:
            # A record lock, not flock: forked worker processes do not inherit it, so a killed
            # writer never leaves the output locked by its orphaned children.
            fcntl.lockf(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            raise OutputBusy(f"{path} is being written by another process") from None
        _HELD.add(self._key)
        self._file.seek(0)
        self._file.truncate()
        self._file.write(json.dumps({"kind": kind, "pid": os.getpid()}) + "\n")
        self._file.flush()

    @property
    def held(self) -> bool:
        return not self._file.closed

    def clear(self) -> None:
        """Remove what sea wrote in the output (`clear_output`); other entries stay."""
        kept = clear_output(self.path, self.layout)
        if kept:
            log.warning("%s: left %d entries that sea did not write in place: %s", self.path,
                        len(kept), kept[:3])

    def release(self) -> None:
        if self.held:
            self._file.close()
            _HELD.discard(self._key)

    def __enter__(self) -> "OutputLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def claim_output(out: str | Path, kind: str, *, inputs: Iterable[str | Path] = (),
                 overwrite: bool = False, resume: bool = True,
                 layout: Iterable[str] = (), folder: bool = False) -> OutputLock:
    """Check that `out` may receive an artifact of `kind`, create it and lock it.

    resume: re-opening a finished artifact of the same kind continues it (the command checks its
      own settings); False: replacing it needs `overwrite`.
    layout: names or glob patterns of the top-level entries the writer creates besides the
      manifest (module docstring).
    folder: `out` receives one file per input and is no artifact itself (`sea embed
      --output-dir`): any folder not holding another kind of artifact may receive them, with
      whatever else it holds (recordings, logs); each output file is checked by the command.
    """
    out = Path(out)
    layout = tuple(layout)
    check_not_an_input(out, inputs)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file, not a directory; choose another output")
    found = existing_kind(out) if out.is_dir() else None
    if found is not None and found != kind:
        raise OutputError(f"{out} holds a {found!r} artifact, not a {kind!r}: choose another "
                          "output (nothing was written)")
    finished = out.is_dir() and _sea_manifest(out) is not None
    if out.is_dir() and not finished and not folder:
        foreign = sorted(p.name for p in out.iterdir() if not _is_own(p.name, layout))
        if foreign:
            raise OutputError(f"{out} is not empty and not a sea artifact (holds "
                              f"{foreign[:3]}); choose a new or empty directory")
    if finished and not resume and not overwrite:
        raise OutputTaken("overwrite", f"{out} already holds a {kind!r}; pass {{overwrite}} to "
                          "replace it, or choose another {out}")
    out.mkdir(parents=True, exist_ok=True)
    lock = OutputLock(out, kind, layout)
    if overwrite and (finished or any(p.name != LOCK_FILE for p in out.iterdir())):
        log.warning("%s: replacing the existing %s (overwrite requested)", out, kind)
        try:
            lock.clear()
        except BaseException:
            lock.release()
            raise
    return lock
