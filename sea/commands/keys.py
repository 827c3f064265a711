"""Signing keys for deploy bundles: `sea keys new --out KEYDIR`.

Writes KEYDIR/private (Ed25519, PEM, mode 0600: keep it on the machine that exports) and
KEYDIR/public.pub (copy it to every node that should run bundles signed with it). Existing
keys are never overwritten. Sign with `sea export ... --sign KEYDIR/private`; nodes check with
`sea-node run --trust public.pub`, and `sea verify BUNDLE --trust public.pub` shows the result.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    new = sub.add_parser("new", help="make a new signing key pair", description=__doc__)
    new.add_argument("--out", required=True, type=Path, metavar="KEYDIR",
                     help="directory for `private` and `public.pub` (created 0700)")


def run(args: argparse.Namespace) -> int:
    from sea.signing import new_key_pair

    private, public, key_id = new_key_pair(args.out)
    print(f"private key: {private} (mode 0600; keep it secret, sign with "
          f"`sea export ... --sign {private}`)")
    print(f"public key:  {public} (key id {key_id}; copy it to each node and run "
          f"`sea-node run --trust {public.name} ...`)")
    return 0
