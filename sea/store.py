"""The clip store: resampled mono audio in memory-mappable shards plus an index (numpy only).

Layout of a store directory:
- `manifest.json`: kind `clip_store`, config (sample rate, loudness frame), counts, skipped
  inputs with reasons, `content_sha256`, the runs that wrote it.
- `shards/audio-NNNNN.f32`: raw little-endian float32 samples, clips back to back.
- `loudness.f32`: per-clip A-weighted frame levels (dB), back to back.
- `index.jsonl`: one JSON line per clip in store order (metadata, shard, offsets, sha256).
- `skipped.jsonl`: inputs that could not be stored, with the reason.

Crash safety (SIGKILL at any point loses at most the clip being written, never duplicates one):
audio and levels are appended first and the index line last, in one `write` on an O_APPEND
descriptor. A clip exists only once its index line is complete; on reopening, `StoreWriter`
drops a torn last line and truncates shard bytes that no index line accounts for.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from sea.framing import hop_samples, num_windows
from sea.errors import SeaError
from sea.loudness import SILENCE_DB, LoudnessMeter, db_to_power, power_to_db
from sea.manifest import read_manifest, write_manifest
from sea.output import LOCK_FILE, OutputBusy, OutputLock, claim_output
from sea.paths import confined

KIND = "clip_store"
FORMAT = "sea-clip-store/v1"
DTYPE = np.dtype("<f4")  # float32 audio (the default) and loudness levels
# Stored audio sample types (--audio-dtype): int16 halves disk and I/O for 16-bit sources;
# its samples read back as value / 32768 in float32 (exact), like soundfile's int16 decoding.
AUDIO_DTYPES = {"float32": DTYPE, "int16": np.dtype("<i2")}
INT16_SCALE = 32768.0
_SHARD_SUFFIX = {"<f4": ".f32", "<i2": ".i16"}
DEFAULT_SAMPLE_RATE = 48000
DEFAULT_LOUDNESS_FRAME_SECONDS = 0.1
DEFAULT_SHARD_BYTES = 1 << 30

INDEX_FILE = "index.jsonl"
SKIPPED_FILE = "skipped.jsonl"
LOUDNESS_FILE = "loudness.f32"
SHARD_DIR = "shards"
SPOOL_DIR = ".spool"  # scratch space of a writing job (data_prep's decoder spool files)
PARTS_DIR = "parts"  # store parts written by parallel workers, joined by this store's index


class StoreError(SeaError, ValueError):
    """Not a clip store, or a store that does not fit the request."""


@dataclass(frozen=True)
class Event:
    """One annotated sound event inside a clip (seconds from the clip start)."""

    label: str
    onset: float
    offset: float
    snr_db: float | None = None


@dataclass(frozen=True)
class ClipRecord:
    clip_id: str
    source: str
    dataset: str
    labels: tuple[str, ...]
    fold: str | None
    num_samples: int
    sensor_id: str | None = None
    time: str | None = None
    # Beyond the core contract: the recording a clip was cut from (for leakage-free grouped
    # splits) and event annotations (synthesized scenes).
    group: str | None = None
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class _Location:
    shard: int
    offset: int
    loudness_offset: int
    loudness_frames: int
    sha256: str
    # A clip written by a parallel worker stays in its store part: `part` is that part's
    # directory relative to the store root, and shard/offsets are the part's own.
    part: str | None = None


@dataclass(frozen=True)
class WindowIndex:
    """Every fixed window of a store, clips in store order; row number = global window id.

    `start_sample` is relative to the clip's first sample and is negative for centred windows
    that begin in the zero padding (sea.framing rules); samples outside the clip read as 0.
    """

    clip_pos: np.ndarray
    window_in_clip: np.ndarray
    start_sample: np.ndarray
    sample_rate: int
    window_seconds: float
    hop_seconds: float
    center: bool

    def __len__(self) -> int:
        return len(self.clip_pos)

    @property
    def window_samples(self) -> int:
        return int(self.window_seconds * self.sample_rate)

    @property
    def timestamps(self) -> np.ndarray:
        """Seconds from the clip start, as `sea.framing.frame_audio` reports them."""
        return self.window_in_clip * self.hop_seconds


def _record_to_json(record: ClipRecord, loc: _Location) -> dict:
    data = asdict(record)
    data["labels"] = list(record.labels)
    data["events"] = [asdict(e) for e in record.events]
    data.update(asdict(loc))
    if loc.part is None:
        del data["part"]
    return data


_REQUIRED = object()
_KIND_NAMES = {str: "text", list: "a list"}


def _field(data: dict, key: str, kind: type, where: str, default: object = _REQUIRED,
           minimum: int = 0) -> Any:
    """`data[key]` when it is a `kind` (ints: >= `minimum`; None where a default is given),
    else StoreError naming the index line: an index from elsewhere is untrusted text."""
    if key not in data:
        if default is _REQUIRED:
            raise StoreError(f"{where}: no {key!r} field")
        return default
    value = data[key]
    if value is None and default is not _REQUIRED:
        return None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise StoreError(f"{where}: {key!r} is {value!r}, not an integer >= {minimum}")
    elif not isinstance(value, kind):
        raise StoreError(f"{where}: {key!r} is {value!r}, not {_KIND_NAMES[kind]}")
    return value


def _text_list(data: dict, key: str, where: str) -> tuple[str, ...]:
    values = _field(data, key, list, where, default=[]) or []
    if not all(isinstance(v, str) for v in values):
        raise StoreError(f"{where}: {key!r} is {values!r}, not a list of text")
    return tuple(values)


def _events(data: dict, where: str) -> tuple[Event, ...]:
    try:
        return tuple(Event(**e) for e in _field(data, "events", list, where, default=[]) or [])
    except TypeError as exc:
        raise StoreError(f"{where}: 'events' holds an entry that is not an event ({exc})") from None


def _record_from_json(data: object, where: str) -> tuple[ClipRecord, _Location]:
    """The clip and location an index line describes, every field checked for its type and
    sign (`where` names the line in errors); bounds against the shards are checked by readers."""
    if not isinstance(data, dict):
        raise StoreError(f"{where}: not a JSON object")
    record = ClipRecord(
        clip_id=_field(data, "clip_id", str, where),
        source=_field(data, "source", str, where),
        dataset=_field(data, "dataset", str, where),
        labels=_text_list(data, "labels", where),
        fold=_field(data, "fold", str, where, default=None),
        num_samples=_field(data, "num_samples", int, where, minimum=1),
        sensor_id=_field(data, "sensor_id", str, where, default=None),
        time=_field(data, "time", str, where, default=None),
        group=_field(data, "group", str, where, default=None),
        events=_events(data, where),
    )
    sha256 = _field(data, "sha256", str, where)
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise StoreError(f"{where}: 'sha256' is {sha256!r}, not a sha256 hex digest")
    loc = _Location(
        shard=_field(data, "shard", int, where),
        offset=_field(data, "offset", int, where),
        loudness_offset=_field(data, "loudness_offset", int, where),
        loudness_frames=_field(data, "loudness_frames", int, where),
        sha256=sha256,
        part=_safe_part(_field(data, "part", str, where, default=None)),
    )
    return record, loc


def _parse_index(path: Path) -> tuple[list[tuple[ClipRecord, _Location]], list[int]]:
    """Every complete line of a store index, parsed and checked, and each line's byte size."""
    rows, sizes = _read_jsonl(path)
    parsed = [_record_from_json(row, f"{path} line {n}") for n, row in enumerate(rows, 1)]
    seen: set[str] = set()
    for record, _ in parsed:
        if record.clip_id in seen:
            raise StoreError(f"{path} lists {record.clip_id!r} twice; the store is damaged")
        seen.add(record.clip_id)
    return parsed, sizes


def _safe_part(part: str | None) -> str | None:
    """A part directory named by an index line, refused unless it stays under parts/."""
    if part is None:
        return None
    pure = Path(part)
    if pure.is_absolute() or ".." in pure.parts or pure.parts[:1] != (PARTS_DIR,):
        raise StoreError(f"index line names a store part outside {PARTS_DIR}/: {part!r}")
    return part


def _read_jsonl(path: Path) -> tuple[list[dict], list[int]]:
    """Complete, parseable lines of a JSON-lines file and the byte length of each."""
    if not path.is_file():
        return [], []
    rows, sizes = [], []
    for line in path.read_bytes().splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # torn last line from an interrupted append
        try:
            rows.append(json.loads(line))
        except ValueError:
            break
        sizes.append(len(line))
    return rows, sizes


def _shard_name(shard: int, dtype: np.dtype = DTYPE) -> str:
    return f"{SHARD_DIR}/audio-{shard:05d}{_SHARD_SUFFIX[dtype.str]}"


def _shard_path(root: Path, shard: int, dtype: np.dtype = DTYPE) -> Path:
    return root / _shard_name(shard, dtype)


def audio_dtype_of(config: dict) -> np.dtype:
    """The stored sample type a clip store's config names (float32 for older stores)."""
    dtype = np.dtype(config.get("dtype", DTYPE.str))
    if dtype.str not in _SHARD_SUFFIX:
        raise StoreError(f"unsupported audio dtype {dtype.str!r} in the store config")
    return dtype


def decode_samples(stored: np.ndarray) -> np.ndarray:
    """Stored samples as float32 in [-1, 1) (a read-only view for float32 stores)."""
    if stored.dtype == DTYPE:
        return stored
    return stored.astype(np.float32) * np.float32(1.0 / INT16_SCALE)


def encode_samples(block: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float samples as the stored type (int16: rounded, clipped to full scale)."""
    block = np.asarray(block, dtype=np.float64 if dtype != DTYPE else DTYPE).ravel()
    if dtype == DTYPE:
        return np.ascontiguousarray(block)
    return np.clip(np.rint(block * INT16_SCALE), -INT16_SCALE, INT16_SCALE - 1).astype(dtype)


def digest_content(sample_rate: int, clip_digests: Iterable[tuple[str, str]],
                   dtype: np.dtype = DTYPE) -> str:
    """Store digest over (clip id, stored audio sha256) pairs in clip-id order (and the sample
    type, for stores not in float32)."""
    header = f"{FORMAT}\n{sample_rate}\n" + ("" if dtype == DTYPE else f"{dtype.str}\n")
    h = hashlib.sha256(header.encode())
    for clip_id, audio_sha in sorted(clip_digests):
        h.update(clip_id.encode() + b"\n" + bytes.fromhex(audio_sha))
    return h.hexdigest()


def summarize(records: Sequence[ClipRecord], sample_rate: int) -> dict:
    """Counts for `sea store info` and the manifest."""
    labels = Counter(label for r in records for label in r.labels)
    unlabelled = sum(1 for r in records if not r.labels)
    if unlabelled:
        labels["(none)"] = unlabelled
    return {
        "clips": len(records),
        "seconds": round(sum(r.num_samples for r in records) / sample_rate, 3),
        "datasets": dict(sorted(Counter(r.dataset for r in records).items())),
        "labels": dict(sorted(labels.items())),
        "folds": dict(sorted(Counter(str(r.fold) for r in records).items())),
        "sensors": len({r.sensor_id for r in records if r.sensor_id is not None}),
    }


class DamagedClip(StoreError):
    """A clip whose stored audio no longer matches the sha256 its index line records."""


class ClipStore:
    """Read-only view of a clip store; audio is memory-mapped, never loaded as a whole.

    A store may come from another machine, so nothing it says is taken on trust: every index
    line is type-checked and bounded by the sizes of the files it points into when the store
    is opened, and each clip's audio is checked against its recorded sha256 the first time it
    is read (the hash runs over the bytes the reader is about to use, once per clip and store
    object), so altered audio raises DamagedClip naming the clip instead of being used.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.manifest = read_manifest(self.path, kind=KIND)
        except (FileNotFoundError, ValueError) as exc:
            raise StoreError(str(exc)) from exc
        config = self.manifest["config"]
        self.sample_rate = int(config["sample_rate"])
        self.loudness_frame_seconds = float(config["loudness_frame_seconds"])
        self.audio_dtype = audio_dtype_of(config)
        parsed, _ = _parse_index(confined(self.path, INDEX_FILE, "clip store index"))
        self.records: list[ClipRecord] = [rec for rec, _ in parsed]
        self._locations: list[_Location] = [loc for _, loc in parsed]
        self._pos = {rec.clip_id: i for i, rec in enumerate(self.records)}
        self._shards: dict[tuple[str | None, int], np.ndarray] = {}
        self._loudness: dict[str | None, np.ndarray] = {}
        self._check_bounds()
        self._verified = np.zeros(len(self.records), dtype=bool)

    def _check_bounds(self) -> None:
        """Refuse index lines whose samples or levels lie outside the files they name (a
        forged offset would read another clip, a forged length plan windows of nothing)."""
        for record, loc in zip(self.records, self._locations):
            spans = ((self._shard(loc), loc.offset, record.num_samples, "audio shard"),
                     (self._levels(loc), loc.loudness_offset, loc.loudness_frames,
                      LOUDNESS_FILE))
            for data, begin, length, what in spans:
                if begin + length > len(data):
                    raise StoreError(
                        f"{self.path / INDEX_FILE}: clip {record.clip_id!r} claims items "
                        f"[{begin}, {begin + length}) of its {what}, which holds "
                        f"{len(data)}: damaged or forged index")

    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, clip_id: str) -> bool:
        return clip_id in self._pos

    def __repr__(self) -> str:
        return f"ClipStore({str(self.path)!r}, clips={len(self)}, sample_rate={self.sample_rate})"

    def position(self, clip_id: str) -> int:
        try:
            return self._pos[clip_id]
        except KeyError:
            raise KeyError(f"no clip {clip_id!r} in {self.path}") from None

    def record(self, clip_id: str) -> ClipRecord:
        return self.records[self.position(clip_id)]

    def _confined(self, loc: _Location, name: str, what: str) -> Path:
        """A file of the store (or of one of its parts) named by the index: never followed out
        of the store."""
        return confined(self.path, f"{loc.part}/{name}" if loc.part else name, what)

    def _shard(self, loc: _Location) -> np.ndarray:
        key = (loc.part, loc.shard)
        if key not in self._shards:
            path = self._confined(loc, _shard_name(loc.shard, self.audio_dtype), "audio shard")
            self._shards[key] = _map(path, self.audio_dtype)
        return self._shards[key]

    def _levels(self, loc: _Location) -> np.ndarray:
        if loc.part not in self._loudness:
            self._loudness[loc.part] = _map(self._confined(loc, LOUDNESS_FILE, "loudness file"),
                                            DTYPE)
        return self._loudness[loc.part]

    def _raw(self, pos: int) -> np.ndarray:
        loc, n = self._locations[pos], self.records[pos].num_samples
        return self._shard(loc)[loc.offset: loc.offset + n]

    def _matches(self, pos: int) -> bool:
        """Whether the clip's stored bytes hash to its recorded sha256 (hashed once)."""
        if not self._verified[pos]:
            self._verified[pos] = _audio_sha256(self._raw(pos)) == self._locations[pos].sha256
        return bool(self._verified[pos])

    def stored_at(self, pos: int) -> np.ndarray:
        """The clip's samples as stored (float32 or int16, read-only view), checked against
        their recorded digest on first use: DamagedClip if they no longer match."""
        if not self._matches(pos):
            raise DamagedClip(f"{self.path}: clip {self.records[pos].clip_id!r} does not match "
                              f"the sha256 recorded in its {INDEX_FILE}: damaged or altered "
                              "audio (`sea store info` with verify lists every such clip)")
        return self._raw(pos)

    def audio_at(self, pos: int) -> np.ndarray:
        """Audio of the clip at store position `pos` as float32 (a read-only view of float32
        stores, a decoded copy of int16 ones)."""
        return decode_samples(self.stored_at(pos))

    def audio(self, clip_id: str) -> np.ndarray:
        return self.audio_at(self.position(clip_id))

    def iter_clips(self) -> Iterator[tuple[ClipRecord, np.ndarray]]:
        for pos, record in enumerate(self.records):
            yield record, self.audio_at(pos)

    def labels(self) -> list[str]:
        return sorted({label for r in self.records for label in r.labels})

    def summary(self) -> dict:
        return summarize(self.records, self.sample_rate)

    def loudness_at(self, pos: int) -> np.ndarray:
        loc = self._locations[pos]
        return self._levels(loc)[loc.loudness_offset: loc.loudness_offset + loc.loudness_frames]

    def loudness(self, clip_id: str) -> np.ndarray:
        """A-weighted level (dB, uncalibrated) of each `loudness_frame_seconds` frame."""
        return self.loudness_at(self.position(clip_id))

    def window_index(self, window_seconds: float = 1.0, hop_seconds: float = 1.0,
                     center: bool = False) -> WindowIndex:
        sr = self.sample_rate
        counts = np.array(
            [num_windows(r.num_samples, sr, hop_seconds, center, window_seconds)
             for r in self.records], dtype=np.int64)
        total = int(counts.sum())
        clip_pos = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        first_row = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        window_in_clip = np.arange(total, dtype=np.int64) - np.repeat(first_row, counts)
        pad = int(window_seconds * sr) // 2 if center else 0
        start = window_in_clip * hop_samples(sr, hop_seconds) - pad
        return WindowIndex(clip_pos, window_in_clip, start, sr, window_seconds, hop_seconds,
                           center)

    def read_windows(self, index: WindowIndex, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Windows `rows` of `index` as a (len(rows), window_samples) float32 array."""
        rows = np.asarray(rows, dtype=np.int64)
        win = index.window_samples
        out = np.zeros((len(rows), win), dtype=np.float32)
        for k, row in enumerate(rows):
            pos, start = int(index.clip_pos[row]), int(index.start_sample[row])
            audio = self.audio_at(pos)
            lo, hi = max(start, 0), min(start + win, len(audio))
            if hi > lo:
                out[k, lo - start: hi - start] = audio[lo:hi]
        return out

    def iter_windows(self, window_seconds: float = 1.0, hop_seconds: float = 1.0,
                     center: bool = False, batch_size: int = 256,
                     index: WindowIndex | None = None,
                     ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (row ids, (B, window_samples) float32) over every window in store order."""
        if index is None:
            index = self.window_index(window_seconds, hop_seconds, center)
        for begin in range(0, len(index), batch_size):
            rows = np.arange(begin, min(begin + batch_size, len(index)))
            yield rows, self.read_windows(index, rows)

    def window_loudness(self, index: WindowIndex) -> np.ndarray:
        """A-weighted dB of each window row: power mean of the frames the window overlaps."""
        out = np.full(len(index), SILENCE_DB, dtype=np.float32)
        frame = int(round(self.loudness_frame_seconds * self.sample_rate))
        win = index.window_samples
        bounds = np.flatnonzero(np.diff(index.clip_pos)) + 1
        for rows in np.split(np.arange(len(index)), bounds):
            if not len(rows):
                continue
            pos = int(index.clip_pos[rows[0]])
            n = self.records[pos].num_samples
            power = np.concatenate([[0.0], np.cumsum(db_to_power(self.loudness_at(pos)))])
            start = index.start_sample[rows]
            lo = np.clip(start, 0, n) // frame
            hi = -(-np.clip(start + win, 0, n) // frame)  # ceil division
            ok = hi > lo
            mean = (power[hi[ok]] - power[lo[ok]]) / (hi[ok] - lo[ok])
            out[rows[ok]] = power_to_db(mean)
        return out

    def verify(self) -> list[str]:
        """Clip ids whose audio no longer matches the digest written with it."""
        return [r.clip_id for pos, r in enumerate(self.records) if not self._matches(pos)]

    def content_sha256(self) -> str:
        """Digest over clip ids and audio (recomputed from the shards) in clip-id order."""
        return digest_content(self.sample_rate, (
            (r.clip_id, self._locations[p].sha256 if self._matches(p)
             else _audio_sha256(self._raw(p))) for p, r in enumerate(self.records)),
            self.audio_dtype)


def _map(path: Path, dtype: np.dtype) -> np.ndarray:
    """A store file's items, memory-mapped read-only (an empty file maps to no items)."""
    if not path.is_file():
        raise StoreError(f"{path}: missing; the store is incomplete or damaged")
    if not path.stat().st_size:
        return np.zeros(0, dtype)
    return np.memmap(path, dtype=dtype, mode="r").view(np.ndarray)


def _audio_sha256(audio: np.ndarray, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    for begin in range(0, len(audio), chunk):
        h.update(np.ascontiguousarray(audio[begin: begin + chunk]).data)
    return h.hexdigest()


StoreBusy = OutputBusy  # another writer holds the store open

# What a store's writer creates besides its manifest.
_STORE_ENTRIES = {SHARD_DIR, LOCK_FILE, INDEX_FILE, SKIPPED_FILE, LOUDNESS_FILE, SPOOL_DIR,
                  PARTS_DIR}


class StoreWriter:
    """Append clips to a store (created if absent); reopening resumes after a crash.

    Use as a context manager; `close()` writes the final manifest. Clip ids already stored are
    reported by `in`, so a resumed job skips them.
    """

    def __init__(self, path: str | Path, sample_rate: int = DEFAULT_SAMPLE_RATE,
                 loudness_frame_seconds: float = DEFAULT_LOUDNESS_FRAME_SECONDS,
                 shard_bytes: int = DEFAULT_SHARD_BYTES, sync_seconds: float = 2.0,
                 overwrite: bool = False, inputs: Sequence[str | Path] = (),
                 audio_dtype: str | None = None) -> None:
        """`audio_dtype`: "float32" or "int16"; None keeps an existing store's (else float32)."""
        self.path = Path(path)
        if sample_rate <= 0 or loudness_frame_seconds * sample_rate < 1:
            raise StoreError(f"invalid sample rate {sample_rate} / loudness frame "
                             f"{loudness_frame_seconds} s")
        self._lock: OutputLock = claim_output(self.path, KIND, inputs=inputs,
                                              overwrite=overwrite, layout=_STORE_ENTRIES)
        (self.path / SHARD_DIR).mkdir(parents=True, exist_ok=True)
        if audio_dtype is not None and audio_dtype not in AUDIO_DTYPES:
            self._release_lock()
            raise StoreError(f"audio dtype {audio_dtype!r} not in {sorted(AUDIO_DTYPES)}")
        self.audio_dtype = (AUDIO_DTYPES[audio_dtype] if audio_dtype
                            else existing_audio_dtype(self.path) or DTYPE)
        self.config = {"format": FORMAT, "sample_rate": int(sample_rate),
                       "loudness_frame_seconds": float(loudness_frame_seconds),
                       "dtype": self.audio_dtype.str}
        self.sample_rate = int(sample_rate)
        self.shard_bytes = int(shard_bytes)
        self.loudness_frame_seconds = float(loudness_frame_seconds)
        self._sync_seconds = sync_seconds
        self._last_sync = time.monotonic()
        self._run = {"command": " ".join(sys.argv), "started": _utc_now(), "added": 0,
                     "skipped": 0}
        try:
            self.previous_manifest = self._check_existing_config()
            self._recover()
            self._write_manifest(status="writing")
        except BaseException:
            self._release_lock()
            raise

    # -- opening and recovery -------------------------------------------------------------
    def _check_existing_config(self) -> dict:
        try:
            previous = read_manifest(self.path, kind=KIND)
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise StoreError(str(exc)) from exc
        old = previous.get("config", {})
        for key in ("sample_rate", "loudness_frame_seconds", "dtype"):
            if old.get(key) != self.config[key]:
                raise StoreError(f"{self.path} was written with {key}={old.get(key)}, "
                                 f"not {self.config[key]}; write to another directory")
        return previous

    def _recover(self) -> None:
        """Keep the complete index lines whose bytes exist; cut everything else away."""
        parsed, sizes = _parse_index(self.path / INDEX_FILE)
        shard_sizes: dict[tuple[str | None, int], int] = {}
        loud_sizes: dict[str | None, int] = {}
        self.records: list[ClipRecord] = []
        self._locations: list[_Location] = []
        self._ids: set[str] = set()
        for record, loc in parsed:
            root = confined(self.path, loc.part, "store part") if loc.part else self.path
            if (loc.part, loc.shard) not in shard_sizes:
                shard_sizes[loc.part, loc.shard] = _file_samples(
                    _shard_path(root, loc.shard, self.audio_dtype), self.audio_dtype)
            if loc.part not in loud_sizes:
                loud_sizes[loc.part] = _file_samples(root / LOUDNESS_FILE)
            if (loc.offset + record.num_samples > shard_sizes[loc.part, loc.shard]
                    or loc.loudness_offset + loc.loudness_frames > loud_sizes[loc.part]):
                break  # bytes lost (power failure before a sync): drop this and later lines
            self.records.append(record)
            self._locations.append(loc)
            self._ids.add(record.clip_id)
        index_path = self.path / INDEX_FILE
        index_path.touch()
        os.truncate(index_path, sum(sizes[: len(self.records)]))
        # Truncate shards to what the index accounts for; drop shards nothing points into.
        ends: dict[int, int] = {}
        own = [(r, l) for r, l in zip(self.records, self._locations) if l.part is None]
        for record, loc in own:
            ends[loc.shard] = max(ends.get(loc.shard, 0), loc.offset + record.num_samples)
        self._shard = max(ends) if ends else 0
        suffix = _SHARD_SUFFIX[self.audio_dtype.str]
        for shard_file in sorted((self.path / SHARD_DIR).glob(f"audio-*{suffix}")):
            shard = int(shard_file.stem.split("-")[1])
            if shard in ends:
                os.truncate(shard_file, ends[shard] * self.audio_dtype.itemsize)
            else:
                shard_file.unlink()
        self._shard_len = ends.get(self._shard, 0)
        self._loud_len = max((l.loudness_offset + l.loudness_frames for _, l in own), default=0)
        loud_path = self.path / LOUDNESS_FILE
        loud_path.touch()
        os.truncate(loud_path, self._loud_len * DTYPE.itemsize)
        skipped_path = self.path / SKIPPED_FILE
        self._skipped, skipped_sizes = _read_jsonl(skipped_path)
        skipped_path.touch()
        os.truncate(skipped_path, sum(skipped_sizes))
        self._index_fd = os.open(index_path, os.O_WRONLY | os.O_APPEND)
        self._skipped_fd = os.open(skipped_path, os.O_WRONLY | os.O_APPEND)
        self._audio_f = open(_shard_path(self.path, self._shard, self.audio_dtype), "ab")
        self._loud_f = open(loud_path, "ab")

    # -- writing --------------------------------------------------------------------------
    def __contains__(self, clip_id: str) -> bool:
        return clip_id in self._ids

    def __len__(self) -> int:
        return len(self.records)

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(complete=exc_type is None)

    def _next_shard_if_full(self) -> None:
        if self._shard_len and self._shard_len * self.audio_dtype.itemsize >= self.shard_bytes:
            self._audio_f.close()
            self._shard += 1
            self._shard_len = 0
            self._audio_f = open(_shard_path(self.path, self._shard, self.audio_dtype), "ab")

    def add(self, clip_id: str, blocks: np.ndarray | Iterable[np.ndarray], *, source: str,
            dataset: str, labels: Sequence[str] = (), fold: str | None = None,
            sensor_id: str | None = None, time: str | None = None, group: str | None = None,
            events: Sequence[Event] = ()) -> ClipRecord:
        """Append one clip from an array or an iterable of 1-D blocks at `sample_rate`.

        Raises ValueError (nothing stored) for a duplicate id, no samples or NaN/Inf samples.
        """
        if clip_id in self._ids:
            raise ValueError(f"clip {clip_id!r} is already in the store")
        if isinstance(blocks, np.ndarray):
            blocks = (blocks,)
        self._next_shard_if_full()
        offset = self._shard_len
        meter = LoudnessMeter(self.sample_rate, self.loudness_frame_seconds)
        digest = hashlib.sha256()
        n = 0
        try:
            for block in blocks:
                block = np.asarray(block).ravel()
                if not np.all(np.isfinite(block)):
                    raise ValueError(f"{int(np.count_nonzero(~np.isfinite(block)))} NaN/Inf samples")
                stored = encode_samples(block, self.audio_dtype)
                self._audio_f.write(stored.data)
                digest.update(stored.data)
                meter.update(decode_samples(stored))  # levels of what readers will get
                n += len(block)
            if n == 0:
                raise ValueError("no audio samples")
        except BaseException:
            # Undo the partial clip so the shard stays exactly what the index describes.
            self._audio_f.flush()
            os.truncate(self._audio_f.name, offset * self.audio_dtype.itemsize)
            raise
        levels = meter.finish()
        self._audio_f.flush()
        self._loud_f.write(np.ascontiguousarray(levels, dtype=DTYPE).data)
        self._loud_f.flush()
        record = ClipRecord(clip_id, source, dataset, tuple(labels), fold, n, sensor_id, time,
                            group, tuple(events))
        loc = _Location(self._shard, offset, self._loud_len, len(levels), digest.hexdigest())
        self._maybe_sync()
        line = json.dumps(_record_to_json(record, loc), separators=(",", ":")) + "\n"
        os.write(self._index_fd, line.encode())  # the commit point
        self._shard_len += n
        self._loud_len += len(levels)
        self.records.append(record)
        self._locations.append(loc)
        self._ids.add(clip_id)
        self._run["added"] += 1
        return record

    def adopt_part(self, part: str | Path) -> int:
        """Join the clips of a complete store part under `parts/` into this store's index
        (the part's audio stays where it is); returns how many were new. Idempotent: clips
        already indexed are left alone, so a join interrupted by a crash is redone safely."""
        part_store = ClipStore(part)
        relative = Path(part).resolve().relative_to(self.path.resolve()).as_posix()
        _safe_part(relative)
        if (part_store.sample_rate, part_store.audio_dtype) != (self.sample_rate,
                                                                 self.audio_dtype):
            raise StoreError(f"{part} holds {part_store.audio_dtype} audio at "
                             f"{part_store.sample_rate} Hz, not {self.audio_dtype} at "
                             f"{self.sample_rate} Hz")
        added = 0
        for record, loc in zip(part_store.records, part_store._locations):
            if record.clip_id in self._ids:
                continue
            loc = _Location(loc.shard, loc.offset, loc.loudness_offset, loc.loudness_frames,
                            loc.sha256, relative)
            line = json.dumps(_record_to_json(record, loc), separators=(",", ":")) + "\n"
            os.write(self._index_fd, line.encode())  # the commit point, as in `add`
            self.records.append(record)
            self._locations.append(loc)
            self._ids.add(record.clip_id)
            added += 1
        for row in _read_jsonl(Path(part) / SKIPPED_FILE)[0]:
            if row not in self._skipped:
                self.skip(row["path"], row["reason"], row.get("clip_id"), row.get("source"))
        self._run["added"] += added
        return added

    def skip(self, path: str, reason: str, clip_id: str | None = None,
             source: str | None = None) -> None:
        """Record an input that could not be stored."""
        row = {"path": str(path), "reason": reason, "clip_id": clip_id, "source": source}
        os.write(self._skipped_fd, (json.dumps(row) + "\n").encode())
        self._skipped.append(row)
        self._run["skipped"] += 1

    def skipped(self) -> list[dict]:
        """Inputs skipped and not stored since, latest reason per path."""
        latest: dict[str, dict] = {}
        for row in self._skipped:
            if row.get("clip_id") not in self._ids:
                latest[row["path"]] = row
        return [{"path": p, "reason": r["reason"]} for p, r in latest.items()]

    def _maybe_sync(self, force: bool = False) -> None:
        # Data before index: make audio durable before later index lines refer to it.
        if force or time.monotonic() - self._last_sync >= self._sync_seconds:
            for f in (self._audio_f, self._loud_f):
                f.flush()
                os.fsync(f.fileno())
            os.fsync(self._index_fd)
            self._last_sync = time.monotonic()
            if not force:  # progress for readers of a store still being written
                self._write_manifest(status="writing")

    def content_sha256(self) -> str:
        return digest_content(self.sample_rate,
                              ((r.clip_id, l.sha256) for r, l in zip(self.records, self._locations)),
                              self.audio_dtype)

    def _write_manifest(self, status: str, **fields) -> dict:
        runs = list(self.previous_manifest.get("runs", []))
        runs.append(dict(self._run, finished=None if status == "writing" else _utc_now(),
                         status=status))
        return write_manifest(self.path, KIND, self.config, status=status,
                              **summarize(self.records, self.sample_rate),
                              skipped=self.skipped(), content_sha256=self.content_sha256(),
                              runs=runs, **fields)

    def close(self, complete: bool = True, **fields) -> dict:
        """Sync everything and write the manifest (extra `fields` are added to it).

        `complete=False` marks a run that stopped early (status `interrupted`); rerunning the
        same job resumes it.
        """
        if not self._lock.held:
            return read_manifest(self.path, kind=KIND)
        self._maybe_sync(force=True)
        manifest = self._write_manifest(status="complete" if complete else "interrupted",
                                        **fields)
        for f in (self._audio_f, self._loud_f):
            f.close()
        os.close(self._index_fd)
        os.close(self._skipped_fd)
        self._release_lock()
        return manifest

    def _release_lock(self) -> None:
        self._lock.release()


def _file_samples(path: Path, dtype: np.dtype = DTYPE) -> int:
    return path.stat().st_size // dtype.itemsize if path.is_file() else 0


def existing_audio_dtype(path: str | Path) -> np.dtype | None:
    """The sample type of the clip store at `path`, or None when there is none yet."""
    try:
        return audio_dtype_of(read_manifest(path, kind=KIND)["config"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
