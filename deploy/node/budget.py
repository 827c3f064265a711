"""The disk budget of a node's data_dir: delivered segments go first, then ones the collector
refused (they can never be delivered), then undelivered ones; each undelivered one deleted
is named in a logged warning. The open segment is never deleted."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from deploy.node.segments import CLOSED, DELIVERED, REJECTED, SegmentDirs

log = logging.getLogger("sea.node")
# Deletion order; deleting what the collector never stored is always a warning.
EVICTION = ((DELIVERED, None),
            (REJECTED, "deleted REJECTED segment %s (%d bytes), which the collector refused"),
            (CLOSED, "deleted UNDELIVERED segment %s (%d bytes); its windows never reached "
                     "the collector"))


def disk_usage(root: Path) -> int:
    """Bytes of the regular files under `root` (their sizes: what the budget counts)."""
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except FileNotFoundError:  # moved or deleted meanwhile (the uploader)
                continue
    return total


def enforce_budget(dirs: SegmentDirs, max_bytes: int) -> list[Path]:
    """Delete oldest segments until data_dir fits in `max_bytes`; returns what was deleted."""
    used = disk_usage(dirs.root)
    removed: list[Path] = []
    for which, warning in EVICTION:
        for _, path in dirs.listing(which):
            if used <= max_bytes:
                return removed
            try:
                size = path.stat().st_size
                path.unlink()
            except FileNotFoundError:  # the uploader moved it meanwhile: seen next time
                continue
            if warning:
                log.warning("disk budget (%d bytes) exceeded: " + warning, max_bytes,
                            path.name, size)
            else:
                log.info("disk budget: deleted delivered segment %s (%d bytes)", path.name, size)
            used -= size
            removed.append(path)
    if used > max_bytes:
        log.warning("disk budget (%d bytes) exceeded by the open segment and node files alone "
                    "(%d bytes): raise max_disk_mb or lower rotate_seconds", max_bytes, used)
    return removed
