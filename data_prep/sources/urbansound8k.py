"""`urbansound8k:PATH`: UrbanSound8K in its original layout (metadata/UrbanSound8K.csv,
audio/fold<k>/<slice>.wav); PATH is the dataset folder or its parent (soundata's data_home)."""

from __future__ import annotations

from pathlib import Path

from data_prep.sources.tables import dataset_file, find_root, fold_name, read_rows
from data_prep.tasks import ClipTask, SourcePlan

METADATA = "metadata/UrbanSound8K.csv"


def plan(arg: str, options) -> SourcePlan:
    root = find_root(arg, METADATA, subdirs=("UrbanSound8K",))
    rows = read_rows(root / METADATA, ("slice_file_name", "fsID", "fold", "class"))
    plan_ = SourcePlan()
    for row in rows:
        name = row["slice_file_name"]
        path = dataset_file(root, plan_, f"{METADATA} row", "audio",
                            f"fold{fold_name(row['fold'])}", name)
        if path is None:
            continue
        plan_.tasks.append(ClipTask(
            clip_id=f"urbansound8k/{Path(name).stem}", source=str(path), path=str(path),
            dataset="UrbanSound8K", labels=(row["class"],), fold=fold_name(row["fold"]),
            group=f"freesound:{row['fsID']}"))
    return plan_
