"""The `trust` setting: which public keys a bundle must be signed by. Declared once for
`sea verify`, `sea-node run` and node.toml (`sea.signing` checks the signature)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sea.settings import Settings, setting


@dataclass(frozen=True, kw_only=True)
class TrustSettings(Settings):
    trust: tuple[Path, ...] = setting(
        (), repeat=True, metavar="PUBKEY_OR_DIR",
        help="trusted public key file, or directory of *.pub files (repeatable): the bundle "
             "must be signed by one of them (unsigned or otherwise signed bundles are refused)")
