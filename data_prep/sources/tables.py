"""Helpers for datasets described by a metadata CSV beside their audio."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable

from data_prep.tasks import SourceError


def find_root(path: str, marker: str, subdirs: Iterable[str] = ()) -> Path:
    """The dataset root under `path` (or one of `subdirs` of it) that contains `marker`."""
    base = Path(path).expanduser()
    for root in [base, *(base / s for s in subdirs)]:
        if (root / marker).is_file():
            return root
    raise SourceError(f"no {marker} under {base}"
                      + (f" or {', '.join(str(base / s) for s in subdirs)}" if subdirs else ""))


def read_rows(csv_path: Path, required: Iterable[str]) -> list[dict[str, str]]:
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = set(required) - set(reader.fieldnames or ())
        if missing:
            raise SourceError(f"{csv_path} lacks the columns {sorted(missing)}")
        return list(reader)


def fold_name(value: str) -> str | None:
    """Folds as plain strings ('1', not '1.0'); empty -> None."""
    value = value.strip()
    if not value:
        return None
    try:
        return str(int(float(value)))
    except ValueError:
        return value
