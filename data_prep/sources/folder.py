"""`folder:PATH`: a user's recordings, every non-hidden file under PATH (recursive;
unreadable folders, dangling links, link loops and links leading out of PATH are skipped
with their reason, as dataset sources skip rows naming a file outside the dataset).

Options: `--folder-labels` takes each file's label from its first sub-folder under PATH;
`--name-pattern` is a regular expression over the file name (without suffix) whose named
groups `sensor` and `time` give the sensor id and recording time (`--time-format`, strptime
syntax; ISO 8601 when omitted) and optionally `recording`; `--folds N|by-sensor|by-day` puts
every recording in one fold (data_prep/sources/folds.py). Files that are not audio are skipped
with their reason.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

from data_prep.sources.folds import assign_folds
from data_prep.tasks import ClipTask, SourceError, SourcePlan
from sea.files import walk_files

log = logging.getLogger(__name__)


def parse_name(stem: str, pattern: re.Pattern | None,
               time_format: str | None) -> tuple[str | None, str | None]:
    """(sensor id, ISO time) from a file name; None for what the pattern does not give."""
    match = pattern.search(stem) if pattern else None
    if not match:
        return None, None
    groups = match.groupdict()
    sensor, stamp = groups.get("sensor"), groups.get("time")
    if stamp is not None:
        try:
            parsed = (datetime.strptime(stamp, time_format) if time_format
                      else datetime.fromisoformat(stamp))
            stamp = parsed.isoformat()
        except ValueError:
            log.warning("cannot parse time %r in %r", stamp, stem)
            stamp = None
    return sensor, stamp


def plan(arg: str, options) -> SourcePlan:
    root = Path(arg).expanduser()
    if not root.is_dir():
        raise SourceError(f"folder:{arg}: not a directory")
    pattern = re.compile(options.name_pattern) if options.name_pattern else None
    name = root.resolve().name
    tasks = []
    files, problems = walk_files(root, skip_hidden=True, confine=True)
    for path in files:
        rel = path.relative_to(root)
        labels = (rel.parts[0],) if options.folder_labels and len(rel.parts) > 1 else ()
        sensor, stamp = parse_name(path.stem, pattern, options.time_format)
        tasks.append(ClipTask(
            clip_id=f"{name}/{rel.as_posix()}", source=str(path), path=str(path),
            dataset=name, labels=labels, sensor_id=sensor, time=stamp, group=sensor))
    if options.folds:
        tasks = assign_folds(tasks, options.folds, pattern)
    return SourcePlan(tasks, problems)
