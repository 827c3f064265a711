"""Check a deploy bundle: `sea verify BUNDLE [--trust PUBKEY_OR_DIR]`.

Prints what was checked: every file against the sha256 digest in manifest.json, the
signature.json signature of manifest.json (valid, by which key id), and with --trust whether
that key is one of the trusted public keys. Exit 0 when everything checked holds; 2 (one line
saying why) for a damaged or altered file, a signature that does not match, or, with --trust,
an unsigned bundle or one signed by another key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sea.errors import printable
from sea.settings import setting
from sea.settings_cli import Command
from sea.trust import TrustSettings


@dataclass(frozen=True, kw_only=True)
class VerifySettings(TrustSettings):
    bundle: Path = setting(positional=True, help="bundle directory (sea export)")


def run(settings: VerifySettings) -> int:
    from sea.bundle import Bundle
    from sea.integrity import verify_files
    from sea.quantization import Quantization
    from sea.signing import read_signature, verify_bundle_signature

    bundle = Bundle(settings.bundle)  # checks the files a node reads (and the manifest's fields)
    files = verify_files(settings.bundle, bundle.manifest)  # and any other file it lists
    info = (verify_bundle_signature(settings.bundle, list(settings.trust)) if settings.trust
            else read_signature(settings.bundle))
    quantization = Quantization.of_manifest(bundle.manifest)
    print(f"{printable(settings.bundle)}: bundle of {printable(bundle.cfg.name)} "
          f"({quantization.label})")
    print(f"files:     {len(files)} match the sha256 digests in manifest.json "
          f"({printable(', '.join(sorted(files)))})")
    if info is None:
        print("signature: none (unsigned bundle: a node run with --trust refuses it)")
        return 0
    print(f"signature: valid {info.algorithm} signature of manifest.json "
          f"(sha256 {info.manifest_sha256[:16]}...) by key {info.key_id}")
    print(f"trust:     key is trusted ({printable(info.trusted_key)})" if info.trusted_key else
          "trust:     not checked (no --trust given): valid only says who signed, not that "
          "you trust them")
    return 0


COMMAND = Command(VerifySettings, run)
