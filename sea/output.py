"""The one output guard every writing command goes through (nothing lost or replaced silently).

`claim_output(out, kind, ...)` decides whether a command may write the artifact directory `out`,
then holds the directory's write lock until `release()`:
- a directory holding another kind of artifact (its `manifest.json` says which), or files that
  are no sea artifact at all, is refused;
- an artifact of the same kind is resumed (commands whose re-run continues the same job), or
  replaced only with `overwrite=True` (its manifest is removed first, so a crash while replacing
  never leaves the old manifest describing new files);
- an output that is one of the inputs, lies inside one or contains one is refused;
- the lock is a POSIX record lock on `OUT/.lock`, which also records the kind being written, so
  an interrupted first run (no manifest yet) is recognised as the same kind on the next run.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Iterable

from sea.errors import SeaError

LOCK_FILE = ".lock"
MANIFEST_FILE = "manifest.json"
log = logging.getLogger("sea.output")

_HELD: set[str] = set()  # outputs this process holds (POSIX locks do not exclude one process)


class OutputError(SeaError, ValueError):
    """The output directory cannot be written without losing or mixing something."""


class OutputBusy(OutputError):
    """Another writer holds the output."""


def existing_kind(path: str | Path) -> str | None:
    """The artifact kind a directory holds or is being written as; None for no artifact."""
    path = Path(path)
    for name in (MANIFEST_FILE, LOCK_FILE):
        try:
            kind = json.loads((path / name).read_text()).get("kind")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(kind, str):
            return kind
    return None


def _contains(outer: Path, inner: Path) -> bool:
    return inner == outer or outer in inner.parents


def check_not_an_input(out: Path, inputs: Iterable[str | Path]) -> None:
    """Refuse an output that is, lies inside, or contains one of the inputs."""
    target = out.resolve()
    for item in inputs:
        source = Path(item).resolve()
        if _contains(source, target) or _contains(target, source):
            raise OutputError(f"output {out} overlaps the input {item}: writing there would "
                              "change or destroy what is being read; choose another output")


def clear_output(path: Path) -> None:
    """Remove an artifact's content, manifest first (the commit point of every artifact)."""
    (path / MANIFEST_FILE).unlink(missing_ok=True)
    for entry in path.iterdir():
        if entry.name == LOCK_FILE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


class OutputLock:
    """The claim on an output directory; `release()` (or leaving the `with`) unlocks it."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self._key = str(path.resolve())
        if self._key in _HELD:
            raise OutputBusy(f"{path} is already open for writing in this process")
        self._file = open(path / LOCK_FILE, "a+")
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
                 allowed: Iterable[str] = (), folder: bool = False) -> OutputLock:
    """Check that `out` may receive an artifact of `kind`, create it and lock it.

    resume: re-opening a finished artifact of the same kind continues it (the command checks its
      own settings); False: replacing it needs `overwrite`.
    allowed: entry names a directory may hold before the command's first manifest (besides the
      lock), for layouts older than the lock's kind record.
    folder: `out` receives one file per input and is no artifact itself (`sea embed
      --output-dir`): any folder not holding another kind of artifact may receive them, with
      whatever else it holds (recordings, logs); each output file is checked by the command.
    """
    out = Path(out)
    check_not_an_input(out, inputs)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file, not a directory; choose another output")
    found = existing_kind(out) if out.is_dir() else None
    if found is not None and found != kind:
        raise OutputError(f"{out} holds a {found!r} artifact, not a {kind!r}: choose another "
                          "output (nothing was written)")
    if out.is_dir() and found is None and not folder:
        foreign = sorted(p.name for p in out.iterdir()
                         if p.name != LOCK_FILE and p.name not in set(allowed))
        if foreign:
            raise OutputError(f"{out} is not empty and not a sea artifact (holds "
                              f"{foreign[:3]}); choose a new or empty directory")
    finished = (out / MANIFEST_FILE).is_file()
    if finished and not resume and not overwrite:
        raise OutputError(f"{out} already holds a {kind!r}; pass --overwrite to replace it, "
                          "or choose another output")
    out.mkdir(parents=True, exist_ok=True)
    lock = OutputLock(out, kind)
    if overwrite and (finished or any(p.name != LOCK_FILE for p in out.iterdir())):
        log.warning("%s: replacing the existing %s (--overwrite)", out, kind)
        try:
            clear_output(out)
        except BaseException:
            lock.release()
            raise
    return lock
