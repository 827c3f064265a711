"""Ed25519 signatures of deploy bundles: a node runs only what its operator signed.

A bundle's `manifest.json` records the sha256 of every file a reader opens (sea.integrity), so
signing the manifest's bytes signs the whole bundle. The signature lives beside it in
`signature.json` (algorithm, key id = sha256 of the raw 32-byte public key, the public key, the
manifest's sha256 and the signature), which no reader opens as part of the bundle. What is
signed is `SIGNED_CONTEXT + manifest.json bytes`, exactly as written: no re-serialisation, so
there is no canonical form to disagree on, and the context prefix keeps a bundle signature from
passing for a signature of anything else made with the same key.

Keys are PEM files: the private key (PKCS#8, unencrypted, mode 0600) and the public key
(SubjectPublicKeyInfo) beside it, made by `new_key_pair`. The cryptography is the
`cryptography` package's Ed25519; nothing here is home-made.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sea.errors import SeaError
from sea.manifest import atomic_write_json
from sea.safe_write import file_mode

SIGNATURE_FILE = "signature.json"
SIGNED_FILE = "manifest.json"
ALGORITHM = "ed25519"
SIGNED_CONTEXT = b"sea-bundle-signature-v1\0"
PRIVATE_KEY_FILE = "private"
PUBLIC_KEY_FILE = "public.pub"
PUBLIC_KEY_SUFFIX = ".pub"  # the files a trusted-keys directory contributes
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class SignatureError(SeaError):
    """A bundle that is unsigned, signed by a key not trusted, or whose signature does not
    match; or a key file that cannot be used."""


@dataclass(frozen=True)
class SignatureInfo:
    """A valid signature of a bundle's manifest. `trusted_key` is the trusted public key file
    it was checked against; None when it was checked only against the key it names."""

    key_id: str
    algorithm: str
    manifest_sha256: str
    trusted_key: Path | None = None


def key_id(public_key: Ed25519PublicKey) -> str:
    """sha256 hex of the raw 32-byte public key: what `signature.json` and messages name."""
    return hashlib.sha256(public_key.public_bytes(*_RAW)).hexdigest()


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` from the start (never a moment with wider permissions),
    refusing an existing file or a link planted there."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise SignatureError(f"{path} already exists: refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def new_key_pair(directory: Path) -> tuple[Path, Path, str]:
    """Write a new private key (mode 0600) and its public key into `directory` (created 0700
    when missing); returns (private path, public path, key id). Existing keys are refused."""
    directory = Path(directory)
    private_path, public_path = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    for path in (private_path, public_path):
        if os.path.lexists(path):
            raise SignatureError(f"{path} already exists: refusing to overwrite a key")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    _write_new(private_path, key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()), 0o600)
    public = key.public_key()
    _write_new(public_path, public.public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo),
               file_mode())
    return private_path, public_path, key_id(public)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file `path`."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (ValueError, TypeError) as exc:  # not PEM, encrypted, damaged
        raise SignatureError(f"{path}: not a readable unencrypted PEM private key "
                             f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                             ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file `path`."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"{path}: not a readable PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureError(f"{path}: a {type(key).__name__}, not an Ed25519 public key")
    return key


def load_trusted_keys(paths: list[Path]) -> dict[str, Path]:
    """Key id -> file of each trusted public key; a directory contributes its *.pub files."""
    if not paths:
        raise SignatureError("trusted_keys is empty: name at least one public key file or "
                             "directory")
    trusted: dict[str, Path] = {}
    for path in map(Path, paths):
        files = sorted(path.glob(f"*{PUBLIC_KEY_SUFFIX}")) if path.is_dir() else [path]
        if not files:
            raise SignatureError(f"{path}: directory holds no *{PUBLIC_KEY_SUFFIX} public keys")
        for file in files:
            trusted.setdefault(key_id(load_public_key(file)), file)
    return trusted


def _message(manifest_bytes: bytes) -> bytes:
    return SIGNED_CONTEXT + manifest_bytes


def sign_bundle(bundle_dir: Path, private_key: Ed25519PrivateKey) -> SignatureInfo:
    """Sign `bundle_dir/manifest.json` as it is on disk; writes `signature.json`."""
    bundle_dir = Path(bundle_dir)
    manifest_bytes = (bundle_dir / SIGNED_FILE).read_bytes()
    public = private_key.public_key()
    info = SignatureInfo(key_id(public), ALGORITHM, hashlib.sha256(manifest_bytes).hexdigest())
    atomic_write_json(bundle_dir / SIGNATURE_FILE, {
        "algorithm": ALGORITHM, "key_id": info.key_id,
        "public_key": base64.b64encode(public.public_bytes(*_RAW)).decode(),
        "signed_file": SIGNED_FILE, "manifest_sha256": info.manifest_sha256,
        "signature": base64.b64encode(private_key.sign(_message(manifest_bytes))).decode()})
    return info


def _field(record: dict, name: str, path: Path) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        raise SignatureError(f"{path}: field {name!r} is missing or not a string")
    return value


def _decoded(record: dict, name: str, path: Path) -> bytes:
    try:
        return base64.b64decode(_field(record, name, path), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{path}: field {name!r} is not base64") from None


def read_signature(bundle_dir: Path) -> SignatureInfo | None:
    """The bundle's signature checked against the public key it names (integrity of the
    manifest, not authenticity: anyone can sign with a key of their own); None if unsigned."""
    bundle_dir = Path(bundle_dir)
    path = bundle_dir / SIGNATURE_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_bytes())
    except ValueError as exc:  # also UnicodeDecodeError
        raise SignatureError(f"{path}: not a readable JSON signature ({exc})") from None
    if not isinstance(record, dict):
        raise SignatureError(f"{path}: not a JSON object")
    algorithm = _field(record, "algorithm", path)
    if algorithm != ALGORITHM:
        raise SignatureError(f"{path}: algorithm {algorithm!r} is not {ALGORITHM!r}")
    try:
        public = Ed25519PublicKey.from_public_bytes(_decoded(record, "public_key", path))
    except ValueError:
        raise SignatureError(f"{path}: field 'public_key' is not an Ed25519 public key") from None
    claimed = _field(record, "key_id", path)
    if claimed != key_id(public):
        raise SignatureError(f"{path}: key_id {claimed[:16]}... is not the sha256 of its "
                             "public_key")
    manifest_bytes = (bundle_dir / SIGNED_FILE).read_bytes()
    try:
        public.verify(_decoded(record, "signature", path), _message(manifest_bytes))
    except InvalidSignature:
        raise SignatureError(f"{path}: the signature does not match {bundle_dir / SIGNED_FILE} "
                             "(altered after signing)") from None
    return SignatureInfo(claimed, algorithm, hashlib.sha256(manifest_bytes).hexdigest())


def verify_bundle_signature(bundle_dir: Path, trusted_keys: list[Path]) -> SignatureInfo:
    """The bundle's signature, made by one of `trusted_keys` (public key files, or directories
    of *.pub files); SignatureError when unsigned, signed by another key or not matching.
    The files' digests in the signed manifest are checked when the bundle is loaded
    (sea.bundle.Bundle), which completes the chain from the key to every byte read."""
    trusted = load_trusted_keys(trusted_keys)
    info = read_signature(bundle_dir)
    if info is None:
        raise SignatureError(f"{bundle_dir}: unsigned bundle (no {SIGNATURE_FILE}); only "
                             "bundles signed by a trusted key are accepted")
    if info.key_id not in trusted:
        names = ", ".join(str(p) for p in dict.fromkeys(trusted.values()))
        raise SignatureError(f"{bundle_dir}: signed by key {info.key_id[:16]}..., which is not "
                             f"a trusted key ({names})")
    # read_signature checked the signature with the public key signature.json carries; that
    # key hashes to the trusted key's id, so it is the trusted key
    return SignatureInfo(info.key_id, info.algorithm, info.manifest_sha256,
                         trusted[info.key_id])
