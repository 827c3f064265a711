"""Segment files of `sea-node serve` (layout and line format: notes SEGMENTS.md, docs/node.md).

    data_dir/open/seg-<seq:08d>.jsonl.partial   being written, one flushed JSON line per record
    data_dir/closed/seg-<seq:08d>.jsonl         closed: fsynced, then linked in (never replaced)
    data_dir/delivered/seg-<seq:08d>.jsonl      acknowledged by the collector (the uploader's move)
    data_dir/rejected/seg-<seq:08d>.jsonl       refused by the collector (malformed): never resent
    data_dir/ledger.jsonl                       one line per closed segment: seq, sha256, bytes,
                                                first and last window index

A process killed mid-line leaves a partial whose last line is cut: `recover_open` truncates it
to its last complete line and closes it, so every closed segment is whole JSONL.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sea.manifest import sha256_file
from sea.safe_write import fsync_directory, open_regular

log = logging.getLogger("sea.node")

OPEN, CLOSED, DELIVERED, REJECTED = "open", "closed", "delivered", "rejected"
SEGMENT_RE = re.compile(r"^seg-(\d{8})\.jsonl(\.partial)?$")
LEDGER = "ledger.jsonl"


def segment_name(seq: int, partial: bool = False) -> str:
    return f"seg-{seq:08d}.jsonl" + (".partial" if partial else "")


def create_exclusive(path: Path) -> int:
    """A new file's descriptor; refuses an existing file or a symlink planted at `path`."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)


def window_range(path: Path) -> tuple[int, int] | None:
    """(first, last) window index in a segment, or None when it holds no window line."""
    first = last = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if '"window"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:  # a cut last line of a partial
                continue
            if record.get("type") == "window":
                first = record["index"] if first is None else first
                last = record["index"]
    return None if first is None else (first, last)


@dataclass
class ClosedSegment:
    path: Path
    seq: int
    sha256: str
    size: int
    windows: tuple[int, int] | None


class SegmentDirs:
    """The segment folders of one data_dir."""

    def __init__(self, data_dir: Path):
        self.root = Path(data_dir)
        for name in (OPEN, CLOSED, DELIVERED, REJECTED):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def listing(self, which: str) -> list[tuple[int, Path]]:
        """(seq, path) of the segment files in one folder, oldest (lowest seq) first."""
        found = []
        with os.scandir(self.root / which) as entries:
            for entry in entries:
                match = SEGMENT_RE.match(entry.name)
                if match and entry.is_file(follow_symlinks=False):
                    found.append((int(match.group(1)), Path(entry.path)))
        return sorted(found)

    def highest(self) -> tuple[int, Path] | None:
        """The newest segment anywhere (its last window index bounds what was written)."""
        every = [s for which in (OPEN, CLOSED, DELIVERED) for s in self.listing(which)]
        return max(every) if every else None

    def close(self, partial: Path, seq: int) -> ClosedSegment:
        """Move a fsynced partial into closed/ (link, then unlink: never replaces a file)."""
        final = self.root / CLOSED / segment_name(seq)
        try:
            os.link(partial, final)
        except FileExistsError:
            if not os.path.samefile(partial, final):  # killed between link and unlink: fine
                raise
        os.unlink(partial)
        fsync_directory(final.parent)
        fsync_directory(partial.parent)
        closed = ClosedSegment(final, seq, sha256_file(final), final.stat().st_size,
                               window_range(final))
        self._record(closed)
        log.info("closed segment %s (%d bytes, windows %s, sha256 %s)", final.name, closed.size,
                 "-".join(map(str, closed.windows or ())) or "none", closed.sha256)
        return closed

    def _record(self, closed: ClosedSegment) -> None:
        first, last = closed.windows or (None, None)
        line = json.dumps({"seq": closed.seq, "file": closed.path.name, "sha256": closed.sha256,
                           "bytes": closed.size, "first_index": first, "last_index": last})
        with open_regular(self.root / LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "a",
                          "the segment ledger") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def recover_open(self) -> list[ClosedSegment]:
        """Close what a killed process left in open/: each partial is cut to its last complete
        line, then closed; one with no window line is removed (its seq is reused)."""
        closed = []
        if (self.root / LEDGER).exists():
            truncate_to_last_line(self.root / LEDGER)
        for seq, partial in self.listing(OPEN):
            truncate_to_last_line(partial)
            if window_range(partial) is None:
                log.warning("removing %s: no complete window line", partial.name)
                partial.unlink()
                continue
            log.warning("closing %s left open by a stopped process", partial.name)
            closed.append(self.close(partial, seq))
        return closed


def truncate_to_last_line(path: Path) -> None:
    """Cut a file after its last newline (drops a line a killed writer left unfinished); never
    through a link planted at its name."""
    with open_regular(path, os.O_RDWR, "r+b", "a segment file") as f:
        data = f.read()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())


class OpenSegment:
    """The segment being written: header line first, then one flushed line per record."""

    def __init__(self, dirs: SegmentDirs, seq: int, header: dict):
        self.dirs, self.seq = dirs, seq
        self.path = dirs.root / OPEN / segment_name(seq, partial=True)
        self.file: IO[str] = os.fdopen(create_exclusive(self.path), "w", encoding="utf-8")
        self.windows = 0
        self.write(header)

    def write(self, record: dict) -> None:
        # allow_nan=False: a NaN that slipped through is a bug, not a bare token in the file
        self.file.write(json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n")
        self.file.flush()
        self.windows += record.get("type") == "window"

    def close(self) -> ClosedSegment | None:
        """Fsync and move into closed/; a segment without windows is discarded instead."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        if not self.windows:
            self.path.unlink()
            return None
        return self.dirs.close(self.path, self.seq)
