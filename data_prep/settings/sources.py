"""How sources are read (`data_prep.sources`): the source options of `sea prepare`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sea.settings import POSITIVE, Constraint, Pattern, Settings, setting

FOLD_MODES = ("by-sensor", "by-day")


class FoldSpec(Constraint):
    """A fold assignment (data_prep.sources.folds): a number of folds >= 2, or a mode."""

    def problem(self, value: Any) -> str | None:
        if value in FOLD_MODES or (value.isdigit() and int(value) >= 2):
            return None
        return f"must be a number of folds (2 or more), by-sensor or by-day, not {value!r}"


@dataclass(frozen=True, kw_only=True)
class SourceOptions(Settings):
    folder_labels: bool = setting(False,
                                  help="folder:  label each file by its first sub-folder")
    name_pattern: str | None = setting(
        None, check=Pattern(), metavar="REGEX",
        help="folder:  regex over file names with named groups sensor and/or time, e.g. "
             "'(?P<sensor>[^_]+)_(?P<time>\\d{8}T\\d{6})'")
    folds: str | None = setting(
        None, check=FoldSpec(), metavar="N|by-sensor|by-day",
        help="folder:  assign folds for `sea evaluate --protocol folds`: N (recordings hashed "
             "into N folds), by-sensor or by-day; one recording (a file, or the `recording` "
             "group of {name_pattern}) never spans two")
    time_format: str | None = setting(
        None, metavar="FMT", help="folder:  strptime format of the time group (default ISO 8601)")
    synth_duration: float = setting(10.0, check=POSITIVE,
                                    help="synth:  scene length in seconds")
    synth_foreground: str | None = setting(
        None, metavar="DIR",
        help="synth:  use event files from DIR/<label>/ instead of procedural ones")
    synth_background: str | None = setting(
        None, metavar="DIR",
        help="synth:  use background files from DIR/<any>/ instead of generated ones")
