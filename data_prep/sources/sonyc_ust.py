"""`sonyc-ust:PATH`: SONYC-UST (v2) from its own annotations.csv, offline.

Labels are the 8 coarse classes. Clips with a verified annotation (annotator_id 0, the
SONYC team's consensus) use it; other clips use a majority vote of their annotators.
Audio files are found by name anywhere under PATH (audio/, audio-eval/, ...).
Time: year, ISO week, day of week (0 = Monday) and hour, as the dataset quantizes them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, time as dtime
from pathlib import Path

from data_prep.sources.tables import dataset_file, find_root, read_rows
from data_prep.tasks import ClipTask, SourcePlan
from sea.files import walk_files

METADATA = "annotations.csv"
COARSE_COLUMN = re.compile(r"^(\d+)_([A-Za-z-]+)_presence$")
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3"}


def coarse_columns(fieldnames: list[str]) -> dict[str, str]:
    """Coarse presence column -> class name, e.g. '1_engine_presence' -> 'engine'."""
    return {c: m.group(2) for c in fieldnames if (m := COARSE_COLUMN.match(c))}


def _vote(rows: list[dict[str, str]], columns: dict[str, str]) -> tuple[str, ...]:
    verified = [r for r in rows if r.get("annotator_id", "").strip() in ("0", "0.0")]
    voters = verified or rows
    labels = []
    for column, name in columns.items():
        votes = [float(r[column]) for r in voters if r.get(column, "").strip() not in ("", "-1")]
        if votes and sum(votes) / len(votes) >= 0.5:
            labels.append(name)
    return tuple(labels)


def quantized_time(row: dict[str, str]) -> str | None:
    try:
        year, week, day, hour = (int(float(row[k])) for k in ("year", "week", "day", "hour"))
        return datetime.combine(date.fromisocalendar(year, week, day + 1),
                                dtime(hour)).isoformat()
    except (KeyError, ValueError):
        return None


def plan(arg: str, options) -> SourcePlan:
    root = find_root(arg, METADATA, subdirs=("SONYC_UST", "sonyc-ust"))
    rows = read_rows(root / METADATA, ("split", "sensor_id", "audio_filename"))
    columns = coarse_columns(list(rows[0].keys()) if rows else [])
    by_file: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_file[row["audio_filename"]].append(row)
    files, problems = walk_files(root)
    audio: dict[str, list[Path]] = defaultdict(list)
    for p in files:
        if p.suffix.lower() in AUDIO_SUFFIXES:
            audio[p.name].append(p)
    plan_ = SourcePlan(problems=problems)
    for name, file_rows in by_file.items():
        first = file_rows[0]
        found = audio.get(name, [])
        if len(found) != 1:
            plan_.problems.append((str(root / name), "listed in annotations.csv but not found"
                                   if not found else "found more than once: "
                                   + ", ".join(map(str, found))))
            continue
        path = dataset_file(root, plan_, f"{METADATA} row", found[0].relative_to(root).as_posix())
        if path is None:
            continue
        plan_.tasks.append(ClipTask(
            clip_id=f"sonyc-ust/{Path(name).stem}", source=str(path), path=str(path),
            dataset="SONYC-UST", labels=_vote(file_rows, columns), fold=first["split"],
            sensor_id=first["sensor_id"] or None, time=quantized_time(first),
            group=first["sensor_id"] or None))
    return plan_
