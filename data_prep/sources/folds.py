"""Folds for a user's recordings (`sea prepare folder:PATH --folds N|by-sensor|by-day`), grouped
so that one recording never spans two folds and evaluation never tests on a recording it
trained on.

- `N` (2 or more): each recording goes to fold `1 + hash(recording) % N`. A recording is the
  `recording` group of `--name-pattern` when it has one (segments of one long recording share
  it), else the file. A hash, not a balancing pass, so that files added later never move a
  recording's other segments to another fold.
- `by-sensor`: one fold per sensor id (`sensor` group of `--name-pattern`).
- `by-day`: one fold per recording day (`time` group of `--name-pattern`, its date).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import replace

from data_prep.settings.sources import FOLD_MODES as MODES
from data_prep.tasks import ClipTask
from sea.settings import SettingError

log = logging.getLogger(__name__)


def recording_key(task: ClipTask, pattern: re.Pattern | None) -> str:
    stem = task.path.rsplit("/", 1)[-1].rsplit(".", 1)[0] if task.path else task.clip_id
    match = pattern.search(stem) if pattern else None
    recording = match.groupdict().get("recording") if match else None
    return recording or task.clip_id


def _hash_fold(key: str, n: int) -> str:
    digest = hashlib.sha256(key.encode()).digest()
    return str(1 + int.from_bytes(digest[:8], "big") % n)


def assign_folds(tasks: list[ClipTask], mode: str, pattern: re.Pattern | None) -> list[ClipTask]:
    """The tasks with their `fold` (and `group`: the unit that never spans two folds) set."""
    if mode == "by-sensor":
        missing = [t.clip_id for t in tasks if not t.sensor_id]
        keys = [t.sensor_id for t in tasks]
    elif mode == "by-day":
        missing = [t.clip_id for t in tasks if not t.time]
        keys = [(t.time or "")[:10] for t in tasks]
    else:
        missing = []
        keys = [recording_key(t, pattern) for t in tasks]
    if missing:
        need = "sensor" if mode == "by-sensor" else "time"
        raise SettingError("folds", f"{{folds}} {mode}: {len(missing)} files have no {need} "
                           f"(e.g. {missing[0]}); give {{name_pattern}} a (?P<{need}>...) group")
    if mode in MODES:
        folds = keys
    else:
        folds = [_hash_fold(k, int(mode)) for k in keys]
        empty = sorted(set(map(str, range(1, int(mode) + 1))) - set(folds), key=int)
        if empty:
            log.warning("%s folds: fold(s) %s got no recording (%d recordings)", mode,
                        ", ".join(empty), len(set(keys)))
    return [replace(t, fold=fold, group=key) for t, fold, key in zip(tasks, folds, keys)]
