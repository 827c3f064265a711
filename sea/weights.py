"""Pretrained-weight registry: find, download, verify and cache published .h5 files.

Resolution order for a model name: an explicit path; `$SEA_HOME/weights` (default
`~/.cache/sea/weights`); the package directory of an installed `openl3` / `edgel3`; the copy
shipped inside this package (`sea/weights_data`: EdgeL3 SEA-64, sea's default model, so a fresh
install embeds offline); download from the project's published URL (progress bar, atomic
write, sha256 check).

Checksum policy, for every file found or downloaded by name (not for an explicit --weights
path, which the user vouches for): where a digest is published (or was recorded from the
published file) it must match; otherwise the file's sha256 and size are recorded in
`<weights dir>/sha256.json` on first download or first use (trust on first use) and every
later use must match that record. A download goes to a private temporary directory that is
removed whatever happens, so a failed, truncated or wrong download leaves nothing behind.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from sea.configs import EDGEL3_REDUCTION, OPENL3_FRONTENDS
from sea.errors import SeaError, printable
from sea.manifest import atomic_write_json, sha256_file
from sea.safe_write import open_lock_file

DIGESTS_FILE = "sha256.json"  # trust-on-first-use digests, in weights_dir()
# Package data: published weights shipped with sea, with their licence (see NOTICE.md there).
BUNDLED_DIR = Path(__file__).resolve().parent / "weights_data"
DEFAULT_MODEL = "edgel3-sea-64"  # what `sea embed` and `sea.get_audio_embedding` use by default


class WeightsUnavailable(SeaError, RuntimeError):
    """Weights could not be found locally or downloaded; the message says where to put them."""


@dataclass(frozen=True)
class WeightSource:
    filename: str  # name of the (uncompressed) .h5 file in the cache / package directory
    url: str  # published location; .gz files are decompressed after download
    package: str  # the pip package that ships or downloads the file
    sha256: str | None = None  # of the downloaded (compressed) file, where known
    h5_sha256: str | None = None  # of the .h5 file itself, where known
    bundled: bool = False  # shipped in BUNDLED_DIR (needs h5_sha256: checked on every load)


OPENL3_URL = "https://github.com/marl/openl3/raw/models/"
EDGEL3_URL = "https://github.com/ksangeeta2429/edgel3/raw/models/"


def _registry() -> dict[str, WeightSource]:
    reg = {}
    for rep in OPENL3_FRONTENDS:
        for content in ("env", "music"):
            stem = f"openl3_audio_{rep}_{content}"
            source = WeightSource(f"{stem}.h5", f"{OPENL3_URL}{stem}-v0_4_0.h5.gz", "openl3")
            reg[f"openl3-{rep}-{content}"] = reg[f"openl3-{rep}-{content}-6144"] = source
    for dim in EDGEL3_REDUCTION:
        stem = f"edgel3_sea_ust_audio_emb_{dim}"
        reg[f"edgel3-sea-{dim}"] = WeightSource(f"{stem}.h5", f"{EDGEL3_URL}{stem}.h5.gz", "edgel3")
    # The one published SEA file whose digest was recorded from the published file; it ships
    # with sea (package data) and is the default model.
    reg["edgel3-sea-64"] = WeightSource(
        "edgel3_sea_ust_audio_emb_64.h5", f"{EDGEL3_URL}edgel3_sea_ust_audio_emb_64.h5.gz", "edgel3",
        sha256="d1cf0ce5640e93f07b3eef950f0694c40f3be33d8d7241deaea7f71e2f929a7f",
        h5_sha256="e8cd0eaac5d444c231d81940e30dc904ffed5cdafa632f7a5547142dc8283912",
        bundled=True)
    return reg


WEIGHT_SOURCES: dict[str, WeightSource] = _registry()


def weights_dir() -> Path:
    return Path(os.environ.get("SEA_HOME", Path.home() / ".cache" / "sea")) / "weights"


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def has_pretrained(model_name: str) -> bool:
    return model_name in WEIGHT_SOURCES


def unpublished_teacher(teacher: str, weights_field: str) -> str | None:
    """Why `teacher` cannot be used without a weights file (None when it can): a config with
    no published weights is never quietly given random ones; they are asked for by name, as
    random:CONFIG. The message names the settings as {teacher} and {`weights_field`}."""
    from sea.configs import MODEL_CONFIGS

    if teacher not in MODEL_CONFIGS or has_pretrained(teacher):
        return None
    return (f"{{teacher}} {teacher} has no published weights: pass its file with "
            f"{{{weights_field}}} PATH, or ask for a random-weight network, only good for "
            f"testing the pipeline, with {{teacher}} random:{teacher}")


def local_candidates(model_name: str) -> list[Path]:
    """Where the weight file of a named model is looked for, in order (before downloading)."""
    source = WEIGHT_SOURCES[model_name]
    candidates = [weights_dir() / source.filename]
    package_dir = _package_dir(source.package)
    if package_dir is not None:
        candidates.append(package_dir / source.filename)
    return candidates


def find_local(model_name: str) -> Path | None:
    """The cached or package-installed weight file, without downloading."""
    return next((p for p in local_candidates(model_name) if p.is_file()), None)


def bundled_path(model_name: str) -> Path | None:
    """The copy of a named model's weights shipped inside this package, if it has one."""
    source = WEIGHT_SOURCES[model_name]
    path = BUNDLED_DIR / source.filename
    return path if source.bundled and path.is_file() else None


def _fetch(url: str, dest: Path, timeout: float) -> str:
    """Stream `url` into `dest`; returns the sha256 of the bytes received. A body shorter
    than its Content-Length is an error, not a file."""
    digest, received = hashlib.sha256(), 0
    with open(dest, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
            for block in iter(lambda: resp.read(1 << 16), b""):
                out.write(block)
                digest.update(block)
                received += len(block)
                bar.update(len(block))
    if total is not None and received != total:
        raise WeightsUnavailable(f"download of {url} stopped after {received} of {total} bytes")
    return digest.hexdigest()


def download(url: str, dest: Path, sha256: str | None = None, timeout: float = 30.0) -> Path:
    """Download `url` to `dest` atomically (gunzipping .gz), checking sha256 when given."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.") as work:
        fetched = Path(work) / "download"
        got = _fetch(url, fetched, timeout)
        if sha256 and got != sha256:
            raise WeightsUnavailable(f"checksum mismatch for {url}: got {got}, expected {sha256}")
        if url.endswith(".gz"):
            unzipped = Path(work) / "unzipped"
            try:
                with gzip.open(fetched, "rb") as src, open(unzipped, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise WeightsUnavailable(f"{url} is not a complete gzip file ({exc})") from exc
            fetched = unzipped
        os.replace(fetched, dest)
    return dest


def _digest_records() -> dict:
    path = weights_dir() / DIGESTS_FILE
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise WeightsUnavailable(f"{path} is damaged ({exc}); delete it to record the weight "
                                 "digests again") from exc


def check_weights(source: WeightSource, path: Path, origin: str) -> Path:
    """Apply the checksum policy (module docstring) to a file found or downloaded for
    `source`; `origin` says where it came from, for the record. Returns `path`."""
    found = {"sha256": sha256_file(path), "size": path.stat().st_size}
    records_path = weights_dir() / DIGESTS_FILE
    if source.h5_sha256 is not None:
        expected, why = {"sha256": source.h5_sha256}, "the published file"
    else:
        expected = _digest_records().get(source.filename)
        why = f"its first use (recorded in {records_path}: delete its entry there too)"
    if expected is None:
        records_path.parent.mkdir(parents=True, exist_ok=True)
        with open_lock_file(records_path.with_name(f".{DIGESTS_FILE}.lock")) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent first uses must not lose a record
            records = _digest_records()
            records.setdefault(source.filename, {
                **found, "origin": origin,
                "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            atomic_write_json(records_path, records)
        expected = records[source.filename]
    if expected["sha256"] != found["sha256"]:
        raise WeightsUnavailable(
            f"{path} does not match the sha256 of {why} ({found['sha256'][:12]} != "
            f"{expected['sha256'][:12]}): damaged or replaced. Delete it to download it again, "
            "or pass the path of a file you trust as the weights")
    return path


def resolve_weights(model_name: str, weights: str | Path | None = None,
                    allow_download: bool = True, timeout: float = 30.0) -> Path:
    """Path to the .h5 weights of a named model (see the module docstring for the order)."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsUnavailable(f"weight file {path} does not exist")
        return path
    if model_name not in WEIGHT_SOURCES:
        raise WeightsUnavailable(f"no published weights for {model_name!r}; pass the path of "
                                 "its weights file as the weights")
    source = WEIGHT_SOURCES[model_name]
    local = find_local(model_name) or bundled_path(model_name)
    if local is not None:
        return check_weights(source, local, str(local))
    target = weights_dir() / source.filename
    offline_help = (f"Download {source.url}, gunzip it, and put {source.filename} in {target.parent} "
                    f"(or set SEA_HOME, or pass --weights PATH).")
    if not allow_download:
        raise WeightsUnavailable(f"weights for {model_name} not found locally. {offline_help}")
    try:
        path = download(source.url, target, source.sha256, timeout=timeout)
    except WeightsUnavailable:
        raise
    except OSError as exc:  # URLError, timeouts, DNS failures are all OSErrors
        raise WeightsUnavailable(f"could not download weights for {model_name} ({exc}). "
                                 f"{offline_help}") from exc
    try:
        return check_weights(source, path, source.url)
    except WeightsUnavailable:
        path.unlink(missing_ok=True)  # a fresh download that fails the policy is not kept
        raise


def download_weights(names: list[str], force: bool = False, timeout: float = 30.0) -> int:
    """`sea download weights NAME...`: fetch and check published weights ahead of time into
    `weights_dir()`; prints one line per file. Returns 0, 1 if any failed, 2 for bad names."""
    import logging

    log = logging.getLogger("sea.weights")
    published = sorted(n for n in WEIGHT_SOURCES if not n.endswith("-6144"))  # -6144 share files
    wanted = published if names == ["all"] else names
    unknown = [n for n in wanted if n not in WEIGHT_SOURCES]
    if not wanted or unknown:
        log.error("name models with published weights (or all): %s%s", ", ".join(published),
                  f"; unknown: {', '.join(unknown)}" if unknown else "")
        return 2
    failed = 0
    for name in wanted:
        source = WEIGHT_SOURCES[name]
        target = weights_dir() / source.filename
        if force:
            target.unlink(missing_ok=True)
        local = find_local(name) or bundled_path(name)
        try:
            path = resolve_weights(name, timeout=timeout)  # checks a local file too
        except WeightsUnavailable as exc:
            log.error("%s", exc)
            failed += 1
            continue
        if local and local.parent == BUNDLED_DIR:
            check = "shipped with sea, published sha256 checked"
        elif local:
            check = "already present, checked"
        elif source.sha256 or source.h5_sha256:
            check = "downloaded, published sha256 checked"
        else:
            check = f"downloaded; no digest is published, its sha256 is recorded in {DIGESTS_FILE}"
        print(f"{name}: {printable(path)} ({check})", flush=True)
    return 1 if failed else 0
