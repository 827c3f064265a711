"""The spool folder another recorder fills: which files are complete, and what happens after.

A file is taken when all of these hold:
- its name ends in `.wav` (any case) and does not start with a dot: a recorder that writes
  `x.wav.part` or `.x.wav` and renames it to `x.wav` when done is never read early;
- it is a regular file (not a link) directly in the folder;
- it was last modified at least `settle_seconds` ago: a recorder that writes `x.wav` in place
  updates its modification time with every block, so a file still growing is left alone.
Files are processed in name order (recorders name files by start time). Afterwards a file is
deleted or moved to `done/`; one that cannot be decoded is moved to `failed/` (never deleted).
The window times of a file count from its start, taken as its modification time minus its
duration (the recorder wrote its last block at the end of the recording).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from deploy.node.config import ConfigError

log = logging.getLogger("sea.node")

DONE, FAILED = "done", "failed"


class Spool:
    def __init__(self, folder: Path, settle_seconds: float, after: str):
        self.folder = Path(folder)
        self.settle_seconds = settle_seconds
        self.after = after
        if not self.folder.is_dir():
            raise ConfigError(f"input.spool_dir: no such directory: {self.folder}")

    def _candidates(self) -> list[os.DirEntry]:
        with os.scandir(self.folder) as entries:
            return [e for e in entries if e.name.lower().endswith(".wav")
                    and not e.name.startswith(".") and e.is_file(follow_symlinks=False)]

    def ready(self) -> list[Path]:
        """Complete files, in name order."""
        now = time.time()
        settled = []
        for entry in self._candidates():
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime >= self.settle_seconds:
                    settled.append(Path(entry.path))
            except FileNotFoundError:
                continue
        return sorted(settled, key=lambda p: p.name)

    def backlog(self) -> int:
        """Spool files waiting (complete or still being written)."""
        return len(self._candidates())

    def _move(self, path: Path, folder: str) -> None:
        target = self.folder / folder
        target.mkdir(exist_ok=True)
        os.replace(path, target / path.name)

    def finish(self, path: Path) -> None:
        if self.after == "move":
            self._move(path, DONE)
        else:
            path.unlink()

    def fail(self, path: Path, reason: str) -> None:
        log.error("%s: %s (moved to %s/)", path.name, reason, FAILED)
        self._move(path, FAILED)


def start_time(path: Path, frames: int, sample_rate: int) -> float:
    """UTC seconds of a spool file's first sample: its mtime minus its duration."""
    return path.stat().st_mtime - frames / sample_rate
