"""Signing keys for deploy bundles: `sea keys new --out KEYDIR`.

Writes KEYDIR/private (Ed25519, PEM, mode 0600: keep it on the machine that exports) and
KEYDIR/public.pub (copy it to every node that should run bundles signed with it). Existing
keys are never overwritten. Sign with `sea export ... --sign KEYDIR/private`; nodes check with
`sea-node run --trust public.pub`, and `sea verify BUNDLE --trust public.pub` shows the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sea.errors import printable
from sea.settings import Settings, setting
from sea.settings_cli import Command


@dataclass(frozen=True, kw_only=True)
class KeysNewSettings(Settings):
    out: Path = setting(metavar="KEYDIR",
                        help="directory for `private` and `public.pub` (created 0700)")


def run_new(settings: KeysNewSettings) -> int:
    from sea.signing import new_key_pair

    private, public, key_id = new_key_pair(settings.out)
    print(f"private key: {printable(private)} (mode 0600; keep it secret, sign with "
          f"`sea export ... --sign {printable(private)}`)")
    print(f"public key:  {printable(public)} (key id {key_id}; copy it to each node and run "
          f"`sea-node run --trust {printable(public.name)} ...`)")
    return 0


COMMAND = {"new": Command(KeysNewSettings, run_new, help="make a new signing key pair")}
