"""The node's calibration: `sea-node calibrate` measures a calibrator recording and stores the
offset (dB SPL = dB FS + offset) in the node's TOML config, table [calibration]:

    [calibration]
    offset_db = 117.03            # what `sea-node run --config` and `serve` add to dB FS
    reference_db = 94.0
    frequency_hz = 1000.0
    input = "cal.wav"
    utc = "2025-05-01T10:00:00Z"

Only that table is rewritten (the rest of the file, comments included, stays as it was); the
result is parsed again before it atomically replaces the file, keeping the file's mode.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from sea.errors import SeaError, reading
from sea.levels import Calibration
from sea.manifest import atomic_write_bytes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (the node extra installs tomli there)
    import tomli as tomllib

TABLE = "calibration"
_HEADER = re.compile(r"^\s*\[\s*calibration\s*\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")


class ConfigError(SeaError, ValueError):
    """A node config that cannot be read, or whose calibration cannot be updated."""


def read_config(path: str | Path) -> dict:
    """The parsed TOML file at `path`."""
    path = Path(path)
    with reading(path, "TOML node config"):
        try:
            return tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def read_offset(path: str | Path) -> float:
    """The calibration offset (dB) stored in the node config at `path`."""
    table = read_config(path).get(TABLE)
    offset = table.get("offset_db") if isinstance(table, dict) else None
    if isinstance(offset, bool) or not isinstance(offset, (int, float)):
        raise ConfigError(f"{path} has no [{TABLE}] offset_db: measure a calibrator with "
                          "`sea-node calibrate`, writing into this config")
    return float(offset)


def _toml_value(value: float | str) -> str:
    # a JSON string is a valid TOML basic string (same escapes); floats print with digits
    return json.dumps(value) if isinstance(value, str) else repr(float(value))


def calibration_table(result: Calibration, source: str) -> str:
    values = {"offset_db": round(result.offset_db, 4), "reference_db": result.reference_db,
              "measured_dbfs": round(result.measured_db, 4),
              "frequency_hz": round(result.frequency_hz, 1),
              "spread_db": round(result.spread_db, 4), "input": source,
              "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return f"[{TABLE}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items())


def without_table(text: str) -> str:
    """`text` minus its [calibration] table (header to the next table header)."""
    kept, inside = [], False
    for line in text.splitlines(keepends=True):
        if _HEADER.match(line):
            inside = True
        elif inside and _ANY_HEADER.match(line):
            inside = False
        if not inside:
            kept.append(line)
    return "".join(kept)


def store_calibration(path: str | Path, result: Calibration, source: str) -> None:
    """Write `result` as the [calibration] table of the config at `path` (created if absent)."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if old:
        read_config(path)  # refuse to edit a file that is not TOML
    body = without_table(old).rstrip("\n")
    text = (body + "\n\n" if body else "") + calibration_table(result, source)
    try:
        written = tomllib.loads(text).get(TABLE, {}).get("offset_db")
    except tomllib.TOMLDecodeError as exc:
        written = exc
    if written != round(result.offset_db, 4):
        raise ConfigError(f"{path}: could not replace its calibration (defined outside a "
                          f"[{TABLE}] table?); set offset_db = {result.offset_db:.4f} by hand")
    atomic_write_bytes(path, text.encode(), permissions=path.stat().st_mode & 0o7777
                       if path.exists() else None)  # a node.toml may be private: keep its mode
