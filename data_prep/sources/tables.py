"""Helpers for datasets described by a metadata CSV beside their audio."""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Iterable

from data_prep.tasks import SourceError, SourcePlan
from sea.paths import UnsafePath, confined, relative_parts

log = logging.getLogger(__name__)


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


def dataset_file(root: Path, plan: SourcePlan, what: str, *parts: str) -> Path | None:
    """`root / part / ...` for a file named by a metadata row (each of `parts` may come from
    the row), or None when it leads outside the dataset (`..`, an absolute path, a symlink
    out): such a row is logged and recorded as a skipped input, and never opened."""
    try:
        names = [name for part in parts for name in relative_parts(root, part, what)]
        return confined(root, "/".join(names), what)
    except UnsafePath as exc:
        log.warning("%s (row skipped)", exc)
        plan.problems.append(("/".join(parts), str(exc)))
        return None
