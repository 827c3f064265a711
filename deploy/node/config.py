"""node.toml: the settings of `sea-node serve`, read and checked once at start.

    node_id = "street-12"                 # default: the host name
    bundle = "/opt/sea/bundle"            # read-only bundle directory (sea export)
    data_dir = "/var/lib/sea-node"        # segments, state.json, status.json (SEGMENTS layout)
    trust = ["/etc/sea-node/trusted"]     # public key files or directories; unset: no check
    hop_seconds = 1.0                     # seconds between window starts
    rotate_seconds = 3600                 # one segment per this much audio (and wall) time
    max_disk_mb = 500                     # budget of data_dir
    top_k = 3                             # classes per window with a head
    embeddings = true                     # write the embedding on each window line
    threads = 1                           # TFLite interpreter threads
    status_seconds = 10                   # status.json refresh period

    [input]
    source = "spool"                      # or "mic"
    spool_dir = "/var/spool/sea-node"     # spool: complete *.wav files, name order
    settle_seconds = 5                    # a spool file is complete once unmodified this long
    after = "delete"                      # or "move" (to spool_dir/done)
    device = ""                           # mic: sounddevice input device (default device)
    block_seconds = 0.5

    period_seconds = 10                   # with a head: top classes of windows pooled this long
    [calibration]                         # written by `sea-node calibrate`; absent: dB re full scale
    offset_db = 93.2                      # added to dB re full scale to give dB SPL

    [upload]                              # optional (SEGMENTS.md)
    url = "https://collector.example:8443"
    token_file = "/etc/sea-node/token"
    verify_tls = true                     # or the path of a CA bundle

The keys `sea-node run` has as options too (TOML_KEYS) are read into the same settings class,
deploy.node.settings.NodeSettings, so both check them alike. Unknown keys are refused (a typo
must not silently fall back to a default); errors name the key.
The [calibration] table's other keys (the calibrator, its date) are a record and are not read.
"""

from __future__ import annotations

import math
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy.node.settings import NodeSettings
from sea.errors import SeaError
from sea.settings import SettingError, render

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (the oldest supported): the same parser, from PyPI
    import tomli as tomllib

# NodeSettings field -> its node.toml key ("table.key" inside a table)
TOML_KEYS = {"bundle": "bundle", "trust": "trust", "hop": "hop_seconds", "threads": "threads",
             "top_k": "top_k", "embeddings": "embeddings", "block_seconds": "input.block_seconds",
             "device": "input.device", "calibration_db": "calibration.offset_db"}
# node.toml's hop when it names none (docs/node.md); `sea-node run`'s --hop defaults to 0.5 s.
SERVE_HOP = 1.0


class ConfigError(SeaError):
    """node.toml is missing, unreadable, or holds a bad value (the message names the key)."""


def config_error(exc: SettingError) -> ConfigError:
    """A NodeSettings error as node.toml names its keys."""
    return ConfigError(render(exc.template, lambda name: TOML_KEYS.get(name, name)))


@dataclass(frozen=True)
class InputConfig:
    source: str = "spool"
    spool_dir: Path | None = None
    settle_seconds: float = 5.0
    after: str = "delete"


@dataclass(frozen=True)
class UploadConfig:
    url: str
    token_file: Path
    verify_tls: bool | Path = True  # a Path: the CA bundle to verify the collector against


@dataclass(frozen=True)
class NodeConfig:
    node: NodeSettings  # what `sea-node run` would take as options
    data_dir: Path
    input: InputConfig
    node_id: str = field(default_factory=socket.gethostname)
    rotate_seconds: float = 3600.0
    max_disk_mb: float = 500.0
    status_seconds: float = 10.0
    # None: the head's own suggestion, if it has one (`sea-node run` writes periods only
    # when given one, so its --period is another setting)
    period_seconds: float | None = None
    upload: UploadConfig | None = None

    @property
    def max_disk_bytes(self) -> int:
        return int(self.max_disk_mb * 1024 * 1024)


def _take(table: dict, key: str, kind: type | tuple, where: str, default: Any = None) -> Any:
    """Pop `key` from `table`, checked against `kind` (ints pass where floats are expected)."""
    if key not in table:
        return default
    value = table.pop(key)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kinds) or (kind is int and isinstance(value, bool)):
        names = " or ".join(k.__name__ for k in kinds)
        raise ConfigError(f"{where}{key}: expected {names}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}{key}: expected a finite number, got {value!r}")
    return value


def _positive(value: float | int, key: str) -> float | int:
    if value <= 0:
        raise ConfigError(f"{key}: must be > 0, got {value}")
    return value


def _refuse_unknown(table: dict, where: str) -> None:
    if table:
        raise ConfigError(f"unknown key(s) in {where or 'node.toml'}: "
                          + ", ".join(f"{where}{k}" for k in sorted(table)))


def _path(text: str, base: Path) -> Path:
    """Relative paths in node.toml are relative to the file (the service's cwd is not)."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def _input(table: dict, base: Path) -> InputConfig:
    where = "input."
    source = _take(table, "source", str, where, "spool")
    if source not in ("spool", "mic"):
        raise ConfigError(f"input.source: expected 'spool' or 'mic', got {source!r}")
    spool = _take(table, "spool_dir", str, where)
    if source == "spool" and not spool:
        raise ConfigError("input.spool_dir: required when input.source = 'spool'")
    after = _take(table, "after", str, where, "delete")
    if after not in ("delete", "move"):
        raise ConfigError(f"input.after: expected 'delete' or 'move', got {after!r}")
    cfg = InputConfig(source=source, spool_dir=_path(spool, base) if spool else None,
                      settle_seconds=_take(table, "settle_seconds", float, where, 5.0),
                      after=after)
    if cfg.settle_seconds < 0:
        raise ConfigError(f"input.settle_seconds: must be >= 0, got {cfg.settle_seconds}")
    _refuse_unknown(table, where)
    return cfg


def _upload(table: dict, base: Path) -> UploadConfig:
    where = "upload."
    url = _take(table, "url", str, where)
    token = _take(table, "token_file", str, where)
    if not url or not token:
        raise ConfigError("upload: needs url and token_file")
    verify = _take(table, "verify_tls", (bool, str), where, True)
    cfg = UploadConfig(url, _path(token, base),
                       _path(verify, base) if isinstance(verify, str) else verify)
    _refuse_unknown(table, where)
    return cfg


def _trust(value: Any, base: Path) -> tuple[Path, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise ConfigError(f"trust: expected a non-empty list of key files or directories, "
                          f"got {value!r}")
    return tuple(_path(v, base) for v in value)


def _node_settings(doc: dict, tables: dict[str, dict], base: Path, **given: Any) -> NodeSettings:
    """NodeSettings from `given` and the TOML_KEYS of `doc` and its tables (popped)."""
    values = dict(given)
    for name, key in TOML_KEYS.items():
        table, _, key = key.rpartition(".")
        source = tables[table] if table else doc
        if key in source:
            values[name] = source.pop(key)
    if "trust" in values:
        values["trust"] = _trust(values["trust"], base)
    values["device"] = values.get("device") or None  # "": the default device
    values.setdefault("hop", SERVE_HOP)
    try:
        return NodeSettings(**values)
    except SettingError as exc:
        raise config_error(exc) from None


def parse_config(doc: dict, base: Path) -> NodeConfig:
    """A NodeConfig from a parsed node.toml (`base`: the directory relative paths start from)."""
    doc = {k: (dict(v) if isinstance(v, dict) else v) for k, v in doc.items()}
    bundle, data_dir = _take(doc, "bundle", str, ""), _take(doc, "data_dir", str, "")
    if not bundle or not data_dir:
        raise ConfigError("node.toml needs `bundle` and `data_dir`")
    tables = {name: _take(doc, name, dict, "", {}) for name in ("input", "calibration", "upload")}
    period = _take(doc, "period_seconds", float, "")
    cfg = NodeConfig(
        node=_node_settings(doc, tables, base, bundle=_path(bundle, base)),
        data_dir=_path(data_dir, base),
        input=_input(tables["input"], base),
        node_id=_take(doc, "node_id", str, "") or socket.gethostname(),
        rotate_seconds=_positive(_take(doc, "rotate_seconds", float, "", 3600.0),
                                 "rotate_seconds"),
        max_disk_mb=_positive(_take(doc, "max_disk_mb", float, "", 500.0), "max_disk_mb"),
        status_seconds=_positive(_take(doc, "status_seconds", float, "", 10.0),
                                 "status_seconds"),
        period_seconds=None if period is None else _positive(period, "period_seconds"),
        upload=_upload(tables["upload"], base) if tables["upload"] else None)
    if not all(c.isalnum() or c in "-_." for c in cfg.node_id):
        raise ConfigError(f"node_id: letters, digits, '-', '_' and '.' only, got {cfg.node_id!r}")
    _refuse_unknown(doc, "")
    return cfg


def load_config(path: str | Path) -> NodeConfig:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"no node config at {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(doc, path.resolve().parent)
