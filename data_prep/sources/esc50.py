"""`esc50:PATH` / `esc10:PATH`: ESC-50 in its original layout (meta/esc50.csv, audio/*.wav);
PATH is the dataset folder or its parent. `esc10` keeps the ESC-10 subset."""

from __future__ import annotations

from pathlib import Path

from data_prep.sources.tables import dataset_file, find_root, fold_name, read_rows
from data_prep.tasks import ClipTask, SourcePlan

METADATA = "meta/esc50.csv"


def _plan(arg: str, esc10_only: bool) -> SourcePlan:
    root = find_root(arg, METADATA, subdirs=("ESC-50-master", "ESC-50"))
    rows = read_rows(root / METADATA, ("filename", "fold", "category", "esc10", "src_file"))
    plan_ = SourcePlan()
    for row in rows:
        if esc10_only and row["esc10"].strip().lower() != "true":
            continue
        path = dataset_file(root, plan_, f"{METADATA} row", "audio", row["filename"])
        if path is None:
            continue
        plan_.tasks.append(ClipTask(
            clip_id=f"{'esc10' if esc10_only else 'esc50'}/{Path(row['filename']).stem}",
            source=str(path), path=str(path), dataset="ESC-10" if esc10_only else "ESC-50",
            labels=(row["category"],), fold=fold_name(row["fold"]),
            group=f"freesound:{row['src_file']}"))
    return plan_


def plan(arg: str, options) -> SourcePlan:
    return _plan(arg, esc10_only=False)


def plan_esc10(arg: str, options) -> SourcePlan:
    return _plan(arg, esc10_only=True)
