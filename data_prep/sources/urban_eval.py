"""`urban-eval:PATH`: the project's small labelled evaluation set (metadata.csv with
file, dataset, label, fold and optional source_id; audio paths relative to PATH)."""

from __future__ import annotations

from pathlib import PurePosixPath

from data_prep.sources.tables import dataset_file, find_root, fold_name, read_rows
from data_prep.tasks import ClipTask, SourcePlan

METADATA = "metadata.csv"


def plan(arg: str, options) -> SourcePlan:
    root = find_root(arg, METADATA)
    rows = read_rows(root / METADATA, ("file", "dataset", "label", "fold"))
    plan_ = SourcePlan()
    for row in rows:
        path = dataset_file(root, plan_, f"{METADATA} row", row["file"])
        if path is None:
            continue
        # audio/esc10/1-100032-A.flac -> urban-eval/esc10/1-100032-A
        parts = PurePosixPath(row["file"].replace("\\", "/")).with_suffix("").parts
        key = "/".join(parts[1:] if parts[0] == "audio" and len(parts) > 1 else parts)
        plan_.tasks.append(ClipTask(
            clip_id=f"urban-eval/{key}", source=str(path), path=str(path),
            dataset=row["dataset"], labels=(row["label"],) if row["label"] else (),
            fold=fold_name(row["fold"]), group=row.get("source_id") or None))
    return plan_
