"""state.json: where a restarted `sea-node serve` continues (next window index, next segment
seq, the spool file in progress and the window index its first window got).

The segments are the truth, state.json a floor under it: it is saved (atomically) when a
segment closes and when a spool file starts, and on start the newest segment's last window
raises `next_index` past anything written after the last save. A spool file's windows get
consecutive indices from `spool_base`, so after a kill the windows of the file in progress that
already sit in a segment are recognised by index and skipped: none lost, none written twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from deploy.node.segments import SegmentDirs, window_range
from sea.errors import SeaError
from sea.manifest import atomic_write_json

STATE_FILE = "state.json"


class StateError(SeaError):
    """state.json exists but cannot be trusted."""


@dataclass
class NodeState:
    next_index: int = 0
    next_seq: int = 0
    spool_file: str | None = None  # name of the spool file being processed
    spool_base: int = 0  # window index of that file's first window

    def save(self, data_dir: Path) -> None:
        atomic_write_json(Path(data_dir) / STATE_FILE, asdict(self))


def load_state(data_dir: Path) -> NodeState:
    path = Path(data_dir) / STATE_FILE
    if not path.exists():
        return NodeState()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        state = NodeState(**raw)
        ints = (state.next_index, state.next_seq, state.spool_base)
        if not all(isinstance(v, int) and v >= 0 for v in ints) or \
                not isinstance(state.spool_file, (str, type(None))):
            raise ValueError("negative or non-integer counters")
    except (ValueError, TypeError) as exc:
        raise StateError(f"{path}: unreadable resume state ({exc}); windows would be numbered "
                         "again from 0, so the node refuses to start. Move the file away only "
                         "if this node's segments are also cleared") from None
    return state


def reconcile(state: NodeState, dirs: SegmentDirs) -> NodeState:
    """Raise the counters past the newest segment on disk (written after the last save)."""
    newest = dirs.highest()
    if newest is not None:
        seq, path = newest
        state.next_seq = max(state.next_seq, seq + 1)
        windows = window_range(path)
        if windows is not None:
            state.next_index = max(state.next_index, windows[1] + 1)
    return state
